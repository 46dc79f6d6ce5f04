package dashboard

import (
	"testing"
	"time"

	"github.com/auditbot/auditbot/state"
)

func TestCountdown(t *testing.T) {
	cutoff := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	pending := []state.Finding{{Username: "a", Status: state.StatusPending}, {Username: "b", Status: state.StatusRemoved}}
	settled := []state.Finding{{Username: "a", Status: state.StatusCompliant}, {Username: "b", Status: state.StatusRemoved}}
	done := []state.Removal{{ID: 1, Status: state.RemovalDone}, {ID: 2, Status: state.RemovalRejected}}
	tests := []struct {
		name        string
		findings    []state.Finding
		removals    []state.Removal
		closed      time.Time
		now         time.Time
		want        string
		wantOverdue bool
	}{
		{name: "before the cutoff", findings: pending, now: cutoff.Add(-50 * time.Hour), want: "2d 2h to the cutoff"},
		{name: "past it with users pending", findings: pending, now: cutoff.Add(26 * time.Hour), want: "1d 2h past the cutoff", wantOverdue: true},
		{name: "past it with a batch waiting for approval", findings: settled, removals: []state.Removal{{ID: 1, Status: state.RemovalProposed}},
			now: cutoff.Add(time.Hour), want: "0d 1h past the cutoff", wantOverdue: true},
		{name: "past it with an approved batch not executed (held)", findings: settled, removals: []state.Removal{{ID: 1, Status: state.RemovalApproved, Held: "too many"}},
			now: cutoff.Add(time.Hour), want: "0d 1h past the cutoff", wantOverdue: true},
		{name: "past it with everything done", findings: settled, removals: done, now: cutoff.Add(58 * time.Hour),
			want: "cutoff passed 2d 10h ago; nobody pending, every removal executed"},
		{name: "closed", findings: settled, removals: done, closed: cutoff.Add(72 * time.Hour), now: cutoff.Add(100 * time.Hour), want: "closed 2027-03-04 00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := &state.Snapshot{Campaign: state.Campaign{Cutoff: cutoff, ClosedAt: tt.closed}, Findings: tt.findings, Removals: tt.removals}
			got, overdue := countdown(snap, tt.now)
			if got != tt.want || overdue != tt.wantOverdue {
				t.Errorf("countdown = %q, overdue %v; want %q, %v", got, overdue, tt.want, tt.wantOverdue)
			}
		})
	}
}

func TestCampaignClock(t *testing.T) {
	wall := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ahead := time.Date(2027, 3, 3, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		latest   time.Time // the journal's latest campaign-clock time
		findings []state.Finding
		want     time.Time
	}{
		{name: "real clock", latest: wall.Add(-time.Hour), findings: []state.Finding{{UpdatedAt: wall.Add(-2 * time.Hour)}}, want: wall},
		{name: "journal ahead", latest: ahead, want: ahead},
		{name: "finding ahead", latest: wall, findings: []state.Finding{{UpdatedAt: ahead}}, want: ahead},
		{name: "nothing yet", want: wall},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := campaignClock(&state.Snapshot{Findings: tt.findings}, tt.latest, wall); !got.Equal(tt.want) {
				t.Errorf("campaignClock = %s, want %s", got, tt.want)
			}
		})
	}
}
