package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/internal/testkit/testworld"

	"github.com/auditbot/auditbot/dashboard"
	"github.com/auditbot/auditbot/state"
)

func testStore(t *testing.T) *state.Store {
	t.Helper()
	st := testworld.OpenStore(t, filepath.Join(t.TempDir(), "s.db"))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := state.Campaign{Name: "mfa", Title: "<i>MFA</i>", LaunchedAt: t0, Cutoff: t0.Add(time.Hour), Groups: []state.Group{{PHID: "G", Name: "g", Risk: "security"}}}
	f := state.Finding{UserPHID: "U", Username: "eve", RealName: `<script>alert(1)</script>`, Groups: []string{"G"}, Status: state.StatusPending, Batch: 1}
	if err := st.CreateCampaign(c, []state.Finding{f}, []state.Batch{{Index: 1, UserPHIDs: []string{"U"}, TaskID: 7}}); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestDashboardAccessAndEscaping(t *testing.T) {
	st := testStore(t)
	tests := []struct {
		name     string
		opts     dashboard.Options
		req      func(*http.Request)
		path     string
		wantCode int
	}{
		{name: "open on loopback", path: "/campaign/mfa", wantCode: 200},
		{name: "unknown campaign", path: "/campaign/nope", wantCode: 404},
		{name: "secret missing", opts: dashboard.Options{Secret: "s3"}, path: "/", wantCode: 401},
		{name: "secret wrong", opts: dashboard.Options{Secret: "s3"}, path: "/", req: func(r *http.Request) { r.Header.Set("Authorization", "Bearer no") }, wantCode: 401},
		{name: "secret as bearer", opts: dashboard.Options{Secret: "s3"}, path: "/", req: func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3") }, wantCode: 200},
		{name: "secret in query becomes a cookie", opts: dashboard.Options{Secret: "s3"}, path: "/?secret=s3", wantCode: 303},
		{name: "secret as cookie", opts: dashboard.Options{Secret: "s3"}, path: "/", req: func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "auditbot_dashboard", Value: "s3"}) }, wantCode: 200},
		{name: "trusted header missing", opts: dashboard.Options{TrustedHeader: "X-Remote-User"}, path: "/", wantCode: 403},
		{name: "trusted header set by a loopback proxy", opts: dashboard.Options{TrustedHeader: "X-Remote-User"}, path: "/", req: func(r *http.Request) {
			r.RemoteAddr = "127.0.0.1:40000"
			r.Header.Set("X-Remote-User", "alice")
		}, wantCode: 200},
		{name: "trusted header set by a configured proxy", opts: dashboard.Options{TrustedHeader: "X-Remote-User", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, path: "/", req: func(r *http.Request) {
			r.Header.Set("X-Remote-User", "alice")
		}, wantCode: 200},
		{name: "trusted header set by a client that is no proxy", opts: dashboard.Options{TrustedHeader: "X-Remote-User", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")}}, path: "/", req: func(r *http.Request) {
			r.Header.Set("X-Remote-User", "alice")
		}, wantCode: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Store = st
			h, err := dashboard.New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.req != nil {
				tt.req(req)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("%s = %d, want %d", tt.path, rec.Code, tt.wantCode)
			}
			body := rec.Body.String()
			if strings.Contains(body, "<script>") || strings.Contains(body, "<i>MFA") || strings.Contains(body, "s3") {
				t.Errorf("page carries unescaped input or the secret:\n%s", body)
			}
			if rec.Code == 200 && !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
				t.Errorf("no restrictive CSP")
			}
		})
	}
}

// TestDashboardSecretRedirectStaysHere: trading ?secret= for a cookie
// redirects to a path of the dashboard itself, never to a host a crafted
// request line names ("//evil.example/").
func TestDashboardSecretRedirectStaysHere(t *testing.T) {
	h, err := dashboard.New(dashboard.Options{Store: testStore(t), Secret: "s3"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ target, want string }{
		{"/?secret=s3", "/"},
		{"/campaign/mfa/journal?user=eve&secret=s3", "/campaign/mfa/journal?user=eve"},
		{"//evil.example/x?secret=s3", "/"},
		{"http://evil.example/x?secret=s3", "/x"},
	} {
		t.Run(tt.target, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.target, nil))
			if got := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || got != tt.want {
				t.Errorf("%s: %d to %q, want 303 to %q", tt.target, rec.Code, got, tt.want)
			}
		})
	}
}
