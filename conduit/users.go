package conduit

import (
	"context"
	"fmt"
	"strings"

	"github.com/uber/gonduit/requests"
)

// userRow is one user.search row.
type userRow struct {
	ID     int    `json:"id"`
	PHID   string `json:"phid"`
	Fields struct {
		Username string   `json:"username"`
		RealName string   `json:"realName"`
		Roles    []string `json:"roles"`
		// DateCreated is when the account was created, epoch seconds.
		DateCreated int64 `json:"dateCreated"`
	} `json:"fields"`
}

// SearchUsers pages through user.search (100 a page, PHID lists sent in
// chunks of 100) and returns every match.
//
// A nil PHIDs or Usernames leaves that constraint out; a non-nil empty one
// matches nobody and returns no users without calling the server (which
// refuses empty lists).
func (c *Client) SearchUsers(ctx context.Context, q UserQuery) ([]User, error) {
	if (q.PHIDs != nil && len(q.PHIDs) == 0) || (q.Usernames != nil && len(q.Usernames) == 0) {
		return nil, nil
	}
	base := map[string]any{}
	if q.MFA != nil {
		base["mfa"] = *q.MFA
	}
	if q.IsDisabled != nil {
		base["isDisabled"] = *q.IsDisabled
	}
	if q.IsBot != nil {
		base["isBot"] = *q.IsBot
	}
	// Constraints are ANDed, so chunking both lists needs every pair of
	// chunks; a user matches at most one chunk of each, so nothing repeats.
	phidChunks := optionalChunks(dedupe(q.PHIDs))
	nameChunks := optionalChunks(dedupe(q.Usernames))
	var reqs []*searchRequest
	for _, phids := range phidChunks {
		for _, names := range nameChunks {
			constraints := make(map[string]any, len(base)+2)
			for k, v := range base {
				constraints[k] = v
			}
			if phids != nil {
				constraints["phids"] = phids
			}
			if names != nil {
				constraints["usernames"] = names
			}
			req := &searchRequest{}
			if len(constraints) > 0 {
				req.Constraints = constraints
			}
			reqs = append(reqs, req)
		}
	}
	// The chunks are independent: send them Options.Concurrency at a time
	// (the rate limiter still spaces every request), so a scan of N
	// members takes about the time of N/100/Concurrency calls instead of
	// N/100 back to back (issue 8, item 8). Results keep the chunk order.
	pages := make([][]User, len(reqs))
	err := c.parallel(ctx, len(reqs), func(ctx context.Context, i int) error {
		return searchAll(ctx, c, "user.search", reqs[i], func(p *searchPage[userRow]) (bool, error) {
			for _, r := range p.Data {
				pages[i] = append(pages[i], User{
					ID:       r.ID,
					PHID:     r.PHID,
					Username: r.Fields.Username,
					RealName: r.Fields.RealName,
					Roles:    r.Fields.Roles,
					Created:  unixTime(r.Fields.DateCreated),
				})
			}
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	var users []User
	for _, p := range pages {
		users = append(users, p...)
	}
	return users, nil
}

// optionalChunks splits a constraint list into chunks of maxPageSize; a nil
// list (no constraint) gives one nil chunk so the caller loops once.
func optionalChunks(list []string) [][]string {
	if len(list) == 0 {
		return [][]string{nil}
	}
	return chunks(list, maxPageSize)
}

// lookupRequest is phid.lookup's params.
type lookupRequest struct {
	requests.Request
	Names []string `json:"names"`
}

// lookupRow is one phid.lookup value.
type lookupRow struct {
	PHID     string `json:"phid"`
	URI      string `json:"uri"`
	TypeName string `json:"typeName"`
	Type     string `json:"type"`
	Name     string `json:"name"`
	FullName string `json:"fullName"`
	Status   string `json:"status"`
}

// LookupNames calls phid.lookup; unresolved names are absent from the map.
// Only "#slug" (with _ for *), "@username" and monograms ("T4") resolve;
// keys are the names exactly as given.
func (c *Client) LookupNames(ctx context.Context, names []string) (map[string]Object, error) {
	out := make(map[string]Object)
	for _, chunk := range chunks(dedupe(names), maxPageSize) {
		// The result is [] when nothing matched: gonduit then leaves the
		// map untouched, which reads as "no matches".
		var res phpObject[map[string]lookupRow]
		if err := c.call(ctx, "phid.lookup", &lookupRequest{Names: chunk}, &res); err != nil {
			return nil, err
		}
		for name, r := range res.V {
			if r.PHID == "" {
				return nil, fmt.Errorf("conduit phid.lookup: answer for %q has no phid", name)
			}
			out[name] = Object{
				PHID:     r.PHID,
				Type:     r.Type,
				TypeName: r.TypeName,
				Name:     r.Name,
				FullName: r.FullName,
				URI:      r.URI,
				Status:   r.Status,
			}
		}
	}
	return out, nil
}

// SetUserDisabled disables (or, with disabled false, enables) the account
// userPHID with one user.edit transaction of type "disabled". The caller
// needs Phorge's "Can Disable Users" capability (administrators by
// default); anyone else is refused with a policy error matching
// ErrPermissionDenied (NOTES fact 60). Disabling an account that is
// already disabled is accepted and changes nothing (an empty transaction
// list). A disabled account's API tokens are refused with ERR-INVALID-AUTH
// from then on.
func (c *Client) SetUserDisabled(ctx context.Context, userPHID string, disabled bool) (EditResult, error) {
	const method = "user.edit"
	if !strings.HasPrefix(userPHID, "PHID-USER-") {
		return EditResult{}, fmt.Errorf("conduit %s: %q is not a user PHID: %w", method, userPHID, ErrInvalidArgument)
	}
	req := &editRequest{ObjectIdentifier: userPHID, Transactions: []Edit{{Type: "disabled", Value: disabled}}}
	return c.edit(ctx, method, req)
}
