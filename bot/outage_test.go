package bot_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
)

// TestOutageMidTick takes Phabricator down right after the first reminder
// of a tick lands (every later request is dropped, as by a server that
// died). The tick stops at the first failed call: one log record per
// failed chore, naming the method and the cause; no further requests; an
// intent only for the write that was attempted. When Phabricator is back,
// the next tick sends the other reminders, with no duplicate. Before,
// every remaining write was tried (and retried) and the tick logged one
// blob joining every error.
func TestOutageMidTick(t *testing.T) {
	for _, tc := range []struct {
		name   string
		outage phabtest.Outage
	}{
		{"connections dropped", phabtest.OutageDrop},
		{"HTTP 503", phabtest.Outage503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var armed atomic.Bool
			var srv *phabtest.Server
			h := newHarness(t, fixture{onWrite: func(_ int, method string, phase phabtest.WritePhase) bool {
				if armed.Load() && phase == phabtest.AfterWrite {
					armed.Store(false)
					srv.SetOutage(tc.outage) // the answer to this write still goes out
				}
				return false
			}})
			srv = h.srv
			h.launch()
			h.clock.Set(cutoff.Add(-30*24*time.Hour + time.Hour))
			h.logs.Reset()
			h.srv.ResetCalls()
			armed.Store(true)

			report, err := h.bot.Tick(h.ctx, bot.TickOptions{})
			if err == nil {
				t.Fatal("tick succeeded during an outage")
			}
			if !errors.Is(err, conduit.ErrUnavailable) {
				t.Errorf("tick error %v, want conduit.ErrUnavailable", err)
			}
			// One request failed (the second reminder); nothing after it.
			if got := h.srv.Calls()["maniphest.edit"]; got != 2 {
				t.Errorf("maniphest.edit requests during the tick = %d, want 2 (the reminder that landed, the one that failed)", got)
			}
			if got := h.pendingOps(); len(got) != 1 || !strings.HasPrefix(got[0], "reminder/") {
				t.Errorf("pending ops = %v, want only the reminder that was attempted", got)
			}
			var records []string
			sc := bufio.NewScanner(strings.NewReader(h.logs.String()))
			for sc.Scan() {
				var rec map[string]any
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("log line %q: %v", sc.Text(), err)
				}
				if rec["level"] != "error" {
					continue
				}
				msg, _ := rec["error"].(string)
				if strings.Contains(msg, "\n") {
					t.Errorf("an error record joins several errors: %q", msg)
				}
				records = append(records, rec["chore"].(string))
				if !strings.Contains(msg, "maniphest.edit") {
					t.Errorf("error record %q does not name the method", msg)
				}
			}
			// reminders failed; the removal chores that follow have
			// nothing due and make no call.
			if want := []string{"reminders"}; strings.Join(records, ",") != strings.Join(want, ",") {
				t.Errorf("error records by chore = %v, want %v", records, want)
			}
			for _, c := range report.Campaigns {
				for _, e := range c.Errors {
					if strings.Contains(e, "\n") {
						t.Errorf("report error joins several: %q", e)
					}
				}
			}

			h.srv.SetOutage(phabtest.OutageNone)
			h.clock.Advance(15 * time.Minute)
			h.tick()
			for _, task := range h.srv.Tasks() {
				if got := len(h.botCommentsWith(task.ID, "reminder/")); got != 1 {
					t.Errorf("T%d has %d reminders, want exactly 1", task.ID, got)
				}
			}
			if got := h.pendingOps(); len(got) != 0 {
				t.Errorf("pending ops after the next tick: %v", got)
			}
		})
	}
}

// TestInterruptedLaunch cancels a launch (SIGTERM) while its first task is
// being filed. The launch stops there, says how far it got, and records
// no intent for a task it did not try to file; the next launch files the
// rest, with no duplicate. Before, every remaining batch recorded an
// intent, failed with "context canceled", and the relaunch had to
// reconcile each of them.
func TestInterruptedLaunch(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h := newHarness(t, fixture{onWrite: func(_ int, method string, phase phabtest.WritePhase) bool {
		if method == "maniphest.edit" && phase == phabtest.AfterWrite {
			cancel()
		}
		return false
	}})
	_, err := h.bot.Launch(ctx, h.camp)
	var ie *bot.InterruptedError
	if !errors.As(err, &ie) {
		t.Fatalf("Launch: %v, want an InterruptedError", err)
	}
	if ie.Total != 3 || ie.Done > 1 || !strings.Contains(ie.Error(), "rerun to finish") {
		t.Errorf("Launch: %q (%+v), want at most 1 of 3 batches done, rerun to finish", ie, ie)
	}
	if n := len(h.srv.Tasks()); n != 1 {
		t.Fatalf("server has %d tasks, want 1", n)
	}
	if got := h.pendingOps(); len(got) > 1 {
		t.Errorf("pending ops = %v: intents recorded for writes never sent", got)
	}
	h.launch()
	if n := len(h.srv.Tasks()); n != 3 {
		t.Errorf("server has %d tasks after the relaunch, want 3", n)
	}
	if got := h.pendingOps(); len(got) != 0 {
		t.Errorf("pending ops after the relaunch: %v", got)
	}
}

// TestDriftFailureStopsOnlyRemovals: a drift chore that fails (here its
// user.search) must not keep the bot from answering the users this tick;
// only the chores that act on what drift learns (removals, closing) wait.
func TestDriftFailureStopsOnlyRemovals(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	task, id := h.taskOf("nomfa1")
	h.comment("nomfa1", task, "remove me please")
	h.srv.FailBefore("user.search", 1, "ERR-CONDUIT-CORE", "injected")
	h.clock.Set(cutoff.Add(time.Hour))
	rep, err := h.bot.Tick(h.ctx, bot.TickOptions{})
	if err == nil || !strings.Contains(err.Error(), "drift") {
		t.Fatalf("Tick = %v, want the drift chore's failure", err)
	}
	if s := h.finding("nomfa1").Status; s != state.StatusVoluntary {
		t.Errorf("nomfa1 = %s, want voluntary: the reply was not handled", s)
	}
	if n := len(h.botCommentsWith(id, "replies/")); n != 1 {
		t.Errorf("%d answer comment(s) on the task, want 1 (events: %v)", n, rep)
	}
	if snap := h.snapshot(); len(snap.Removals) != 0 {
		t.Errorf("removals proposed although drift failed: %+v", snap.Removals)
	}
}

// TestOutageIsNoReconcileFailure: an answer whose post was cut off is
// pending; when the next tick finds Phabricator away, not being able to
// look for it is no finding about the write, so status must not ask a
// human to check it by hand, and the tick after the outage posts it once.
func TestOutageIsNoReconcileFailure(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	task, id := h.taskOf("nomfa1")
	h.comment("nomfa1", task, "remove me please")
	h.srv.FailAfterWrite("maniphest.edit", 1) // the answer lands, its reply is lost
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
		t.Fatal("tick with a lost answer: no error")
	}
	h.srv.SetOutage(phabtest.Outage503)
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
		t.Fatal("tick during an outage: no error")
	}
	h.srv.SetOutage(phabtest.OutageNone)
	for _, op := range h.snapshot().Ops {
		if op.ReconcileError != "" {
			t.Errorf("op %s: reconcile error %q recorded for an outage", op.Key, op.ReconcileError)
		}
	}
	h.tick()
	if n := len(h.botCommentsWith(id, "replies/")); n != 1 {
		t.Errorf("%d answer comment(s), want 1", n)
	}
}
