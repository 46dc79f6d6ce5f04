package templates_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditbot/auditbot/templates"
)

// TestAttack5OverridePrintsUserTextRaw: the package promises that a
// mistake in an override that would expose a user's text as Remarkup is
// caught by Validate before the bot writes anything (gluing a name to a
// word is). But an override that prints user-supplied text without
// literal/name ({{.Reason}}, {{.Person.RealName}}) passes Load and
// Validate, and Render posts the user's text as live Remarkup: a reason
// "@everyone-in-acl {F1} T1" mentions and embeds on a restricted task.
//
// Sequence: templates_dir with exemption-requested.tmpl printing
// {{.Person.RealName}} and {{.Reason}}; Load; Validate (passes); Render
// with a hostile reason: the output holds the raw mention.
//
// Fix: give user-controlled fields a type that does not print as itself
// (e.g. a UserText whose String() emits an unmarked sentinel that unmark
// rejects unless it went through literal/name), or make Validate render
// with hostile Sample data and refuse any output holding it unescaped.
func TestAttack5OverridePrintsUserTextRaw(t *testing.T) {
	dir := t.TempDir()
	src := "{{mention .Person}} ({{.Person.RealName}}) asked for an exemption. Reason given: {{.Reason}}\n"
	if err := os.WriteFile(filepath.Join(dir, "exemption-requested.tmpl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Validate must refuse this override, for this reason: the bot runs
	// Validate (check, validate) before it writes anything.
	if err := set.Validate(); err == nil || !strings.Contains(err.Error(), "exemption-requested") || !strings.Contains(err.Error(), "live Remarkup") {
		t.Fatalf("Validate = %v, want a refusal of exemption-requested for printing user text as live Remarkup", err)
	}
	// The built-in templates pass the same check.
	builtin, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if err := builtin.Validate(); err != nil {
		t.Errorf("built-in templates: %v", err)
	}
}
