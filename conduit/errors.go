package conduit

import (
	"errors"
	"fmt"
	"mime"
	"net/url"
	"regexp"
	"strings"
)

// Sentinel errors. A *Error matches these with errors.Is according to its
// Conduit error code, so callers never compare code strings.
var (
	// ErrInvalidAuth: the token is wrong, malformed, revoked, or its user
	// may not use the API (ERR-INVALID-AUTH).
	ErrInvalidAuth = errors.New("conduit: API token rejected")
	// ErrNoSession: no token reached the server (ERR-INVALID-SESSION).
	ErrNoSession = errors.New("conduit: no API token in request")
	// ErrPermissionDenied: a policy denial ("[You Shall Not Pass ...",
	// ERR-CONDUIT-CORE) or ERR-PERMISSIONS.
	ErrPermissionDenied = errors.New("conduit: permission denied")
	// ErrInvalidConstraint: a constraint the method (or this viewer) does
	// not know, e.g. mfa for a non-admin (ERR-INVALID-CONSTRAINT).
	ErrInvalidConstraint = errors.New("conduit: invalid constraint")
	// ErrRateLimited: HTTP 429 from the server's rate limiter.
	ErrRateLimited = errors.New("conduit: rate limited")
	// ErrUnknownMethod: the method does not exist on this server.
	ErrUnknownMethod = errors.New("conduit: unknown method")
	// ErrRedirected: the server answered with a redirect, which the client
	// never follows (it would lose the params or send the token elsewhere).
	ErrRedirected = errors.New("conduit: the server redirected")
	// ErrNotConduit: conduit.url answers, but not as Conduit does (an
	// HTML page, a 404, JSON without Conduit's envelope): the URL is wrong.
	ErrNotConduit = errors.New("conduit: not a Conduit API")
	// ErrNotFound: the object does not exist or is not visible
	// (ERR_BAD_TASK, ERR-INVALID-OBJECT-PHID, "does not identify a valid object").
	ErrNotFound = errors.New("conduit: no such object")
	// ErrInvalidArgument: the client refused to send a call whose
	// arguments the server would wrongly accept (a non-user PHID as a
	// project member, say) or refuse. Nothing was sent.
	ErrInvalidArgument = errors.New("conduit: invalid argument")
	// ErrUnavailable: the server could not be reached or failed (connection
	// refused or reset, timeout, truncated answer, HTTP 5xx), after the
	// retries a safe read gets. A write that fails so may or may not have
	// been applied: the caller's reconciliation finds out later.
	ErrUnavailable = errors.New("conduit: Phabricator unavailable")
)

// unavailableError marks a transport failure or server error as
// ErrUnavailable and keeps the underlying error's text and chain.
type unavailableError struct {
	err    error
	status int
}

func (e *unavailableError) Error() string {
	if e.status >= 500 {
		return fmt.Sprintf("%v (HTTP %d)", e.err, e.status)
	}
	return e.err.Error()
}
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// Error is a Conduit error answer. Info is already redacted: it never holds
// an API token, so it is safe to log and store.
type Error struct {
	Method string
	Code   string
	Info   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("conduit %s: %s: %s", e.Method, e.Code, e.Info)
}

// Is maps the Conduit error code (and, for ERR-CONDUIT-CORE, the text) to
// the sentinel errors above.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrInvalidAuth:
		return e.Code == "ERR-INVALID-AUTH"
	case ErrNoSession:
		return e.Code == "ERR-INVALID-SESSION"
	case ErrPermissionDenied:
		return e.Code == "ERR-PERMISSIONS" ||
			(e.Code == "ERR-CONDUIT-CORE" && strings.HasPrefix(e.Info, "[You Shall Not Pass"))
	case ErrInvalidConstraint:
		return e.Code == "ERR-INVALID-CONSTRAINT"
	case ErrRateLimited:
		return e.Code == "429"
	case ErrUnknownMethod:
		return e.Code == "ERR-CONDUIT-CALL" && strings.Contains(e.Info, "does not exist")
	case ErrNotFound:
		return e.Code == "ERR_BAD_TASK" || e.Code == "ERR-INVALID-OBJECT-PHID" ||
			strings.Contains(e.Info, "does not identify a valid object")
	}
	return false
}

// tokenPattern matches Conduit API tokens: 32 characters with prefix api-,
// cli- or clr-. Servers echo the token inside error_info, so every error
// text passes through Redact before it leaves this package.
var tokenPattern = regexp.MustCompile(`\b(api|cli|clr)-[A-Za-z0-9]{4,}`)

// Redact removes anything shaped like an API token from s, and the given
// token itself wherever it appears.
func Redact(s string, token Token) string {
	if t := string(token); t != "" {
		s = strings.ReplaceAll(s, t, "[REDACTED]")
	}
	return tokenPattern.ReplaceAllString(s, "$1-[REDACTED]")
}

// Token is a Conduit API token. It prints as a redacted placeholder in every
// fmt verb and in JSON, so it cannot leak into a log or error by accident;
// Reveal is the one way to read it and is used only to build a request.
type Token string

// String returns a redacted placeholder.
func (t Token) String() string {
	if t == "" {
		return "(none)"
	}
	return "[REDACTED]"
}

// GoString returns a redacted placeholder for %#v.
func (t Token) GoString() string { return t.String() }

// MarshalJSON encodes the token as a redacted placeholder.
func (t Token) MarshalJSON() ([]byte, error) { return []byte(`"[REDACTED]"`), nil }

// MarshalText encodes the token as a redacted placeholder.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Reveal returns the secret; only request building may call it.
func (t Token) Reveal() string { return string(t) }

// ValidFormat reports whether the token has the shape Phorge accepts:
// 32 characters with prefix api-, cli- or clr-.
func (t Token) ValidFormat() bool {
	s := string(t)
	return len(s) == 32 && (strings.HasPrefix(s, "api-") || strings.HasPrefix(s, "cli-") || strings.HasPrefix(s, "clr-"))
}

// NotConduitError says that the server at URL answered conduit.getcapabilities,
// which every Conduit answers without a token, with something that is not
// Conduit. It matches ErrNotConduit.
type NotConduitError struct {
	URL         string
	Status      int    // the HTTP status; 0 if none was seen
	ContentType string // the response's Content-Type
	Path        string // the path asked
}

func (e *NotConduitError) Error() string {
	ct, _, err := mime.ParseMediaType(e.ContentType)
	if err != nil || ct == "" {
		ct = "no content type"
	}
	return fmt.Sprintf("%s is not a Conduit API (got HTTP %d %s from %s); set conduit.url to the Phabricator base URL",
		RedactURL(e.URL), e.Status, ct, e.Path)
}

// Is makes a NotConduitError match ErrNotConduit.
func (e *NotConduitError) Is(target error) bool { return target == ErrNotConduit }

// RedactURL is rawURL with any password replaced by "xxxxx" (url.URL's
// Redacted), for errors and logs; text that does not parse as a URL is
// run through Redact instead.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Redact(rawURL, "")
	}
	return u.Redacted()
}
