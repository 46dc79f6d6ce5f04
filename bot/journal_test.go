package bot_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/state"
)

// journalOf returns the entries of one kind.
func journalOf(t *testing.T, h *harness, kind string) []state.Entry {
	t.Helper()
	var out []state.Entry
	for _, e := range mustJournal(t, h) {
		if string(e.Kind) == kind {
			out = append(out, e)
		}
	}
	return out
}

// TestJournalIsAuditRecord: task-created rows name their task, CLI
// approvals name the operator (not "cli" as a task), a removal names who
// was removed and every approver, and the chain verifies.
func TestJournalIsAuditRecord(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	created := journalOf(t, h, "task-created")
	if len(created) == 0 {
		t.Fatal("no task-created entries")
	}
	for _, e := range created {
		if e.Task == "" || e.Task[0] != 'T' {
			t.Errorf("task-created entry %d has task %q, want a monogram", e.Seq, e.Task)
		}
	}

	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()
	for _, who := range []string{"alice", "bob"} {
		if _, err := h.approve(h.bot, "R1", who); err != nil {
			t.Fatalf("Approve by %s: %v", who, err)
		}
	}
	h.clock.Advance(time.Hour)
	h.tick()

	type approval struct{ Actor, Kind, Task string }
	var approvals []approval
	for _, e := range journalOf(t, h, "removal-approval") {
		approvals = append(approvals, approval{e.Actor, e.ActorKind, e.Task})
		if e.Verified == "" {
			t.Errorf("approval entry %d does not say how it was verified", e.Seq)
		}
	}
	if d := cmp.Diff([]approval{{"alice", state.ActorCLI, ""}, {"bob", state.ActorCLI, ""}}, approvals); d != "" {
		t.Errorf("approval entries (-want +got):\n%s", d)
	}

	removed := map[string][]string{}
	for _, e := range journalOf(t, h, "members-removed") {
		removed[e.Group] = e.Users
		if d := cmp.Diff([]string{"alice", "bob"}, e.Approvers); d != "" {
			t.Errorf("members-removed %s approvers (-want +got):\n%s", e.Group, d)
		}
	}
	want := map[string][]string{groupSecurity: {"erin", "nomfa1", "nomfa3"}, groupNDA: {"nomfa1", "nomfa2"}, groupSRE: {"nomfa2", "nomfa4"}}
	if d := cmp.Diff(want, removed); d != "" {
		t.Errorf("members-removed users per group (-want +got):\n%s", d)
	}

	check, err := h.store.VerifyJournal(campaignName)
	if err != nil || !check.OK || check.Legacy != 0 {
		t.Errorf("VerifyJournal = %+v, %v; want an intact chain", check, err)
	}
}

// TestJournalExemptionNamesAllApprovers: an exemption approved by alice
// then bob is journaled as granted by both.
func TestJournalExemptionNamesAllApprovers(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	h.tick()
	task, _ := h.taskOf("nomfa1")
	h.comment("nomfa1", task, "exemption: I only use the API from a locked-down bot host")
	h.tick()
	h.comment("alice", task, "!approve @nomfa1")
	h.tick()
	h.comment("bob", task, "!approve @nomfa1")
	h.tick()
	decisions := journalOf(t, h, "exemption-decision")
	if len(decisions) != 1 {
		t.Fatalf("%d exemption-decision entries, want 1", len(decisions))
	}
	e := decisions[0]
	if d := cmp.Diff([]string{"alice", "bob"}, e.Approvers); d != "" {
		t.Errorf("approvers (-want +got):\n%s", d)
	}
	if e.Detail != "exemption granted by @alice, @bob" || e.Actor != "bob" || e.ActorKind != state.ActorUser {
		t.Errorf("entry = %q by %s (%s); want granted by @alice, @bob, acted by bob", e.Detail, e.Actor, e.ActorKind)
	}
}
