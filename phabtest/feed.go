package phabtest

import (
	"html"
	"slices"
	"strconv"
)

// story is one feed story: one transaction group on one object.
type story struct {
	phid       string
	key        uint64 // chronologicalKey: epoch<<32 | sequence (fact 34)
	epoch      int64
	authorPHID string
	objectPHID string
	xactPHIDs  []string
	text       string
}

// addStory publishes a story at once: there are no daemons to wait for
// here, unlike on a real server (fact 35).
func (s *Server) addStory(author, object string, xs []*xact, text string) {
	epoch := s.now()
	s.lastKey++
	st := &story{
		phid:       s.newPHID("STRY"),
		key:        uint64(epoch)<<32 | (s.lastKey & 0xffffffff),
		epoch:      epoch,
		authorPHID: author,
		objectPHID: object,
		text:       text,
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
}

// storyVisible reports whether the viewer may see the story's object;
// stories about hidden objects are filtered out (fact 35).
func (s *Server) storyVisible(u *user, st *story) bool {
	if t := s.taskByID[st.objectPHID]; t != nil {
		return s.canTask(u, t, canView)
	}
	if p := s.projByID[st.objectPHID]; p != nil {
		return s.canProject(u, p, canView)
	}
	return true
}

// storyMatches reports whether the story references one of filter: its
// object, its actor, or a project tagged on the object (fact 35).
func (s *Server) storyMatches(st *story, filter []string) bool {
	if len(filter) == 0 {
		return true
	}
	refs := []string{st.objectPHID, st.authorPHID}
	if t := s.taskByID[st.objectPHID]; t != nil {
		refs = append(refs, t.projects...)
	}
	return slices.ContainsFunc(refs, func(r string) bool { return slices.Contains(filter, r) })
}

func (s *Server) feedQuery(c *call) (any, *apiError) {
	var filter []string
	if raw, ok := c.value("filterPHIDs"); ok {
		var aerr *apiError
		if filter, aerr = readStringList("filterPHIDs", raw, false); aerr != nil {
			return nil, aerr
		}
	}
	view := "data"
	if raw, ok := c.value("view"); ok {
		view, _ = raw.(string)
	}
	switch view {
	case "data", "text", "html", "html-summary":
	default:
		return nil, &apiError{code: codeUnknownFeedView, info: "Unsupported view type, possibles are: html, data, html-summary, text"}
	}
	limit := 100
	if raw, ok := c.value("limit"); ok {
		n, isInt := asInt(raw)
		if !isInt {
			return nil, errReading("limit", "Expected an integer, got something else.")
		}
		if n > 0 {
			limit = int(n)
		}
	}
	// after/before must be the chronologicalKey of an existing story, as a
	// string or a number (facts 35 and 39).
	cursor := func(k string) (*uint64, *apiError) {
		raw, ok := c.value(k)
		if !ok {
			return nil, nil
		}
		text, _ := stringOrInt(raw)
		key, err := strconv.ParseUint(text, 10, 64)
		if err != nil || !slices.ContainsFunc(s.stories, func(st *story) bool { return st.key == key }) {
			return nil, coreError("Cursor %q does not identify a valid object in query \"PhabricatorFeedQuery\".", text)
		}
		return &key, nil
	}
	after, aerr := cursor("after")
	if aerr != nil {
		return nil, aerr
	}
	before, aerr := cursor("before")
	if aerr != nil {
		return nil, aerr
	}
	var rows []*story
	for _, st := range s.stories {
		if s.storyVisible(c.viewer, st) && s.storyMatches(st, filter) {
			rows = append(rows, st)
		}
	}
	slices.SortFunc(rows, func(a, b *story) int {
		switch {
		case a.key > b.key:
			return -1
		case a.key < b.key:
			return 1
		}
		return 0
	})
	var page []*story
	switch {
	case after != nil:
		for _, st := range rows {
			if st.key < *after && len(page) < limit {
				page = append(page, st)
			}
		}
	case before != nil:
		for _, st := range slices.Backward(rows) {
			if st.key > *before && len(page) < limit {
				page = append(page, st)
			}
		}
		slices.Reverse(page)
	default:
		page = rows[:min(limit, len(rows))]
	}
	// Keyed by story PHID, newest first; PHP's [] when empty (fact 8).
	out := &orderedObject{}
	for _, st := range page {
		out.set(st.phid, s.renderStory(st, view))
	}
	return out, nil
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
