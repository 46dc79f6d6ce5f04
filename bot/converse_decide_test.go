package bot

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/auditbot/auditbot/bot/replies"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// The conversation's rules, decided on view literals: each case builds
// a world (the recorded state and everything Phabricator would say) and
// one transaction, runs the dispatcher (decideReply) and compares what it
// decided; the outcome is then recorded as the conversation records it
// (recorded) and the state checked. Every case also runs a second time
// on a view holding only what turnNeeds asked for
// (TestTurnNeedsSuffice): the needs of a rule are exactly what it reads.

// dtWiki is a low-risk group: a decision about its members alone needs
// one approver.
const dtWiki = "PHID-PROJ-wiki"

// world is the decider tests' campaign with these findings and
// everything Phabricator says about them: each finding's user is a
// member of its groups and still fails every one of its reasons, with an
// enabled account; alice and dave are enabled approvers, erin is a
// disabled one, zed is an enabled user outside the approvers.
func world(t *testing.T, fs ...state.Finding) *view {
	t.Helper()
	v := testView(t, fs...).withApprover("alice").withApprover("dave").withApprover("erin")
	v.snap.Campaign.Groups = append(v.snap.Campaign.Groups, state.Group{PHID: dtWiki, Name: "wiki-editors", Risk: "vandalism"})
	v.users[dtUser("erin")] = conduit.User{PHID: dtUser("erin"), Username: "erin", Roles: []string{"disabled"}}
	v.users[dtUser("zed")] = conduit.User{PHID: dtUser("zed"), Username: "zed"}
	v.live = map[string]map[string]conduit.User{}
	for _, cr := range criteria {
		v.live[cr.reason] = map[string]conduit.User{}
	}
	for _, f := range fs {
		u := conduit.User{PHID: f.UserPHID, Username: f.Username, RealName: f.RealName}
		v.users[f.UserPHID] = u
		for _, r := range f.Reasons {
			v.live[r][f.UserPHID] = u
		}
		for _, g := range f.Groups {
			v.members[g] = append(v.members[g], f.UserPHID)
		}
	}
	return v
}

// complies makes user meet every criterion in v.
func (v *view) complies(user string) *view {
	for _, us := range v.live {
		delete(us, dtUser(user))
	}
	return v
}

// edit returns user's finding in v's snapshot, to change.
func (v *view) edit(user string) *state.Finding {
	for i := range v.snap.Findings {
		if v.snap.Findings[i].Username == user {
			return &v.snap.Findings[i]
		}
	}
	panic("no finding of " + user)
}

// findingWith is finding with its reasons replaced.
func findingWith(user string, batch int, reasons []string, groups ...string) state.Finding {
	f := finding(user, batch, groups...)
	f.Reasons = reasons
	return f
}

// xact is comment transaction id by author with text.
func xact(id int, author, text string) conduit.Transaction {
	return conduit.Transaction{ID: id, PHID: fmt.Sprintf("PHID-XACT-%d", id), Type: xactComment, AuthorPHID: dtUser(author),
		Comments: []conduit.Comment{{Version: 1, AuthorPHID: dtUser(author), Raw: text}}}
}

// turnOf is transaction t on batch's task as v records the batch, read
// as decideTurn reads it.
func turnOf(t *testing.T, v *view, batch int, x conduit.Transaction) *turn {
	t.Helper()
	bt, ok := v.batch(batch)
	if !ok {
		t.Fatalf("no batch %d", batch)
	}
	tn := &turn{bt: bt, t: x}
	if tn.comment() {
		tn.rep = replies.Parse(commentText(x))
	}
	return tn
}

// commentOn is author's comment id with text on batch's task.
func commentOn(t *testing.T, v *view, batch, id int, author, text string) *turn {
	t.Helper()
	return turnOf(t, v, batch, xact(id, author, text))
}

// outcomeParts are the parts of an outcome a test compares.
type outcomeParts struct {
	Kind                    state.EntryKind
	User, Detail            string
	Answered, AsksApprovers bool
	Actor, Verified         string
	Approvers               []string
	Restore                 *restoreAsk
}

