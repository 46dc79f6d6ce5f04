package bot_test

import (
	"strings"
	"testing"
	"time"
)

const day = 24 * time.Hour

func TestReminders(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	// nomfa3 (T2, with nomfa2) becomes compliant; nomfa4 (alone on T3)
	// too, so T3 has nobody pending and quiet_reminders skips it.
	h.srv.SetMFA(h.phid("nomfa3"), true)
	h.srv.SetMFA(h.phid("nomfa4"), true)
	h.tick()
	_, t1 := h.taskOf("nomfa1")
	_, t2 := h.taskOf("nomfa2")
	_, t3 := h.taskOf("nomfa4")

	steps := []struct {
		name string
		at   time.Time
		// want is the number of reminders each task has afterwards.
		want map[int]int
	}{
		{"before the first offset", cutoff.Add(-30*day - time.Minute), map[int]int{t1: 0, t2: 0, t3: 0}},
		{"30 days before", cutoff.Add(-30 * day), map[int]int{t1: 1, t2: 1, t3: 0}},
		{"same time again", cutoff.Add(-30 * day), map[int]int{t1: 1, t2: 1, t3: 0}},
		{"a day later", cutoff.Add(-29 * day), map[int]int{t1: 1, t2: 1, t3: 0}},
		{"7 days before", cutoff.Add(-7*day + time.Hour), map[int]int{t1: 2, t2: 2, t3: 0}},
		{"1 day before", cutoff.Add(-day + time.Hour), map[int]int{t1: 3, t2: 3, t3: 0}},
		{"1 day before, again", cutoff.Add(-day + 2*time.Hour), map[int]int{t1: 3, t2: 3, t3: 0}},
	}
	for _, st := range steps {
		h.clock.Set(st.at)
		h.tick()
		for id, want := range st.want {
			if got := len(h.botCommentsWith(id, "reminder/")); got != want {
				t.Errorf("%s: T%d has %d reminders, want %d", st.name, id, got, want)
			}
		}
	}
	for _, c := range h.botCommentsWith(t2, "reminder/") {
		if !strings.Contains(c.Text, "@nomfa2") {
			t.Errorf("T%d reminder does not mention pending @nomfa2:\n%s", t2, c.Text)
		}
		if strings.Contains(c.Text, "nomfa3") {
			t.Errorf("T%d reminder mentions compliant nomfa3:\n%s", t2, c.Text)
		}
	}
	for _, c := range h.botCommentsWith(t1, "reminder/") {
		if !strings.Contains(c.Text, "@erin") || !strings.Contains(c.Text, "@nomfa1") {
			t.Errorf("T%d reminder does not mention both pending users:\n%s", t1, c.Text)
		}
	}
	if got := h.journalKinds()["reminder"]; got != 6 {
		t.Errorf("journal has %d reminder entries, want 6", got)
	}
}

func TestMissedRemindersSendOnlyTheLatest(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	// The bot was down until the day before the cutoff: the 30d, 7d and
	// 1d reminders are all due, only the 1d one is sent.
	h.clock.Set(cutoff.Add(-day + time.Hour))
	h.tick()
	h.clock.Advance(time.Hour)
	h.tick()
	for _, task := range h.srv.Tasks() {
		rs := h.botCommentsWith(task.ID, "reminder/")
		if len(rs) != 1 {
			t.Errorf("T%d has %d reminders, want 1", task.ID, len(rs))
			continue
		}
		if !strings.Contains(markerKeyOf(rs[0].Text), "/1d/batch-") {
			t.Errorf("T%d reminder is not the 1-day one:\n%s", task.ID, rs[0].Text)
		}
	}
	if got := len(h.snapshot().Campaign.RemindersDone); got != 3 {
		t.Errorf("%d reminders marked handled, want 3", got)
	}
}

func TestRemindersUnsubscribedUsersNotMentioned(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	task, id := h.taskOf("nomfa1")
	if _, err := h.as("nomfa1").EditTask(h.ctx, task, unsubscribe(h.phid("nomfa1"))); err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}
	h.clock.Set(cutoff.Add(-30 * day))
	h.tick()
	rs := h.botCommentsWith(id, "reminder/")
	if len(rs) != 1 {
		t.Fatalf("%s has %d reminders, want 1", task, len(rs))
	}
	// Inside a `monospace` span a name notifies nobody.
	if strings.Contains(withoutMonospace(rs[0].Text), "@nomfa1") || !strings.Contains(rs[0].Text, "nomfa1") {
		t.Errorf("reminder should name unsubscribed nomfa1 without mentioning:\n%s", rs[0].Text)
	}
	if !strings.Contains(rs[0].Text, "@erin") {
		t.Errorf("reminder does not mention @erin:\n%s", rs[0].Text)
	}
}

// withoutMonospace drops `...` spans, where Remarkup makes no mention.
func withoutMonospace(s string) string {
	var b strings.Builder
	for i, part := range strings.Split(s, "`") {
		if i%2 == 0 {
			b.WriteString(part)
		}
	}
	return b.String()
}
