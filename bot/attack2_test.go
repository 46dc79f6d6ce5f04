package bot_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"

	"github.com/auditbot/auditbot/state"
)

// Second round of attack tests (see attack_test.go for the first): each
// breaks a promise README.md makes and fails until the hole is closed.

// TestAttack2OneApproverKeepsUserInSecurityGroup: an approver's
// "!keep @user" takes a user off an offboarding list (or waives
// inactivity / reconfirmation) on the word of ONE approver, while the
// README says keeping someone in a security-level group against the audit
// (an exemption) "needs as many distinct approvers as removing the user
// would (two for security and internal groups)". !keep is an exemption
// without an end date under another name: one approver, alone, defeats the
// offboarding list of acl*security. It is also accepted on a task that
// does not list the user at all, so the approver was never shown that
// user on that task (the "approval covers only what the approver was
// shown" rule the batch !approve follows).
//
// Sequence: list campaign on acl*security (risk security) naming nomfa1
// and nomfa3; bob writes "!keep @nomfa1" (on nomfa1's task, or on
// nomfa3's); one tick: nomfa1 is compliant and never proposed for removal.
//
// Fix: count !keep like an exemption approval (requiredFor(f.Groups)
// distinct enabled approvers, re-checked before the removal round like
// exemption approvals, splitLapsed), and only on a task that lists the
// user.
func TestAttack2OneApproverKeepsUserInSecurityGroup(t *testing.T) {
	for _, tt := range []struct {
		name   string
		onTask string // whose task bob writes on
	}{
		{name: "on the user's own task", onTask: "nomfa1"},
		{name: "on another task, which does not list the user", onTask: "nomfa3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{criteria: "[list]", groups: "[acl*security]", batchSize: 1,
				campaignExtra: "list: {file: leavers.txt}\n", files: map[string]string{"leavers.txt": "nomfa1\nnomfa3\n"}})
			h.launch()
			mono, _ := h.taskOf(tt.onTask)
			if own, _ := h.taskOf("nomfa1"); tt.onTask != "nomfa1" && own == mono {
				t.Fatal("fixture: nomfa1 and nomfa3 share a task")
			}
			h.comment("bob", mono, "!keep @nomfa1")
			h.tick()
			h.clock.Set(cutoff.Add(time.Hour))
			h.tick()
			proposed := false
			for _, rm := range h.snapshot().Removals {
				for _, it := range rm.Items {
					proposed = proposed || it.Username == "nomfa1"
				}
			}
			if s := h.finding("nomfa1").Status; s == state.StatusCompliant || !proposed {
				t.Errorf("one approver's !keep (%s) kept offboarded @nomfa1 in acl*security: status %s, proposed for removal %v; an exemption there needs two distinct approvers",
					tt.name, s, proposed)
			}
		})
	}
}

// TestAttack2TemporaryExemptionOutlivesClosedCampaign: the README says
// "An exemption 'until' a date ends after that day" (drift lapses it and
// the user is pending again). But openReason lets a campaign close while
// a granted exemption still has an end date ahead, and a closed campaign
// no longer ticks: the exemption never lapses, and the user keeps access
// without MFA for good. Nothing in status says so either.
//
// Sequence: mfa campaign on acl*security; nomfa1 asks "exemption: on
// leave until 2027-04-15", alice and bob approve; everyone else enables
// MFA; a quiet week later the campaign closes; in May nomfa1 still has no
// MFA, is still in acl*security, and the campaign is closed with the
// finding "exempt".
//
// Fix: openReason keeps the campaign open while a granted exemption has
// an end date (or close only past the latest one; or hand the expiry to
// a follow-up campaign and say so in the closing comment).
func TestAttack2TemporaryExemptionOutlivesClosedCampaign(t *testing.T) {
	h := newHarness(t, fixture{groups: "[acl*security]"})
	h.launch()
	mono, _ := h.taskOf("nomfa1")
	h.comment("nomfa1", mono, "exemption: on leave until 2027-04-15")
	h.tick()
	h.comment("alice", mono, "!approve @nomfa1")
	h.comment("bob", mono, "!approve @nomfa1")
	h.tick()
	if f := h.finding("nomfa1"); f.Status != state.StatusExempt {
		t.Fatalf("fixture: nomfa1 is %s, want exempt (exemption %+v)", f.Status, f.Exemption)
	}
	for _, u := range []string{"erin", "nomfa3"} {
		h.srv.SetMFA(h.phid(u), true)
	}
	h.clock.Advance(time.Hour)
	h.tick()
	h.clock.Advance(8 * 24 * time.Hour)
	h.tick()
	closed := h.snapshot().Campaign.Closed()
	// Long after the exemption's end, well past the cutoff.
	h.clock.Set(time.Date(2027, 5, 1, 9, 0, 0, 0, time.UTC))
	h.tick()
	h.clock.Advance(8 * 24 * time.Hour)
	h.tick()
	f := h.finding("nomfa1")
	still := slices.Contains(h.srv.Members(h.group(groupSecurity).PHID), h.phid("nomfa1"))
	if closed || (f.Status == state.StatusExempt && still) {
		t.Errorf("campaign closed at once while @nomfa1's exemption runs until 2027-04-15 (closed=%v); on 2027-05-09 nomfa1 is %s and still in acl*security (%v) without MFA",
			closed, f.Status, still)
	}
}

