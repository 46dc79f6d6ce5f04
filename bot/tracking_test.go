package bot_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
)

// withTracking files the audit's tracking task (by alice, readable by
// every user, as such tasks usually are) and names it in the campaign.
func withTracking(h *harness) phabtest.TaskSnapshot {
	h.t.Helper()
	tk := h.srv.AddTask(phabtest.TaskSpec{Title: "Audit the security groups", AuthorPHID: h.phid("alice"), ViewPolicy: phabtest.PolicyUsers})
	h.camp.TrackingTask = tk.ID
	return tk
}

// closeAfterRemoval launches, removes R1 (approved by alice and bob) and
// lets the campaign reach its close: nobody is left pending, and a
// quiet period passes. It stops before the closing tick.
func closeAfterRemoval(t *testing.T, h *harness) {
	t.Helper()
	h.launchAndPropose()
	approveR1(t, h, "alice", "bob")
	h.tick()
	h.clock.Advance(8 * 24 * time.Hour)
}

// trackingComments are the bot's comments on the tracking task.
func trackingComments(h *harness, id int) []phabtest.CommentSnapshot {
	return h.botCommentsWith(id, "close/tracking")
}

// TestTrackingSummaryPosted: a campaign with a tracking task posts its
// summary there when it closes, once: counts per group, the removal
// with its approvers, the journal head that verify-journal holds. Nobody
// is mentioned and nothing private is in it.
func TestTrackingSummaryPosted(t *testing.T) {
	h := newHarness(t, fixture{})
	tk := withTracking(h)
	closeAfterRemoval(t, h)
	rep := h.tick()
	if !h.snapshot().Campaign.Closed() {
		t.Fatalf("not closed; statuses %v", h.statuses())
	}
	got := trackingComments(h, tk.ID)
	if len(got) != 1 {
		t.Fatalf("tracking task has %d summaries, want 1", len(got))
	}
	text := got[0].Text
	for _, want := range []string{"= Audit summary: `MFA audit for tests` =", "| `acl*security` |", "removed from", "`alice`, `bob`", "auditbot verify-journal " + campaignName + " --head " + campaignName + "="} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	for _, private := range []string{"mfa\n", "Nomfa", "@", "[["} {
		if strings.Contains(text, private) {
			t.Errorf("summary holds %q:\n%s", private, text)
		}
	}
	// The head it names is in the journal: verify-journal --head holds it.
	i := strings.Index(text, "--head "+campaignName+"=")
	head, err := state.ParseAnchor(strings.Fields(text[i+len("--head "+campaignName+"="):])[0])
	if err != nil {
		t.Fatal(err)
	}
	if res, err := h.store.VerifyJournal(campaignName, head); err != nil || !res.OK {
		t.Errorf("verify-journal --head %s: %+v, %v", head, res, err)
	}
	if got := h.journalKinds(); got["tracking-summary"] != 1 || got["campaign-closed"] != 1 {
		t.Errorf("journal %v, want one tracking-summary and one campaign-closed", got)
	}
	if !strings.Contains(strings.Join(eventTexts(rep), "\n"), "campaign summary posted on T1") {
		t.Errorf("tick did not say it posted the summary: %v", eventTexts(rep))
	}
	// Nobody was subscribed by the summary: the tracking task's
	// subscribers are its author and the bot (who commented).
	after, _ := h.srv.Task(tk.ID)
	for _, s := range after.SubscriberPHIDs {
		if s != h.phid("alice") && s != h.phid("auditbot") {
			t.Errorf("the summary subscribed %s", s)
		}
	}
	// Closed: no more ticks, no second summary.
	h.clock.Advance(30 * 24 * time.Hour)
	h.tick()
	if n := len(trackingComments(h, tk.ID)); n != 1 {
		t.Errorf("%d summaries after another tick, want 1", n)
	}
}

