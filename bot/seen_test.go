package bot_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
)

// settle launches the campaign and ticks twice, an hour apart, so that
// the bot has read every task and nothing is left to do; the clock then
// moves on another hour.
func settle(h *harness) {
	h.t.Helper()
	h.launch()
	for range 2 {
		h.clock.Advance(time.Hour)
		h.tick()
	}
	h.clock.Advance(time.Hour)
}

// tickCalls ticks and returns the Conduit calls it made, by method.
func tickCalls(h *harness) map[string]int {
	h.t.Helper()
	h.srv.ResetCalls()
	h.tick()
	return h.srv.Calls()
}

func total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

// TestIdleTickCalls: an idle tick over T tasks and U watched users makes
// at most ⌈T/100⌉ + ⌈U/100⌉ + 3 calls (issue 17), and reads no task's
// subscribers or transactions. Call counts are deterministic, so this is
// checked at a small scale; BenchmarkIdleTick10k reports the 10k one.
func TestIdleTickCalls(t *testing.T) {
	h := newHarness(t, fixture{extraPending: 300, batchSize: 20})
	settle(h)
	snap := h.snapshot()
	tasks, users := 0, 0
	for _, bt := range snap.Batches {
		if bt.TaskPHID != "" {
			tasks++
		}
	}
	for _, f := range snap.Findings {
		if f.Status != state.StatusRemoved {
			users++
		}
	}
	calls := tickCalls(h)
	if bound := idleTarget(tasks, users); total(calls) > bound {
		t.Errorf("idle tick over %d tasks and %d users made %d calls %v, want at most %d", tasks, users, total(calls), calls, bound)
	}
	if calls["transaction.search"]+calls["maniphest.info"] > 0 {
		t.Errorf("idle tick read tasks one by one: %v", calls)
	}
}

// TestChangesBetweenIdleTicks: a reply, an unsubscribe, a subscriber
// added, a policy changed or a team member gone, made between two ticks
// after an idle one, is seen and handled by the next tick, at the cost
// of the idle floor and that one task's reads.
func TestChangesBetweenIdleTicks(t *testing.T) {
	for _, tt := range []struct {
		name   string
		before func(h *harness, task string) // before the ticks settle
		change func(h *harness, task string)
		want   state.EntryKind
	}{
		{name: "reply", want: state.EntryVoluntary, change: func(h *harness, task string) {
			h.comment("nomfa1", task, "remove me")
		}},
		{name: "unsubscribe", want: state.EntryUnsubscribed, change: func(h *harness, task string) {
			if _, err := h.as("nomfa1").EditTask(h.ctx, task, unsubscribe(h.phid("nomfa1"))); err != nil {
				h.t.Fatal(err)
			}
		}},
		{name: "outsider subscribed", want: state.EntryAccessRevoked, change: func(h *harness, task string) {
			if _, err := h.as("nomfa1").EditTask(h.ctx, task, conduit.AddSubscribersEdit(h.phid("outsider"))); err != nil {
				h.t.Fatal(err)
			}
		}},
		{name: "view policy", want: state.EntryPolicyRestored, change: func(h *harness, task string) {
			if _, err := h.as("alice").EditTask(h.ctx, task, conduit.Edit{Type: "view", Value: phabtest.PolicyUsers}); err != nil {
				h.t.Fatal(err)
			}
		}},
		{
			// No change to the task at all: the guard checks the
			// subscribers it recorded against the team as it is now.
			name: "subscribed team member left the team", want: state.EntryAccessRevoked,
			before: func(h *harness, task string) {
				if _, err := h.as("dave").EditTask(h.ctx, task, conduit.AddSubscribersEdit(h.phid("dave"))); err != nil {
					h.t.Fatal(err)
				}
			},
			change: func(h *harness, _ string) { h.srv.RemoveMembers(h.group(groupTeam).PHID, h.phid("dave")) },
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launch()
			task, _ := h.taskOf("nomfa1")
			if tt.before != nil {
				tt.before(h, task)
			}
			settle(h)
			idle := tickCalls(h)
			if idle["transaction.search"]+idle["maniphest.info"] > 0 {
				t.Fatalf("idle tick read tasks one by one: %v", idle)
			}
			before := h.journalKinds()[string(tt.want)]
			h.clock.Advance(time.Hour)
			tt.change(h, task)
			calls := tickCalls(h)
			if got := h.journalKinds()[string(tt.want)]; got != before+1 {
				t.Errorf("journal %s = %d after the change, want %d; calls %v", tt.want, got, before+1, calls)
			}
			if calls["transaction.search"] > 3 {
				t.Errorf("tick after one task changed read %d histories: %v", calls["transaction.search"], calls)
			}
			// The tick after: the bot's own writes are read back once, and
			// then the tick is idle again.
			h.clock.Advance(time.Hour)
			h.tick()
			h.clock.Advance(time.Hour)
			if again := tickCalls(h); total(again) != total(idle) {
				t.Errorf("tick after the change settled: %d calls %v, want the idle %d %v", total(again), again, total(idle), idle)
			}
		})
	}
}

