package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/state"
)

// everyoneComplies enables MFA for every user the campaign found.
func everyoneComplies(h *harness) {
	for _, u := range []string{"erin", "nomfa1", "nomfa2", "nomfa3", "nomfa4"} {
		h.srv.SetMFA(h.phid(u), true)
	}
}

func TestCampaignClosesOnce(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	h.clock.Advance(24 * time.Hour)
	h.srv.SetMFA(h.phid("erin"), true)
	h.tick()
	if h.snapshot().Campaign.Closed() {
		t.Fatal("closed while four users are pending")
	}
	everyoneComplies(h)
	h.clock.Advance(time.Hour)
	h.tick()
	if h.snapshot().Campaign.Closed() {
		t.Fatal("closed at once: a removed user could not ask to be restored on the task")
	}
	h.clock.Advance(7 * 24 * time.Hour)
	h.tick()

	snap := h.snapshot()
	if !snap.Campaign.Closed() {
		t.Fatalf("not closed with nobody pending; statuses %v", h.statuses())
	}
	for _, bt := range snap.Batches {
		tk, _ := h.srv.Task(bt.TaskID)
		if tk.Status != "resolved" {
			t.Errorf("%s is %s, want resolved", bt.Monogram(), tk.Status)
		}
		closing := h.botCommentsWith(bt.TaskID, "close/")
		if len(closing) != 1 || !strings.Contains(closing[0].Text, "is closed") || !strings.Contains(closing[0].Text, "compliant: ") {
			t.Errorf("%s has closing comments %+v, want one summary", bt.Monogram(), closing)
		}
	}
	if got := h.journalKinds(); got["campaign-closed"] != 1 || got["task-closed"] != 3 {
		t.Errorf("journal: %d campaign-closed, %d task-closed; want 1, 3", got["campaign-closed"], got["task-closed"])
	}
	// It stops ticking: no call at all, and status says closed.
	h.srv.ResetCalls()
	h.clock.Advance(30 * 24 * time.Hour)
	rep := h.tick()
	if calls := h.srv.Calls(); len(calls) != 0 {
		t.Errorf("a tick of a closed campaign made calls %v", calls)
	}
	if ev := rep.Campaigns[0].Events; len(ev) != 0 {
		t.Errorf("a tick of a closed campaign did %v", ev)
	}
	st, err := h.bot.Status(campaignName)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := st.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if st.ClosedAt.IsZero() || !strings.Contains(text.String(), "Closed ") {
		t.Errorf("status does not show the campaign closed:\n%s", text.String())
	}
}

// TestCampaignClosesWithMootRemoval: everyone in a proposed removal batch
// complied before approvers decided; the batch would remove nobody, so it
// neither keeps the campaign open nor is reminded.
func TestCampaignClosesWithMootRemoval(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	everyoneComplies(h)
	h.clock.Advance(8 * 24 * time.Hour)
	h.tick()
	h.clock.Advance(8 * 24 * time.Hour)
	h.tick()
	if !h.snapshot().Campaign.Closed() {
		t.Errorf("not closed; statuses %v", h.statuses())
	}
	if got := h.journalKinds()["approval-reminder"]; got != 0 {
		t.Errorf("%d approval reminders of a batch that removes nobody", got)
	}
}

func TestCampaignCloseCrash(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	everyoneComplies(h)
	h.clock.Advance(time.Hour)
	h.tick()
	h.clock.Advance(7 * 24 * time.Hour)
	// The second close (T2) lands but its answer is lost.
	h.srv.FailAfterWrite("maniphest.edit", 2)
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
		t.Fatal("tick succeeded although a close's answer was lost")
	}
	if h.snapshot().Campaign.Closed() {
		t.Fatal("marked closed before every task was")
	}
	h.clock.Advance(time.Minute)
	h.tick()
	h.tick()
	for _, bt := range h.snapshot().Batches {
		if n := len(h.botCommentsWith(bt.TaskID, "close/")); n != 1 {
			t.Errorf("%s has %d closing comments, want 1", bt.Monogram(), n)
		}
	}
	if !h.snapshot().Campaign.Closed() || len(h.pendingOps()) != 0 {
		t.Errorf("closed %v, pending ops %v; want closed and none", h.snapshot().Campaign.Closed(), h.pendingOps())
	}
	// Closing an unassigned task assigns it to the bot (NOTES fact 27):
	// the ticks between the first close and the last must not take that
	// for someone giving the task away (crashtest found it).
	if got := h.journalKinds()["access-revoked"]; got != 0 {
		t.Errorf("%d access-revoked entries, want 0: the bot undid its own assignment by the close", got)
	}
	for _, bt := range h.snapshot().Batches {
		if tk, _ := h.srv.Task(bt.TaskID); tk.OwnerPHID != h.phid("auditbot") {
			t.Errorf("%s is assigned to %q, want the bot, which closed it", bt.Monogram(), tk.OwnerPHID)
		}
	}
}

