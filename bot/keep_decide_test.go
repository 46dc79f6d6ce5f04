package bot

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/auditbot/auditbot/bot/replies"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// Keeps (keep.go), decided on view literals: a user's reply that keeps
// access on inactivity or reconfirmation, an approvers' "!keep @user"
// with its quorum, and the keeps that fall when their comment or their
// approver no longer holds. See converse_decide_test.go for how a case
// runs.

// keepWorld is ann (T1, WMF-NDA and acl*sre-team) found by reasons, and
// bob (T2).
func keepWorld(t *testing.T, reasons ...string) *view {
	return world(t, findingWith("ann", 1, reasons, dtNDA, dtSRE), finding("bob", 2, dtNDA))
}

// keepSays is author's comment 20 on batch's task in keepWorld(reasons),
// after edit.
func keepSays(reasons []string, edit func(v *view), batch int, author, text string) func(t *testing.T) (*view, *turn) {
	return func(t *testing.T) (*view, *turn) {
		v := keepWorld(t, reasons...)
		if edit != nil {
			edit(v)
		}
		return v, commentOn(t, v, batch, 20, author, text)
	}
}

// keptAfter checks ann's status and the keeps recorded: reason -> who
// (By) and the approvers it rests on.
func keptAfter(status state.Status, want map[string][]string) func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
	return func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
		t.Helper()
		f := findingAfter(t, snap, "ann")
		got := map[string][]string{}
		for r, k := range f.Kept {
			who := []string{k.By}
			for _, a := range k.Approvals {
				who = append(who, a.Username)
			}
			got[r] = who
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" || f.Status != status {
			t.Errorf("ann = %s, want %s; keeps, by and approvers (-want +got):\n%s", f.Status, status, diff)
		}
	}
}

// keepApprovalsAfter checks who ann's keep approvals so far are from.
func keepApprovalsAfter(who ...string) func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
	return func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
		t.Helper()
		f := findingAfter(t, snap, "ann")
		var got []string
		for _, a := range f.KeepApprovals {
			got = append(got, a.Username)
		}
		if diff := cmp.Diff(who, got, cmpopts.EquateEmpty()); diff != "" || f.Status != state.StatusPending || len(f.Kept) != 0 {
			t.Errorf("ann = %s, kept %v; want pending, not kept; keep approvals (-want +got):\n%s", f.Status, f.Kept, diff)
		}
	}
}

func keepReplyCases() []replyCase {
	kept := func(detail string) outcomeParts {
		return outcomeParts{Kind: state.EntryKept, User: "ann", Detail: detail, Answered: true}
	}
	needsHuman := func(text string) outcomeParts {
		return outcomeParts{Kind: state.EntryNeedsHuman, User: "ann", Detail: text, Answered: true}
	}
	inactive, reconfirm := []string{reasonInactive}, []string{reasonReconfirm}
	mfaInactive := []string{reasonMFA, reasonInactive}
	return []replyCase{
		{name: "inactive: still here keeps access", setup: keepSays(inactive, nil, 1, "ann", "I am still here"),
			want: kept("keeps access (inactive), said by @ann"),
			after: func(t *testing.T, snap state.Snapshot, j []state.Entry) {
				keptAfter(state.StatusCompliant, map[string][]string{reasonInactive: {"ann"}})(t, snap, j)
				want := state.Keep{At: dtNow, By: "ann", Source: &state.Source{TaskPHID: dtTask1, Task: "T1", TxPHID: "PHID-XACT-20", TxID: 20}}
				if diff := cmp.Diff(want, findingAfter(t, snap, "ann").Kept[reasonInactive], cmpopts.EquateApproxTime(0)); diff != "" {
					t.Errorf("keep (-want +got):\n%s", diff)
				}
			}},
		{name: "inactive: a claim is activity", setup: keepSays(inactive, nil, 1, "ann", "done"),
			want: kept("keeps access (inactive), said by @ann"), after: keptAfter(state.StatusCompliant, map[string][]string{reasonInactive: {"ann"}})},
		{name: "inactive: a question is activity", setup: keepSays(inactive, nil, 1, "ann", "what is this about?"),
			want: kept("keeps access (inactive), said by @ann"), after: keptAfter(state.StatusCompliant, map[string][]string{reasonInactive: {"ann"}})},
		{name: "inactive: remove me is no activity", setup: keepSays(inactive, nil, 1, "ann", "remove me"),
			want:  outcomeParts{Kind: state.EntryVoluntary, User: "ann", Detail: "asked to be removed", Answered: true},
			after: keptAfter(state.StatusVoluntary, nil)},
		{name: "reconfirm: still need it keeps access", setup: keepSays(reconfirm, nil, 1, "ann", "Yes, I still need it."),
			want: kept("keeps access (reconfirm), said by @ann"), after: keptAfter(state.StatusCompliant, map[string][]string{reasonReconfirm: {"ann"}})},
		{name: "reconfirm: a question keeps nothing", setup: keepSays(reconfirm, nil, 1, "ann", "what is this about?"),
			want: needsHuman("what is this about?"), after: keptAfter(state.StatusPending, nil)},
		{name: "mfa and inactive: the reply keeps inactivity only", setup: keepSays(mfaInactive, nil, 1, "ann", "still here!"),
			want: kept("keeps access (inactive), said by @ann; still unmet: mfa"), after: keptAfter(state.StatusPending, map[string][]string{reasonInactive: {"ann"}})},
		{name: "mfa and inactive, MFA on: compliant", setup: keepSays(mfaInactive, func(v *view) { delete(v.live[reasonMFA], dtUser("ann")) }, 1, "ann", "still here!"),
			want: kept("keeps access (inactive), said by @ann"), after: keptAfter(state.StatusCompliant, map[string][]string{reasonInactive: {"ann"}})},
		{name: "a disabled account is kept but not compliant", setup: keepSays(inactive, func(v *view) {
			v.users[dtUser("ann")] = conduit.User{PHID: dtUser("ann"), Username: "ann", Roles: []string{"disabled"}}
		}, 1, "ann", "I am still here"), want: kept("keeps access (inactive), said by @ann; still unmet: disabled"),
			after: keptAfter(state.StatusPending, map[string][]string{reasonInactive: {"ann"}})},
		{name: "list: the user's own word keeps nothing", setup: keepSays([]string{reasonList}, nil, 1, "ann", "I still need it"),
			want: needsHuman("I still need it"), after: keptAfter(state.StatusPending, nil)},
		{name: "a removed user's reply keeps nothing", setup: keepSays(inactive, withStatus("ann", state.StatusRemoved), 1, "ann", "I am still here"),
			want: needsHuman("I am still here"), after: keptAfter(state.StatusRemoved, nil)},
	}
}

