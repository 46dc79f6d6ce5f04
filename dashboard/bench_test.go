package dashboard_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/auditbot/auditbot/dashboard"
	"github.com/auditbot/auditbot/state"
)

// cpuTime is the CPU time the process has used so far: on a machine
// shared with other work, wall time per page measures the neighbours as
// much as the page.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pageMetrics serves path in a loop (write, if set, runs before each
// request, untimed) and reports what a person's browser gets: ms per
// page (wall), cpu-ms per page, the page's bytes and the bytes sent with
// gzip accepted.
func pageMetrics(b *testing.B, h http.Handler, path string, write func()) {
	b.Helper()
	var size, wire int
	var cpu time.Duration
	// The server's first page of a campaign reads and verifies its
	// whole journal once (Server.Warm does it at start): not what each
	// page costs.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	for b.Loop() {
		if write != nil {
			b.StopTimer()
			write()
			b.StartTimer()
		}
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		c0 := cpuTime(b)
		h.ServeHTTP(rec, req)
		cpu += cpuTime(b) - c0
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: status %d", path, rec.Code)
		}
		wire = rec.Body.Len()
		body := rec.Body.Bytes()
		if rec.Header().Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				b.Fatal(err)
			}
		} else {
			// No compression: what gzip would make of it.
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(body)
			zw.Close()
			wire = z.Len()
		}
		size = len(body)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/page")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/page")
	b.ReportMetric(float64(size), "bytes")
	b.ReportMetric(float64(wire), "gzip-bytes")
}

// BenchmarkDashboardCampaign10k renders one campaign page of 10,000
// affected users in 4 groups and 200 tasks, with 2,000 journal entries,
// reading the state file: "unchanged" as between two ticks, and
// "after-a-write" with an entry appended before each page, as during a
// tick (the snapshot is read again, the journal's new entry verified).
// `make bench` prints it; the README quotes it.
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
	appendEntry := func(i int) error {
		return st.Update("big", func(tx *state.CampaignTx) error {
			return tx.Append(state.Entry{At: t0, Kind: "drift", User: fmt.Sprintf("user%05d", i*5%10000)})
		})
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
	// Issue 17's targets for this page, printed beside the results.
	targets := func(b *testing.B) {
		b.ReportMetric(100, "target-ms")
		b.ReportMetric(200_000, "target-bytes")
	}
	b.Run("unchanged", func(b *testing.B) { pageMetrics(b, h, "/campaign/big", nil); targets(b) })
	n := 0
	b.Run("after-a-write", func(b *testing.B) {
		pageMetrics(b, h, "/campaign/big", func() {
			n++
			if err := appendEntry(n); err != nil {
				b.Fatal(err)
			}
		})
		targets(b)
	})
}

// BenchmarkDashboardJournal20k serves pages of a 20,000-entry journal:
// the first, the latest, and one user's entries (a filter that matches
// one entry in a hundred, so a page reads the whole journal in 1,000-entry
// transactions).
func BenchmarkDashboardJournal20k(b *testing.B) {
	st, err := state.Open(bigJournal(b, 20000), state.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	h, err := dashboard.New(dashboard.Options{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct{ name, path string }{
		{"first", "/campaign/big/journal"},
		{"latest", "/campaign/big/journal?before=20001"},
		{"one-user", "/campaign/big/journal?user=user007"},
	} {
		b.Run(tt.name, func(b *testing.B) { pageMetrics(b, h, tt.path, nil) })
	}
	// A server's first page reads and verifies the whole journal, in
	// 1,000-entry transactions: what Server.Warm does once at start.
	b.Run("fresh-server", func(b *testing.B) {
		var cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			h, err := dashboard.New(dashboard.Options{Store: st})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			c0 := cpuTime(b)
			if rec := serve(b, h, "/campaign/big/journal"); rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
			cpu += cpuTime(b) - c0
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/page")
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/page")
	})
}
