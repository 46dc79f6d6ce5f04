package bot_test

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
)

// faultPlan drops the answer (or the request) of the bot's n-th write
// after launch; user actions are not counted.
type faultPlan struct {
	mu    sync.Mutex
	armed bool
	n     int
	at    int
	phase phabtest.WritePhase
	hit   bool
}

func (p *faultPlan) onWrite(_ int, _ string, phase phabtest.WritePhase) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.armed {
		return false
	}
	if phase == phabtest.BeforeWrite {
		p.n++
	}
	if p.at > 0 && p.n == p.at && phase == p.phase && !p.hit {
		p.hit = true
		return true
	}
	return false
}

func (p *faultPlan) arm(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = on
}

// lifecycleOutcome is what a whole campaign left in Phabricator and the
// state file, keyed by the bot's own markers rather than task numbers.
type lifecycleOutcome struct {
	Tasks    map[string][]string // task marker -> bot comment markers (sorted, duplicates kept)
	Members  map[string][]string
	Statuses map[string]string
	Pending  []string
	Writes   int
}

// settle ticks with the fault armed until a tick succeeds (at most five,
// a minute apart): the state a step settles in once the fault has passed.
func (p *faultPlan) settle(t *testing.T, h *harness) {
	t.Helper()
	p.arm(true)
	defer p.arm(false)
	for try := 0; try < 5; try++ {
		if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
			return
		}
		h.clock.Advance(time.Minute)
	}
	t.Fatalf("ticks keep failing after the fault at write %d", p.at)
}

// runLifecycle runs one recurring MFA campaign through every write path
// the bot has (tasks, an access revoke, answers, a recurring run with its
// batch, standing task and summary, reminders, proposals, removal
// notices, a restore answered in the same tick as a reply) with one fault
// injected at the plan's write, settling each step with retried ticks.
func runLifecycle(t *testing.T, p *faultPlan) lifecycleOutcome {
	h := newHarness(t, fixture{campaignExtra: "recurring: {every: 7d}\nnotice: 60d\n", onWrite: p.onWrite})
	h.launch()
	settle := func() { p.settle(t, h) }
	user := func(fn func()) { p.arm(false); fn() }

	h.clock.Advance(time.Hour)
	user(func() {
		t1, _ := h.taskOf("nomfa1")
		if _, err := h.as("dave").EditTask(h.ctx, t1, conduit.Edit{Type: "subscribers.add", Value: []string{h.phid("outsider")}}); err != nil {
			t.Fatalf("dave subscribes outsider: %v", err)
		}
		t3, _ := h.taskOf("nomfa3")
		h.comment("nomfa3", t3, "done")
		t4, _ := h.taskOf("nomfa4")
		h.comment("nomfa4", t4, "remove me")
	})
	settle()
	user(func() { newcomer(h) })
	h.clock.Set(launchTime.Add(week))
	settle()
	for _, d := range []int{30, 7, 1} {
		h.clock.Set(cutoff.Add(-time.Duration(d)*24*time.Hour + time.Hour))
		settle()
	}
	h.clock.Set(cutoff.Add(time.Hour))
	settle()
	user(func() { approveR1(t, h, "alice", "bob") })
	h.clock.Advance(time.Hour)
	settle()
	user(func() {
		h.srv.SetMFA(h.phid("nomfa2"), true)
		t2, _ := h.taskOf("nomfa2")
		h.comment("nomfa2", t2, "done, please add me back")
		h.comment("carol", t2, "!restore @nomfa2")
	})
	h.clock.Advance(time.Hour)
	settle()
	h.clock.Advance(24 * time.Hour)
	settle()
	h.clock.Advance(24 * time.Hour)
	settle()

	out := lifecycleOutcome{Tasks: map[string][]string{}, Members: map[string][]string{}, Statuses: map[string]string{}, Pending: h.pendingOps()}
	for _, tk := range h.srv.Tasks() {
		key := markerKeyOf(tk.Description)
		if key == "" {
			continue
		}
		var cs []string
		for _, c := range h.botComments(tk.ID) {
			cs = append(cs, markerKeyOf(c.Text))
		}
		sort.Strings(cs)
		if _, dup := out.Tasks[key]; dup {
			key += " (DUPLICATE TASK)"
		}
		out.Tasks[key] = cs
	}
	for _, g := range []string{groupNDA, groupSecurity, groupSRE} {
		out.Members[g] = append(out.Members[g], h.srv.Members(h.group(g).PHID)...)
		slices.Sort(out.Members[g])
	}
	for _, f := range h.snapshot().Findings {
		out.Statuses[f.Username] = string(f.Status)
	}
	return out
}

// TestAttack3CrashSweepWholeLifecycle drops, one at a time, every write
// the bot makes after launch in a full lifecycle, once before it applies
// and once after it applied (answer lost), and compares what is left with
// the run without a fault: same tasks, same bot comments (no duplicate
// marker), same memberships, same statuses, no op left pending.
//
// It runs a whole campaign ~120 times (~13 s, more under -race), too slow
// for every `go test ./...`: it runs with AUDITBOT_SWEEP=1, which `make
// crash` sets, and skips otherwise.
func TestAttack3CrashSweepWholeLifecycle(t *testing.T) {
	if os.Getenv("AUDITBOT_SWEEP") == "" {
		t.Skip("set AUDITBOT_SWEEP=1 to run the crash sweep")
	}
	ref := &faultPlan{}
	want := runLifecycle(t, ref)
	total := ref.n
	t.Logf("%d bot writes after launch", total)
	for _, phase := range []phabtest.WritePhase{phabtest.BeforeWrite, phabtest.AfterWrite} {
		for n := 1; n <= total; n++ {
			t.Run(fmt.Sprintf("%s-%d", phase, n), func(t *testing.T) {
				p := &faultPlan{at: n, phase: phase}
				got := runLifecycle(t, p)
				if !p.hit {
					// The run repeats the reference run up to write n, so
					// write n must be reached: anything else is a lost
					// write or a run that is not deterministic.
					t.Fatalf("write %d (%s) was never reached", n, phase)
				}
				if diff := cmp.Diff(want, got, cmp.FilterPath(func(pp cmp.Path) bool { return strings.HasSuffix(pp.String(), "Writes") }, cmp.Ignore())); diff != "" {
					t.Errorf("outcome after losing write %d (%s) differs from the run without a fault (-want +got):\n%s", n, phase, diff)
				}
			})
		}
	}
}
