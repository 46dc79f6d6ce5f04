package phabtest

import (
	"cmp"
	"html"
	"slices"
	"strconv"
	"time"
)

// story is one feed story: one transaction group on one object.
type story struct {
	phid       string
	key        uint64 // chronologicalKey: epoch<<32 | sequence (fact 34)
	epoch      int64
	authorPHID string
	objectPHID string
	// refs are the PHIDs filterPHIDs matches, fixed when the story is
	// published: the object, the actor and the projects tagged on the
	// object at that time (PhabricatorApplicationTransactionEditor::
	// getFeedRelatedPHIDs). Tagging a project later does not add the old
	// stories to its feed.
	refs      []string
	xactPHIDs []string
	text      string
}

// Story is a feed story as seeded or published.
type Story struct {
	PHID       string
	AuthorPHID string
	ObjectPHID string
	Epoch      time.Time
	// ChronologicalKey is what feed.query's after/before take.
	ChronologicalKey uint64
}

// AddStory publishes a story by author about object at the given time
// (zero: now), without any transaction behind it: seeding for tests and
// benchmarks that need a feed with a history (backdated activity, many
// members). It references the author, the object and, when the object is
// a task, the projects tagged on it now, like a published edit. A story
// about a task or project the viewer cannot see is invisible to them.
func (s *Server) AddStory(author, object string, at time.Time) Story {
	s.mu.Lock()
	defer s.mu.Unlock()
	restore := s.backdate(at)
	defer restore()
	st := s.addStory(author, object, nil, "")
	return Story{PHID: st.phid, AuthorPHID: st.authorPHID, ObjectPHID: st.objectPHID,
		Epoch: time.Unix(st.epoch, 0).UTC(), ChronologicalKey: st.key}
}

// addStory publishes a story at once: there are no daemons to wait for
// here, unlike on a real server (fact 35).
func (s *Server) addStory(author, object string, xs []*xact, text string) *story {
	epoch := s.now()
	s.lastKey++
	st := &story{
		phid:       s.newPHID("STRY"),
		key:        uint64(epoch)<<32 | (s.lastKey & 0xffffffff),
		epoch:      epoch,
		authorPHID: author,
		objectPHID: object,
		refs:       []string{object, author},
		text:       text,
	}
	if t := s.taskByID[object]; t != nil {
		st.refs = append(st.refs, t.projects...)
	}
	// The story names the transactions it shows, not the whole group: a
	// creation shows one (feed.query.user01.limit1.json), and subscriber
	// changes are hidden from feed.
	for _, x := range xs {
		switch {
		case x.typ != nil && *x.typ == "create":
			continue
		case x.typ != nil && *x.typ == "subscribers":
			continue
		}
		st.xactPHIDs = append(st.xactPHIDs, x.phid)
		if xs[0].typ != nil && *xs[0].typ == "create" {
			break
		}
	}
	if len(st.xactPHIDs) == 0 && len(xs) > 0 {
		st.xactPHIDs = []string{xs[0].phid}
	}
	s.stories = append(s.stories, st)
	if s.storyByKey == nil {
		s.storyByKey = map[uint64]*story{}
	}
	s.storyByKey[st.key] = st
	// Backdated seeding appends out of order; the feed is sorted again on
	// the next query.
	if n := len(s.stories); n > 1 && s.stories[n-2].key > st.key {
		s.storiesUnsorted = true
	}
	return st
}

// sortedStories returns every story, oldest first.
func (s *Server) sortedStories() []*story {
	if s.storiesUnsorted {
		slices.SortFunc(s.stories, func(a, b *story) int { return cmp.Compare(a.key, b.key) })
		s.storiesUnsorted = false
		s.refIndex = nil
	}
	return s.stories
}

// smallFilter is the largest filterPHIDs that candidates answers from the
// index by reference rather than by walking the whole feed.
const smallFilter = 16

// candidates returns the stories (oldest first) that may match filter:
// for a small filter, only those referencing one of its PHIDs, so that a
// benchmark's one query per member does not walk every story each time.
func (s *Server) candidates(filter map[string]bool) []*story {
	all := s.sortedStories()
	if filter == nil || len(filter) > smallFilter {
		return all
	}
	if s.refIndexed != len(all) || s.refIndex == nil {
		s.refIndex = map[string][]*story{}
		for _, st := range all {
			for _, r := range slices.Compact(slices.Sorted(slices.Values(st.refs))) {
				s.refIndex[r] = append(s.refIndex[r], st)
			}
		}
		s.refIndexed = len(all)
	}
	var out []*story
	for p := range filter {
		out = append(out, s.refIndex[p]...)
	}
	slices.SortFunc(out, func(a, b *story) int { return cmp.Compare(a.key, b.key) })
	return slices.Compact(out)
}

// storyVisible reports whether the viewer may see the story's object;
// stories about hidden objects are filtered out (facts 35 and 43).
func (s *Server) storyVisible(u *user, st *story) bool {
	if t := s.taskByID[st.objectPHID]; t != nil {
		return s.canTask(u, t, canView)
	}
	if p := s.projByID[st.objectPHID]; p != nil {
		return s.canProject(u, p, canView)
	}
	return true
}

// storyMatches reports whether the story references one of filter (a nil
// filter matches every story).
func storyMatches(st *story, filter map[string]bool) bool {
	if filter == nil {
		return true
	}
	for _, r := range st.refs {
		if filter[r] {
			return true
		}
	}
	return false
}

