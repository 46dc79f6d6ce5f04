package crashtest

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/phabtest"
)

// campaignYear is the year the script runs in: the next one, so that
// launch, which reads the wall clock, comes before every scripted date.
func campaignYear() int { return time.Now().UTC().Year() + 1 }

// played is what playing the script did.
type played struct {
	// writes is the number of write requests the binary sent; stepWrites
	// the number of the last one of each step.
	writes     int
	stepWrites []int
	// killedIn is the step in which the armed kill fired ("" if none).
	killedIn string
}

// play runs the script to the end. When the armed kill point fires, the
// killed step's command runs again, without a kill, and the script goes
// on. Every command that is not killed must exit 0.
func (w *world) play(steps []step) played { return w.playMode(steps, rerunNow) }

// rerunMode is what follows a kill.
type rerunMode int

const (
	// rerunNow runs the killed command again at once, at the same time:
	// the operator or supervisor restarts it.
	rerunNow rerunMode = iota
	// rerunLater runs a killed tick again only at the next step, after
	// that step's people have acted: a daemon that died and ticks again
	// later. Other commands (launch) are rerun at once.
	rerunLater
)

// playMode is play with a choice of what follows the kill.
func (w *world) playMode(steps []step, mode rerunMode) played {
	w.t.Helper()
	var p played
	for i, s := range steps {
		w.clock.Set(s.at)
		for _, a := range s.actions {
			if err := a.do(w); err != nil {
				if mode == rerunLater && p.killedIn != "" && errors.Is(err, errNoTask) {
					// The killed tick, not rerun yet, did not file the
					// task: the person cannot reply on it.
					w.t.Logf("step %q: %s: %v; skipped", s.name, a.what, err)
					continue
				}
				w.t.Fatalf("step %q: %s: %v", s.name, a.what, err)
			}
		}
		r := w.exec(s.args()...)
		if r.killed {
			p.killedIn = s.name
			if mode == rerunLater && s.cmd[0] == "tick" && i < len(steps)-1 {
				p.stepWrites = append(p.stepWrites, w.writeRequests())
				continue
			}
			r = w.exec(s.args()...)
		}
		if r.code != 0 {
			w.t.Fatalf("step %q (killed here: %v): %s", s.name, p.killedIn == s.name, r)
		}
		p.stepWrites = append(p.stepWrites, w.writeRequests())
	}
	p.writes = w.writeRequests()
	return p
}

// killPoints are the points to kill at: with all, every write in both
// phases; otherwise a deterministic sample, the first and last write and
// every 7th, in both phases.
func killPoints(writes int, all bool) []killPoint {
	var out []killPoint
	for n := 1; n <= writes; n++ {
		if !all && n != 1 && n != writes && (n-1)%7 != 0 {
			continue
		}
		for _, ph := range []phabtest.WritePhase{phabtest.BeforeWrite, phabtest.AfterWrite} {
			out = append(out, killPoint{N: n, Phase: ph})
		}
	}
	return out
}

// TestCrashSweep runs each scenario's campaign once without a crash (the
// golden run), checks it against the outcome worked out by hand, then
// once per kill point: SIGKILL at that write, rerun to completion, and
// check that the outcome is the golden one and that no invariant broke.
// `make test` runs a sample of the kill points; `make crash`
// (-crash.full) runs all of them.
func TestCrashSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the auditbot binary many times")
	}
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			year := campaignYear()
			steps := sc.script(year)
			gw := newWorld(t, sc, year, killPoint{})
			gp := gw.play(steps)
			golden, bad := gw.collect()
			t.Run("golden", func(t *testing.T) { checkGolden(t, sc, gw, gp, golden, bad) })
			if t.Failed() {
				t.Fatalf("the run without a crash is wrong; no sweep")
			}
			var perStep []string
			prev := 0
			for i, s := range steps {
				perStep = append(perStep, fmt.Sprintf("%s: %d", s.name, gp.stepWrites[i]-prev))
				prev = gp.stepWrites[i]
			}
			t.Logf("the script sends %d write requests (%s)", gp.writes, strings.Join(perStep, ", "))
			sweep(t, sc, year, steps, killPoints(gp.writes, full()), rerunNow, &golden)
		})
	}
}

// checkGolden checks the run without a crash against what the scenario
// says by hand: the members and membership changes at the end, every
// write path taken, and a last step that writes nothing.
func checkGolden(t *testing.T, sc *scenario, gw *world, gp played, golden outcome, bad []string) {
	for _, b := range bad {
		t.Errorf("run without a crash: %s", b)
	}
	if diff := cmp.Diff(sc.members, golden.Members); diff != "" {
		t.Errorf("members at the end (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sc.changes, golden.Changes); diff != "" {
		t.Errorf("membership changes (-want +got):\n%s", diff)
	}
	taken := gw.paths()
	for _, p := range sc.paths {
		if !slices.ContainsFunc(taken, func(s string) bool { return strings.HasPrefix(s, p) }) {
			t.Errorf("the run never took the write path %q", p)
		}
	}
	if t.Failed() {
		t.Logf("paths taken:\n%s", strings.Join(taken, "\n"))
	}
	last := len(gp.stepWrites) - 1
	if last > 0 && gp.stepWrites[last] != gp.stepWrites[last-1] {
		t.Errorf("the quiet rerun wrote %d times, want 0", gp.stepWrites[last]-gp.stepWrites[last-1])
	}
}

// TestCrashSweepLater is the sweep with a later rerun: a killed tick runs
// again only at the next step, after people have acted in between (a
// daemon that died). Outcomes may rightly differ from the golden run (a
// reminder whose time has passed is not sent), so only the invariants are
// checked. It runs with -crash.later (make crash-later).
func TestCrashSweepLater(t *testing.T) {
	if !*laterSweep && os.Getenv("AUDITBOT_CRASH_LATER") != "1" {
		t.Skip("run with -crash.later (make crash-later)")
	}
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			year := campaignYear()
			steps := sc.script(year)
			gw := newWorld(t, sc, year, killPoint{})
			gp := gw.play(steps)
			sweep(t, sc, year, steps, killPoints(gp.writes, full()), rerunLater, nil)
		})
	}
}

// sweep plays the script once per kill point and checks the invariants,
// and, when golden is not nil, that the outcome is the golden one.
func sweep(t *testing.T, sc *scenario, year int, steps []step, points []killPoint, mode rerunMode, golden *outcome) {
	start := time.Now()
	t.Run("kill", func(t *testing.T) {
		for _, kp := range points {
			t.Run(kp.String(), func(t *testing.T) {
				t.Parallel()
				w := newWorld(t, sc, year, kp)
				p := w.playMode(steps, mode)
				if p.killedIn == "" {
					t.Fatalf("the kill at %s never fired (%d writes)", kp, p.writes)
				}
				got, bad := w.collect()
				for _, b := range bad {
					t.Errorf("killed %s in step %q: %s", kp, p.killedIn, b)
				}
				if golden == nil {
					return
				}
				if diff := cmp.Diff(*golden, got); diff != "" {
					t.Errorf("killed %s in step %q: outcome differs from the run without a crash (-golden +got):\n%s", kp, p.killedIn, diff)
				}
			})
		}
	})
	t.Logf("%d kill points (full=%v) in %s", len(points), full(), time.Since(start).Round(time.Second))
}
