package main

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditbot/auditbot/internal/cli"
)

// TestBinaryCarriesNoFake keeps the test Phabricator out of the production
// binary: `go list -deps ./cmd/auditbot`, run at the module root, must name
// neither phabtest (nor the demo and test helpers that import it) nor
// net/http/httptest. The demo is cmd/auditbot-demo for this reason.
func TestBinaryCarriesNoFake(t *testing.T) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	cmd := exec.Command("go", "list", "-deps", "./cmd/auditbot")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !slices.Contains(deps, "github.com/auditbot/auditbot/bot") {
		t.Fatalf("go list -deps ./cmd/auditbot listed %d packages without the engine: %q", len(deps), deps)
	}
	forbidden := []string{
		"net/http/httptest",
		"github.com/auditbot/auditbot/phabtest",
		"github.com/auditbot/auditbot/internal/demo",
		"github.com/auditbot/auditbot/internal/testkit",
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("the auditbot binary links %s; keep it to tests and cmd/auditbot-demo", dep)
			}
		}
	}
}

// TestNoDemoSubcommand: `auditbot demo` is gone with the fake; it is an
// unknown command (exit 2), and `make demo` runs cmd/auditbot-demo.
func TestNoDemoSubcommand(t *testing.T) {
	var stdout, stderr strings.Builder
	code := cli.MainContext(t.Context(), []string{"demo"}, &stdout, &stderr)
	if code != cli.ExitUsage || !strings.Contains(stderr.String(), `unknown command "demo"`) {
		t.Errorf("auditbot demo: exit %d, stderr %q; want %d, unknown command", code, stderr.String(), cli.ExitUsage)
	}
}
