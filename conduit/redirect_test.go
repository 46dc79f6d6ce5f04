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
	"github.com/auditbot/auditbot/phabtest"
)

// TestRedirectRefused: a server that redirects (http to https, a moved
// host) is never followed, for any redirect status: 301/302 would drop
// the params and look like a bad token, 307/308 would resend the token.
func TestRedirectRefused(t *testing.T) {
	srv := phabtest.New(phabtest.Options{})
	defer srv.Close()
	bot := srv.AddUser(phabtest.UserSpec{Username: "auditbot", Admin: true, Bot: true})
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			var leaked bool
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				leaked = leaked || strings.Contains(r.Form.Get("params"), bot.Token)
				http.Error(w, "elsewhere", http.StatusTeapot)
			}))
			defer target.Close()
			// The front answers the capabilities itself (they carry no
			// token) and redirects every other call.
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/conduit.getcapabilities") {
					w.Header().Set("Content-Type", "application/json")
					w.Write([]byte(`{"result":{"authentication":["token"],"signatures":["consign"],"input":["json","urlencoded"],"output":["json"]},"error_code":null,"error_info":null}`))
					return
				}
				http.Redirect(w, r, target.URL+r.URL.Path, code)
			}))
			defer front.Close()
			c, err := conduit.Dial(context.Background(), front.URL, conduit.Token(bot.Token), conduit.Options{
				MaxRetries: -1, Sleep: func(context.Context, time.Duration) error { return nil },
			})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			_, err = c.Whoami(context.Background())
			if !errors.Is(err, conduit.ErrRedirected) {
				t.Fatalf("Whoami through a %d: %v, want ErrRedirected", code, err)
			}
			if strings.Contains(err.Error(), bot.Token) {
				t.Error("the error holds the token")
			}
			if leaked {
				t.Error("the token was sent to the redirect target")
			}
		})
	}
}
