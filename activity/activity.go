// Package activity finds when members of audited groups last did something
// on Phabricator, for the inactivity criterion, at a cost that follows the
// active members rather than all of them.
//
// A member's last activity is the newest feed story they authored
// (authorPHID). feed.query's filterPHIDs also matches stories that merely
// reference a user (an administrator editing their account, the bot acting
// on them), and those never count. Stories about objects the bot cannot see
// are invisible to it (NOTES fact 43), so a member whose work is all on
// restricted tasks looks inactive: callers must let flagged members answer.
package activity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// Feed is the Conduit call the scan makes; *conduit.Client implements it.
type Feed interface {
	Feed(ctx context.Context, q conduit.FeedQuery) ([]conduit.Story, error)
}

// Cache keeps what earlier scans learned; *state.Store implements it. A
// store opened read-only (plan) refuses RecordActivity with
// state.ErrReadOnly, and the scan then goes on without recording.
type Cache interface {
	Activities(users []string) (map[string]state.Activity, error)
	RecordActivity(acts map[string]state.Activity) error
}

// ChunkSize is how many users one feed.query asks about in a first scan.
// The server answers a 1,000-PHID filter that matches nothing in ~0.02 s
// and a 10,000 one in ~0.12 s (fact 40); chunks of 1,000 keep that and the
// request body (~35 KB) small, and give the workers independent chunks to
// page at once. Each chunk costs one page more than its active members
// need: the one that crosses the window's edge.
const ChunkSize = 1000

// RefreshChunkSize is how many users one feed.query asks about in a
// re-scan of members the cache knows were inactive when last read. Few of
// them are expected to have become active, so the scan makes about one call
// per chunk, and a 10,000-PHID filter that matches little costs ~0.12 s
// (fact 40): larger chunks save calls.
const RefreshChunkSize = 10000

// PageSize is the most stories one feed.query of a scan asks for (the
// server's default; feed.query itself has no maximum). A page can reveal
// at most one member per story, so the limit is also capped at the
// members still pending.
const PageSize = 100

// refreshPageSize is the first page's limit in a re-scan: little is
// expected to be new, so most of the page would be stories older than the
// cache's edge. It doubles while pages stay inside the window.
const refreshPageSize = 8

// DefaultWorkers is how many chunks a scan pages at once when
// Scanner.Workers is 0 (the client's own default concurrency). Every call
// still waits for the client's rate limiter.
const DefaultWorkers = 4

// publishSlack is subtracted from a cached ReadAt before a re-scan relies on
// it. Story epochs are the server's publish time and ReadAt is the bot's
// clock: an hour covers clock skew and stories published while the
// previous scan was running, for the price of re-reading an hour of
// stories.
const publishSlack = time.Hour

// Scanner reads members' last authored activity from the feed.
//
// NOTES facts 39-40: feed.query costs ~20-25 ms per story returned and
// little per user asked about; there is no date constraint and cursors
// must be real story keys. The members are split in chunks of ChunkSize,
// paged by up to Workers at once. For each chunk the scan asks feed.query
// for a page of the newest stories referencing any member still pending
// (limit PageSize, at most the pending count), then the next page with
// after = the oldest story's key, and so on. Stories come newest first and
// the page covers every story of every pending member down to its last
// one, so the first story in it that a pending member authored is their
// newest: every author the page reveals is marked active at once, and
// leaves the filter of the next page. Dropping them is sound because the
// previous page covered every story of a superset of the remaining members
// down to the cursor. A story older than a member's edge (now minus the
// window, or the time the cache already covers) ends the scan for that
// member, and for the whole chunk once every member is past it.
//
// Cost, with N members of whom A are active in the window: each page
// reveals up to its limit of members, less the repeats of members revealed
// earlier in the same page and stories that merely reference a member (an
// admin's edit of their account), so a chunk costs about A_chunk/PageSize
// + 1 calls: the last one crosses the window's edge. Asking per member
// instead would cost one call per member and read the same stories: a
// page never reads more stories than members pending, so it is never the
// dearer of the two, and the scan does not fall back to it.
//
// A re-scan uses the cache: a member whose last activity at T is inside the
// window is active until T+window without asking; a member with none seen
// when last read at R only needs stories newer than R (less publishSlack),
// so their chunk ends at the first story older than R; they go in chunks
// of RefreshChunkSize, with a first page of refreshPageSize. When nothing
// changed, a re-scan costs one call per 10,000 members not known active.
type Scanner struct {
	Feed Feed
	// Cache, if not nil, holds earlier answers.
	Cache Cache
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Ignore lists PHIDs that are never asked about and never active, such
	// as the bot itself: its own stories are not a member's activity, and
	// reading them would cost one story each.
	Ignore []string
	// Workers is how many chunks are paged at once (0: DefaultWorkers; 1
	// or less: one at a time). The client's rate limiter spaces the calls.
	Workers int
	Logger  zerolog.Logger

	// mu guards total, what every scan of this Scanner cost so far.
	mu    sync.Mutex
	total ScanStats
}

