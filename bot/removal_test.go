package bot_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/state"
)

// ignoreShown leaves out what Approve shows (the items and their digest),
// checked on their own.
var ignoreShown = cmpopts.IgnoreFields(bot.ApproveResult{}, "Items", "Digest")

func TestRemovalFlow(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()

	// Nothing is proposed before the cutoff.
	h.clock.Set(cutoff.Add(-time.Minute))
	h.tick()
	if n := len(h.snapshot().Removals); n != 0 {
		t.Fatalf("%d removal batches before the cutoff", n)
	}

	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()
	snap := h.snapshot()
	if len(snap.Removals) != 1 {
		t.Fatalf("%d removal batches after the cutoff, want 1", len(snap.Removals))
	}
	rm := snap.Removals[0]
	if rm.Label() != "R1" || rm.Status != state.RemovalProposed || rm.RequiredApprovals != 2 {
		t.Errorf("removal = %s %s needing %d, want R1 proposed needing 2", rm.Label(), rm.Status, rm.RequiredApprovals)
	}
	var items []string
	for _, it := range rm.Items {
		items = append(items, it.GroupName+" "+it.Username)
	}
	// Riskiest group first, then by name and user.
	wantItems := []string{"acl*sre-team nomfa2", "acl*sre-team nomfa4", "WMF-NDA nomfa1", "WMF-NDA nomfa2", "acl*security erin", "acl*security nomfa1", "acl*security nomfa3"}
	if diff := cmp.Diff(wantItems, items); diff != "" {
		t.Errorf("R1 items (-want +got):\n%s", diff)
	}
	for _, task := range h.srv.Tasks() {
		if got := len(h.botCommentsWith(task.ID, "removal/R1/proposal/")); got != 1 {
			t.Errorf("T%d has %d removal proposals, want 1", task.ID, got)
		}
	}

	proposed := h.snapshot().Removals
	journal := len(mustJournal(t, h))
	_, err := h.approve(h.bot, "R1", "dave")
	if !errors.Is(err, bot.ErrNotApprover) {
		t.Fatalf("Approve by dave: %v, want ErrNotApprover", err)
	}
	_, err = h.approve(h.bot, "R1", "good1")
	if !errors.Is(err, bot.ErrNotApprover) {
		t.Fatalf("Approve by good1: %v, want ErrNotApprover", err)
	}
	// A disabled approver is no approver.
	h.srv.SetDisabled(h.phid("carol"), true)
	if _, err := h.approve(h.bot, "R1", "carol"); !errors.Is(err, bot.ErrNotApprover) {
		t.Errorf("Approve by disabled carol: %v, want ErrNotApprover", err)
	}
	h.srv.SetDisabled(h.phid("carol"), false)
	if diff := cmp.Diff(proposed, h.snapshot().Removals); diff != "" {
		t.Errorf("refused approvals changed R1 (-before +after):\n%s", diff)
	}
	if got := len(mustJournal(t, h)); got != journal+2 {
		t.Errorf("journal grew by %d, want 2 approval-refused entries", got-journal)
	}
	// The token decides who approves: --as only guards against the wrong
	// token file, and a mismatch is refused.
	if _, err := h.bot.Approve(h.ctx, campaignName, "R1", h.as("alice"), bot.ApproveOptions{As: "bob"}); !errors.Is(err, bot.ErrRefused) {
		t.Errorf("Approve with alice's token --as bob: %v, want ErrRefused", err)
	}
	// An approval counts only for what was shown: a stale digest is refused.
	if _, err := h.bot.Approve(h.ctx, campaignName, "R1", h.as("alice"), bot.ApproveOptions{Confirm: "0123456789ab"}); !errors.Is(err, bot.ErrRefused) {
		t.Errorf("Approve with a digest of something else: %v, want ErrRefused", err)
	}
	if _, err := h.approve(h.bot, "R9", "alice"); !errors.Is(err, bot.ErrInput) {
		t.Errorf("Approve R9: %v, want ErrInput", err)
	}

	res, err := h.approve(h.bot, "R1", "alice")
	if err != nil {
		t.Fatalf("Approve by alice: %v", err)
	}
	if diff := cmp.Diff(&bot.ApproveResult{Removal: "R1", Approver: "alice", Approvals: 1, Required: 2, Recorded: true}, res, ignoreShown); diff != "" {
		t.Errorf("first approval (-want +got):\n%s", diff)
	}
	if _, err := h.approve(h.bot, "r1", "@alice"); !errors.Is(err, bot.ErrRefused) {
		t.Errorf("alice approving twice: %v, want ErrRefused", err)
	}
	// One approval is not enough: a tick removes nobody.
	h.tick()
	if w := h.writesOf("project.edit"); len(w) != 0 {
		t.Fatalf("removed members with one approval: %+v", w)
	}

	res, err = h.approve(h.bot, "1", "bob")
	if err != nil {
		t.Fatalf("Approve by bob: %v", err)
	}
	if diff := cmp.Diff(&bot.ApproveResult{Removal: "R1", Approver: "bob", Approvals: 2, Required: 2, Approved: true, Recorded: true}, res, ignoreShown); diff != "" {
		t.Errorf("second approval (-want +got):\n%s", diff)
	}
	if _, err := h.approve(h.bot, "R1", "carol"); !errors.Is(err, bot.ErrRefused) {
		t.Errorf("approving an approved batch: %v, want ErrRefused", err)
	}

	// nomfa3 enables MFA between approval and execution: kept.
	h.srv.SetMFA(h.phid("nomfa3"), true)
	h.clock.Advance(time.Hour)
	h.tick()

	checkRemovedOnce(t, h, map[string][]string{
		"erin": {groupSecurity}, "nomfa1": {groupSecurity, groupNDA}, "nomfa2": {groupSRE, groupNDA}, "nomfa4": {groupSRE},
	})
	if !slices.Contains(h.srv.Members(h.group(groupSecurity).PHID), h.phid("nomfa3")) {
		t.Errorf("nomfa3 enabled MFA before the removal and was removed anyway")
	}
	if got := h.finding("nomfa3").Status; got != state.StatusCompliant {
		t.Errorf("nomfa3 = %s, want compliant", got)
	}
	// Members who were never in the batch stay.
	for _, g := range []string{groupNDA, groupSRE} {
		if !slices.Contains(h.srv.Members(h.group(g).PHID), h.phid("good1")) {
			t.Errorf("good1 removed from %s", g)
		}
	}
	if st := h.snapshot().Removals[0].Status; st != state.RemovalDone {
		t.Errorf("R1 = %s, want done", st)
	}
	for _, task := range h.srv.Tasks() {
		notices := h.botCommentsWith(task.ID, "removal/R1/notice/")
		if len(notices) != 1 {
			t.Errorf("T%d has %d removal notices, want 1", task.ID, len(notices))
			continue
		}
		if strings.Contains(notices[0].Text, "@nomfa3") {
			t.Errorf("T%d notice names nomfa3, who was not removed:\n%s", task.ID, notices[0].Text)
		}
	}

	// Ticking again removes nothing more and posts nothing.
	writes, comments := len(h.effectiveWrites()), h.allBotComments()
	h.clock.Advance(time.Hour)
	h.tick()
	h.tick()
	if got := len(h.effectiveWrites()); got != writes {
		t.Errorf("later ticks wrote %d more time(s)", got-writes)
	}
	if got := h.allBotComments(); got != comments {
		t.Errorf("later ticks posted %d more comment(s)", got-comments)
	}
	if n := len(h.snapshot().Removals); n != 1 {
		t.Errorf("%d removal batches, want 1 (nobody left to remove)", n)
	}
}

