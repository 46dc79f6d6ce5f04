package bot_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/state"
)

// The tests in this file stop the bot in the windows between two of its
// steps and check that the rerun finishes what was started, saying the
// right thing once.

// TestCrashAfterRestoreCommand: the bot restored a user on an approver's
// command and stopped before the task's cursor moved past the command.
// Reading the command again must not answer it a second time, least of
// all with a refusal because the user is no longer removed.
func TestCrashAfterRestoreCommand(t *testing.T) {
	for _, command := range []string{"!restore @nomfa3", "!approve @nomfa3"} {
		t.Run(command, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launchAndPropose()
			approveR1(t, h, "alice", "bob")
			h.tick()
			task, id := h.taskOf("nomfa3")
			h.srv.SetMFA(h.phid("nomfa3"), true)
			h.srv.AddComment(phabtestComment(h, task, "nomfa3", "done, please add me back"))
			h.tick()
			before := batchOf(t, h, "nomfa3").TxCursor
			answers := len(h.botCommentsWith(id, "replies/"))
			h.comment("carol", task, command)
			h.tick()
			if got := h.finding("nomfa3").Status; got != state.StatusRestored {
				t.Fatalf("nomfa3 = %s after the command, want restored", got)
			}
			// The crash: the cursor move after the restore never happened.
			rewindCursor(t, h, batchOf(t, h, "nomfa3").Index, before)

			h.tick()
			h.tick()
			if got := h.botCommentsWith(id, "replies/"); len(got) != answers {
				t.Errorf("the command was answered after the restore: %+v", got[answers:])
			}
			if notes := h.botCommentsWith(id, "restore/nomfa3/"); len(notes) != 1 || !strings.Contains(notes[0].Text, "approved by @carol") {
				t.Errorf("restore comments = %+v, want one crediting @carol", notes)
			}
			if got := h.finding("nomfa3"); got.Status != state.StatusRestored || got.Restores != 1 {
				t.Errorf("nomfa3 = %s after %d restore(s), want restored once", got.Status, got.Restores)
			}
			if got := batchOf(t, h, "nomfa3").TxCursor; got <= before {
				t.Errorf("cursor %d did not move past the command (was %d)", got, before)
			}
			if got := h.journalKinds()["command-refused"]; got != 0 {
				t.Errorf("journal has %d command-refused entries", got)
			}
			if got := h.pendingOps(); len(got) != 0 {
				t.Errorf("pending ops: %v", got)
			}
		})
	}
}

// TestCrashBeforeExtendAnnouncement: extend moved the deadline and stopped
// before announcing it. Whether the operator reruns the extend or the next
// tick finishes it, each task is told once, with the old date.
func TestCrashBeforeExtendAnnouncement(t *testing.T) {
	newLast := time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		user   string
		finish func(h *harness) error
	}{
		{"campaign, extend again", "", func(h *harness) error { return h.bot.Extend(h.ctx, campaignName, newLast, "", "alice") }},
		{"campaign, next tick", "", func(h *harness) error { _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); return err }},
		{"user, extend again", "nomfa4", func(h *harness) error { return h.bot.Extend(h.ctx, campaignName, newLast, "nomfa4", "alice") }},
		{"user, next tick", "nomfa4", func(h *harness) error { _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launch()
			h.clock.Set(cutoff.Add(-40 * 24 * time.Hour))
			h.srv.FailBefore("maniphest.edit", 3, "ERR-CONDUIT-CORE", "simulated outage")
			if err := h.bot.Extend(h.ctx, campaignName, newLast, tc.user, "alice"); err == nil {
				t.Fatal("Extend succeeded although no announcement was posted")
			}
			h.srv.FailBefore("maniphest.edit", 0, "", "")
			st, err := h.bot.Status(campaignName)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(st.Attention, "\n"), "reminders chore finishes it") {
				t.Errorf("status does not say who finishes the extension:\n%s", strings.Join(st.Attention, "\n"))
			}
			if err := tc.finish(h); err != nil {
				t.Fatalf("finishing: %v", err)
			}
			h.tick()
			notices := 0
			for _, task := range h.srv.Tasks() {
				for _, c := range h.botCommentsWith(task.ID, "extend/") {
					notices++
					if !strings.Contains(c.Text, "moved from 2027-02-28 to **2027-03-31") {
						t.Errorf("T%d announces:\n%s", task.ID, c.Text)
					}
				}
			}
			want := 3
			if tc.user != "" {
				want = 1
			}
			if notices != want {
				t.Errorf("%d extension notices, want %d", notices, want)
			}
			if got := h.pendingOps(); len(got) != 0 {
				t.Errorf("pending ops: %v", got)
			}
		})
	}
}

