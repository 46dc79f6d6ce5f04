package conduit

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/auditbot/auditbot/phabtest"
	"github.com/google/go-cmp/cmp"
)

// barrierTransport holds each request until n are in flight together, so
// a client that sends one at a time never gets an answer (and the test
// fails on its guard instead of passing by luck).
type barrierTransport struct {
	next  http.RoundTripper
	n     int
	armed bool // before, requests pass at once (Dial's)

	mu       sync.Mutex
	inFlight int
	maxSeen  int
	released chan struct{}
	once     sync.Once
}

func (b *barrierTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b.mu.Lock()
	if !b.armed {
		b.mu.Unlock()
		return b.next.RoundTrip(r)
	}
	b.inFlight++
	b.maxSeen = max(b.maxSeen, b.inFlight)
	if b.inFlight == b.n {
		b.once.Do(func() { close(b.released) })
	}
	b.mu.Unlock()
	defer func() { b.mu.Lock(); b.inFlight--; b.mu.Unlock() }()
	select {
	case <-b.released:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return b.next.RoundTrip(r)
}

// TestSearchUsersConcurrent checks that user.search chunks go out
// Concurrency at a time, never more, and come back in chunk order.
func TestSearchUsersConcurrent(t *testing.T) {
	srv := phabtest.New(phabtest.Options{})
	t.Cleanup(srv.Close)
	bot := srv.AddUser(phabtest.UserSpec{Username: "auditbot", Admin: true, Bot: true})
	var phids []string
	for i := range 1000 {
		u := srv.AddUser(phabtest.UserSpec{Username: fmt.Sprintf("u%04d", i), MFA: i%2 == 0})
		phids = append(phids, u.PHID)
	}
	hc := srv.Client()
	seq, err := Dial(context.Background(), srv.URL(), Token(bot.Token), Options{HTTPClient: hc, RequestsPerSecond: -1, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	want, err := seq.SearchUsers(context.Background(), UserQuery{PHIDs: phids, MFA: ptr(false)})
	if err != nil || len(want) != 500 {
		t.Fatalf("sequential: %d users, %v", len(want), err)
	}

	bt := &barrierTransport{next: hc.Transport, n: 4, released: make(chan struct{})}
	par, err := Dial(context.Background(), srv.URL(), Token(bot.Token),
		Options{HTTPClient: &http.Client{Transport: bt}, RequestsPerSecond: -1, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	bt.mu.Lock()
	bt.armed = true
	bt.mu.Unlock()
	// The guard only turns a sequential client's hang into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := par.SearchUsers(ctx, UserQuery{PHIDs: phids, MFA: ptr(false)})
	if err != nil {
		t.Fatalf("concurrent: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("concurrent result differs from sequential (-want +got):\n%s", diff)
	}
	if bt.maxSeen != 4 {
		t.Errorf("%d requests in flight at most, want 4", bt.maxSeen)
	}
}
