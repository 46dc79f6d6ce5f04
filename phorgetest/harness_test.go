//go:build phorge

// Package phorgetest runs the real auditbot binary against a real Phorge
// (the lab in ../shared/lab, or a staging install named by the environment)
// and checks every outcome with its own Conduit calls, never through the bot.
//
// Run it with `make test-phorge`. Without a Phorge configured every test
// skips with one line saying why. It refuses a PHAB_URL that is not
// loopback unless PHORGE_ALLOW_REMOTE=1: the scenarios create tasks, remove
// group members and reset the lab.
package phorgetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/internal/testkit"
)

// bin is the auditbot binary built once for the whole run.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "phorgetest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "auditbot")
	build := exec.Command("go", "build", "-o", bin, "github.com/auditbot/auditbot/cmd/auditbot")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building auditbot:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// labSettings are the lab's settings: lab.env, overridden by the environment.
type labSettings testkit.LabEnv

// labEnv returns the Phorge to test against, or skips the test with one
// line saying why there is none (fails under CI=true): testkit.Lab, with
// the tokens and lab commands the scenarios use.
func labEnv(t *testing.T) labSettings {
	t.Helper()
	return labSettings(testkit.Lab(t, "AUDITBOT_TOKEN", "ADMIN_TOKEN", "USER_TOKEN", "TOKEN_USER02", "TOKEN_USER03",
		"TOKEN_USER25", "LAB_RESET", "LAB_ENROLL_MFA", "LAB_EDIT_COMMENT"))
}

