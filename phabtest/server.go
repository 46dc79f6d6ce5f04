package phabtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. Zero values get defaults.
type Options struct {
	// Now is the clock behind dateCreated, dateModified and feed epochs
	// (unix seconds). Nil means time.Now; tests and the demo pass a
	// simulated clock.
	Now func() time.Time
	// Host is what conduit.ping answers: the real server answers its host
	// name, not "pong" (fact 7). Empty means "phabtest".
	Host string
	// Seed seeds the generator of PHIDs and tokens, so that two servers
	// seeded and driven the same way hand out the same PHIDs (stable golden
	// output). Zero means 1.
	Seed uint64
	// OnWrite, if set, is called for every request to a write method
	// (maniphest.edit, project.edit) that gets past the rate limiter, with
	// n counting those requests from 1: once before the call runs, and once
	// after it ran but before its answer is sent. If it returns true the
	// server drops the connection without answering: before, nothing is
	// applied; after, the write stands and its answer is lost. Crash tests
	// use it to kill the client at a chosen write. It runs with the server
	// locked, so it must not call the Server.
	OnWrite func(n int, method string, phase WritePhase) (drop bool)
	// CallLatency delays every answer by this much, outside the server
	// lock, so concurrent calls overlap as on a real server with several
	// workers. Benchmarks use it to show what a scan costs in wall time;
	// zero (the default) answers at once.
	CallLatency time.Duration
	// FeedStoryCost delays a feed.query answer by this much per story it
	// returns, outside the server lock: on a real Phorge each story costs
	// about 20-25 ms to load and render, while the size of filterPHIDs
	// hardly matters (fact 40). Zero (the default) answers at once.
	FeedStoryCost time.Duration
}

// WritePhase is when Options.OnWrite is called for a write request.
type WritePhase int

// Write phases.
const (
	BeforeWrite WritePhase = iota // the request arrived; nothing applied yet
	AfterWrite                    // the call ran; its answer is not sent yet
)

// String returns "before" or "after".
func (p WritePhase) String() string {
	if p == AfterWrite {
		return "after"
	}
	return "before"
}

// writeMethods are the methods Options.OnWrite sees.
var writeMethods = map[string]bool{"maniphest.edit": true, "project.edit": true, "user.edit": true}

// Server is an in-process Phorge. It is safe for concurrent use: one mutex
// guards all state, held for the whole of each Conduit call.
type Server struct {
	opts    Options
	ts      *httptest.Server
	methods map[string]method

	mu       sync.Mutex
	rng      *rand.Rand
	users    []*user
	userByID map[string]*user // by PHID
	// userByFold finds an account by username, case-insensitively
	// (foldKey).
	userByFold map[string]*user
	tokens     map[string]*apiToken
	projects   []*project
	projByID   map[string]*project // by PHID
	tasks      []*task
	taskByID   map[string]*task // by PHID
	// spaces are the Spaces' PHIDs, the default (first) one first.
	spaces   []string
	xacts    []*xact
	stories  []*story // oldest first once sortedStories has run
	lastXact int
	lastCmt  int
	lastKey  uint64
	clock    int64 // while non-zero, overrides Options.Now (backdated seeding)

	storyByKey      map[uint64]*story
	storiesUnsorted bool // a backdated story was appended after a newer one
	// refIndex is the stories by each PHID they reference, oldest first,
	// built by candidates over the first refIndexed stories.
	refIndex   map[string][]*story
	refIndexed int

	writes     []Write
	calls      map[string]int
	failAfter  map[string]int
	failBefore map[string]*injectedFailure
	rateAfter  int // calls left before one 429; -1 when off
	// dateSkew is added to the Date header only (SetDateSkew).
	dateSkew  time.Duration
	writeReqs int // write requests seen, for Options.OnWrite

	// outage is read before the server lock: a hanging request must not
	// hold it.
	outageMu sync.Mutex
	outage   Outage
	healed   chan struct{} // closed when an outage ends
}

// Outage is how the server fails every request while it is "down".
type Outage int

// Outages.
const (
	OutageNone Outage = iota // answer as usual
	OutageDrop               // close the connection without an answer (a crash, a reset)
	OutageHang               // accept and never answer, until the outage ends or the client gives up
	Outage503                // answer HTTP 503 with an HTML page, as a proxy in front of a dead server
)

