package activity

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/auditbot/auditbot/internal/testkit/testworld"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
)

// now is when every scan here runs, unless a test moves the clock.
var now = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

const year = 365 * 24 * time.Hour

// world is an in-process Phorge with a backdated feed and a bot client.
type world struct {
	t     *testing.T
	srv   *phabtest.Server
	bot   phabtest.User
	feed  *countingFeed
	users map[string]phabtest.User // by name
	names map[string]string        // PHID -> name
}

// countingFeed records every query the scan makes.
type countingFeed struct {
	next    Feed
	mu      sync.Mutex
	queries []conduit.FeedQuery
}

func (f *countingFeed) Feed(ctx context.Context, q conduit.FeedQuery) ([]conduit.Story, error) {
	f.mu.Lock()
	f.queries = append(f.queries, conduit.FeedQuery{FilterPHIDs: append([]string(nil), q.FilterPHIDs...), Limit: q.Limit, After: q.After})
	f.mu.Unlock()
	return f.next.Feed(ctx, q)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	srv := phabtest.New(phabtest.Options{Now: func() time.Time { return now }})
	t.Cleanup(srv.Close)
	w := &world{t: t, srv: srv, users: map[string]phabtest.User{}, names: map[string]string{}}
	w.bot = srv.AddUser(phabtest.UserSpec{Username: "auditbot", Admin: true, Bot: true})
	c, err := conduit.Dial(context.Background(), srv.URL(), conduit.Token(w.bot.Token),
		conduit.Options{HTTPClient: srv.Client(), RequestsPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	w.feed = &countingFeed{next: c}
	return w
}

func (w *world) user(name string) phabtest.User {
	if u, ok := w.users[name]; ok {
		return u
	}
	u := w.srv.AddUser(phabtest.UserSpec{Username: name})
	w.users[name] = u
	w.names[u.PHID] = name
	return u
}

func (w *world) phids(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, w.user(n).PHID)
	}
	return out
}

// daysAgo is a story time, whole seconds like feed epochs.
func daysAgo(d int) time.Time { return now.AddDate(0, 0, -d) }

func (w *world) scanner(cache Cache) *Scanner {
	return &Scanner{Feed: w.feed, Cache: cache, Now: func() time.Time { return now }, Ignore: []string{w.bot.PHID}}
}

// byName maps a result to names, keeping only the active ones.
func (w *world) byName(got map[string]time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for p, at := range got {
		if !at.IsZero() {
			out[w.names[p]] = at
		}
	}
	return out
}

