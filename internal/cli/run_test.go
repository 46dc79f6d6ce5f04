package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/internal/testkit"
)

// TestRunDaemon starts `auditbot run`, waits for its first tick (which the
// schedule starts at once) and stops it the way SIGTERM would: by ending
// the context. It must exit 0 and have ticked the launched campaign.
func TestRunDaemon(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	l.srv.ResetCalls()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testkit.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- MainContext(ctx, []string{"--config", l.config, "--log-level", "info", "run"}, &stdout, &stderr)
	}()

	// The first tick reads the groups' members (drift): wait for it.
	deadline := time.After(20 * time.Second)
	for l.srv.Calls()["project.search"] == 0 {
		select {
		case code := <-done:
			t.Fatalf("run exited early with %d: %s", code, stderr.String())
		case <-deadline:
			t.Fatal("the daemon did not tick within 20s")
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("run exited %d after the stop, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop after its context ended")
	}
	if !strings.Contains(stderr.String(), "auditbot running") {
		t.Errorf("the daemon did not log its start:\n%s", stderr.String())
	}
}

// TestRunHealth starts `auditbot run` with metrics.listen set, reads
// /healthz, /readyz and /metrics after a tick, then revokes the bot's
// token: /readyz turns unready and, after schedule.max_auth_failures
// ticks, the daemon exits with code 3.
func TestRunHealth(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	addr := l.withMetrics(2)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testkit.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- MainContext(ctx, []string{"--config", l.config, "--log-level", "info", "run", "--tick-every", "200ms"}, &stdout, &stderr)
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// waitFor polls until cond holds: the daemon ticks on its own clock.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			select {
			case code := <-done:
				t.Fatalf("run exited with %d while waiting for %s:\n%s", code, what, stderr.String())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s:\n%s", what, stderr.String())
			}
		}
	}
	waitFor("/readyz ok", func() bool { code, _ := get("/readyz"); return code == http.StatusOK })
	// Ready from the start for two tick_every; wait for a tick's numbers.
	waitFor("a finished tick", func() bool {
		_, m := get("/metrics")
		return strings.Contains(m, `auditbot_tick_duration_seconds_count`) && !strings.Contains(m, "auditbot_tick_duration_seconds_count 0")
	})
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{
		`auditbot_users{campaign="mfa-test",status="pending"}`,
		`auditbot_pending_intents{campaign="mfa-test"} 0`,
		`auditbot_conduit_calls_total{method="user.whoami"}`,
		`auditbot_conduit_call_duration_seconds_bucket{method="maniphest.search"`,
		`auditbot_chore_duration_seconds_count{chore="drift"}`,
		`auditbot_tick_duration_seconds_count`,
		`auditbot_last_successful_tick_timestamp_seconds`,
		`auditbot_token_rejected 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	l.srv.RevokeToken(l.users["auditbot"].Token)
	var exit int
	select {
	case exit = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon did not exit after its token was revoked")
	}
	if exit != ExitAuth {
		t.Errorf("run exited %d with the token revoked, want %d:\n%s", exit, ExitAuth, stderr.String())
	}
	if !strings.Contains(stderr.String(), "2 tick(s) in a row") {
		t.Errorf("stderr does not say why it stopped:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), l.users["auditbot"].Token) {
		t.Error("the token reached the log")
	}
}

// TestReadyzUnready: while the token is rejected /readyz answers 503 and
// says why, and /healthz stays ok.
func TestReadyzUnready(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	// Many failures allowed: the daemon stays up, unready.
	addr := l.withMetrics(1000000)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr testkit.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- MainContext(ctx, []string{"--config", l.config, "run", "--tick-every", "100ms"}, io.Discard, &stderr)
	}()
	defer func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("run exited %d after the stop, want 0:\n%s", code, stderr.String())
		}
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for code, _ := get("/readyz"); code != http.StatusOK; code, _ = get("/readyz") {
		if time.Now().After(deadline) {
			t.Fatalf("never ready:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.srv.RevokeToken(l.users["auditbot"].Token)
	for {
		code, body := get("/readyz")
		if code == http.StatusServiceUnavailable {
			if !strings.Contains(body, "token is rejected") {
				t.Errorf("/readyz body %q does not say why", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d with the token revoked", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d while unready, want 200", code)
	}
}

// withMetrics adds metrics.listen on a free loopback port and
// schedule.max_auth_failures to the lab's config, and returns the address.
func (l *lab) withMetrics(maxAuthFailures int) string {
	l.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l.t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, err := os.ReadFile(l.config)
	if err != nil {
		l.t.Fatal(err)
	}
	l.write("config.yaml", fmt.Sprintf("%smetrics: {listen: %s}\nschedule: {max_auth_failures: %d}\n", cfg, addr, maxAuthFailures))
	return addr
}
