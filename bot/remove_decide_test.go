package bot

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

func TestDecideDrift(t *testing.T) {
	mfaOff := func(users ...string) map[string]map[string]conduit.User {
		out := map[string]map[string]conduit.User{reasonMFA: {}}
		for _, u := range users {
			out[reasonMFA][dtUser(u)] = conduit.User{PHID: dtUser(u), Username: u}
		}
		return out
	}
	tests := []struct {
		name    string
		f       state.Finding
		member  bool
		live    map[string]map[string]conduit.User
		want    state.Status
		entries int
	}{
		{"still without MFA", finding("ann", 1, dtNDA), true, mfaOff("ann"), state.StatusPending, 0},
		{"enabled MFA", finding("ann", 1, dtNDA), true, mfaOff(), state.StatusCompliant, 1},
		{"left the group", finding("ann", 1, dtNDA), false, mfaOff("ann"), state.StatusLeft, 1},
		{"compliant, disabled MFA again", func() state.Finding {
			f := finding("ann", 1, dtNDA)
			f.Status = state.StatusCompliant
			return f
		}(), true, mfaOff("ann"), state.StatusPending, 1},
		{"removed users are not watched", func() state.Finding {
			f := finding("ann", 1, dtNDA)
			f.Status = state.StatusRemoved
			return f
		}(), true, mfaOff(), state.StatusRemoved, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := testView(t, tt.f)
			if tt.member {
				v.members[dtNDA] = []string{tt.f.UserPHID}
			}
			v.live = tt.live
			ins := decideDrift(v)
			if len(ins) != tt.entries {
				t.Fatalf("decideDrift: %d intents, want %d: %+v", len(ins), tt.entries, parts(ins))
			}
			for _, in := range ins {
				if in.write != nil || in.entry.Kind != state.EntryDrift {
					t.Errorf("drift decided %+v, want state changes journaled as drift", parts([]intent{in}))
				}
			}
			if got := statuses(applied(t, v, ins...))["ann"]; got != tt.want {
				t.Errorf("status after drift = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDecideProposals(t *testing.T) {
	ann, bob := finding("ann", 1, dtNDA, dtSRE), finding("bob", 2, dtNDA)
	tests := []struct {
		name      string
		autoRisky bool
		rejected  bool
		want      []state.Removal
	}{
		{name: "one manual batch, riskiest group first", want: []state.Removal{{ID: 1, Status: state.RemovalProposed, RequiredApprovals: 2, Items: []state.RemovalItem{
			{UserPHID: dtUser("ann"), Username: "ann", GroupPHID: dtSRE, GroupName: "acl*sre-team", Risk: "internal", Batch: 1},
			{UserPHID: dtUser("ann"), Username: "ann", GroupPHID: dtNDA, GroupName: "WMF-NDA", Risk: "security", Batch: 1},
			{UserPHID: dtUser("bob"), Username: "bob", GroupPHID: dtNDA, GroupName: "WMF-NDA", Risk: "security", Batch: 2},
		}}}},
		{name: "a pair rejected before is not proposed again", rejected: true, want: []state.Removal{
			{ID: 1, Status: state.RemovalRejected, RequiredApprovals: 2, Items: []state.RemovalItem{
				{UserPHID: dtUser("bob"), Username: "bob", GroupPHID: dtNDA, GroupName: "WMF-NDA", Risk: "security", Batch: 2}}},
			{ID: 2, Status: state.RemovalProposed, RequiredApprovals: 2, Items: []state.RemovalItem{
				{UserPHID: dtUser("ann"), Username: "ann", GroupPHID: dtSRE, GroupName: "acl*sre-team", Risk: "internal", Batch: 1},
				{UserPHID: dtUser("ann"), Username: "ann", GroupPHID: dtNDA, GroupName: "WMF-NDA", Risk: "security", Batch: 1}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := testView(t, ann, bob)
			v.members[dtNDA] = []string{ann.UserPHID, bob.UserPHID, dtUser("carol")}
			v.members[dtSRE] = []string{ann.UserPHID}
			if tt.rejected {
				v.snap.Removals = []state.Removal{tt.want[0]}
			}
			ins := decideProposals(v)
			got := applied(t, v, ins...).Removals
			for i := range got {
				got[i].ProposedAt = got[i].ProposedAt.UTC()
			}
			for i := range tt.want {
				if tt.want[i].Status == state.RemovalProposed {
					tt.want[i].ProposedAt = dtNow
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("removal batches after decideProposals (-want +got):\n%s", diff)
			}
		})
	}
}

// approvedBatch is removal batch R1 of ann (T1) and bob (T2) from
// WMF-NDA, approved on each task by alice and bob2 from their comments.
func approvedBatch() state.Removal {
	src := func(task string, id int) *state.Source {
		return &state.Source{TaskPHID: task, Task: "T" + string(rune('0'+id)), TxPHID: "PHID-XACT-" + task + "-" + string(rune('a'+id)), TxID: 100 + id}
	}
	rm := state.Removal{ID: 1, Status: state.RemovalApproved, RequiredApprovals: 2, Items: []state.RemovalItem{
		{UserPHID: dtUser("ann"), Username: "ann", GroupPHID: dtNDA, GroupName: "WMF-NDA", Risk: "security", Batch: 1},
		{UserPHID: dtUser("bob"), Username: "bob", GroupPHID: dtNDA, GroupName: "WMF-NDA", Risk: "security", Batch: 2},
	}}
	for i, who := range []string{"alice", "dave"} {
		rm.Approvals = append(rm.Approvals,
			state.Approval{ApproverPHID: dtUser(who), Username: who, Via: "T1", Source: src(dtTask1, 2*i), Scope: []int{1}},
			state.Approval{ApproverPHID: dtUser(who), Username: who, Via: "T2", Source: src(dtTask2, 2*i+1), Scope: []int{2}})
	}
	return rm
}

func TestDecideApprovalsStand(t *testing.T) {
	tests := []struct {
		name string
		// edit changes the view: an approver gone, a comment edited.
		edit       func(v *view, rm state.Removal)
		stands     bool
		wantKinds  []state.EntryKind
		wantStatus state.RemovalStatus
	}{
		{name: "every approval stands", edit: func(*view, state.Removal) {}, stands: true},
		{name: "an approver left the approvers' project", edit: func(v *view, _ state.Removal) {
			v.approvers = v.approvers[:1]
		}, wantKinds: []state.EntryKind{state.EntryApprovalLapsed}, wantStatus: state.RemovalProposed},
		{name: "an approver's account was disabled", edit: func(v *view, _ state.Removal) {
			v.users[dtUser("dave")] = conduit.User{PHID: dtUser("dave"), Username: "dave", Roles: []string{"disabled"}}
		}, wantKinds: []state.EntryKind{state.EntryApprovalLapsed}, wantStatus: state.RemovalProposed},
		{name: "an approving comment was edited", edit: func(v *view, rm state.Removal) {
			v.texts[rm.Approvals[3].Source.TxPHID] = "on second thought, no"
		}, wantKinds: []state.EntryKind{state.EntryApprovalWithdrawn}, wantStatus: state.RemovalProposed},
		{name: "an approving comment was deleted", edit: func(v *view, rm state.Removal) {
			delete(v.texts, rm.Approvals[0].Source.TxPHID)
		}, wantKinds: []state.EntryKind{state.EntryApprovalWithdrawn}, wantStatus: state.RemovalProposed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm := approvedBatch()
			v := testView(t, finding("ann", 1, dtNDA), finding("bob", 2, dtNDA)).withApprover("alice").withApprover("dave")
			v.snap.Removals = []state.Removal{rm}
			for _, a := range rm.Approvals {
				v.texts[a.Source.TxPHID] = "!approve"
			}
			tt.edit(v, rm)
			ins := decideApprovalsStand(v, rm)
			if tt.stands {
				if ins != nil {
					t.Fatalf("decideApprovalsStand = %+v, want nil: every approval stands", parts(ins))
				}
				return
			}
			after := applied(t, v, ins...)
			if got := after.Removals[0].Status; got != tt.wantStatus {
				t.Errorf("batch status = %s, want %s", got, tt.wantStatus)
			}
			if after.Removals[0].FullyApproved() {
				t.Errorf("batch still fully approved with %d approvals", len(after.Removals[0].Approvals))
			}
		})
	}
}

func TestDecideExecution(t *testing.T) {
	ann, bob := finding("ann", 1, dtNDA), finding("bob", 2, dtNDA)
	tests := []struct {
		name string
		// others are the group's members besides ann and bob.
		others      int
		limit       campaigns.RemovalLimit
		annComplied bool
		wantOver    bool
		wantRemove  []string
	}{
		{name: "within the guard-rail: both removed in one project.edit", others: 8, limit: campaigns.RemovalLimit{MaxShare: 0.25},
			wantRemove: []string{dtUser("ann"), dtUser("bob")}},
		{name: "over the guard-rail: held, nothing removed", others: 2, limit: campaigns.RemovalLimit{MaxShare: 0.25}, wantOver: true},
		{name: "a user who complied since is skipped", others: 8, limit: campaigns.RemovalLimit{MaxShare: 0.25}, annComplied: true,
			wantRemove: []string{dtUser("bob")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm := approvedBatch()
			v := testView(t, ann, bob)
			v.snap.Removals = []state.Removal{rm}
			v.members[dtNDA] = []string{ann.UserPHID, bob.UserPHID}
			for i := range tt.others {
				v.members[dtNDA] = append(v.members[dtNDA], dtUser("other"+string(rune('a'+i))))
			}
			v.live = map[string]map[string]conduit.User{reasonMFA: {bob.UserPHID: {}}}
			if !tt.annComplied {
				v.live[reasonMFA][ann.UserPHID] = conduit.User{}
			}
			ex, err := decideExecution(v, rm, false, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if ex.over != tt.wantOver {
				t.Fatalf("over the guard-rail = %v, want %v", ex.over, tt.wantOver)
			}
			if tt.wantOver {
				if len(ex.removals) != 0 || len(ex.held) != 2 {
					t.Errorf("held batch: %d removals, %d notes; want none and one note per task", len(ex.removals), len(ex.held))
				}
				if held := applied(t, v, ex.hold...).Removals[0].Held; held == "" {
					t.Error("the hold is not recorded on the batch")
				}
				return
			}
			want := []intentParts{{Key: removeKey("R1", dtNDA), Kind: state.OpMembersRemoved,
				Write:    editMembers{project: dtNDA, remove: tt.wantRemove},
				Entry:    state.Entry{Actor: "auditbot", Group: "WMF-NDA", Detail: "R1: removed member(s)"},
				Subjects: tt.wantRemove}}
			if diff := cmp.Diff(want, parts(ex.removals), cmpIntents); diff != "" {
				t.Errorf("removals (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRemovalMayApprove(t *testing.T) {
	rm := approvedBatch()
	rm.Status, rm.Approvals = state.RemovalProposed, rm.Approvals[:1] // alice on T1
	tests := []struct {
		name     string
		rm       state.Removal
		approver string
		scope    []int
		want     error
	}{
		{"another approver on the same task", rm, "dave", []int{1}, nil},
		{"the same approver on another task", rm, "alice", []int{2}, nil},
		{"the same approver on the same task", rm, "alice", []int{1}, state.ErrAlreadyApproved},
		{"the command line covers what is not approved yet", rm, "alice", nil, nil},
		{"a user of the batch", rm, "ann", []int{1}, state.ErrApproverInBatch},
		{"a batch not waiting", approvedBatch(), "erin", nil, state.ErrNotWaiting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rm.MayApprove(dtUser(tt.approver), tt.scope); got != tt.want {
				t.Errorf("MayApprove(%s, %v) = %v, want %v", tt.approver, tt.scope, got, tt.want)
			}
		})
	}
}
