//go:build phorge

package activity

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/internal/testkit"
)

// TestLabScanMatchesNaive runs the scan on the lab's seed and checks it
// against one feed.query per member (4 at a time), on the members of
// LAB_ACTIVITY_GROUP (default acl*scale-10k; on a lab seeded with
// `up.sh --scale 10000`, after `activity.sh 0.9`). Both send their calls
// back to back (no client rate limit), as the floor scripts do; it logs
// the calls, stories and wall time of each, to compare with
// ../shared/lab/floor/floor_inactive.py.
//
//	LAB_ENV=$LAB_ROOT/lab.env go test -count=1 -tags phorge -run TestLabScanMatchesNaive -v ./activity/
func TestLabScanMatchesNaive(t *testing.T) {
	env := testkit.Lab(t, "AUDITBOT_TOKEN")
	group := os.Getenv("LAB_ACTIVITY_GROUP")
	if group == "" {
		group = "acl*scale-10k"
	}
	ctx := context.Background()
	c, err := conduit.Dial(ctx, env["PHAB_URL"], conduit.Token(env["AUDITBOT_TOKEN"]),
		conduit.Options{RequestsPerSecond: -1, CallTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	me, err := c.Whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	projects, err := c.ResolveProjects(ctx, []string{group}, true)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := projects[group]
	if !ok || len(p.MemberPHIDs) == 0 {
		t.Skipf("no group %s with members on the lab (seed it with up.sh --scale 10000)", group)
	}
	members := p.MemberPHIDs
	lo := time.Now().Add(-year)

	start := time.Now()
	scan := &tally{next: c}
	s := &Scanner{Feed: scan, Ignore: []string{me.PHID}}
	got, _, err := s.LastActivity(ctx, members, year)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)

	start = time.Now()
	naive := &tally{next: c}
	want := map[string]time.Time{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, u := range members {
		if u == me.PHID {
			continue
		}
		g.Go(func() error {
			one, err := naiveScan(gctx, naive, []string{u}, lo)
			mu.Lock()
			defer mu.Unlock()
			for k, v := range one {
				want[k] = v
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	naiveTook := time.Since(start)

	// The window's edge moved by the naive scan's duration: a story in
	// that gap may count for one and not the other. There is none on the
	// lab (its scale stories are 1-300 or 400-700 days old).
	if diff := cmp.Diff(want, activeOnly(got)); diff != "" {
		t.Errorf("scan differs from one feed.query per member (-naive +scan):\n%s", diff)
	}
	t.Logf("%s: %d members, %d active, %d inactive", group, len(members), len(want), len(members)-len(want))
	t.Logf("scan:  %d calls, %d stories, %s", scan.calls, scan.stories, took.Round(time.Millisecond))
	t.Logf("naive: %d calls, %d stories, %s (4 at a time)", naive.calls, naive.stories, naiveTook.Round(time.Millisecond))
}