func TestDecideReplyKeeps(t *testing.T) { runReplyCases(t, keepReplyCases()) }

// keptBy gives ann keep approvals so far from approvers, each in a
// comment on T1 that still says "!keep @ann".
func keptBy(approvers ...string) func(v *view) {
	return func(v *view) {
		for i, a := range approvers {
			v.edit("ann").KeepApprovals = append(v.edit("ann").KeepApprovals, approvalOn(v, a, 11+i, "!keep @ann"))
		}
	}
}

func keepCommandCases() []replyCase {
	list := []string{reasonList}
	byApprovers := func(by, detail string, approvers ...string) outcomeParts {
		return outcomeParts{Kind: state.EntryKept, User: "ann", Detail: detail, Answered: true, Actor: by,
			Verified: "task T1 comment PHID-XACT-20 by the approver's own account", Approvers: approvers}
	}
	const twice = "you already kept @ann; it needs 2 distinct approvers"
	return []replyCase{
		{name: "a non-approver's !keep is refused", setup: keepSays(list, nil, 1, "zed", "!keep @ann"),
			want: refused("zed", replies.KindKeepUser, "only members of #acl_phabricator-admins may give commands"), after: keepApprovalsAfter()},
		{name: "!keep @user records the first of two", setup: keepSays(list, nil, 1, "alice", "!keep @ann"),
			want: recordedBy("alice", "ann", "keep for @ann: approval 1 of 2 recorded"), after: keepApprovalsAfter("alice")},
		{name: "a second approver keeps the user", setup: keepSays(list, keptBy("alice"), 1, "dave", "!keep @ann"),
			want: byApprovers("dave", "keeps access (list), said by @alice, @dave", "alice", "dave"),
			after: func(t *testing.T, snap state.Snapshot, j []state.Entry) {
				keptAfter(state.StatusCompliant, map[string][]string{reasonList: {"dave", "alice", "dave"}})(t, snap, j)
				if f := findingAfter(t, snap, "ann"); !f.Kept[reasonList].Approver || len(f.KeepApprovals) != 0 {
					t.Errorf("ann's keep %+v with approvals left over %+v; want an approvers' keep holding them", f.Kept[reasonList], f.KeepApprovals)
				}
			}},
		{name: "an earlier keep edited away does not count", setup: keepSays(list, all(keptBy("alice"), func(v *view) { v.texts["PHID-XACT-11"] = "hm, wait" }), 1, "dave", "!keep @ann"),
			want: recordedBy("dave", "ann", "keep for @ann: approval 1 of 2 recorded; 1 earlier keep(s) withdrawn or lapsed"), after: keepApprovalsAfter("dave")},
		{name: "an earlier keep deleted does not count", setup: keepSays(list, all(keptBy("alice"), func(v *view) { delete(v.texts, "PHID-XACT-11") }), 1, "dave", "!keep @ann"),
			want: recordedBy("dave", "ann", "keep for @ann: approval 1 of 2 recorded; 1 earlier keep(s) withdrawn or lapsed"), after: keepApprovalsAfter("dave")},
		{name: "an earlier keep edited to name someone else does not count", setup: keepSays(list, all(keptBy("alice"), func(v *view) { v.texts["PHID-XACT-11"] = "!keep @bob" }), 1, "dave", "!keep @ann"),
			want: recordedBy("dave", "ann", "keep for @ann: approval 1 of 2 recorded; 1 earlier keep(s) withdrawn or lapsed"), after: keepApprovalsAfter("dave")},
		{name: "an earlier approver who left does not count", setup: keepSays(list, all(keptBy("alice"), func(v *view) { v.approvers = v.approvers[1:] }), 1, "dave", "!keep @ann"),
			want: recordedBy("dave", "ann", "keep for @ann: approval 1 of 2 recorded; 1 earlier keep(s) withdrawn or lapsed"), after: keepApprovalsAfter("dave")},
		{name: "an earlier keep by an approver since disabled does not count", setup: keepSays(list, keptBy("erin"), 1, "dave", "!keep @ann"),
			want: recordedBy("dave", "ann", "keep for @ann: approval 1 of 2 recorded; 1 earlier keep(s) withdrawn or lapsed"), after: keepApprovalsAfter("dave")},
		{name: "the same approver's !keep twice counts once", setup: keepSays(list, keptBy("alice"), 1, "alice", "!keep @ann"),
			want: refused("alice", replies.KindKeepUser, twice), after: keepApprovalsAfter("alice")},
		{name: "an approver whose keep is in force counts once", setup: keepSays(list, func(v *view) {
			f := v.edit("ann")
			f.Status = state.StatusCompliant
			f.Kept = map[string]state.Keep{reasonList: {By: "dave", Approver: true, Source: srcOf(12), Approvals: []state.Approval{approvalOn(v, "alice", 11, "!keep @ann"), approvalOn(v, "dave", 12, "!keep @ann")}}}
		}, 1, "alice", "!keep @ann"), want: refused("alice", replies.KindKeepUser, twice)},
		{name: "mfa is not for an approver to waive", setup: keepSays([]string{reasonMFA}, nil, 1, "alice", "!keep @ann"),
			want: refused("alice", replies.KindKeepUser, "@ann was not found by a criterion an approver can waive (inactive, reconfirm, list)")},
		{name: "nobody keeps themself", setup: keepSays(list, approver("ann"), 1, "ann", "!keep @ann"),
			want: refused("ann", replies.KindKeepUser, "nobody keeps their own access by command; reply on the task instead"), after: keepApprovalsAfter()},
		{name: "a removed user is not kept", setup: keepSays(list, withStatus("ann", state.StatusRemoved), 1, "alice", "!keep @ann"),
			want: refused("alice", replies.KindKeepUser, "@ann is removed, not pending")},
		{name: "only on the task that lists the user", setup: keepSays(list, nil, 2, "alice", "!keep @ann"),
			want: refused("alice", replies.KindKeepUser, "@ann is not listed on this task; keep them on the task that lists them"), after: keepApprovalsAfter()},
		{name: "kept, and still unmet elsewhere", setup: keepSays([]string{reasonList, reasonMFA}, keptBy("alice"), 1, "dave", "!keep @ann"),
			want:  byApprovers("dave", "keeps access (list), said by @alice, @dave; still unmet: mfa", "alice", "dave"),
			after: keptAfter(state.StatusPending, map[string][]string{reasonList: {"dave", "alice", "dave"}})},
		{name: "inactivity and reconfirmation too", setup: keepSays([]string{reasonInactive, reasonReconfirm}, keptBy("alice"), 1, "dave", "!keep @ann"),
			want:  byApprovers("dave", "keeps access (inactive, reconfirm), said by @alice, @dave", "alice", "dave"),
			after: keptAfter(state.StatusCompliant, map[string][]string{reasonInactive: {"dave", "alice", "dave"}, reasonReconfirm: {"dave", "alice", "dave"}})},
		{name: "a keep in a low-risk group needs one approver", setup: func(t *testing.T) (*view, *turn) {
			v := world(t, findingWith("ann", 1, list, dtWiki))
			return v, commentOn(t, v, 1, 20, "alice", "!keep @ann")
		}, want: byApprovers("alice", "keeps access (list), said by @alice", "alice"),
			after: keptAfter(state.StatusCompliant, map[string][]string{reasonList: {"alice", "alice"}})},
	}
}