func TestLastActivity(t *testing.T) {
	w := newWorld(t)
	s := w.srv
	// A public task the members talk on, filed long ago.
	task := s.AddTask(phabtest.TaskSpec{Title: "chatter", AuthorPHID: w.bot.PHID, At: daysAgo(900)})
	comment := func(name string, d int) {
		s.AddComment(phabtest.CommentSpec{TaskID: task.ID, AuthorPHID: w.user(name).PHID, Text: "hi", At: daysAgo(d)})
	}
	// busy: many stories, the newest 2 days ago.
	for d := 2; d < 300; d += 3 {
		comment("busy", d)
	}
	comment("eleven", 335)   // 11 months ago
	comment("thirteen", 395) // 13 months ago
	comment("thirteen", 800) // and older
	w.user("silent")         // no story at all
	// botonly: the bot acts on their account and on a task tagged with
	// nothing of theirs; stories reference them but are not theirs.
	w.srv.AddStory(w.bot.PHID, w.user("botonly").PHID, daysAgo(1))
	w.srv.AddStory(w.bot.PHID, w.user("botonly").PHID, daysAgo(20))
	comment("botonly", 500)
	// hidden: active only on a task the bot cannot see (fact 43).
	sec := s.AddProject(phabtest.ProjectSpec{Name: "acl*security", AuthorPHID: w.user("hidden").PHID, Members: []string{w.user("hidden").PHID}})
	s.AddTask(phabtest.TaskSpec{Title: "secret", AuthorPHID: w.user("hidden").PHID, ViewPolicy: sec.PHID, At: daysAgo(3)})
	// the project's creation story (today) is by "hidden" and visible: so
	// hidden2 stands for a member whose only work is hidden.
	s.AddTask(phabtest.TaskSpec{Title: "secret 2", AuthorPHID: w.user("hidden2").PHID, ViewPolicy: sec.PHID, At: daysAgo(3)})
	// secretive: 25 comments on a task the bot cannot see, more than
	// Phorge examines for a page of 1 before it gives up (fact 52).
	secret3 := s.AddTask(phabtest.TaskSpec{Title: "secret 3", AuthorPHID: w.user("secretive").PHID, ViewPolicy: sec.PHID, At: daysAgo(40)})
	for d := 5; d < 30; d++ {
		s.AddComment(phabtest.CommentSpec{TaskID: secret3.ID, AuthorPHID: w.user("secretive").PHID, Text: "hush", At: daysAgo(d)})
	}
	// outsider: busy, never asked about.
	for d := 1; d < 50; d++ {
		comment("outsider", d)
	}

	tests := []struct {
		name        string
		users       []string
		window      time.Duration
		want        map[string]time.Time
		wantCalls   int
		wantStories int
	}{
		{
			name:   "365 days: newest authored story per member",
			users:  []string{"busy", "eleven", "thirteen", "silent", "botonly", "hidden2"},
			window: year,
			want:   map[string]time.Time{"busy": daysAgo(2), "eleven": daysAgo(335)},
			// A page of 6 (one per member): the bot's story about
			// botonly, busy's five newest (busy is found at the first);
			// then a page of 5 for the 5 left: the bot's second about
			// botonly, eleven's, and thirteen's (395 days) is past the
			// edge and ends the scan, with two older stories after it.
			wantCalls: 2, wantStories: 11,
		},
		{
			name:      "a story exactly at the edge counts",
			users:     []string{"eleven"},
			window:    335 * 24 * time.Hour,
			want:      map[string]time.Time{"eleven": daysAgo(335)},
			wantCalls: 1, wantStories: 1,
		},
		{
			name:      "window edge: a busy member's older stories are not read",
			users:     []string{"busy"},
			window:    24 * time.Hour,
			want:      map[string]time.Time{},
			wantCalls: 1, wantStories: 1,
		},
		{
			name:      "a member whose only recent stories were caused by the bot is inactive",
			users:     []string{"botonly"},
			window:    year,
			want:      map[string]time.Time{},
			wantCalls: 3, wantStories: 3,
		},
		{
			name:      "work on a task the bot cannot see is invisible",
			users:     []string{"hidden2"},
			window:    year,
			want:      map[string]time.Time{},
			wantCalls: 1, wantStories: 0,
		},
		{
			// A page of 1 overheats (20 hidden stories examined); a page
			// of 10 reaches the end of the member's 26 stories.
			name:      "a member busy only where the bot cannot see: the server overheats, a larger page gets past",
			users:     []string{"secretive"},
			window:    year,
			want:      map[string]time.Time{},
			wantCalls: 2, wantStories: 0,
		},
		{
			name:      "the bot itself is never asked about",
			window:    year,
			want:      map[string]time.Time{},
			wantCalls: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.feed.queries = nil
			users := w.phids(tt.users...)
			users = append(users, w.bot.PHID, "")
			got, stats, err := w.scanner(nil).LastActivity(context.Background(), users, tt.window)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, w.byName(got)); diff != "" {
				t.Errorf("activity (-want +got):\n%s", diff)
			}
			if _, ok := got[w.bot.PHID]; !ok || len(got) != len(tt.users)+1 {
				t.Errorf("result has %d entries, want one per user (%d) with the bot's zero", len(got), len(tt.users)+1)
			}
			if stats.Calls != tt.wantCalls || stats.Stories != tt.wantStories || stats.Calls != len(w.feed.queries) {
				t.Errorf("stats %+v (%d queries), want %d calls, %d stories", stats, len(w.feed.queries), tt.wantCalls, tt.wantStories)
			}
		})
	}
}

