package conduit

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/uber/gonduit/requests"
)

// CreateTask files a task with maniphest.edit.
//
// Empty subscriber and project lists and empty policies are left out (the
// server's defaults apply). A failed create is not retried after a
// transport error: the task may exist, and the caller must look for it
// (by its marker) before filing again.
func (c *Client) CreateTask(ctx context.Context, spec TaskSpec) (EditResult, error) {
	const method = "maniphest.edit"
	if strings.TrimSpace(spec.Title) == "" {
		return EditResult{}, fmt.Errorf("conduit %s: task title is empty: %w", method, ErrInvalidArgument)
	}
	txs := []Edit{{Type: "title", Value: spec.Title}}
	if spec.Description != "" {
		txs = append(txs, Edit{Type: "description", Value: spec.Description})
	}
	if subs := dedupe(spec.SubscriberPHIDs); len(subs) > 0 {
		txs = append(txs, Edit{Type: "subscribers.add", Value: subs})
	}
	if projects := dedupe(spec.ProjectPHIDs); len(projects) > 0 {
		txs = append(txs, Edit{Type: "projects.add", Value: projects})
	}
	if spec.ViewPolicy != "" {
		txs = append(txs, Edit{Type: "view", Value: spec.ViewPolicy})
	}
	if spec.EditPolicy != "" {
		txs = append(txs, Edit{Type: "edit", Value: spec.EditPolicy})
	}
	return c.edit(ctx, method, &editRequest{Transactions: txs})
}

// EditTask applies edits to the task named by identifier ("T10", a PHID).
// It sends nothing and returns an ErrInvalidArgument error when there is
// no edit or no identifier, since an identifier-less maniphest.edit
// creates a task.
func (c *Client) EditTask(ctx context.Context, identifier string, edits ...Edit) (EditResult, error) {
	const method = "maniphest.edit"
	if identifier == "" {
		return EditResult{}, fmt.Errorf("conduit %s: no task identifier: %w", method, ErrInvalidArgument)
	}
	if len(edits) == 0 {
		return EditResult{}, fmt.Errorf("conduit %s: no edits for %s: %w", method, identifier, ErrInvalidArgument)
	}
	return c.edit(ctx, method, &editRequest{ObjectIdentifier: identifier, Transactions: edits})
}

// taskRow is one maniphest.search row.
type taskRow struct {
	ID     int    `json:"id"`
	PHID   string `json:"phid"`
	Fields struct {
		Name        string `json:"name"`
		Description *struct {
			Raw string `json:"raw"`
		} `json:"description"`
		AuthorPHID string `json:"authorPHID"`
		OwnerPHID  string `json:"ownerPHID"` // null: unassigned
		Status     struct {
			Value string `json:"value"`
		} `json:"status"`
		Policy struct {
			View string `json:"view"`
			Edit string `json:"edit"`
		} `json:"policy"`
		DateCreated  int64  `json:"dateCreated"`
		DateModified int64  `json:"dateModified"`
		SpacePHID    string `json:"spacePHID"`
	} `json:"fields"`
	Attachments phpObject[struct {
		Subscribers struct {
			SubscriberPHIDs    []string `json:"subscriberPHIDs"`
			SubscriberCount    int      `json:"subscriberCount"`
			ViewerIsSubscribed bool     `json:"viewerIsSubscribed"`
		} `json:"subscribers"`
		Projects struct {
			ProjectPHIDs []string `json:"projectPHIDs"`
		} `json:"projects"`
	}] `json:"attachments"`
}

func (r taskRow) task() Task {
	t := Task{
		ID:                 r.ID,
		PHID:               r.PHID,
		Title:              r.Fields.Name,
		AuthorPHID:         r.Fields.AuthorPHID,
		OwnerPHID:          r.Fields.OwnerPHID,
		Status:             r.Fields.Status.Value,
		ViewPolicy:         r.Fields.Policy.View,
		EditPolicy:         r.Fields.Policy.Edit,
		SpacePHID:          r.Fields.SpacePHID,
		ProjectPHIDs:       r.Attachments.V.Projects.ProjectPHIDs,
		SubscriberPHIDs:    r.Attachments.V.Subscribers.SubscriberPHIDs,
		SubscriberCount:    r.Attachments.V.Subscribers.SubscriberCount,
		ViewerIsSubscribed: r.Attachments.V.Subscribers.ViewerIsSubscribed,
		DateCreated:        unixTime(r.Fields.DateCreated),
		DateModified:       unixTime(r.Fields.DateModified),
	}
	if r.Fields.Description != nil {
		t.Description = r.Fields.Description.Raw
	}
	return t
}

