package conduit

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/uber/gonduit/requests"
)

// TestErrorSentinels maps every family of recorded error answers to its
// sentinel, and checks that no error text holds the token.
func TestErrorSentinels(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		token  Token
		step   step
		call   func(c *Client) error
		want   error
		method string
		code   string
	}{
		{
			name: "bad token", step: step{method: "user.whoami", rec: "error.bad-token.json"},
			call: func(c *Client) error { _, err := c.Whoami(ctx); return err },
			want: ErrInvalidAuth, method: "user.whoami", code: "ERR-INVALID-AUTH",
		},
		{
			name: "bad token length", step: step{method: "user.whoami", rec: "error.bad-token-length.json"},
			call: func(c *Client) error { _, err := c.Whoami(ctx); return err },
			want: ErrInvalidAuth, method: "user.whoami", code: "ERR-INVALID-AUTH",
		},
		{
			name: "bad token prefix", step: step{method: "user.whoami", rec: "error.bad-token-prefix.json"},
			call: func(c *Client) error { _, err := c.Whoami(ctx); return err },
			want: ErrInvalidAuth, method: "user.whoami", code: "ERR-INVALID-AUTH",
		},
		{
			name: "disabled user", step: step{method: "user.whoami", rec: "error.disabled-user-token.json"},
			call: func(c *Client) error { _, err := c.Whoami(ctx); return err },
			want: ErrInvalidAuth, method: "user.whoami", code: "ERR-INVALID-AUTH",
		},
		{
			name: "no token", token: "(none)", step: step{method: "user.whoami", rec: "error.user.whoami.no-token.json"},
			call: func(c *Client) error { _, err := c.Whoami(ctx); return err },
			want: ErrNoSession, method: "user.whoami", code: "ERR-INVALID-SESSION",
		},
		{
			name: "project edit denied", step: step{method: "project.edit", rec: "error.project.edit.members-remove.wmf-nda.as-auditbot.json"},
			call: func(c *Client) error {
				_, err := c.EditProjectMembers(ctx, "PHID-PROJ-5uxxtscinxsl76gvjevn", nil, []string{"PHID-USER-h5cutsh7wurbsajcplp7"})
				return err
			},
			want: ErrPermissionDenied, method: "project.edit", code: "ERR-CONDUIT-CORE",
		},
		{
			name: "invisible project", step: step{method: "project.edit", rec: "error.project.edit.invisible-project.as-auditbot.json"},
			call: func(c *Client) error {
				_, err := c.EditProjectMembers(ctx, "PHID-PROJ-qpvwurw3todsiq3fnvcs", nil, []string{"PHID-USER-cgvrikecemstkjtxsnt5"})
				return err
			},
			want: ErrPermissionDenied, method: "project.edit", code: "ERR-CONDUIT-CORE",
		},
		{
			name: "legacy ERR-PERMISSIONS", step: step{method: "user.disable", rec: "error.user.disable.permission-denied.json", params: anyParams},
			call: func(c *Client) error { return c.call(ctx, "user.disable", &requests.Request{}, nil) },
			want: ErrPermissionDenied, method: "user.disable", code: "ERR-PERMISSIONS",
		},
		{
			name: "unknown constraint", step: step{method: "user.search", rec: "error.bad-params.unknown-constraint.json", params: anyParams},
			call: func(c *Client) error { _, err := c.SearchUsers(ctx, UserQuery{IsBot: ptr(true)}); return err },
			want: ErrInvalidConstraint, method: "user.search", code: "ERR-INVALID-CONSTRAINT",
		},
		{
			name: "mfa as non-admin",
			step: step{method: "user.search", rec: "user.search.mfa-true.non-admin.json", params: `{"constraints":{"mfa":true},"limit":100}`},
			call: func(c *Client) error { _, err := c.SearchUsers(ctx, UserQuery{MFA: ptr(true)}); return err },
			want: ErrInvalidConstraint, method: "user.search", code: "ERR-INVALID-CONSTRAINT",
		},
		{
			name: "unknown method", step: step{method: "no.such.method", rec: "error.unknown-method.json"},
			call: func(c *Client) error { return c.call(ctx, "no.such.method", &requests.Request{}, nil) },
			want: ErrUnknownMethod, method: "no.such.method", code: "ERR-CONDUIT-CALL",
		},
		{
			name: "no such task", step: step{method: "maniphest.info", rec: "error.maniphest.info.no-such-task.json"},
			call: func(c *Client) error { _, err := c.TaskSubscribers(ctx, 9999); return err },
			want: ErrNotFound, method: "maniphest.info", code: "ERR_BAD_TASK",
		},
		{
			name: "restricted task info", step: step{method: "maniphest.info", rec: "error.maniphest.info.restricted-as-non-subscriber.json"},
			call: func(c *Client) error { _, err := c.TaskSubscribers(ctx, 10); return err },
			want: ErrPermissionDenied, method: "maniphest.info", code: "ERR-CONDUIT-CORE",
		},
		{
			name: "restricted task edit", step: step{method: "maniphest.edit", rec: "error.maniphest.edit.restricted-as-non-subscriber.json"},
			call: func(c *Client) error { _, err := c.EditTask(ctx, "T10", CommentEdit("can I?")); return err },
			want: ErrNotFound, method: "maniphest.edit", code: "ERR-CONDUIT-CORE",
		},
		{
			name: "restricted task transactions",
			step: step{method: "transaction.search", rec: "error.transaction.search.restricted-as-non-subscriber.json", params: `{"objectIdentifier":"T10","limit":100}`},
			call: func(c *Client) error { _, err := c.TaskTransactions(ctx, "T10", 0); return err },
			want: ErrNotFound, method: "transaction.search", code: "ERR-INVALID-OBJECT-PHID",
		},
	}
	sentinels := []error{ErrInvalidAuth, ErrNoSession, ErrPermissionDenied, ErrInvalidConstraint, ErrRateLimited, ErrUnknownMethod, ErrNotFound, ErrInvalidArgument}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := testToken
			if tt.token == "(none)" {
				token = ""
			}
			var logs bytes.Buffer
			f := newFakePhab(t, token, tt.step)
			c, _ := newTestClient(t, f, Options{Logger: zerolog.New(&logs).Level(zerolog.DebugLevel)})
			err := tt.call(c)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, got)
				}
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Method != tt.method || ce.Code != tt.code {
				t.Errorf("err = %#v, want *Error{Method: %s, Code: %s}", err, tt.method, tt.code)
			}
			if strings.Contains(err.Error(), testToken.Reveal()) || strings.Contains(logs.String(), testToken.Reveal()) {
				t.Errorf("token leaked: err %q, logs %q", err, logs.String())
			}
			if got := f.Calls(); len(got) != 1 {
				t.Errorf("calls = %v, want exactly one (errors are answers, not retried)", got)
			}
			if !strings.Contains(logs.String(), `"error_code":"`+tt.code+`"`) {
				t.Errorf("log lacks the error code: %s", logs.String())
			}
		})
	}
}

