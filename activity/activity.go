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
	"sync"
	"time"

	"github.com/rs/zerolog"

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

// ChunkSize is how many users one feed.query asks about. The server answers
// a 1,000-PHID filter that matches nothing in ~0.02 s and a 10,000 one in
// ~0.12 s (fact 40), and the scan makes about one call per active member,
// each carrying the chunk's remaining members: 1,000 keeps that overhead
// and the request body (~35 KB) small while the ⌈N/1000⌉ extra calls stay
// negligible.
const ChunkSize = 1000

// RefreshChunkSize is how many users one feed.query asks about in a
// re-scan of members the cache knows were inactive when last read. Few of
// them are expected to have become active, so the scan makes about one call
// per chunk, and a 10,000-PHID filter that matches little costs ~0.12 s
// (fact 40): larger chunks save calls.
const RefreshChunkSize = 10000

// publishSlack is subtracted from a cached ReadAt before a re-scan relies on
// it. Story epochs are the server's publish time and ReadAt is the bot's
// clock: an hour covers clock skew and stories published while the
// previous scan was running, for the price of re-reading an hour of
// stories.
const publishSlack = time.Hour

// Scanner reads members' last authored activity from the feed.
//
// The scan reads about one story per active member (NOTES facts 39-40:
// feed.query costs ~20-25 ms per story returned and almost nothing per user
// asked about; there is no date constraint and cursors must be real story
// keys). For each chunk of up to ChunkSize members it asks feed.query, limit
// 1, for the newest story referencing any member still pending, then again
// with after = that story's key, and so on. Stories come newest first, so
// the first story a pending member authored is their newest: they are
// marked active and leave the filter. Dropping them is sound because the
// previous answer covered every story of a superset of the remaining
// members down to the cursor. A story older than a member's edge (now
// minus the window, or the time the cache already covers) ends the scan for
// that member, and for the whole chunk once every member is past it.
//
// Cost, with N members of whom A are active in the window: each call
// returns one story, and every story but the last of a chunk is the newest
// story of a distinct active member (or of one merely referenced, see
// below), so a chunk costs A_chunk + 1 stories and A_chunk + 1 calls, and
// the scan A + ⌈N/1000⌉ of each (the last call of a chunk may even return
// nothing). A larger limit would not save story reads, which dominate: it
// would return the active members' second, third, … stories, which the
// limit-1 scan never reads. Each story that references a pending member
// without being authored by them (an admin's edit of their account) adds
// one story and one call; they are rare.
//
// A re-scan uses the cache: a member whose last activity at T is inside the
// window is active until T+window without asking; a member with none seen
// when last read at R only needs stories newer than R (less publishSlack),
// so their chunk ends at the first story older than R; they go in chunks
// of RefreshChunkSize. When nothing changed, a re-scan costs one call per
// 10,000 members not known active, and reads at most that many stories.
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
	Logger zerolog.Logger

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
	s.total.Users += st.Users
	s.total.FromCache += st.FromCache
	s.total.Calls += st.Calls
	s.total.Stories += st.Stories
}

