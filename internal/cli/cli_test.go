package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/internal/testkit/testworld"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
)

// lab is a small Phabricator with a config, a campaigns directory and a
// state file path, for driving Main as an operator would.
type lab struct {
	t         *testing.T
	world     *testworld.World
	srv       *phabtest.Server
	dir       string
	config    string
	statePath string
	campaigns string
	users     map[string]phabtest.User
	groups    map[string]phabtest.Project
	// phidNames maps user PHIDs back to usernames, for readable diffs.
	phidNames map[string]string
}

// The campaigns' deadline is written as fixtureCutoff and replaced, when
// the lab writes a file, by a date 90 days from today: launch runs on the
// wall clock and refuses a cutoff closer than the minimum notice, so a
// fixed date would make these tests fail once it came near.
const fixtureCutoff = "2027-02-28"

var (
	cutoffDate = time.Now().UTC().AddDate(0, 0, 90).Format(time.DateOnly)
	// afterCutoff is a --now past the campaigns' deadline (the end of
	// that day in UTC).
	afterCutoff = time.Now().UTC().AddDate(0, 0, 92).Format(time.DateOnly)
)

const (

	// The lab's campaign: every member of the three groups must have MFA.
	// batch_size 2 makes two tasks out of the three affected users.
	campaignYAML = `name: mfa-test
title: "MFA is required for private groups"
criteria: [mfa, disabled]
groups: [WMF-NDA, acl*security, acl*sre-team]
batch_size: 2
cutoff: 2027-02-28
reminders: []
team: Security-Team
approvers: acl*phabricator-admins
removal_limit: {max_share: 100%}
`
	// A campaign with a group whose membership the bot may not edit.
	lockedYAML = `name: mfa-locked
criteria: [mfa]
groups: [WMF-NDA, acl*locked]
cutoff: 2027-02-28
approvers: acl*phabricator-admins
`
	// A campaign naming a group that does not exist.
	ghostYAML = `name: mfa-ghost
criteria: [mfa]
groups: [WMF-NDA, acl*nonexistent]
cutoff: 2027-02-28
approvers: acl*phabricator-admins
`
)

// newLab seeds the server, writes the config and campaign files, and sets
// the bot's token in the environment.
//
// Users: auditbot (admin, bot); alice (admin) and bob, the approvers;
// carol, the team; mallory, an outsider; dave, erin and frank without MFA;
// grace with MFA; ci-bot, a bot without MFA (skipped).
func newLab(t *testing.T) *lab {
	t.Helper()
	w := testworld.New(t, testworld.Options{
		Server: phabtest.Options{Host: "phab.test.invalid"},
		Users: []phabtest.UserSpec{
			{Username: "alice", RealName: "Alice Admin", Admin: true, MFA: true},
			{Username: "bob", RealName: "Bob Approver", MFA: true},
			{Username: "carol", RealName: "Carol Security", MFA: true},
			{Username: "mallory", RealName: "Mallory Outsider", MFA: true},
			{Username: "dave", RealName: "Dave NoMFA"},
			{Username: "erin", RealName: "Erin NoMFA"},
			{Username: "frank", RealName: "Frank NoMFA"},
			{Username: "grace", RealName: "Grace MFA", MFA: true},
			{Username: "ci-bot", RealName: "CI Bot", Bot: true},
		},
		Approvers: []string{"alice", "bob"},
		Team:      []string{"carol", "alice"},
		Groups: []testworld.Group{
			{Name: "WMF-NDA", Members: []string{"dave", "erin", "grace", "ci-bot"}},
			{Name: "acl*security", Members: []string{"dave", "grace"}},
			{Name: "acl*sre-team", Members: []string{"frank", "grace"}, JoinPolicy: phabtest.PolicyAdmin},
			// Editable by the approvers only: the bot, though an admin, may not.
			{Name: "acl*locked", Members: []string{"erin"}, EditPolicy: testworld.PolicyApprovers},
		},
	})
	l := &lab{t: t, world: w, srv: w.Srv, dir: w.Dir, users: w.Users, groups: w.Groups, phidNames: w.Names}
	l.campaigns = filepath.Join(l.dir, "campaigns")
	l.statePath = filepath.Join(l.dir, "state.db")
	l.config = filepath.Join(l.dir, "config.yaml")
	l.write("campaigns/mfa-test.yaml", campaignYAML)
	l.write("campaigns/mfa-locked.yaml", lockedYAML)
	l.write("campaigns/mfa-ghost.yaml", ghostYAML)
	l.write("config.yaml", w.ConfigYAML(""))
	t.Setenv(campaigns.TokenEnv, l.users["auditbot"].Token)
	return l
}

// write creates a file under the lab's directory, with fixtureCutoff
// replaced by cutoffDate.
func (l *lab) write(name, content string) string {
	l.t.Helper()
	return l.world.Write(name, strings.ReplaceAll(content, fixtureCutoff, cutoffDate))
}

// result is one run of Main.
type result struct {
	args           []string
	code           int
	stdout, stderr string
}

// tokenFile writes username's Conduit token to a file only its owner can
// read, for `approve --token-file`, and returns its path.
func (l *lab) tokenFile(username string) string {
	l.t.Helper()
	u, ok := l.users[username]
	if !ok {
		l.t.Fatalf("no user %q", username)
	}
	path := filepath.Join(l.dir, username+".token")
	if err := os.WriteFile(path, []byte(u.Token+"\n"), 0o600); err != nil {
		l.t.Fatal(err)
	}
	return path
}

