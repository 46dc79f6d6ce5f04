package crashtest

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	fullSweep  = flag.Bool("crash.full", false, "kill the binary at every write in both phases (make crash), not a sample")
	laterSweep = flag.Bool("crash.later", false, "also run TestCrashSweepLater, where a killed tick is rerun only at the next step")
)

// binDir holds the binary under test, built once per test process.
var (
	binDir    string
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// full reports whether to sweep every kill point.
func full() bool { return *fullSweep || os.Getenv("AUDITBOT_CRASH_FULL") == "1" }

// auditbotBinary builds ./cmd/auditbot once, without -race even when the
// tests run with it: the binary is killed and restarted hundreds of times,
// and the race detector would only slow each start down; the subject here
// is what the process leaves behind, not its goroutines.
func auditbotBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "auditbot-crashtest-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "auditbot")
		// go test puts its own toolchain's bin first in PATH.
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/auditbot/auditbot/cmd/auditbot")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/auditbot: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}