// SetOutage makes every request fail the way o says from now on, until
// SetOutage(OutageNone). Nothing is applied while it lasts.
func (s *Server) SetOutage(o Outage) {
	s.outageMu.Lock()
	defer s.outageMu.Unlock()
	if s.healed == nil {
		s.healed = make(chan struct{})
	}
	if o == OutageNone && s.outage != OutageNone {
		close(s.healed)
		s.healed = make(chan struct{})
	}
	s.outage = o
}

// failOutage fails the request if an outage is on, and reports whether it did.
func (s *Server) failOutage(w http.ResponseWriter, r *http.Request) bool {
	s.outageMu.Lock()
	o, healed := s.outage, s.healed
	s.outageMu.Unlock()
	if o != OutageNone {
		// Counted like any failed request (see Calls).
		name := strings.TrimPrefix(r.URL.Path, "/api/")
		s.mu.Lock()
		s.calls[name]++
		s.mu.Unlock()
	}
	switch o {
	case OutageDrop:
		dropConnection(w)
	case OutageHang:
		select {
		case <-r.Context().Done():
		case <-healed:
		}
		dropConnection(w)
	case Outage503:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "<html><body><h1>503 Service Unavailable</h1></body></html>")
	default:
		return false
	}
	return true
}

type injectedFailure struct {
	n          int
	code, info string
}

// New starts a Server on a loopback httptest listener. Close it when done.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Host == "" {
		opts.Host = "phabtest"
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	s := &Server{
		opts:       opts,
		rng:        rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		userByID:   map[string]*user{},
		userByFold: map[string]*user{},
		tokens:     map[string]*apiToken{},
		projByID:   map[string]*project{},
		taskByID:   map[string]*task{},
		calls:      map[string]int{},
		failAfter:  map[string]int{},
		failBefore: map[string]*injectedFailure{},
		rateAfter:  -1,
	}
	s.methods = s.methodTable()
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.ts.Close() }

// URL returns the base URL to pass to conduit.Dial, e.g. http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.ts.URL }

// Client returns an HTTP client for the server, shared across calls.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// method is one Conduit method.
type method struct {
	// params are the top-level parameters it defines; any other is an
	// ERR-CONDUIT-CALL (fact 4).
	params []string
	// public methods run without a token (conduit.ping, fact 7).
	public bool
	handle func(c *call) (any, *apiError)
}

var searchParams = []string{"queryKey", "constraints", "attachments", "order", "before", "after", "limit"}

func (s *Server) methodTable() map[string]method {
	return map[string]method{
		"conduit.getcapabilities": {public: true, handle: s.conduitGetCapabilities},
		"conduit.ping":            {public: true, handle: s.conduitPing},
		"user.whoami":             {handle: s.userWhoami},
		"user.search":             {params: searchParams, handle: s.userSearch},
		"project.search":          {params: searchParams, handle: s.projectSearch},
		"project.edit":            {params: []string{"transactions", "objectIdentifier"}, handle: s.projectEdit},
		"user.edit":               {params: []string{"transactions", "objectIdentifier"}, handle: s.userEdit},
		"phid.lookup":             {params: []string{"names"}, handle: s.phidLookup},
		"maniphest.edit":          {params: []string{"transactions", "objectIdentifier"}, handle: s.maniphestEdit},
		"maniphest.search":        {params: searchParams, handle: s.maniphestSearch},
		"maniphest.info":          {params: []string{"task_id"}, handle: s.maniphestInfo},
		"maniphest.status.search": {handle: s.maniphestStatusSearch},
		"transaction.search":      {params: []string{"objectIdentifier", "objectType", "constraints", "before", "after", "limit"}, handle: s.transactionSearch},
		"feed.query":              {params: []string{"filterPHIDs", "limit", "after", "before", "view"}, handle: s.feedQuery},
		"edge.search":             {params: []string{"sourcePHIDs", "types", "destinationPHIDs", "before", "after", "limit"}, handle: s.edgeSearch},
	}
}