func eventTexts(rep *bot.TickReport) []string {
	var out []string
	for _, c := range rep.Campaigns {
		out = append(out, c.Events...)
	}
	return out
}

// TestTrackingSummaryCrash: the summary lands but its answer is lost, or
// it is refused before landing; either way the campaign stays open, and
// the next tick finds the landed comment by its marker (or posts it): one
// summary, and then the campaign closes.
func TestTrackingSummaryCrash(t *testing.T) {
	for _, phase := range []phabtest.WritePhase{phabtest.AfterWrite, phabtest.BeforeWrite} {
		t.Run(phase.String(), func(t *testing.T) {
			// The connection drops at the dropAt-th write request: before
			// it runs (the intent is recorded, nothing landed) or after
			// (it landed, its answer is lost).
			var last, dropAt int
			h := newHarness(t, fixture{onWrite: func(n int, _ string, p phabtest.WritePhase) bool {
				last = n
				return n == dropAt && p == phase
			}})
			tk := withTracking(h)
			closeAfterRemoval(t, h)
			// Three batch tasks are closed first (one maniphest.edit
			// each), then the summary is posted.
			dropAt = last + 4
			if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
				t.Fatal("tick succeeded although the summary's connection dropped")
			}
			if h.snapshot().Campaign.Closed() {
				t.Fatal("marked closed before the summary was confirmed")
			}
			if got := h.pendingOps(); len(got) != 1 || got[0] != "close/tracking" {
				t.Fatalf("pending ops %v, want [close/tracking]", got)
			}
			h.clock.Advance(time.Minute)
			h.tick()
			h.tick()
			if n := len(trackingComments(h, tk.ID)); n != 1 {
				t.Errorf("tracking task has %d summaries, want 1", n)
			}
			if !h.snapshot().Campaign.Closed() || len(h.pendingOps()) != 0 {
				t.Errorf("closed %v, pending %v; want closed, none", h.snapshot().Campaign.Closed(), h.pendingOps())
			}
			if got := h.journalKinds()["tracking-summary"]; got != 1 {
				t.Errorf("%d tracking-summary entries, want 1", got)
			}
		})
	}
}

// TestTrackingTaskCheck: check and launch refuse a tracking task that
// does not exist or that the bot may not see, with a clear error, and
// show a visible one with who may read it.
func TestTrackingTaskCheck(t *testing.T) {
	h := newHarness(t, fixture{})
	hidden := h.srv.AddTask(phabtest.TaskSpec{Title: "private", AuthorPHID: h.phid("alice"), ViewPolicy: h.phid("alice")})
	for _, id := range []int{hidden.ID, 999} {
		h.camp.TrackingTask = id
		rep, err := h.bot.Check(h.ctx, h.camp)
		if err != nil {
			t.Fatal(err)
		}
		err = rep.Err()
		if !errors.Is(err, bot.ErrInput) || !strings.Contains(err.Error(), "tracking_task "+h.camp.TrackingMonogram()+": no such task, or the bot may not see it") {
			t.Errorf("T%d: check error %v", id, err)
		}
		if _, err := h.bot.Launch(h.ctx, h.camp); !errors.Is(err, bot.ErrCheckFailed) {
			t.Errorf("T%d: launch error %v, want a failed check", id, err)
		}
	}
	if n := len(h.srv.Tasks()); n != 1 {
		t.Fatalf("%d tasks, want only the hidden one: a refused launch files nothing", n)
	}
	tk := withTracking(h)
	rep, err := h.bot.Check(h.ctx, h.camp)
	if err != nil || rep.Err() != nil {
		t.Fatalf("check: %v %v", err, rep.Err())
	}
	found := false
	for _, row := range rep.Rows {
		if row.Subject == h.camp.TrackingMonogram() && row.OK && strings.Contains(row.Detail, "readable by: users") {
			found = true
		}
	}
	if !found || tk.ID == 0 {
		t.Errorf("no tracking task row in %+v", rep.Rows)
	}
}
