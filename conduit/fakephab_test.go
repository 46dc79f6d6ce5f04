package conduit

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/internal/testkit"
)

// testToken is shaped like a real token (32 characters, api- prefix) so the
// redaction pattern has to work for it too.
const testToken Token = "api-abcdefghijklmnopqrstuvwxyz12"

// recordingsDir holds the calls recorded against a real Phorge.
const recordingsDir = "../testdata/conduit/recordings"

// capabilitiesAnswer is what a real Phorge returns for
// conduit.getcapabilities, which gonduit's Dial calls.
const capabilitiesAnswer = `{"result":{"authentication":["token","asymmetric","session","sessionless"],"signatures":["consign"],"input":["json","urlencoded"],"output":["json","human"]},"error_code":null,"error_info":null}`

// recording is one file of recordingsDir.
type recording struct {
	Method      string          `json:"method"`
	Params      json.RawMessage `json:"params"`
	Response    json.RawMessage `json:"response"`
	HTTPStatus  int             `json:"http_status"`
	ContentType string          `json:"content_type_returned"`
}

func loadRecording(t testing.TB, name string) recording {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(recordingsDir, name))
	if err != nil {
		t.Fatalf("reading recording: %v", err)
	}
	var r recording
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decoding recording %s: %v", name, err)
	}
	return r
}

// anyParams is the sentinel for a step that does not check params.
const anyParams = "*"

// step is one call the fake server expects, in order, and its answer.
type step struct {
	method string
	// params is the expected params JSON without __conduit__; "" means the
	// recording's own params, anyParams skips the check.
	params string
	// rec names the recording to answer with. Without it the answer is
	// status/ctype/body.
	rec    string
	status int
	ctype  string
	body   string
	header map[string]string
	hang   time.Duration // wait before answering (or until the client gives up)
	hijack bool          // drop the connection without answering
}

// fakePhab is an httptest server that answers like a real Phorge from
// recordings and checks every request the way Phorge needs it: POST,
// form-encoded, params as JSON with the token in __conduit__, no api.token.
type fakePhab struct {
	t     testing.TB
	srv   *httptest.Server
	token Token // the token every call must carry ("" : none)

	mu    sync.Mutex
	steps []step
	calls []string // methods called, getcapabilities excluded
	agent string   // the last request's User-Agent
}

func newFakePhab(t testing.TB, token Token, steps ...step) *fakePhab {
	t.Helper()
	f := &fakePhab{t: t, token: token, steps: steps}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.srv.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.steps) > 0 {
			t.Errorf("fake phab: %d expected calls not made, next %s", len(f.steps), f.steps[0].method)
		}
	})
	return f
}

// Calls returns the methods called so far.
func (f *fakePhab) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakePhab) fail(w http.ResponseWriter, format string, args ...any) {
	f.t.Errorf("fake phab: "+format, args...)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"result": nil, "error_code": "ERR-TEST", "error_info": "unexpected request"})
}