func TestDecideKeepCommand(t *testing.T) { runReplyCases(t, keepCommandCases()) }

func TestKeepCommandNeeds(t *testing.T) {
	base := needs{approvers: true, users: []string{dtUser("dave")}}
	v, below := keepSays([]string{reasonList}, nil, 1, "dave", "!keep @ann")(t)
	if diff := cmp.Diff(base, turnNeeds(&v.snap, below), cmp.AllowUnexported(needs{}), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("the first of two !keep: turnNeeds (-want +got):\n%s", diff)
	}
	v, quorum := keepSays([]string{reasonList}, keptBy("alice"), 1, "dave", "!keep @ann")(t)
	ann := v.snap.Findings[0]
	want := needs{approvers: true, users: []string{dtUser("dave"), dtUser("alice"), dtUser("ann")}, texts: []*state.Source{srcOf(11)},
		live: []state.Finding{withKeeps(ann, []string{reasonList}, state.Keep{Approver: true})}}
	if diff := cmp.Diff(want, turnNeeds(&v.snap, quorum), cmp.AllowUnexported(needs{}), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("a !keep that may complete the keep: turnNeeds (-want +got):\n%s", diff)
	}
}

// TestDecideKeepsStand: before a removal round and before the campaign
// closes, every keep's comment is read again; a keep whose comment no
// longer says so, or whose approvers no longer are enough, falls.
func TestDecideKeepsStand(t *testing.T) {
	userKeep := func(reason, text string) func(v *view) {
		return func(v *view) {
			f := v.edit("ann")
			f.Reasons, f.Status = []string{reason}, state.StatusCompliant
			f.Kept = map[string]state.Keep{reason: {By: "ann", Source: srcOf(20), At: dtNow.Add(-1)}}
			v.texts[srcOf(20).TxPHID] = text
		}
	}
	approversKeep := func(edit func(v *view)) func(v *view) {
		return func(v *view) {
			f := v.edit("ann")
			f.Reasons, f.Status = []string{reasonList}, state.StatusCompliant
			f.Kept = map[string]state.Keep{reasonList: {By: "dave", Approver: true, Source: srcOf(12),
				Approvals: []state.Approval{approvalOn(v, "alice", 11, "!keep @ann"), approvalOn(v, "dave", 12, "!keep @ann")}}}
			if edit != nil {
				edit(v)
			}
		}
	}
	tests := []struct {
		name  string
		setup func(v *view)
		// fell is the keep-withdrawn entry's detail; "" when it holds.
		fell   string
		status state.Status
	}{
		{name: "a user's keep that still says so holds", setup: userKeep(reasonInactive, "I am still here"), status: state.StatusCompliant},
		{name: "a user's keep edited into remove me falls", setup: userKeep(reasonInactive, "remove me"),
			fell: "comment PHID-XACT-20 by @ann no longer keeps access (inactive); compliant -> pending", status: state.StatusPending},
		{name: "a user's keep deleted falls", setup: userKeep(reasonInactive, ""),
			fell: "comment PHID-XACT-20 by @ann no longer keeps access (inactive); compliant -> pending", status: state.StatusPending},
		{name: "a user's keep not returned falls", setup: all(userKeep(reasonInactive, ""), func(v *view) { delete(v.texts, "PHID-XACT-20") }),
			fell: "comment PHID-XACT-20 by @ann no longer keeps access (inactive); compliant -> pending", status: state.StatusPending},
		{name: "inactive: edited into a question still is activity", setup: userKeep(reasonInactive, "what is this about?"), status: state.StatusCompliant},
		{name: "reconfirm: edited into a question falls", setup: userKeep(reasonReconfirm, "what is this about?"),
			fell: "comment PHID-XACT-20 by @ann no longer keeps access (reconfirm); compliant -> pending", status: state.StatusPending},
		{name: "a pending user's keep falls, still pending", setup: all(userKeep(reasonInactive, "remove me"), withStatus("ann", state.StatusPending)),
			fell: "comment PHID-XACT-20 by @ann no longer keeps access (inactive); pending -> pending", status: state.StatusPending},
		{name: "a keep without a source is not read", setup: all(userKeep(reasonInactive, "remove me"), func(v *view) {
			k := v.edit("ann").Kept[reasonInactive]
			k.Source = nil
			v.edit("ann").Kept[reasonInactive] = k
		}), status: state.StatusCompliant},
		{name: "an approvers' keep that stands holds", setup: approversKeep(nil), status: state.StatusCompliant},
		{name: "an approvers' keep whose approver left falls", setup: approversKeep(func(v *view) { v.approvers = v.approvers[1:] }),
			fell: "1 of 2 approvers' keeps stand (@alice is no longer an enabled approver) (list); compliant -> pending", status: state.StatusPending},
		{name: "an approvers' keep whose approver was disabled falls", setup: approversKeep(func(v *view) {
			v.users[dtUser("dave")] = conduit.User{PHID: dtUser("dave"), Username: "dave", Roles: []string{"disabled"}}
		}), fell: "1 of 2 approvers' keeps stand (@dave is no longer an enabled approver) (list); compliant -> pending", status: state.StatusPending},
		{name: "an approvers' keep edited away falls", setup: approversKeep(func(v *view) { v.texts["PHID-XACT-11"] = "hm, wait" }),
			fell: "1 of 2 approvers' keeps stand (@alice's comment PHID-XACT-11 no longer says !keep) (list); compliant -> pending", status: state.StatusPending},
		{name: "a one-approver keep from before keeps needed several falls where two are needed", setup: approversKeep(func(v *view) {
			v.edit("ann").Kept[reasonList] = state.Keep{By: "alice", Approver: true, Source: srcOf(11)}
		}), fell: "1 of 2 approvers' keeps stand () (list); compliant -> pending", status: state.StatusPending},
		{name: "a one-approver keep from before keeps needed several holds where one is needed", setup: approversKeep(func(v *view) {
			v.edit("ann").Kept[reasonList] = state.Keep{By: "alice", Approver: true, Source: srcOf(11)}
			v.edit("ann").Groups = []string{dtWiki}
		}), status: state.StatusCompliant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each case has a state file of its own
			v := keepWorld(t, reasonInactive)
			tt.setup(v)
			ins := decideKeepsStand(v)
			got, journal := appliedJournal(t, v, ins...)
			// What it reads is what keepsNeeds names.
			part, _ := appliedJournal(t, v, decideKeepsStand(observed(v, keepsNeeds(&v.snap)))...)
			if diff := cmp.Diff(got.Findings, part.Findings); diff != "" {
				t.Errorf("decided on the world (-) and on keepsNeeds (+):\n%s", diff)
			}
			f := findingAfter(t, got, "ann")
			if f.Status != tt.status {
				t.Errorf("ann = %s, want %s", f.Status, tt.status)
			}
			var details []string
			for _, e := range journal {
				if e.Kind != state.EntryKeepWithdrawn || e.User != "ann" || e.Task != "T1" {
					t.Errorf("journal entry %+v, want keep-withdrawn of ann on T1", e)
				}
				details = append(details, e.Detail)
			}
			if tt.fell == "" {
				if len(ins) != 0 || len(f.Kept) != 1 {
					t.Errorf("the keep fell (%v): kept %v", details, f.Kept)
				}
				return
			}
			if diff := cmp.Diff([]string{tt.fell}, details); diff != "" || len(f.Kept) != 0 {
				t.Errorf("kept %v; keep-withdrawn (-want +got):\n%s", f.Kept, diff)
			}
		})
	}
}

