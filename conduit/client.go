package conduit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/uber/gonduit"
	"github.com/uber/gonduit/core"
	"github.com/uber/gonduit/requests"
	"golang.org/x/sync/errgroup"
)

// Defaults for zero Options fields.
const (
	DefaultCallTimeout       = 30 * time.Second
	DefaultRequestsPerSecond = 10
	DefaultMaxRetries        = 4
	DefaultConcurrency       = 4
)

// maxTimeoutRetries bounds how often a read whose attempt timed out is
// tried again (other transient failures get MaxRetries).
const maxTimeoutRetries = 1

// maxInfoLen bounds the error text kept from a non-JSON answer (an HTML
// error page from a proxy, say), which gonduit passes on whole.
const maxInfoLen = 2000

// Options tune a Client. Zero values get sensible defaults.
type Options struct {
	// HTTPClient is shared by every call so connections are reused
	// (gonduit would otherwise build a new transport per call).
	HTTPClient *http.Client
	// CallTimeout bounds each HTTP request (each attempt of a call) when the
	// context has no earlier deadline (0: 30s; negative: no bound). The
	// clock starts after the rate limiter's wait.
	CallTimeout time.Duration
	// RequestsPerSecond is the client-side rate limit (0: 10/s; negative:
	// unlimited).
	RequestsPerSecond float64
	// MaxRetries bounds retries of safe calls and of 429 answers (0: 4;
	// negative: no retries).
	MaxRetries int
	// Concurrency bounds how many calls of one batched read (user.search
	// over PHID chunks) are in flight at once (0: 4; 1 or negative: one at
	// a time). Every request still waits for the rate limiter.
	Concurrency int
	// Logger receives debug lines per call (method, duration); never params.
	Logger zerolog.Logger
	// Sleep waits between retries; tests replace it. Nil: real sleep that
	// honours the context.
	Sleep func(ctx context.Context, d time.Duration) error
	// UserAgent is sent with every request, so that a Phabricator
	// administrator can tell the bot's calls apart in the web server's
	// logs (e.g. "auditbot/v1.2.3"). Empty: "auditbot".
	UserAgent string
	// Observe, if set, is called once per call (after its retries) with
	// the method, how long the call took and its error: the daemon counts
	// calls, errors and latency by method without this package knowing
	// about metrics.
	Observe func(method string, took time.Duration, err error)
}

