package conduit

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRateLimited429(t *testing.T) {
	ctx := context.Background()
	tooMany := step{method: "user.whoami", rec: "ratelimit.user.whoami.429.json"}
	withRetryAfter := tooMany
	withRetryAfter.header = map[string]string{"Retry-After": "3"}
	ok := step{method: "user.whoami", rec: "user.whoami.json"}
	edit := step{method: "maniphest.edit", rec: "maniphest.edit.comment.json"}
	editTooMany := step{method: "maniphest.edit", params: edit.params, status: 429, ctype: "text/plain; charset=utf-8",
		body: "TOO MANY REQUESTS\nYou (\"127.0.0.1\") are issuing too many requests too quickly.\n"}
	editTooMany.params = `{"objectIdentifier":"T10","transactions":[{"type":"comment","value":"ACL audit: 5 members will be removed (lab)."}]}`

	whoami := func(c *Client) error { _, err := c.Whoami(ctx); return err }
	tests := []struct {
		name       string
		maxRetries int
		steps      []step
		call       func(c *Client) error
		wantErr    error
		wantSleeps []time.Duration
	}{
		{
			name:       "retried then succeeds",
			steps:      []step{tooMany, tooMany, ok},
			call:       whoami,
			wantSleeps: []time.Duration{500 * time.Millisecond, time.Second},
		},
		{
			name:       "honours Retry-After",
			steps:      []step{withRetryAfter, ok},
			call:       whoami,
			wantSleeps: []time.Duration{3 * time.Second},
		},
		{
			name:       "gives up after MaxRetries",
			maxRetries: 2,
			steps:      []step{tooMany, tooMany, tooMany},
			call:       whoami,
			wantErr:    ErrRateLimited,
			wantSleeps: []time.Duration{500 * time.Millisecond, time.Second},
		},
		{
			name:  "a write is retried too: the server did nothing",
			steps: []step{editTooMany, edit},
			call: func(c *Client) error {
				_, err := c.EditTask(ctx, "T10", CommentEdit("ACL audit: 5 members will be removed (lab)."))
				return err
			},
			wantSleeps: []time.Duration{500 * time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakePhab(t, testToken, tt.steps...)
			c, clock := newTestClient(t, f, Options{MaxRetries: tt.maxRetries})
			err := tt.call(c)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				var ce *Error
				if !errors.As(err, &ce) || ce.Code != "429" || !strings.Contains(ce.Info, "TOO MANY REQUESTS") {
					t.Errorf("err = %#v, want a 429 *Error", err)
				}
			}
			if diff := cmp.Diff(tt.wantSleeps, clock.Sleeps()); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
		})
	}
}

// refusingTransport fails the first n requests to path as if the server
// were down, before anything reaches it.
type refusingTransport struct {
	mu   sync.Mutex
	path string
	n    int
	seen int
	next http.RoundTripper
}

func (rt *refusingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	fail := req.URL.Path == rt.path && rt.n > 0
	if req.URL.Path == rt.path {
		rt.seen++
	}
	if fail {
		rt.n--
	}
	rt.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	return rt.next.RoundTrip(req)
}

func (rt *refusingTransport) Seen() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.seen
}

