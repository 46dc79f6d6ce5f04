package conduit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/conduit"
)

// TestNotConduit: a conduit.url that answers, but not as Conduit (a web
// page, a 404, some other JSON API), is named as such, with what it
// answered; an outage (5xx) is not.
func TestNotConduit(t *testing.T) {
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
		want        string // "" : not ErrNotConduit
	}{
		{"404 page", 404, "text/html; charset=utf-8", "<html>Not Found</html>", "is not a Conduit API (got HTTP 404 text/html from /sub/api/conduit.getcapabilities); set conduit.url to the Phabricator base URL"},
		{"web page", 200, "text/html", "<!doctype html><title>Wiki</title>", "is not a Conduit API (got HTTP 200 text/html from /sub/api/conduit.getcapabilities)"},
		{"other JSON", 200, "application/json", `{"status":"ok"}`, "is not a Conduit API (got HTTP 200 application/json from /sub/api/conduit.getcapabilities)"},
		{"JSON array", 200, "application/json", `[1,2]`, "is not a Conduit API (got HTTP 200 application/json"},
		{"no content type", 403, "", "forbidden", "is not a Conduit API (got HTTP 403 no content type"},
		{"outage", 502, "text/html", "<html>Bad Gateway</html>", ""},
		{"a Conduit error", 200, "application/json", `{"result":null,"error_code":"ERR-CONDUIT-CORE","error_info":"boom"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				} else {
					w.Header()["Content-Type"] = nil // no sniffing
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			_, err := conduit.Dial(context.Background(), srv.URL+"/sub/", "", conduit.Options{
				MaxRetries: -1, Sleep: func(context.Context, time.Duration) error { return nil },
			})
			if err == nil {
				t.Fatal("Dial succeeded")
			}
			if got := errors.Is(err, conduit.ErrNotConduit); got != (tc.want != "") {
				t.Fatalf("Dial: %v; ErrNotConduit = %v, want %v", err, got, tc.want != "")
			}
			if tc.want != "" && !strings.HasPrefix(err.Error(), srv.URL+"/sub/ "+tc.want) {
				t.Errorf("Dial: %q\nwant it to start %q", err, srv.URL+"/sub/ "+tc.want)
			}
		})
	}
}