// TestAttack2WithdrawnKeepNeverReadBeforeEarlyClose: keeps are re-read
// (checkKeeps) only in choreProposeRemovals at or after the cutoff, but a
// campaign closes as soon as nobody is pending and a quiet period has
// passed, which can be weeks before the cutoff. An approver's
// "!keep @user" edited into "hm, wait" (the README: "a keep edited into
// something else no longer counts (keep-withdrawn), and the user is
// pending again") is then never read again: the campaign closes with the
// user kept on an approval its approver took back, and the evidence says
// @alice kept them.
//
// Sequence: reconfirm campaign on acl*security, launched 2027-01-01,
// cutoff 2027-03-01; nomfa1, erin and good2 reply "still need it"; alice
// writes "!keep @nomfa3"; one tick; alice edits her comment to "hm,
// wait"; eight days later the campaign is closed and nomfa3 is compliant
// on alice's keep.
//
// Fix: run checkKeeps (and the approval and "remove me" re-reads) in the
// close chore before openReason, or whenever a user becomes compliant by
// a keep, not only at the cutoff.
func TestAttack2WithdrawnKeepNeverReadBeforeEarlyClose(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[reconfirm]", groups: "[acl*security]", batchSize: 5})
	h.launch()
	mono, _ := h.taskOf("nomfa1")
	for _, u := range []string{"nomfa1", "erin", "good2"} {
		h.comment(u, mono, "Yes, I still need it.")
	}
	// Two approvers: since the fix of TestAttack2OneApproverKeeps…, a
	// keep in acl*security needs two, and alice's edit leaves one.
	keep := h.commentTx("alice", mono, "!keep @nomfa3")
	h.comment("bob", mono, "!keep @nomfa3")
	h.tick()
	if s := h.finding("nomfa3").Status; s != state.StatusCompliant {
		t.Fatalf("fixture: nomfa3 is %s after alice's and bob's !keep", s)
	}
	h.srv.EditComment(keep, "hm, wait")
	h.clock.Advance(time.Hour)
	h.tick()
	h.clock.Advance(8 * 24 * time.Hour)
	h.tick()
	snap := h.snapshot()
	f := h.finding("nomfa3")
	if snap.Campaign.Closed() && f.Status == state.StatusCompliant {
		t.Errorf("campaign closed on %s, before the cutoff, with @nomfa3 compliant on a keep alice edited away (%+v); no keep-withdrawn in %v",
			snap.Campaign.ClosedAt.Format("2006-01-02"), f.Kept["reconfirm"], h.journalKinds())
	}
}

// TestKeepEndsWhenItsApproverLapses: an approver's keep rests on its
// approvers as an exemption does: once one of the two leaves the
// approvers' project, the keep no longer has the approvals acl*security
// requires, and the close chore's re-read makes the user pending again
// (the campaign does not close on it).
func TestKeepEndsWhenItsApproverLapses(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[reconfirm]", groups: "[acl*security]", batchSize: 5})
	h.launch()
	mono, _ := h.taskOf("nomfa1")
	for _, u := range []string{"nomfa1", "erin", "good2"} {
		h.comment(u, mono, "Yes, I still need it.")
	}
	h.comment("alice", mono, "!keep @nomfa3")
	h.comment("bob", mono, "!keep @nomfa3")
	h.tick()
	if s := h.finding("nomfa3").Status; s != state.StatusCompliant {
		t.Fatalf("fixture: nomfa3 is %s after alice's and bob's !keep", s)
	}
	h.srv.RemoveMembers(h.group(groupApprovers).PHID, h.phid("bob"))
	h.clock.Advance(time.Hour)
	h.tick()
	h.clock.Advance(8 * 24 * time.Hour)
	h.tick()
	if s := h.finding("nomfa3").Status; s != state.StatusPending || h.snapshot().Campaign.Closed() {
		t.Errorf("nomfa3 is %s (closed %v) after bob left the approvers; want pending, campaign open", s, h.snapshot().Campaign.Closed())
	}
	if h.journalKinds()[string(state.EntryKeepWithdrawn)] != 1 {
		t.Errorf("journal kinds %v, want one keep-withdrawn", h.journalKinds())
	}
}