// TestTransientRetry checks that transport failures and 5xx answers are
// retried for reads and never for writes, whose outcome is unknown.
func TestTransientRetry(t *testing.T) {
	ctx := context.Background()
	whoami := func(c *Client) error { _, err := c.Whoami(ctx); return err }
	createTask := func(c *Client) error { _, err := c.CreateTask(ctx, TaskSpec{Title: "Audit"}); return err }
	whoamiOK := step{method: "user.whoami", rec: "user.whoami.json"}
	createParams := `{"transactions":[{"type":"title","value":"Audit"}]}`
	badGateway := func(method, params string) step {
		return step{method: method, params: params, status: 502, ctype: "text/html", body: "<html>502 Bad Gateway</html>"}
	}
	tests := []struct {
		name       string
		path       string // refuse the first `refuse` connections to it
		refuse     int
		steps      []step
		call       func(c *Client) error
		wantErr    func(error) bool
		wantTries  int // requests that left the client for path
		wantSleeps []time.Duration
	}{
		{
			name: "read: refused, then succeeds", path: "/api/user.whoami", refuse: 1,
			steps: []step{whoamiOK}, call: whoami, wantTries: 2,
			wantSleeps: []time.Duration{500 * time.Millisecond},
		},
		{
			name: "read: refused until MaxRetries", path: "/api/user.whoami", refuse: 10,
			call: whoami, wantTries: 5,
			wantErr: func(err error) bool {
				return errors.Is(err, syscall.ECONNREFUSED) && strings.HasPrefix(err.Error(), "conduit user.whoami: ")
			},
			wantSleeps: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second},
		},
		{
			name: "write: refused, not retried", path: "/api/maniphest.edit", refuse: 1,
			call: createTask, wantTries: 1,
			wantErr: func(err error) bool {
				return errors.Is(err, syscall.ECONNREFUSED) && strings.HasPrefix(err.Error(), "conduit maniphest.edit: ")
			},
		},
		{
			name: "read: connection dropped, then succeeds", path: "/api/user.whoami",
			steps: []step{{method: "user.whoami", params: "{}", hijack: true}, whoamiOK}, call: whoami, wantTries: 2,
			wantSleeps: []time.Duration{500 * time.Millisecond},
		},
		{
			name: "write: connection dropped, not retried", path: "/api/maniphest.edit",
			steps: []step{{method: "maniphest.edit", params: createParams, hijack: true}}, call: createTask, wantTries: 1,
			wantErr: func(err error) bool {
				var ce *Error
				return err != nil && !errors.As(err, &ce) && strings.HasPrefix(err.Error(), "conduit maniphest.edit: ")
			},
		},
		{
			name: "read: 502, then succeeds", path: "/api/user.whoami",
			steps: []step{badGateway("user.whoami", "{}"), whoamiOK}, call: whoami, wantTries: 2,
			wantSleeps: []time.Duration{500 * time.Millisecond},
		},
		{
			name: "write: 502, not retried", path: "/api/maniphest.edit",
			steps: []step{badGateway("maniphest.edit", createParams)}, call: createTask, wantTries: 1,
			wantErr: func(err error) bool {
				var ce *Error
				return errors.As(err, &ce) && ce.Code == "502"
			},
		},
		{
			name: "read: timeout, then succeeds", path: "/api/user.whoami",
			steps: []step{{method: "user.whoami", rec: "user.whoami.json", hang: 5 * time.Second}, whoamiOK},
			call:  whoami, wantTries: 2,
			wantSleeps: []time.Duration{500 * time.Millisecond},
		},
		{
			name: "read: timeouts, retried once only", path: "/api/user.whoami",
			steps: []step{
				{method: "user.whoami", rec: "user.whoami.json", hang: 5 * time.Second},
				{method: "user.whoami", rec: "user.whoami.json", hang: 5 * time.Second},
			},
			call: whoami, wantTries: 2,
			wantErr: func(err error) bool {
				return errors.Is(err, context.DeadlineExceeded) && errors.Is(err, ErrUnavailable)
			},
			wantSleeps: []time.Duration{500 * time.Millisecond},
		},
		{
			name: "write: timeout, not retried", path: "/api/maniphest.edit",
			steps: []step{{method: "maniphest.edit", params: createParams, rec: "maniphest.edit.comment.json", hang: 5 * time.Second}},
			call:  createTask, wantTries: 1,
			wantErr: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakePhab(t, testToken, tt.steps...)
			rt := &refusingTransport{path: tt.path, n: tt.refuse, next: http.DefaultTransport.(*http.Transport).Clone()}
			c, clock := newTestClient(t, f, Options{
				HTTPClient:  &http.Client{Transport: rt},
				CallTimeout: 200 * time.Millisecond,
			})
			err := tt.call(c)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantErr != nil && !tt.wantErr(err):
				t.Fatalf("err = %v (%T), not the error expected", err, err)
			}
			if got := rt.Seen(); got != tt.wantTries {
				t.Errorf("%d requests sent, want %d", got, tt.wantTries)
			}
			if diff := cmp.Diff(tt.wantSleeps, clock.Sleeps()); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
		})
	}
}