func partsOf(o outcome) outcomeParts {
	return outcomeParts{Kind: o.kind, User: o.user, Detail: o.detail, Answered: o.answer != "", AsksApprovers: o.asksApprovers,
		Actor: o.actor, Verified: o.verified, Approvers: o.approvers, Restore: o.restore}
}

var cmpOutcome = cmp.Options{cmp.AllowUnexported(restoreAsk{}), cmpopts.EquateEmpty()}

// byCommand is how an approver's answered command is verified.
const byCommand = "member of #acl_phabricator-admins checked over Conduit"

// replyCase is one transaction decided in a world: what the dispatcher
// must decide, and the state after it is recorded.
type replyCase struct {
	name  string
	setup func(t *testing.T) (*view, *turn)
	want  outcomeParts
	// after, if set, checks the state and the journal entries after the
	// outcome is recorded.
	after func(t *testing.T, snap state.Snapshot, journal []state.Entry)
}

// runReplyCases decides each case with decideReply, compares the
// outcome, records it and checks what every recorded outcome must show:
// its journal entry, its answer in the task's combined answer (which
// subscribes the approvers when it asks them), the cursor past the
// transaction.
func runReplyCases(t *testing.T, cases []replyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has a state file of its own
			v, tn := tc.setup(t)
			o := decided(t, v, tn)
			if diff := cmp.Diff(tc.want, partsOf(o), cmpOutcome); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
			snap, journal := recorded(t, v, tn, o)
			checkRecorded(t, tn, o, snap, journal)
			if tc.after != nil {
				tc.after(t, snap, journal)
			}
		})
	}
}

// decided is decideReply's outcome of tn on v.
func decided(t *testing.T, v *view, tn *turn) outcome {
	t.Helper()
	o, err := decideReply(v, tn)
	if err != nil {
		t.Fatalf("decideReply: %v", err)
	}
	return o
}

// checkRecorded checks what recording outcome o of tn left: the entry of
// its kind first in the journal, the answer op, the cursor.
func checkRecorded(t *testing.T, tn *turn, o outcome, snap state.Snapshot, journal []state.Entry) {
	t.Helper()
	if o.kind != "" {
		if len(journal) == 0 {
			t.Fatalf("nothing journaled, want %s", o.kind)
		}
		e := journal[0]
		actor := o.actor
		if actor == "" { // the bot's, answered or not
			actor = "auditbot"
		}
		got := []string{string(e.Kind), e.Task, e.User, e.Actor, e.Detail}
		want := []string{string(o.kind), tn.bt.Monogram(), o.user, actor, o.detail}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("journal entry (-want +got):\n%s", diff)
		}
	}
	bt, _ := batchIn(&snap, tn.bt.Index)
	if bt.TxCursor != tn.t.ID {
		t.Errorf("cursor = %d, want past transaction %d", bt.TxCursor, tn.t.ID)
	}
	i := slices.IndexFunc(snap.Ops, func(op state.Op) bool { return op.Key == string(repliesKey(tn.bt.Index, tn.t.ID)) })
	switch {
	case o.answer == "" && i >= 0:
		t.Errorf("answer recorded for an outcome without one: %+v", snap.Ops[i])
	case o.answer != "" && i < 0:
		t.Errorf("no answer recorded")
	case o.answer != "":
		op := snap.Ops[i]
		if op.Args[argText] == "" || (op.Args[argSubscribe] == dtApprovers) != o.asksApprovers || bt.ApproversSubscribed != o.asksApprovers {
			t.Errorf("answer %+v (approvers subscribed %v), want text and approvers subscribed = %v", op.Args, bt.ApproversSubscribed, o.asksApprovers)
		}
	}
}

// findingAfter is user's finding in snap.
func findingAfter(t *testing.T, snap state.Snapshot, user string) state.Finding {
	t.Helper()
	f, ok := findingNamed(&snap, user)
	if !ok {
		t.Fatalf("no finding of %s", user)
	}
	return f
}

// wantStatus checks user's status after the outcome.
func wantStatus(user string, want state.Status) func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
	return func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
		t.Helper()
		if got := findingAfter(t, snap, user).Status; got != want {
			t.Errorf("@%s = %s, want %s", user, got, want)
		}
	}
}

