package conduit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/conduit"
)

// TestAttack5NotConduitURLCredentials: a conduit.url with basic-auth
// credentials (https://user:pass@host, a common way through a proxy) must
// not be echoed with its password in any Dial error: the "is not a Conduit
// API" text quotes the raw URL, and so does the "must be an http(s) URL"
// text. Both end in logs and on the terminal. url.URL.Redacted() is there
// for this. (Low: config validation refuses a conduit.url with userinfo,
// so only library callers of conduit.Dial reach this; defence in depth.)
func TestAttack5NotConduitURLCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(404)
		w.Write([]byte("<html>Not Found</html>"))
	}))
	defer srv.Close()
	const secret = "s3cr3t-proxy-pass"
	for _, tc := range []struct{ name, url string }{
		{"not conduit", strings.Replace(srv.URL, "http://", "http://bot:"+secret+"@", 1) + "/sub/"},
		{"bad scheme", "ftp://bot:" + secret + "@phab.example.org/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := conduit.Dial(context.Background(), tc.url, "", conduit.Options{
				MaxRetries: -1, Sleep: func(context.Context, time.Duration) error { return nil },
			})
			if err == nil {
				t.Fatal("Dial succeeded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Dial error leaks the URL's password: %q", err)
			}
		})
	}
}