// TestCrashLeavesReminderPending: a reminder's write was cut off and the
// bot came back only when a later reminder was due. The old one is not
// sent late, and it does not stay pending for ever: it is reconciled if
// it landed, and closed as not sent if it did not.
func TestCrashLeavesReminderPending(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fail   func(h *harness)
		landed bool
	}{
		{"answer lost", func(h *harness) { h.srv.FailAfterWrite("maniphest.edit", 1) }, true},
		{"write refused", func(h *harness) { h.srv.FailBefore("maniphest.edit", 1, "ERR-CONDUIT-CORE", "simulated outage") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launch()
			h.clock.Set(cutoff.Add(-30*24*time.Hour + time.Hour))
			tc.fail(h)
			if _, err := h.bot.Tick(h.ctx, bot.TickOptions{Only: []string{"reminders"}}); err == nil {
				t.Fatal("tick succeeded although a reminder failed")
			}
			stuck := h.pendingOps()
			if len(stuck) != 1 || !strings.HasPrefix(stuck[0], "reminder/2027-02-28/30d/") {
				t.Fatalf("pending ops after the failed tick = %v, want one 30d reminder", stuck)
			}
			// Back only when the 7-day reminder is due.
			h.clock.Set(cutoff.Add(-7*24*time.Hour + time.Hour))
			h.tick()
			if got := h.pendingOps(); len(got) != 0 {
				t.Errorf("pending ops: %v", got)
			}
			st, err := h.bot.Status(campaignName)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range st.Attention {
				if strings.Contains(a, "not confirmed") {
					t.Errorf("status still reports: %s", a)
				}
			}
			snap := h.snapshot()
			for _, bt := range snap.Batches {
				want := 2 // 30d and 7d
				if strings.HasSuffix(stuck[0], "batch-"+itoa(bt.Index)) && !tc.landed {
					want = 1 // the lost 30d one is not sent late
				}
				if !strings.HasSuffix(stuck[0], "batch-"+itoa(bt.Index)) && tc.landed {
					// A lost answer is a transport failure: the chore
					// stopped there, and a 30d reminder is not sent late.
					want = 1
				}
				if got := len(h.botCommentsWith(bt.TaskID, "reminder/")); got != want {
					t.Errorf("%s has %d reminders, want %d", bt.Monogram(), got, want)
				}
			}
			wantDropped := map[bool]int{true: 0, false: 1}[tc.landed]
			if got := h.journalKinds()["write-dropped"]; got != wantDropped {
				t.Errorf("journal has %d write-dropped entries, want %d", got, wantDropped)
			}
		})
	}
}

// TestStatusPendingOpNeedsHuman: a command-line restore cut off halfway is
// finished by no chore; status says so, with the key, its age and what a
// person must run.
func TestStatusPendingOpNeedsHuman(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	approveR1(t, h, "alice", "bob")
	h.tick()
	h.srv.SetMFA(h.phid("nomfa2"), true)
	h.srv.FailBefore("project.edit", 1, "ERR-CONDUIT-CORE", "simulated outage")
	if err := h.bot.Restore(h.ctx, campaignName, "nomfa2", false, "alice"); err == nil {
		t.Fatal("Restore succeeded although a write failed")
	}
	h.clock.Advance(3 * time.Hour)
	h.tick()
	st, err := h.bot.Status(campaignName)
	if err != nil {
		t.Fatal(err)
	}
	var human []string
	for _, op := range st.PendingOps {
		if op.NeedsHuman != "" {
			human = append(human, op.Key)
		}
	}
	slices.Sort(human)
	if diff := cmp.Diff([]string{"restore/nomfa2/1", "restore/nomfa2/1/" + h.group(groupSRE).PHID}, human); diff != "" {
		t.Errorf("pending ops needing a human (-want +got):\n%s", diff)
	}
	attention := strings.Join(st.Attention, "\n")
	for _, want := range []string{"needs a human: write restore/nomfa2/1, started 3h0m ago", "run `auditbot restore " + campaignName + " nomfa2` again"} {
		if !strings.Contains(attention, want) {
			t.Errorf("attention lacks %q:\n%s", want, attention)
		}
	}
	// Running it again finishes it, and status is clear.
	if err := h.bot.Restore(h.ctx, campaignName, "nomfa2", false, "alice"); err != nil {
		t.Fatalf("Restore again: %v", err)
	}
	if got := h.pendingOps(); len(got) != 0 {
		t.Errorf("pending ops: %v", got)
	}
}

func batchOf(t *testing.T, h *harness, username string) state.Batch {
	t.Helper()
	f := h.finding(username)
	for _, bt := range h.snapshot().Batches {
		if bt.Index == f.Batch {
			return bt
		}
	}
	t.Fatalf("no batch %d", f.Batch)
	return state.Batch{}
}

// rewindCursor puts a batch's cursor back, as a crash before it moved
// would have left it.
func rewindCursor(t *testing.T, h *harness, batch, cursor int) {
	t.Helper()
	err := h.store.Update(campaignName, func(tx *state.CampaignTx) error {
		bt, err := tx.Batch(batch)
		if err != nil {
			return err
		}
		bt.TxCursor = cursor
		return tx.PutBatch(bt)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStatusReconcileFailed: when asking Phabricator whether a pending
// write landed fails, status shows the write as needing a human, with the
// error; the next successful tick clears it.
func TestStatusReconcileFailed(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	h.clock.Set(cutoff.Add(-30*24*time.Hour + time.Hour))
	h.srv.FailAfterWrite("maniphest.edit", 1)
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{Only: []string{"reminders"}}); err == nil {
		t.Fatal("tick succeeded although a reminder's answer was lost")
	}
	h.srv.FailBefore("transaction.search", 1, "ERR-CONDUIT-CORE", "simulated outage")
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{Only: []string{"reminders"}}); err == nil {
		t.Fatal("tick succeeded although reconciling failed")
	}
	st, err := h.bot.Status(campaignName)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.PendingOps) != 1 || !strings.Contains(st.PendingOps[0].NeedsHuman, "simulated outage") {
		t.Errorf("pending ops = %+v, want one needing a human with the error", st.PendingOps)
	}
	h.tick()
	if got := h.pendingOps(); len(got) != 0 {
		t.Errorf("pending ops: %v", got)
	}
}
