package bot_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/state"
)

func TestDrift(t *testing.T) {
	tests := []struct {
		name   string
		change func(h *harness)
		want   map[string]state.Status
	}{
		{
			name:   "MFA enabled",
			change: func(h *harness) { h.srv.SetMFA(h.phid("nomfa1"), true) },
			want:   map[string]state.Status{"nomfa1": state.StatusCompliant},
		},
		{
			name: "left every group",
			change: func(h *harness) {
				h.srv.RemoveMembers(h.group(groupSecurity).PHID, h.phid("nomfa1"))
				h.srv.RemoveMembers(h.group(groupNDA).PHID, h.phid("nomfa1"))
			},
			want: map[string]state.Status{"nomfa1": state.StatusLeft},
		},
		{
			name:   "left one of two groups",
			change: func(h *harness) { h.srv.RemoveMembers(h.group(groupNDA).PHID, h.phid("nomfa2")) },
			want:   map[string]state.Status{},
		},
		{
			name:   "disabled",
			change: func(h *harness) { h.srv.SetDisabled(h.phid("nomfa3"), true) },
			want:   map[string]state.Status{"nomfa3": state.StatusDisabled},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launch()
			h.tick()
			tt.change(h)
			h.clock.Advance(time.Hour)
			h.tick()
			want := map[string]state.Status{}
			for _, u := range []string{"erin", "nomfa1", "nomfa2", "nomfa3", "nomfa4"} {
				want[u] = state.StatusPending
				if s, ok := tt.want[u]; ok {
					want[u] = s
				}
			}
			if diff := cmp.Diff(want, h.statuses()); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			if got, want := h.journalKinds()["drift"], len(tt.want); got != want {
				t.Errorf("journal has %d drift entries, want %d", got, want)
			}
			// Drift alone writes nothing to Phabricator.
			if w := h.writesOf("maniphest.edit"); len(w) != 3 {
				t.Errorf("%d maniphest.edit writes, want the 3 task creations only", len(w))
			}
		})
	}
}

func TestDriftStatusesAreRechecked(t *testing.T) {
	// A compliant user who is still compliant stays so; a voluntary one
	// who leaves becomes left-group.
	h := newHarness(t, fixture{})
	h.launch()
	h.srv.SetMFA(h.phid("nomfa3"), true)
	task, _ := h.taskOf("nomfa4")
	h.comment("nomfa4", task, "remove me")
	h.tick()
	if got := h.finding("nomfa4").Status; got != state.StatusVoluntary {
		t.Fatalf("nomfa4 = %s, want voluntary", got)
	}
	h.srv.RemoveMembers(h.group(groupSRE).PHID, h.phid("nomfa4"))
	h.tick()
	if got := h.statuses(); got["nomfa3"] != state.StatusCompliant || got["nomfa4"] != state.StatusLeft {
		t.Errorf("statuses %v, want nomfa3 compliant and nomfa4 left-group", got)
	}
}

func TestDriftCallsAreBatched(t *testing.T) {
	// Drift asks project.search once for every group and user.search once
	// per 100 users in play, however many users there are.
	for _, tt := range []struct {
		extra          int
		wantUserSearch int
	}{
		{0, 1},
		{25, 1},
		{150, 2},
	} {
		t.Run(fmt.Sprintf("%d more pending users", tt.extra), func(t *testing.T) {
			h := newHarness(t, fixture{extraPending: tt.extra, batchSize: 20})
			h.launch()
			if got := len(h.snapshot().Findings); got != 5+tt.extra {
				t.Fatalf("%d findings, want %d", got, 5+tt.extra)
			}
			h.srv.ResetCalls()
			h.clock.Advance(time.Hour)
			if _, err := h.bot.Tick(h.ctx, bot.TickOptions{Only: []string{"drift"}}); err != nil {
				t.Fatalf("drift: %v", err)
			}
			want := map[string]int{"project.search": 1, "user.search": tt.wantUserSearch}
			if diff := cmp.Diff(want, h.srv.Calls()); diff != "" {
				t.Errorf("Conduit calls of one drift chore (-want +got):\n%s", diff)
			}

			// Half the extra users enable MFA: still the same calls.
			for i := 1; i <= tt.extra/2; i++ {
				h.srv.SetMFA(h.phid(fmt.Sprintf("pending%03d", i)), true)
			}
			h.srv.ResetCalls()
			if _, err := h.bot.Tick(h.ctx, bot.TickOptions{Only: []string{"drift"}}); err != nil {
				t.Fatalf("drift: %v", err)
			}
			if diff := cmp.Diff(want, h.srv.Calls()); diff != "" {
				t.Errorf("Conduit calls of the second drift chore (-want +got):\n%s", diff)
			}
			compliant := 0
			for u, s := range h.statuses() {
				if s == state.StatusCompliant {
					compliant++
					if !strings.HasPrefix(u, "pending") {
						t.Errorf("@%s became compliant", u)
					}
				}
			}
			if compliant != tt.extra/2 {
				t.Errorf("%d users compliant, want %d", compliant, tt.extra/2)
			}
		})
	}
}

func TestTickOnlyUnknownChore(t *testing.T) {
	h := newHarness(t, fixture{})
	_, err := h.bot.Tick(h.ctx, bot.TickOptions{Only: []string{"no-such-chore"}})
	if err == nil || !strings.Contains(err.Error(), "no-such-chore") {
		t.Errorf("Tick with an unknown chore: %v", err)
	}
}