// unchanged checks that the outcome changed no finding and no removal
// batch (the cursor and the answer aside).
func unchanged(v func(t *testing.T) (*view, *turn)) func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
	return func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
		t.Helper()
		before, _ := v(t)
		ignore := cmpopts.IgnoreFields(state.Removal{}, "ProposedAt")
		if diff := cmp.Diff(before.snap.Findings, snap.Findings, cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(time.Second)); diff != "" {
			t.Errorf("findings changed (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(before.snap.Removals, snap.Removals, cmpopts.EquateEmpty(), ignore); diff != "" {
			t.Errorf("removal batches changed (-before +after):\n%s", diff)
		}
	}
}

// annWorld is ann (T1, WMF-NDA and acl*sre-team: two approvers) and bob
// (T2, WMF-NDA), both without MFA.
func annWorld(t *testing.T) *view {
	return world(t, finding("ann", 1, dtNDA, dtSRE), finding("bob", 2, dtNDA))
}

// annSays is ann's comment on T1 in annWorld, after edit changed it.
func annSays(text string, edit func(v *view)) func(t *testing.T) (*view, *turn) {
	return func(t *testing.T) (*view, *turn) {
		v := annWorld(t)
		if edit != nil {
			edit(v)
		}
		return v, commentOn(t, v, 1, 20, "ann", text)
	}
}

func withStatus(user string, s state.Status) func(v *view) {
	return func(v *view) { v.edit(user).Status = s }
}

