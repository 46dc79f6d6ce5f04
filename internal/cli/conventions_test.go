package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
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

// TestExamples checks that every command shows an Examples section in its
// help, and that each example runs a command that exists.
func TestExamples(t *testing.T) {
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	root := a.rootCommand()
	var checked int
	walkCommands(root, func(cmd *cobra.Command) {
		if cmd.Name() == "help" || !cmd.Runnable() && !cmd.HasSubCommands() {
			return // cobra's help, and help topics such as exit-codes
		}
		checked++
		t.Run(commandKey(cmd), func(t *testing.T) {
			if strings.TrimSpace(cmd.Example) == "" {
				t.Fatalf("%q has no Example", cmd.CommandPath())
			}
			for _, line := range strings.Split(cmd.Example, "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				if !strings.Contains(line, "auditbot "+commandKey(cmd)) {
					t.Errorf("%q: example %q does not run auditbot %s", cmd.CommandPath(), line, commandKey(cmd))
				}
			}
		})
	})
	if checked < 20 {
		t.Errorf("checked %d commands, want every command", checked)
	}
	for key := range examples {
		if cmd, _, err := root.Find(strings.Fields(key)); err != nil || commandKey(cmd) != key {
			t.Errorf("examples has %q, which is not a command", key)
		}
	}
}

// TestExitCodes checks that "auditbot help exit-codes" and the README's
// table list exactly the codes and meanings of ExitCodes.
func TestExitCodes(t *testing.T) {
	l := newLab(t)
	r := l.run("help", "exit-codes")
	if r.code != ExitOK {
		t.Fatalf("help exit-codes: exit %d\n%s", r.code, r.stderr)
	}
	for _, e := range ExitCodes {
		if !strings.Contains(r.stdout, e.Meaning) || !strings.Contains(r.stdout, e.Name) {
			t.Errorf("help exit-codes lacks %d %s %q:\n%s", e.Code, e.Name, e.Meaning, r.stdout)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	got, err := readmeExitCodes(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{}
	for _, e := range ExitCodes {
		want[e.Code] = normalizeSpace(e.Meaning)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("README's exit codes differ from ExitCodes in exit.go (-exit.go +README):\n%s", diff)
	}
}

// readmeExitCodes parses the README's table of exit codes, the first
// "| code | meaning |" table after a line starting "Exit codes".
func readmeExitCodes(readme string) (map[int]string, error) {
	_, rest, ok := strings.Cut(readme, "\nExit codes")
	if !ok {
		return nil, fmt.Errorf("README has no \"Exit codes\" section")
	}
	_, rest, ok = strings.Cut(rest, "| code | meaning |\n| --- | --- |\n")
	if !ok {
		return nil, fmt.Errorf("README's exit codes have no | code | meaning | table")
	}
	out := map[int]string{}
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 2 {
			return nil, fmt.Errorf("README exit-code row %q: want 2 cells", line)
		}
		code, err := strconv.Atoi(strings.TrimSpace(cells[0]))
		if err != nil {
			return nil, fmt.Errorf("README exit-code row %q: %v", line, err)
		}
		out[code] = normalizeSpace(cells[1])
	}
	return out, nil
}

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestCompletion drives cobra's hidden __complete command, as the shell
// scripts of "auditbot completion bash|zsh|fish" do.
func TestCompletion(t *testing.T) {
	l := newLab(t)
	complete := func(t *testing.T, args ...string) []string {
		t.Helper()
		r := l.run(append([]string{"__complete"}, args...)...)
		if r.code != ExitOK {
			t.Fatalf("__complete %v: exit %d\n%s", args, r.code, r.stderr)
		}
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if !strings.HasPrefix(line, ":") { // the last line is ":DIRECTIVE"
				out = append(out, line)
			}
		}
		return out
	}
	t.Run("campaign files before launch", func(t *testing.T) {
		if diff := cmp.Diff([]string{"mfa-ghost", "mfa-locked", "mfa-test"}, complete(t, "plan", "")); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if _, err := os.Stat(l.statePath); err == nil {
			t.Errorf("completion created the state file")
		}
	})
	t.Run("flag values", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want []string
		}{
			{[]string{"report", "mfa-test", "--format", ""}, []string{"csv", "json", "md"}},
			{[]string{"--log-level", ""}, []string{"trace", "debug", "info", "warn", "error"}},
			{[]string{"status", "--log-level", ""}, []string{"trace", "debug", "info", "warn", "error"}},
			{[]string{"tick", "--only", ""}, bot.ChoreNames()},
		} {
			if diff := cmp.Diff(tt.want, complete(t, tt.args...)); diff != "" {
				t.Errorf("%v (-want +got):\n%s", tt.args, diff)
			}
		}
	})
	t.Run("names a terminal or a shell would act on are not offered", func(t *testing.T) {
		for _, name := range []string{"evil\x1b]0;owned\a", "rtl\u202etxt", "two words", "semi;colon"} {
			l.write("campaigns/"+name+".yaml", "name: x\n")
		}
		defer func() {
			for _, name := range []string{"evil\x1b]0;owned\a", "rtl\u202etxt", "two words", "semi;colon"} {
				os.Remove(filepath.Join(l.campaigns, name+".yaml"))
			}
		}()
		if diff := cmp.Diff([]string{"mfa-ghost", "mfa-locked", "mfa-test"}, complete(t, "plan", "")); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("chores", func(t *testing.T) {
		got := complete(t, "tick", "--only", "replies,")
		if len(got) != len(bot.ChoreNames())-1 || slices.Contains(got, "replies,replies") || !slices.Contains(got, "replies,drift") {
			t.Errorf("tick --only replies,<TAB> = %q", got)
		}
	})
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if r := l.run("completion", shell); r.code != ExitOK || !strings.Contains(r.stdout, "__complete") {
			t.Errorf("completion %s: exit %d, script lacks __complete", shell, r.code)
		}
	}
	l.mustRun("launch", "mfa-test")
	l.mustRun("tick", "--allow-future", "--now", afterCutoff)
	// A campaign recorded in the state file whose file is gone is still
	// offered: status, journal and report work on it.
	if err := os.Rename(filepath.Join(l.campaigns, "mfa-locked.yaml"), filepath.Join(l.dir, "moved.yaml")); err != nil {
		t.Fatal(err)
	}
	t.Run("launched campaigns", func(t *testing.T) {
		if diff := cmp.Diff([]string{"mfa-ghost", "mfa-test"}, complete(t, "status", "")); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"mfa-test"}, complete(t, "tick", "--campaign", "")); diff != "" {
			t.Errorf("tick --campaign (-want +got):\n%s", diff)
		}
	})
	t.Run("removal batches", func(t *testing.T) {
		if diff := cmp.Diff([]string{"R1"}, complete(t, "approve", "mfa-test", "")); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if got := complete(t, "approve", "nope", ""); len(got) != 0 {
			t.Errorf("approve nope <TAB> = %q, want nothing", got)
		}
	})
}

