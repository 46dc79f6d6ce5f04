package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/auditbot/auditbot/dashboard"
	"github.com/auditbot/auditbot/state"
)

// bigJournal makes a state file holding campaign "big" whose journal has
// n entries, and returns its path.
func bigJournal(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	c := state.Campaign{Name: "big", Title: "Big", LaunchedAt: t0, Cutoff: t0.AddDate(0, 1, 0), BotUsername: "auditbot",
		Groups: []state.Group{{PHID: "G", Name: "acl*ops", Risk: "internal"}}}
	var findings []state.Finding
	for i := range 100 {
		findings = append(findings, state.Finding{UserPHID: fmt.Sprintf("PHID-USER-%03d", i), Username: fmt.Sprintf("user%03d", i),
			Groups: []string{"G"}, Reasons: []string{"mfa"}, Status: state.StatusPending, Batch: 1})
	}
	if err := st.CreateCampaign(c, findings, []state.Batch{{Index: 1, TaskID: 1}}); err != nil {
		t.Fatal(err)
	}
	// In transactions of 2,000 entries, as ticks would have written them.
	for done := 0; done < n; {
		if err := st.Update("big", func(tx *state.CampaignTx) error {
			for i := 0; i < 2000 && done < n; i++ {
				if err := tx.Append(state.Entry{At: t0.Add(time.Duration(done) * time.Minute), Kind: state.EntryReminder,
					User: fmt.Sprintf("user%03d", done%100), Task: "T1", Detail: "30d before the cutoff"}); err != nil {
					return err
				}
				done++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// TestReadersNeverLockWritersOut: the dashboard's readers, however many
// and however busy, never keep another process from writing the state
// file. bbolt locks the whole file (flock) while any transaction of a
// process has it open; readers whose transactions overlap would hold it
// for good, and a writer waiting for it gives up after the store's lock
// timeout (exit 5 for tick, status, approve). Two processes are two
// Stores on one file here: flock locks belong to the open file, so two
// Stores in one process exclude each other as two processes do.
//
// Each direction: readers through a read-only store (`auditbot serve`)
// with a tick's store writing, and readers through the daemon's own
// read-write store (`auditbot run` serving the dashboard) with another
// command's store reading and writing. The writers use the production
// lock timeout; the assertion is that they got in, not how fast.
func TestReadersNeverLockWritersOut(t *testing.T) {
	path := bigJournal(t, 20000)
	for _, tt := range []struct {
		name           string
		readerReadOnly bool
	}{
		{name: "serve beside a tick", readerReadOnly: true},
		{name: "the daemon's dashboard beside status and approve", readerReadOnly: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			readers, err := state.Open(path, state.Options{ReadOnly: tt.readerReadOnly})
			if err != nil {
				t.Fatal(err)
			}
			defer readers.Close()
			other, err := state.Open(path, state.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			h, err := dashboard.New(dashboard.Options{Store: readers})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			pages := []string{"/campaign/big/journal", "/campaign/big/journal?after=10000", "/campaign/big/journal?user=user007",
				"/campaign/big", "/"}
			for i := range 4 {
				wg.Go(func() {
					for n := i; ctx.Err() == nil; n++ {
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, pages[n%len(pages)], nil))
						if rec.Code != http.StatusOK {
							t.Errorf("%s: %d", pages[n%len(pages)], rec.Code)
						}
					}
				})
			}
			// Let the readers get going first.
			for range 3 {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, pages[0], nil))
			}
			for i := range 3 {
				if _, err := other.Snapshot("big"); err != nil {
					t.Errorf("read %d beside the dashboard: %v", i, err)
				}
				if err := other.Update("big", func(tx *state.CampaignTx) error {
					return tx.Append(state.Entry{At: time.Now(), Kind: state.EntryDrift, User: "user001"})
				}); err != nil {
					t.Errorf("write %d beside the dashboard: %v", i, err)
				}
			}
			cancel()
			wg.Wait()
		})
	}
}