func converseCases() []replyCase {
	botSays := func(t *testing.T) (*view, *turn) {
		v := annWorld(t)
		v.snap.Removals = []state.Removal{{ID: 1, Status: state.RemovalProposed, RequiredApprovals: 1, Items: []state.RemovalItem{
			{UserPHID: dtUser("ann"), Username: "ann", GroupPHID: dtNDA, Batch: 1}}}}
		v.snap.Batches[0].Announced = map[string]int{"R1": 10}
		return v, commentOn(t, v, 1, 20, "bot", "!approve")
	}
	announcement := func(t *testing.T) (*view, *turn) {
		v := annWorld(t)
		return v, commentOn(t, v, 1, 20, "bot", "R1 would remove...\n\n"+marker("dt", proposalKey("R1", 1)))
	}
	unsubscribe := func(author, removed string, edit func(v *view)) func(t *testing.T) (*view, *turn) {
		return func(t *testing.T) (*view, *turn) {
			v := annWorld(t)
			if edit != nil {
				edit(v)
			}
			return v, turnOf(t, v, 1, conduit.Transaction{ID: 20, PHID: "PHID-XACT-20", Type: xactSubscribers, AuthorPHID: dtUser(author),
				Operations: []conduit.Operation{{Operation: "remove", PHID: dtUser(removed)}}})
		}
	}
	unsubscribed := func(want int) func(t *testing.T, snap state.Snapshot, journal []state.Entry) {
		return func(t *testing.T, snap state.Snapshot, journal []state.Entry) {
			var got []string
			for _, e := range journal {
				got = append(got, string(e.Kind)+" "+e.User+": "+e.Detail)
			}
			want := slices.Repeat([]string{"unsubscribed ann: flagged; the finding stays pending"}, want)
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("journal (-want +got):\n%s", diff)
			}
			if !findingAfter(t, snap, "ann").Unsubscribed || findingAfter(t, snap, "ann").Status != state.StatusPending {
				t.Errorf("ann = %+v, want flagged unsubscribed and still pending", findingAfter(t, snap, "ann"))
			}
		}
	}
	exemption := func(edit func(f *state.Finding)) func(v *view) {
		return func(v *view) { edit(v.edit("ann")) }
	}
	granted := state.Exemption{Reason: "travel", Decision: state.ExemptionGranted, DecidedBy: "alice", Until: dtNow.AddDate(0, 1, 0)}
	denied := state.Exemption{Reason: "travel", Decision: state.ExemptionDenied, DecidedBy: "alice"}
	const reason = "I only use the API from a locked-down bot host"
	return []replyCase{
		// Who is answered at all.
		{name: "the bot never obeys itself", setup: botSays, after: unchanged(botSays)},
		{name: "the bot's own comment is never answered", setup: func(t *testing.T) (*view, *turn) {
			v := annWorld(t).complies("ann")
			return v, commentOn(t, v, 1, 20, "bot", "done")
		}, want: outcomeParts{}, after: wantStatus("ann", state.StatusPending)},
		{name: "the bot's announcement is noted where it stands", setup: announcement, after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
			if bt, _ := batchIn(&snap, 1); bt.Announced["R1"] != 20 {
				t.Errorf("T1 announced = %v, want R1 at transaction 20", bt.Announced)
			}
		}},
		{name: "an announcement read again keeps its first place", setup: func(t *testing.T) (*view, *turn) {
			v, _ := announcement(t)
			v.snap.Batches[0].Announced = map[string]int{"R1": 5}
			return v, commentOn(t, v, 1, 20, "bot", "R1 would remove...\n\n"+marker("dt", proposalKey("R1", 1)))
		}, after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
			if bt, _ := batchIn(&snap, 1); bt.Announced["R1"] != 5 {
				t.Errorf("T1 announced = %v, want R1 at transaction 5", bt.Announced)
			}
		}},
		{name: "a transaction that is no comment", setup: func(t *testing.T) (*view, *turn) {
			v := annWorld(t)
			return v, turnOf(t, v, 1, conduit.Transaction{ID: 20, PHID: "PHID-XACT-20", Type: "status", AuthorPHID: dtUser("ann")})
		}},
		{name: "a deleted comment", setup: func(t *testing.T) (*view, *turn) {
			v := annWorld(t)
			x := xact(20, "ann", "remove me")
			x.Comments = append(x.Comments, conduit.Comment{Version: 2, AuthorPHID: dtUser("ann"), Removed: true})
			return v, turnOf(t, v, 1, x)
		}, after: wantStatus("ann", state.StatusPending)},
		{name: "a comment from outside the batch is ignored", setup: func(t *testing.T) (*view, *turn) {
			v := annWorld(t)
			return v, commentOn(t, v, 1, 20, "zed", "remove me")
		}, want: outcomeParts{Kind: state.EntryIgnored, Detail: "comment by someone outside the batch: PHID-USER-zed"}},
		{name: "another batch's user is outside this batch", setup: func(t *testing.T) (*view, *turn) {
			v := annWorld(t)
			return v, commentOn(t, v, 1, 20, "bob", "remove me")
		}, want: outcomeParts{Kind: state.EntryIgnored, Detail: "comment by someone outside the batch: PHID-USER-bob"},
			after: wantStatus("bob", state.StatusPending)},

		// Unsubscribing.
		{name: "unsubscribing is flagged", setup: unsubscribe("ann", "ann", nil), after: unsubscribed(1)},
		{name: "unsubscribing again is flagged once", setup: unsubscribe("ann", "ann", func(v *view) { v.edit("ann").Unsubscribed = true }),
			after: unsubscribed(0)},
		{name: "unsubscribing someone else is not flagged", setup: unsubscribe("ann", "zed", nil), after: func(t *testing.T, snap state.Snapshot, journal []state.Entry) {
			if findingAfter(t, snap, "ann").Unsubscribed || len(journal) != 0 {
				t.Errorf("ann flagged (%v) or journaled %+v for unsubscribing zed", findingAfter(t, snap, "ann").Unsubscribed, journal)
			}
		}},
		{name: "an outsider unsubscribing is not flagged", setup: unsubscribe("bob", "bob", nil), after: func(t *testing.T, snap state.Snapshot, journal []state.Entry) {
			if findingAfter(t, snap, "bob").Unsubscribed || len(journal) != 0 {
				t.Errorf("bob, of another task, flagged (%v) or journaled %+v", findingAfter(t, snap, "bob").Unsubscribed, journal)
			}
		}},

		// Claims are checked against Phabricator.
		{name: "done with MFA: verified", setup: annSays("done", func(v *view) { v.complies("ann") }),
			want:  outcomeParts{Kind: state.EntryClaimVerified, User: "ann", Detail: "verified compliant", Answered: true},
			after: wantStatus("ann", state.StatusCompliant)},
		{name: "done without MFA: rejected", setup: annSays("Done, MFA is enabled now.", nil),
			want:  outcomeParts{Kind: state.EntryClaimRejected, User: "ann", Detail: "claimed compliance; still non-compliant", Answered: true},
			after: wantStatus("ann", state.StatusPending)},
		{name: "done with a disabled account: rejected", setup: annSays("done", func(v *view) {
			v.complies("ann").users[dtUser("ann")] = conduit.User{PHID: dtUser("ann"), Username: "ann", Roles: []string{"disabled"}}
		}), want: outcomeParts{Kind: state.EntryClaimRejected, User: "ann", Detail: "claimed compliance; still non-compliant", Answered: true},
			after: wantStatus("ann", state.StatusPending)},
		{name: "done with an account Phabricator does not return: rejected", setup: annSays("done", func(v *view) {
			delete(v.complies("ann").users, dtUser("ann"))
		}), want: outcomeParts{Kind: state.EntryClaimRejected, User: "ann", Detail: "claimed compliance; still non-compliant", Answered: true},
			after: wantStatus("ann", state.StatusPending)},
		{name: "a voluntary user who complies is compliant", setup: annSays("done", func(v *view) {
			withStatus("ann", state.StatusVoluntary)(v.complies("ann"))
		}), want: outcomeParts{Kind: state.EntryClaimVerified, User: "ann", Detail: "verified compliant", Answered: true},
			after: wantStatus("ann", state.StatusCompliant)},
		{name: "an exempt user who complies stays exempt", setup: annSays("done", func(v *view) {
			withStatus("ann", state.StatusExempt)(v.complies("ann"))
		}), want: outcomeParts{Kind: state.EntryClaimVerified, User: "ann", Detail: "verified compliant", Answered: true},
			after: wantStatus("ann", state.StatusExempt)},
		{name: "a removed user who complies asks the approvers to restore them", setup: annSays("done", func(v *view) {
			withStatus("ann", state.StatusRemoved)(v.complies("ann"))
		}), want: outcomeParts{Kind: state.EntryRestoreRequested, User: "ann", Detail: "verified compliant; waiting for an approver's !restore", Answered: true, AsksApprovers: true},
			after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
				if f := findingAfter(t, snap, "ann"); !f.RestoreRequested || f.Status != state.StatusRemoved {
					t.Errorf("ann = %s, restore requested %v; want removed, requested", f.Status, f.RestoreRequested)
				}
			}},
		{name: "a removed user still non-compliant is not put forward", setup: annSays("done, please add me back", withStatus("ann", state.StatusRemoved)),
			want: outcomeParts{Kind: state.EntryClaimRejected, User: "ann", Detail: "claimed compliance; still non-compliant", Answered: true},
			after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
				if f := findingAfter(t, snap, "ann"); f.RestoreRequested {
					t.Error("a restore request recorded for a user still without MFA")
				}
			}},
		{name: "asking to be restored without being removed is a claim", setup: annSays("please add me back", func(v *view) { v.complies("ann") }),
			want:  outcomeParts{Kind: state.EntryClaimVerified, User: "ann", Detail: "verified compliant", Answered: true},
			after: wantStatus("ann", state.StatusCompliant)},

		// Remove me.
		{name: "remove me", setup: annSays("remove me", nil),
			want: outcomeParts{Kind: state.EntryVoluntary, User: "ann", Detail: "asked to be removed", Answered: true},
			after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
				want := &state.Source{TaskPHID: dtTask1, Task: "T1", TxPHID: "PHID-XACT-20", TxID: 20}
				if f := findingAfter(t, snap, "ann"); f.Status != state.StatusVoluntary || !cmp.Equal(want, f.VoluntarySource) {
					t.Errorf("ann = %s from %+v, want voluntary from %+v (read again before the removal)", f.Status, f.VoluntarySource, want)
				}
			}},
		{name: "remove me, compliant", setup: annSays("remove me", withStatus("ann", state.StatusCompliant)),
			want:  outcomeParts{Kind: state.EntryVoluntary, User: "ann", Detail: "asked to be removed", Answered: true},
			after: wantStatus("ann", state.StatusVoluntary)},
		{name: "remove me, exempt", setup: annSays("remove me", withStatus("ann", state.StatusExempt)),
			want:  outcomeParts{Kind: state.EntryVoluntary, User: "ann", Detail: "asked to be removed", Answered: true},
			after: wantStatus("ann", state.StatusVoluntary)},
		{name: "remove me, already removed", setup: annSays("remove me", withStatus("ann", state.StatusRemoved)),
			want: outcomeParts{Kind: state.EntryVoluntary, User: "ann", Detail: "asked to be removed", Answered: true},
			after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
				if f := findingAfter(t, snap, "ann"); f.Status != state.StatusRemoved || f.VoluntarySource != nil {
					t.Errorf("ann = %s from %+v, want still removed", f.Status, f.VoluntarySource)
				}
			}},

		// Exemption requests.
		{name: "an exemption request asks the approvers", setup: annSays("exemption: "+reason, nil),
			want: outcomeParts{Kind: state.EntryExemptionRequested, User: "ann", Detail: reason, Answered: true, AsksApprovers: true},
			after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
				f := findingAfter(t, snap, "ann")
				want := &state.Exemption{Reason: reason, RequestedAt: dtNow, Decision: state.ExemptionPending}
				if diff := cmp.Diff(want, f.Exemption, cmpopts.EquateApproxTime(0)); diff != "" || f.Status != state.StatusPending {
					t.Errorf("ann = %s, exemption (-want +got):\n%s", f.Status, diff)
				}
			}},
		{name: "an exemption request with an end date", setup: annSays("on leave until 2027-06-01", nil),
			want: outcomeParts{Kind: state.EntryExemptionRequested, User: "ann", Detail: "on leave", Answered: true, AsksApprovers: true},
			after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
				if e := findingAfter(t, snap, "ann").Exemption; e == nil || !e.Until.Equal(time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("exemption = %+v, want until 2027-06-01", e)
				}
			}},
		{name: "a new request keeps the grant in force until it is decided", setup: annSays("exemption: "+reason, func(v *view) {
			e := granted
			v.edit("ann").Exemption, v.edit("ann").Status = &e, state.StatusExempt
		}), want: outcomeParts{Kind: state.EntryExemptionRequested, User: "ann", Detail: reason, Answered: true, AsksApprovers: true},
			after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
				f := findingAfter(t, snap, "ann")
				if f.Exemption.Decision != state.ExemptionPending || len(f.ExemptionHistory) != 1 || f.ExemptionInForce() == nil || f.ExemptionInForce().Reason != "travel" {
					t.Errorf("exemption %+v, history %+v; want the new one pending and the grant in force", f.Exemption, f.ExemptionHistory)
				}
			}},
		{name: "an exemption asked again after a denial needs a human", setup: annSays("exemption: "+reason, exemption(func(f *state.Finding) { e := denied; f.Exemption = &e })),
			want: outcomeParts{Kind: state.EntryNeedsHuman, User: "ann", Detail: "exemption asked again after a denial: " + reason, Answered: true},
			after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
				f := findingAfter(t, snap, "ann")
				if diff := cmp.Diff([]string{"T1: exemption asked again after a denial: " + reason}, f.NeedsHuman); diff != "" || f.Exemption.Decision != state.ExemptionDenied {
					t.Errorf("exemption %+v, needs a human (-want +got):\n%s", f.Exemption, diff)
				}
			}},

		// Anything else.
		{name: "a question needs a human", setup: annSays("How do I enable this on my phone?", nil),
			want: outcomeParts{Kind: state.EntryNeedsHuman, User: "ann", Detail: "How do I enable this on my phone?", Answered: true},
			after: func(t *testing.T, snap state.Snapshot, _ []state.Entry) {
				if diff := cmp.Diff([]string{"T1: How do I enable this on my phone?"}, findingAfter(t, snap, "ann").NeedsHuman); diff != "" {
					t.Errorf("needs a human (-want +got):\n%s", diff)
				}
			}},
		{name: "a malformed command from a batch user needs a human", setup: annSays("!restore", nil),
			want: outcomeParts{Kind: state.EntryNeedsHuman, User: "ann", Detail: "!restore", Answered: true}},
	}
}