func (s *Server) conduitGetCapabilities(*call) (any, *apiError) {
	return map[string][]string{
		"authentication": {"token", "asymmetric", "session", "sessionless"},
		"signatures":     {"consign"},
		"input":          {"json", "urlencoded"},
		"output":         {"json", "human"},
	}, nil
}

func (s *Server) conduitPing(*call) (any, *apiError) { return s.opts.Host, nil }

// envelope is every JSON answer: success has error_code and error_info
// null, an error has result null (fact 3).
type envelope struct {
	Result    any     `json:"result"`
	ErrorCode *string `json:"error_code"`
	ErrorInfo *string `json:"error_info"`
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok || name == "" {
		http.NotFound(w, r)
		return
	}
	if s.failOutage(w, r) {
		return
	}
	// Read the body before taking the lock: a slow client must not stall
	// the others.
	req, decodeErr := decodeRequest(name, r)

	// The latency is spent outside the lock: a real server answers
	// several calls at once.
	if !sleepFor(r.Context(), s.opts.CallLatency) {
		return
	}
	body, cost, answered := s.answer(w, r, name, req, decodeErr)
	if answered {
		return
	}
	if !sleepFor(r.Context(), cost) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// answer runs one call with the server locked. It returns the JSON body to
// send and how long the real server would have worked on it, or answered
// = true when it has already answered (HTTP 429) or dropped the
// connection.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, name string, req *request, decodeErr *apiError) (body []byte, cost time.Duration, answered bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The Date header is the server's clock, as nginx sends it: a
	// reader can tell a change made after its read by a dateModified at
	// or after it (NOTES fact 47).
	w.Header().Set("Date", time.Unix(s.now(), 0).Add(s.dateSkew).UTC().Format(http.TimeFormat))
	s.calls[name]++

	if s.rateAfter >= 0 {
		if s.rateAfter == 0 {
			s.rateAfter = -1
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			// Not JSON: the rate limiter answers before Conduit (fact 36).
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprintf(w, "TOO MANY REQUESTS\nYou (%q) are issuing too many requests too quickly.\n", host)
			return nil, 0, true
		}
		s.rateAfter--
	}

	gate := s.opts.OnWrite != nil && writeMethods[name]
	if gate {
		s.writeReqs++
		if s.opts.OnWrite(s.writeReqs, name, BeforeWrite) {
			dropConnection(w)
			return nil, 0, true
		}
	}

	result, cost, aerr := s.dispatch(name, req, decodeErr)

	if gate && s.opts.OnWrite(s.writeReqs, name, AfterWrite) {
		dropConnection(w)
		return nil, 0, true
	}
	if n, armed := s.failAfter[name]; armed {
		if n <= 1 {
			delete(s.failAfter, name)
			// The call has been applied; now lose the answer, as when a
			// connection dies after the server committed.
			dropConnection(w)
			return nil, 0, true
		}
		s.failAfter[name] = n - 1
	}

	env := envelope{Result: result}
	if aerr != nil {
		env = envelope{ErrorCode: &aerr.code, ErrorInfo: &aerr.info}
	}
	body, err := marshalJSON(env)
	if err != nil {
		body, _ = marshalJSON(envelope{ErrorCode: ptr(codeCore), ErrorInfo: ptr("phabtest: encoding answer: " + err.Error())})
	}
	return body, cost, false
}

