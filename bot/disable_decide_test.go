package bot

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// TestDecideDisableExemptions: a batch that disables accounts disables
// only accounts Phabricator shows, right before, as neither a bot, a
// mailing list, an administrator, an approver nor already disabled, and
// never the bot's own; whatever the state file says (the batch lists ann
// as an ordinary approved user in every case).
func TestDecideDisableExemptions(t *testing.T) {
	tests := []struct {
		name string
		// ann is ann's account as read; nil: not read.
		ann        *conduit.User
		annApprove bool
		wantWhy    string
	}{
		{name: "an ordinary account is disabled", ann: &conduit.User{Roles: []string{"verified", "approved", "activated"}}},
		{name: "a bot", ann: &conduit.User{Roles: []string{"bot", "activated"}}, wantWhy: exemptBot},
		{name: "a mailing list", ann: &conduit.User{Roles: []string{"list"}}, wantWhy: exemptList},
		{name: "an administrator", ann: &conduit.User{Roles: []string{"admin", "activated"}}, wantWhy: exemptAdmin},
		{name: "an approver", ann: &conduit.User{Roles: []string{"activated"}}, annApprove: true, wantWhy: exemptApprover},
		{name: "already disabled by someone else", ann: &conduit.User{Roles: []string{"disabled"}}, wantWhy: exemptDisabled},
		{name: "not read: fail closed", wantWhy: exemptUnread},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ann := finding("ann", 1, dtNDA, dtSRE)
			rm := state.Removal{ID: 1, Status: state.RemovalApproved, RequiredApprovals: 2, Action: state.ActionDisable, Items: []state.RemovalItem{
				{UserPHID: ann.UserPHID, Username: "ann", GroupPHID: dtNDA, GroupName: "WMF-NDA", Risk: "security", Batch: 1},
				{UserPHID: ann.UserPHID, Username: "ann", GroupPHID: dtSRE, GroupName: "acl*sre-team", Risk: "internal", Batch: 1},
			}, Approvals: []state.Approval{{ApproverPHID: dtUser("alice"), Username: "alice", Via: "cli"}, {ApproverPHID: dtUser("dave"), Username: "dave", Via: "cli"}}}
			v := testView(t, ann).withApprover("alice").withApprover("dave")
			v.snap.Removals = []state.Removal{rm}
			v.members[dtNDA] = []string{ann.UserPHID}
			v.members[dtSRE] = []string{ann.UserPHID}
			v.live = map[string]map[string]conduit.User{reasonMFA: {ann.UserPHID: {}}}
			if tt.ann != nil {
				u := *tt.ann
				u.PHID, u.Username = ann.UserPHID, "ann"
				v.users[ann.UserPHID] = u
			}
			if tt.annApprove {
				v.approvers = append(v.approvers, ann.UserPHID)
			}
			ex, err := decideExecution(v, rm, false, campaigns.RemovalLimit{MaxShare: 1})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantWhy == "" {
				want := []intentParts{{Key: disableKey("R1", ann.UserPHID), Kind: state.OpAccountDisabled,
					Write:    setDisabled{user: ann.UserPHID, disabled: true},
					Entry:    state.Entry{Actor: "auditbot", User: "ann", Detail: "R1: disabled the account"},
					Subjects: []string{dtNDA, dtSRE}}}
				if diff := cmp.Diff(want, parts(ex.removals), cmpIntents); diff != "" {
					t.Errorf("intents (-want +got):\n%s", diff)
				}
				after := applied(t, v, ex.removals...)
				if f := after.Findings[0]; !f.Disabled || f.Status != state.StatusRemoved || !cmp.Equal(f.RemovedFrom, []string{dtNDA, dtSRE}) {
					t.Errorf("finding after: disabled %v, %s, removed from %v", f.Disabled, f.Status, f.RemovedFrom)
				}
				return
			}
			for _, in := range ex.removals {
				if in.write != nil {
					t.Fatalf("wrote %#v for an exempt account (%s)", in.write, tt.wantWhy)
				}
			}
			snap := applied(t, v, ex.removals...)
			if f := snap.Findings[0]; f.Disabled || len(f.NeedsHuman) != 1 || f.NeedsHuman[0] != "R1: not disabled: @ann is "+tt.wantWhy+"; a person decides" {
				t.Errorf("finding after: disabled %v, needs human %q", f.Disabled, f.NeedsHuman)
			}
			if ps := parts(ex.removals); len(ps) != 1 || ps[0].Entry.Kind != state.EntryDisableRefused {
				t.Errorf("intents: %+v, want one state change journaled as disable-refused", ps)
			}
		})
	}
}

