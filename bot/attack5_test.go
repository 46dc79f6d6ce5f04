package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
)

// TestAttack5FixBeforeShown: "!fix P2" written on the policy task before
// the bot ever listed a finding P2 (the approvers guessed the next label,
// or P2 was opened in the very tick that read their comments) must not
// count: an approval covers only what its approver was shown. Before the
// fix the bot opened P2 (a join policy widened meanwhile) and, in the same
// tick, counted both comments and set the policy, without the team ever
// having been told what P2 is.
func TestAttack5FixBeforeShown(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]", campaignExtra: "policy: {scope: [Security]}\n"})
	h.srv.AddMembers(h.group(groupSecurity).PHID, h.botU.PHID)
	h.srv.AddProject(phabtest.ProjectSpec{Name: "Security"})
	h.launch()
	h.tick()
	pt := h.snapshot().Campaign.PolicyTask
	if pt == nil {
		t.Fatal("no policy task filed (P1, the member list, should be open)")
	}
	// Two approvers "approve" P2, which does not exist yet; then the join
	// policy is widened: the next tick opens it as P2.
	h.comment("alice", pt.Monogram(), "!fix P2")
	h.comment("bob", pt.Monogram(), "!fix P2")
	sc := h.group(groupSecurity).PHID
	if _, err := h.as("alice").EditProjectPolicy(h.ctx, sc, "join", conduit.PolicyUsers); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Hour)
	h.tick()
	h.clock.Advance(time.Hour)
	h.tick()
	if got := len(h.writesOf("project.edit")); got != 1 {
		t.Fatalf("%d project.edit writes, want 1 (alice's): the bot fixed P2 on approvals given before P2 was shown", got)
	}
	snap := h.snapshot()
	f, ok := snap.Campaign.PolicyByLabel("P2")
	if !ok || !f.Open() || len(f.Approvals) != 0 {
		t.Errorf("P2 %+v (found %v), want open with no approval", f, ok)
	}
	// Asked again after P2 was listed, the same approvers do fix it.
	h.comment("alice", pt.Monogram(), "!fix P2")
	h.comment("bob", pt.Monogram(), "!fix P2")
	h.clock.Advance(time.Hour)
	h.tick()
	if ps, err := h.as("alice").ProjectsByPHID(h.ctx, []string{sc}, false); err != nil || len(ps) != 1 || ps[0].Policy.Join != conduit.PolicyNoOne {
		t.Errorf("after two !fix given once P2 was shown: %+v, %v; want the join policy no-one", ps, err)
	}
	if answers := strings.Join(commentsText(h, pt.TaskID), "\n"); !strings.Contains(answers, "not listed") {
		t.Errorf("the answers do not say the early !fix was refused:\n%s", answers)
	}
}

// TestAttack5SkewedDateHeader: the Date header comes from whatever
// answers HTTP (a front proxy, a web node), whose clock may run ahead of
// the one PHP stamps dateModified with by more than clockSlack. One tick
// read through such a front recorded cursors an hour ahead; before the
// fix every change made during that hour (an outsider subscribed to the
// private audit task, a reply) had a dateModified before the cursor and
// was skipped until some later change moved the task past it.
func TestAttack5SkewedDateHeader(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(h *harness, task string)
		want   state.EntryKind
	}{
		{name: "outsider subscribed", want: state.EntryAccessRevoked, change: func(h *harness, task string) {
			if _, err := h.as("nomfa1").EditTask(h.ctx, task, conduit.AddSubscribersEdit(h.phid("outsider"))); err != nil {
				h.t.Fatal(err)
			}
		}},
		{name: "reply", want: state.EntryVoluntary, change: func(h *harness, task string) {
			h.comment("nomfa1", task, "remove me")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launch()
			task, _ := h.taskOf("nomfa1")
			settle(h)
			// A change the skewed tick reads the task for.
			h.comment("bob", task, "we are looking at the list")
			h.srv.SetDateSkew(time.Hour)
			h.tick()
			h.srv.SetDateSkew(0)
			before := h.journalKinds()[string(tt.want)]
			h.clock.Advance(10 * time.Minute)
			tt.change(h, task)
			h.clock.Advance(time.Minute)
			h.tick()
			if got := h.journalKinds()[string(tt.want)]; got != before+1 {
				t.Errorf("journal %s = %d after the change, want %d: the change was skipped behind a cursor set by a skewed Date header", tt.want, got, before+1)
			}
		})
	}
}

