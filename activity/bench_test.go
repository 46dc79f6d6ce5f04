package activity

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
)

// The cost model of a real Phorge (NOTES facts 39-40), applied to what a
// scan asked and got rather than slept for, so the benchmark stays fast:
// ~22 ms per story returned, and per call ~8 ms plus ~11 µs per PHID in
// filterPHIDs (fitted to 1,000 PHIDs matching nothing: ~0.02 s; 10,000:
// ~0.12 s).
const (
	modelStory = 22 * time.Millisecond
	modelCall  = 8 * time.Millisecond
	modelPHID  = 11 * time.Microsecond
)

// costs is what a scan sent and received.
type costs struct{ calls, stories, phids int }

func (c costs) modelled() time.Duration {
	return time.Duration(c.stories)*modelStory + time.Duration(c.calls)*modelCall + time.Duration(c.phids)*modelPHID
}

// tally counts a scan's costs.
type tally struct {
	next Feed
	mu   sync.Mutex
	costs
}

func (t *tally) Feed(ctx context.Context, q conduit.FeedQuery) ([]conduit.Story, error) {
	st, err := t.next.Feed(ctx, q)
	t.mu.Lock()
	t.calls++
	t.stories += len(st)
	t.phids += len(q.FilterPHIDs)
	t.mu.Unlock()
	return st, err
}

func (t *tally) reset() { t.costs = costs{} }

// memCache is an in-memory Cache.
type memCache map[string]state.Activity

func (m memCache) Activities(users []string) (map[string]state.Activity, error) {
	out := map[string]state.Activity{}
	for _, u := range users {
		if a, ok := m[u]; ok {
			out[u] = a
		}
	}
	return out, nil
}

func (m memCache) RecordActivity(acts map[string]state.Activity) error {
	for u, a := range acts {
		m[u] = a
	}
	return nil
}

// naiveScan is what a straightforward script does: one feed.query per
// member, paging only past stories that merely reference them.
func naiveScan(ctx context.Context, f Feed, users []string, lo time.Time) (int, error) {
	active := 0
	for _, u := range users {
		var after uint64
		for {
			page, err := f.Feed(ctx, conduit.FeedQuery{FilterPHIDs: []string{u}, Limit: 1, After: after})
			if err != nil {
				return 0, err
			}
			if len(page) == 0 || page[0].Epoch.Before(lo) {
				break
			}
			if page[0].AuthorPHID == u {
				active++
				break
			}
			after = page[0].ChronologicalKey
		}
	}
	return active, nil
}

// BenchmarkInactivityScan scans n members of whom pct% were active in the
// last year (1-5 stories each; the others have one story two years old),
// and reports Conduit calls, stories read and the modelled server time of
// the scan, of a naive one-call-per-member scan of the same feed, and of a
// re-scan a week later when nothing changed.
func BenchmarkInactivityScan(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, pct := range []int{5, 30, 90} {
			b.Run(fmt.Sprintf("members=%d/active=%d%%", n, pct), func(b *testing.B) {
				srv := phabtest.New(phabtest.Options{Now: func() time.Time { return now }})
				b.Cleanup(srv.Close)
				bot := srv.AddUser(phabtest.UserSpec{Username: "auditbot", Admin: true, Bot: true})
				active := n * pct / 100
				var members []string
				for i := range n {
					u := srv.AddUser(phabtest.UserSpec{Username: fmt.Sprintf("m%05d", i)})
					members = append(members, u.PHID)
					if i*active/n != (i+1)*active/n { // spread evenly
						for k := range 1 + i%5 {
							srv.AddStory(u.PHID, u.PHID, daysAgo(1+(i+k*37)%300))
						}
					} else {
						srv.AddStory(u.PHID, u.PHID, daysAgo(730))
					}
				}
				c, err := conduit.Dial(context.Background(), srv.URL(), conduit.Token(bot.Token),
					conduit.Options{HTTPClient: srv.Client(), RequestsPerSecond: -1})
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				t := &tally{next: c}

				if got, err := naiveScan(ctx, t, members, now.Add(-year)); err != nil || got != active {
					b.Fatalf("naive scan: %d active, %v; want %d", got, err, active)
				}
				naive := t.costs

				var first, again costs
				for b.Loop() {
					cache := memCache{}
					s := &Scanner{Feed: t, Cache: cache, Now: func() time.Time { return now }}
					t.reset()
					got, _, err := s.LastActivity(ctx, members, year)
					if err != nil {
						b.Fatal(err)
					}
					seen := 0
					for _, at := range got {
						if !at.IsZero() {
							seen++
						}
					}
					if seen != active {
						b.Fatalf("%d active, want %d", seen, active)
					}
					first = t.costs
					s.Now = func() time.Time { return now.AddDate(0, 0, 7) }
					t.reset()
					if _, _, err := s.LastActivity(ctx, members, year); err != nil {
						b.Fatal(err)
					}
					again = t.costs
				}
				b.ReportMetric(float64(first.calls), "calls")
				b.ReportMetric(float64(first.stories), "stories")
				b.ReportMetric(float64(first.modelled().Milliseconds()), "model-ms")
				b.ReportMetric(float64(naive.calls), "naive-calls")
				b.ReportMetric(float64(naive.stories), "naive-stories")
				b.ReportMetric(float64(naive.modelled().Milliseconds()), "naive-model-ms")
				b.ReportMetric(float64(again.calls), "rescan-calls")
				b.ReportMetric(float64(again.stories), "rescan-stories")
				chunks := (n + ChunkSize - 1) / ChunkSize
				if first.stories > active+chunks || first.calls > active+chunks+2 || again.calls*20 > first.calls {
					b.Errorf("targets missed: first %d calls %d stories, re-scan %d calls; want ≤ %d stories, ≤ %d calls, re-scan ≤ 5%%",
						first.calls, first.stories, again.calls, active+chunks, active+chunks+2)
				}
			})
		}
	}
}