// TestLastActivityQueries checks the requests: a page of at most one
// story per pending member, every author a page reveals leaves the filter,
// after is the page's last story's key, and the next page is sized for
// what is left.
func TestLastActivityQueries(t *testing.T) {
	w := newWorld(t)
	a, b, c, d := w.user("a"), w.user("b"), w.user("c"), w.user("d")
	w.srv.AddStory(b.PHID, b.PHID, daysAgo(1))
	w.srv.AddStory(a.PHID, "PHID-TASK-x", daysAgo(2))
	w.srv.AddStory(b.PHID, b.PHID, daysAgo(3))
	sa := w.srv.AddStory(a.PHID, a.PHID, daysAgo(4))
	w.srv.AddStory(d.PHID, d.PHID, daysAgo(200))
	w.srv.AddStory(c.PHID, c.PHID, daysAgo(500))
	got, _, err := w.scanner(nil).LastActivity(context.Background(), []string{a.PHID, b.PHID, c.PHID, d.PHID}, year)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]time.Time{"a": daysAgo(2), "b": daysAgo(1), "d": daysAgo(200)}, w.byName(got)); diff != "" {
		t.Errorf("activity (-want +got):\n%s", diff)
	}
	want := []conduit.FeedQuery{
		// 4 members: a page of 4 reveals b and a.
		{FilterPHIDs: []string{a.PHID, b.PHID, c.PHID, d.PHID}, Limit: 4},
		// Two revealed in 4 days, 361 days to go: a full page, capped
		// at the 2 members left; it reveals d and crosses the edge.
		{FilterPHIDs: []string{c.PHID, d.PHID}, Limit: 2, After: sa.ChronologicalKey},
	}
	if diff := cmp.Diff(want, w.feed.queries); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
}

// TestNextLimit: the next page is sized for the rate at which the last one
// revealed members, over the time left to the edge.
func TestNextLimit(t *testing.T) {
	day := 24 * time.Hour
	for _, tt := range []struct {
		limit, revealed int
		span, left      time.Duration
		want            int
	}{
		{100, 80, 6 * day, 300 * day, PageSize},    // busy: full pages
		{100, 10, 100 * day, 40 * day, 9},          // 4 expected, 1.25×4+4
		{100, 1, 100 * day, day, refreshPageSize},  // nearly at the edge
		{8, 0, 10 * day, 300 * day, 16},            // nobody revealed: double
		{64, 0, 10 * day, 300 * day, PageSize},     // ... up to PageSize
		{100, 5, 0, 300 * day, PageSize},           // a page within one second
		{refreshPageSize, 5, 7 * day, 7 * day, 10}, // a re-scan's page: 1.25×5+4
	} {
		if got := nextLimit(tt.limit, tt.revealed, tt.span, tt.left); got != tt.want {
			t.Errorf("nextLimit(%d, %d, %v, %v) = %d, want %d", tt.limit, tt.revealed, tt.span, tt.left, got, tt.want)
		}
	}
}

// population seeds n members, active of them with 1-5 recent stories and
// the rest with one story 2 years ago; it returns the members' PHIDs.
func population(w *world, n, active int) []string {
	var out []string
	for i := range n {
		u := w.user(fmt.Sprintf("m%05d", i))
		out = append(out, u.PHID)
		if i%(n/active) == 0 && i/(n/active) < active {
			for k := range 1 + i%5 {
				w.srv.AddStory(u.PHID, u.PHID, daysAgo(1+(i+k*37)%300))
			}
		} else {
			w.srv.AddStory(u.PHID, u.PHID, daysAgo(730))
		}
	}
	return out
}

