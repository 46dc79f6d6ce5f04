package bot_test

import (
	"context"
	"fmt"
	"path/filepath"
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

// BenchmarkPlanLargeGroup plans a campaign over one group of n members, a
// third of them without MFA, against the in-process Phabricator. It reports
// the Conduit calls a plan needs: they grow by one user.search page per 100
// members, not per user.
func BenchmarkPlanLargeGroup(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			srv, bt, camp := largeLab(b, n)
			b.ResetTimer()
			calls := 0
			for b.Loop() {
				srv.ResetCalls()
				p, err := bt.Plan(context.Background(), camp)
				if err != nil {
					b.Fatal(err)
				}
				if want := (n + 2) / 3; len(p.Findings) != want {
					b.Fatalf("findings = %d, want %d", len(p.Findings), want)
				}
				calls = 0
				for _, c := range srv.Calls() {
					calls += c
				}
			}
			b.ReportMetric(float64(calls), "calls/plan")
		})
	}
}

func largeLab(b *testing.B, n int) (*phabtest.Server, *bot.Bot, *campaigns.Campaign) {
	return largeLabWith(b, n, phabtest.Options{})
}

func largeLabWith(b *testing.B, n int, opts phabtest.Options) (*phabtest.Server, *bot.Bot, *campaigns.Campaign) {
	b.Helper()
	now := func() time.Time { return time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC) }
	opts.Now = now
	srv := phabtest.New(opts)
	b.Cleanup(srv.Close)
	botUser := srv.AddUser(phabtest.UserSpec{Username: "auditbot", Admin: true, Bot: true, MFA: true})
	admin := srv.AddUser(phabtest.UserSpec{Username: "admin", Admin: true, MFA: true})
	members := make([]string, 0, n)
	for i := range n {
		u := srv.AddUser(phabtest.UserSpec{Username: fmt.Sprintf("member%05d", i), MFA: i%3 != 0})
		members = append(members, u.PHID)
	}
	srv.AddProject(phabtest.ProjectSpec{Name: "acl*phabricator-admins", Members: []string{admin.PHID}})
	srv.AddProject(phabtest.ProjectSpec{Name: "WMF-NDA", EditPolicy: "admin", Members: members})

	cfg, err := campaigns.ParseConfig("bench.yaml", []byte("conduit:\n  url: "+srv.URL()+"\n"))
	if err != nil {
		b.Fatal(err)
	}
	camp, err := campaigns.ParseCampaign("bench.yaml", []byte(`name: bench
criteria: [mfa]
groups: [WMF-NDA]
cutoff: 2027-02-28
approvers: acl*phabricator-admins
`))
	if err != nil {
		b.Fatal(err)
	}
	client, err := conduit.Dial(context.Background(), srv.URL(), conduit.Token(botUser.Token),
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
	bt, err := bot.New(bot.Options{Phab: client, Store: store, Templates: tmpl, Config: cfg, Now: now, Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	return srv, bt, camp
}

// BenchmarkMFADiscovery plans an MFA campaign over n members against an
// in-process Phabricator that answers every call after a fixed latency
// (outside its lock, like a server with several workers). It reports the
// Conduit calls, the wall time, and the floor of the user.search pages
// sent back to back (⌈n/100⌉ × latency), which concurrent pages beat.
func BenchmarkMFADiscovery(b *testing.B) {
	const latency = 25 * time.Millisecond
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			srv, bt, camp := largeLabWith(b, n, phabtest.Options{CallLatency: latency})
			calls := 0
			var wall time.Duration
			for b.Loop() {
				srv.ResetCalls()
				start := time.Now()
				if _, err := bt.Plan(context.Background(), camp); err != nil {
					b.Fatal(err)
				}
				wall = time.Since(start)
				calls = 0
				for _, c := range srv.Calls() {
					calls += c
				}
			}
			floor := time.Duration((n+99)/100) * latency
			b.ReportMetric(float64(calls), "calls/op")
			b.ReportMetric(float64(wall.Milliseconds()), "wall-ms")
			b.ReportMetric(float64(floor.Milliseconds()), "floor-ms")
			if wall > floor {
				b.Errorf("plan took %v, more than the sequential floor %v", wall, floor)
			}
		})
	}
}
