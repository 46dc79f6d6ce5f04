package conduit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditbot/auditbot/conduit"
)

// pythonNotImplemented is what `python3 -m http.server` answers to a POST:
// HTTP 501 with this 13-line page.
const pythonNotImplemented = `<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: 501</p>
        <p>Message: Unsupported method ('POST').</p>
        <p>Error code explanation: 501 - Server does not support this operation.</p>
    </body>
</html>
`

const (
	capabilities = `{"result":{"authentication":["token"],"input":["json","urlencoded"],"output":["json","human"]},"error_code":null,"error_info":null}`
	whoamiJSON   = `{"result":{"phid":"PHID-USER-abc","userName":"auditbot","realName":"Audit Bot","roles":["admin"]},"error_code":null,"error_info":null}`
	editJSON     = `{"result":{"object":{"id":1,"phid":"PHID-TASK-abc"},"transactions":[]},"error_code":null,"error_info":null}`
)

// answer is one way a server answers a request.
type answer func(w http.ResponseWriter)

func page(status int, ctype, body string) answer {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func conduitJSON(body string) answer { return page(200, "application/json", body) }

// truncated is a whole HTTP answer (its Content-Length says so) whose
// JSON stops halfway, as a proxy that cut it would send.
func truncated(body string) answer { return conduitJSON(body[:len(body)/2]) }

// garbled is a whole answer that is not valid JSON in the middle.
func garbled(body string) answer { return conduitJSON(strings.Replace(body, ":", ";", 1)) }

// reset sends the start of the answer, then resets the connection.
func reset(body string) answer {
	return func(w http.ResponseWriter) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:len(body)/2])
		buf.Flush()
		conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
		conn.Close()
	}
}

// scriptedServer answers each method's requests in turn from its
// script (the last answer repeats) and counts them.
type scriptedServer struct {
	mu     sync.Mutex
	script map[string][]answer
	seen   map[string]int
}

func newScripted(t *testing.T, script map[string][]answer) (*scriptedServer, string) {
	s := &scriptedServer{script: script, seen: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := strings.TrimPrefix(r.URL.Path, "/api/")
		s.mu.Lock()
		answers := s.script[method]
		n := s.seen[method]
		s.seen[method]++
		s.mu.Unlock()
		if len(answers) == 0 {
			http.NotFound(w, r)
			return
		}
		answers[min(n, len(answers)-1)](w)
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func (s *scriptedServer) requests(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[method]
}

// noSleep makes retries immediate; the test counts the requests.
func noSleep(context.Context, time.Duration) error { return nil }

// TestAnswerClassification: a server that is not Conduit is named so at
// once, without retries (python's http.server once got 7.5 s of retries,
// then its HTML page was printed as the error); a Conduit that is away,
// or whose answers are cut short, is an outage, retried when the call is
// a read. No error ever carries an HTML body.
func TestAnswerClassification(t *testing.T) {
	const tries = 1 + conduit.DefaultMaxRetries
	for _, tt := range []struct {
		name     string
		dial     []answer // conduit.getcapabilities
		whoami   []answer // user.whoami, after a successful Dial
		edit     []answer // maniphest.edit (a write), after a successful Dial
		want     string   // "ok", "not-conduit", "outage" or "error"
		requests int      // to the method that failed (or that succeeded last)
	}{
		{name: "dial: python http.server's 501", dial: []answer{page(501, "text/html;charset=utf-8", pythonNotImplemented)}, want: "not-conduit", requests: 1},
		{name: "dial: a 500 page", dial: []answer{page(500, "text/html", "<html><body>Internal Server Error</body></html>")}, want: "not-conduit", requests: 1},
		{name: "dial: a 405 in plain text", dial: []answer{page(405, "text/plain", "Method Not Allowed")}, want: "not-conduit", requests: 1},
		{name: "dial: a gateway's 503", dial: []answer{page(503, "text/html", "<html>Service Unavailable</html>")}, want: "outage", requests: tries},
		{name: "dial: a gateway's 502, then Conduit", dial: []answer{page(502, "text/html", "<html>Bad Gateway</html>"), conduitJSON(capabilities)}, want: "ok", requests: 2},
		{name: "dial: three truncated answers, then whole", dial: []answer{truncated(capabilities), truncated(capabilities), truncated(capabilities), conduitJSON(capabilities)}, want: "ok", requests: 4},
		{name: "dial: always truncated", dial: []answer{truncated(capabilities)}, want: "outage", requests: tries},
		{name: "dial: reset mid-body", dial: []answer{reset(capabilities)}, want: "outage", requests: tries},
		{name: "read: truncated, then whole", whoami: []answer{truncated(whoamiJSON), conduitJSON(whoamiJSON)}, want: "ok", requests: 2},
		{name: "read: always truncated", whoami: []answer{truncated(whoamiJSON)}, want: "outage", requests: tries},
		{name: "read: garbled", whoami: []answer{garbled(whoamiJSON)}, want: "outage", requests: tries},
		{name: "read: reset mid-body, then whole", whoami: []answer{reset(whoamiJSON), conduitJSON(whoamiJSON)}, want: "ok", requests: 2},
		{name: "read: a PHP fatal's 500 page", whoami: []answer{page(500, "text/html", "<html><b>Fatal error</b>: out of memory</html>")}, want: "outage", requests: tries},
		{name: "read: python's 501 after Conduit", whoami: []answer{page(501, "text/html;charset=utf-8", pythonNotImplemented)}, want: "outage", requests: tries},
		{name: "read: a 404 page", whoami: []answer{page(404, "text/html", "<html>Not Found</html>")}, want: "error", requests: 1},
		{name: "write: truncated, not retried", edit: []answer{truncated(editJSON)}, want: "outage", requests: 1},
		{name: "write: reset mid-body, not retried", edit: []answer{reset(editJSON)}, want: "outage", requests: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dial := tt.dial
			if dial == nil {
				dial = []answer{conduitJSON(capabilities)}
			}
			s, url := newScripted(t, map[string][]answer{"conduit.getcapabilities": dial, "user.whoami": tt.whoami, "maniphest.edit": tt.edit})
			ctx := context.Background()
			method := "conduit.getcapabilities"
			c, err := conduit.Dial(ctx, url, "", conduit.Options{Sleep: noSleep, RequestsPerSecond: -1, CallTimeout: 5 * time.Second})
			if err == nil && tt.whoami != nil {
				method = "user.whoami"
				_, err = c.Whoami(ctx)
			}
			if err == nil && tt.edit != nil {
				method = "maniphest.edit"
				_, err = c.CreateTask(ctx, conduit.TaskSpec{Title: "Audit"})
			}
			got := "ok"
			switch {
			case errors.Is(err, conduit.ErrNotConduit):
				got = "not-conduit"
				if !strings.Contains(err.Error(), url+" is not a Conduit API (got HTTP ") {
					t.Errorf("err = %q, want it to say %s is not a Conduit API", err, url)
				}
			case errors.Is(err, conduit.ErrUnavailable):
				got = "outage"
			case err != nil:
				got = "error"
			}
			if got != tt.want {
				t.Errorf("err = %v: %s, want %s", err, got, tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), "<") || strings.Contains(err.Error(), "\n")) {
				t.Errorf("the error carries the body: %q", err)
			}
			if n := s.requests(method); n != tt.requests {
				t.Errorf("%d request(s) to %s, want %d", n, method, tt.requests)
			}
		})
	}
}
