package bot_test

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/phabtest"
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

// scaleSizes are the group sizes the scale benchmarks run at: CPU time
// per op should grow linearly with them (issue 17).
var scaleSizes = []int{1000, 10000, 50000}

// scaleCPU remembers, per benchmark and size, the CPU time per op of the
// sizes run so far in this process, so that each size prints its growth
// over the one before beside the target (linear: the ratio of the sizes).
var scaleCPU = map[string]time.Duration{}

// opCPU is the CPU time one op took: all of the process's (the bot's, the
// in-process server's, the garbage collector's), and of that the GC's
// marking on cores that were otherwise idle (runtime/metrics
// /cpu/classes/gc/mark/idle), which the runtime documents as the part
// to subtract for the GC's compulsory CPU time. The bot waits on the
// in-process server for every call, so this idle marking of the whole
// heap (the server's 50,000 users included) grows with the heap and with
// the waits, not with anything the bot computes.
type opCPU struct{ all, idleGC time.Duration }

// compulsory is the CPU time the op needed.
func (c opCPU) compulsory() time.Duration { return c.all - c.idleGC }

// measureCPU runs op and returns the CPU time it took.
func measureCPU(op func()) opCPU {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/mark/idle:cpu-seconds"}}
	metrics.Read(s)
	idle0, all0 := s[0].Value.Float64(), cpuTime()
	op()
	all := cpuTime() - all0
	metrics.Read(s)
	return opCPU{all: all, idleGC: time.Duration((s[0].Value.Float64() - idle0) * float64(time.Second))}
}

// reportScale reports the median op's CPU time ("cpu-ms/op", and of it
// "idle-gc-ms/op") and, when the previous size ran in this process, the
// growth of the compulsory CPU time (all but the idle GC) over it
// ("x-prev") beside its linear target ("target-x-prev", the ratio of the
// sizes: at 50k members, under 5x the 10k time), and the growth of all
// of it ("x-prev-all").
func reportScale(b *testing.B, bench string, i int, ops []opCPU) {
	slices.SortFunc(ops, func(x, y opCPU) int { return cmp.Compare(x.compulsory(), y.compulsory()) })
	c := ops[len(ops)/2]
	n := scaleSizes[i]
	scaleCPU[fmt.Sprint(bench, n)] = c.compulsory()
	scaleCPU[fmt.Sprint(bench, n, "all")] = c.all
	b.ReportMetric(float64(c.all.Microseconds())/1000, "cpu-ms/op")
	b.ReportMetric(float64(c.idleGC.Microseconds())/1000, "idle-gc-ms/op")
	if i == 0 {
		return
	}
	prev := scaleSizes[i-1]
	if p, ok := scaleCPU[fmt.Sprint(bench, prev)]; ok && p > 0 {
		b.ReportMetric(float64(c.compulsory())/float64(p), "x-prev")
		b.ReportMetric(float64(n)/float64(prev), "target-x-prev")
		b.ReportMetric(float64(c.all)/float64(scaleCPU[fmt.Sprint(bench, prev, "all")]), "x-prev-all")
	}
}

// scaleBench runs op once per b.Loop at each of scaleSizes, in a world
// of that many members (largeLab), and reports the median op's CPU time
// (reportScale). The garbage of what ran before each op (building a world
// of 50,000 users, the op before) is collected outside the timer and the
// CPU time, so each op pays for its own garbage only. op gets a bot (with
// fresh, one of its own, with an empty state file, for each op) and
// checks what it did.
func scaleBench(b *testing.B, name string, fresh bool, op func(b *testing.B, n int, bt *bot.Bot, camp *campaigns.Campaign)) {
	for i, n := range scaleSizes {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			srv, bt, camp := largeLab(b, n)
			var ops []opCPU
			for b.Loop() {
				b.StopTimer()
				if fresh {
					bt = benchBot(b, srv)
				}
				runtime.GC()
				b.StartTimer()
				ops = append(ops, measureCPU(func() { op(b, n, bt, camp) }))
			}
			reportScale(b, name, i, ops)
		})
	}
}

// BenchmarkPlanScale plans an MFA campaign over one group of 1k, 10k and
// 50k members (a third without MFA) against the in-process Phabricator,
// and reports the CPU time per plan (the bot's and the in-process
// server's) with its growth over the size before and the linear target.
//
//	go test -run '^$' -bench 'Scale' -benchtime 3x ./bot/
func BenchmarkPlanScale(b *testing.B) {
	scaleBench(b, "plan", false, func(b *testing.B, n int, bt *bot.Bot, camp *campaigns.Campaign) {
		p, err := bt.Plan(context.Background(), camp)
		if err != nil {
			b.Fatal(err)
		}
		if want := (n + 2) / 3; len(p.Findings) != want {
			b.Fatalf("findings = %d, want %d", len(p.Findings), want)
		}
	})
}

// BenchmarkLaunchScale launches an MFA campaign over one group of 1k, 10k
// and 50k members (a task per 20 members without MFA) against the
// in-process Phabricator, each op from an empty state file of its own,
// and reports the CPU time per launch with its growth over the size
// before and the linear target.
//
//	go test -run '^$' -bench 'Scale' -benchtime 3x ./bot/
func BenchmarkLaunchScale(b *testing.B) {
	scaleBench(b, "launch", true, func(b *testing.B, n int, bt *bot.Bot, camp *campaigns.Campaign) {
		res, err := bt.Launch(context.Background(), camp)
		if err != nil {
			b.Fatal(err)
		}
		if want := ((n+2)/3 + 19) / 20; len(res.Tasks) != want {
			b.Fatalf("tasks = %d, want %d", len(res.Tasks), want)
		}
	})
}

func largeLab(b *testing.B, n int) (*phabtest.Server, *bot.Bot, *campaigns.Campaign) {
	return largeLabWith(b, n, phabtest.Options{})
}

func largeLabWith(b *testing.B, n int, opts phabtest.Options) (*phabtest.Server, *bot.Bot, *campaigns.Campaign) {
	b.Helper()
	if opts.Now == nil {
		opts.Now = benchNow
	}
	srv := phabtest.New(opts)
	b.Cleanup(srv.Close)
	srv.AddUser(phabtest.UserSpec{Username: "auditbot", Admin: true, Bot: true, MFA: true})
	admin := srv.AddUser(phabtest.UserSpec{Username: "admin", Admin: true, MFA: true})
	members := make([]string, 0, n)
	for i := range n {
		u := srv.AddUser(phabtest.UserSpec{Username: fmt.Sprintf("member%05d", i), MFA: i%3 != 0})
		members = append(members, u.PHID)
	}
	srv.AddProject(phabtest.ProjectSpec{Name: "acl*phabricator-admins", JoinPolicy: phabtest.PolicyAdmin, Members: []string{admin.PHID}})
	srv.AddProject(phabtest.ProjectSpec{Name: "WMF-NDA", EditPolicy: "admin", Members: members})
	camp, err := campaigns.ParseCampaign("bench.yaml", []byte(`name: bench
criteria: [mfa]
groups: [WMF-NDA]
cutoff: 2027-02-28
approvers: acl*phabricator-admins
`))
	if err != nil {
		b.Fatal(err)
	}
	return srv, benchBot(b, srv), camp
}

func benchNow() time.Time { return time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC) }

// benchBot is a bot of its own, with an empty state file, on the bench's
// server, as its account "auditbot".
func benchBot(b *testing.B, srv *phabtest.Server) *bot.Bot { return tickBot(b, srv, nil, benchNow) }

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
