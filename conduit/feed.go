package conduit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uber/gonduit/requests"
)

// Story is one feed story.
type Story struct {
	PHID       string
	AuthorPHID string // may be a non-user PHID (e.g. PHID-APPS-...)
	ObjectPHID string
	Epoch      time.Time // publish time (UTC)
	// ChronologicalKey is (epoch<<32)|random, a decimal string on the
	// wire. It needs uint64: it overflows int64 in 2038.
	ChronologicalKey uint64
}

// FeedQuery is one feed.query call: stories newest first.
type FeedQuery struct {
	// FilterPHIDs keeps stories whose references include one of these
	// PHIDs: the object, the actor, or projects tagged on the object. Nil
	// means the whole feed; a non-nil empty list matches nothing and Feed
	// returns no stories without calling the server.
	FilterPHIDs []string
	// Limit is the page size (0: 100). Each story returned costs the
	// server about 20-25 ms (NOTES fact 40).
	Limit int
	// After is 0 for the newest stories, or the ChronologicalKey of an
	// existing story for the ones older than it. A key made up from a
	// timestamp is refused (ErrNotFound, fact 39).
	After uint64
}

// feedPageSize is Feed's default page size, the server's own default.
const feedPageSize = 100

// feedRequest is feed.query's params. After goes out as a decimal string:
// the server takes a string or an int (fact 35), and a string stays exact
// in every JSON reader. It is left out when 0.
type feedRequest struct {
	requests.Request
	FilterPHIDs []string `json:"filterPHIDs,omitempty"`
	Limit       int      `json:"limit,omitempty"`
	After       uint64   `json:"after,omitempty,string"`
}

// storyRow is one feed.query value in the default view ("data"), which
// carries the object in data.objectPHID; view "text" has it at the top.
type storyRow struct {
	Epoch            int64     `json:"epoch"`
	AuthorPHID       string    `json:"authorPHID"`
	ChronologicalKey storyKey  `json:"chronologicalKey"`
	ObjectPHID       string    `json:"objectPHID"`
	Data             storyData `json:"data"`
}

// storyKey is a chronologicalKey: a decimal string of a uint64 ("7711...")
// as the server sends it, or a JSON integer. null leaves it 0.
//
// gonduit decodes the whole answer into interface{} values (numbers become
// float64) and re-encodes the result before we see it, so a JSON integer
// above 2^53 arrives rounded ("9223372036854776000"). Such a key is refused
// rather than used as a wrong cursor. Strings pass through intact, and every
// real key is above 2^53 (any epoch after January 1970), so only the string
// form is usable in practice.
type storyKey uint64

// maxExactFloat is the largest integer below which float64 holds every
// integer exactly.
const maxExactFloat = 1 << 53

func (k *storyKey) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*k = 0
		return nil
	}
	text, quoted := string(b), len(b) > 0 && b[0] == '"'
	if quoted {
		if err := json.Unmarshal(b, &text); err != nil {
			return err
		}
	}
	v, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return fmt.Errorf("chronologicalKey %s is not an unsigned 64-bit integer", b)
	}
	if !quoted && v > maxExactFloat {
		return fmt.Errorf("chronologicalKey %s came as a JSON number above 2^53, which the decoder rounds; only the string form is exact", b)
	}
	*k = storyKey(v)
	return nil
}

// storyData is the data of a story, of which only objectPHID is used.
// Stories of other classes may carry other shapes (or PHP's [] for an
// empty array): those are ignored rather than failing the whole page.
type storyData struct {
	ObjectPHID string
}

func (d *storyData) UnmarshalJSON(b []byte) error {
	var v struct {
		ObjectPHID string `json:"objectPHID"`
	}
	if json.Unmarshal(b, &v) == nil {
		d.ObjectPHID = v.ObjectPHID
	}
	return nil
}

// Feed makes one feed.query call and returns its stories newest first
// (by ChronologicalKey descending). The server answers an object keyed by
// story PHID, which carries no order, or [] when there are none.
//
// feed.query only reads, so it is retried like the other reads.
func (c *Client) Feed(ctx context.Context, q FeedQuery) ([]Story, error) {
	const method = "feed.query"
	if q.FilterPHIDs != nil && len(q.FilterPHIDs) == 0 {
		return nil, nil
	}
	if q.Limit < 0 {
		return nil, fmt.Errorf("conduit %s: negative limit %d: %w", method, q.Limit, ErrInvalidArgument)
	}
	req := &feedRequest{Limit: q.Limit, After: q.After}
	if req.Limit == 0 {
		req.Limit = feedPageSize
	}
	if q.FilterPHIDs != nil {
		req.FilterPHIDs = dedupe(q.FilterPHIDs)
	}
	// An empty answer is [], which gonduit leaves undecoded: the map stays nil.
	var res phpObject[map[string]storyRow]
	if err := c.call(ctx, method, req, &res); err != nil {
		return nil, err
	}
	stories := make([]Story, 0, len(res.V))
	for phid, r := range res.V {
		if r.ChronologicalKey == 0 {
			// Paging needs the key; a story without one cannot be placed.
			return nil, fmt.Errorf("conduit %s: story %s has no chronologicalKey", method, phid)
		}
		object := r.ObjectPHID
		if object == "" {
			object = r.Data.ObjectPHID
		}
		stories = append(stories, Story{
			PHID:             phid,
			AuthorPHID:       r.AuthorPHID,
			ObjectPHID:       object,
			Epoch:            unixTime(r.Epoch),
			ChronologicalKey: uint64(r.ChronologicalKey),
		})
	}
	slices.SortFunc(stories, func(a, b Story) int {
		if d := cmp.Compare(b.ChronologicalKey, a.ChronologicalKey); d != 0 {
			return d
		}
		return strings.Compare(a.PHID, b.PHID)
	})
	return stories, nil
}