func TestKeepsNeeds(t *testing.T) {
	v := keepWorld(t, reasonInactive, reasonList)
	f := v.edit("ann")
	f.Kept = map[string]state.Keep{
		reasonInactive: {By: "ann", Source: srcOf(20)},
		reasonList: {By: "dave", Approver: true, Source: srcOf(12),
			Approvals: []state.Approval{approvalOn(v, "alice", 11, "!keep @ann"), approvalOn(v, "dave", 12, "!keep @ann")}},
	}
	got := keepsNeeds(&v.snap)
	want := needs{approvers: true, users: []string{dtUser("alice"), dtUser("dave")}, texts: []*state.Source{srcOf(20), srcOf(12), srcOf(11), srcOf(12)}}
	sortSources := cmpopts.SortSlices(func(a, b *state.Source) bool { return a.TxID < b.TxID })
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(needs{}), cmpopts.EquateEmpty(), sortSources,
		cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("keepsNeeds (-want +got):\n%s", diff)
	}
	f.Kept = map[string]state.Keep{reasonInactive: {By: "ann", Source: srcOf(20)}}
	if got := keepsNeeds(&v.snap); got.approvers || len(got.users) != 0 || len(got.texts) != 1 {
		t.Errorf("keepsNeeds of a user's keep = %+v, want its comment only", got)
	}
}