func (f *fakePhab) serve(w http.ResponseWriter, r *http.Request) {
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		f.fail(w, "path %q is not /api/<method>", r.URL.Path)
		return
	}
	// Every request names the bot, so a Phabricator administrator can
	// tell its calls apart in the web server's logs.
	ua := r.Header.Get("User-Agent")
	if !strings.HasPrefix(ua, "auditbot") {
		f.fail(w, "%s: User-Agent %q does not name auditbot", method, ua)
		return
	}
	f.mu.Lock()
	f.agent = ua
	f.mu.Unlock()
	if r.Method != http.MethodPost {
		f.fail(w, "%s: HTTP method %s, want POST", method, r.Method)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		f.fail(w, "%s: Content-Type %q, want form-encoded (Phorge refuses JSON bodies)", method, ct)
		return
	}
	if err := r.ParseForm(); err != nil {
		f.fail(w, "%s: parsing form: %v", method, err)
		return
	}
	if _, ok := r.PostForm["api.token"]; ok {
		f.fail(w, "%s: api.token sent beside params; Phorge ignores it", method)
		return
	}
	if r.PostForm.Get("output") != "json" {
		f.fail(w, "%s: output=%q, want json", method, r.PostForm.Get("output"))
		return
	}
	var params map[string]any
	if err := json.Unmarshal([]byte(r.PostForm.Get("params")), &params); err != nil {
		f.fail(w, "%s: params is not JSON: %v", method, err)
		return
	}
	if method == "conduit.getcapabilities" {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(capabilitiesAnswer))
		return
	}
	meta, _ := params["__conduit__"].(map[string]any)
	delete(params, "__conduit__")
	sent, _ := meta["token"].(string)
	if sent != string(f.token) {
		f.fail(w, "%s: __conduit__.token %q, want %q", method, sent, f.token.Reveal())
		return
	}

	f.mu.Lock()
	f.calls = append(f.calls, method)
	if len(f.steps) == 0 {
		f.mu.Unlock()
		f.fail(w, "unexpected call %s %v", method, params)
		return
	}
	s := f.steps[0]
	f.steps = f.steps[1:]
	f.mu.Unlock()

	if s.method != method {
		f.fail(w, "call %s, want %s", method, s.method)
		return
	}
	var rec recording
	if s.rec != "" {
		rec = loadRecording(f.t, s.rec)
		if rec.Method != method {
			f.fail(w, "recording %s is for %s, not %s", s.rec, rec.Method, method)
			return
		}
	}
	if s.params != anyParams {
		want := s.params
		if want == "" {
			want = string(rec.Params)
		}
		var wantParams map[string]any
		if err := json.Unmarshal([]byte(want), &wantParams); err != nil {
			f.fail(w, "bad expected params %s: %v", want, err)
			return
		}
		if diff := cmp.Diff(wantParams, params); diff != "" {
			f.t.Errorf("fake phab: %s params (-want +got):\n%s", method, diff)
		}
	}

	if s.hang > 0 {
		select {
		case <-time.After(s.hang):
		case <-r.Context().Done():
			return
		}
	}
	if s.hijack {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			f.t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
		return
	}
	for k, v := range s.header {
		w.Header().Set(k, v)
	}
	if s.rec == "" {
		w.Header().Set("Content-Type", s.ctype)
		w.WriteHeader(s.status)
		w.Write([]byte(s.body))
		return
	}
	var nonJSON struct {
		Body *string `json:"_non_json_body"`
	}
	json.Unmarshal(rec.Response, &nonJSON)
	body := []byte(rec.Response)
	if nonJSON.Body != nil {
		body = []byte(*nonJSON.Body)
	}
	// Recordings hide the token; a real server echoes the one it got
	// (ERR-INVALID-AUTH), so put it back to prove we redact it.
	if sent != "" {
		body = bytes.ReplaceAll(body, []byte("api-REDACTED"), []byte(sent))
	}
	w.Header().Set("Content-Type", rec.ContentType)
	w.WriteHeader(rec.HTTPStatus)
	w.Write(body)
}

// newFakeClock is the time seen by the rate limiter; sleeping advances it,
// so tests run instantly and still see exact waits.
func newFakeClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
}

// newTestClient dials f with no rate limit, a fake clock and one call at a
// time (the steps are scripted in order), unless opts says otherwise.
func newTestClient(t testing.TB, f *fakePhab, opts Options) (*Client, *testkit.Clock) {
	t.Helper()
	clock := newFakeClock()
	if opts.RequestsPerSecond == 0 {
		opts.RequestsPerSecond = -1
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 1
	}
	if opts.Sleep == nil {
		opts.Sleep = clock.Sleep
	}
	c, err := Dial(context.Background(), f.srv.URL, f.token, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	// Dial used the real clock; start the limiter afresh on the fake one.
	c.doer.limiter.now = clock.Now
	c.doer.limiter.next = time.Time{}
	return c, clock
}
