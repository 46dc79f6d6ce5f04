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
	validateErr := set.Validate()
	data := templates.Sample(templates.ExemptionRequested).(templates.ReplyData)
	data.Reason = "ping @mallory {F1}"
	data.Person.RealName = "@carol"
	out, err := set.Render(templates.ExemptionRequested, data)
	if validateErr == nil && err == nil && (strings.Contains(out, "@mallory") || strings.Contains(out, "(@carol)")) {
		t.Errorf("an override printing user text raw passed Validate and rendered live Remarkup:\n%s", out)
	}
}
