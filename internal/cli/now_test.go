package cli

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestNowAheadOfTheClock: a `tick --now` (or `rescan --now`) ahead of the
// real clock acts at a time that has not come; without --dry-run or
// --allow-future it is refused (exit 2) before anything is sent or
// recorded. Year 9999 once ended granted exemptions for good and posted
// "waited 64661 days".
func TestNowAheadOfTheClock(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	soon := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		writes bool // may send writes and record them
		stderr []string
	}{
		{name: "far future", args: []string{"tick", "--now", "9999-12-31"}, code: ExitUsage,
			stderr: []string{"--now 9999-12-31 is", "day(s) ahead of this machine's clock", "--dry-run", "--allow-future"}},
		{name: "after the cutoff", args: []string{"tick", "--now", afterCutoff}, code: ExitUsage, stderr: []string{"ahead of this machine's clock"}},
		{name: "rescan", args: []string{"rescan", "mfa-test", "--now", "9999-12-31"}, code: ExitUsage, stderr: []string{"ahead of this machine's clock"}},
		{name: "dry run", args: []string{"tick", "--dry-run", "--now", "9999-12-31"}, code: ExitOK},
		{name: "within the clock skew", args: []string{"tick", "--only", "drift", "--now", soon}, code: ExitOK, writes: true},
		{name: "allowed", args: []string{"tick", "--allow-future", "--now", afterCutoff}, code: ExitOK, writes: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, writes := l.recorded(), len(l.applied())
			l.srv.ResetCalls()
			r := l.run(tt.args...)
			r.expect(t, tt.code, nil, tt.stderr)
			if tt.writes {
				return
			}
			if diff := cmp.Diff(before, l.recorded()); diff != "" {
				t.Errorf("the state file changed (-before +after):\n%s", diff)
			}
			if n := len(l.applied()) - writes; n != 0 {
				t.Errorf("%d write(s) sent", n)
			}
			if tt.code != ExitOK && totalCalls(l.srv.Calls()) != 0 {
				t.Errorf("refused, yet made Conduit calls: %v", l.srv.Calls())
			}
		})
	}
	if n := len(l.snapshot("mfa-test").Removals); n != 1 {
		t.Errorf("%d removal batch(es) after the allowed tick past the cutoff, want 1", n)
	}
}
