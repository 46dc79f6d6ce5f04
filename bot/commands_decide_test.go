package bot

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/auditbot/auditbot/bot/replies"
	"github.com/auditbot/auditbot/state"
)

// The approvers' commands (commands.go), decided on view literals; see
// converse_decide_test.go for how a case runs.

// srcOf is comment id on T1, as recorded with an approval.
func srcOf(id int) *state.Source {
	return &state.Source{TaskPHID: dtTask1, Task: "T1", TxPHID: fmt.Sprintf("PHID-XACT-%d", id), TxID: id}
}

// approvalOn is approver's approval given in comment id on T1, whose
// current text v holds.
func approvalOn(v *view, approver string, id int, text string) state.Approval {
	a := state.Approval{ApproverPHID: dtUser(approver), Username: approver, At: dtNow.Add(-1), Via: "T1", Source: srcOf(id),
		Verified: fmt.Sprintf("task T1 comment PHID-XACT-%d by the approver's own account", id)}
	v.texts[a.Source.TxPHID] = text
	return a
}

// r1 is removal batch R1, proposed, of ann (T1: WMF-NDA, acl*sre-team)
// and bob (T2: WMF-NDA), announced on both tasks at transaction 10.
func r1() state.Removal {
	return state.Removal{ID: 1, Status: state.RemovalProposed, RequiredApprovals: 2, Items: []state.RemovalItem{
		{UserPHID: dtUser("ann"), Username: "ann", GroupPHID: dtNDA, GroupName: "WMF-NDA", Risk: "security", Batch: 1},
		{UserPHID: dtUser("ann"), Username: "ann", GroupPHID: dtSRE, GroupName: "acl*sre-team", Risk: "internal", Batch: 1},
		{UserPHID: dtUser("bob"), Username: "bob", GroupPHID: dtNDA, GroupName: "WMF-NDA", Risk: "security", Batch: 2},
	}}
}

// commandWorld is annWorld with R1 announced on both tasks.
func commandWorld(t *testing.T) *view {
	v := annWorld(t)
	v.snap.Removals = []state.Removal{r1()}
	for i := range v.snap.Batches {
		v.snap.Batches[i].Announced = map[string]int{"R1": 10}
	}
	return v
}

// cmd is author's comment 20 on batch's task in commandWorld, after edit.
func cmd(edit func(v *view), batch int, author, text string) func(t *testing.T) (*view, *turn) {
	return func(t *testing.T) (*view, *turn) {
		v := commandWorld(t)
		if edit != nil {
			edit(v)
		}
		return v, commentOn(t, v, batch, 20, author, text)
	}
}

// all runs edits in order.
func all(edits ...func(v *view)) func(v *view) {
	return func(v *view) {
		for _, e := range edits {
			e(v)
		}
	}
}

func approver(name string) func(v *view) { return func(v *view) { v.withApprover(name) } }

// exemptionOf gives user a pending exemption request approved so far by
// approvers, each in a comment on T1 that still says so.
func exemptionOf(user string, approvers ...string) func(v *view) {
	return func(v *view) {
		e := &state.Exemption{Reason: "on call", RequestedAt: dtNow.Add(-1), Decision: state.ExemptionPending}
		for i, a := range approvers {
			ap := approvalOn(v, a, 11+i, "!approve @"+user)
			e.ApprovedBy = append(e.ApprovedBy, ap.ApproverPHID)
			e.Approvals = append(e.Approvals, ap)
		}
		v.edit(user).Exemption = e
	}
}

// approvedR1 records approver's approval of R1 on batch's task.
func approvedR1(approver string, batch, id int) func(v *view) {
	return func(v *view) {
		a := approvalOn(v, approver, id, "!approve")
		a.Scope = []int{batch}
		v.snap.Removals[0].Approvals = append(v.snap.Removals[0].Approvals, a)
	}
}

