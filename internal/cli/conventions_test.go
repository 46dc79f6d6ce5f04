package cli

import (
	"strings"
	"testing"
)

// TestConventions covers the command-line conventions of issue 9 that
// need no Phabricator.
func TestConventions(t *testing.T) {
	l := newLab(t)
	t.Run("version", func(t *testing.T) {
		r := l.run("version")
		if r.code != ExitOK || !strings.HasPrefix(r.stdout, "auditbot ") {
			t.Errorf("version: exit %d, %q", r.code, r.stdout)
		}
		var v struct {
			Version string `json:"version"`
		}
		if err := unwrapJSON(t, l.run("version", "--json").stdout, "version", &v); err != nil || v.Version != Version() {
			t.Errorf("version --json: %+v, %v", v, err)
		}
	})
	t.Run("bogus log level is a usage error", func(t *testing.T) {
		r := l.run("--log-level", "bogus", "validate")
		if r.code != ExitUsage || !strings.Contains(r.stderr, `--log-level "bogus"`) {
			t.Errorf("exit %d, stderr %q; want %d naming the flag", r.code, r.stderr, ExitUsage)
		}
		if r := l.run("--log-level", "debug", "version"); r.code != ExitOK {
			t.Errorf("--log-level debug: exit %d", r.code)
		}
	})
}
