package bot_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// BenchmarkIdleTick10k launches an MFA campaign over 10,000 members (a
// third without MFA, a task per 20 of them) against the in-process
// Phabricator, ticks once so every task is seen, then measures one idle
// tick: nothing changed, nothing to do.
func BenchmarkIdleTick10k(b *testing.B) {
	const n = 10000
	clock := &benchClock{t: benchNow()}
	srv, _, camp := largeLabWith(b, n, phabtest.Options{Now: clock.now})
	bt := tickBot(b, srv, camp, clock.now)
	res, err := bt.Launch(context.Background(), camp)
	if err != nil {
		b.Fatal(err)
	}
	clock.advance(time.Hour)
	if _, err := bt.Tick(context.Background(), bot.TickOptions{}); err != nil {
		b.Fatal(err)
	}
	calls := 0
	var by map[string]int
	for b.Loop() {
		b.StopTimer()
		clock.advance(10 * time.Minute)
		b.StartTimer()
		srv.ResetCalls()
		if _, err := bt.Tick(context.Background(), bot.TickOptions{}); err != nil {
			b.Fatal(err)
		}
		by = srv.Calls()
		calls = 0
		for _, c := range by {
			calls += c
		}
	}
	b.Logf("tasks %d: %v", len(res.Tasks), by)
	b.ReportMetric(float64(calls), "calls/tick")
	b.ReportMetric(float64(idleTarget(len(res.Tasks), (n+2)/3)), "target-calls/tick")
}

// idleTarget is issue 17's bound on an idle tick over tasks tasks and
// users watched users: one maniphest.search per 100 tasks, one
// user.search per 100 users (drift), and 3 more.
func idleTarget(tasks, users int) int { return (tasks+99)/100 + (users+99)/100 + 3 }

// tickBot is a bot of its own, with an empty state file, on the bench's
// server, as its account "auditbot"; it ticks camp (when not nil).
func tickBot(b testing.TB, srv *phabtest.Server, camp *campaigns.Campaign, now func() time.Time) *bot.Bot {
	b.Helper()
	cfg, err := campaigns.ParseConfig("bench.yaml", []byte("conduit:\n  url: "+srv.URL()+"\n"))
	if err != nil {
		b.Fatal(err)
	}
	self, ok := srv.User("auditbot")
	if !ok {
		b.Fatal("no bot account")
	}
	client, err := conduit.Dial(context.Background(), srv.URL(), conduit.Token(srv.NewToken(self.PHID)),
		conduit.Options{HTTPClient: srv.Client(), RequestsPerSecond: -1})
	if err != nil {
		b.Fatal(err)
	}
	store, err := state.Open(filepath.Join(b.TempDir(), "bench.db"), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	tmpl, err := templates.Load("")
	if err != nil {
		b.Fatal(err)
	}
	opts := bot.Options{Phab: client, Store: store, Templates: tmpl, Config: cfg, Now: now, Logger: zerolog.Nop()}
	if camp != nil {
		opts.LoadCampaign = func(string) (*campaigns.Campaign, error) { return camp, nil }
	}
	bt, err := bot.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	return bt
}

// benchClock is a clock the bench moves: the server's and the bot's.
type benchClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *benchClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *benchClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
