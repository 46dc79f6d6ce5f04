package bot_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/auditbot/auditbot/state"
)

// TestReplyStorm: one batch user writes 60 comments and an outsider
// (not an approver) 40 "!approve" in one tick, with an approver's !deny
// last. The bot answers at most five of each person's comments one by
// one, counts the rest, journals and acknowledges each flood once, flags
// the user for a human, still reads the !deny, and reads no account more
// than once. The next tick reads nothing again.
func TestReplyStorm(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	task, id := h.taskOf("nomfa1")
	for i := range 60 {
		h.comment("nomfa1", task, fmt.Sprintf("question %d: why me?", i))
	}
	for range 40 {
		h.comment("dave", task, "!approve")
	}
	h.comment("carol", task, "!deny not during the holidays")
	before := h.allBotComments()
	h.srv.ResetCalls()
	h.tick()
	calls := h.srv.Calls()

	if got := h.allBotComments() - before; got != 1 {
		t.Errorf("the storm got %d bot comments, want 1 combined answer", got)
	}
	// nomfa1: 5 answered + 1 acknowledgement; dave: 5 refusals; carol's
	// !deny: 1.
	if n := len(h.answers(id)); n != 12 {
		t.Errorf("the combined answer holds %d answers, want 12", n)
	}
	kinds := h.journalKinds()
	if kinds[string(state.EntryNeedsHuman)] != 5 || kinds[string(state.EntryCommandRefused)] != 5 || kinds[string(state.EntryReplyFlood)] != 2 {
		t.Errorf("journal kinds = %v, want 5 needs-human, 5 command-refused, 2 reply-flood", kinds)
	}
	if rm := h.snapshot().Removals[0]; rm.Status != state.RemovalRejected || rm.RejectedBy != "carol" {
		t.Errorf("R1 = %s by %q, want rejected by carol: a !deny after a storm is still read", rm.Status, rm.RejectedBy)
	}
	f := h.finding("nomfa1")
	if !slices.ContainsFunc(f.NeedsHuman, func(s string) bool { return strings.Contains(s, "55 more comment(s)") }) {
		t.Errorf("nomfa1 needs-human = %q, want the flood of 55 flagged", f.NeedsHuman)
	}
	if calls["user.search"] > 4 {
		t.Errorf("the storm tick made %d user.search calls, want each account read at most once", calls["user.search"])
	}
	for _, bt := range h.snapshot().Batches {
		if len(bt.Flooded) != 0 {
			t.Errorf("batch %d still has unreported floods %v", bt.Index, bt.Flooded)
		}
	}

	// Nothing is read, journaled or answered twice.
	entries := journalLen(h)
	before = h.allBotComments()
	h.tick()
	if got := h.allBotComments() - before; got != 0 {
		t.Errorf("the next tick posted %d comments, want none", got)
	}
	if got := journalLen(h); got != entries {
		t.Errorf("the next tick journaled %d entries, want none", got-entries)
	}
}

func journalLen(h *harness) int {
	h.t.Helper()
	entries, err := h.store.Journal(campaignName)
	if err != nil {
		h.t.Fatal(err)
	}
	return len(entries)
}
