package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
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
	var stdout, stderr bytes.Buffer
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