// Total returns what every scan of s cost so far (Users and FromCache
// summed over scans).
func (s *Scanner) Total() ScanStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// count adds one scan's cost to the total.
func (s *Scanner) count(st ScanStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total.add(st)
}

// ScanStats is what a scan cost.
type ScanStats struct {
	Users     int // distinct users asked about
	FromCache int // answered from the cache without a call
	Calls     int // feed.query calls
	Stories   int // stories returned, which is what the server's time follows
}

func (t *ScanStats) add(st ScanStats) {
	t.Users += st.Users
	t.FromCache += st.FromCache
	t.Calls += st.Calls
	t.Stories += st.Stories
}

// Source adapts a Scanner to the shape callers without stats use:
// LastActivity(ctx, users, window) (map[string]time.Time, error).
type Source struct{ Scanner *Scanner }

// LastActivity is Scanner.LastActivity without the stats.
func (s Source) LastActivity(ctx context.Context, users []string, window time.Duration) (map[string]time.Time, error) {
	last, _, err := s.Scanner.LastActivity(ctx, users, window)
	return last, err
}

// ActivityCost returns the feed.query calls and stories read by every scan
// so far, for callers that report what a scan cost (plan).
func (s Source) ActivityCost() (calls, stories int) {
	t := s.Scanner.Total()
	return t.Calls, t.Stories
}

// member is one user to ask about in a scan.
type member struct {
	phid string
	// edge is the oldest story time still relevant: now-window, or, when
	// the cache covers that far back, the last read less publishSlack.
	edge time.Time
	// prior is the cached record a re-scan extends, if edge came from it.
	prior *state.Activity
}

// chunk is a slice of members paged together, and the first page's limit.
type chunk struct {
	members []member
	limit   int
}

// LastActivity returns, for each of users, the time of the newest story they
// authored within window before now, or the zero time when the bot saw
// none; and what the scan cost. A member known active from the cache is
// reported with the time cached (they may have been active since). Users
// are deduplicated; empty strings are dropped.
func (s *Scanner) LastActivity(ctx context.Context, users []string, window time.Duration) (_ map[string]time.Time, stats ScanStats, _ error) {
	defer func() { s.count(stats) }()
	if window <= 0 {
		return nil, stats, fmt.Errorf("activity: window %v must be positive", window)
	}
	start := s.now()
	lo := start.Add(-window)
	out, todo := s.distinct(users)
	stats.Users = len(out)
	fresh, refresh, err := s.fromCache(todo, lo, out, &stats)
	if err != nil {
		return nil, stats, err
	}
	chunks := append(split(fresh, ChunkSize, PageSize), split(refresh, RefreshChunkSize, refreshPageSize)...)
	if err := s.scanChunks(ctx, chunks, lo, start, out, &stats); err != nil {
		return nil, stats, err
	}
	s.Logger.Debug().Int("users", stats.Users).Int("from_cache", stats.FromCache).
		Int("calls", stats.Calls).Int("stories", stats.Stories).Dur("window", window).Msg("activity scan")
	return out, stats, nil
}

// now is the scan's clock, in UTC.
func (s *Scanner) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// distinct returns every user once with the zero time, and those to ask
// about: not empty, not ignored, in the order given.
func (s *Scanner) distinct(users []string) (map[string]time.Time, []string) {
	ignore := make(map[string]bool, len(s.Ignore))
	for _, p := range s.Ignore {
		ignore[p] = true
	}
	out := make(map[string]time.Time, len(users))
	var todo []string
	for _, u := range users {
		if _, dup := out[u]; dup || u == "" {
			continue
		}
		out[u] = time.Time{}
		if !ignore[u] {
			todo = append(todo, u)
		}
	}
	return out, todo
}

