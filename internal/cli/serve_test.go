package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/internal/testkit"
)

// TestServeTrustedProxyTooWide: a trusted proxy of 0.0.0.0/0 (or any
// prefix wider than a /16, or /48 for IPv6) would trust the proxy's
// header from anyone who reaches the port; serve refuses it, as the
// config does.
func TestServeTrustedProxyTooWide(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	for _, p := range []string{"0.0.0.0/0", "::/0", "10.0.0.0/8"} {
		r := l.run("serve", "--state", l.statePath, "--listen", "0.0.0.0:0", "--trusted-header", "X-Remote-User", "--trusted-proxy", p)
		r.expect(t, ExitUsage, nil, []string{"too wide for a trusted proxy"})
	}
	cfg, err := os.ReadFile(l.config)
	if err != nil {
		t.Fatal(err)
	}
	l.write("config.yaml", string(cfg)+"dashboard: {listen: 0.0.0.0:8090, trusted_header: X-Remote-User, trusted_proxies: [0.0.0.0/0]}\n")
	l.run("validate").expect(t, ExitUsage, nil, []string{"dashboard.trusted_proxies", "too wide for a trusted proxy"})
}

// TestServeHelp: serve's help says what it does now: it runs beside the
// daemon, and reads a config it finds for the task links.
func TestServeHelp(t *testing.T) {
	var out bytes.Buffer
	if code := Main([]string{"serve", "--help"}, &out, io.Discard); code != ExitOK {
		t.Fatalf("serve --help: exit %d", code)
	}
	help := strings.Join(strings.Fields(out.String()), " ")
	if strings.Contains(help, "while a daemon holds the file") {
		t.Errorf("serve --help still says it cannot run beside a daemon:\n%s", out.String())
	}
	for _, want := range []string{"beside the daemon", "conduit.url"} {
		if !strings.Contains(help, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, out.String())
		}
	}
}

// TestServeTaskLinksFromConfig: `serve --state FILE` with no --phab-url
// still links tasks to Phabricator when a config is found (./auditbot.yaml
// here), and so does `report --state`.
func TestServeTaskLinksFromConfig(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	cfg, err := os.ReadFile(l.config)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "auditbot.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	t.Setenv("AUDITBOT_CONFIG", "")
	state := filepath.Join(l.dir, "state.db")
	link := regexp.QuoteMeta(l.srv.URL()) + `/T\d+`

	var stdout bytes.Buffer
	if code := Main([]string{"report", "mfa-test", "--state", state, "--format", "json"}, &stdout, io.Discard); code != ExitOK {
		t.Fatalf("report --state: exit %d", code)
	}
	if !regexp.MustCompile(`"task_url": "` + link + `"`).MatchString(stdout.String()) {
		t.Errorf("report --state has no task link to %s:\n%s", l.srv.URL(), stdout.String())
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stderr testkit.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- MainContext(ctx, []string{"serve", "--state", state, "--listen", "127.0.0.1:0", "--log-level", "info"}, io.Discard, &stderr)
	}()
	serving := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)
	var base string
	// A bound on a hang, not an assertion on speed.
	deadline := time.After(time.Minute)
	for base == "" {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		case <-deadline:
			t.Fatalf("serve did not say where it serves: %s", stderr.String())
		case <-time.After(10 * time.Millisecond):
			base = serving.FindString(stderr.String())
		}
	}
	resp, err := http.Get(base + "campaign/mfa-test")
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`<a href="` + link + `">T\d+</a>`).Match(page) {
		t.Errorf("serve --state without --phab-url: no task link to %s:\n%s", l.srv.URL(), page)
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Errorf("serve exited %d after its context ended: %s", code, stderr.String())
	}
}