func TestRemovalHoldsBackUndecidedExemptions(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	task, _ := h.taskOf("nomfa1")
	h.comment("nomfa1", task, "exemption: I only use the API from a locked-down bot host")
	h.tick()
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()
	for _, it := range h.snapshot().Removals[0].Items {
		if it.Username == "nomfa1" {
			t.Errorf("nomfa1, with an undecided exemption, is in R1: %+v", it)
		}
	}
}

func TestRemovalRespectsExtension(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	h.clock.Set(cutoff.Add(-48 * time.Hour))
	if err := h.bot.Extend(h.ctx, campaignName, cutoff.AddDate(0, 0, 6), "nomfa4", "alice"); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	task, id := h.taskOf("nomfa4")
	if got := len(h.botCommentsWith(id, "extend/")); got != 1 {
		t.Errorf("%s has %d extension notices, want 1", task, got)
	}
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()
	for _, it := range h.snapshot().Removals[0].Items {
		if it.Username == "nomfa4" {
			t.Errorf("nomfa4, extended to a week later, is in R1")
		}
	}
}

func TestRestore(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	approveR1(t, h, "alice", "bob")
	h.tick()
	checkRemovedOnce(t, h, map[string][]string{
		"erin": {groupSecurity}, "nomfa1": {groupSecurity, groupNDA}, "nomfa2": {groupSRE, groupNDA},
		"nomfa3": {groupSecurity}, "nomfa4": {groupSRE},
	})

	t.Run("still without MFA", func(t *testing.T) {
		writes := len(h.effectiveWrites())
		err := h.bot.Restore(h.ctx, campaignName, "nomfa1", false, "alice")
		if !errors.Is(err, bot.ErrRefused) {
			t.Fatalf("Restore: %v, want ErrRefused", err)
		}
		if got := len(h.effectiveWrites()); got != writes {
			t.Errorf("refused restore wrote")
		}
		if got := h.finding("nomfa1").Status; got != state.StatusRemoved {
			t.Errorf("nomfa1 = %s, want removed", got)
		}
	})
	t.Run("not removed", func(t *testing.T) {
		if err := h.bot.Restore(h.ctx, campaignName, "good1", false, "alice"); !errors.Is(err, bot.ErrInput) {
			t.Errorf("Restore of a user outside the campaign: %v, want ErrInput", err)
		}
	})
	t.Run("after enabling MFA", func(t *testing.T) {
		h.srv.SetMFA(h.phid("nomfa2"), true)
		writes := len(h.writesOf("project.edit"))
		if err := h.bot.Restore(h.ctx, campaignName, "nomfa2", false, "alice"); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		added := h.writesOf("project.edit")[writes:]
		var groups []string
		for _, w := range added {
			if diff := cmp.Diff([]string{"members.add"}, txTypes(w)); diff != "" {
				t.Errorf("restore write %s: (-want +got):\n%s", h.groupName(w.ObjectPHID), diff)
			}
			groups = append(groups, h.groupName(w.ObjectPHID))
		}
		if diff := cmp.Diff(sorted([]string{groupSRE, groupNDA}), sorted(groups)); diff != "" {
			t.Errorf("groups restored (-want +got):\n%s", diff)
		}
		for _, g := range []string{groupSRE, groupNDA} {
			if !slices.Contains(h.srv.Members(h.group(g).PHID), h.phid("nomfa2")) {
				t.Errorf("nomfa2 not back in %s", g)
			}
		}
		if slices.Contains(h.srv.Members(h.group(groupSecurity).PHID), h.phid("nomfa2")) {
			t.Errorf("nomfa2 added to acl*security, which they were never in")
		}
		if got := h.finding("nomfa2").Status; got != state.StatusRestored {
			t.Errorf("nomfa2 = %s, want restored", got)
		}
		_, id := h.taskOf("nomfa2")
		notes := h.botCommentsWith(id, "restore/nomfa2/")
		// A command-line restore names no approver: the operator's name is
		// not a verified Phabricator user (a !restore on the task is).
		if len(notes) != 1 || !strings.Contains(notes[0].Text, "@nomfa2") || strings.Contains(notes[0].Text, "@alice") {
			t.Errorf("restore comments on the task: %+v", notes)
		}
		// Again: nothing to do.
		if err := h.bot.Restore(h.ctx, campaignName, "nomfa2", false, "alice"); !errors.Is(err, bot.ErrRefused) {
			t.Errorf("second restore: %v, want ErrRefused", err)
		}
	})
	t.Run("forced", func(t *testing.T) {
		if err := h.bot.Restore(h.ctx, campaignName, "nomfa4", true, "bob"); err != nil {
			t.Fatalf("forced Restore: %v", err)
		}
		if !slices.Contains(h.srv.Members(h.group(groupSRE).PHID), h.phid("nomfa4")) {
			t.Errorf("nomfa4 not back in acl*sre-team")
		}
		if got := h.finding("nomfa4").Status; got != state.StatusRestored {
			t.Errorf("nomfa4 = %s, want restored", got)
		}
	})
	t.Run("restored users are not removed again", func(t *testing.T) {
		writes := len(h.writesOf("project.edit"))
		h.clock.Advance(time.Hour)
		h.tick()
		if got := len(h.writesOf("project.edit")); got != writes {
			t.Errorf("tick after restores edited memberships %d time(s)", got-writes)
		}
	})
}