// fromCache answers from the cache the members it knows active within the
// window (into out) and returns the others: fresh ones to read back to lo,
// and those the cache covers back past lo, to read only since it was read.
func (s *Scanner) fromCache(todo []string, lo time.Time, out map[string]time.Time, stats *ScanStats) (fresh, refresh []member, _ error) {
	cached := map[string]state.Activity{}
	if s.Cache != nil && len(todo) > 0 {
		var err error
		if cached, err = s.Cache.Activities(todo); err != nil {
			return nil, nil, fmt.Errorf("activity: read cache: %w", err)
		}
	}
	for _, u := range todo {
		m := member{phid: u, edge: lo}
		a, ok := cached[u]
		switch {
		case ok && !a.Last.IsZero() && !a.Last.Before(lo):
			out[u] = a.Last.UTC()
			stats.FromCache++
			continue
		case ok && !a.ReadAt.IsZero() && !a.Since.After(lo):
			// The cache covers [Since, ReadAt] back past the window's
			// edge: only newer stories can change the answer.
			m.edge = later(lo, a.ReadAt.Add(-publishSlack))
			m.prior = &a
			refresh = append(refresh, m)
			continue
		}
		fresh = append(fresh, m)
	}
	return fresh, refresh, nil
}

// split cuts ms in chunks of size, each to start with a page of limit.
func split(ms []member, size, limit int) []chunk {
	var out []chunk
	for i := 0; i < len(ms); i += size {
		out = append(out, chunk{members: ms[i:min(i+size, len(ms))], limit: limit})
	}
	return out
}

// scanChunks pages the chunks, Workers at a time, puts what they find in
// out and records each chunk's answer in the cache as it completes, one
// chunk at a time (the Cache need not be safe for concurrent use).
func (s *Scanner) scanChunks(ctx context.Context, chunks []chunk, lo, start time.Time, out map[string]time.Time, stats *ScanStats) error {
	workers := s.Workers
	if workers == 0 {
		workers = DefaultWorkers
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	var mu sync.Mutex // guards out and stats
	for _, c := range chunks {
		g.Go(func() error {
			found, cost, err := s.scanChunk(ctx, c, start)
			mu.Lock()
			stats.add(cost)
			mu.Unlock()
			if err != nil {
				return err
			}
			recs := make(map[string]state.Activity, len(c.members))
			mu.Lock() // also serializes the cache's writes
			defer mu.Unlock()
			for _, m := range c.members {
				rec := state.Activity{Since: lo, ReadAt: start}
				if m.prior != nil {
					// Contiguous with what the cache covered.
					rec.Since, rec.Last = m.prior.Since, m.prior.Last
				}
				if t, ok := found[m.phid]; ok {
					rec.Last = t
					out[m.phid] = t
				}
				recs[m.phid] = rec
			}
			return s.record(recs)
		})
	}
	return g.Wait()
}

// record writes a chunk's results to the cache; a read-only store is not
// an error (plan reads the file a daemon may hold).
func (s *Scanner) record(recs map[string]state.Activity) error {
	if s.Cache == nil {
		return nil
	}
	err := s.Cache.RecordActivity(recs)
	if errors.Is(err, state.ErrReadOnly) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("activity: record cache: %w", err)
	}
	return nil
}

// chunkScan is the state of one chunk's paging.
type chunkScan struct {
	members []member // the chunk's order, so requests are reproducible
	// byEdge is the members ordered by edge, newest edge first: as the
	// cursor moves back in time, they drop off the front; byEdge[:next]
	// have passed their edge.
	byEdge  []member
	next    int
	edge    map[string]time.Time
	pending map[string]bool
	found   map[string]time.Time
}

func newChunkScan(ms []member) *chunkScan {
	c := &chunkScan{members: ms, byEdge: slices.Clone(ms), edge: make(map[string]time.Time, len(ms)),
		pending: make(map[string]bool, len(ms)), found: map[string]time.Time{}}
	slices.SortStableFunc(c.byEdge, func(a, b member) int { return b.edge.Compare(a.edge) })
	for _, m := range ms {
		c.edge[m.phid] = m.edge
		c.pending[m.phid] = true
	}
	return c
}