func TestDecideReply(t *testing.T) { runReplyCases(t, converseCases()) }

// observed is the view observe would build from the world for needs n:
// only what n names, the rest unread (nil), as observe and liveFailures
// read it (a kept reason is not asked about).
func observed(world *view, n needs) *view {
	v := *world
	v.members, v.approvers, v.users, v.texts, v.live = nil, nil, nil, nil, nil
	if n.members {
		v.members = world.members
	}
	if n.approvers {
		v.approvers = append([]string{}, world.approvers...)
	}
	if len(n.users) > 0 {
		v.users = map[string]conduit.User{}
		for _, p := range n.users {
			if u, ok := world.users[p]; ok {
				v.users[p] = u
			}
		}
	}
	if len(n.texts) > 0 {
		v.texts = map[string]string{}
		for _, s := range n.texts {
			if s == nil {
				continue
			}
			if text, ok := world.texts[s.TxPHID]; ok {
				v.texts[s.TxPHID] = text
			}
		}
	}
	if len(n.live) > 0 || len(n.extra) > 0 {
		v.live = map[string]map[string]conduit.User{}
		for _, cr := range criteria {
			v.live[cr.reason] = map[string]conduit.User{}
		}
		ask := func(r, user string) {
			if u, bad := world.live[r][user]; bad {
				v.live[r][user] = u
			}
		}
		for _, f := range n.live {
			for _, r := range f.Reasons {
				if !keptFor(f, r) {
					ask(r, f.UserPHID)
				}
			}
		}
		for r, us := range n.extra {
			for _, u := range us {
				ask(r, u)
			}
		}
	}
	return &v
}