func TestRestoreByCommand(t *testing.T) {
	// A removed user who enabled MFA asks to come back; an approver's
	// "!approve @user" restores them.
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	approveR1(t, h, "alice", "bob")
	h.tick()
	task, _ := h.taskOf("nomfa3")
	h.srv.SetMFA(h.phid("nomfa3"), true)
	h.srv.AddComment(phabtestComment(h, task, "nomfa3", "done, please add me back"))
	h.tick()
	if f := h.finding("nomfa3"); !f.RestoreRequested || f.Status != state.StatusRemoved {
		t.Fatalf("nomfa3 = %s, restore requested %v; want removed with a request", f.Status, f.RestoreRequested)
	}
	h.comment("carol", task, "!approve @nomfa3")
	h.tick()
	if got := h.finding("nomfa3").Status; got != state.StatusRestored {
		t.Errorf("nomfa3 = %s, want restored", got)
	}
	if !slices.Contains(h.srv.Members(h.group(groupSecurity).PHID), h.phid("nomfa3")) {
		t.Errorf("nomfa3 not back in acl*security")
	}
	_, id := h.taskOf("nomfa3")
	if notes := h.botCommentsWith(id, "restore/nomfa3/"); len(notes) != 1 || !strings.Contains(notes[0].Text, "approved by @carol") {
		t.Errorf("restore comments = %+v, want one crediting @carol", notes)
	}
}

func txTypes(w phabtestWrite) []string {
	var out []string
	for _, tx := range w.Transactions {
		out = append(out, tx.Type)
	}
	return out
}

func mustJournal(t *testing.T, h *harness) []state.Entry {
	t.Helper()
	e, err := h.store.Journal(campaignName)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
