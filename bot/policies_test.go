package bot_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
)

// TestChangedTaskPolicyIsRestored: someone who may edit an audit task makes
// it public (NOTES fact 46). The next tick puts the launch's policies back
// exactly once, even when the answer to the restore is lost, journals who
// changed them, and status flags it for a human.
func TestChangedTaskPolicyIsRestored(t *testing.T) {
	for _, tt := range []struct {
		name string
		// lose drops the answer to the restore: the next tick must find it
		// landed and not write again.
		lose  bool
		edits []conduit.Edit
	}{
		{name: "view made public", edits: []conduit.Edit{{Type: "view", Value: "public"}}},
		{name: "both policies opened", edits: []conduit.Edit{{Type: "view", Value: "users"}, {Type: "edit", Value: "users"}}},
		{name: "answer to the restore lost", lose: true, edits: []conduit.Edit{{Type: "view", Value: "public"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launch()
			before, _ := h.srv.Task(1)
			// alice, an administrator in the team, may edit the task.
			h.editAs("alice", "T1", tt.edits...)
			if task, _ := h.srv.Task(1); task.ViewPolicy == before.ViewPolicy {
				t.Fatal("fixture: the view policy did not change")
			}
			writes := len(h.writesOf("maniphest.edit"))

			if tt.lose {
				h.srv.FailAfterWrite("maniphest.edit", 1)
				if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
					t.Fatal("tick succeeded although the restore's answer was lost")
				}
			}
			h.tick()
			h.tick()

			after, _ := h.srv.Task(1)
			if diff := cmp.Diff([2]string{before.ViewPolicy, before.EditPolicy}, [2]string{after.ViewPolicy, after.EditPolicy}); diff != "" {
				t.Errorf("T1 policies view/edit after the tick (-want +got):\n%s", diff)
			}
			var restores []phabtest.Write
			for _, w := range h.writesOf("maniphest.edit")[writes:] {
				if w.ActorPHID == h.botU.PHID && w.ObjectID == 1 {
					restores = append(restores, w)
				}
			}
			if len(restores) != 1 {
				t.Errorf("the bot wrote to T1 %d times, want one restore: %+v", len(restores), restores)
			}
			for _, other := range []int{2, 3} {
				if task, _ := h.srv.Task(other); task.ViewPolicy != before.ViewPolicy || task.EditPolicy != before.EditPolicy {
					t.Errorf("T%d policies changed: %s/%s", other, task.ViewPolicy, task.EditPolicy)
				}
			}
			entries := mustJournal(t, h)
			var journaled []string
			for _, e := range entries {
				if e.Kind == "policy-restored" {
					journaled = append(journaled, e.Task+": "+e.Detail)
				}
			}
			// What was restored is said even when the restore's answer
			// was lost and the next tick found it landed (crashtest found
			// it dropped there).
			if len(journaled) != 1 || !strings.HasPrefix(journaled[0], "T1: policy changed by @alice; restored view ") {
				t.Errorf("journal policy-restored entries = %q, want one for T1 naming @alice and the view policy restored", journaled)
			}
			if got := h.pendingOps(); len(got) != 0 {
				t.Errorf("pending ops: %v", got)
			}
			st, err := h.bot.Status(campaignName)
			if err != nil {
				t.Fatal(err)
			}
			var flagged []string
			for _, a := range st.Attention {
				if strings.Contains(a, "policy was changed") {
					flagged = append(flagged, a)
				}
			}
			if len(flagged) != 1 || !strings.HasPrefix(flagged[0], "T1: ") || !strings.Contains(flagged[0], "@alice") {
				t.Errorf("status attention = %q, want T1 flagged with @alice", flagged)
			}

			// A later change is a new event: restored once more.
			h.editAs("bob", "T1", conduit.Edit{Type: "view", Value: "public"})
			h.tick()
			if task, _ := h.srv.Task(1); task.ViewPolicy != before.ViewPolicy {
				t.Errorf("T1 view policy after bob's change = %s, want %s", task.ViewPolicy, before.ViewPolicy)
			}
			if got := h.journalKinds()["policy-restored"]; got != 2 {
				t.Errorf("%d policy-restored entries after a second change, want 2", got)
			}
		})
	}
}

// TestPolicyLockingOutTheBot: a policy change the bot cannot undo (the task
// now editable, or visible, only by one person) fails the chore every tick
// until a human acts, and changes nothing else.
func TestPolicyLockingOutTheBot(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit conduit.Edit
		want string
	}{
		{"edit policy set to one user", conduit.Edit{Type: "edit", Value: "ALICE"}, "You Shall Not Pass"},
		{"view policy set to one user", conduit.Edit{Type: "view", Value: "ALICE"}, "no longer visible to the bot"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launch()
			tt.edit.Value = strings.ReplaceAll(tt.edit.Value.(string), "ALICE", h.phid("alice"))
			h.editAs("alice", "T1", tt.edit)
			for range 2 {
				_, err := h.bot.Tick(h.ctx, bot.TickOptions{Only: []string{"policies"}})
				if err == nil || !strings.Contains(err.Error(), "T1") || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("tick: %v, want an error about T1 with %q", err, tt.want)
				}
			}
			if got := h.journalKinds()["policy-restored"]; got != 0 {
				t.Errorf("%d policy-restored entries, want 0", got)
			}
		})
	}
}

// TestGuardReadsHistoryOnce: someone makes a task public and subscribes
// an outsider in one edit. The policies chore takes both back in that
// tick, having read the task's history once (transaction.search) for the
// access and the policy check together; the next tick has nothing to
// take back and reads no history at all.
func TestGuardReadsHistoryOnce(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	h.editAs("alice", "T1", conduit.Edit{Type: "view", Value: "public"},
		conduit.Edit{Type: "subscribers.add", Value: []string{h.phid("outsider")}})
	for i, want := range []int{1, 0} {
		h.srv.ResetCalls()
		if _, err := h.bot.Tick(h.ctx, bot.TickOptions{Only: []string{"policies"}}); err != nil {
			t.Fatalf("tick %d: %v", i+1, err)
		}
		if got := h.srv.Calls()["transaction.search"]; got != want {
			t.Errorf("tick %d read a history %d times, want %d (calls: %v)", i+1, got, want, h.srv.Calls())
		}
	}
	task, _ := h.srv.Task(1)
	if task.ViewPolicy == "public" {
		t.Error("T1 is still public")
	}
	if got := h.journalKinds(); got["policy-restored"] != 1 || got["access-revoked"] != 1 {
		t.Errorf("journal: %d policy-restored, %d access-revoked; want one of each", got["policy-restored"], got["access-revoked"])
	}
}
