// Package dashboard is auditbot's read-only web dashboard: every campaign at
// a glance, one campaign per group and task, the journal (paged) with its
// chain's verification, and each status over time. Pages are rendered on
// the server with html/template (which escapes everything: usernames and
// real names are written by the people being audited, and control and
// bidirectional characters are shown as escapes) from assets embedded in
// the binary, and gzipped for a browser that accepts it; there is no
// JavaScript. The dashboard never holds the Conduit token.
//
// It keeps each campaign's snapshot and journal digest between pages and
// reads only what changed since (see digest), each read a short
// transaction: however many people read pages, a tick or a command beside
// it gets the file (state.Store yields it to other processes).
package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditbot/auditbot/state"
)

//go:embed assets
var assets embed.FS

// cookieName carries the shared secret after a browser presented it once.
const cookieName = "auditbot_dashboard"

// Options configure the dashboard.
type Options struct {
	// Store is read for every page: the daemon's own store inside
	// `auditbot run`, a read-only one for `auditbot serve`. Either opens
	// the file only for each read transaction, so a tick runs between
	// pages, and checks the file deeply once (again if it was replaced).
	// A Server keeps what it read of each campaign: one Server per Store.
	Store *state.Store
	// PhabURL is the Phabricator base URL for task links.
	PhabURL string
	// Secret, if set, must be presented: ?secret= once (then a cookie) or
	// an Authorization: Bearer header.
	Secret string
	// TrustedHeader, if set, names a header a reverse proxy sets to the
	// authenticated user; requests without it are refused, and so are
	// requests with it from a peer that is neither loopback nor in
	// TrustedProxies (a client that reached the port directly could set
	// it itself).
	TrustedHeader string
	// TrustedProxies are the proxy's addresses; loopback is always one.
	TrustedProxies []netip.Prefix
	Now            func() time.Time
	Logger         zerolog.Logger
}

// Server serves the dashboard.
type Server struct {
	o       Options
	tmpl    *template.Template
	mux     *http.ServeMux
	digests digests
}

// New builds the dashboard handler.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("dashboard: no state store")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.PhabURL = strings.TrimRight(o.PhabURL, "/")
	tmpl, err := template.New("").ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard: templates: %w", err)
	}
	s := &Server{o: o, tmpl: tmpl, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.overview)
	s.mux.HandleFunc("GET /campaign/{name}", s.campaign)
	s.mux.HandleFunc("GET /campaign/{name}/group/{group}", s.group)
	s.mux.HandleFunc("GET /campaign/{name}/journal", s.journal)
	s.mux.Handle("GET /assets/style.css", http.FileServerFS(assets))
	return s, nil
}

// ServeHTTP checks access, then serves a page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// No script runs, nothing is framed, and following a task link does
	// not tell Phabricator the dashboard's address.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if s.o.TrustedHeader != "" && (strings.TrimSpace(r.Header.Get(s.o.TrustedHeader)) == "" || !s.fromProxy(r)) {
		http.Error(w, "forbidden: this dashboard is served only through its authenticating proxy", http.StatusForbidden)
		return
	}
	if s.o.Secret != "" {
		if q := r.URL.Query().Get("secret"); q != "" {
			if !s.secretOK(q) {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
			// Trade the secret in the address for a cookie, so it does not
			// stay in the address bar or the history.
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			http.Redirect(w, r, sameOriginPath(r.URL), http.StatusSeeOther)
			return
		}
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if c, err := r.Cookie(cookieName); err == nil && got == "" {
			got = c.Value
		}
		if !s.secretOK(got) {
			http.Error(w, "unauthorized: open the dashboard with ?secret=… once", http.StatusUnauthorized)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// fromProxy reports whether the request's peer may set the trusted
// header: loopback or one of the configured proxies.
func (s *Server) fromProxy(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	if ip.IsLoopback() {
		return true
	}
	for _, p := range s.o.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// sameOriginPath is where the ?secret= redirect goes: u's path on this
// server with the secret dropped from the query. Only a path: a request
// line may carry an absolute URL or a path starting with "//" or "/\",
// which a browser would follow to another host.
func sameOriginPath(u *url.URL) string {
	p := u.EscapedPath()
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		p = "/"
	}
	qs := u.Query()
	qs.Del("secret")
	if q := qs.Encode(); q != "" {
		p += "?" + q
	}
	return p
}

func (s *Server) secretOK(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.o.Secret)) == 1
}

// errNotFound: a page of something the state file does not hold.
var errNotFound = errors.New("dashboard: not found")

// render writes a page, or a plain error without details from the state.
// The page is rendered whole before anything is sent, so a failure is a
// 500, not half a page; it is compressed for a client that accepts gzip.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any, err error) {
	if errors.Is(err, state.ErrNoCampaign) || errors.Is(err, errNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.o.Logger.Error().Err(err).Str("path", r.URL.Path).Msg("dashboard")
		http.Error(w, "the state file could not be read; see the bot's log", http.StatusInternalServerError)
		return
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if err := s.tmpl.ExecuteTemplate(buf, name, data); err != nil {
		s.o.Logger.Error().Err(err).Str("page", name).Msg("dashboard: render")
		http.Error(w, "the page could not be rendered; see the bot's log", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Length", strconv.Itoa(buf.Len()))
		_, _ = w.Write(buf.Bytes())
		return
	}
	h.Set("Content-Encoding", "gzip")
	zw := gzipPool.Get().(*gzip.Writer)
	defer gzipPool.Put(zw)
	zw.Reset(w)
	_, _ = zw.Write(buf.Bytes())
	if err := zw.Close(); err != nil {
		s.o.Logger.Debug().Err(err).Str("page", name).Msg("dashboard: send")
	}
}

var (
	bufPool  = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}
)

// acceptsGzip reports whether an Accept-Encoding header accepts gzip:
// "gzip" or "*" without q=0.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		return q > 0
	}
	return false
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	page, err := s.buildOverview()
	s.render(w, r, "overview.html", page, err)
}

func (s *Server) campaign(w http.ResponseWriter, r *http.Request) {
	page, err := s.buildCampaign(r.PathValue("name"))
	s.render(w, r, "campaign.html", page, err)
}

func (s *Server) group(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !slices.Contains(statusOrder, state.Status(status)) {
		http.Error(w, "unknown status", http.StatusBadRequest)
		return
	}
	page, err := s.buildGroup(r.PathValue("name"), r.PathValue("group"), status, q.Get("after"))
	s.render(w, r, "group.html", page, err)
}

func (s *Server) journal(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := journalFilter{User: strings.TrimPrefix(q.Get("user"), "@"), Task: q.Get("task"), Kind: q.Get("kind")}
	var after, before uint64
	for _, c := range []struct {
		key string
		to  *uint64
	}{{"after", &after}, {"before", &before}} {
		if v := q.Get(c.key); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				http.Error(w, c.key+": want an entry number", http.StatusBadRequest)
				return
			}
			*c.to = n
		}
	}
	page, err := s.buildJournal(r.PathValue("name"), f, after, before)
	s.render(w, r, "journal.html", page, err)
}

// Warm reads every campaign once, so that the first page of each does
// not wait for its whole journal to be read and verified; `serve` and
// `run` call it in the background when they start.
func (s *Server) Warm() error {
	_, err := s.buildOverview()
	return err
}
