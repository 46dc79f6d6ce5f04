package conduit

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// errNotImplemented marks methods still to be written.
var errNotImplemented = errors.New("conduit: not implemented")

// Options tune a Client. Zero values get sensible defaults.
type Options struct {
	// HTTPClient is shared by every call so connections are reused
	// (gonduit would otherwise build a new transport per call).
	HTTPClient *http.Client
	// CallTimeout bounds each call when the context has no earlier deadline.
	CallTimeout time.Duration
	// RequestsPerSecond is the client-side rate limit (0: 10/s).
	RequestsPerSecond float64
	// MaxRetries bounds retries of safe calls and of 429 answers (0: 4).
	MaxRetries int
	// Logger receives debug lines per call (method, duration); never params.
	Logger zerolog.Logger
	// Sleep waits between retries; tests replace it. Nil: real sleep that
	// honours the context.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls Conduit. It is safe for concurrent use.
type Client struct {
	baseURL string
	token   Token
	opts    Options
}

// Dial connects to the Conduit API at baseURL (e.g. https://phab.example.org)
// with token, checking the server's capabilities.
func Dial(ctx context.Context, baseURL string, token Token, opts Options) (*Client, error) {
	return nil, errNotImplemented
}

// Ping calls conduit.ping (no token needed) and returns the server's host name.
func (c *Client) Ping(ctx context.Context) (string, error) { return "", errNotImplemented }

// Whoami returns the token's account.
func (c *Client) Whoami(ctx context.Context) (Whoami, error) { return Whoami{}, errNotImplemented }

// ResolveProjects finds projects by name or slug ("WMF-NDA", "acl*security",
// "acl_security", "#acl_security") with project.search's slugs constraint and
// returns them keyed by the name as given. Names that match nothing, or
// projects the viewer cannot see, are absent from the map.
func (c *Client) ResolveProjects(ctx context.Context, names []string, withMembers bool) (map[string]Project, error) {
	return nil, errNotImplemented
}

// ProjectsByPHID returns the projects with the given PHIDs that the viewer can see.
func (c *Client) ProjectsByPHID(ctx context.Context, phids []string, withMembers bool) ([]Project, error) {
	return nil, errNotImplemented
}

// SearchUsers pages through user.search (100 a page, PHID lists sent in
// chunks of 100) and returns every match.
func (c *Client) SearchUsers(ctx context.Context, q UserQuery) ([]User, error) {
	return nil, errNotImplemented
}

// LookupNames calls phid.lookup; unresolved names are absent from the map.
func (c *Client) LookupNames(ctx context.Context, names []string) (map[string]Object, error) {
	return nil, errNotImplemented
}

// CreateTask files a task with maniphest.edit.
func (c *Client) CreateTask(ctx context.Context, spec TaskSpec) (EditResult, error) {
	return EditResult{}, errNotImplemented
}

// EditTask applies edits to the task named by identifier ("T10", a PHID).
func (c *Client) EditTask(ctx context.Context, identifier string, edits ...Edit) (EditResult, error) {
	return EditResult{}, errNotImplemented
}

// SearchTasks pages through maniphest.search with the subscribers and
// projects attachments.
func (c *Client) SearchTasks(ctx context.Context, q TaskQuery) ([]Task, error) {
	return nil, errNotImplemented
}

// TaskSubscribers returns a task's complete subscriber list (maniphest.info
// ccPHIDs; the search attachment stops at 10).
func (c *Client) TaskSubscribers(ctx context.Context, taskID int) ([]string, error) {
	return nil, errNotImplemented
}

// TaskTransactions returns the object's transactions with id > afterID in
// ascending id order, paging transaction.search from the newest.
func (c *Client) TaskTransactions(ctx context.Context, objectPHID string, afterID int) ([]Transaction, error) {
	return nil, errNotImplemented
}

// EditProjectMembers adds and removes project members with project.edit.
// Every PHID must be a user PHID: the server accepts anything.
func (c *Client) EditProjectMembers(ctx context.Context, projectPHID string, add, remove []string) (EditResult, error) {
	return EditResult{}, errNotImplemented
}