// TestNotConduitURL: a conduit.url that is a web page, or python's
// http.server (HTTP 501 and a 13-line HTML page), says so at once, exit 2,
// on one line without the page, and touches nothing.
func TestNotConduitURL(t *testing.T) {
	const python501 = "<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <meta charset=\"utf-8\">\n        <title>Error response</title>\n    </head>\n" +
		"    <body>\n        <h1>Error response</h1>\n        <p>Error code: 501</p>\n        <p>Message: Unsupported method ('POST').</p>\n" +
		"        <p>Error code explanation: 501 - Server does not support this operation.</p>\n    </body>\n</html>\n"
	for _, tt := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"404", http.NotFound, "is not a Conduit API (got HTTP 404 text/plain from /api/conduit.getcapabilities); set conduit.url to the Phabricator base URL"},
		{"python http.server", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html;charset=utf-8")
			w.WriteHeader(http.StatusNotImplemented)
			io.WriteString(w, python501)
		}, "is not a Conduit API (got HTTP 501 text/html from /api/conduit.getcapabilities); set conduit.url to the Phabricator base URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			web := httptest.NewServer(tt.handler)
			defer web.Close()
			cfg, err := os.ReadFile(l.config)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(l.config, []byte(strings.Replace(string(cfg), l.srv.URL(), web.URL, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			r := l.run("plan", "mfa-test")
			r.expect(t, ExitUsage, nil, []string{web.URL + " " + tt.want})
			if strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stderr, "<") {
				t.Errorf("stderr is not one line without the page:\n%s", r.stderr)
			}
			assertNothingWritten(t, l)
		})
	}
}

// TestDidYouMean: an unknown chore or group names the closest known one.
func TestDidYouMean(t *testing.T) {
	l := newLab(t)
	l.write("campaigns/typo.yaml", `name: typo
criteria: [mfa]
groups: [WMF-NDA, acl*securty, acl*zzzzzzzz]
cutoff: 2027-02-28
approvers: acl*phabricator-admin
`)
	for _, tc := range []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"chore", []string{"tick", "--only", "replys"}, []string{`unknown chore "replys" (did you mean "replies"?); chores: rescan, tasks,`}},
		{"group", []string{"plan", "typo"}, []string{
			`acl*securty (did you mean "acl*security"?)`,
			`acl*phabricator-admin (did you mean "acl*phabricator-admins"?) (approvers)`,
			// Nothing close: no suggestion.
			`, acl*zzzzzzzz, `,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.run(tc.args...).expect(t, ExitUsage, nil, tc.stderr)
		})
	}
	assertNothingWritten(t, l)
}

// TestLinkBase: task links in the dashboard and the report never carry a
// user name or password written into the Phabricator URL.
func TestLinkBase(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://phab.example.org", "https://phab.example.org"},
		{"https://bot:SECRET@phab.example.org/", "https://phab.example.org/"},
		{"", ""},
	} {
		if got := linkBase(tt.in); got != tt.want {
			t.Errorf("linkBase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