// TestChangeInTheSameSecond: a reply written in the very second the tick
// read the tasks (dateModified has whole seconds) is still seen by the
// next tick, whenever it runs.
func TestChangeInTheSameSecond(t *testing.T) {
	h := newHarness(t, fixture{})
	settle(h)
	task, _ := h.taskOf("nomfa1")
	h.comment("alice", task, "hello")
	h.tick()
	// The clock does not move: the reply below has the dateModified the
	// tick just read.
	h.comment("nomfa1", task, "remove me")
	h.tick()
	if h.finding("nomfa1").Status != state.StatusVoluntary {
		t.Errorf("nomfa1 = %s, want voluntary: the reply in the same second was lost", h.finding("nomfa1").Status)
	}
}

// TestCursorWaitsForTheWork: a task's cursor moves only once the work
// that rests on the read is done. A reply whose history read fails, an
// answer that is not posted, a revoke that fails: the next tick, with
// nothing changed on the task since, still does it.
func TestCursorWaitsForTheWork(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(h *harness, task string)
		fail   string
		check  func(h *harness) error
	}{
		{"history read fails", func(h *harness, task string) { h.comment("nomfa1", task, "remove me") }, "transaction.search",
			func(h *harness) error {
				if s := h.finding("nomfa1").Status; s != state.StatusVoluntary {
					return fmt.Errorf("nomfa1 = %s, want voluntary", s)
				}
				return nil
			}},
		{"answer not posted", func(h *harness, task string) { h.comment("nomfa1", task, "remove me") }, "maniphest.edit",
			func(h *harness) error {
				if ops := h.pendingOps(); len(ops) > 0 {
					return fmt.Errorf("ops still pending: %v", ops)
				}
				return nil
			}},
		{"revoke fails", func(h *harness, task string) {
			if _, err := h.as("nomfa1").EditTask(h.ctx, task, conduit.AddSubscribersEdit(h.phid("outsider"))); err != nil {
				h.t.Fatal(err)
			}
		}, "maniphest.edit", func(h *harness) error {
			_, id := h.taskOf("nomfa1")
			tk, _ := h.srv.Task(id)
			if slices.Contains(tk.SubscriberPHIDs, h.phid("outsider")) {
				return fmt.Errorf("outsider still subscribed")
			}
			return nil
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			settle(h)
			task, _ := h.taskOf("nomfa1")
			tt.change(h, task)
			h.clock.Advance(time.Hour)
			h.srv.FailBefore(tt.fail, 1, "ERR-CONDUIT-CORE", "temporarily unavailable")
			if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
				t.Fatalf("tick succeeded although %s failed", tt.fail)
			}
			// Nothing changes on the task from here on.
			for range 2 {
				h.clock.Advance(time.Hour)
				h.tick()
			}
			if err := tt.check(h); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestStandingTaskBetweenIdleTicks: the recurring campaign's standing task
// has a cursor of its own: a team member subscribed to it who left the
// team is taken out by the next tick, though the task did not change.
func TestStandingTaskBetweenIdleTicks(t *testing.T) {
	h := newHarness(t, recurringFixture)
	h.launch()
	h.clock.Set(launchTime.Add(week)) // the first run files the standing task
	h.tick()
	standing := fmt.Sprintf("T%d", h.standingTask())
	if _, err := h.as("dave").EditTask(h.ctx, standing, conduit.AddSubscribersEdit(h.phid("dave"))); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		h.clock.Advance(time.Hour)
		h.tick()
	}
	if h.snapshot().Campaign.StandingSeen.SubscribersAsOf.IsZero() {
		t.Fatal("the standing task's subscribers were not recorded")
	}
	h.clock.Advance(time.Hour)
	before := h.journalKinds()[string(state.EntryAccessRevoked)]
	h.srv.RemoveMembers(h.group(groupTeam).PHID, h.phid("dave"))
	h.tick()
	if got := h.journalKinds()[string(state.EntryAccessRevoked)]; got != before+1 {
		t.Errorf("access revoked %d times, want %d", got, before+1)
	}
	tk, _ := h.srv.Task(h.standingTask())
	if slices.Contains(tk.SubscriberPHIDs, h.phid("dave")) {
		t.Error("dave, no longer in the team, is still subscribed to the standing task")
	}
}