// withDefaults fills in zero fields.
func (o Options) withDefaults() Options {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	switch {
	case o.CallTimeout == 0:
		o.CallTimeout = DefaultCallTimeout
	case o.CallTimeout < 0:
		o.CallTimeout = 0
	}
	if o.RequestsPerSecond == 0 {
		o.RequestsPerSecond = DefaultRequestsPerSecond
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	switch {
	case o.Concurrency == 0:
		o.Concurrency = DefaultConcurrency
	case o.Concurrency < 0:
		o.Concurrency = 1
	}
	return o
}

// parallel runs fn(ctx, 0..n-1) with at most Options.Concurrency running at
// once and returns the first error; the others are cancelled through ctx.
func (c *Client) parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 1 || c.opts.Concurrency <= 1 {
		for i := range n {
			if err := fn(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for i := range n {
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}

// Client calls Conduit. It is safe for concurrent use.
type Client struct {
	baseURL string
	token   Token
	opts    Options

	doer *httpDoer
	conn *gonduit.Conn
	log  zerolog.Logger

	// rawURL and basePath name the server in a NotConduitError.
	rawURL, basePath string
	// spoke is set once the server has answered Conduit JSON (Dial
	// succeeded): from then on a garbled answer or an error page is the
	// server failing, not a wrong conduit.url. Set before Dial returns
	// the client, so never written concurrently.
	spoke bool
}

// Dial connects to the Conduit API at baseURL (e.g. https://phab.example.org)
// with token, checking the server's capabilities.
func Dial(ctx context.Context, baseURL string, token Token, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("conduit: base URL %q must be an http(s) URL with a host", RedactURL(baseURL))
	}
	opts = opts.withDefaults()
	// Never follow a redirect: a 301/302 turns the POST into a GET without
	// the params (Phorge then answers "Session key is not present", which
	// looks like a bad token), and a 307/308 would resend the body, token
	// included, to wherever Location points. A copy, so the caller's
	// client is not changed.
	hc := *opts.HTTPClient
	hc.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		return fmt.Errorf("%w to %s://%s%s: set conduit.url to the address it redirects to", ErrRedirected, req.URL.Scheme, req.URL.Host, req.URL.Path)
	}
	opts.HTTPClient = &hc
	c := &Client{
		baseURL:  strings.TrimSuffix(baseURL, "/"),
		token:    token,
		opts:     opts,
		log:      opts.Logger,
		rawURL:   baseURL,
		basePath: strings.TrimSuffix(u.Path, "/"),
		doer: &httpDoer{
			client:  opts.HTTPClient,
			limiter: newLimiter(opts.RequestsPerSecond, opts.Sleep),
			timeout: opts.CallTimeout,
			agent:   cmp.Or(opts.UserAgent, "auditbot"),
		},
	}
	err = c.retry(ctx, "conduit.getcapabilities", func(ctx context.Context) error {
		// DialContext calls conduit.getcapabilities; no token is needed.
		conn, err := gonduit.DialContext(ctx, c.baseURL, &core.ClientOptions{
			APIToken: token.Reveal(),
			Client:   c.doer,
		})
		c.conn = conn
		return err
	})
	if err != nil {
		return nil, err
	}
	c.spoke = true
	return c, nil
}

// call sends one Conduit call and decodes its result into result (a
// pointer). params must be a pointer to a struct embedding
// requests.Request: gonduit puts the token into __conduit__ only then.
func (c *Client) call(ctx context.Context, method string, params requests.RequestInterface, result any) error {
	return c.retry(ctx, method, func(ctx context.Context) error {
		return c.conn.CallContext(ctx, method, params, result)
	})
}

// callAt is call that also returns the server's clock when it answered
// (its Date header, whole seconds; zero when it sent none).
func (c *Client) callAt(ctx context.Context, method string, params requests.RequestInterface, result any) (time.Time, error) {
	var at time.Time
	err := c.retry(ctx, method, func(ctx context.Context) error {
		err := c.conn.CallContext(ctx, method, params, result)
		if a, ok := ctx.Value(attemptKey{}).(*attempt); ok {
			at = a.date
		}
		return err
	})
	return at, err
}

// retry runs fn until it succeeds, retrying a 429 for any method and a
// transient failure for read methods only, at most MaxRetries times. The
// error it returns never holds the token.
func (c *Client) retry(ctx context.Context, method string, fn func(ctx context.Context) error) (err error) {
	if c.opts.Observe != nil {
		start := time.Now()
		defer func() { c.opts.Observe(method, time.Since(start), err) }()
	}
	timeouts := 0
	for n := 1; ; n++ {
		a := &attempt{}
		start := time.Now()
		err := fn(context.WithValue(ctx, attemptKey{}, a))
		c.logAttempt(method, n, time.Since(start), a, err)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return c.wrapErr(method, err, a)
		}
		kind := classify(err, a, c.spoke)
		if kind == failNotConduit {
			// Asking again would get the same page.
			return &NotConduitError{URL: c.rawURL, Status: a.status, ContentType: a.contentType, Path: c.basePath + "/api/" + method}
		}
		if n > c.opts.MaxRetries {
			return c.wrapFinal(method, err, a, kind)
		}
		switch {
		case kind == failRateLimited:
			// The limiter does the waiting so concurrent calls hold off too.
			d := backoff(n)
			if a.hasRetryAfter {
				d = max(d, a.retryAfter)
			}
			c.doer.limiter.holdOff(d)
		case isReadMethod(method) && kind == failOutage:
			if errors.Is(err, context.DeadlineExceeded) {
				// A server that took the whole timeout to not answer
				// will likely do so again: one more try at most, so a
				// hanging server stalls a read for two timeouts, not five.
				if timeouts++; timeouts > maxTimeoutRetries {
					return c.wrapFinal(method, err, a, kind)
				}
			}
			if err := c.opts.Sleep(ctx, backoff(n)); err != nil {
				return c.wrapErr(method, err, a)
			}
		default:
			return c.wrapFinal(method, err, a, kind)
		}
	}
}

// wrapFinal wraps the error a call ends with; an outage (see failOutage)
// is marked ErrUnavailable, so callers stop writing for now instead of
// trying every remaining write against a server that is away.
func (c *Client) wrapFinal(method string, err error, a *attempt, kind failure) error {
	wrapped := c.wrapErr(method, err, a)
	if kind == failOutage {
		return &unavailableError{err: wrapped, status: a.status}
	}
	return wrapped
}

// logAttempt writes one debug line per HTTP attempt. It logs the error code
// only: params may hold PHID lists and error texts may be long.
func (c *Client) logAttempt(method string, n int, d time.Duration, a *attempt, err error) {
	ev := c.log.Debug()
	if !ev.Enabled() {
		return
	}
	ev = ev.Str("method", method).Int("attempt", n).Int64("took_ms", d.Milliseconds())
	if a.status != 0 {
		ev = ev.Int("http_status", a.status)
	}
	if err != nil {
		code := conduitCode(err)
		if code == "" {
			code = "transport"
		}
		ev = ev.Str("error_code", code)
	}
	ev.Msg("conduit call")
}

// conduitCode returns the error_code of a gonduit error, or "".
func conduitCode(err error) string {
	var ce *core.ConduitError
	if errors.As(err, &ce) {
		return ce.Code()
	}
	return ""
}

// wrapErr turns a gonduit error into a *Error and any other error into one
// naming the method. Both are redacted: the server echoes the token in
// ERR-INVALID-AUTH texts and gonduit's own error string repeats it.
func (c *Client) wrapErr(method string, err error, a *attempt) error {
	var ce *core.ConduitError
	if errors.As(err, &ce) {
		if status, convErr := strconv.Atoi(ce.Code()); convErr == nil {
			// Not JSON: gonduit passes the whole body (an HTML error
			// page, say) as the text. Say what it was instead.
			return &Error{Method: method, Code: ce.Code(), Info: Redact(describeBody(status, a.contentType, []byte(ce.Info())), c.token)}
		}
		info := ce.Info()
		if len(info) > maxInfoLen {
			info = info[:maxInfoLen] + "..."
		}
		return &Error{Method: method, Code: ce.Code(), Info: Redact(info, c.token)}
	}
	return fmt.Errorf("conduit %s: %w", method, &redactedError{msg: Redact(err.Error(), c.token), err: err})
}

// redactedError shows a redacted text but still unwraps to the original, so
// errors.Is(err, context.DeadlineExceeded) keeps working.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Ping calls conduit.ping (no token needed) and returns the server's host name.
func (c *Client) Ping(ctx context.Context) (string, error) {
	var host string
	if err := c.call(ctx, "conduit.ping", &requests.Request{}, &host); err != nil {
		return "", err
	}
	return host, nil
}

// Whoami returns the token's account.
func (c *Client) Whoami(ctx context.Context) (Whoami, error) {
	var r struct {
		PHID         string   `json:"phid"`
		UserName     string   `json:"userName"`
		RealName     string   `json:"realName"`
		Roles        []string `json:"roles"`
		PrimaryEmail string   `json:"primaryEmail"`
	}
	if err := c.call(ctx, "user.whoami", &requests.Request{}, &r); err != nil {
		return Whoami{}, err
	}
	if r.PHID == "" {
		return Whoami{}, fmt.Errorf("conduit user.whoami: answer has no phid")
	}
	return Whoami{
		PHID:         r.PHID,
		Username:     r.UserName,
		RealName:     r.RealName,
		Roles:        r.Roles,
		PrimaryEmail: r.PrimaryEmail,
	}, nil
}