// sleepFor waits d, or reports false when ctx (the request's) ends first.
func sleepFor(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func ptr[T any](v T) *T { return &v }

// dispatch runs one call in the order the real server checks things: body
// decoding, method, declared parameters, then authentication.
func (s *Server) dispatch(name string, req *request, decodeErr *apiError) (any, time.Duration, *apiError) {
	if decodeErr != nil {
		return nil, 0, decodeErr
	}
	m, ok := s.methods[name]
	if !ok {
		return nil, 0, errUnknownMethod(name)
	}
	if f := s.failBefore[name]; f != nil {
		f.n--
		if f.n <= 0 {
			delete(s.failBefore, name)
		}
		return nil, 0, &apiError{code: f.code, info: f.info}
	}
	var undefined []string
	for _, k := range sortedKeys(req.params) {
		if !contains(m.params, k) {
			undefined = append(undefined, k)
		}
	}
	if len(undefined) > 0 {
		return nil, 0, errUndefinedParams(name, undefined)
	}
	c := &call{method: name, request: req}
	if req.token != "" || !m.public {
		u, aerr := s.authenticate(req.token)
		if aerr != nil {
			return nil, 0, aerr
		}
		c.viewer = u
	}
	result, aerr := m.handle(c)
	return result, c.cost, aerr
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// authenticate maps a token to its user with the real server's checks and
// texts (facts 4 and 6).
func (s *Server) authenticate(tok string) (*user, *apiError) {
	if tok == "" {
		return nil, errNoSession()
	}
	if len(tok) != 32 {
		return nil, errTokenLength(tok)
	}
	if p := tok[:4]; p != "api-" && p != "cli-" && p != "clr-" {
		return nil, errTokenFormat(tok)
	}
	t, ok := s.tokens[tok]
	if !ok || t.revoked {
		return nil, errTokenInvalid(tok)
	}
	u := s.userByID[t.userPHID]
	if u == nil || u.disabled {
		return nil, errUserNotPermitted()
	}
	return u, nil
}

// Write is one successful write call (maniphest.edit, project.edit) as the
// server received it. No-op edits are recorded too, with no
// TransactionPHIDs, so tests can tell "wrote nothing" from "did not call".
type Write struct {
	Method     string
	ActorPHID  string
	ObjectID   int
	ObjectPHID string
	// Created reports whether the call created the object.
	Created bool
	// Transactions are the requested transactions, in order, with values
	// as sent (lists of strings as []string, integers as int64).
	Transactions []Transaction
	// TransactionPHIDs are the transactions the server applied (none for a
	// no-op edit).
	TransactionPHIDs []string
	At               time.Time
}

// Transaction is one requested edit transaction.
type Transaction struct {
	Type  string
	Value any
}

// Writes returns every successful write call so far, oldest first.
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Write, len(s.writes))
	copy(out, s.writes)
	return out
}

// Calls returns how many requests each method received (errors, injected
// failures and 429 answers included) since the start or ResetCalls.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// ResetCalls zeroes the call counters.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
}

// FailAfterWrite makes the n-th next call of method (n >= 1) run as usual
// (and apply, if it succeeds), then drops the HTTP connection without
// answering, so the client sees a transport error although the write
// landed. It is for testing crash recovery ("did my write land?"). The
// Write is recorded. n <= 0 disarms it.
func (s *Server) FailAfterWrite(method string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.failAfter, method)
		return
	}
	s.failAfter[method] = n
}

// FailBefore makes the next n calls of method answer the Conduit error
// code/info (HTTP 200, like every Conduit error) without running: before
// parameter checks and authentication, and nothing is applied or recorded.
func (s *Server) FailBefore(method string, n int, code, info string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.failBefore, method)
		return
	}
	s.failBefore[method] = &injectedFailure{n: n, code: code, info: info}
}

// SetRateLimit arms the rate limiter, which is off by default (fact 36):
// the next n requests pass, the one after is answered HTTP 429 text/plain,
// and the limiter switches off again. n < 0 disarms it.
func (s *Server) SetRateLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateAfter = max(n, -1)
}

// now returns the simulated time in unix seconds.
func (s *Server) now() int64 {
	if s.clock != 0 {
		return s.clock
	}
	return s.opts.Now().Unix()
}

// phidAlphabet is what real PHIDs are made of (lowercase base32).
const phidAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

func (s *Server) randomString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = phidAlphabet[s.rng.IntN(len(phidAlphabet))]
	}
	return string(b)
}

// newPHID returns a PHID like the real ones: PHID-USER- plus 20 characters,
// PHID-XACT-TASK- plus 15.
func (s *Server) newPHID(kind string) string {
	if strings.HasPrefix(kind, "XACT-") {
		return "PHID-" + kind + "-" + s.randomString(15)
	}
	return "PHID-" + kind + "-" + s.randomString(20)
}

// SetDateSkew makes the Date header run d ahead of (or, negative, behind)
// the clock that stamps dateModified, as a front proxy or web node with
// its own clock does; 0 puts them back in step.
func (s *Server) SetDateSkew(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dateSkew = d
}
