package crashtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/internal/testkit"
	"github.com/auditbot/auditbot/internal/testkit/testworld"
	"github.com/auditbot/auditbot/phabtest"
)

// The audited groups, riskiest first, and the other projects.
const (
	groupNDA       = testworld.GroupNDA
	groupSecurity  = testworld.GroupSecurity
	groupSRE       = testworld.GroupSRE
	groupApprovers = testworld.GroupApprovers
	groupTeam      = testworld.GroupTeam
)

// allGroups are the projects every world has that a campaign may audit.
var allGroups = []string{groupNDA, groupSecurity, groupSRE}

// removalLimitYAML lifts the guard-rail: the groups here have 3-6
// members, and the default (25 per cent) would hold every removal batch.
const removalLimitYAML = "removal_limit: {max_share: 100%}\n"

// world is one in-process Phabricator, a config directory, and the binary
// run against them, with at most one kill point armed.
type world struct {
	t      *testing.T
	tw     *testworld.World
	sc     *scenario
	bin    string
	srv    *phabtest.Server
	clock  *testkit.Clock // the step's simulated time, or the wall clock while none is set (launch has no --now)
	dir    string
	config string
	year   int
	users  map[string]phabtest.User
	groups map[string]phabtest.Project
	names  map[string]string // user and project PHIDs to names

	mu     sync.Mutex
	kill   killPoint // zero: no kill armed
	fired  bool      // the armed kill happened
	proc   *os.Process
	exited chan struct{} // closed when proc has exited
	// writes counts the binary's write requests; people's own Conduit
	// writes (acting) are not kill points.
	writes int
	acting bool
}

// killPoint is "kill the binary at write N, before or after it runs".
type killPoint struct {
	N     int
	Phase phabtest.WritePhase
}

func (k killPoint) String() string { return fmt.Sprintf("%s-write-%03d", k.Phase, k.N) }

// newWorld seeds a fresh Phabricator and writes the config and campaign.
// year is the campaign's year: the CLI's launch reads the wall clock, so
// the script runs in the year after it.
func newWorld(t *testing.T, sc *scenario, year int, kill killPoint) *world {
	t.Helper()
	w := &world{t: t, sc: sc, bin: auditbotBinary(t), clock: &testkit.Clock{}, year: year, kill: kill}
	team := sc.team
	if team == nil {
		team = []string{"carol", "alice"}
	}
	var groups []testworld.Group
	for _, g := range allGroups {
		groups = append(groups, testworld.Group{Name: g, Members: sc.seed[g]})
	}
	ww := testworld.New(t, testworld.Options{
		Server: phabtest.Options{Now: w.clock.Now, Host: "phab.crash.invalid", Seed: 7, OnWrite: w.onWrite},
		Users: []phabtest.UserSpec{
			{Username: "alice", RealName: "Alice Approver", Admin: true, MFA: true},
			{Username: "bob", RealName: "Bob Approver", MFA: true},
			{Username: "carol", RealName: "Carol Security", MFA: true},
			{Username: "dave", RealName: "Dave NoMFA"},
			{Username: "erin", RealName: "Erin NoMFA"},
			{Username: "frank", RealName: "Frank NoMFA"},
			{Username: "gina", RealName: "Gina NoMFA"},
			{Username: "hank", RealName: "Hank NoMFA"},
			{Username: "ivan", RealName: "Ivan NoMFA"},
			{Username: "grace", RealName: "Grace MFA", MFA: true},
			{Username: "judy", RealName: "Judy Disabled", MFA: true, Disabled: true},
			{Username: "kate", RealName: "Kate Newcomer", MFA: true},
			{Username: "ci-bot", RealName: "CI Bot", Bot: true},
		},
		Approvers: []string{"alice", "bob"},
		Team:      team,
		Groups:    groups,
	})
	w.tw, w.srv, w.dir, w.users, w.groups, w.names = ww, ww.Srv, ww.Dir, ww.Users, ww.Groups, ww.Names
	if sc.tracking {
		w.srv.AddTask(phabtest.TaskSpec{Title: "Audit the security groups' MFA", AuthorPHID: w.users["alice"].PHID, ViewPolicy: phabtest.PolicyUsers})
	}
	w.config = w.tw.Write("config.yaml", ww.ConfigYAML(removalLimitYAML))
	w.tw.Write(w.campaignFile(), sc.campaign(year))
	return w
}