// refused is the outcome of a refused command.
func refused(by string, kind replies.Kind, why string) outcomeParts {
	return outcomeParts{Kind: state.EntryCommandRefused, User: by, Detail: kind.String() + ": " + why, Answered: true}
}

// recordedBy is the outcome of an approval recorded from by's command.
func recordedBy(by, user, detail string) outcomeParts {
	return outcomeParts{Kind: state.EntryApprovalRecorded, User: user, Detail: detail, Answered: true, Actor: by, Verified: byCommand, Approvers: []string{by}}
}

// r1After checks R1's status and approvals (approver@batch) after the
// outcome.
func r1After(status state.RemovalStatus, approvals ...string) func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
	return func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
		t.Helper()
		rm := snap.Removals[0]
		var got []string
		for _, a := range rm.Approvals {
			got = append(got, fmt.Sprintf("%s@%v", a.Username, a.Scope))
		}
		if diff := cmp.Diff(approvals, got, cmpopts.EquateEmpty()); diff != "" || rm.Status != status {
			t.Errorf("R1 = %s, want %s; approvals (-want +got):\n%s", rm.Status, status, diff)
		}
	}
}

// exemptionAfter checks user's status and exemption after the outcome.
func exemptionAfter(user string, status state.Status, decision state.Decision, decidedBy string, approvedBy ...string) func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
	return func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
		t.Helper()
		f := findingAfter(t, snap, user)
		var phids []string
		for _, a := range approvedBy {
			phids = append(phids, dtUser(a))
		}
		e := f.Exemption
		if e == nil {
			t.Fatalf("@%s has no exemption", user)
		}
		var withSource []string
		for _, a := range e.Approvals {
			withSource = append(withSource, a.ApproverPHID)
		}
		got := []any{f.Status, e.Decision, e.DecidedBy, e.ApprovedBy, withSource}
		want := []any{status, decision, decidedBy, phids, phids}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("@%s: status, decision, decided by, approved by, approvals (-want +got):\n%s", user, diff)
		}
	}
}

