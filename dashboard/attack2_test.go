package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/dashboard"
)

// TestAttack2TrustedHeaderForgedOffLoopback: dashboard.trusted_header
// alone lets the dashboard listen on any address (CheckListen counts it
// as protection), but the dashboard only checks that the header is
// present: it does not know which peer is the authenticating proxy. So
// anyone who can reach the port directly (the proxy's whole point is
// that they should not) sends "X-Remote-User: x" and reads every
// campaign: who in which security group has no MFA, is inactive, is on an
// offboarding list, and the whole journal.
//
// Sequence: config dashboard {listen: 0.0.0.0:8090, trusted_header:
// X-Remote-User} is accepted; a request from 203.0.113.9 with the header
// set by the client itself gets 200 and the campaign page.
//
// Fix: with only trusted_header, require a loopback (or unix socket)
// listen address, or a configured list of proxy addresses checked
// against RemoteAddr; or require the secret too off loopback.
func TestAttack2TrustedHeaderForgedOffLoopback(t *testing.T) {
	const listen = "0.0.0.0:8090"
	// The config refuses this listen address with only a header and no
	// proxies (campaigns.DashboardProtected), and the handler itself
	// refuses a header a non-proxy peer set: both defences, each alone.
	if err := campaigns.CheckListen(listen, campaigns.DashboardProtected(false, "X-Remote-User", nil)); err == nil {
		t.Errorf("listen %s with only trusted_header and no trusted proxies is accepted", listen)
	}
	h, err := dashboard.New(dashboard.Options{Store: testStore(t), TrustedHeader: "X-Remote-User"})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/campaign/mfa", nil)
	req.RemoteAddr = "203.0.113.9:40000" // not the proxy: a client on the network
	req.Header.Set("X-Remote-User", "anyone")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code == http.StatusOK {
		t.Errorf("a direct client forging the trusted header gets %d: the campaign page is open to the network", rec.Code)
	}
}
