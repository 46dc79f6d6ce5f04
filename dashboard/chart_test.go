package dashboard

import (
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/state"
)

// TestChartCutoffLabel: a cutoff is stored as the end of its last day
// (midnight UTC of the day after); the chart names the day the tasks
// state, not the day after.
func TestChartCutoffLabel(t *testing.T) {
	cutoff := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC) // "cutoff: 2027-02-28"
	snap := &state.Snapshot{Campaign: state.Campaign{Name: "c", LaunchedAt: cutoff.AddDate(0, -1, 0), Cutoff: cutoff},
		Findings: []state.Finding{{Username: "a", Status: state.StatusPending}, {Username: "b", Status: state.StatusCompliant, UpdatedAt: cutoff.AddDate(0, 0, -3)}}}
	chart, _ := complianceChart(snap, cutoff.AddDate(0, 0, 2))
	out := string(chart)
	if !strings.Contains(out, "cutoff 2027-02-28") || strings.Contains(out, "cutoff 2027-03-01") {
		t.Errorf("chart does not name the cutoff's last day:\n%s", out)
	}
}