func commandCases() []replyCase {
	const onlyApprovers = "only members of #acl_phabricator-admins may give commands"
	const noBatch = "no removal batch waiting for approval was announced on this task before your comment"
	const noOpenBatch = "no removal batch that has not started was announced on this task before your comment"
	pending := exemptionOf("ann")
	restoreAsked := func(by string) *restoreAsk {
		return &restoreAsk{actor: by, approver: by, command: "PHID-XACT-20"}
	}
	removed := func(v *view) {
		f := v.edit("ann")
		f.Status, f.RemovedFrom = state.StatusRemoved, []string{dtNDA, dtSRE}
	}
	restoredBy := func(command string) func(v *view) {
		return func(v *view) {
			f := v.edit("ann")
			f.Status, f.RemovedFrom, f.Restores = state.StatusRestored, []string{dtNDA, dtSRE}, 1
			v.snap.Ops = append(v.snap.Ops, state.Op{Key: string(restoreKey("ann", 1)), Kind: state.OpRestore, State: state.OpDone,
				Args: map[string]string{argUser: "ann", argCommand: command}})
		}
	}
	noTarget := func(kind replies.Kind) func(t *testing.T) (*view, *turn) {
		return func(t *testing.T) (*view, *turn) {
			v, tn := cmd(nil, 1, "alice", "!approve")(t)
			tn.rep = replies.Reply{Kind: kind, Text: "!" + kind.String()}
			return v, tn
		}
	}
	ghost := cmd(nil, 1, "ghost", "!approve")
	zedApproves := cmd(nil, 1, "zed", "!approve")
	erinApproves := cmd(nil, 1, "erin", "!approve")
	zedDenies := cmd(nil, 1, "zed", "!deny no")
	zedExempts := cmd(pending, 1, "zed", "!approve @ann")
	zedRestores := cmd(removed, 1, "zed", "!restore @ann")
	startedR1 := func(v *view) {
		v.snap.Removals[0].Status = state.RemovalApproved
		v.snap.Removals[0].Items[2].Done = true
	}
	landedR1 := func(v *view) {
		v.snap.Removals[0].Status = state.RemovalApproved
		v.snap.Ops = append(v.snap.Ops, state.Op{Key: string(removeKey("R1", dtNDA)), Kind: state.OpMembersRemoved, State: state.OpPending,
			Subjects: []string{dtUser("bob")}})
		v.members[dtNDA] = []string{dtUser("ann")}
	}
	sentR1 := func(v *view) {
		landedR1(v)
		v.members[dtNDA] = []string{dtUser("ann"), dtUser("bob")}
	}
	ownExemption := all(approver("ann"), pending)
	return []replyCase{
		// Who may give a command.
		{name: "an unknown commenter is refused, unanswered", setup: ghost,
			want: outcomeParts{Kind: state.EntryCommandRefused, Detail: "unknown commenter PHID-USER-ghost"}, after: unchanged(ghost)},
		{name: "a non-approver's !approve is refused", setup: zedApproves,
			want: refused("zed", replies.KindApprove, onlyApprovers), after: unchanged(zedApproves)},
		{name: "a disabled approver's !approve is refused", setup: erinApproves,
			want: refused("erin", replies.KindApprove, onlyApprovers), after: unchanged(erinApproves)},
		{name: "a non-approver's !deny is refused", setup: zedDenies,
			want: refused("zed", replies.KindDeny, onlyApprovers), after: unchanged(zedDenies)},
		{name: "a non-approver's !approve @user is refused", setup: zedExempts,
			want: refused("zed", replies.KindApprove, onlyApprovers), after: unchanged(zedExempts)},
		{name: "a non-approver's !restore @user is refused", setup: zedRestores,
			want: refused("zed", replies.KindRestore, onlyApprovers), after: unchanged(zedRestores)},
		{name: "a disabled approver's !deny @user is refused", setup: cmd(pending, 1, "erin", "!deny @ann no"),
			want: refused("erin", replies.KindDeny, onlyApprovers)},
		{name: "a batch user is no approver", setup: cmd(nil, 1, "ann", "!approve"),
			want: refused("ann", replies.KindApprove, onlyApprovers), after: r1After(state.RemovalProposed)},
		{name: "a command about someone outside the campaign", setup: cmd(nil, 1, "alice", "!approve @nobody"),
			want: refused("alice", replies.KindApprove, "@nobody is not part of this campaign")},
		{name: "!restore without a user is no command: the table has no entry for it", setup: noTarget(replies.KindRestore),
			want: outcomeParts{Kind: state.EntryIgnored, Detail: "comment by someone outside the batch: " + dtUser("alice")}},

		// !approve: the batch announced on this task, its items there.
		{name: "!approve before any announcement", setup: cmd(func(v *view) { v.snap.Batches[0].Announced = nil }, 1, "alice", "!approve"),
			want: refused("alice", replies.KindApprove, noBatch), after: r1After(state.RemovalProposed)},
		{name: "!approve written before the announcement", setup: cmd(func(v *view) { v.snap.Batches[0].Announced["R1"] = 30 }, 1, "alice", "!approve"),
			want: refused("alice", replies.KindApprove, noBatch), after: r1After(state.RemovalProposed)},
		{name: "!approve records an approval of this task's items", setup: cmd(nil, 1, "alice", "!approve"),
			want: recordedBy("alice", "alice", "R1 (the memberships listed on this task): approval 1 of 2 recorded"),
			after: func(t *testing.T, snap state.Snapshot, journal []state.Entry) {
				want := []state.Approval{{ApproverPHID: dtUser("alice"), Username: "alice", At: dtNow, Via: "T1", Scope: []int{1}, Source: srcOf(20),
					Verified: "task T1 comment PHID-XACT-20 by the approver's own account"}}
				if diff := cmp.Diff(want, snap.Removals[0].Approvals, cmpopts.EquateApproxTime(0)); diff != "" || snap.Removals[0].Status != state.RemovalProposed {
					t.Errorf("R1 = %s; approvals (-want +got):\n%s", snap.Removals[0].Status, diff)
				}
				if diff := cmp.Diff([]string{"alice"}, journal[0].Approvers); diff != "" {
					t.Errorf("journaled approvers (-want +got):\n%s", diff)
				}
			}},
		{name: "the same approver twice on one task counts once", setup: cmd(approvedR1("alice", 1, 15), 1, "alice", "!approve"),
			want: refused("alice", replies.KindApprove, "you already approved R1 on this task; it needs 2 distinct approvers"), after: r1After(state.RemovalProposed, "alice@[1]")},
		{name: "the same approver on another task approves its items", setup: cmd(approvedR1("alice", 1, 15), 2, "alice", "!approve"),
			want: recordedBy("alice", "alice", "R1 (the memberships listed on this task): approval 1 of 2 recorded"), after: r1After(state.RemovalProposed, "alice@[1]", "alice@[2]")},
		{name: "two approvers on one task leave the other task's items waiting", setup: cmd(approvedR1("alice", 1, 15), 1, "dave", "!approve"),
			want: recordedBy("dave", "dave", "R1 (the memberships listed on this task): approval 2 of 2 recorded"), after: r1After(state.RemovalProposed, "alice@[1]", "dave@[1]")},
		{name: "the last approval needed approves the batch", setup: cmd(all(approvedR1("alice", 1, 15), approvedR1("alice", 2, 16), approvedR1("dave", 2, 17)), 1, "dave", "!approve"),
			want: recordedBy("dave", "dave", "R1 (the memberships listed on this task): approval 2 of 2 recorded"), after: r1After(state.RemovalApproved, "alice@[1]", "alice@[2]", "dave@[2]", "dave@[1]")},
		{name: "an approver in the batch may not approve it", setup: cmd(approver("ann"), 1, "ann", "!approve"),
			want: refused("ann", replies.KindApprove, "you are in R1 yourself, so another approver must decide on it"), after: r1After(state.RemovalProposed)},
		{name: "an approved batch waits for no approval", setup: cmd(func(v *view) { v.snap.Removals[0].Status = state.RemovalApproved }, 1, "alice", "!approve"),
			want: refused("alice", replies.KindApprove, "R1, the removal batch announced last on this task before your comment, waits for no approval any more; your comment is not counted for another batch"), after: r1After(state.RemovalApproved)},
		{name: "!approve answers the batch announced last before it", setup: cmd(func(v *view) {
			r2, r3 := r1(), r1()
			r2.ID, r3.ID = 2, 3
			v.snap.Removals = append(v.snap.Removals, r2, r3)
			v.snap.Batches[0].Announced = map[string]int{"R1": 10, "R2": 15, "R3": 25}
		}, 1, "alice", "!approve"), want: recordedBy("alice", "alice", "R2 (the memberships listed on this task): approval 1 of 2 recorded"),
			after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
				for _, rm := range snap.Removals {
					if n := len(rm.Approvals); n != map[int]int{2: 1}[rm.ID] {
						t.Errorf("%s has %d approvals, want alice's on R2 only", rm.Label(), n)
					}
				}
			}},

		// !deny: any announced batch that has not started removing.
		{name: "!deny rejects the batch", setup: cmd(nil, 1, "alice", "!deny the deadline was not announced"),
			want: recordedBy("alice", "alice", "R1 rejected: the deadline was not announced"),
			after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
				if rm := snap.Removals[0]; rm.Status != state.RemovalRejected || rm.RejectedBy != "alice" || rm.RejectReason != "the deadline was not announced" {
					t.Errorf("R1 = %s by %q (%q), want rejected by alice with the reason", rm.Status, rm.RejectedBy, rm.RejectReason)
				}
			}},
		{name: "!deny rejects an approved batch that has not started", setup: cmd(func(v *view) { v.snap.Removals[0].Status = state.RemovalApproved }, 2, "dave", "!deny on a trip"),
			want: recordedBy("dave", "dave", "R1 rejected: on a trip"), after: r1After(state.RemovalRejected)},
		{name: "!deny rejects a batch whose removal was sent and did not land", setup: cmd(sentR1, 2, "dave", "!deny on a trip"),
			want: recordedBy("dave", "dave", "R1 rejected: on a trip"), after: r1After(state.RemovalRejected)},
		{name: "!deny comes too late for a batch that removed someone", setup: cmd(startedR1, 2, "dave", "!deny on a trip"),
			want: refused("dave", replies.KindDeny, r1Started), after: r1After(state.RemovalApproved)},
		{name: "!deny comes too late for a removal that landed", setup: cmd(landedR1, 2, "dave", "!deny on a trip"),
			want: refused("dave", replies.KindDeny, r1Started), after: r1After(state.RemovalApproved)},
		{name: "!deny before the announcement", setup: cmd(func(v *view) { v.snap.Batches[0].Announced["R1"] = 30 }, 1, "alice", "!deny no"),
			want: refused("alice", replies.KindDeny, noOpenBatch), after: r1After(state.RemovalProposed)},
		{name: "an approver in the batch may not deny it", setup: cmd(approver("ann"), 1, "ann", "!deny not now"),
			want: refused("ann", replies.KindDeny, "you are in R1 yourself, so another approver must decide on it"), after: r1After(state.RemovalProposed)},

		// Exemptions: as many distinct approvers as removing the user.
		{name: "!approve @user records the first of two approvals", setup: cmd(pending, 1, "alice", "!approve @ann"),
			want:  recordedBy("alice", "ann", "exemption for @ann: approval 1 of 2 recorded"),
			after: exemptionAfter("ann", state.StatusPending, state.ExemptionPending, "", "alice")},
		{name: "the same approver twice counts once", setup: cmd(exemptionOf("ann", "alice"), 1, "alice", "!approve @ann"),
			want:  refused("alice", replies.KindApprove, "you already approved @ann's exemption; it needs 2 distinct approvers"),
			after: exemptionAfter("ann", state.StatusPending, state.ExemptionPending, "", "alice")},
		{name: "a second approver grants the exemption", setup: cmd(exemptionOf("ann", "alice"), 1, "dave", "!approve @ann"),
			want: outcomeParts{Kind: state.EntryExemptionDecision, User: "ann", Detail: "exemption granted by @alice, @dave", Answered: true,
				Actor: "dave", Verified: byCommand, Approvers: []string{"alice", "dave"}},
			after: exemptionAfter("ann", state.StatusExempt, state.ExemptionGranted, "dave", "alice", "dave")},
		{name: "an earlier approval edited away does not count", setup: cmd(all(exemptionOf("ann", "alice"), func(v *view) { v.texts["PHID-XACT-11"] = "on second thought, no" }), 1, "dave", "!approve @ann"),
			want:  recordedBy("dave", "ann", "exemption for @ann: approval 1 of 2 recorded; 1 earlier approval(s) withdrawn by editing their comment"),
			after: exemptionAfter("ann", state.StatusPending, state.ExemptionPending, "", "dave")},
		{name: "an earlier approval edited to name someone else does not count", setup: cmd(all(exemptionOf("ann", "alice"), func(v *view) { v.texts["PHID-XACT-11"] = "!approve @bob" }), 1, "dave", "!approve @ann"),
			want:  recordedBy("dave", "ann", "exemption for @ann: approval 1 of 2 recorded; 1 earlier approval(s) withdrawn by editing their comment"),
			after: exemptionAfter("ann", state.StatusPending, state.ExemptionPending, "", "dave")},
		{name: "an earlier approval deleted does not count", setup: cmd(all(exemptionOf("ann", "alice"), func(v *view) { delete(v.texts, "PHID-XACT-11") }), 1, "dave", "!approve @ann"),
			want:  recordedBy("dave", "ann", "exemption for @ann: approval 1 of 2 recorded; 1 earlier approval(s) withdrawn by editing their comment"),
			after: exemptionAfter("ann", state.StatusPending, state.ExemptionPending, "", "dave")},
		{name: "an earlier approver who left the approvers does not count", setup: cmd(all(exemptionOf("ann", "alice"), func(v *view) { v.approvers = v.approvers[1:] }), 1, "dave", "!approve @ann"),
			want:  recordedBy("dave", "ann", "exemption for @ann: approval 1 of 2 recorded; @alice no longer enabled approvers, their approval dropped"),
			after: exemptionAfter("ann", state.StatusPending, state.ExemptionPending, "", "dave")},
		{name: "an earlier approver since disabled does not count", setup: cmd(exemptionOf("ann", "erin"), 1, "dave", "!approve @ann"),
			want:  recordedBy("dave", "ann", "exemption for @ann: approval 1 of 2 recorded; @erin no longer enabled approvers, their approval dropped"),
			after: exemptionAfter("ann", state.StatusPending, state.ExemptionPending, "", "dave")},
		{name: "an earlier approval from the command line stands", setup: cmd(all(exemptionOf("ann", "alice"), func(v *view) { v.edit("ann").Exemption.Approvals[0].Source = nil }), 1, "dave", "!approve @ann"),
			want: outcomeParts{Kind: state.EntryExemptionDecision, User: "ann", Detail: "exemption granted by @alice, @dave", Answered: true,
				Actor: "dave", Verified: byCommand, Approvers: []string{"alice", "dave"}},
			after: exemptionAfter("ann", state.StatusExempt, state.ExemptionGranted, "dave", "alice", "dave")},
		{name: "a low-risk group needs one approver", setup: func(t *testing.T) (*view, *turn) {
			v := world(t, finding("cid", 1, dtWiki))
			exemptionOf("cid")(v)
			return v, commentOn(t, v, 1, 20, "alice", "!approve @cid")
		}, want: outcomeParts{Kind: state.EntryExemptionDecision, User: "cid", Detail: "exemption granted by @alice", Answered: true,
			Actor: "alice", Verified: byCommand, Approvers: []string{"alice"}},
			after: exemptionAfter("cid", state.StatusExempt, state.ExemptionGranted, "alice", "alice")},
		{name: "the riskiest group sets the quorum", setup: func(t *testing.T) (*view, *turn) {
			v := world(t, finding("cid", 1, dtWiki, dtNDA))
			exemptionOf("cid")(v)
			return v, commentOn(t, v, 1, 20, "alice", "!approve @cid")
		}, want: recordedBy("alice", "cid", "exemption for @cid: approval 1 of 2 recorded"),
			after: exemptionAfter("cid", state.StatusPending, state.ExemptionPending, "", "alice")},
		{name: "!deny @user denies on one approver's word", setup: cmd(exemptionOf("ann", "alice"), 1, "dave", "!deny @ann use a hardware key"),
			want: outcomeParts{Kind: state.EntryExemptionDecision, User: "ann", Detail: "exemption denied by @dave", Answered: true,
				Actor: "dave", Verified: byCommand, Approvers: []string{"dave"}},
			after: func(t *testing.T, snap state.Snapshot, journal []state.Entry) {
				exemptionAfter("ann", state.StatusPending, state.ExemptionDenied, "dave", "alice")(t, snap, journal)
				if note := findingAfter(t, snap, "ann").Exemption.Note; note != "use a hardware key" {
					t.Errorf("denial note %q, want the reason", note)
				}
			}},
		{name: "a denial leaves an earlier grant in force", setup: cmd(all(pending, func(v *view) {
			f := v.edit("ann")
			f.Status, f.ExemptionHistory = state.StatusExempt, []state.Exemption{{Reason: "travel", Decision: state.ExemptionGranted, DecidedBy: "bob", Until: dtNow.AddDate(0, 1, 0)}}
		}), 1, "alice", "!deny @ann no extension"), want: outcomeParts{Kind: state.EntryExemptionDecision, User: "ann", Detail: "exemption denied by @alice", Answered: true,
			Actor: "alice", Verified: byCommand, Approvers: []string{"alice"}},
			after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
				if f := findingAfter(t, snap, "ann"); f.ExemptionInForce() == nil || f.ExemptionInForce().Reason != "travel" || f.Status != state.StatusExempt {
					t.Errorf("ann = %s, in force %+v; want exempt on the earlier grant", f.Status, f.ExemptionInForce())
				}
			}},
		{name: "no exemption request waiting", setup: cmd(nil, 1, "alice", "!approve @ann"),
			want: refused("alice", replies.KindApprove, "@ann has no exemption request waiting for a decision")},
		{name: "an exemption already decided", setup: cmd(func(v *view) {
			v.edit("ann").Exemption = &state.Exemption{Reason: "x", Decision: state.ExemptionDenied, DecidedBy: "dave"}
		}, 1, "alice", "!approve @ann"), want: refused("alice", replies.KindApprove, "@ann has no exemption request waiting for a decision")},
		{name: "nobody approves their own exemption", setup: cmd(ownExemption, 1, "ann", "!approve @ann"),
			want: refused("ann", replies.KindApprove, "nobody approves their own exemption"), after: unchanged(cmd(ownExemption, 1, "ann", "!approve @ann"))},
		{name: "nor denies it", setup: cmd(ownExemption, 1, "ann", "!deny @ann no"),
			want: refused("ann", replies.KindDeny, "nobody approves their own exemption")},

		// Restores: asked for by the command; the restore itself checks
		// the user against Phabricator (restore_decide_test.go).
		{name: "!restore @user asks for a restore", setup: cmd(removed, 1, "alice", "!restore @ann"),
			want: outcomeParts{Kind: state.EntryRestoreCommand, User: "ann", Detail: "restored by @alice", Actor: "alice", Verified: byCommand, Approvers: []string{"alice"}, Restore: restoreAsked("alice")}, after: unchanged(cmd(removed, 1, "alice", "!restore @ann"))},
		{name: "!approve @user of a restore request asks for a restore", setup: cmd(all(removed, func(v *view) { v.edit("ann").RestoreRequested = true }), 2, "dave", "!approve @ann"),
			want: outcomeParts{Kind: state.EntryRestoreCommand, User: "ann", Detail: "restored by @dave", Actor: "dave", Verified: byCommand, Approvers: []string{"dave"}, Restore: restoreAsked("dave")}},
		{name: "!deny @user of a restore request is about exemptions", setup: cmd(all(removed, func(v *view) { v.edit("ann").RestoreRequested = true }), 1, "dave", "!deny @ann no"),
			want: refused("dave", replies.KindDeny, "@ann has no exemption request waiting for a decision")},
		{name: "nobody restores themself", setup: cmd(all(removed, approver("ann")), 1, "ann", "!restore @ann"),
			want: refused("ann", replies.KindRestore, "nobody restores their own access; another approver must decide (!restore @ann)")},
		{name: "nor approves their own restore request", setup: cmd(all(removed, approver("ann"), func(v *view) { v.edit("ann").RestoreRequested = true }), 1, "ann", "!approve @ann"),
			want: refused("ann", replies.KindApprove, "nobody restores their own access; another approver must decide (!restore @ann)")},
		{name: "a command read again after its restore is answered as done", setup: cmd(restoredBy("PHID-XACT-20"), 1, "alice", "!restore @ann"),
			want: outcomeParts{Kind: state.EntryRestoreCommand, User: "ann", Detail: "restored by @alice", Actor: "alice", Verified: byCommand, Approvers: []string{"alice"}}, after: wantStatus("ann", state.StatusRestored)},
		{name: "another command after a restore asks again", setup: cmd(restoredBy("PHID-XACT-5"), 1, "alice", "!restore @ann"),
			want: outcomeParts{Kind: state.EntryRestoreCommand, User: "ann", Detail: "restored by @alice", Actor: "alice", Verified: byCommand, Approvers: []string{"alice"}, Restore: restoreAsked("alice")}},
	}
}

