package dashboard_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditbot/auditbot/dashboard"
	"github.com/auditbot/auditbot/state"
)

// BenchmarkDashboardCampaign10k renders one campaign page of 10,000
// affected users in 4 groups and 200 tasks, reading the state file.
func BenchmarkDashboardCampaign10k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.db")
	st, err := state.Open(path, state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	groups := []state.Group{{PHID: "G1", Name: "g-internal", Risk: "internal"}, {PHID: "G2", Name: "g-security", Risk: "security"},
		{PHID: "G3", Name: "g-vandalism", Risk: "vandalism"}, {PHID: "G4", Name: "g-none", Risk: "not-risky"}}
	c := state.Campaign{Name: "big", Title: "Big", LaunchedAt: t0, Cutoff: t0.Add(30 * 24 * time.Hour), Groups: groups, BotUsername: "auditbot"}
	statuses := []state.Status{state.StatusPending, state.StatusCompliant, state.StatusRemoved, state.StatusExempt}
	var findings []state.Finding
	batches := make([]state.Batch, 200)
	for i := range batches {
		batches[i] = state.Batch{Index: i + 1, TaskID: i + 1, TaskPHID: fmt.Sprint("T", i)}
	}
	for i := range 10000 {
		phid := fmt.Sprintf("PHID-USER-%05d", i)
		findings = append(findings, state.Finding{UserPHID: phid, Username: fmt.Sprintf("user%05d", i), RealName: "<b>User</b>",
			Groups: []string{groups[i%4].PHID}, Reasons: []string{"mfa"}, Status: statuses[i%4], Batch: i%200 + 1, UpdatedAt: t0.Add(time.Duration(i) * time.Minute)})
		batches[i%200].UserPHIDs = append(batches[i%200].UserPHIDs, phid)
	}
	if err := st.CreateCampaign(c, findings, batches); err != nil {
		b.Fatal(err)
	}
	if err := st.Update("big", func(tx *state.CampaignTx) error {
		for i := range 2000 {
			if err := tx.Append(state.Entry{At: t0, Kind: "drift", User: fmt.Sprintf("user%05d", i*5)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	h, err := dashboard.New(dashboard.Options{Store: st, PhabURL: "https://phab.example.org", Now: func() time.Time { return t0.Add(40 * 24 * time.Hour) }})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/campaign/big", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes")
}