func (l *lab) run(args ...string) result {
	l.t.Helper()
	var stdout, stderr bytes.Buffer
	full := append([]string{"--config", l.config}, args...)
	code := Main(full, &stdout, &stderr)
	return result{args: args, code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mustRun runs Main and fails the test unless it exits 0.
func (l *lab) mustRun(args ...string) result {
	l.t.Helper()
	r := l.run(args...)
	if r.code != ExitOK {
		l.t.Fatalf("auditbot %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// expect checks the exit code and that each string appears in stdout or
// stderr as asked.
func (r result) expect(t *testing.T, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("auditbot %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("auditbot %s: stdout lacks %q:\n%s", strings.Join(r.args, " "), s, r.stdout)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("auditbot %s: stderr lacks %q:\n%s", strings.Join(r.args, " "), s, r.stderr)
		}
	}
}

// applied returns the writes that changed something on the server (a
// created object or applied transactions); the no-op membership probes of
// check are left out.
func (l *lab) applied() []phabtest.Write {
	var out []phabtest.Write
	for _, w := range l.srv.Writes() {
		if w.Created || len(w.TransactionPHIDs) > 0 {
			out = append(out, w)
		}
	}
	return out
}

// memberships returns each seeded project's members by username.
func (l *lab) memberships() map[string][]string {
	out := map[string][]string{}
	for name, p := range l.groups {
		var users []string
		for _, m := range l.srv.Members(p.PHID) {
			users = append(users, l.phidNames[m])
		}
		slices.Sort(users)
		out[name] = users
	}
	return out
}

func (l *lab) isMember(group, user string) bool {
	return slices.Contains(l.srv.Members(l.groups[group].PHID), l.users[user].PHID)
}

// stateFile returns the state file's bytes, or nil if it does not exist.
func (l *lab) stateFile() []byte {
	l.t.Helper()
	data, err := os.ReadFile(l.statePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		l.t.Fatal(err)
	}
	return data
}

// snapshot reads a campaign from the state file (which must not be locked).
func (l *lab) snapshot(campaign string) state.Snapshot {
	l.t.Helper()
	st, err := state.Open(l.statePath, state.Options{ReadOnly: true})
	if err != nil {
		l.t.Fatal(err)
	}
	defer st.Close()
	snap, err := st.Snapshot(campaign)
	if err != nil {
		l.t.Fatal(err)
	}
	return snap
}

// campaignNames lists the campaigns recorded in the state file; none if
// the file does not exist.
func (l *lab) campaignNames() []string {
	l.t.Helper()
	if l.stateFile() == nil {
		return nil
	}
	st, err := state.Open(l.statePath, state.Options{ReadOnly: true})
	if err != nil {
		l.t.Fatal(err)
	}
	defer st.Close()
	names, err := st.CampaignNames()
	if err != nil {
		l.t.Fatal(err)
	}
	return names
}

// recorded is everything the state file holds, for comparing before and
// after a command. (Comparing bytes would not do: opening a bbolt file for
// writing commits a transaction, which rewrites a meta page.)
type recorded struct {
	Snapshots map[string]state.Snapshot
	Journals  map[string][]state.Entry
}

func (l *lab) recorded() recorded {
	l.t.Helper()
	rec := recorded{Snapshots: map[string]state.Snapshot{}, Journals: map[string][]state.Entry{}}
	if l.stateFile() == nil {
		return rec
	}
	st, err := state.Open(l.statePath, state.Options{ReadOnly: true})
	if err != nil {
		l.t.Fatal(err)
	}
	defer st.Close()
	names, err := st.CampaignNames()
	if err != nil {
		l.t.Fatal(err)
	}
	for _, n := range names {
		if rec.Snapshots[n], err = st.Snapshot(n); err != nil {
			l.t.Fatal(err)
		}
		if rec.Journals[n], err = st.Journal(n); err != nil {
			l.t.Fatal(err)
		}
	}
	return rec
}

func (l *lab) journalKinds(campaign string) []string {
	l.t.Helper()
	st, err := state.Open(l.statePath, state.Options{ReadOnly: true})
	if err != nil {
		l.t.Fatal(err)
	}
	defer st.Close()
	j, err := st.Journal(campaign)
	if err != nil {
		l.t.Fatal(err)
	}
	var kinds []string
	for _, e := range j {
		kinds = append(kinds, string(e.Kind))
	}
	return kinds
}

func totalCalls(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string // written before the run
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{
			name:   "good config and campaigns",
			args:   []string{"validate"},
			stdout: []string{"campaign mfa-test: ok (3 group(s), cutoff " + cutoffDate + ")", "campaign mfa-locked: ok", "config.yaml: ok", "templates: ok"},
		},
		{
			name:   "one campaign file by path",
			args:   []string{"validate", "campaigns/mfa-test.yaml"},
			stdout: []string{"campaign mfa-test: ok"},
		},
		{
			name: "unknown key",
			files: map[string]string{"campaigns/mfa-bad.yaml": `name: mfa-bad
criteria: [mfa]
groups: [WMF-NDA]
colour: red
cutoff: 2027-02-28
approvers: acl*phabricator-admins
`},
			args:   []string{"validate"},
			code:   ExitUsage,
			stderr: []string{"mfa-bad.yaml:4:", "colour"},
		},
		{
			name: "bad date",
			files: map[string]string{"campaigns/mfa-bad.yaml": `name: mfa-bad
criteria: [mfa]
groups: [WMF-NDA]
approvers: acl*phabricator-admins
cutoff: 2027-02-30
`},
			args:   []string{"validate"},
			code:   ExitUsage,
			stderr: []string{"mfa-bad.yaml:5:", "cutoff"},
		},
		{
			name: "name does not match the file",
			files: map[string]string{"campaigns/mfa-copy.yaml": `name: mfa-test
criteria: [mfa]
groups: [WMF-NDA]
cutoff: 2027-02-28
approvers: acl*phabricator-admins
`},
			args:   []string{"validate"},
			code:   ExitUsage,
			stderr: []string{"mfa-copy.yaml:1:", "does not match the file name"},
		},
		{
			name:   "unknown key in the config",
			files:  map[string]string{"config.yaml": "conduit:\n  url: https://phab.example.org\nstate_fiel: x.db\n"},
			args:   []string{"validate"},
			code:   ExitUsage,
			stderr: []string{"config.yaml:3:", "state_fiel"},
		},
		{
			name:   "token in the config",
			files:  map[string]string{"config.yaml": "conduit:\n  url: https://phab.example.org\n  token: api-aaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"},
			args:   []string{"validate"},
			code:   ExitUsage,
			stderr: []string{"config.yaml:3:", "must not be written in the config file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			for name, content := range tt.files {
				l.write(name, content)
			}
			// Relative campaign paths are taken from the working directory.
			t.Chdir(l.dir)
			r := l.run(tt.args...)
			r.expect(t, tt.code, tt.stdout, tt.stderr)
			if calls := l.srv.Calls(); len(calls) != 0 {
				t.Errorf("validate made Conduit calls: %v", calls)
			}
			if l.stateFile() != nil {
				t.Error("validate created the state file")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
		// notStdout must not appear in stdout.
		notStdout []string
	}{
		{
			name:      "token only",
			args:      []string{"check"},
			stdout:    []string{"authenticated as @auditbot", "administrator"},
			notStdout: []string{"FAIL"},
		},
		{
			name:      "campaign",
			args:      []string{"check", "mfa-test"},
			stdout:    []string{"acl*phabricator-admins", "approvers visible", "Security-Team", "WMF-NDA", "acl*security", "acl*sre-team", "no-op removal accepted"},
			notStdout: []string{"FAIL"},
		},
		{
			name:   "membership edit denied",
			args:   []string{"check", "mfa-locked"},
			code:   ExitRefused,
			stdout: []string{"FAIL", "acl*locked", "may edit membership", "denied"},
			stderr: []string{"pre-flight check failed", "acl*locked: may edit membership"},
		},
		{
			name:   "unknown campaign",
			args:   []string{"check", "mfa-nope"},
			code:   ExitUsage,
			stderr: []string{`no campaign "mfa-nope"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			before := l.memberships()
			r := l.run(tt.args...)
			r.expect(t, tt.code, tt.stdout, tt.stderr)
			for _, s := range tt.notStdout {
				if strings.Contains(r.stdout, s) {
					t.Errorf("stdout has %q:\n%s", s, r.stdout)
				}
			}
			if w := l.applied(); len(w) != 0 {
				t.Errorf("check changed Phabricator: %+v", w)
			}
			if diff := cmp.Diff(before, l.memberships()); diff != "" {
				t.Errorf("check changed memberships (-before +after):\n%s", diff)
			}
			if l.stateFile() != nil {
				t.Error("check created the state file")
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	l := newLab(t)
	r := l.run("check", "--json", "mfa-locked")
	r.expect(t, ExitRefused, nil, nil)
	var report bot.CheckReport
	if err := unwrapJSON(t, r.stdout, "check", &report); err != nil {
		t.Fatalf("check --json: %v\n%s", err, r.stdout)
	}
	var failed []string
	for _, row := range report.Rows {
		if !row.OK {
			failed = append(failed, row.Subject+"/"+row.Check)
		}
	}
	if diff := cmp.Diff([]string{"acl*locked/may edit membership"}, failed); diff != "" {
		t.Errorf("failed rows (-want +got):\n%s", diff)
	}
}

func TestPlan(t *testing.T) {
	wantUsers := []string{"dave", "erin", "frank"}
	t.Run("summary", func(t *testing.T) {
		l := newLab(t)
		r := l.run("plan", "mfa-test")
		// Counts and spans, no task text: a summary stays short
		// whatever the size of the groups.
		r.expect(t, ExitOK, []string{"WMF-NDA", "3 affected user(s) in 2 task(s)", "batch 1: 2 user(s) (dave … erin)", "batch 2: 1 user(s) (frank)", "1: bot account", "Deadline: " + cutoffDate, "--full"}, nil)
		for _, s := range []string{"Subscribers:", "ci-bot", "How to reply"} {
			if strings.Contains(r.stdout, s) {
				t.Errorf("plan summary shows %q:\n%s", s, r.stdout)
			}
		}
		assertNothingWritten(t, l)
	})
	t.Run("full", func(t *testing.T) {
		l := newLab(t)
		r := l.run("plan", "mfa-test", "--full")
		r.expect(t, ExitOK, append(wantUsers, "--- task for batch 1", "Subscribers: @dave @erin", "How to reply", "ci-bot: bot account"), nil)
		if strings.Contains(r.stdout, "grace") {
			t.Errorf("plan lists @grace, who has MFA:\n%s", r.stdout)
		}
		assertNothingWritten(t, l)
	})
	t.Run("json", func(t *testing.T) {
		l := newLab(t)
		r := l.run("plan", "--json", "mfa-test")
		r.expect(t, ExitOK, nil, nil)
		var p bot.Plan
		if err := unwrapJSON(t, r.stdout, "plan", &p); err != nil {
			t.Fatalf("plan --json: %v\n%s", err, r.stdout)
		}
		var users []string
		for _, f := range p.Findings {
			users = append(users, f.Username)
		}
		if diff := cmp.Diff(wantUsers, users); diff != "" {
			t.Errorf("plan findings (-want +got):\n%s", diff)
		}
		var skipped []string
		for _, s := range p.Skipped {
			skipped = append(skipped, s.Username)
		}
		if diff := cmp.Diff([]string{"ci-bot"}, skipped); diff != "" {
			t.Errorf("plan skipped (-want +got):\n%s", diff)
		}
		if len(p.Tasks) != 2 {
			t.Errorf("plan has %d tasks, want 2 (batch_size 2, three users)", len(p.Tasks))
		}
		assertNothingWritten(t, l)
	})
}

// assertNothingWritten checks that Phabricator received no write call at
// all and that the state file was not created.
func assertNothingWritten(t *testing.T, l *lab) {
	t.Helper()
	if w := withoutProbes(l.srv.Writes()); len(w) != 0 {
		t.Errorf("Phabricator received %d write call(s): %+v", len(w), w)
	}
	if len(l.srv.Tasks()) != 0 {
		t.Errorf("Phabricator has %d task(s)", len(l.srv.Tasks()))
	}
	if l.stateFile() != nil {
		t.Error("the state file was created")
	}
}

func TestLaunch(t *testing.T) {
	l := newLab(t)
	before := l.memberships()
	r := l.run("launch", "mfa-test")
	r.expect(t, ExitOK, []string{"campaign mfa-test launched", "batch 1: T1 (2 users) filed", "batch 2: T2 (1 users) filed"}, nil)
	tasks := l.srv.Tasks()
	if len(tasks) != 2 {
		t.Fatalf("launch filed %d tasks, want 2", len(tasks))
	}
	for _, task := range tasks {
		if task.ViewPolicy == phabtest.PolicyUsers || task.ViewPolicy == phabtest.PolicyPublic {
			t.Errorf("T%d is visible to %s", task.ID, task.ViewPolicy)
		}
	}
	if diff := cmp.Diff([]string{"mfa-test"}, l.campaignNames()); diff != "" {
		t.Errorf("campaigns recorded (-want +got):\n%s", diff)
	}
	writes := len(l.applied())

	r = l.run("launch", "mfa-test")
	r.expect(t, ExitOK, []string{"already launched", "exists"}, nil)
	if strings.Contains(r.stdout, "filed") {
		t.Errorf("second launch filed a task:\n%s", r.stdout)
	}
	if n := len(l.srv.Tasks()); n != 2 {
		t.Errorf("after a second launch there are %d tasks, want 2", n)
	}
	if n := len(l.applied()); n != writes {
		t.Errorf("second launch made %d more write(s)", n-writes)
	}
	if diff := cmp.Diff(before, l.memberships()); diff != "" {
		t.Errorf("launch changed memberships (-before +after):\n%s", diff)
	}
}

func TestLaunchRefused(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{name: "unknown group", args: []string{"launch", "mfa-ghost"}, code: ExitUsage, stderr: []string{"nothing was written", "pre-flight check failed", "unknown group(s) acl*nonexistent"}},
		{name: "unknown group, plan", args: []string{"plan", "mfa-ghost"}, code: ExitUsage, stderr: []string{"unknown group(s) acl*nonexistent"}},
		{name: "unknown group, check", args: []string{"check", "mfa-ghost"}, code: ExitUsage, stdout: []string{"FAIL", "unknown group(s) acl*nonexistent"}, stderr: []string{"invalid input", "pre-flight check failed"}},
		{name: "membership edit denied", args: []string{"launch", "mfa-locked"}, code: ExitRefused, stderr: []string{"nothing was written", "acl*locked"}},
		{name: "unknown campaign", args: []string{"launch", "mfa-nope"}, code: ExitUsage, stderr: []string{`no campaign "mfa-nope"`, "available: mfa-ghost, mfa-locked, mfa-test"}},
		{name: "no campaign argument", args: []string{"launch"}, code: ExitUsage, stderr: []string{"want a campaign name or file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			before := l.memberships()
			r := l.run(tt.args...)
			r.expect(t, tt.code, tt.stdout, tt.stderr)
			if w := l.applied(); len(w) != 0 {
				t.Errorf("Phabricator changed: %+v", w)
			}
			if len(l.srv.Tasks()) != 0 {
				t.Errorf("%d task(s) filed", len(l.srv.Tasks()))
			}
			if diff := cmp.Diff(before, l.memberships()); diff != "" {
				t.Errorf("memberships changed (-before +after):\n%s", diff)
			}
			if names := l.campaignNames(); len(names) != 0 {
				t.Errorf("campaigns recorded: %v", names)
			}
			if l.stateFile() != nil {
				t.Error("a refused command left a state file behind")
			}
		})
	}
}

func TestAuth(t *testing.T) {
	const malformed = "not-a-token"
	tests := []struct {
		name string
		// token is the value of AUDITBOT_CONDUIT_TOKEN; "revoked" revokes
		// the bot's token after launching.
		token  string
		args   []string
		stderr []string
	}{
		{name: "missing, check", token: "", args: []string{"check"}, stderr: []string{"no Conduit API token"}},
		{name: "missing, plan", token: "", args: []string{"plan", "mfa-test"}, stderr: []string{"no Conduit API token"}},
		{name: "missing, launch", token: "", args: []string{"launch", "mfa-test"}, stderr: []string{"no Conduit API token"}},
		{name: "missing, tick", token: "", args: []string{"tick"}, stderr: []string{"no Conduit API token"}},
		{name: "malformed, plan", token: malformed, args: []string{"plan", "mfa-test"}, stderr: []string{"not 32 characters"}},
		{name: "revoked, check", token: "revoked", args: []string{"check", "mfa-test"}},
		{name: "revoked, plan", token: "revoked", args: []string{"plan", "mfa-test"}},
		{name: "revoked, launch", token: "revoked", args: []string{"launch", "mfa-test"}},
		{name: "revoked, tick", token: "revoked", args: []string{"tick", "--allow-future", "--now", afterCutoff}},
		{name: "revoked, approve", token: "revoked", args: []string{"approve", "mfa-test", "R1", "--token-file", "TOKENFILE:alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			secret := l.users["auditbot"].Token
			switch tt.token {
			case "revoked":
				l.mustRun("launch", "mfa-test")
				l.srv.RevokeToken(secret)
			default:
				secret = tt.token
				t.Setenv(campaigns.TokenEnv, tt.token)
			}
			var before recorded
			if tt.token == "revoked" {
				before = l.recorded()
			}
			writes := len(l.applied())
			l.srv.ResetCalls()

			// Debug logging, so a token in any log line would show.
			args := slices.Clone(tt.args)
			for i, a := range args {
				if user, ok := strings.CutPrefix(a, "TOKENFILE:"); ok {
					args[i] = l.tokenFile(user)
				}
			}
			r := l.run(append([]string{"--log-level", "debug"}, args...)...)
			r.expect(t, ExitAuth, nil, tt.stderr)
			if secret != "" && (strings.Contains(r.stdout, secret) || strings.Contains(r.stderr, secret)) {
				t.Errorf("the token appears in the output:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			}
			if n := len(l.applied()); n != writes {
				t.Errorf("%d write(s) with a bad token", n-writes)
			}
			if tt.token == "" && totalCalls(l.srv.Calls()) != 0 {
				t.Errorf("Conduit calls without a token: %v", l.srv.Calls())
			}
			if tt.token != "revoked" && l.stateFile() != nil {
				t.Error("the state file was created")
			}
			if tt.token == "revoked" {
				if diff := cmp.Diff(before, l.recorded()); diff != "" {
					t.Errorf("the state changed (-before +after):\n%s", diff)
				}
			}
		})
	}
}

func TestOffline(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	l.srv.ResetCalls()

	tests := []struct {
		name   string
		args   []string
		stdout []string
	}{
		{name: "status", args: []string{"status"}, stdout: []string{"Campaign mfa-test", "dave", "erin", "frank"}},
		{name: "status of one campaign", args: []string{"status", "mfa-test"}, stdout: []string{"Campaign mfa-test"}},
		{name: "journal", args: []string{"journal", "mfa-test"}, stdout: []string{"SEQ", "launch", "3 finding(s) in 2 batch(es)", "task-created"}},
	}
	check := func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := l.run(tt.args...)
				r.expect(t, ExitOK, tt.stdout, nil)
			})
		}
		t.Run("status --json", func(t *testing.T) {
			r := l.run("status", "--json")
			r.expect(t, ExitOK, nil, nil)
			var all []bot.Status
			if err := unwrapJSON(t, r.stdout, "status", &all); err != nil {
				t.Fatalf("status --json: %v\n%s", err, r.stdout)
			}
			if len(all) != 1 || all[0].Campaign != "mfa-test" || len(all[0].Users) != 3 || all[0].Counts["pending"] != 3 {
				t.Errorf("status --json = %+v", all)
			}
		})
	}
	t.Run("server up", func(t *testing.T) {
		check(t)
		if calls := l.srv.Calls(); len(calls) != 0 {
			t.Errorf("offline commands made Conduit calls: %v", calls)
		}
	})
	t.Run("server down", func(t *testing.T) {
		l.srv.Close()
		check(t)
	})
	t.Run("unknown campaign", func(t *testing.T) {
		l.run("status", "mfa-nope").expect(t, ExitUsage, nil, []string{"mfa-nope"})
		l.run("journal", "mfa-nope").expect(t, ExitUsage, nil, []string{"mfa-nope"})
	})
}

// TestRemoval walks a campaign past its cutoff: a removal is proposed,
// refused for a non-approver, approved by two approvers, carried out, and
// a removed user restored once compliant. Steps depend on the ones before.
func TestRemoval(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")

	type step struct {
		name   string
		before func()
		args   []string
		code   int
		stdout []string
		stderr []string
		after  func(t *testing.T, before state.Snapshot)
		// argf, when set, builds args when the step runs (for a digest
		// printed by an earlier step).
		argf func() []string
	}
	// digest is what the approver was shown, read from the first
	// `approve` without --confirm.
	var digest string
	unchanged := func(t *testing.T, before state.Snapshot) {
		t.Helper()
		if diff := cmp.Diff(before, l.snapshot("mfa-test")); diff != "" {
			t.Errorf("the campaign's state changed (-before +after):\n%s", diff)
		}
	}
	members := func(want bool, user string, groups ...string) func(t *testing.T, _ state.Snapshot) {
		return func(t *testing.T, _ state.Snapshot) {
			t.Helper()
			for _, g := range groups {
				if got := l.isMember(g, user); got != want {
					t.Errorf("@%s member of %s = %v, want %v", user, g, got, want)
				}
			}
		}
	}
	steps := []step{
		{
			name:   "tick after the cutoff proposes a removal",
			args:   []string{"tick", "--allow-future", "--now", afterCutoff},
			stdout: []string{"proposed removal batch R1: 4 membership(s), needs 2 approval(s)"},
			after: func(t *testing.T, _ state.Snapshot) {
				snap := l.snapshot("mfa-test")
				if len(snap.Removals) != 1 || snap.Removals[0].Status != state.RemovalProposed {
					t.Fatalf("removals = %+v, want R1 proposed", snap.Removals)
				}
				members(true, "dave", "WMF-NDA", "acl*security")(t, snap)
			},
		},
		{
			name:   "a non-approver may not approve",
			args:   []string{"approve", "mfa-test", "R1", "--token-file", l.tokenFile("mallory")},
			code:   ExitRefused,
			stderr: []string{"not an approver", "@mallory is not a member of acl*phabricator-admins"},
			// The refusal is journaled; the removal and findings are not
			// touched.
			after: unchanged,
		},
		{
			name:   "approval needs the approver's own token",
			args:   []string{"approve", "mfa-test", "R1", "--as", "alice"},
			code:   ExitUsage,
			stderr: []string{"--token-file FILE is required"},
			after:  unchanged,
		},
		{
			name:   "a token file that does not exist",
			args:   []string{"approve", "mfa-test", "R1", "--token-file", filepath.Join(l.dir, "no-such.token")},
			code:   ExitUsage,
			stderr: []string{"reading the approver's token"},
			after:  unchanged,
		},
		{
			// $USER and --as decide nothing: the token says who approves.
			name:   "--as must name the token's account",
			before: func() { t.Setenv("USER", "ops2") },
			args:   []string{"approve", "mfa-test", "R1", "--token-file", l.tokenFile("alice"), "--as", "bob"},
			code:   ExitRefused,
			stderr: []string{"the token belongs to @alice, not @bob"},
			after:  unchanged,
		},
		{
			name:   "the bot's own token approves nothing",
			args:   []string{"approve", "mfa-test", "R1", "--token-file", l.tokenFile("auditbot")},
			code:   ExitRefused,
			stderr: []string{"the bot's own token"},
			after:  unchanged,
		},
		{
			name:   "an unknown removal batch",
			args:   []string{"approve", "mfa-test", "R9", "--token-file", l.tokenFile("alice")},
			code:   ExitUsage,
			stderr: []string{"no removal batch R9"},
			after:  unchanged,
		},
		{
			name:   "the approver is shown every membership first",
			args:   []string{"approve", "mfa-test", "R1", "--token-file", l.tokenFile("alice")},
			stdout: []string{"R1 removes 4 membership(s)", "WMF-NDA @dave", "acl*security @dave", "Nothing recorded", "--confirm "},
			after: func(t *testing.T, before state.Snapshot) {
				unchanged(t, before)
			},
		},
		{
			name:   "a digest of something else",
			args:   []string{"approve", "mfa-test", "R1", "--token-file", l.tokenFile("alice"), "--confirm", "000000000000"},
			code:   ExitRefused,
			stderr: []string{"is not what --confirm 000000000000 was shown"},
			after:  unchanged,
		},
		{
			name: "first approver",
			argf: func() []string {
				return []string{"approve", "mfa-test", "R1", "--token-file", l.tokenFile("alice"), "--confirm", digest}
			},
			stdout: []string{"R1: approval 1 of 2 recorded for @alice (verified: user.whoami with @alice's own token"},
			after: func(t *testing.T, _ state.Snapshot) {
				a := l.snapshot("mfa-test").Removals[0].Approvals
				if len(a) != 1 || a[0].Username != "alice" || !strings.HasPrefix(a[0].Verified, "cli: user.whoami with the approver's own token") {
					t.Errorf("approvals = %+v, want alice's, verified by her token", a)
				}
			},
		},
		{
			name:   "the same approver twice, whoever the OS user",
			before: func() { t.Setenv("USER", "ops-two") },
			argf: func() []string {
				return []string{"approve", "mfa-test", "R1", "--token-file", l.tokenFile("alice"), "--confirm", digest}
			},
			code:   ExitRefused,
			stderr: []string{"already approved"},
			after:  unchanged,
		},
		{
			name: "second approver",
			argf: func() []string {
				return []string{"approve", "mfa-test", "R1", "--token-file", l.tokenFile("bob"), "--confirm", digest}
			},
			stdout: []string{"R1: approval 2 of 2 recorded for @bob", "approved"},
			after:  members(true, "dave", "WMF-NDA", "acl*security"),
		},
		{
			name: "tick removes",
			args: []string{"tick", "--allow-future", "--now", afterCutoff},
			after: func(t *testing.T, _ state.Snapshot) {
				members(false, "dave", "WMF-NDA", "acl*security")(t, state.Snapshot{})
				members(false, "erin", "WMF-NDA")(t, state.Snapshot{})
				members(false, "frank", "acl*sre-team")(t, state.Snapshot{})
				members(true, "grace", "WMF-NDA", "acl*security", "acl*sre-team")(t, state.Snapshot{})
				members(true, "erin", "acl*locked")(t, state.Snapshot{})
				snap := l.snapshot("mfa-test")
				if snap.Removals[0].Status != state.RemovalDone {
					t.Errorf("R1 is %s, want done", snap.Removals[0].Status)
				}
			},
		},
		{
			name:   "restore of a user still without MFA",
			args:   []string{"restore", "mfa-test", "dave"},
			code:   ExitRefused,
			stderr: []string{"still shows @dave as non-compliant"},
			after: func(t *testing.T, before state.Snapshot) {
				unchanged(t, before)
				members(false, "dave", "WMF-NDA", "acl*security")(t, before)
			},
		},
		{
			name:   "restore once compliant",
			before: func() { l.srv.SetMFA(l.users["dave"].PHID, true) },
			args:   []string{"restore", "mfa-test", "dave"},
			stdout: []string{"restored @dave"},
			after: func(t *testing.T, _ state.Snapshot) {
				members(true, "dave", "WMF-NDA", "acl*security")(t, state.Snapshot{})
				members(false, "erin", "WMF-NDA")(t, state.Snapshot{})
				for _, f := range l.snapshot("mfa-test").Findings {
					if f.Username == "dave" && f.Status != state.StatusRestored {
						t.Errorf("@dave is %s, want restored", f.Status)
					}
				}
			},
		},
		{
			name:   "restore twice",
			args:   []string{"restore", "mfa-test", "dave"},
			code:   ExitRefused,
			stderr: []string{"was not removed"},
			after:  unchanged,
		},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			if s.before != nil {
				s.before()
			}
			before := l.snapshot("mfa-test")
			args := s.args
			if s.argf != nil {
				args = s.argf()
			}
			r := l.run(args...)
			r.expect(t, s.code, s.stdout, s.stderr)
			if _, d, ok := strings.Cut(r.stdout, "--confirm "); ok && digest == "" {
				digest = strings.TrimSpace(d)
			}
			if s.after != nil {
				s.after(t, before)
			}
		})
		if !ok {
			t.Fatalf("step %q failed; the later steps depend on it", s.name)
		}
	}
	kinds := l.journalKinds("mfa-test")
	for _, want := range []string{"launch", "removal-proposed", "approval-refused", "removal-approval", "member-restored", "restored"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("journal lacks %q: %v", want, kinds)
		}
	}
}

func TestDryRun(t *testing.T) {
	t.Run("launch before any state", func(t *testing.T) {
		l := newLab(t)
		r := l.run("--log-level", "info", "launch", "--dry-run", "mfa-test")
		r.expect(t, ExitOK, []string{"campaign mfa-test launched", "batch 1", "batch 2"}, []string{"dry-run: would create task"})
		assertNothingWritten(t, l)
	})
	t.Run("tick and launch after a launch", func(t *testing.T) {
		l := newLab(t)
		l.mustRun("launch", "mfa-test")
		before := l.stateFile()
		writes := len(withoutProbes(l.srv.Writes()))

		r := l.run("tick", "--dry-run", "--now", afterCutoff)
		r.expect(t, ExitOK, []string{"proposed removal batch R1"}, nil)
		r = l.run("launch", "--dry-run", "mfa-test")
		r.expect(t, ExitOK, []string{"already launched"}, nil)

		if n := len(withoutProbes(l.srv.Writes())); n != writes {
			t.Errorf("dry-run sent %d write call(s)", n-writes)
		}
		if !bytes.Equal(before, l.stateFile()) {
			t.Error("dry-run changed the state file")
		}
		if snap := l.snapshot("mfa-test"); len(snap.Removals) != 0 {
			t.Errorf("dry-run recorded removals: %+v", snap.Removals)
		}
	})
}

// TestBesideAWriter: while another process holds the writer lock (the
// daemon in a tick), reads work at once and a write waits, saying for
// whom, and gives up after --wait having changed nothing. Before, every
// command failed with "locked" while the daemon ran.
func TestBesideAWriter(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	before := l.recorded()
	unlock, err := state.LockWriter(context.Background(), l.statePath, "pid 1 (auditbot run, tick)", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	writes := len(l.applied())

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{name: "tick waits, then gives up", args: []string{"--wait", "200ms", "tick", "--allow-future", "--now", afterCutoff}, code: ExitState,
			stderr: []string{"waiting for pid 1 (auditbot run, tick) to finish its writes", "gave up waiting", "nothing was done"}},
		{name: "status", args: []string{"status"}, code: ExitOK},
		{name: "journal", args: []string{"journal", "mfa-test"}, code: ExitOK},
		{name: "plan", args: []string{"plan", "mfa-test"}, code: ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := l.run(tt.args...)
			r.expect(t, tt.code, nil, tt.stderr)
		})
	}
	if n := len(l.applied()); n != writes {
		t.Errorf("%d write(s) while another process held the writer lock", n-writes)
	}
	if diff := cmp.Diff(before, l.recorded()); diff != "" {
		t.Errorf("the state changed (-before +after):\n%s", diff)
	}
}

// TestWriterLockNamesTheCommand: the writer lock's holder text, which a
// command waiting beside it prints, names the running command. Before,
// the root had both PersistentPreRun and PersistentPreRunE, cobra ran only
// the latter, and every holder read "auditbot , since ...".
func TestWriterLockNamesTheCommand(t *testing.T) {
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, wait: time.Second}
	root := a.rootCommand()
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	statePath := filepath.Join(t.TempDir(), "state.db")
	unlock, err := a.lockWriter(context.Background(), statePath, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	holder, err := os.ReadFile(state.WriterLockPath(statePath))
	if err != nil {
		t.Fatal(err)
	}
	if want := "(auditbot version, since "; !strings.Contains(string(holder), want) {
		t.Errorf("writer lock holder %q, want it to contain %q", holder, want)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{name: "unknown chore", args: []string{"tick", "--only", "bogus"}, stderr: []string{`unknown chore "bogus"`}},
		{name: "bad --now", args: []string{"tick", "--now", "tomorrow"}, stderr: []string{`"tomorrow" is not a date`}},
		{name: "approve without --token-file", args: []string{"approve", "mfa-test", "R1"}, stderr: []string{"--token-file FILE is required"}},
		{name: "unknown flag", args: []string{"tick", "--bogus"}, stderr: []string{"unknown flag"}},
		{name: "unknown command", args: []string{"frobnicate"}, stderr: []string{"unknown command"}},
		{name: "too many arguments", args: []string{"status", "mfa-test", "extra"}, stderr: []string{"accepts at most 1 arg"}},
		{name: "argument to tick", args: []string{"tick", "mfa-test"}, stderr: []string{"unknown command"}},
		{name: "missing config file", args: []string{"--config", "/nonexistent/auditbot.yaml", "status"}, stderr: []string{"no such file", "--config"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			r := l.run(tt.args...)
			r.expect(t, ExitUsage, nil, tt.stderr)
			if w := l.srv.Writes(); len(w) != 0 {
				t.Errorf("writes: %+v", w)
			}
			if l.stateFile() != nil {
				t.Error("the state file was created")
			}
		})
	}
}

// withoutProbes drops the pre-flight membership probes: each removes
// bot.ProbePHID, which exists nowhere, applies nothing, and is sent even
// in dry-run so that a dry-run launch fails where the real one would.
func withoutProbes(ws []phabtest.Write) []phabtest.Write {
	var out []phabtest.Write
	for _, w := range ws {
		probe := w.Method == "project.edit" && len(w.TransactionPHIDs) == 0 && len(w.Transactions) == 1 &&
			w.Transactions[0].Type == "members.remove" && slices.Equal(w.Transactions[0].Value.([]string), []string{bot.ProbePHID})
		if !probe {
			out = append(out, w)
		}
	}
	return out
}

// TestTickPartialFailure: one campaign's tick fails (its file is gone),
// the other still runs, and the exit code says so: 6.
func TestTickPartialFailure(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	second := l.write("campaigns/mfa-second.yaml", strings.Replace(campaignYAML, "name: mfa-test", "name: mfa-second", 1))
	l.mustRun("launch", "mfa-second")
	if err := os.Remove(second); err != nil {
		t.Fatal(err)
	}
	r := l.run("tick", "--allow-future", "--now", afterCutoff)
	r.expect(t, ExitTickError, []string{"mfa-test:", "proposed removal batch R1", "mfa-second:", "ERROR"}, []string{"tick finished with errors", "mfa-second"})
	if snap := l.snapshot("mfa-test"); len(snap.Removals) != 1 {
		t.Errorf("mfa-test removals = %d, want R1 proposed despite the other campaign's failure", len(snap.Removals))
	}
}

// TestOneWhoamiPerCommand: the token is checked once at start, and the bot
// reuses that answer instead of asking again.
func TestOneWhoamiPerCommand(t *testing.T) {
	l := newLab(t)
	l.srv.ResetCalls()
	l.mustRun("launch", "mfa-test")
	if got := l.srv.Calls()["user.whoami"]; got != 1 {
		t.Errorf("user.whoami calls = %d, want 1", got)
	}
}

// TestBadCampaignBeforeNetwork: an unknown or malformed campaign fails
// before any Conduit call.
func TestBadCampaignBeforeNetwork(t *testing.T) {
	l := newLab(t)
	l.write("campaigns/broken.yaml", "name: broken\ncutof: 2027-01-01\n")
	for _, args := range [][]string{{"launch", "mfa-nope"}, {"plan", "broken"}, {"check", "broken"}} {
		l.srv.ResetCalls()
		r := l.run(args...)
		r.expect(t, ExitUsage, nil, nil)
		if n := totalCalls(l.srv.Calls()); n != 0 {
			t.Errorf("auditbot %s made %d Conduit call(s) before failing", strings.Join(args, " "), n)
		}
	}
}

// unwrapJSON decodes a --json output: the envelope, of kind, and its data
// into v.
func unwrapJSON(t *testing.T, out, kind string, v any) error {
	t.Helper()
	var env struct {
		Schema string          `json:"schema"`
		Kind   string          `json:"kind"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &env); err != nil {
		return err
	}
	if env.Schema != JSONSchema || env.Kind != kind {
		return fmt.Errorf("envelope schema %q kind %q, want %q %q", env.Schema, env.Kind, JSONSchema, kind)
	}
	return json.Unmarshal(env.Data, v)
}