// TestDecideDisableGuardRail: max_count counts accounts, each once however
// many groups it is in.
func TestDecideDisableGuardRail(t *testing.T) {
	ann, bob := finding("ann", 1, dtNDA, dtSRE), finding("bob", 2, dtNDA, dtSRE)
	var items []state.RemovalItem
	for _, f := range []state.Finding{ann, bob} {
		for _, g := range []string{dtNDA, dtSRE} {
			items = append(items, state.RemovalItem{UserPHID: f.UserPHID, Username: f.Username, GroupPHID: g, Risk: "security", Batch: f.Batch})
		}
	}
	for _, tt := range []struct {
		max  int
		over bool
	}{{2, false}, {1, true}} {
		rm := state.Removal{ID: 1, Status: state.RemovalApproved, RequiredApprovals: 1, Action: state.ActionDisable, Items: items,
			Approvals: []state.Approval{{ApproverPHID: dtUser("alice"), Username: "alice", Via: "cli"}}}
		v := testView(t, ann, bob).withApprover("alice")
		v.snap.Removals = []state.Removal{rm}
		for _, g := range []string{dtNDA, dtSRE} {
			v.members[g] = []string{ann.UserPHID, bob.UserPHID}
		}
		v.live = map[string]map[string]conduit.User{reasonMFA: {ann.UserPHID: {}, bob.UserPHID: {}}}
		for _, f := range []state.Finding{ann, bob} {
			v.users[f.UserPHID] = conduit.User{PHID: f.UserPHID, Username: f.Username}
		}
		ex, err := decideExecution(v, rm, false, campaigns.RemovalLimit{MaxShare: 1, MaxCount: tt.max})
		if err != nil {
			t.Fatal(err)
		}
		if ex.over != tt.over || (!tt.over && len(ex.removals) != 2) {
			t.Errorf("max_count %d: over %v with %d intents; want over %v, or 2 accounts", tt.max, ex.over, len(ex.removals), tt.over)
		}
	}
}

// TestDecideDisableSentThenExempt: a disabling was sent and its outcome
// lost; the account reads enabled now (it did not land) and its user has
// become an administrator. It is not sent again: the op is settled with
// nothing sent (after asking Phabricator once more whether it landed),
// and a person is told.
func TestDecideDisableSentThenExempt(t *testing.T) {
	ann := finding("ann", 1, dtNDA)
	rm := state.Removal{ID: 1, Status: state.RemovalApproved, RequiredApprovals: 1, Action: state.ActionDisable, Items: []state.RemovalItem{
		{UserPHID: ann.UserPHID, Username: "ann", GroupPHID: dtNDA, GroupName: "WMF-NDA", Risk: "security", Batch: 1},
	}, Approvals: []state.Approval{{ApproverPHID: dtUser("alice"), Username: "alice", Via: "cli"}}}
	v := testView(t, ann).withApprover("alice")
	v.snap.Removals = []state.Removal{rm}
	v.snap.Ops = []state.Op{{Key: string(disableKey("R1", ann.UserPHID)), Kind: state.OpAccountDisabled, State: state.OpPending, Attempts: 1, Subjects: []string{dtNDA}}}
	v.members[dtNDA] = []string{ann.UserPHID}
	v.live = map[string]map[string]conduit.User{reasonMFA: {ann.UserPHID: {}}}
	v.users[ann.UserPHID] = conduit.User{PHID: ann.UserPHID, Username: "ann", Roles: []string{"admin", "activated"}}
	ex, err := decideExecution(v, rm, true, campaigns.RemovalLimit{MaxShare: 1})
	if err != nil {
		t.Fatal(err)
	}
	var refused, settled bool
	for _, in := range ex.removals {
		switch {
		case in.entry.Kind == state.EntryDisableRefused:
			refused = true
		case in.key == disableKey("R1", ann.UserPHID) && in.recheck != nil:
			w, err := in.recheck(t.Context())
			settled = w == nil && err == nil && in.landed.userIs != nil
		}
	}
	if !refused || !settled {
		t.Errorf("refused %v, settled without sending %v; want both: %+v", refused, settled, parts(ex.removals))
	}
}
