package bot_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// T1 holds erin and nomfa1; alice, bob (approvers) and dave (not an
// approver) see it through Security-Team, carol through the approvers'
// project.

func TestReplies(t *testing.T) {
	tests := []struct {
		name string
		// act comments on nomfa1's task (T1) and changes the world.
		act func(h *harness, task string)
		// wantStatus is nomfa1's status afterwards.
		wantStatus state.Status
		// wantAnswers are texts each bot answer must contain, in order;
		// nil means no answer at all.
		wantAnswers []string
		// comments is how many answering comments the bot posts: one per
		// tick that answered something (default: 1 if wantAnswers is set).
		comments int
		check    func(t *testing.T, h *harness)
	}{
		{
			name: "done with MFA",
			act: func(h *harness, task string) {
				h.srv.SetMFA(h.phid("nomfa1"), true)
				h.comment("nomfa1", task, "done")
			},
			wantStatus:  state.StatusCompliant,
			wantAnswers: []string{"@nomfa1: thank you. The bot checked your account and multi-factor authentication is enabled"},
		},
		{
			name:        "done without MFA",
			act:         func(h *harness, task string) { h.comment("nomfa1", task, "Done, MFA is enabled now.") },
			wantStatus:  state.StatusPending,
			wantAnswers: []string{"@nomfa1: thank you for your reply. The bot checked your account but does not see multi-factor"},
		},
		{
			name:        "remove me",
			act:         func(h *harness, task string) { h.comment("nomfa1", task, "remove me") },
			wantStatus:  state.StatusVoluntary,
			wantAnswers: []string{"@nomfa1"},
		},
		{
			// nomfa1 is in two security groups: an exemption, like a
			// removal, needs two distinct approvers.
			name: "exemption granted by two approvers",
			act: func(h *harness, task string) {
				h.comment("nomfa1", task, "exemption: I only use the API from a locked-down bot host")
				h.tick()
				h.comment("alice", task, "!approve @nomfa1")
				h.tick()
				if got := h.finding("nomfa1").Status; got != state.StatusPending {
					h.t.Errorf("after one approval nomfa1 = %s, want still pending", got)
				}
				h.comment("alice", task, "!approve @nomfa1")
				h.tick()
				h.comment("bob", task, "!approve @nomfa1")
			},
			wantStatus:  state.StatusExempt,
			comments:    4,
			wantAnswers: []string{"@nomfa1", "@nomfa1", "@alice", "@nomfa1"},
			check: func(t *testing.T, h *harness) {
				ex := h.finding("nomfa1").Exemption
				if ex == nil || ex.Decision != "granted" || ex.DecidedBy != "bob" || len(ex.ApprovedBy) != 2 || ex.Reason != "I only use the API from a locked-down bot host" {
					t.Errorf("exemption = %+v, want granted by alice and bob with the reason", ex)
				}
			},
		},
		{
			// Replies read in the same tick are answered in one comment,
			// in order, each decided on what the ones before it changed.
			name: "replies of one tick answered in one comment",
			act: func(h *harness, task string) {
				h.comment("nomfa1", task, "exemption: I only use the API from a locked-down bot host")
				h.comment("alice", task, "!approve @nomfa1")
				h.comment("bob", task, "!approve @nomfa1")
			},
			wantStatus:  state.StatusExempt,
			wantAnswers: []string{"asked for an exemption", "approval 1 of 2", "@nomfa1"},
			check: func(t *testing.T, h *harness) {
				if ex := h.finding("nomfa1").Exemption; ex == nil || ex.Decision != "granted" || len(ex.ApprovedBy) != 2 {
					t.Errorf("exemption = %+v, want granted by two", ex)
				}
			},
		},
		{
			name: "exemption asked again after a denial",
			act: func(h *harness, task string) {
				h.comment("nomfa1", task, "exemption: I only use the API from a locked-down bot host")
				h.tick()
				h.comment("alice", task, "!deny @nomfa1 use a hardware key")
				h.tick()
				h.comment("nomfa1", task, "exemption: please, really")
			},
			wantStatus:  state.StatusPending,
			comments:    3,
			wantAnswers: []string{"@nomfa1", "@nomfa1", "@nomfa1"},
			check: func(t *testing.T, h *harness) {
				f := h.finding("nomfa1")
				if f.Exemption == nil || f.Exemption.Decision != "denied" {
					t.Errorf("exemption = %+v, want still denied", f.Exemption)
				}
				if len(f.NeedsHuman) != 1 {
					t.Errorf("NeedsHuman = %v, want the repeated request", f.NeedsHuman)
				}
			},
		},
		{
			name: "exemption waits for a decision",
			act: func(h *harness, task string) {
				h.comment("nomfa1", task, "exemption: I only use the API from a locked-down bot host")
			},
			wantStatus:  state.StatusPending,
			wantAnswers: []string{"@nomfa1"},
			check: func(t *testing.T, h *harness) {
				if ex := h.finding("nomfa1").Exemption; ex == nil || ex.Decision != "pending" {
					t.Errorf("exemption = %+v, want pending", ex)
				}
			},
		},
		{
			name: "non-approver cannot approve",
			act: func(h *harness, task string) {
				h.comment("nomfa1", task, "exemption: I only use the API from a locked-down bot host")
				h.tick()
				h.comment("dave", task, "!approve @nomfa1")
			},
			wantStatus:  state.StatusPending,
			comments:    2,
			wantAnswers: []string{"@nomfa1", "#acl_phabricator-admins"},
			check: func(t *testing.T, h *harness) {
				if ex := h.finding("nomfa1").Exemption; ex == nil || ex.Decision != "pending" {
					t.Errorf("exemption = %+v, want still pending", ex)
				}
				if h.journalKinds()["command-refused"] != 1 {
					t.Errorf("journal: %v, want one command-refused", h.journalKinds())
				}
			},
		},
		{
			name: "approver cannot approve their own exemption",
			act: func(h *harness, task string) {
				h.comment("erin", task, "exemption: my phone was stolen, new one next week")
				h.tick()
				h.comment("erin", task, "!approve @erin")
			},
			wantStatus:  state.StatusPending,
			comments:    2,
			wantAnswers: []string{"@erin", "own exemption"},
			check: func(t *testing.T, h *harness) {
				f := h.finding("erin")
				if f.Status != state.StatusPending || f.Exemption == nil || f.Exemption.Decision != "pending" {
					t.Errorf("erin = %s, exemption %+v; want pending, exemption pending", f.Status, f.Exemption)
				}
			},
		},
		{
			name:       "bot never answers itself",
			act:        func(h *harness, task string) { h.comment("auditbot", task, "done") },
			wantStatus: state.StatusPending,
		},
		{
			name:       "comment from outside the batch is ignored",
			act:        func(h *harness, task string) { h.comment("dave", task, "done") },
			wantStatus: state.StatusPending,
			check: func(t *testing.T, h *harness) {
				if h.journalKinds()["ignored"] != 1 {
					t.Errorf("journal: %v, want one ignored", h.journalKinds())
				}
			},
		},
		{
			name: "another batch's user is outside this batch",
			act: func(h *harness, task string) {
				// nomfa2 (batch 2) cannot see T1; seed the comment directly.
				h.srv.AddComment(phabtestComment(h, task, "nomfa2", "remove me"))
			},
			wantStatus: state.StatusPending,
			check: func(t *testing.T, h *harness) {
				if got := h.finding("nomfa2").Status; got != state.StatusPending {
					t.Errorf("nomfa2 = %s, want pending", got)
				}
			},
		},
		{
			name: "unsubscribing is flagged",
			act: func(h *harness, task string) {
				_, err := h.as("nomfa1").EditTask(h.ctx, task, conduit.Edit{Type: "subscribers.remove", Value: []string{h.phid("nomfa1")}})
				if err != nil {
					h.t.Fatalf("unsubscribe: %v", err)
				}
			},
			wantStatus: state.StatusPending,
			check: func(t *testing.T, h *harness) {
				if !h.finding("nomfa1").Unsubscribed {
					t.Errorf("nomfa1 not flagged as unsubscribed")
				}
				if h.finding("erin").Unsubscribed {
					t.Errorf("erin flagged as unsubscribed")
				}
				var entries []string
				for _, e := range mustJournal(t, h) {
					if e.Kind == "unsubscribed" {
						entries = append(entries, e.User+": "+e.Detail)
					}
				}
				if len(entries) != 1 || !strings.HasPrefix(entries[0], "nomfa1: ") {
					t.Errorf("unsubscribed journal entries = %q, want one naming nomfa1", entries)
				}
			},
		},
		{
			name: "unclear reply needs a human",
			act: func(h *harness, task string) {
				h.comment("nomfa1", task, "How do I enable this on my phone?")
			},
			wantStatus:  state.StatusPending,
			wantAnswers: []string{"@nomfa1"},
			check: func(t *testing.T, h *harness) {
				if got := h.finding("nomfa1").NeedsHuman; len(got) != 1 {
					t.Errorf("NeedsHuman = %v, want one entry", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launch()
			h.tick()
			task, id := h.taskOf("nomfa1")
			before := h.allBotComments()
			tt.act(h, task)
			h.clock.Advance(time.Minute)
			h.tick()

			if got := h.finding("nomfa1").Status; got != tt.wantStatus {
				t.Errorf("nomfa1 = %s, want %s", got, tt.wantStatus)
			}
			// Every answer of the tick is in one comment, in order.
			comments := h.botCommentsWith(id, "replies/")
			wantComments := tt.comments
			if wantComments == 0 {
				wantComments = min(len(tt.wantAnswers), 1)
			}
			if len(comments) != wantComments {
				t.Fatalf("%d answering comments on %s, want %d", len(comments), task, wantComments)
			}
			answers := h.answers(id)
			if len(answers) != len(tt.wantAnswers) {
				t.Fatalf("%d answers on %s, want %d:\n%s", len(answers), task, len(tt.wantAnswers), strings.Join(answers, "\n----\n"))
			}
			for i, want := range tt.wantAnswers {
				if !strings.Contains(answers[i], want) {
					t.Errorf("answer %d does not contain %q:\n%s", i+1, want, answers[i])
				}
			}
			if got := h.allBotComments() - before; got != wantComments {
				t.Errorf("bot posted %d comments in all, want %d", got, wantComments)
			}
			if tt.check != nil {
				tt.check(t, h)
			}

			// Ticking again answers nothing twice.
			n := h.allBotComments()
			h.clock.Advance(time.Minute)
			h.tick()
			if got := h.allBotComments(); got != n {
				t.Errorf("second tick posted %d more comment(s)", got-n)
			}
			if got := h.pendingOps(); len(got) != 0 {
				t.Errorf("pending ops: %v", got)
			}
		})
	}
}

func TestApproveRemovalOnTask(t *testing.T) {
	// "!approve" on a task approves the memberships that task's
	// announcement showed, once per approver; a non-approver's is
	// refused. The batch runs only once every task's memberships have
	// enough approvers (seen before the fix: 7 shown, 44 removed).
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	task, _ := h.taskOf("nomfa1")
	h.comment("dave", task, "!approve")
	h.comment("alice", task, "!approve")
	h.comment("alice", task, "!approve")
	h.tick()
	rm := h.snapshot().Removals[0]
	if rm.Status != state.RemovalProposed || len(rm.Approvals) != 1 || rm.Approvals[0].Username != "alice" || rm.Approvals[0].Via != task {
		t.Fatalf("R1 = %s with approvals %+v, want proposed with alice's approval via %s", rm.Status, rm.Approvals, task)
	}
	if a := rm.Approvals[0]; a.Source == nil || a.Source.Task != task || a.Source.TxPHID == "" || len(a.Scope) != 1 || a.Scope[0] != h.finding("nomfa1").Batch ||
		!strings.HasPrefix(a.Verified, "task "+task+" comment PHID-XACT-") {
		t.Errorf("alice's approval = %+v, want its source comment on %s and scope batch %d", a, task, h.finding("nomfa1").Batch)
	}
	if got := h.journalKinds()["command-refused"]; got != 2 {
		t.Errorf("%d refusals journaled, want 2 (dave, and alice's second)", got)
	}
	h.comment("bob", task, "!approve")
	h.tick()
	rm = h.snapshot().Removals[0]
	// Two approvers for this task's memberships, none for the others':
	// nothing is removed.
	if rm.Status != state.RemovalProposed || rm.ApprovalsFor(h.finding("nomfa1").Batch) != 2 {
		t.Errorf("R1 = %s with %d approvals for %s, want proposed with 2", rm.Status, rm.ApprovalsFor(h.finding("nomfa1").Batch), task)
	}
	if w := h.writesOf("project.edit"); len(w) != 0 {
		t.Fatalf("approvals on %s removed memberships shown only elsewhere: %+v", task, w)
	}
	// Approving on every task of the batch completes it.
	for _, bt := range h.snapshot().Batches {
		if bt.Monogram() == task || !slices.ContainsFunc(rm.Items, func(it state.RemovalItem) bool { return it.Batch == bt.Index }) {
			continue
		}
		h.comment("alice", bt.Monogram(), "!approve")
		h.comment("bob", bt.Monogram(), "!approve")
	}
	h.tick()
	if rm := h.snapshot().Removals[0]; rm.Status != state.RemovalDone {
		t.Errorf("R1 = %s after approvals on every task, want done", rm.Status)
	}
}

// TestEditedApprovalIsWithdrawn: an approver who edits "!approve" into
// something else takes the approval back. Edited before the bot reads it,
// the current text is what counts (fact 45: newest version first); edited
// after it was counted, the bot sees it only by reading the comment again
// right before the removal, and removes no one.
func TestEditedApprovalIsWithdrawn(t *testing.T) {
	t.Run("edited before the bot reads it", func(t *testing.T) {
		h := newHarness(t, fixture{})
		h.launchAndPropose()
		task, _ := h.taskOf("nomfa1")
		tx := h.commentTx("alice", task, "!approve")
		h.srv.EditComment(tx, "I withdraw my approval")
		h.tick()
		if rm := h.snapshot().Removals[0]; len(rm.Approvals) != 0 {
			t.Errorf("R1 approvals = %+v, want none: the comment now withdraws", rm.Approvals)
		}
	})
	for _, tt := range []struct {
		name string
		edit func(h *harness, tx string)
	}{
		{"edited after it was counted", func(h *harness, tx string) { h.srv.EditComment(tx, "I withdraw my approval") }},
		{"deleted after it was counted", func(h *harness, tx string) { h.srv.DeleteComment(tx) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launchAndPropose()
			rm := h.snapshot().Removals[0]
			var alices []string
			for _, bt := range h.snapshot().Batches {
				if !slices.ContainsFunc(rm.Items, func(it state.RemovalItem) bool { return it.Batch == bt.Index }) {
					continue
				}
				alices = append(alices, h.commentTx("alice", bt.Monogram(), "!approve"))
				h.comment("bob", bt.Monogram(), "!approve")
			}
			if _, err := h.bot.Tick(h.ctx, bot.TickOptions{Only: []string{"replies"}}); err != nil {
				t.Fatal(err)
			}
			if st := h.snapshot().Removals[0].Status; st != state.RemovalApproved {
				t.Fatalf("R1 = %s, want approved before the edit", st)
			}
			tt.edit(h, alices[0])
			h.tick()
			if w := h.writesOf("project.edit"); len(w) != 0 {
				t.Fatalf("removed members on a withdrawn approval: %+v", w)
			}
			rm = h.snapshot().Removals[0]
			if rm.Status != state.RemovalProposed || slices.ContainsFunc(rm.Approvals, func(a state.Approval) bool { return a.Source != nil && a.Source.TxPHID == alices[0] }) {
				t.Errorf("R1 = %s with %+v, want proposed without the withdrawn approval", rm.Status, rm.Approvals)
			}
			if got := h.journalKinds()["approval-withdrawn"]; got != 1 {
				t.Errorf("%d approval-withdrawn entries, want 1", got)
			}
		})
	}
}

// TestEditedRemoveMe: "remove me" edited into something else before the
// removal runs is no voluntary removal: the user is pending again and
// flagged for a human.
func TestEditedRemoveMe(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	task, _ := h.taskOf("nomfa1")
	tx := h.commentTx("nomfa1", task, "remove me")
	h.tick()
	if st := h.finding("nomfa1").Status; st != state.StatusVoluntary {
		t.Fatalf("nomfa1 = %s, want voluntary", st)
	}
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick() // proposes R1
	h.srv.EditComment(tx, "actually I need this access: exemption please, on-call until 2027-06-01")
	approveR1(t, h, "alice", "bob")
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{Only: []string{"execute-removals"}}); err != nil {
		t.Fatal(err)
	}
	f := h.finding("nomfa1")
	if f.Status == state.StatusVoluntary || len(f.NeedsHuman) == 0 {
		t.Errorf("nomfa1 = %s, needs-human %v; want no longer voluntary and flagged", f.Status, f.NeedsHuman)
	}
	if got := h.journalKinds()["voluntary-withdrawn"]; got != 1 {
		t.Errorf("%d voluntary-withdrawn entries, want 1", got)
	}
}

func TestDenyRemovalOnTask(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	task, _ := h.taskOf("nomfa1")
	h.comment("carol", task, "!deny the deadline was not announced on the mailing list")
	h.tick()
	snap := h.snapshot()
	if len(snap.Removals) != 1 || snap.Removals[0].Status != state.RemovalRejected || snap.Removals[0].RejectedBy != "carol" {
		t.Fatalf("removals = %+v, want R1 rejected by carol", snap.Removals)
	}
	// A rejected pair is not proposed again.
	h.clock.Advance(time.Hour)
	h.tick()
	if n := len(h.snapshot().Removals); n != 1 {
		t.Errorf("%d removal batches after the rejection, want 1", n)
	}
	if w := h.writesOf("project.edit"); len(w) != 0 {
		t.Errorf("rejected removal removed members: %+v", w)
	}
}

// TestApproversSubscribedWhenAsked checks that the approvers' project is
// not subscribed to every task (each comment would mail all its members)
// but only by the comments that ask it for a decision, so that its
// members can read the task from then on.
func TestApproversSubscribedWhenAsked(t *testing.T) {
	subscribed := func(h *harness, id int) bool {
		for _, tk := range h.srv.Tasks() {
			if tk.ID == id {
				return slices.Contains(tk.SubscriberPHIDs, h.group(groupApprovers).PHID)
			}
		}
		h.t.Fatalf("no task T%d", id)
		return false
	}
	sees := func(h *harness, user string, id int) bool {
		got, err := h.as(user).SearchTasks(h.ctx, conduit.TaskQuery{IDs: []int{id}})
		if err != nil {
			h.t.Fatalf("search as %s: %v", user, err)
		}
		return len(got) == 1
	}
	t.Run("exemption request", func(t *testing.T) {
		h := newHarness(t, fixture{})
		h.launch()
		task, id := h.taskOf("nomfa1")
		other, otherID := h.taskOf("nomfa2")
		if subscribed(h, id) || sees(h, "carol", id) {
			t.Fatalf("approvers subscribed to %s at launch", task)
		}
		h.comment("nomfa1", task, "exemption: I only use the API from a locked-down bot host")
		h.comment("nomfa2", other, "How do I enable this on my phone?")
		h.tick()
		if !subscribed(h, id) || !sees(h, "carol", id) {
			t.Errorf("after the exemption request on %s: approvers subscribed %v, carol sees it %v; want both", task, subscribed(h, id), sees(h, "carol", id))
		}
		if subscribed(h, otherID) {
			t.Errorf("a question with no decision to make subscribed the approvers to %s", other)
		}
		if a := h.answers(id); len(a) != 1 || !strings.Contains(a[0], "#acl_phabricator-admins") {
			t.Errorf("answer %q does not mention the approvers' project", a)
		}
		// carol can now decide on the task.
		h.comment("carol", task, "!approve @nomfa1")
		h.tick()
		if a := h.answers(id); len(a) != 2 || !strings.Contains(a[1], "approval 1 of 2") {
			t.Errorf("answers %q, want carol's approval recorded", a)
		}
	})
	t.Run("removal proposal", func(t *testing.T) {
		h := newHarness(t, fixture{})
		h.launchAndPropose()
		n := 0
		for _, tk := range h.srv.Tasks() {
			if len(h.botCommentsWith(tk.ID, "removal/")) == 0 {
				continue
			}
			n++
			if !subscribed(h, tk.ID) {
				t.Errorf("T%d: removal announced, approvers not subscribed", tk.ID)
			}
		}
		if n == 0 {
			t.Fatal("no removal announced")
		}
	})
}