// TestAttack5RetriedFixOverwritesHumanChoice: a !fix refused by
// Phabricator stays pending and is retried, and the bot says "someone who
// may edit it must set it by hand". When that someone sets another value
// of their own choosing meanwhile, the retry must not overwrite it: the
// approvals were for changing the value they were shown (users), not the
// person's. Before the fix settleFixes sent the write again before the
// policies were read, and replaced the person's value by the safe one.
func TestAttack5RetriedFixOverwritesHumanChoice(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]"})
	h.launch()
	sc, _, pt, label := widenEditPolicy(t, h)
	if err := approveFixRefusedOnce(h, pt, label); err == nil {
		t.Fatal("tick after a refused fix succeeded")
	}
	// A person sets the edit policy by hand, to the group's own members
	// (the bot among them, so that Phabricator would take its write).
	h.srv.AddMembers(sc, h.botU.PHID)
	chosen := sc
	if _, err := h.as("alice").EditProjectPolicy(h.ctx, sc, "edit", chosen); err != nil {
		t.Fatal(err)
	}
	bots := func() int {
		n := 0
		for _, w := range h.writesOf("project.edit") {
			if w.ActorPHID == h.botU.PHID {
				n++
			}
		}
		return n
	}
	before := bots()
	h.clock.Advance(time.Minute)
	h.tick()
	h.tick()
	ps, err := h.as("alice").ProjectsByPHID(h.ctx, []string{sc}, false)
	if err != nil || len(ps) != 1 || ps[0].Policy.Edit != chosen {
		t.Errorf("edit policy after the retry: %+v %v, want the one set by hand (%s)", ps, err, chosen)
	}
	if got := bots() - before; got != 0 {
		t.Errorf("the bot sent %d more project.edit after a person set the policy", got)
	}
	if got := h.pendingOps(); len(got) != 0 {
		t.Errorf("pending ops: %v", got)
	}
	if got := h.journalKinds()["policy-fixed"]; got != 0 {
		t.Errorf("%d policy-fixed entries, want 0 (a person fixed it)", got)
	}
}

// TestAttack5RetriedFixAfterApproverLapsed: a !fix refused by Phabricator
// stays pending and is retried on a later tick. An approval counts only
// if it is verified at the time of the write: an approver who left the
// approvers' project before the retry no longer counts. Before the fix
// settleFixes sent the write again on the approvals as recorded, without
// reading the approvers again.
func TestAttack5RetriedFixAfterApproverLapsed(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]"})
	h.launch()
	sc, snap, pt, label := widenEditPolicy(t, h)
	if err := approveFixRefusedOnce(h, pt, label); err == nil {
		t.Fatal("tick after a refused fix succeeded")
	}
	// bob is no approver any more when the bot tries again.
	h.srv.RemoveMembers(snap.Campaign.ApproversPHID, h.phid("bob"))
	h.clock.Advance(time.Minute)
	h.tick()
	h.tick()
	ps, err := h.as("alice").ProjectsByPHID(h.ctx, []string{sc}, false)
	if err != nil || len(ps) != 1 || ps[0].Policy.Edit != conduit.PolicyUsers {
		t.Fatalf("edit policy after the retry: %+v %v, want users still: bob's approval lapsed", ps, err)
	}
	// Another approver makes the quorum again: the fix goes out once.
	h.comment("carol", pt.Monogram(), "!fix "+label)
	h.clock.Advance(time.Minute)
	h.tick()
	h.tick()
	ps, err = h.as("alice").ProjectsByPHID(h.ctx, []string{sc}, false)
	if err != nil || len(ps) != 1 || ps[0].Policy.Edit != conduit.PolicyAdmin {
		t.Errorf("edit policy after carol's !fix: %+v %v, want admin", ps, err)
	}
	snap = h.snapshot()
	if f, _ := snap.Campaign.PolicyByLabel(label); f.Open() || len(f.FixedBy) != 2 || f.FixedBy[1] != "carol" {
		t.Errorf("%s open %v fixed by %q, want closed, fixed by alice and carol", label, f.Open(), f.FixedBy)
	}
	if got := h.pendingOps(); len(got) != 0 {
		t.Errorf("pending ops: %v", got)
	}
}

