package crashtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditbot/auditbot/internal/testkit"
)

// TestCommandsBesideTheDaemon starts `auditbot run` as its own process and,
// while it runs, uses every kind of command beside it: reads (status
// --json, journal), a verified approval by two approvers (each with their
// own token: a first run shows the digest, a second confirms it), a tick
// that executes the approved removal, and a restore. Each succeeds; before,
// each failed with exit 5 "locked" while the daemon held the state file.
// SIGTERM then stops the daemon with exit 0, and `state check` finds the
// file intact. The time each command took is logged (go test -v).
//
// The daemon ticks every 300 ms on the wall clock, a year before the
// campaign's cutoff, while the commands' ticks run with --now after it:
// the daemon's ticks are a clock earlier than the batch R1 they find
// approved. They once closed R1 as done having removed nobody (nobody is
// due on their clock) whenever one ran between the approvals and the
// operator's tick, which a loaded machine made likely; an approved batch
// now waits for a tick at or after its proposal
// (bot.TestApprovedRemovalWaitsForAnEarlierClock), so the operator's tick
// always executes it.
func TestCommandsBesideTheDaemon(t *testing.T) {
	year := campaignYear()
	sc := mfaScenario()
	w := newWorld(t, sc, year, killPoint{})
	if r := w.exec("launch", sc.name); r.code != 0 {
		t.Fatalf("%s", r)
	}
	cutoffTick := time.Date(year, time.March, 1, 9, 0, 0, 0, time.UTC)
	w.clock.Set(cutoffTick)
	if r := w.exec("tick", "--allow-future", "--now", cutoffTick.Format(time.RFC3339)); r.code != 0 {
		t.Fatalf("%s", r)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, err := os.ReadFile(w.config)
	if err != nil {
		t.Fatal(err)
	}
	w.tw.Write("config.yaml", string(cfg)+"metrics: {listen: "+addr+"}\n")

	daemon := exec.Command(w.bin, "--config", w.config, "--log-level", "info", "run", "--tick-every", "300ms")
	daemon.Dir = w.dir
	daemon.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AUDITBOT_") }),
		"AUDITBOT_CONDUIT_TOKEN="+w.users["auditbot"].Token)
	var out testkit.SyncBuffer
	daemon.Stdout, daemon.Stderr = &out, &out
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	defer func() {
		if daemon.ProcessState == nil {
			daemon.Process.Kill()
			<-exited
		}
	}()
	// Ready once its first tick finished.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never became ready:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	timed := func(args ...string) run {
		t.Helper()
		start := time.Now()
		r := w.exec(args...)
		t.Logf("beside the daemon: auditbot %s: exit %d in %v", strings.Join(args, " "), r.code, time.Since(start).Round(time.Millisecond))
		return r
	}
	r := timed("status", sc.name, "--json")
	if r.code != 0 || !json.Valid([]byte(r.output)) {
		t.Fatalf("status --json: %s", r)
	}
	if r := timed("journal", sc.name, "--json"); r.code != 0 || !json.Valid([]byte(r.output)) || !strings.Contains(r.output, `"removal-announced"`) {
		t.Fatalf("journal --json: %s", r)
	}
	digestRE := regexp.MustCompile(`--confirm (\S+)`)
	for _, approver := range []string{"alice", "bob"} {
		tokenFile := filepath.Join(w.dir, approver+".token")
		if err := os.WriteFile(tokenFile, []byte(w.users[approver].Token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := timed("approve", sc.name, "R1", "--token-file", tokenFile)
		m := digestRE.FindStringSubmatch(r.output)
		if r.code != 0 || m == nil {
			t.Fatalf("approve without --confirm: %s", r)
		}
		if r := timed("approve", sc.name, "R1", "--token-file", tokenFile, "--confirm", m[1]); r.code != 0 || !strings.Contains(r.output, "recorded for @"+approver) {
			t.Fatalf("approve --confirm: %s", r)
		}
	}
	removalTick := cutoffTick.Add(2 * time.Hour)
	w.clock.Set(removalTick)
	if r := timed("tick", "--allow-future", "--now", removalTick.Format(time.RFC3339)); r.code != 0 {
		t.Fatalf("tick: %s", r)
	}
	if r := timed("restore", sc.name, "hank", "--force"); r.code != 0 {
		t.Fatalf("restore: %s", r)
	}
	if !slices.Contains(w.srv.Members(w.groups[groupSecurity].PHID), w.users["hank"].PHID) {
		t.Error("hank is not back in acl*security after the restore")
	}

	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`auditbot_users{campaign="crash-mfa",status="removed"}`, `auditbot_users{campaign="crash-mfa",status="restored"} 1`} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if err := daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the daemon after SIGTERM: %v, want exit 0:\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the daemon did not stop after SIGTERM:\n%s", out.String())
	}
	if strings.Contains(out.String(), "locked") {
		t.Errorf("the daemon's log mentions a lock failure:\n%s", out.String())
	}
	if r := w.exec("state", "check"); r.code != 0 {
		t.Errorf("state check after the daemon stopped: %s", r)
	}
}