func TestDecideCommand(t *testing.T) { runReplyCases(t, commandCases()) }

// TestCommandNeeds pins what a command reads beyond the commenter and
// the approvers: the earlier approvals only when this one may complete
// an exemption.
func TestCommandNeeds(t *testing.T) {
	base := needs{approvers: true, users: []string{dtUser("dave")}}
	tests := []struct {
		name  string
		setup func(t *testing.T) (*view, *turn)
		want  needs
	}{
		{"!approve", cmd(nil, 1, "dave", "!approve"), base},
		{"!deny: who is still a member", cmd(nil, 1, "dave", "!deny no"), needs{members: true, approvers: true, users: []string{dtUser("dave")}}},
		{"the first approval of an exemption", cmd(exemptionOf("ann"), 1, "dave", "!approve @ann"), base},
		{"an approval that may complete an exemption: the earlier ones", cmd(exemptionOf("ann", "alice"), 1, "dave", "!approve @ann"),
			needs{approvers: true, users: []string{dtUser("dave"), dtUser("alice")}, texts: []*state.Source{srcOf(11)}}},
		{"a denial of an exemption", cmd(exemptionOf("ann", "alice"), 1, "dave", "!deny @ann no"), base},
		{"a restore", cmd(exemptionOf("ann", "alice"), 1, "dave", "!restore @ann"), base},
		{"!approve @user of a restore request", cmd(all(exemptionOf("ann", "alice"), func(v *view) { v.edit("ann").RestoreRequested = true }), 1, "dave", "!approve @ann"), base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, tn := tt.setup(t)
			if diff := cmp.Diff(tt.want, turnNeeds(&v.snap, tn), cmp.AllowUnexported(needs{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("turnNeeds (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLegacyExemptionApprovalLapses: a state file from before approvals
// were recorded in full names an exemption's earlier approver in
// ApprovedBy alone. That approval too counts only while its approver may
// still decide: alice, no longer an approver, leaves dave's approval the
// first of two, not the grant.
// r1Started is the refusal of a bare command whose batch, R1, has
// started removing.
const r1Started = "R1, the removal batch announced last on this task before your comment, was decided and has started or ended; your comment is not counted for another batch"

func TestLegacyExemptionApprovalLapses(t *testing.T) {
	for _, aliceStays := range []bool{false, true} {
		t.Run(fmt.Sprintf("alice still an approver: %v", aliceStays), func(t *testing.T) {
			v, tn := cmd(func(v *view) {
				v.edit("ann").Exemption = &state.Exemption{Reason: "on call", RequestedAt: dtNow.Add(-1), Decision: state.ExemptionPending,
					ApprovedBy: []string{dtUser("alice")}}
				if !aliceStays {
					v.approvers = slices.DeleteFunc(v.approvers, func(p string) bool { return p == dtUser("alice") })
				}
			}, 1, "dave", "!approve @ann")(t)
			if n := turnNeeds(&v.snap, tn); !slices.Contains(n.users, dtUser("alice")) || !n.approvers {
				t.Fatalf("turnNeeds = %+v, want alice's account and the approvers read", n)
			}
			o, err := decideReply(v, tn)
			if err != nil {
				t.Fatal(err)
			}
			granted := o.kind == state.EntryExemptionDecision
			if granted != aliceStays {
				t.Errorf("outcome %s (%s); want granted only while alice may still decide", o.kind, o.detail)
			}
		})
	}
}