// TestAttack5RetriedFixReadStale: a !fix refused by Phabricator is sent
// again by the next tick before the policies are read; the policy audit
// must then see the value the bot just set. Before the fix it used the
// groups as read earlier in the tick (before the write), found the
// policy it had just fixed still wide, opened a new finding for it and
// told the team so.
func TestAttack5RetriedFixReadStale(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]"})
	h.launch()
	_, _, pt, label := widenEditPolicy(t, h)
	if err := approveFixRefusedOnce(h, pt, label); err == nil {
		t.Fatal("tick after a refused fix succeeded")
	}
	found := h.journalKinds()["policy-found"]
	h.clock.Advance(time.Minute)
	h.tick()
	if got := h.journalKinds()["policy-found"]; got != found {
		t.Errorf("%d policy-found entries after the retried fix, want %d: the policy the bot just fixed was read as it was before; open %q",
			got, found, policyLabels(h.snapshot()))
	}
	if got := h.journalKinds()["policy-fixed"]; got != 1 {
		t.Errorf("%d policy-fixed entries, want 1", got)
	}
}

// TestAttack5PolicyUpdateLostAnswer: the policy task's update comment
// landed and its answer was lost (a crash); before the next tick posts it
// again, another command is read and answered. The comment found landed
// carried only the first answer: the second must still be posted. Before
// the fix the reconciled update recorded every answer as posted (and the
// findings as listed) by the tick's new decision, and the second answer
// was never posted.
func TestAttack5PolicyUpdateLostAnswer(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]"})
	h.launch()
	sc := h.group(groupSecurity).PHID
	if _, err := h.as("alice").EditProjectPolicy(h.ctx, sc, "edit", conduit.PolicyUsers); err != nil {
		t.Fatal(err)
	}
	h.tick()
	pt := h.snapshot().Campaign.PolicyTask
	h.comment("alice", pt.Monogram(), "!fix P1")
	h.srv.FailAfterWrite("maniphest.edit", 1)
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
		t.Fatal("tick succeeded although the update's answer was lost")
	}
	if got := strings.Join(commentsText(h, pt.TaskID), "\n"); !strings.Contains(got, "`alice`: !fix P1") {
		t.Fatalf("the lost update did not land with alice's answer:\n%s", got)
	}
	h.comment("dave", pt.Monogram(), "!fix P1")
	h.clock.Advance(time.Minute)
	h.tick()
	h.tick()
	got := strings.Join(commentsText(h, pt.TaskID), "\n")
	if !strings.Contains(got, "`dave`: !fix P1") {
		t.Errorf("dave's !fix was never answered:\n%s", got)
	}
	if n := strings.Count(got, "`alice`: !fix P1"); n != 1 {
		t.Errorf("alice's answer posted %d times, want once:\n%s", n, got)
	}
}

// TestAttack5PolicyTaskFiledLostListing: the policy task was filed (its
// description listing the findings open then) and the answer was lost;
// a new finding opened before the next tick found the task. The task
// never listed that finding: the team must still be told of it, and a
// !fix of it counts only after that. Before the fix the found task was
// recorded as listing the tick's findings, the new one included: it was
// never shown, yet a !fix of it counted.
func TestAttack5PolicyTaskFiledLostListing(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]"})
	h.srv.AddMembers(h.group(groupSecurity).PHID, h.botU.PHID)
	h.launch()
	h.srv.FailAfterWrite("maniphest.edit", 1)
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
		t.Fatal("tick succeeded although filing the policy task lost its answer")
	}
	sc := h.group(groupSecurity).PHID
	if _, err := h.as("alice").EditProjectPolicy(h.ctx, sc, "join", conduit.PolicyUsers); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	h.tick()
	snap := h.snapshot()
	pt := snap.Campaign.PolicyTask
	if pt == nil {
		t.Fatal("no policy task")
	}
	task, _ := h.srv.Task(pt.TaskID)
	listed := task.Description + "\n" + strings.Join(commentsText(h, pt.TaskID), "\n")
	if !strings.Contains(listed, "| P2 |") {
		t.Errorf("P2 (the join policy) was never listed on the policy task:\n%s", listed)
	}
}
