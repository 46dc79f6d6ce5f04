package bot_test

import (
	"testing"
	"time"

	"github.com/auditbot/auditbot/state"
)

// TestApprovedRemovalWaitsForAnEarlierClock: a tick whose clock is earlier
// than an approved batch's proposal (the daemon on the wall clock beside a
// `tick --now` in the future: crashtest's TestCommandsBesideTheDaemon)
// leaves the batch approved. Before, it found none of its members due yet
// and closed it as done, having removed nobody, and the approvals were lost.
func TestApprovedRemovalWaitsForAnEarlierClock(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose() // proposed at cutoff + 1h
	approveR1(t, h, "alice", "bob")

	h.clock.Set(cutoff.AddDate(0, 0, -90))
	h.tick()
	if rm := h.snapshot().Removals[0]; rm.Status != state.RemovalApproved {
		t.Errorf("after a tick on an earlier clock R1 is %q, want %q", rm.Status, state.RemovalApproved)
	}
	if n := h.journalKinds()[string(state.EntryRemovalDone)]; n != 0 {
		t.Errorf("%d removal-done entries after a tick on an earlier clock, want 0", n)
	}
	if w := h.writesOf("project.edit"); len(w) != 0 {
		t.Errorf("a tick on an earlier clock edited memberships: %+v", w)
	}

	h.clock.Set(cutoff.Add(2 * time.Hour))
	h.tick()
	checkRemovedOnce(t, h, map[string][]string{
		"erin": {groupSecurity}, "nomfa1": {groupSecurity, groupNDA}, "nomfa2": {groupSRE, groupNDA},
		"nomfa3": {groupSecurity}, "nomfa4": {groupSRE},
	})
	if rm := h.snapshot().Removals[0]; rm.Status != state.RemovalDone {
		t.Errorf("R1 is %q after a tick past its proposal, want %q", rm.Status, state.RemovalDone)
	}
}
