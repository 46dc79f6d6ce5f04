package cli

import (
	"strings"
	"testing"
	"time"
)

func TestRescan(t *testing.T) {
	l := newLab(t)
	l.write("campaigns/mfa-weekly.yaml", strings.Replace(campaignYAML, "name: mfa-test", "name: mfa-weekly", 1)+"every: 7d\n")
	l.mustRun("launch", "mfa-weekly")
	l.mustRun("launch", "mfa-test")
	next := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)

	r := l.run("rescan", "mfa-weekly", "--allow-future", "--now", next)
	r.expect(t, ExitOK, []string{"mfa-weekly: run 1: 0 new, 0 fixed, 0 gone", "summary on T"}, nil)
	r = l.run("rescan", "mfa-weekly", "--allow-future", "--now", next)
	r.expect(t, ExitOK, []string{"mfa-weekly: no new run (run 1 is the latest)"}, nil)
	if runs := l.snapshot("mfa-weekly").Campaign.Runs; len(runs) != 1 {
		t.Errorf("%d runs recorded, want 1", len(runs))
	}

	r = l.run("rescan", "mfa-test", "--allow-future", "--now", next)
	r.expect(t, ExitUsage, nil, []string{"campaign mfa-test is not recurring"})
	r = l.run("rescan", "mfa-nope")
	r.expect(t, ExitUsage, nil, []string{"mfa-nope"})
}
