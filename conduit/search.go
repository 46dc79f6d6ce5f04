package conduit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/uber/gonduit/requests"
)

// maxPageSize is the largest limit Conduit accepts (ERR-INVALID-PAGE-SIZE
// above it). PHID lists are sent in chunks of the same size.
const maxPageSize = 100

// searchRequest is the params of a *.search call. Every list in Constraints
// must be non-empty (the server refuses empty lists) and After is omitted
// when empty, because after:null restarts from the first page.
type searchRequest struct {
	requests.Request
	ObjectIdentifier string          `json:"objectIdentifier,omitempty"`
	Constraints      map[string]any  `json:"constraints,omitempty"`
	Attachments      map[string]bool `json:"attachments,omitempty"`
	Limit            int             `json:"limit,omitempty"`
	After            string          `json:"after,omitempty"`
	// Order is a builtin order ("newest"); empty leaves the server's
	// default, which for maniphest.search is by priority (NOTES fact 49).
	Order string `json:"order,omitempty"`
}

// searchPage is one *.search answer. transaction.search has no maps.
type searchPage[T any] struct {
	Data   []T `json:"data"`
	Cursor struct {
		After cursorID `json:"after"`
	} `json:"cursor"`
	Maps phpObject[searchMaps] `json:"maps"`
	// at is the server's clock when it answered the page (zero: unknown).
	at time.Time
}

// searchMaps holds the maps a search may return; only project.search's
// slugMap is used.
type searchMaps struct {
	SlugMap phpObject[map[string]slugMapEntry] `json:"slugMap"`
}

type slugMapEntry struct {
	Slug        string `json:"slug"`
	ProjectPHID string `json:"projectPHID"`
}

// cursorID is a cursor's after or before: a row id the server sends as a
// string ("41"), or "" for null.
type cursorID string

func (c *cursorID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*c = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = cursorID(s)
	default:
		// A number: tolerate it rather than fail a whole scan.
		if _, err := strconv.ParseInt(string(b), 10, 64); err != nil {
			return fmt.Errorf("cursor %s is neither a string, an integer nor null", b)
		}
		*c = cursorID(b)
	}
	return nil
}

// phpObject decodes a JSON object into T, and also accepts [] for it: PHP
// encodes an empty associative array as a list.
type phpObject[T any] struct {
	V T
}

func (p *phpObject[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		if len(list) != 0 {
			return fmt.Errorf("expected an object or [], got a list of %d items", len(list))
		}
		var zero T
		p.V = zero
		return nil
	}
	return json.Unmarshal(b, &p.V)
}

// searchAll pages through a *.search method, handing each page to fn, until
// the cursor's after is null or fn reports it has seen enough. req.After is
// advanced in place.
func searchAll[T any](ctx context.Context, c *Client, method string, req *searchRequest, fn func(page *searchPage[T]) (more bool, err error)) error {
	if req.Limit == 0 {
		req.Limit = maxPageSize
	}
	for {
		var page searchPage[T]
		at, err := c.callAt(ctx, method, req, &page)
		if err != nil {
			return err
		}
		page.at = at
		more, err := fn(&page)
		if err != nil {
			return fmt.Errorf("conduit %s: %w", method, err)
		}
		next := string(page.Cursor.After)
		if !more || next == "" {
			return nil
		}
		if next == req.After {
			// A server that hands back the cursor it was given would loop forever.
			return fmt.Errorf("conduit %s: cursor did not advance past %q", method, next)
		}
		req.After = next
	}
}

// chunks splits list into slices of at most n items.
func chunks[T any](list []T, n int) [][]T {
	var out [][]T
	for len(list) > n {
		out = append(out, list[:n:n])
		list = list[n:]
	}
	if len(list) > 0 {
		out = append(out, list)
	}
	return out
}

// dedupe returns list without repeats, in first-seen order.
func dedupe[T comparable](list []T) []T {
	seen := make(map[T]bool, len(list))
	out := make([]T, 0, len(list))
	for _, v := range list {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// phidField is {"phid": ...}, as in attachments.members.members.
type phidField struct {
	PHID string `json:"phid"`
}