// TestStatusSaysDatedExemptionKeepsCampaignOpen: status names why the
// campaign does not close: an exemption with an end date still in force.
func TestStatusSaysDatedExemptionKeepsCampaignOpen(t *testing.T) {
	h := newHarness(t, fixture{groups: "[acl*security]"})
	h.launch()
	mono, _ := h.taskOf("nomfa1")
	h.comment("nomfa1", mono, "exemption: on leave until 2027-04-15")
	h.tick()
	h.comment("alice", mono, "!approve @nomfa1")
	h.comment("bob", mono, "!approve @nomfa1")
	for _, u := range []string{"erin", "nomfa3"} {
		h.srv.SetMFA(h.phid(u), true)
	}
	h.tick()
	st, err := h.bot.Status(campaignName)
	if err != nil {
		t.Fatal(err)
	}
	if want := "@nomfa1 is exempt until 2027-04-15"; !strings.HasPrefix(st.OpenReason, want) {
		t.Errorf("status open reason %q, want it to start with %q", st.OpenReason, want)
	}
}

// TestApproversReaddedByAdminStaySubscribed: once the bot subscribed the
// approvers' project to a task (it asked them for a decision), an
// administrator removing and re-adding it does not make the access chore
// take it off again: the bot knows from its state that it subscribed
// them, not from whoever last added them in the task's history.
func TestApproversReaddedByAdminStaySubscribed(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	task, id := h.taskOf("nomfa1")
	h.comment("nomfa1", task, "exemption: I travel without my phone until April")
	h.tick()
	approvers := h.group(groupApprovers).PHID
	if snap, _ := h.srv.Task(id); !slices.Contains(snap.SubscriberPHIDs, approvers) {
		t.Fatal("fixture: the bot did not subscribe the approvers for the exemption request")
	}
	h.editAs("alice", task, unsubscribe(approvers)) // alice sees it as Security-Team
	h.editAs("alice", task, conduit.Edit{Type: "subscribers.add", Value: []string{approvers}})
	h.tick()
	h.clock.Advance(time.Hour)
	h.tick()
	if snap, _ := h.srv.Task(id); !slices.Contains(snap.SubscriberPHIDs, approvers) {
		t.Errorf("the access chore unsubscribed the approvers' project after an admin re-added it; journal %v", h.journalKinds())
	}
}

// TestUnpostableAnswerHoldsItsTasksRemovals: while the bot cannot post
// its answer on a task (it lost edit rights there), it reads none of
// the task's later replies (an exemption request, a "!deny" there would
// go unseen), so it removes none of that task's users: fail closed, and
// status says a human is needed.
func TestUnpostableAnswerHoldsItsTasksRemovals(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()
	for _, u := range []string{"alice", "bob"} {
		if _, err := h.approve(h.bot, "R1", u); err != nil {
			t.Fatalf("approve by %s: %v", u, err)
		}
	}
	task, _ := h.taskOf("nomfa1")
	h.srv.FailBefore("maniphest.edit", 1000, "ERR-CONDUIT-CORE", "You do not have permission to edit this object.")
	// Seeded directly: the failure injected is for every maniphest.edit.
	// The ticks fail (nothing can be posted): that is the point.
	h.srv.AddComment(phabtestComment(h, task, "nomfa1", "what is this about?"))
	_, _ = h.bot.Tick(h.ctx, bot.TickOptions{})
	h.srv.AddComment(phabtestComment(h, task, "nomfa1", "exemption: I travel without my phone until April"))
	h.clock.Advance(time.Hour)
	_, _ = h.bot.Tick(h.ctx, bot.TickOptions{})
	if !slices.Contains(h.srv.Members(h.group(groupSecurity).PHID), h.phid("nomfa1")) {
		t.Errorf("nomfa1 was removed while the bot could not answer on %s (and so read none of their later replies)", task)
	}
	st, err := h.bot.Status(campaignName)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(st.Attention, func(a string) bool { return strings.Contains(a, "needs a human: the bot's answer on "+task) }) {
		t.Errorf("status does not flag the unposted answer on %s:\n%s", task, strings.Join(st.Attention, "\n"))
	}
}
