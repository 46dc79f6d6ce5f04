package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/internal/testkit"
)

// waitLimit bounds every wait for the daemon: generous, so that a loaded
// machine is slow rather than failing; the waits end as soon as the
// condition holds.
const waitLimit = 60 * time.Second

// TestRunDaemon starts `auditbot run`, waits for its first tick (which the
// schedule starts at once) and stops it the way SIGTERM would: by ending
// the context. It must exit 0 and have ticked the launched campaign.
func TestRunDaemon(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	l.srv.ResetCalls()

	d := l.startDaemon("", "--log-level", "info", "run")
	// The first tick reads the groups' members (drift): wait for it.
	d.waitFor("a tick", func() bool { return l.srv.Calls()["project.search"] > 0 })
	if code := d.stop(); code != ExitOK {
		t.Errorf("run exited %d after the stop, want 0; stderr:\n%s", code, d.stderr.String())
	}
	if !strings.Contains(d.stderr.String(), "auditbot running") {
		t.Errorf("the daemon did not log its start:\n%s", d.stderr.String())
	}
}

// TestRunStartsWithoutPhabricator: started while nothing listens at
// conduit.url, the daemon serves /healthz at once and /readyz 503, logs
// one line per failed try of the first tick, and turns ready after the
// next try once Conduit answers there; it never exits meanwhile.
func TestRunStartsWithoutPhabricator(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	conduitAddr := freeAddr(t)
	l.pointAt("http://" + conduitAddr)
	d := l.startDaemon(l.withMetrics(3), "run", "--tick-every", "200ms")

	d.waitFor("/healthz 200", func() bool { code, _ := d.get("/healthz"); return code == http.StatusOK })
	if code, body := d.get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no tick has run") {
		t.Errorf("/readyz before any tick: %d %q, want 503 saying no tick has run", code, body)
	}
	const failed = "tick skipped: Phabricator unavailable"
	d.waitFor("a failed try logged", func() bool { return strings.Contains(d.stderr.String(), failed) })
	if code, body := d.get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "connection refused") {
		t.Errorf("/readyz after a failed try: %d %q, want 503 with the cause", code, body)
	}

	// Conduit comes up at that address: a proxy to the lab's server.
	ln, err := net.Listen("tcp", conduitAddr)
	if err != nil {
		t.Fatalf("bring Conduit up at %s: %v", conduitAddr, err)
	}
	target, err := url.Parse(l.srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := &http.Server{Handler: httputil.NewSingleHostReverseProxy(target), ReadHeaderTimeout: 10 * time.Second}
	go proxy.Serve(ln)
	defer proxy.Close()

	d.waitFor("/readyz 200", func() bool { code, _ := d.get("/readyz"); return code == http.StatusOK })
	_, metrics := d.get("/metrics")
	for _, want := range []string{
		`auditbot_ticks_total{outcome="ok"} `,
		`auditbot_ready 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if m := regexp.MustCompile(`auditbot_ticks_total\{outcome="unavailable"\} (\d+)`).FindStringSubmatch(metrics); m == nil || m[1] == "0" {
		t.Errorf("/metrics does not count the skipped ticks: %v", m)
	}
	if code := d.stop(); code != ExitOK {
		t.Errorf("run exited %d after the stop, want 0:\n%s", code, d.stderr.String())
	}
	// One line per failed try, each saying when the next one comes.
	lines := 0
	for _, line := range strings.Split(d.stderr.String(), "\n") {
		if strings.Contains(line, failed) {
			lines++
			if !strings.Contains(line, "attempt=") || !strings.Contains(line, "retry_in_ms=") {
				t.Errorf("a failure line without its attempt and pause: %s", line)
			}
		}
	}
	if n := strings.Count(d.stderr.String(), "attempt="); n != lines {
		t.Errorf("%d lines name an attempt, %d say Phabricator is unavailable: one line per failure", n, lines)
	}
}

// TestRunHealth starts `auditbot run` with metrics.listen set, reads
// /healthz, /readyz and /metrics after a tick, then revokes the bot's
// token: /readyz turns unready and, after schedule.max_auth_failures
// ticks, the daemon exits with code 3.
func TestRunHealth(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	d := l.startDaemon(l.withMetrics(2), "--log-level", "info", "run", "--tick-every", "200ms")
	d.waitFor("/readyz ok", func() bool { code, _ := d.get("/readyz"); return code == http.StatusOK })
	if code, body := d.get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	_, metrics := d.get("/metrics")
	want := []string{
		`auditbot_users{campaign="mfa-test",status="pending"}`,
		`auditbot_pending_intents{campaign="mfa-test"} 0`,
		`auditbot_pending_intents_oldest_age_seconds{campaign="mfa-test"} 0`,
		`auditbot_removal_batches_awaiting_approval{campaign="mfa-test"} 0`,
		`auditbot_unanswered_replies{awaiting="approvers",campaign="mfa-test"} 0`,
		`auditbot_conduit_calls_total{method="user.whoami"}`,
		`auditbot_conduit_call_duration_seconds_bucket{method="maniphest.search"`,
		`auditbot_chore_duration_seconds_count{campaign="mfa-test",chore="drift"}`,
		`auditbot_tick_duration_seconds_count`,
		`auditbot_last_successful_tick_timestamp_seconds`,
		`auditbot_token_rejected 0`,
		`auditbot_tick_interval_seconds 0.2`,
		`auditbot_build_info{goversion="go`,
	}
	// Every chore's error counter is there from the start, at 0.
	for _, chore := range bot.ChoreNames() {
		want = append(want, fmt.Sprintf(`auditbot_chore_errors_total{campaign="mfa-test",chore=%q} 0`, chore))
	}
	for _, w := range want {
		if !strings.Contains(metrics, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}

	l.srv.RevokeToken(l.users["auditbot"].Token)
	var exit int
	select {
	case exit = <-d.done:
	case <-time.After(waitLimit):
		t.Fatal("the daemon did not exit after its token was revoked")
	}
	if exit != ExitAuth {
		t.Errorf("run exited %d with the token revoked, want %d:\n%s", exit, ExitAuth, d.stderr.String())
	}
	if !strings.Contains(d.stderr.String(), "2 tick(s) in a row") {
		t.Errorf("stderr does not say why it stopped:\n%s", d.stderr.String())
	}
	if strings.Contains(d.stderr.String(), l.users["auditbot"].Token) {
		t.Error("the token reached the log")
	}
}

// TestRunTokenRejectedAtStart: a token Phabricator rejects from the start
// is tried schedule.max_auth_failures times, then the daemon exits 3.
func TestRunTokenRejectedAtStart(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	l.srv.RevokeToken(l.users["auditbot"].Token)
	d := l.startDaemon(l.withMetrics(2), "run", "--tick-every", "200ms")
	select {
	case code := <-d.done:
		if code != ExitAuth {
			t.Errorf("run exited %d, want %d:\n%s", code, ExitAuth, d.stderr.String())
		}
	case <-time.After(waitLimit):
		t.Fatal("the daemon did not exit with its token rejected")
	}
	if n := strings.Count(d.stderr.String(), "tick skipped: the Conduit token is rejected"); n != 1 {
		t.Errorf("%d lines for a rejected token before the exit, want 1 (the second ends the daemon):\n%s", n, d.stderr.String())
	}
}

// TestRunRefusesMissingToken: no token at all is fixed by a person, not
// by retrying: exit 3 at once.
func TestRunRefusesMissingToken(t *testing.T) {
	l := newLab(t)
	t.Setenv("AUDITBOT_CONDUIT_TOKEN", "")
	if r := l.run("run"); r.code != ExitAuth {
		t.Errorf("run without a token exited %d, want %d: %s", r.code, ExitAuth, r.stderr)
	}
}

// TestReadyzUnready: while the token is rejected /readyz answers 503 and
// says why, and /healthz stays ok.
func TestReadyzUnready(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	// Many failures allowed: the daemon stays up, unready.
	d := l.startDaemon(l.withMetrics(1000000), "run", "--tick-every", "100ms")
	defer func() {
		if code := d.stop(); code != ExitOK {
			t.Errorf("run exited %d after the stop, want 0:\n%s", code, d.stderr.String())
		}
	}()
	d.waitFor("/readyz ok", func() bool { code, _ := d.get("/readyz"); return code == http.StatusOK })
	l.srv.RevokeToken(l.users["auditbot"].Token)
	var body string
	d.waitFor("/readyz 503", func() bool {
		var code int
		code, body = d.get("/readyz")
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, "token is rejected") {
		t.Errorf("/readyz body %q does not say why", body)
	}
	if code, _ := d.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d while unready, want 200", code)
	}
}

// daemon is an `auditbot run` started by a test.
type daemonRun struct {
	t      *testing.T
	addr   string // metrics.listen, "" if none
	done   chan int
	stderr *testkit.SyncBuffer
	cancel func()
}

// startDaemon runs the command line args (after --config) in the
// background; addr is its metrics.listen ("" for none). The test's end
// stops it.
func (l *lab) startDaemon(addr string, args ...string) *daemonRun {
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemonRun{t: l.t, addr: addr, done: make(chan int, 1), stderr: &testkit.SyncBuffer{}, cancel: cancel}
	go func() {
		d.done <- MainContext(ctx, append([]string{"--config", l.config}, args...), io.Discard, d.stderr)
	}()
	l.t.Cleanup(cancel)
	return d
}

// stop ends the daemon as SIGTERM would and returns its exit code.
func (d *daemonRun) stop() int {
	d.t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		return code
	case <-time.After(waitLimit):
		d.t.Fatal("run did not stop after its context ended")
		return -1
	}
}

// get fetches path from the daemon's metrics listener.
func (d *daemonRun) get(path string) (int, string) {
	resp, err := http.Get("http://" + d.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitFor polls until cond holds (the daemon ticks on its own clock),
// failing the test if the daemon exits meanwhile or waitLimit passes.
func (d *daemonRun) waitFor(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		select {
		case code := <-d.done:
			d.t.Fatalf("run exited with %d while waiting for %s:\n%s", code, what, d.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("gave up waiting for %s:\n%s", what, d.stderr.String())
		}
	}
}

// freeAddr returns a loopback address where nothing listens.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// withMetrics adds metrics.listen on a free loopback port and
// schedule.max_auth_failures to the lab's config, and returns the address.
func (l *lab) withMetrics(maxAuthFailures int) string {
	l.t.Helper()
	addr := freeAddr(l.t)
	cfg, err := os.ReadFile(l.config)
	if err != nil {
		l.t.Fatal(err)
	}
	l.write("config.yaml", fmt.Sprintf("%smetrics: {listen: %s}\nschedule: {max_auth_failures: %d}\n", cfg, addr, maxAuthFailures))
	return addr
}

// pointAt sets the lab config's conduit.url.
func (l *lab) pointAt(conduitURL string) {
	l.t.Helper()
	cfg, err := os.ReadFile(l.config)
	if err != nil {
		l.t.Fatal(err)
	}
	old := "url: " + l.srv.URL()
	if !strings.Contains(string(cfg), old) {
		l.t.Fatalf("the lab config has no %q", old)
	}
	l.write("config.yaml", strings.Replace(string(cfg), old, "url: "+conduitURL, 1))
}

// TestRunExitsOnDamagedState: a state file replaced by something that is
// not auditbot's while the daemon runs ends it with code 7 at the next
// tick; restarting would not help.
func TestRunExitsOnDamagedState(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	d := l.startDaemon(l.withMetrics(3), "run", "--tick-every", "200ms")
	d.waitFor("/readyz ok", func() bool { code, _ := d.get("/readyz"); return code == http.StatusOK })
	junk := l.write("junk.db", strings.Repeat("not a bbolt file\n", 512))
	if err := os.Rename(junk, l.statePath); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-d.done:
		if code != ExitDamaged {
			t.Errorf("run exited %d with its state file replaced, want %d:\n%s", code, ExitDamaged, d.stderr.String())
		}
	case <-time.After(waitLimit):
		t.Fatalf("the daemon did not exit with its state file damaged:\n%s", d.stderr.String())
	}
}
