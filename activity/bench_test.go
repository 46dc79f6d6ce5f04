package activity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

// naiveScan is what a straightforward script does, and the independent
// count the scan is checked against: one feed.query per member, paging
// only past stories that merely reference them. It returns each member's
// newest authored story time within the window (lo on).
func naiveScan(ctx context.Context, f Feed, users []string, lo time.Time) (map[string]time.Time, error) {
	active := map[string]time.Time{}
	for _, u := range users {
		var after uint64
		for {
			page, err := f.Feed(ctx, conduit.FeedQuery{FilterPHIDs: []string{u}, Limit: 1, After: after})
			if err != nil {
				return nil, err
			}
			if len(page) == 0 || page[0].Epoch.Before(lo) {
				break
			}
			if page[0].AuthorPHID == u {
				active[u] = page[0].Epoch.UTC()
				break
			}
			after = page[0].ChronologicalKey
		}
	}
	return active, nil
}

// modelled is a population whose activity looks like a real install's: of
// n members, pct % authored stories within the last year, in numbers
// drawn from a Zipf law (most one to a few, a few members hundreds); half
// of the others have one to three stories 400-900 days old, the rest none.
// The bot's own stories about 2 % of the members (account edits) and a
// few active members' edits of others' accounts reference members without
// being theirs. It returns the members' PHIDs.
func modelled(srv *phabtest.Server, bot string, n, pct int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, uint64(n*1000+pct)))
	zipf := rand.NewZipf(r, 1.4, 1, 499)
	at := func(lo, hi int) time.Time { // a random second between lo and hi days ago
		return now.Add(-time.Duration(lo)*24*time.Hour - time.Duration(r.Int64N(int64(hi-lo)*86400))*time.Second)
	}
	members := make([]string, n)
	for i := range members {
		members[i] = srv.AddUser(phabtest.UserSpec{Username: fmt.Sprintf("m%05d", i)}).PHID
	}
	for _, u := range members {
		switch {
		case r.IntN(100) < pct:
			for range 1 + zipf.Uint64() {
				srv.AddStory(u, u, at(0, 360))
			}
			if r.IntN(200) == 0 { // an admin among them edits others' accounts
				for range 5 {
					srv.AddStory(u, members[r.IntN(n)], at(0, 360))
				}
			}
		case r.IntN(2) == 0:
			for range 1 + r.IntN(3) {
				srv.AddStory(u, u, at(400, 900))
			}
		}
		if r.IntN(50) == 0 {
			srv.AddStory(bot, u, at(0, 360))
		}
	}
	return members
}

// BenchmarkInactivityScan scans n members of whom about pct % were active
// in the last year (modelled: a Zipf law of stories per active member),
// checks the answer against naiveScan's (one feed.query per member), and
// reports the Conduit calls, stories read and modelled server time of the
// scan beside its targets, of the naive scan, and of a re-scan a week
// later when nothing changed. Targets: calls at most a quarter of the
// naive scan's at 30 and 90 %, and active/20 + ⌈N/1000⌉ + 2 at 5 %; memory
// (B/op, with the in-process server's) under 200 MB at 10,000 members.
func BenchmarkInactivityScan(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, pct := range []int{5, 30, 90} {
			b.Run(fmt.Sprintf("members=%d/active=%d%%", n, pct), func(b *testing.B) {
				srv := phabtest.New(phabtest.Options{Now: func() time.Time { return now }})
				b.Cleanup(srv.Close)
				bot := srv.AddUser(phabtest.UserSpec{Username: "auditbot", Admin: true, Bot: true})
				members := modelled(srv, bot.PHID, n, pct, 1)
				c, err := conduit.Dial(context.Background(), srv.URL(), conduit.Token(bot.Token),
					conduit.Options{HTTPClient: srv.Client(), RequestsPerSecond: -1})
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				t := &tally{next: c}

				want, err := naiveScan(ctx, t, members, now.Add(-year))
				if err != nil {
					b.Fatal(err)
				}
				naive := t.costs

				var first, again costs
				b.ReportAllocs()
				for b.Loop() {
					s := &Scanner{Feed: t, Cache: memCache{}, Now: func() time.Time { return now }, Ignore: []string{bot.PHID}}
					t.reset()
					got, _, err := s.LastActivity(ctx, members, year)
					if err != nil {
						b.Fatal(err)
					}
					if diff := cmp.Diff(want, activeOnly(got)); diff != "" {
						b.Fatalf("scan differs from one feed.query per member (-naive +scan):\n%s", diff)
					}
					first = t.costs
					s.Now = func() time.Time { return now.AddDate(0, 0, 7) }
					t.reset()
					if _, _, err := s.LastActivity(ctx, members, year); err != nil {
						b.Fatal(err)
					}
					again = t.costs
				}
				active := len(want)
				target := naive.calls / 4
				if pct <= 5 {
					target = active/20 + (n+999)/1000 + 2
				}
				b.ReportMetric(float64(active), "active")
				b.ReportMetric(float64(first.calls), "calls")
				b.ReportMetric(float64(target), "target-calls")
				b.ReportMetric(float64(first.stories), "stories")
				b.ReportMetric(float64(first.modelled().Milliseconds()), "model-ms")
				b.ReportMetric(float64(naive.calls), "naive-calls")
				b.ReportMetric(float64(naive.stories), "naive-stories")
				b.ReportMetric(float64(naive.modelled().Milliseconds()), "naive-model-ms")
				b.ReportMetric(float64(again.calls), "rescan-calls")
				b.ReportMetric(float64(again.stories), "rescan-stories")
				if n >= 10000 {
					b.ReportMetric(200<<20, "target-B/op")
				}
				if first.calls > target || again.calls > (n+RefreshChunkSize-1)/RefreshChunkSize+1 {
					b.Errorf("targets missed: %d calls (target %d), re-scan %d calls", first.calls, target, again.calls)
				}
			})
		}
	}
}

// activeOnly keeps the members with a time.
func activeOnly(got map[string]time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for u, at := range got {
		if !at.IsZero() {
			out[u] = at
		}
	}
	return out
}