// onWrite is the server's write hook. At the armed kill point it kills the
// binary with SIGKILL and waits until the process is gone, so that it can
// neither see the answer nor do anything after: before the write, the
// server then drops the request unapplied; after it, the write stands and
// its answer is lost.
func (w *world) onWrite(n int, _ string, phase phabtest.WritePhase) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.acting {
		return false
	}
	if phase == phabtest.BeforeWrite {
		w.writes++
	}
	if w.fired || w.kill.N != w.writes || w.kill.Phase != phase || w.proc == nil {
		return false
	}
	if err := w.proc.Kill(); err != nil {
		w.t.Errorf("kill at %s: %v", w.kill, err)
	}
	<-w.exited
	w.fired = true
	return true
}

// run is one run of the binary.
type run struct {
	args   []string
	code   int
	killed bool
	output string
}

func (r run) String() string {
	return fmt.Sprintf("auditbot %s: exit %d, killed %v\n%s", strings.Join(r.args, " "), r.code, r.killed, r.output)
}

// exec runs the binary with args, as the bot's account, and waits for it
// to exit or be killed.
func (w *world) exec(args ...string) run {
	w.t.Helper()
	cmd := exec.Command(w.bin, append([]string{"--config", w.config}, args...)...)
	cmd.Dir = w.dir
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "AUDITBOT_")
	})
	cmd.Env = append(env, "AUDITBOT_CONDUIT_TOKEN="+w.users["auditbot"].Token)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		w.t.Fatalf("start auditbot: %v", err)
	}
	exited := make(chan struct{})
	w.mu.Lock()
	w.proc, w.exited = cmd.Process, exited
	firedBefore := w.fired
	w.mu.Unlock()

	// Wait reaps the process (and finishes copying its output); onWrite
	// waits on exited while it kills.
	waitErr := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		close(exited)
		waitErr <- err
	}()
	err := <-waitErr

	w.mu.Lock()
	w.proc = nil
	killed := w.fired && !firedBefore
	w.mu.Unlock()

	r := run{args: args, code: cmd.ProcessState.ExitCode(), killed: killed, output: out.String()}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		w.t.Fatalf("wait for auditbot: %v", err)
	}
	if killed && r.code != -1 {
		w.t.Fatalf("auditbot was killed but exited with %d", r.code)
	}
	return r
}

// taskOf is the first of the bot's tasks that user is subscribed to, as
// Phabricator shows it.
func (w *world) taskOf(user string) (int, error) {
	phid := w.users[user].PHID
	for _, tk := range w.srv.Tasks() {
		if tk.AuthorPHID == w.users["auditbot"].PHID && slices.Contains(tk.SubscriberPHIDs, phid) {
			return tk.ID, nil
		}
	}
	return 0, fmt.Errorf("%w: @%s", errNoTask, user)
}

var (
	errNoUser = errors.New("no such user")
	errNoTask = errors.New("on none of the bot's tasks")
)

// comment posts text on task as user, through phabtest (not a write the
// kill hook counts: only the binary's calls are).
func (w *world) comment(user string, task int, text string) error {
	u, ok := w.users[user]
	if !ok {
		return fmt.Errorf("%w: %s", errNoUser, user)
	}
	w.srv.AddComment(phabtest.CommentSpec{TaskID: task, AuthorPHID: u.PHID, Text: text})
	return nil
}

// campaignFile is the scenario's campaign file, relative to w.dir.
func (w *world) campaignFile() string { return "campaigns/" + w.sc.name + ".yaml" }

// as runs do with a Conduit client of user's own token, as a person acting
// in the web UI. Their writes are not kill points.
func (w *world) as(user string, do func(ctx context.Context, c *conduit.Client) error) error {
	u, ok := w.users[user]
	if !ok {
		return fmt.Errorf("%w: %s", errNoUser, user)
	}
	ctx := context.Background()
	c, err := conduit.Dial(ctx, w.srv.URL(), conduit.Token(u.Token), conduit.Options{HTTPClient: w.srv.Client(), RequestsPerSecond: -1})
	if err != nil {
		return fmt.Errorf("dial as %s: %w", user, err)
	}
	w.mu.Lock()
	w.acting = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.acting = false
		w.mu.Unlock()
	}()
	return do(ctx, c)
}

// edit makes edits to task as user.
func (w *world) edit(user string, task int, edits ...conduit.Edit) error {
	return w.as(user, func(ctx context.Context, c *conduit.Client) error {
		if _, err := c.EditTask(ctx, fmt.Sprintf("T%d", task), edits...); err != nil {
			return fmt.Errorf("%s edits T%d: %w", user, task, err)
		}
		return nil
	})
}

// writeRequests is how many write requests the binary has sent.
func (w *world) writeRequests() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes
}