// filter is the pending members, in the chunk's order.
func (c *chunkScan) filter() []string {
	out := make([]string, 0, len(c.pending))
	for _, m := range c.members {
		if c.pending[m.phid] {
			out = append(out, m.phid)
		}
	}
	return out
}

// take reads one page (newest first): every pending member who authored a
// story in it within their edge is found at their first such story, and
// every member whose edge is newer than a story has nothing older that
// counts. It returns how many members the page revealed.
func (c *chunkScan) take(page []conduit.Story) (revealed int) {
	for _, st := range page {
		if a := st.AuthorPHID; c.pending[a] && !st.Epoch.Before(c.edge[a]) {
			c.found[a] = st.Epoch.UTC()
			delete(c.pending, a)
			revealed++
		}
		for c.next < len(c.byEdge) && c.byEdge[c.next].edge.After(st.Epoch) {
			delete(c.pending, c.byEdge[c.next].phid)
			c.next++
		}
	}
	return revealed
}

// oldestEdge is the oldest edge of the chunk: no story older counts.
func (c *chunkScan) oldestEdge() time.Time { return c.byEdge[len(c.byEdge)-1].edge }

// nextLimit is the limit of the page after one of limit stories that
// spanned span (from the cursor's time to its oldest story) and revealed
// revealed members, with left to go to the oldest edge. The members not
// revealed yet are, on the whole, quieter than those revealed, so the
// next page is sized for the rate at which the last one revealed members
// over the time left, with a margin: the page that crosses the window's
// edge then reads few stories past it, instead of a full page. A page
// that revealed nobody (stories that merely reference members) doubles.
func nextLimit(limit, revealed int, span, left time.Duration) int {
	next := 2 * limit
	if revealed > 0 && span > 0 {
		expect := float64(revealed) * float64(left) / float64(span)
		next = int(min(1.25*expect+4, PageSize))
	}
	return min(max(next, refreshPageSize), PageSize)
}

// scanChunk pages the feed for one chunk and returns the newest authored
// story time of each member found active, and what it cost.
func (s *Scanner) scanChunk(ctx context.Context, ch chunk, start time.Time) (map[string]time.Time, ScanStats, error) {
	c := newChunkScan(ch.members)
	var stats ScanStats
	limit, top := ch.limit, start
	floor := 0 // the least limit, raised when the server overheats
	var after uint64
	for len(c.pending) > 0 {
		q := conduit.FeedQuery{FilterPHIDs: c.filter(), Limit: max(min(limit, len(c.pending)), floor), After: after}
		page, err := s.Feed.Feed(ctx, q)
		stats.Calls++
		if overheated(err) && q.Limit < maxOverheatLimit {
			floor = min(10*q.Limit, maxOverheatLimit)
			continue
		}
		if err != nil {
			return nil, stats, fmt.Errorf("activity: read feed: %w", err)
		}
		stats.Stories += len(page)
		if len(page) == 0 {
			break // nothing older for anyone left
		}
		revealed := c.take(page)
		last := page[len(page)-1]
		if after != 0 && last.ChronologicalKey >= after {
			// A server that does not move past the cursor would loop forever.
			return nil, stats, fmt.Errorf("activity: feed.query paging did not advance past chronologicalKey %d", after)
		}
		limit = nextLimit(limit, revealed, top.Sub(last.Epoch), last.Epoch.Sub(c.oldestEdge()))
		after, top = last.ChronologicalKey, last.Epoch
	}
	return c.found, stats, nil
}

// maxOverheatLimit is the largest limit the scan asks for after the
// server overheated (NOTES fact 52): Phorge examines up to ten times
// limit+1 matching stories for limit+1 it may show, so a run of stories
// the bot cannot see (a member's work on restricted tasks) fails a small
// page; a page ten times larger gets past a run ten times longer, or to
// the end of the member's stories.
const maxOverheatLimit = 1000

