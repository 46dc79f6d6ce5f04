package conduit

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uber/gonduit/core"
)

// Retry tuning. A 429 means the server refused before doing anything, so the
// wait starts at half a second and doubles; maxBackoff keeps a long run of
// refusals from stalling a campaign for minutes between attempts.
const (
	firstBackoff = 500 * time.Millisecond
	maxBackoff   = 30 * time.Second
)

// limiter spaces requests evenly (at most one per interval) and lets a 429
// hold every caller off, not only the one that was refused: the server's
// limit is per client address, so concurrent calls share it.
type limiter struct {
	interval time.Duration // 0: no spacing
	sleep    func(ctx context.Context, d time.Duration) error
	now      func() time.Time

	mu   sync.Mutex
	next time.Time // earliest start of the next request
}

func newLimiter(perSecond float64, sleep func(context.Context, time.Duration) error) *limiter {
	l := &limiter{sleep: sleep, now: time.Now}
	if perSecond > 0 {
		l.interval = time.Duration(float64(time.Second) / perSecond)
	}
	return l
}

// wait blocks until the caller may send its request. The slot is reserved
// before sleeping so concurrent callers queue up in order.
func (l *limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := l.now()
	at := now
	if l.next.After(at) {
		at = l.next
	}
	if l.interval > 0 {
		l.next = at.Add(l.interval)
	}
	l.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return l.sleep(ctx, d)
	}
	return nil
}

// holdOff delays every request until d from now.
func (l *limiter) holdOff(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.now().Add(d); t.After(l.next) {
		l.next = t
	}
}

// attemptKey carries an *attempt in a request's context from the retry loop
// through gonduit to httpDoer: gonduit reads the body and drops the response,
// so the status code and Retry-After are otherwise lost.
type attemptKey struct{}

// attempt is what httpDoer saw of one HTTP exchange.
type attempt struct {
	status        int
	contentType   string // of the response, for "not a Conduit API"
	retryAfter    time.Duration
	hasRetryAfter bool
	// date is the server's clock when it answered (its Date header,
	// whole seconds); zero when the answer had none.
	date time.Time
}

// httpDoer is the core.Client handed to gonduit: one shared *http.Client
// (gonduit would build a transport per call otherwise) behind the rate limiter.
type httpDoer struct {
	client  *http.Client
	limiter *limiter
	timeout time.Duration // per request, after the rate limit wait; 0: none
	agent   string        // the User-Agent header
}

var _ core.Client = (*httpDoer)(nil)

// Do waits for the rate limiter, sends req and notes the status and
// Retry-After for the retry loop. The call timeout starts only after the
// wait, so a long hold-off after a 429 does not eat into it.
func (h *httpDoer) Do(req *http.Request) (*http.Response, error) {
	if err := h.limiter.wait(req.Context()); err != nil {
		return nil, err
	}
	cancel := context.CancelFunc(func() {})
	if h.timeout > 0 {
		// WithTimeout keeps an earlier deadline of the caller's context.
		var ctx context.Context
		ctx, cancel = context.WithTimeout(req.Context(), h.timeout)
		req = req.WithContext(ctx)
	}
	if h.agent != "" {
		req.Header.Set("User-Agent", h.agent)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	// gonduit reads the body after Do returns: cancel only once it is closed.
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	if a, ok := req.Context().Value(attemptKey{}).(*attempt); ok {
		a.status = resp.StatusCode
		a.contentType = resp.Header.Get("Content-Type")
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			a.date = d.UTC()
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			a.retryAfter, a.hasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	}
	return resp, nil
}

// cancelOnClose releases a request's timeout context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// backoff is the wait before retry number n (1-based): 500ms, 1s, 2s, ...
func backoff(n int) time.Duration {
	d := firstBackoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// readMethods are the methods that change nothing on the server, so a
// transport failure may be retried. Writes are never retried on such a
// failure: the server may have applied them, and the caller reconciles.
var readMethods = map[string]bool{
	"phid.lookup":             true,
	"user.whoami":             true,
	"conduit.ping":            true,
	"conduit.getcapabilities": true,
	"maniphest.info":          true,
}

// isReadMethod reports whether method only reads.
func isReadMethod(method string) bool {
	return readMethods[method] || strings.HasSuffix(method, ".search") || strings.HasSuffix(method, ".query")
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