func (s *Server) feedQuery(c *call) (any, *apiError) {
	q, aerr := s.readFeedQuery(c)
	if aerr != nil {
		return nil, aerr
	}
	match := func(st *story) bool { return storyMatches(st, q.filter) }
	visible := func(st *story) bool { return s.storyVisible(c.viewer, st) }
	page, overheated := feedPage(s.candidates(q.filter), q, match, visible)
	if overheated {
		return nil, coreError("Query (of class \"PhabricatorFeedQuery\") overheated: examined more than %d raw rows without finding %d visible objects.", 10*(q.limit+1), q.limit+1)
	}
	// Each story returned costs the real server ~20-25 ms (fact 40).
	c.cost += time.Duration(len(page)) * s.opts.FeedStoryCost
	// Keyed by story PHID, newest first; PHP's [] when empty (fact 8).
	out := &orderedObject{}
	for _, st := range page {
		out.set(st.phid, s.renderStory(st, q.view))
	}
	return out, nil
}

// feedParams are the parameters of one feed.query.
type feedParams struct {
	filter        map[string]bool // nil for every story
	view          string
	limit         int
	after, before *uint64 // the cursors' chronological keys
}

// readFeedQuery reads and checks feed.query's parameters, in the order
// Phorge does.
func (s *Server) readFeedQuery(c *call) (feedParams, *apiError) {
	q := feedParams{view: "data", limit: 100}
	if raw, ok := c.value("filterPHIDs"); ok {
		list, aerr := readStringList("filterPHIDs", raw, false)
		if aerr != nil {
			return q, aerr
		}
		q.filter = make(map[string]bool, len(list))
		for _, p := range list {
			q.filter[p] = true
		}
	}
	if raw, ok := c.value("view"); ok {
		q.view, _ = raw.(string)
	}
	switch q.view {
	case "data", "text", "html", "html-summary":
	default:
		return q, &apiError{code: codeUnknownFeedView, info: "Unsupported view type, possibles are: html, data, html-summary, text"}
	}
	if raw, ok := c.value("limit"); ok {
		n, isInt := asInt(raw)
		if !isInt {
			return q, errReading("limit", "Expected an integer, got something else.")
		}
		if n > 0 {
			q.limit = int(n)
		}
	}
	var aerr *apiError
	if q.after, aerr = s.feedCursor(c, "after"); aerr != nil {
		return q, aerr
	}
	q.before, aerr = s.feedCursor(c, "before")
	return q, aerr
}

// feedCursor reads the cursor parameter k. after/before must be the
// chronologicalKey of an existing story the viewer can see, as a string
// or a number (facts 35 and 39): Phorge loads the cursor's story through
// the same policy-aware query (without the filter) and refuses a cursor
// it cannot load.
func (s *Server) feedCursor(c *call, k string) (*uint64, *apiError) {
	raw, ok := c.value(k)
	if !ok {
		return nil, nil
	}
	text, _ := stringOrInt(raw)
	key, err := strconv.ParseUint(text, 10, 64)
	if st := s.storyByKey[key]; err != nil || st == nil || !s.storyVisible(c.viewer, st) {
		return nil, coreError("Cursor %q does not identify a valid object in query \"PhabricatorFeedQuery\".", text)
	}
	return &key, nil
}

// feedPage returns up to q.limit stories of all (oldest first) that match
// and are visible, newest first, from q's cursors, as Phorge's policy-aware
// query finds them: it loads matching rows in batches of what it still
// needs (limit+1 visible, at most 1,024 a batch), stops at a short batch
// (the end), and gives up ("overheated") once it has examined 10×(limit+1)
// matching rows without finding limit+1 visible ones.
func feedPage(all []*story, q feedParams, match, visible func(*story) bool) (page []*story, overheated bool) {
	byKey := func(st *story, k uint64) int { return cmp.Compare(st.key, k) }
	var next func() *story // the next matching row, nil at the end
	if q.before != nil && q.after == nil {
		// The oldest stories newer than before, returned newest first.
		i, _ := slices.BinarySearchFunc(all, *q.before+1, byKey)
		next = func() *story {
			for ; i < len(all); i++ {
				if match(all[i]) {
					i++
					return all[i-1]
				}
			}
			return nil
		}
		defer slices.Reverse(page)
	} else {
		i := len(all)
		if q.after != nil {
			i, _ = slices.BinarySearchFunc(all, *q.after, byKey)
		}
		next = func() *story {
			for i--; i >= 0; i-- {
				if match(all[i]) {
					return all[i]
				}
			}
			return nil
		}
	}
	need, seen := q.limit+1, 0
	for {
		batch := min(need-len(page), 1024)
		n := 0
		for ; n < batch; n++ {
			st := next()
			if st == nil {
				break
			}
			if visible(st) {
				page = append(page, st)
			}
		}
		seen += n
		switch {
		case len(page) >= need:
			return page[:q.limit], false
		case n < batch:
			return page, false
		case seen >= 10*need:
			return nil, true
		}
	}
}

func (s *Server) renderStory(st *story, view string) any {
	key := strconv.FormatUint(st.key, 10)
	switch view {
	case "html", "html-summary":
		return `<div class="phui-feed-story">` + html.EscapeString(st.text) + `</div>`
	case "text":
		return map[string]any{
			"class": "PhabricatorApplicationTransactionFeedStory", "epoch": st.epoch,
			"authorPHID": st.authorPHID, "chronologicalKey": key,
			"objectPHID": st.objectPHID, "text": st.text,
		}
	}
	xs := &orderedObject{}
	for _, p := range st.xactPHIDs {
		xs.set(p, p)
	}
	return map[string]any{
		"class": "PhabricatorApplicationTransactionFeedStory", "epoch": st.epoch,
		"authorPHID": st.authorPHID, "chronologicalKey": key,
		"data": map[string]any{"objectPHID": st.objectPHID, "transactionPHIDs": xs},
	}
}