// TestScanCost checks the cost targets on 2,500 members, 40 active, in
// three chunks, and that a re-scan a week later costs almost nothing.
func TestScanCost(t *testing.T) {
	w := newWorld(t)
	const n, active = 2500, 40
	members := population(w, n, active)
	store := testworld.OpenStore(t, filepath.Join(t.TempDir(), "state.db"))
	sc := w.scanner(store)
	got, stats, err := sc.LastActivity(context.Background(), members, year)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(w.byName(got)); n != active {
		t.Fatalf("%d active, want %d", n, active)
	}
	chunks := (n + ChunkSize - 1) / ChunkSize
	if stats.Calls > active/20+chunks+2 || stats.Stories > active+chunks*PageSize {
		t.Errorf("first scan %+v: want ≤ %d calls and ≤ %d stories", stats, active/20+chunks+2, active+chunks*PageSize)
	}
	for _, q := range w.feed.queries {
		if len(q.FilterPHIDs) > ChunkSize || q.Limit > PageSize || q.Limit > len(q.FilterPHIDs) {
			t.Errorf("query with %d PHIDs, limit %d", len(q.FilterPHIDs), q.Limit)
		}
	}

	// A week later, nothing new.
	later := now.AddDate(0, 0, 7)
	sc.Now = func() time.Time { return later }
	again, restats, err := sc.LastActivity(context.Background(), members, year)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w.byName(got), w.byName(again)); diff != "" {
		t.Errorf("re-scan answer (-first +again):\n%s", diff)
	}
	if restats.Calls > 1 || restats.Stories > refreshPageSize || restats.FromCache != active {
		t.Errorf("re-scan %+v after first %+v: want 1 call, ≤ %d stories and %d from the cache", restats, stats, refreshPageSize, active)
	}

	// Someone inactive writes: the next re-scan finds them.
	quiet := members[1]
	w.srv.AddStory(quiet, quiet, later.Add(-time.Minute))
	third, _, err := sc.LastActivity(context.Background(), members, year)
	if err != nil {
		t.Fatal(err)
	}
	if !third[quiet].Equal(later.Add(-time.Minute)) {
		t.Errorf("new activity of %s: %v, want %v", w.names[quiet], third[quiet], later.Add(-time.Minute))
	}
	// A longer window than the cache covers is asked again.
	_, longer, err := sc.LastActivity(context.Background(), members[:10], 3*year)
	if err != nil {
		t.Fatal(err)
	}
	if longer.FromCache == 10 || longer.Calls == 0 {
		t.Errorf("3-year window after 1-year scans: %+v, want a scan", longer)
	}
}

// TestScanMatchesNaive: on the benchmark's modelled world (a Zipf law of
// stories per active member, old stories of inactive ones, stories that
// only reference members), the scan, chunks paged at once, finds exactly
// what one feed.query per member finds, each member's newest authored
// story within the window.
func TestScanMatchesNaive(t *testing.T) {
	for _, pct := range []int{5, 30, 90} {
		t.Run(fmt.Sprintf("active=%d%%", pct), func(t *testing.T) {
			w := newWorld(t)
			members := modelled(w.srv, w.bot.PHID, 2500, pct, 2)
			want, err := naiveScan(context.Background(), w.feed.next, members, now.Add(-year))
			if err != nil {
				t.Fatal(err)
			}
			s := w.scanner(memCache{}) // not safe for concurrent use: the scan serializes its writes
			s.Workers = 3
			got, stats, err := s.LastActivity(context.Background(), members, year)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, activeOnly(got)); diff != "" {
				t.Errorf("scan differs from one feed.query per member (-naive +scan):\n%s", diff)
			}
			if len(want) == 0 || stats.Calls*4 > len(members) {
				t.Errorf("%d active, %+v: want some active and calls ≤ a quarter of the members", len(want), stats)
			}
		})
	}
}