// TestBadTokenRedacted proves the server's echo of a bad token never reaches
// an error string or a log line.
func TestBadTokenRedacted(t *testing.T) {
	const bad Token = "api-thisisnotavalidtokenatall123"
	var logs bytes.Buffer
	f := newFakePhab(t, bad, step{method: "user.whoami", rec: "error.bad-token.json"})
	c, _ := newTestClient(t, f, Options{Logger: zerolog.New(&logs).Level(zerolog.DebugLevel)})
	_, err := c.Whoami(context.Background())
	if !errors.Is(err, ErrInvalidAuth) {
		t.Fatalf("err = %v, want ErrInvalidAuth", err)
	}
	for _, s := range []string{err.Error(), err.(*Error).Info, logs.String()} {
		if strings.Contains(s, bad.Reveal()) || strings.Contains(s, "thisisnotavalid") {
			t.Errorf("token leaked in %q", s)
		}
	}
	if want := `conduit user.whoami: ERR-INVALID-AUTH: API token "[REDACTED]" is not valid.`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if !strings.Contains(logs.String(), `"method":"user.whoami"`) || !strings.Contains(logs.String(), `"attempt":1`) {
		t.Errorf("log line lacks method or attempt: %s", logs.String())
	}
	// A duration's unit is in its name, as an integer (issue 9).
	if !regexp.MustCompile(`"took_ms":\d+[,}]`).MatchString(logs.String()) {
		t.Errorf("log line lacks an integer took_ms: %s", logs.String())
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`API token "api-abcdefghijklmnopqrstuvwxyz12" is not valid.`, `API token "[REDACTED]" is not valid.`},
		{`other token cli-zzzzzzzzzzzzzzzzzzzzzzzzzzzz`, `other token cli-[REDACTED]`},
		{`nothing secret`, `nothing secret`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Redact(tt.in, testToken); got != tt.want {
				t.Errorf("Redact = %q, want %q", got, tt.want)
			}
		})
	}
}