// unixTime converts epoch seconds to UTC; 0 stays the zero time.
func unixTime(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// SearchTasks pages through maniphest.search with the subscribers and
// projects attachments.
//
// A nil list leaves its constraint out; a non-nil empty one matches no task
// and returns none without calling the server (which refuses empty lists).
// Restricted tasks the viewer cannot see are silently absent.
func (c *Client) SearchTasks(ctx context.Context, q TaskQuery) ([]Task, error) {
	constraints := map[string]any{}
	empty := false
	addList := func(key string, list []string) {
		switch {
		case list == nil:
		case len(list) == 0:
			empty = true
		default:
			constraints[key] = dedupe(list)
		}
	}
	switch {
	case q.IDs == nil:
	case len(q.IDs) == 0:
		empty = true
	default:
		constraints["ids"] = dedupe(q.IDs)
	}
	addList("authorPHIDs", q.AuthorPHIDs)
	addList("projects", q.ProjectPHIDs)
	addList("statuses", q.Statuses)
	if q.PHIDs != nil && len(q.PHIDs) == 0 {
		empty = true
	}
	addList("spaces", q.SpacePHIDs)
	if empty {
		return nil, nil
	}
	if !q.CreatedStart.IsZero() {
		// The server refuses an epoch of zero or less; any such start
		// keeps every task anyway.
		if start := q.CreatedStart.Unix(); start > 0 {
			constraints["createdStart"] = start
		}
	}
	// A long PHID list (a campaign's every task) is sent in chunks of 100,
	// Options.Concurrency at a time: each chunk is one page.
	phidChunks := optionalChunks(dedupe(q.PHIDs))
	pages := make([][]Task, len(phidChunks))
	err := c.parallel(ctx, len(phidChunks), func(ctx context.Context, i int) error {
		cs := maps.Clone(constraints)
		if phidChunks[i] != nil {
			cs["phids"] = phidChunks[i]
		}
		req := &searchRequest{Attachments: map[string]bool{"subscribers": true, "projects": true}}
		if len(cs) > 0 {
			req.Constraints = cs
		}
		return searchAll(ctx, c, "maniphest.search", req, func(p *searchPage[taskRow]) (bool, error) {
			for _, r := range p.Data {
				t := r.task()
				t.ReadAt = p.at
				pages[i] = append(pages[i], t)
			}
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	var tasks []Task
	for _, p := range pages {
		tasks = append(tasks, p...)
	}
	return tasks, nil
}

// RecentTasks returns the newest tasks the token's user can see, open or
// closed, at most max of them (read in pages of 100), with their fields
// (policies included) and no attachments.
func (c *Client) RecentTasks(ctx context.Context, max int) ([]Task, error) {
	var tasks []Task
	if max <= 0 {
		return nil, nil
	}
	err := searchAll(ctx, c, "maniphest.search", &searchRequest{Order: "newest"}, func(p *searchPage[taskRow]) (bool, error) {
		for _, r := range p.Data {
			tasks = append(tasks, r.task())
		}
		return len(tasks) < max, nil
	})
	if len(tasks) > max {
		tasks = tasks[:max]
	}
	return tasks, err
}

// infoRequest is maniphest.info's params.
type infoRequest struct {
	requests.Request
	TaskID int `json:"task_id"`
}

// TaskSubscribers returns a task's complete subscriber list (maniphest.info
// ccPHIDs; the search attachment stops at 10).
func (c *Client) TaskSubscribers(ctx context.Context, taskID int) ([]string, error) {
	const method = "maniphest.info"
	if taskID <= 0 {
		return nil, fmt.Errorf("conduit %s: task id %d: %w", method, taskID, ErrInvalidArgument)
	}
	var r struct {
		PHID    string   `json:"phid"`
		CCPHIDs []string `json:"ccPHIDs"`
	}
	if err := c.call(ctx, method, &infoRequest{TaskID: taskID}, &r); err != nil {
		return nil, err
	}
	if r.PHID == "" {
		return nil, fmt.Errorf("conduit %s: answer for T%d has no phid", method, taskID)
	}
	if r.CCPHIDs == nil {
		r.CCPHIDs = []string{}
	}
	return r.CCPHIDs, nil
}

// transactionRow is one transaction.search row.
type transactionRow struct {
	ID           int    `json:"id"`
	PHID         string `json:"phid"`
	Type         string `json:"type"` // null for most project transactions
	AuthorPHID   string `json:"authorPHID"`
	ObjectPHID   string `json:"objectPHID"`
	DateCreated  int64  `json:"dateCreated"`
	DateModified int64  `json:"dateModified"`
	Comments     []struct {
		ID         int    `json:"id"`
		PHID       string `json:"phid"`
		Version    int    `json:"version"`
		AuthorPHID string `json:"authorPHID"`
		Removed    bool   `json:"removed"`
		Content    struct {
			Raw string `json:"raw"`
		} `json:"content"`
	} `json:"comments"`
	Fields phpObject[struct {
		Operations []struct {
			Operation string `json:"operation"`
			PHID      string `json:"phid"`
		} `json:"operations"`
		Old json.RawMessage `json:"old"`
		New json.RawMessage `json:"new"`
	}] `json:"fields"`
}

func (r transactionRow) transaction() Transaction {
	t := Transaction{
		ID:           r.ID,
		PHID:         r.PHID,
		Type:         r.Type,
		AuthorPHID:   r.AuthorPHID,
		ObjectPHID:   r.ObjectPHID,
		DateCreated:  unixTime(r.DateCreated),
		DateModified: unixTime(r.DateModified),
		Old:          r.Fields.V.Old,
		New:          r.Fields.V.New,
	}
	for _, c := range r.Comments {
		t.Comments = append(t.Comments, Comment{
			ID:         c.ID,
			PHID:       c.PHID,
			Version:    c.Version,
			AuthorPHID: c.AuthorPHID,
			Raw:        c.Content.Raw,
			Removed:    c.Removed,
		})
	}
	for _, op := range r.Fields.V.Operations {
		t.Operations = append(t.Operations, Operation{Operation: op.Operation, PHID: op.PHID})
	}
	return t
}

// TaskTransactions returns the object's transactions with id > afterID in
// ascending id order, paging transaction.search from the newest.
//
// Paging stops at the first row with id <= afterID, so reading what is new
// since the last look costs one page in the common case.
func (c *Client) TaskTransactions(ctx context.Context, objectPHID string, afterID int) ([]Transaction, error) {
	const method = "transaction.search"
	if objectPHID == "" {
		return nil, fmt.Errorf("conduit %s: no object: %w", method, ErrInvalidArgument)
	}
	seen := make(map[int]bool)
	var out []Transaction
	req := &searchRequest{ObjectIdentifier: objectPHID}
	err := searchAll(ctx, c, method, req, func(p *searchPage[transactionRow]) (bool, error) {
		more := true
		for _, r := range p.Data {
			if r.ID <= afterID {
				// Newest first: everything from here on is old.
				more = false
				continue
			}
			if !seen[r.ID] {
				seen[r.ID] = true
				out = append(out, r.transaction())
			}
		}
		return more, nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Transaction) int { return a.ID - b.ID })
	return out, nil
}

// TransactionsByPHID re-reads specific transactions of one object
// (transaction.search's phids constraint), in the current version of
// their comments. Transactions the server does not return (gone, or
// invisible to the bot) are simply missing from the result.
func (c *Client) TransactionsByPHID(ctx context.Context, objectPHID string, txPHIDs []string) ([]Transaction, error) {
	const method = "transaction.search"
	if objectPHID == "" || len(txPHIDs) == 0 {
		// Phorge refuses an empty phids list
		// (ERR-INVALID-CONSTRAINT-PHIDS-FORMAT).
		return nil, fmt.Errorf("conduit %s: no object or no transaction PHIDs: %w", method, ErrInvalidArgument)
	}
	var out []Transaction
	req := &searchRequest{ObjectIdentifier: objectPHID, Constraints: map[string]any{"phids": txPHIDs}}
	seen := map[string]bool{}
	err := searchAll(ctx, c, method, req, func(p *searchPage[transactionRow]) (bool, error) {
		for _, r := range p.Data {
			if !seen[r.PHID] {
				seen[r.PHID] = true
				out = append(out, r.transaction())
			}
		}
		// Every asked-for transaction is in: no need to page on.
		return len(seen) < len(txPHIDs), nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Transaction) int { return a.ID - b.ID })
	return out, nil
}