// overheated reports whether err is Phorge giving up on a page because
// the viewer could see too few of the stories it examined.
func overheated(err error) bool {
	return err != nil && strings.Contains(err.Error(), "overheated: examined more than")
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ScopePageSize is the page size of a scoped scan. It reads every story
// on the scope's objects within the window anyway (see LastActivityIn), so
// larger pages only save calls; at most ScopePageSize-1 stories past the
// last member found are read for nothing.
const ScopePageSize = 100

// LastActivityIn is Source's scoped LastActivity: only stories about
// objects tagged with one of projectPHIDs count (a campaign's
// activity_scope).
func (s Source) LastActivityIn(ctx context.Context, users []string, window time.Duration, projectPHIDs []string) (map[string]time.Time, error) {
	last, _, err := s.Scanner.LastActivityIn(ctx, users, window, projectPHIDs)
	return last, err
}

// LastActivityIn returns, for each of users, the time of the newest story
// they authored within window before now about an object tagged with one
// of projectPHIDs, or the zero time when the bot saw none; and what the
// scan cost.
//
// feed.query's filterPHIDs matches the projects tagged on a story's object
// when the story was published (getFeedRelatedPHIDs), so filtering by the
// projects returns exactly the stories on the scope's objects: a task
// tagged after the story was written does not bring that story in, and
// untagging does not take it out. Stories about a project itself (its
// creation, membership edits) reference it as their object and are not
// work on a tagged object: they do not count.
//
// Cost: the scan pages the scope's feed newest first, ScopePageSize
// stories a call, until the window's edge or until every user is found, so
// it reads every story on the scope's objects within the window (up to
// the oldest first-found member's), whoever wrote them, not one story per
// active member: the filter cannot name the members and the projects at
// once (filterPHIDs is an OR). That is cheap for a scope of a few busy
// tags and dear for a scope the whole install uses. The cache is neither
// read nor written: it holds unscoped answers.
func (s *Scanner) LastActivityIn(ctx context.Context, users []string, window time.Duration, projectPHIDs []string) (_ map[string]time.Time, stats ScanStats, _ error) {
	defer func() { s.count(stats) }()
	if window <= 0 {
		return nil, stats, fmt.Errorf("activity: window %v must be positive", window)
	}
	var scope []string
	for _, p := range projectPHIDs {
		if p != "" && !slices.Contains(scope, p) {
			scope = append(scope, p)
		}
	}
	if len(scope) == 0 {
		return nil, stats, errors.New("activity: a scoped scan needs at least one project")
	}
	lo := s.now().Add(-window)
	out, todo := s.distinct(users)
	stats.Users = len(out)
	pending := make(map[string]bool, len(todo))
	for _, u := range todo {
		pending[u] = true
	}
	var after uint64
	for len(pending) > 0 {
		page, err := s.Feed.Feed(ctx, conduit.FeedQuery{FilterPHIDs: scope, Limit: ScopePageSize, After: after})
		stats.Calls++
		if err != nil {
			return nil, stats, fmt.Errorf("activity: read the scope's feed: %w", err)
		}
		stats.Stories += len(page)
		// A short page is not the end: the server drops stories that fail
		// to render after reading a page; only an empty one is.
		if takeScoped(page, lo, scope, pending, out) || len(page) == 0 {
			break
		}
		oldest := page[len(page)-1].ChronologicalKey
		if after != 0 && oldest >= after {
			return nil, stats, fmt.Errorf("activity: feed.query paging did not advance past chronologicalKey %d", after)
		}
		after = oldest
	}
	s.Logger.Debug().Int("users", stats.Users).Strs("scope", scope).Int("calls", stats.Calls).
		Int("stories", stats.Stories).Dur("window", window).Msg("scoped activity scan")
	return out, stats, nil
}

// takeScoped reads one page of the scope's feed (newest first): each
// pending user's first story in it within the window, about an object
// other than a scope project itself, is their newest. It reports whether
// the page reached the window's edge.
func takeScoped(page []conduit.Story, lo time.Time, scope []string, pending map[string]bool, out map[string]time.Time) (edge bool) {
	for _, st := range page {
		if st.Epoch.Before(lo) {
			return true
		}
		if pending[st.AuthorPHID] && !slices.Contains(scope, st.ObjectPHID) {
			out[st.AuthorPHID] = st.Epoch.UTC()
			delete(pending, st.AuthorPHID)
		}
	}
	return false
}
