package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
)

const week = 7 * 24 * time.Hour

// recurringFixture is a campaign scanned again every week; members found
// by a run get 60 days, which from the first run on ends after the
// campaign's cutoff (2027-02-28).
var recurringFixture = fixture{campaignExtra: "recurring: {every: 7d}\nnotice: 60d\n"}

// newcomer adds a member without MFA to WMF-NDA after launch, and has
// nomfa3 enable MFA: one new, one fixed for the next run.
func newcomer(h *harness) {
	h.t.Helper()
	h.users["newbie"] = h.srv.AddUser(phabtest.UserSpec{Username: "newbie", RealName: "New Bie"})
	h.srv.AddMembers(h.group(groupNDA).PHID, h.phid("newbie"))
	h.srv.SetMFA(h.phid("nomfa3"), true)
}

// standingTask returns the recurring campaign's standing task id.
func (h *harness) standingTask() int {
	h.t.Helper()
	id := h.snapshot().Campaign.StandingTaskID
	if id == 0 {
		h.t.Fatal("no standing task recorded")
	}
	return id
}

func TestRecurringRunAddsNewMembersInANewBatch(t *testing.T) {
	h := newHarness(t, recurringFixture)
	h.launch()
	if n := len(h.srv.Tasks()); n != 3 {
		t.Fatalf("launch filed %d tasks, want 3", n)
	}
	// Before the period has passed nothing is scanned.
	h.clock.Set(launchTime.Add(week - time.Minute))
	h.tick()
	if runs := h.snapshot().Campaign.Runs; len(runs) != 0 {
		t.Fatalf("a run was recorded before its period: %+v", runs)
	}

	newcomer(h)
	runAt := launchTime.Add(week)
	h.clock.Set(runAt)
	h.tick()

	snap := h.snapshot()
	if len(snap.Campaign.Runs) != 1 {
		t.Fatalf("runs = %d, want 1", len(snap.Campaign.Runs))
	}
	run := snap.Campaign.Runs[0]
	got := struct {
		N            int
		New          []string
		Fixed, Gone  []string
		Batches      []int
		Cutoff       time.Time
		FindingBatch int
	}{N: run.N, Fixed: run.Fixed, Gone: run.Gone, Batches: run.Batches, Cutoff: run.Cutoff, FindingBatch: h.finding("newbie").Batch}
	for _, u := range run.New {
		got.New = append(got.New, u.Username)
	}
	want := got
	want.N, want.New, want.Fixed, want.Gone, want.Batches, want.FindingBatch = 1, []string{"newbie"}, []string{"nomfa3"}, nil, []int{4}, 4
	want.Cutoff = runAt.Add(60 * 24 * time.Hour)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("run 1 (-want +got):\n%s", diff)
	}
	if f := h.finding("newbie"); !f.Cutoff.Equal(want.Cutoff) || f.Status != state.StatusPending {
		t.Errorf("newbie's finding: status %s, cutoff %s; want pending, %s", f.Status, f.Cutoff, want.Cutoff)
	}

	// The new batch has its own task, naming only the new member and
	// their own deadline.
	task, id := h.taskOf("newbie")
	tk, _ := h.srv.Task(id)
	if !strings.Contains(tk.Description, bot.Marker(campaignName, "task/batch-4")) || !strings.Contains(tk.Description, "2027-03-09") {
		t.Errorf("%s's description lacks batch 4's marker or the deadline 2027-03-09:\n%s", task, tk.Description)
	}
	var people []string
	for _, p := range tk.SubscriberPHIDs {
		if strings.HasPrefix(p, "PHID-USER-") && p != h.botU.PHID {
			people = append(people, p)
		}
	}
	if diff := cmp.Diff([]string{h.phid("newbie")}, people); diff != "" {
		t.Errorf("%s subscribes (-want +got):\n%s", task, diff)
	}

	// The standing task is the team's, restricted like the audit tasks,
	// and carries the summary once.
	standing := h.standingTask()
	st, _ := h.srv.Task(standing)
	if st.ViewPolicy != tk.ViewPolicy || st.EditPolicy != tk.EditPolicy {
		t.Errorf("standing task policies %s/%s, want the audit tasks' %s/%s", st.ViewPolicy, st.EditPolicy, tk.ViewPolicy, tk.EditPolicy)
	}
	if strings.Contains(st.Description, "newbie") {
		t.Errorf("the standing task's description names a member:\n%s", st.Description)
	}
	summaries := h.botCommentsWith(standing, "recurring/run-1/summary")
	if len(summaries) != 1 {
		t.Fatalf("standing task has %d run-1 summaries, want 1", len(summaries))
	}
	text := summaries[0].Text
	for _, wantText := range []string{"1 new non-compliant member (1 no MFA), 1 fixed, 0 no longer", "`@newbie`", "Fixed since: `@nomfa3`", task} {
		if !strings.Contains(text, wantText) {
			t.Errorf("summary lacks %q:\n%s", wantText, text)
		}
	}
	if strings.Contains(text, " @newbie") {
		t.Errorf("summary mentions a member (it would subscribe them to the team's task):\n%s", text)
	}

	// Again at the same time, by the tick or by hand: nothing new.
	writes := len(h.effectiveWrites())
	h.tick()
	res, err := h.bot.Rescan(h.ctx, campaignName)
	if err != nil {
		t.Fatalf("Rescan: %v", err)
	}
	if res.Run != 0 || res.Last != 1 {
		t.Errorf("Rescan at the same time = run %d (last %d), want no run (last 1)", res.Run, res.Last)
	}
	if n := len(h.effectiveWrites()); n != writes {
		t.Errorf("%d write(s) after ticking and rescanning again at the same time, want none", n-writes)
	}
	if got := h.journalKinds(); got["recurring-run"] != 1 || got["run-summary"] != 1 {
		t.Errorf("journal: %d recurring-run, %d run-summary; want 1 each", got["recurring-run"], got["run-summary"])
	}

	// A week later with no change: a run, a summary, no new batch.
	h.clock.Set(runAt.Add(week))
	h.tick()
	snap = h.snapshot()
	if len(snap.Campaign.Runs) != 2 || len(snap.Batches) != 4 {
		t.Fatalf("after run 2: %d runs, %d batches; want 2, 4", len(snap.Campaign.Runs), len(snap.Batches))
	}
	if r2 := snap.Campaign.Runs[1]; len(r2.New)+len(r2.Fixed)+len(r2.Gone) != 0 {
		t.Errorf("run 2 found changes where there were none: %+v", r2)
	}
	if n := len(h.botCommentsWith(standing, "recurring/")); n != 2 {
		t.Errorf("standing task has %d summaries, want 2", n)
	}
}