// labCommand runs one of the lab's command lines (LAB_RESET, ...) with args
// appended, each shell-quoted.
func (e labSettings) labCommand(t *testing.T, name string, args ...string) {
	t.Helper()
	line := e[name]
	for _, a := range args {
		line += " '" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	out, err := exec.Command("sh", "-c", line).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// reset brings the lab back to its seeded snapshot (~10 s).
func (e labSettings) reset(t *testing.T) {
	t.Helper()
	start := time.Now()
	e.labCommand(t, "LAB_RESET")
	t.Logf("lab reset in %s", time.Since(start).Round(100*time.Millisecond))
}

// conduitError is a Conduit error answer.
type conduitError struct{ code, info string }

func (e *conduitError) Error() string { return e.code + ": " + e.info }

// call sends one Conduit call as the holder of tokenVar (a lab.env name)
// and decodes the result into out.
func (e labSettings) call(ctx context.Context, tokenVar, method string, params map[string]any, out any) error {
	p := map[string]any{}
	for k, v := range params {
		p[k] = v
	}
	p["__conduit__"] = map[string]any{"token": e[tokenVar]}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	form := url.Values{"params": {string(b)}, "output": {"json"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(e["PHAB_URL"], "/")+"/api/"+method, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: reading: %w", method, err)
	}
	var env struct {
		Result    json.RawMessage `json:"result"`
		ErrorCode *string         `json:"error_code"`
		ErrorInfo *string         `json:"error_info"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: HTTP %d, not JSON: %.200s", method, resp.StatusCode, body)
	}
	if env.ErrorCode != nil {
		info := ""
		if env.ErrorInfo != nil {
			info = *env.ErrorInfo
		}
		return &conduitError{*env.ErrorCode, info}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		return fmt.Errorf("%s: decoding %.200s: %w", method, env.Result, err)
	}
	return nil
}

// must is call that fails the test on error.
func (e labSettings) must(t *testing.T, tokenVar, method string, params map[string]any, out any) {
	t.Helper()
	if err := e.call(context.Background(), tokenVar, method, params, out); err != nil {
		t.Fatalf("%s as %s: %v", method, tokenVar, err)
	}
}

// searchAll pages a *.search method and returns every row.
func (e labSettings) searchAll(t *testing.T, tokenVar, method string, params map[string]any) []json.RawMessage {
	t.Helper()
	var rows []json.RawMessage
	after := ""
	for {
		p := map[string]any{"limit": 100}
		for k, v := range params {
			p[k] = v
		}
		if after != "" {
			p["after"] = after
		}
		var page struct {
			Data   []json.RawMessage `json:"data"`
			Cursor struct {
				After *string `json:"after"`
			} `json:"cursor"`
		}
		e.must(t, tokenVar, method, p, &page)
		rows = append(rows, page.Data...)
		if page.Cursor.After == nil || *page.Cursor.After == "" {
			return rows
		}
		after = *page.Cursor.After
	}
}

// labUser is what the tests need of a user.
type labUser struct {
	PHID     string
	Username string
	Roles    []string
}

func (u labUser) has(role string) bool {
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// users returns the users matching constraints, by PHID.
func (e labSettings) users(t *testing.T, constraints map[string]any) map[string]labUser {
	t.Helper()
	out := map[string]labUser{}
	for _, raw := range e.searchAll(t, "AUDITBOT_TOKEN", "user.search", map[string]any{"constraints": constraints}) {
		var row struct {
			PHID   string `json:"phid"`
			Fields struct {
				Username string   `json:"username"`
				Roles    []string `json:"roles"`
			} `json:"fields"`
		}
		if err := json.Unmarshal(raw, &row); err != nil {
			t.Fatal(err)
		}
		out[row.PHID] = labUser{row.PHID, row.Fields.Username, row.Fields.Roles}
	}
	return out
}

// labProject is a project with its members.
type labProject struct {
	PHID    string
	Name    string
	Members []string // PHIDs
}

// project looks a project up by slug, as ADMIN (who sees every group).
func (e labSettings) project(t *testing.T, slug string) labProject {
	t.Helper()
	rows := e.searchAll(t, "ADMIN_TOKEN", "project.search", map[string]any{
		"constraints": map[string]any{"slugs": []string{slug}},
		"attachments": map[string]any{"members": true},
	})
	if len(rows) != 1 {
		t.Fatalf("project %s: %d rows", slug, len(rows))
	}
	var row struct {
		PHID   string `json:"phid"`
		Fields struct {
			Name string `json:"name"`
		} `json:"fields"`
		Attachments struct {
			Members struct {
				Members []struct {
					PHID string `json:"phid"`
				} `json:"members"`
			} `json:"members"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(rows[0], &row); err != nil {
		t.Fatal(err)
	}
	p := labProject{PHID: row.PHID, Name: row.Fields.Name}
	for _, m := range row.Attachments.Members.Members {
		p.Members = append(p.Members, m.PHID)
	}
	return p
}

// memberNames returns the usernames of a project's members, sorted.
func (e labSettings) memberNames(t *testing.T, slug string) []string {
	t.Helper()
	p := e.project(t, slug)
	us := e.users(t, map[string]any{"phids": p.Members})
	var names []string
	for _, u := range us {
		names = append(names, u.Username)
	}
	sort.Strings(names)
	return names
}

// expectedMFA computes, from Conduit alone, who an MFA campaign over slugs
// must flag: members without MFA that are neither disabled, bots nor
// mailing lists, minus exclude.
func (e labSettings) expectedMFA(t *testing.T, exclude []string, slugs ...string) []string {
	t.Helper()
	members := map[string]bool{}
	for _, s := range slugs {
		for _, m := range e.project(t, s).Members {
			if strings.HasPrefix(m, "PHID-USER-") {
				members[m] = true
			}
		}
	}
	var phids []string
	for p := range members {
		phids = append(phids, p)
	}
	all := e.users(t, map[string]any{"phids": phids})
	withMFA := e.users(t, map[string]any{"phids": phids, "mfa": true})
	skip := map[string]bool{}
	for _, u := range exclude {
		skip[u] = true
	}
	var out []string
	for p, u := range all {
		if _, ok := withMFA[p]; ok || u.has("disabled") || u.has("bot") || u.has("list") || skip[u.Username] {
			continue
		}
		out = append(out, u.Username)
	}
	sort.Strings(out)
	return out
}

// labTask is what the tests read of a task.
type labTask struct {
	ID          int
	PHID        string
	Description string
	ViewPolicy  string
	EditPolicy  string
	Subscribers []string // PHIDs
}

// tasksBy returns the tasks authored by the bot that tokenVar can see,
// newest first.
func (e labSettings) botTasks(t *testing.T, tokenVar string) []labTask {
	t.Helper()
	var who struct {
		PHID string `json:"phid"`
	}
	e.must(t, "AUDITBOT_TOKEN", "user.whoami", nil, &who)
	return e.tasks(t, tokenVar, map[string]any{"authorPHIDs": []string{who.PHID}})
}

func (e labSettings) tasks(t *testing.T, tokenVar string, constraints map[string]any) []labTask {
	t.Helper()
	var out []labTask
	for _, raw := range e.searchAll(t, tokenVar, "maniphest.search", map[string]any{
		"constraints": constraints,
		"attachments": map[string]any{"subscribers": true},
	}) {
		var row struct {
			ID     int    `json:"id"`
			PHID   string `json:"phid"`
			Fields struct {
				Description struct {
					Raw string `json:"raw"`
				} `json:"description"`
				Policy struct {
					View string `json:"view"`
					Edit string `json:"edit"`
				} `json:"policy"`
			} `json:"fields"`
			Attachments struct {
				Subscribers struct {
					SubscriberPHIDs []string `json:"subscriberPHIDs"`
				} `json:"subscribers"`
			} `json:"attachments"`
		}
		if err := json.Unmarshal(raw, &row); err != nil {
			t.Fatal(err)
		}
		out = append(out, labTask{row.ID, row.PHID, row.Fields.Description.Raw, row.Fields.Policy.View, row.Fields.Policy.Edit, row.Attachments.Subscribers.SubscriberPHIDs})
	}
	return out
}

// comment is one comment on a task, in its CURRENT text (an edited comment
// lists every version, newest first: NOTES fact 45).
type comment struct {
	AuthorPHID string
	Text       string
}

// comments returns the comments on task, oldest first, as ADMIN.
func (e labSettings) comments(t *testing.T, tokenVar, task string) []comment {
	t.Helper()
	var out []comment
	for _, raw := range e.searchAll(t, tokenVar, "transaction.search", map[string]any{"objectIdentifier": task}) {
		var row struct {
			Type       *string `json:"type"`
			AuthorPHID string  `json:"authorPHID"`
			Comments   []struct {
				Content struct {
					Raw string `json:"raw"`
				} `json:"content"`
			} `json:"comments"`
		}
		if err := json.Unmarshal(raw, &row); err != nil {
			t.Fatal(err)
		}
		if row.Type == nil || *row.Type != "comment" || len(row.Comments) == 0 {
			continue
		}
		out = append([]comment{{row.AuthorPHID, row.Comments[0].Content.Raw}}, out...)
	}
	return out
}

// countMarked counts comments on task carrying a marker line that starts
// of CAMPAIGN whose key starts with keyPrefix (bot.MarkerKey).
func (e labSettings) countMarked(t *testing.T, task, campaign, keyPrefix string) int {
	t.Helper()
	n := 0
	for _, c := range e.comments(t, "AUDITBOT_TOKEN", task) {
		for _, line := range strings.Split(c.Text, "\n") {
			if key, ok := bot.MarkerKey(line, campaign); ok && strings.HasPrefix(key, keyPrefix) {
				n++
			}
		}
	}
	return n
}

// commentAs writes a comment on task as the holder of tokenVar.
func (e labSettings) commentAs(t *testing.T, tokenVar, task, text string) {
	t.Helper()
	e.must(t, tokenVar, "maniphest.edit", map[string]any{
		"objectIdentifier": task,
		"transactions":     []map[string]any{{"type": "comment", "value": text}},
	}, nil)
}

// userPHID returns a username's PHID.
func (e labSettings) userPHID(t *testing.T, username string) string {
	t.Helper()
	for p := range e.users(t, map[string]any{"usernames": []string{username}}) {
		return p
	}
	t.Fatalf("no user %s", username)
	return ""
}

// botDir is one bot installation: a config, a campaigns dir, a state file.
type botDir struct {
	t   *testing.T
	env labSettings
	dir string
	url string // conduit.url, the lab or a proxy in front of it
}

// newBot writes a config for the lab into a fresh directory. groupsYAML
// sets the risk of each group (lines under "groups:").
func newBot(t *testing.T, env labSettings, groupsYAML string) *botDir {
	t.Helper()
	b := &botDir{t: t, env: env, dir: t.TempDir(), url: env["PHAB_URL"]}
	if err := os.Mkdir(filepath.Join(b.dir, "campaigns"), 0o755); err != nil {
		t.Fatal(err)
	}
	b.writeConfig(groupsYAML)
	return b
}

func (b *botDir) writeConfig(groupsYAML string) {
	cfg := fmt.Sprintf(`conduit:
  url: %s
  timeout: 60s
  requests_per_second: 50
state_file: state.db
log:
  level: info
  format: json
campaigns_dir: campaigns
groups:
%s
default_risk: security
`, b.url, groupsYAML)
	if err := os.WriteFile(filepath.Join(b.dir, "config.yaml"), []byte(cfg), 0o600); err != nil {
		b.t.Fatal(err)
	}
}

// campaign writes campaigns/NAME.yaml.
func (b *botDir) campaign(name, body string) {
	b.t.Helper()
	if err := os.WriteFile(filepath.Join(b.dir, "campaigns", name+".yaml"), []byte("name: "+name+"\n"+body), 0o600); err != nil {
		b.t.Fatal(err)
	}
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// run runs auditbot with args and returns its exit code and output.
func (b *botDir) run(args ...string) result {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = b.dir
	cmd.Env = append(os.Environ(),
		"AUDITBOT_CONFIG="+filepath.Join(b.dir, "config.yaml"),
		"AUDITBOT_CONDUIT_TOKEN="+b.env["AUDITBOT_TOKEN"])
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		b.t.Fatalf("auditbot %v: %v", args, err)
	}
	if strings.Contains(r.stdout+r.stderr, b.env["AUDITBOT_TOKEN"]) {
		b.t.Errorf("auditbot %v: the API token appears in its output", args)
	}
	return r
}

// ok runs auditbot and fails the test unless it exits 0.
func (b *botDir) ok(args ...string) string {
	b.t.Helper()
	r := b.run(args...)
	if r.code != 0 {
		b.t.Fatalf("auditbot %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// okJSON runs auditbot with --json and decodes stdout.
func (b *botDir) okJSON(v any, args ...string) {
	b.t.Helper()
	out := b.ok(append(args, "--json")...)
	if err := unwrapJSON(out, v); err != nil {
		b.t.Fatalf("auditbot %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// unwrapJSON decodes the data of a --json output's envelope
// ({"schema":"auditbot/v1","kind":…,"data":…}) into v.
func unwrapJSON(out string, v any) error {
	var env struct {
		Schema string          `json:"schema"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &env); err != nil {
		return err
	}
	if env.Schema != "auditbot/v1" {
		return fmt.Errorf("schema %q, want auditbot/v1", env.Schema)
	}
	return json.Unmarshal(env.Data, v)
}

// approveCLI is the one place that spells the command-line approval: the
// approver's own token in a file (`--token-file`, checked by the bot with
// user.whoami), a first run that shows the memberships and their digest,
// and a second run that confirms exactly that digest. tokenVar names the
// approver's lab token; username is that approver (passed as --as, which
// must match the token's account). It returns the first run's result when
// that one fails, else the confirming run's.
func (b *botDir) approveCLI(campaign, batch, tokenVar, username string) result {
	b.t.Helper()
	tokenFile := filepath.Join(b.t.TempDir(), "approver.token")
	if err := os.WriteFile(tokenFile, []byte(b.env[tokenVar]+"\n"), 0o600); err != nil {
		b.t.Fatal(err)
	}
	args := []string{"approve", campaign, batch, "--token-file", tokenFile, "--as", username}
	shown := b.run(args...)
	if shown.code != 0 {
		return shown
	}
	_, digest, ok := strings.Cut(shown.stdout, "--confirm ")
	if !ok {
		b.t.Fatalf("approve without --confirm printed no digest:\n%s", shown.stdout)
	}
	digest, _, _ = strings.Cut(strings.TrimSpace(digest), "\n")
	return b.run(append(args, "--confirm", strings.TrimSpace(digest))...)
}

// status reads `status CAMPAIGN --json`, by username.
func (b *botDir) status(campaign string) (map[string]statusUser, statusReport) {
	b.t.Helper()
	var all []statusReport
	b.okJSON(&all, "status", campaign)
	if len(all) != 1 {
		b.t.Fatalf("status %s: %d reports", campaign, len(all))
	}
	s := all[0]
	out := map[string]statusUser{}
	for _, u := range s.Users {
		out[u.Username] = u
	}
	return out, s
}

type statusUser struct {
	Username     string   `json:"username"`
	Status       string   `json:"status"`
	Task         string   `json:"task"`
	Groups       []string `json:"groups"`
	Unsubscribed bool     `json:"unsubscribed"`
	Note         string   `json:"note"`
}

type statusReport struct {
	Tasks []struct {
		Batch int    `json:"batch"`
		Task  string `json:"task"`
		Users int    `json:"users"`
	} `json:"tasks"`
	Users     []statusUser      `json:"users"`
	Removals  []json.RawMessage `json:"removals"`
	Attention []string          `json:"attention"`
}
