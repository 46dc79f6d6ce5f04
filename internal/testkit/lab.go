package testkit

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DefaultLabRoot is where ../shared/lab/up.sh puts the lab unless
// LAB_ROOT says otherwise.
const DefaultLabRoot = "/var/lib/phorge-lab"

// LabEnv is the real-Phorge lab's settings: PHAB_URL, the tokens
// (AUDITBOT_TOKEN, ADMIN_TOKEN, TOKEN_USER02, ...) and the lab's command
// lines (LAB_RESET, ...).
type LabEnv map[string]string

// LabEnvPath is the lab's settings file, by the lab README's rule:
// $LAB_ENV, else $LAB_ROOT/lab.env, else /var/lib/phorge-lab/lab.env.
func LabEnvPath() string {
	if path := os.Getenv("LAB_ENV"); path != "" {
		return path
	}
	root := os.Getenv("LAB_ROOT")
	if root == "" {
		root = DefaultLabRoot
	}
	return filepath.Join(root, "lab.env")
}

// LoadLabEnv reads LabEnvPath (a missing file reads as empty) and lets
// the environment win: a variable set there replaces the file's, and
// PHAB_URL, *_TOKEN, TOKEN_* and LAB_* count even when the file lacks
// them, so that a staging Phorge needs no file.
func LoadLabEnv() LabEnv {
	env := LabEnv{}
	if data, err := os.ReadFile(LabEnvPath()); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(strings.TrimSpace(k), "#") {
				env[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `'"`)
			}
		}
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if _, inFile := env[k]; inFile || k == "PHAB_URL" || strings.HasSuffix(k, "_TOKEN") ||
			strings.HasPrefix(k, "TOKEN_") || strings.HasPrefix(k, "LAB_") {
			env[k] = v
		}
	}
	return env
}

// Problem says, in one line, why env is not a Phorge the tests may use,
// or returns "": PHAB_URL and every key in required must be set, and
// PHAB_URL's host must be loopback unless PHORGE_ALLOW_REMOTE=1 (the
// tests write to it).
func (env LabEnv) Problem(required ...string) string {
	if env["PHAB_URL"] == "" {
		return fmt.Sprintf("no Phorge configured (no %s, no PHAB_URL): run ../shared/lab/up.sh, see README \"Testing against a real Phorge\"", LabEnvPath())
	}
	u, err := url.Parse(env["PHAB_URL"])
	if err != nil {
		return fmt.Sprintf("PHAB_URL %q: %v", env["PHAB_URL"], err)
	}
	if !isLoopback(u.Hostname()) && os.Getenv("PHORGE_ALLOW_REMOTE") != "1" {
		return fmt.Sprintf("PHAB_URL host %q is not loopback: these tests write to it; set PHORGE_ALLOW_REMOTE=1 to run them there anyway", u.Hostname())
	}
	for _, k := range required {
		if env[k] == "" {
			return fmt.Sprintf("Phorge at %s has no %s (the lab's lab.env sets it; read from %s)", env["PHAB_URL"], k, LabEnvPath())
		}
	}
	return ""
}

// Lab returns the lab's settings, or skips t with one line saying why
// there is no usable lab (see Problem). Under CI=true it fails instead:
// CI (.ci/run) brings the lab up first, and a missing lab must never
// make a silently green stage.
func Lab(t testing.TB, required ...string) LabEnv {
	t.Helper()
	env := LoadLabEnv()
	if problem := env.Problem(required...); problem != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(problem + " (CI=true: the real-Phorge tests must run)")
		}
		t.Skip(problem)
	}
	return env
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