func TestRescanByHand(t *testing.T) {
	h := newHarness(t, recurringFixture)
	h.launch()
	newcomer(h)
	h.clock.Advance(time.Hour)
	res, err := h.bot.Rescan(h.ctx, campaignName)
	if err != nil {
		t.Fatalf("Rescan: %v", err)
	}
	if diff := cmp.Diff([]string{"newbie"}, res.New); diff != "" || res.Run != 1 || res.Summary == "" {
		t.Errorf("Rescan = %+v; want run 1 with new [newbie] and a summary task (%s)", res, diff)
	}
	// Their own deadline: 60 days after the run, past the campaign's.
	if f := h.finding("newbie"); !f.Cutoff.After(cutoff) {
		t.Errorf("newbie's cutoff %s, want 30 days after the run, past the campaign's %s", f.Cutoff, cutoff)
	}
	if _, id := h.taskOf("newbie"); id == 0 {
		t.Error("Rescan did not file the new batch's task")
	}
}

func TestRescanRefusals(t *testing.T) {
	h := newHarness(t, fixture{})
	if _, err := h.bot.Rescan(h.ctx, campaignName); err == nil || !strings.Contains(err.Error(), "has not been launched") {
		t.Errorf("Rescan before launch: %v", err)
	}
	h.launch()
	if _, err := h.bot.Rescan(h.ctx, campaignName); err == nil || !strings.Contains(err.Error(), "not recurring") {
		t.Errorf("Rescan of a campaign that does not recur: %v", err)
	}
}