// TestContextCancelled checks that a cancelled context stops retries and
// shows through the error.
func TestContextCancelled(t *testing.T) {
	f := newFakePhab(t, testToken)
	c, _ := newTestClient(t, f, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Whoami(ctx)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "conduit user.whoami: ") {
		t.Errorf("err = %v, want context.Canceled from user.whoami", err)
	}
}

// TestNoCallOnInvalidArguments checks that arguments the server would
// wrongly accept are refused before any request.
func TestNoCallOnInvalidArguments(t *testing.T) {
	ctx := context.Background()
	const proj = "PHID-PROJ-nxh4svzrjqwwdqi4xtjd"
	const user = "PHID-USER-jt2jbrlzeekz77ulymzh"
	tests := []struct {
		name string
		call func(c *Client) error
	}{
		{"task PHID as member", func(c *Client) error {
			_, err := c.EditProjectMembers(ctx, proj, []string{"PHID-TASK-bz5jrpabzblepmikl6hm"}, nil)
			return err
		}},
		{"username as member", func(c *Client) error {
			_, err := c.EditProjectMembers(ctx, proj, []string{"user60"}, nil)
			return err
		}},
		{"bogus PHID to remove", func(c *Client) error {
			_, err := c.EditProjectMembers(ctx, proj, nil, []string{user, "PHID-PROJ-x"})
			return err
		}},
		{"empty string as member", func(c *Client) error {
			_, err := c.EditProjectMembers(ctx, proj, []string{""}, nil)
			return err
		}},
		{"added and removed", func(c *Client) error {
			_, err := c.EditProjectMembers(ctx, proj, []string{user}, []string{user})
			return err
		}},
		{"not a project", func(c *Client) error {
			_, err := c.EditProjectMembers(ctx, "#acl_sre-team", []string{user}, nil)
			return err
		}},
		{"task without title", func(c *Client) error {
			_, err := c.CreateTask(ctx, TaskSpec{Description: "x"})
			return err
		}},
		{"edit without edits", func(c *Client) error {
			_, err := c.EditTask(ctx, "T10")
			return err
		}},
		{"edit without identifier", func(c *Client) error {
			_, err := c.EditTask(ctx, "", CommentEdit("x"))
			return err
		}},
		{"task id 0", func(c *Client) error {
			_, err := c.TaskSubscribers(ctx, 0)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakePhab(t, testToken) // any call fails the test
			c, _ := newTestClient(t, f, Options{})
			if err := tt.call(c); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("err = %v, want ErrInvalidArgument", err)
			}
			if calls := f.Calls(); len(calls) != 0 {
				t.Errorf("calls = %v, want none", calls)
			}
		})
	}
	t.Run("nothing to do", func(t *testing.T) {
		f := newFakePhab(t, testToken)
		c, _ := newTestClient(t, f, Options{})
		res, err := c.EditProjectMembers(ctx, proj, nil, []string{})
		if err != nil || !cmp.Equal(res, EditResult{}) {
			t.Errorf("EditProjectMembers = %+v, %v; want a zero result", res, err)
		}
	})
}

// TestConcurrentCalls runs calls in parallel through one client (for -race)
// with the default rate limit.
func TestConcurrentCalls(t *testing.T) {
	const n = 20
	steps := make([]step, n)
	for i := range steps {
		steps[i] = step{method: "user.whoami", rec: "user.whoami.json"}
	}
	f := newFakePhab(t, testToken, steps...)
	c, clock := newTestClient(t, f, Options{RequestsPerSecond: 10})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			if _, err := c.Whoami(context.Background()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var total time.Duration
	for _, d := range clock.Sleeps() {
		total += d
	}
	// 20 requests at 10/s: the last starts at least 1.9s after the first.
	if total < 1900*time.Millisecond {
		t.Errorf("total wait %v, want the limiter to space 20 calls over >= 1.9s", total)
	}
}