func TestCampaignStaysOpen(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness)
	}{
		{"removal batch undecided", func(h *harness) {
			h.launchAndPropose()
			// R1 is proposed and nomfa1, in it, still has no MFA.
			everyoneComplies(h)
			h.srv.SetMFA(h.phid("nomfa1"), false)
		}},
		{"recurring", func(h *harness) {
			h.launch()
			everyoneComplies(h)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := fixture{}
			if tt.name == "recurring" {
				fx = recurringFixture
			}
			h := newHarness(t, fx)
			tt.setup(h)
			h.clock.Advance(time.Hour)
			h.tick()
			if h.snapshot().Campaign.Closed() {
				t.Errorf("closed; statuses %v", h.statuses())
			}
			for _, tk := range h.srv.Tasks() {
				if tk.Status != "open" {
					t.Errorf("T%d is %s", tk.ID, tk.Status)
				}
			}
		})
	}
}

func TestApprovalReminders(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	snap := h.snapshot()
	if len(snap.Removals) != 1 || snap.Removals[0].Status != state.RemovalProposed {
		t.Fatalf("removals %+v, want R1 proposed", snap.Removals)
	}
	proposed := snap.Removals[0].ProposedAt
	count := func(prefix string) int {
		n := 0
		for _, bt := range h.snapshot().Batches {
			n += len(h.botCommentsWith(bt.TaskID, prefix))
		}
		return n
	}
	tasks := len(snap.Batches)

	h.clock.Set(proposed.Add(7*24*time.Hour - time.Minute))
	h.tick()
	if n := count("removal/R1/approval-reminder/"); n != 0 {
		t.Fatalf("%d approval reminders before 7 days", n)
	}

	h.clock.Set(proposed.Add(7 * 24 * time.Hour))
	h.tick()
	h.tick()
	if n := count("removal/R1/approval-reminder/"); n != tasks {
		t.Errorf("%d approval reminders after 7 days, want one per task (%d)", n, tasks)
	}
	for _, bt := range snap.Batches {
		for _, c := range h.botCommentsWith(bt.TaskID, "removal/R1/approval-reminder/") {
			if !strings.HasPrefix(c.Text, "#acl_phabricator-admins: removal proposal `R1` has waited 7 days") {
				t.Errorf("reminder on %s does not mention the approvers:\n%s", bt.Monogram(), c.Text)
			}
		}
	}
	if n := count("removal/R1/overdue/"); n != 0 {
		t.Errorf("team told after one period (%d comments)", n)
	}

	h.clock.Set(proposed.Add(14 * 24 * time.Hour))
	h.tick()
	h.tick()
	if n := count("removal/R1/overdue/"); n != tasks {
		t.Errorf("%d team notices after 14 days, want one per task (%d): there is no standing task", n, tasks)
	}
	for _, bt := range snap.Batches {
		for _, c := range h.botCommentsWith(bt.TaskID, "removal/R1/overdue/") {
			if !strings.HasPrefix(c.Text, "#security-team: ") {
				t.Errorf("team notice on %s does not mention the team:\n%s", bt.Monogram(), c.Text)
			}
		}
	}
	if n := count("removal/R1/approval-reminder/"); n != 2*tasks {
		t.Errorf("%d approval reminders after two periods, want two per task (%d)", n, 2*tasks)
	}
	h.clock.Set(proposed.Add(20 * 24 * time.Hour))
	h.tick()
	if n := count("removal/R1/overdue/"); n != tasks {
		t.Errorf("%d team notices, want them told once (%d)", n, tasks)
	}
	if got := h.journalKinds(); got["approval-reminder"] != 2*tasks || got["approval-overdue"] != tasks {
		t.Errorf("journal: %d approval-reminder, %d approval-overdue; want %d, %d", got["approval-reminder"], got["approval-overdue"], 2*tasks, tasks)
	}

	// Once decided, nothing more.
	for _, a := range []string{"alice", "bob"} {
		if _, err := h.approve(h.bot, "R1", a); err != nil {
			t.Fatalf("approve as %s: %v", a, err)
		}
	}
	h.tick()
	h.clock.Set(proposed.Add(28 * 24 * time.Hour))
	before := count("removal/R1/approval-reminder/")
	h.tick()
	if n := count("removal/R1/approval-reminder/"); n != before {
		t.Errorf("%d reminders after R1 was decided", n-before)
	}
}

// TestApprovalOverdueOnStandingTask: a recurring campaign tells its team
// on the standing task, once, listing the batch's tasks.
func TestApprovalOverdueOnStandingTask(t *testing.T) {
	h := newHarness(t, recurringFixture)
	h.launch()
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick() // runs the weekly scan (files the standing task) and proposes R1
	proposed := h.snapshot().Removals[0].ProposedAt
	h.clock.Set(proposed.Add(14 * 24 * time.Hour))
	h.tick()
	h.tick()
	standing := h.standingTask()
	notices := h.botCommentsWith(standing, "removal/R1/overdue/standing")
	if len(notices) != 1 || !strings.Contains(notices[0].Text, "#security-team") {
		t.Fatalf("standing task has overdue notices %+v, want one mentioning the team", notices)
	}
	for _, bt := range h.snapshot().Batches {
		if n := len(h.botCommentsWith(bt.TaskID, "removal/R1/overdue/")); n != 0 {
			t.Errorf("%s has %d team notices, want them on the standing task only", bt.Monogram(), n)
		}
	}
}