// TestTurnNeedsSuffice decides every case of the conversation's tables
// twice, on the whole world and on a view holding only what turnNeeds
// asks for, and wants the same: a rule that reads what its needs do not
// name decides differently (an approver unknown, an approval not read
// again, a user taken for non-compliant).
func TestTurnNeedsSuffice(t *testing.T) {
	var cases []replyCase
	for _, table := range [][]replyCase{converseCases(), commandCases(), keepReplyCases(), keepCommandCases()} {
		cases = append(cases, table...)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has a state file of its own
			v, tn := tc.setup(t)
			full, part := decided(t, v, tn), decided(t, observed(v, turnNeeds(&v.snap, tn)), tn)
			if diff := cmp.Diff(partsOf(full), partsOf(part), cmpOutcome); diff != "" {
				t.Fatalf("decided on the world (-) and on what turnNeeds read (+):\n%s", diff)
			}
			if full.answer != part.answer {
				t.Errorf("answers differ:\n%s\n----\n%s", full.answer, part.answer)
			}
			fullSnap, _ := recorded(t, v, tn, full)
			partSnap, _ := recorded(t, v, tn, part)
			if diff := cmp.Diff(fullSnap, partSnap, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("state after (-world +needs):\n%s", diff)
			}
		})
	}
}

// TestTurnNeeds pins what a turn reads for the rules that read little
// or nothing: no Conduit call for what needs none.
func TestTurnNeeds(t *testing.T) {
	v := annWorld(t)
	ann := v.snap.Findings[0]
	tests := []struct {
		name string
		tn   *turn
		want needs
	}{
		{"no comment", turnOf(t, v, 1, conduit.Transaction{ID: 20, Type: "status", AuthorPHID: ann.UserPHID}), needs{}},
		{"an outsider's comment", commentOn(t, v, 1, 20, "zed", "done"), needs{}},
		{"another batch's user", commentOn(t, v, 1, 20, "bob", "done"), needs{}},
		{"a claim: the account and its criteria", commentOn(t, v, 1, 20, "ann", "done"), needs{users: []string{ann.UserPHID}, live: []state.Finding{ann}}},
		{"remove me", commentOn(t, v, 1, 20, "ann", "remove me"), needs{}},
		{"an exemption request", commentOn(t, v, 1, 20, "ann", "exemption please"), needs{}},
		{"a question", commentOn(t, v, 1, 20, "ann", "what is this?"), needs{}},
		{"any command: the commenter and the approvers", commentOn(t, v, 1, 20, "zed", "!approve"), needs{approvers: true, users: []string{dtUser("zed")}}},
		{"!deny: the groups' members too", commentOn(t, v, 1, 20, "alice", "!deny no"), needs{members: true, approvers: true, users: []string{dtUser("alice")}}},
		{"a command about a user outside the campaign", commentOn(t, v, 1, 20, "alice", "!approve @nobody"), needs{approvers: true, users: []string{dtUser("alice")}}},
		{"!restore: the restore reads its own", commentOn(t, v, 1, 20, "alice", "!restore @ann"), needs{approvers: true, users: []string{dtUser("alice")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, turnNeeds(&v.snap, tt.tn), cmp.AllowUnexported(needs{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("turnNeeds (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecideVoluntaryWithdrawn: a "remove me" taken back by editing the
// comment before the removal runs is no request any more.
func TestDecideVoluntaryWithdrawn(t *testing.T) {
	src := &state.Source{TaskPHID: dtTask1, Task: "T1", TxPHID: "PHID-XACT-20", TxID: 20}
	rm := state.Removal{ID: 1, Status: state.RemovalApproved, RequiredApprovals: 2, Items: []state.RemovalItem{
		{UserPHID: dtUser("ann"), Username: "ann", GroupPHID: dtNDA, Batch: 1}}}
	tests := []struct {
		name      string
		text      *string // the comment as read again; nil: not returned
		inBatch   bool
		withdrawn bool
	}{
		{name: "still asks", text: readAs("remove me"), inBatch: true},
		{name: "edited into something else", text: readAs("actually, exemption please: on call until June"), inBatch: true, withdrawn: true},
		{name: "deleted", text: readAs(""), inBatch: true, withdrawn: true},
		{name: "not returned", inBatch: true, withdrawn: true},
		{name: "not in the batch", text: readAs("never mind")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each case has a state file of its own
			v := annWorld(t)
			f := v.edit("ann")
			f.Status, f.VoluntarySource = state.StatusVoluntary, src
			batch := rm
			if !tt.inBatch {
				batch.Items = []state.RemovalItem{{UserPHID: dtUser("bob"), Username: "bob", GroupPHID: dtNDA, Batch: 2}}
			}
			v.snap.Removals = []state.Removal{batch}
			if tt.text != nil {
				v.texts[src.TxPHID] = *tt.text
			}
			ins := decideVoluntaryWithdrawn(v, batch)
			// What it reads is what voluntarySources names.
			if diff := cmp.Diff(parts(ins), parts(decideVoluntaryWithdrawn(observed(v, needs{texts: voluntarySources(&v.snap, batch)}), batch)), cmpIntents); diff != "" {
				t.Errorf("decided on the world (-) and on voluntarySources (+):\n%s", diff)
			}
			snap, journal := appliedJournal(t, v, ins...)
			got := findingAfter(t, snap, "ann")
			if !tt.withdrawn {
				if len(ins) != 0 || got.Status != state.StatusVoluntary {
					t.Errorf("ann = %s after %+v, want still voluntary", got.Status, parts(ins))
				}
				return
			}
			if got.Status != state.StatusPending || got.VoluntarySource != nil || len(got.NeedsHuman) != 1 {
				t.Errorf("ann = %s from %+v, needs a human %v; want pending, flagged for a human", got.Status, got.VoluntarySource, got.NeedsHuman)
			}
			want := []intentParts{{Entry: state.Entry{At: dtNow, Kind: state.EntryVoluntaryWithdrawn, Task: "T1", User: "ann",
				Detail: "R1: comment PHID-XACT-20 no longer asks to be removed; pending again, needs a human"},
				Said: `@ann took back "remove me" on T1 by editing the comment: pending again (needs a human)`}}
			if diff := cmp.Diff(want, parts(ins), cmpIntents); diff != "" {
				t.Errorf("intents (-want +got):\n%s", diff)
			}
			if len(journal) != 0 {
				t.Errorf("the change journaled %+v itself; the executor journals the entry", journal)
			}
		})
	}
}

// readAs is a comment's text as read again.
func readAs(s string) *string { return &s }