// TestRecurringRunCrash loses the answer of each write a run makes (the
// new batch's task, the standing task, the summary) and checks that the
// next tick finds it and nothing is written twice.
func TestRecurringRunCrash(t *testing.T) {
	for n := 1; n <= 3; n++ {
		t.Run("write "+itoa(n), func(t *testing.T) {
			h := newHarness(t, recurringFixture)
			h.launch()
			newcomer(h)
			h.clock.Set(launchTime.Add(week))
			h.srv.FailAfterWrite("maniphest.edit", n)
			if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
				t.Fatal("tick succeeded although a write's answer was lost")
			}
			h.clock.Advance(time.Minute)
			h.tick()
			h.tick()
			if n := len(h.srv.Tasks()); n != 5 {
				t.Errorf("%d tasks, want 5 (3 at launch, batch 4, the standing task)", n)
			}
			if n := len(h.botCommentsWith(h.standingTask(), "recurring/run-1/summary")); n != 1 {
				t.Errorf("%d run-1 summaries, want 1", n)
			}
			if got := h.pendingOps(); len(got) != 0 {
				t.Errorf("pending ops: %v", got)
			}
			if runs := h.snapshot().Campaign.Runs; len(runs) != 1 {
				t.Errorf("%d runs recorded, want 1", len(runs))
			}
		})
	}
}

// TestRecurringRunCrashThenNextRun: a crash cuts run 1's side effects
// short and the daemon ticks again only when run 2 is due. Run 1 is
// finished first (crashtest found its summary left unconfirmed for good:
// only the latest run was finished).
func TestRecurringRunCrashThenNextRun(t *testing.T) {
	for n := 1; n <= 3; n++ {
		t.Run("write "+itoa(n), func(t *testing.T) {
			h := newHarness(t, recurringFixture)
			h.launch()
			newcomer(h)
			h.clock.Set(launchTime.Add(week))
			h.srv.FailAfterWrite("maniphest.edit", n)
			if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
				t.Fatal("tick succeeded although a write's answer was lost")
			}
			h.clock.Set(launchTime.Add(2 * week))
			h.tick()
			h.tick()
			for _, key := range []string{"recurring/run-1/summary", "recurring/run-2/summary"} {
				if n := len(h.botCommentsWith(h.standingTask(), key)); n != 1 {
					t.Errorf("%d comments %s, want 1", n, key)
				}
			}
			if got := h.pendingOps(); len(got) != 0 {
				t.Errorf("pending ops: %v", got)
			}
			if runs := h.snapshot().Campaign.Runs; len(runs) != 2 {
				t.Errorf("%d runs recorded, want 2", len(runs))
			}
		})
	}
}

func TestRecurringInstanceMode(t *testing.T) {
	h := newHarness(t, fixture{campaignExtra: "recurring: {every: 7d, mode: instance}\nnotice: 30d\n"})
	h.launch()
	newcomer(h)
	h.clock.Set(launchTime.Add(week))
	h.tick()
	run := h.snapshot().Campaign.Runs[0]
	if run.Instance != campaignName+"-r1" || len(run.Batches) != 0 {
		t.Fatalf("run 1: instance %q, batches %v; want %s-r1 and no batch", run.Instance, run.Batches, campaignName)
	}
	inst, err := h.store.Snapshot(run.Instance)
	if err != nil {
		t.Fatalf("instance: %v", err)
	}
	if len(inst.Findings) != 1 || inst.Findings[0].Username != "newbie" || inst.Campaign.InstanceOf != campaignName {
		t.Fatalf("instance findings %+v (of %q), want newbie of %s", inst.Findings, inst.Campaign.InstanceOf, campaignName)
	}
	if len(inst.Batches) != 1 || inst.Batches[0].TaskID == 0 {
		t.Fatalf("instance batches %+v, want one with its task", inst.Batches)
	}
	tk, _ := h.srv.Task(inst.Batches[0].TaskID)
	if !strings.Contains(tk.Description, bot.Marker(run.Instance, "task/batch-1")) {
		t.Errorf("the instance's task carries no marker of its own:\n%s", tk.Description)
	}
	// The instance ticks on its own; a second tick writes nothing new.
	writes := len(h.effectiveWrites())
	h.tick()
	if n := len(h.effectiveWrites()); n != writes {
		t.Errorf("%d write(s) on a second tick, want none", n-writes)
	}
}