// ScanStats is what a scan cost.
type ScanStats struct {
	Users     int // distinct users asked about
	FromCache int // answered from the cache without a call
	Calls     int // feed.query calls
	Stories   int // stories returned, which is what the server's time follows
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
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	start := now().UTC()
	lo := start.Add(-window)

	out := make(map[string]time.Time, len(users))
	var todo []string
	for _, u := range users {
		if _, dup := out[u]; dup || u == "" {
			continue
		}
		out[u] = time.Time{}
		if !slices.Contains(s.Ignore, u) {
			todo = append(todo, u)
		}
	}
	stats.Users = len(out)

	cached := map[string]state.Activity{}
	if s.Cache != nil && len(todo) > 0 {
		var err error
		if cached, err = s.Cache.Activities(todo); err != nil {
			return nil, stats, fmt.Errorf("activity: read cache: %w", err)
		}
	}
	var pending []member
	for _, u := range todo {
		m := member{phid: u, edge: lo}
		if a, ok := cached[u]; ok {
			switch {
			case !a.Last.IsZero() && !a.Last.Before(lo):
				out[u] = a.Last.UTC()
				stats.FromCache++
				continue
			case !a.ReadAt.IsZero() && !a.Since.After(lo):
				// The cache covers [Since, ReadAt] back past the window's
				// edge: only newer stories can change the answer.
				m.edge = later(lo, a.ReadAt.Add(-publishSlack))
				m.prior = &a
			}
		}
		pending = append(pending, m)
	}

	var fresh, refresh []member
	for _, m := range pending {
		if m.prior != nil {
			refresh = append(refresh, m)
		} else {
			fresh = append(fresh, m)
		}
	}
	var chunks [][]member
	for _, g := range []struct {
		ms   []member
		size int
	}{{fresh, ChunkSize}, {refresh, RefreshChunkSize}} {
		for i := 0; i < len(g.ms); i += g.size {
			chunks = append(chunks, g.ms[i:min(i+g.size, len(g.ms))])
		}
	}
	for _, chunk := range chunks {
		found, err := s.scanChunk(ctx, chunk, &stats)
		if err != nil {
			return nil, stats, err
		}
		recs := make(map[string]state.Activity, len(chunk))
		for _, m := range chunk {
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
		if err := s.record(recs); err != nil {
			return nil, stats, err
		}
	}
	s.Logger.Debug().Int("users", stats.Users).Int("from_cache", stats.FromCache).
		Int("calls", stats.Calls).Int("stories", stats.Stories).Dur("window", window).Msg("activity scan")
	return out, stats, nil
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

// scanChunk pages the feed for one chunk and returns the newest authored
// story time of each member found active.
func (s *Scanner) scanChunk(ctx context.Context, chunk []member, stats *ScanStats) (map[string]time.Time, error) {
	// Members ordered by edge, newest edge first: as the cursor moves back
	// in time, they drop off the front.
	byEdge := slices.Clone(chunk)
	slices.SortStableFunc(byEdge, func(a, b member) int { return b.edge.Compare(a.edge) })
	edge := make(map[string]time.Time, len(chunk))
	for _, m := range chunk {
		edge[m.phid] = m.edge
	}
	pending := make(map[string]bool, len(chunk))
	for _, m := range chunk {
		pending[m.phid] = true
	}
	found := map[string]time.Time{}
	next := 0 // byEdge[:next] have passed their edge
	var after uint64
	for len(pending) > 0 {
		// The chunk's order, so requests are reproducible.
		filter := make([]string, 0, len(pending))
		for _, m := range chunk {
			if pending[m.phid] {
				filter = append(filter, m.phid)
			}
		}
		page, err := s.Feed.Feed(ctx, conduit.FeedQuery{FilterPHIDs: filter, Limit: 1, After: after})
		stats.Calls++
		if err != nil {
			return nil, fmt.Errorf("activity: read feed: %w", err)
		}
		stats.Stories += len(page)
		if len(page) == 0 {
			break // nothing older for anyone left
		}
		for _, st := range page { // newest first
			if pending[st.AuthorPHID] && !st.Epoch.Before(edge[st.AuthorPHID]) {
				found[st.AuthorPHID] = st.Epoch.UTC()
				delete(pending, st.AuthorPHID)
			}
			// Everything further is older than this story: members whose
			// edge is newer have nothing left that counts.
			for next < len(byEdge) && byEdge[next].edge.After(st.Epoch) {
				delete(pending, byEdge[next].phid)
				next++
			}
		}
		oldest := page[len(page)-1].ChronologicalKey
		if after != 0 && oldest >= after {
			// A server that does not move past the cursor would loop forever.
			return nil, fmt.Errorf("activity: feed.query paging did not advance past chronologicalKey %d", after)
		}
		after = oldest
	}
	return found, nil
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
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	lo := now().UTC().Add(-window)

	out := make(map[string]time.Time, len(users))
	pending := map[string]bool{}
	for _, u := range users {
		if _, dup := out[u]; dup || u == "" {
			continue
		}
		out[u] = time.Time{}
		if !slices.Contains(s.Ignore, u) {
			pending[u] = true
		}
	}
	stats.Users = len(out)

	var after uint64
	for len(pending) > 0 {
		page, err := s.Feed.Feed(ctx, conduit.FeedQuery{FilterPHIDs: scope, Limit: ScopePageSize, After: after})
		stats.Calls++
		if err != nil {
			return nil, stats, fmt.Errorf("activity: read the scope's feed: %w", err)
		}
		stats.Stories += len(page)
		edge := false
		for _, st := range page { // newest first
			if st.Epoch.Before(lo) {
				edge = true
				break
			}
			if pending[st.AuthorPHID] && !slices.Contains(scope, st.ObjectPHID) {
				out[st.AuthorPHID] = st.Epoch.UTC()
				delete(pending, st.AuthorPHID)
			}
		}
		// A short page is not the end: the server drops stories the viewer
		// cannot see after reading a page (fact 43); only an empty one is.
		if edge || len(page) == 0 {
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
