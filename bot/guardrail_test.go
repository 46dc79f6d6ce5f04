package bot_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/state"
)

// TestRemovalGuardRail: an approved removal batch that would remove more
// of a group than removal_limit allows is not executed at all; the tasks
// are told once and status asks a person to decide. WMF-NDA has 8 members
// here, 3 of them without MFA.
func TestRemovalGuardRail(t *testing.T) {
	const defaultLimit = "# removal_limit left out: 25%, no count limit\n"
	tests := []struct {
		name          string
		config        string
		campaign      string
		held          bool
		wantHeldWords string
	}{
		{name: "3 of 8 is over the default 25%", config: defaultLimit, held: true,
			wantHeldWords: "it would remove 3 of the 8 members of WMF-NDA; the guard-rail allows at most 25% of a group's members"},
		{name: "the campaign says otherwise", config: defaultLimit, campaign: "removal_limit: {max_share: 100%}"},
		{name: "within a configured share", config: "removal_limit: {max_share: 40%}\n"},
		{name: "over the count", config: "removal_limit: {max_share: 100%, max_count: 2}\n", held: true,
			wantHeldWords: "it would remove 3 of the 8 members of WMF-NDA; the guard-rail allows at most 100% of a group's members and at most 2"},
		{name: "the campaign lifts the count", config: "removal_limit: {max_share: 100%, max_count: 2}\n", campaign: "removal_limit: {max_count: 0}"},
		{name: "within the count", config: "removal_limit: {max_share: 100%, max_count: 3}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{groups: "[WMF-NDA]", extraPending: 1, configExtra: tt.config, campaignExtra: tt.campaign})
			if n := len(h.srv.Members(h.group(groupNDA).PHID)); n != 8 {
				t.Fatalf("fixture: WMF-NDA has %d members, want 8", n)
			}
			h.launchAndPropose()
			var items []string
			for _, it := range h.snapshot().Removals[0].Items {
				items = append(items, it.Username)
			}
			if diff := cmp.Diff([]string{"nomfa1", "nomfa2", "pending001"}, sorted(items)); diff != "" {
				t.Fatalf("fixture: R1 items (-want +got):\n%s", diff)
			}
			approveR1(t, h, "alice", "bob")
			h.tick()
			h.tick()
			removals := 0
			for _, w := range h.writesOf("project.edit") {
				for _, tx := range w.Transactions {
					if tx.Type == "members.remove" {
						removals++
					}
				}
			}
			rm := h.snapshot().Removals[0]
			st, err := h.bot.Status(campaignName)
			if err != nil {
				t.Fatal(err)
			}
			attention := strings.Join(st.Attention, "\n")
			var heldComments int
			for _, task := range h.srv.Tasks() {
				heldComments += len(h.botCommentsWith(task.ID, "removal/R1/held/"))
			}
			if !tt.held {
				if removals != 1 || rm.Status != state.RemovalDone || rm.Held != "" || heldComments != 0 {
					t.Errorf("R1 %s (held %q), %d removal write(s), %d held comment(s); want done by one write, none held", rm.Status, rm.Held, removals, heldComments)
				}
				return
			}
			if removals != 0 {
				t.Errorf("%d removal write(s) for a held batch", removals)
			}
			if rm.Status != state.RemovalApproved || rm.Held != tt.wantHeldWords {
				t.Errorf("R1 = %s, held %q; want approved, held %q", rm.Status, rm.Held, tt.wantHeldWords)
			}
			if want := "needs a human: removal batch R1 is approved but held by the removal guard-rail"; !strings.Contains(attention, want) {
				t.Errorf("attention lacks %q:\n%s", want, attention)
			}
			// One task per two users: both tasks are told, once each.
			if heldComments != 2 {
				t.Errorf("%d held comments, want 2 (one per task, once)", heldComments)
			}
			if got := h.journalKinds()["removal-held"]; got != 3 {
				t.Errorf("journal has %d removal-held entries, want 3 (the hold, then one per task)", got)
			}
			var sb strings.Builder
			if err := st.WriteText(&sb); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(sb.String(), "Removal R1: approved (held by the removal guard-rail)") {
				t.Errorf("status text lacks the held batch:\n%s", sb.String())
			}

			// A person lifts the limit for this campaign: the next tick
			// executes the batch.
			h.camp = h.parseCampaign(fixture{groups: "[WMF-NDA]", campaignExtra: "removal_limit: {max_share: 100%, max_count: 0}"})
			h.tick()
			rm = h.snapshot().Removals[0]
			if rm.Status != state.RemovalDone || rm.Held != "" {
				t.Errorf("after lifting the limit R1 = %s, held %q; want done", rm.Status, rm.Held)
			}
			if got := h.journalKinds()["removal-released"]; got != 1 {
				t.Errorf("journal has %d removal-released entries, want 1", got)
			}
			checkRemovedOnce(t, h, map[string][]string{"nomfa1": {groupNDA}, "nomfa2": {groupNDA}, "pending001": {groupNDA}})
		})
	}
}

// TestHeldNoteCrashThenReleased: the note on a held batch is cut short by
// a crash (it landed on the first task, its answer lost; the second was
// never sent), and the limit is lifted before the next tick. The batch is
// executed, the lost note is reconciled and the unsent one dropped
// (journaled write-dropped), not posted late; nothing stays unconfirmed
// (crashtest found it pending for good, which kept the campaign open).
func TestHeldNoteCrashThenReleased(t *testing.T) {
	h := newHarness(t, fixture{groups: "[WMF-NDA]", extraPending: 1, configExtra: "removal_limit: {max_share: 100%, max_count: 2}\n"})
	h.launchAndPropose()
	approveR1(t, h, "alice", "bob")
	h.srv.FailAfterWrite("maniphest.edit", 1)
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
		t.Fatal("tick succeeded although the held note's answer was lost")
	}
	if rm := h.snapshot().Removals[0]; rm.Held == "" {
		t.Fatalf("fixture: R1 is not held (%s)", rm.Status)
	}
	h.camp = h.parseCampaign(fixture{groups: "[WMF-NDA]", campaignExtra: "removal_limit: {max_count: 0}"})
	h.tick()
	h.tick()
	if rm := h.snapshot().Removals[0]; rm.Status != state.RemovalDone {
		t.Errorf("R1 is %s, want done", rm.Status)
	}
	if got := h.pendingOps(); len(got) != 0 {
		t.Errorf("pending ops: %v", got)
	}
	var held int
	for _, task := range h.srv.Tasks() {
		held += len(h.botCommentsWith(task.ID, "removal/R1/held/"))
	}
	if held != 1 {
		t.Errorf("%d held notes, want 1 (the one that landed before the crash)", held)
	}
}
