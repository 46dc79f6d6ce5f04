// Package testworld builds the in-process Phabricator that most tests run
// against, and the files and state around it: a phabtest server seeded
// with the bot's admin account, the approvers' project, the owning team
// and the audited groups (New); the usual config pointing at it
// (World.ConfigYAML); Conduit clients acting as any seeded user
// (World.Dial); and a state file checked at cleanup (World.Store,
// OpenStore).
//
// It imports phabtest, conduit, campaigns and state but not bot, so that
// the tests of the packages bot imports (activity, for one) can use it
// too. The bot wired to a World is the subpackage testworld/testbot; the
// clock, the lab.env loader and the log buffer are in testkit, which
// imports nothing of auditbot's.
package testworld

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
)

// The bot's account and the projects every world has.
const (
	BotUsername    = "auditbot"
	GroupNDA       = "WMF-NDA"
	GroupSecurity  = "acl*security"
	GroupSRE       = "acl*sre-team"
	GroupApprovers = "acl*phabricator-admins"
	GroupTeam      = "Security-Team"
)

// PolicyApprovers, as a Group's EditPolicy or JoinPolicy, stands for the
// approvers' project, whose PHID is known only once it is seeded.
const PolicyApprovers = "approvers"

// Group is a project the world seeds besides the approvers and the team:
// an audited group, or any other.
type Group struct {
	Name    string
	Members []string // usernames
	// EditPolicy and JoinPolicy are phabtest policies or PolicyApprovers;
	// "" means phabtest.PolicyAdmin and PolicyApprovers.
	EditPolicy, JoinPolicy string
}

// Options vary a world. The zero value is the admin bot alone with empty
// projects.
type Options struct {
	// Server configures the phabtest server (its clock, host, seed and
	// write hook).
	Server phabtest.Options
	// Bot is the bot's account; a zero value is the usual one:
	// auditbot, "Audit Bot", an administrator and a bot, with MFA.
	Bot phabtest.UserSpec
	// Users are everyone else, seeded in this order after the bot.
	Users []phabtest.UserSpec
	// Approvers and Team are the usernames in acl*phabricator-admins and
	// Security-Team.
	Approvers, Team []string
	// Groups are seeded in this order after the approvers and the team.
	Groups []Group
}

// World is a seeded in-process Phabricator and a directory for the files
// around it.
type World struct {
	T   testing.TB
	Srv *phabtest.Server
	// Dir is the test's temporary directory, for the config, campaigns
	// and state file.
	Dir    string
	Bot    phabtest.User
	Users  map[string]phabtest.User    // by username, the bot's included
	Groups map[string]phabtest.Project // every project, by name
	Names  map[string]string           // user and project PHIDs to names
}

// New seeds a world and closes its server when the test ends.
func New(t testing.TB, opts Options) *World {
	t.Helper()
	w := &World{T: t, Srv: phabtest.New(opts.Server), Dir: t.TempDir(),
		Users: map[string]phabtest.User{}, Groups: map[string]phabtest.Project{}, Names: map[string]string{}}
	t.Cleanup(w.Srv.Close)
	bot := opts.Bot
	if bot.Username == "" {
		bot = phabtest.UserSpec{Username: BotUsername, RealName: "Audit Bot", Admin: true, Bot: true, MFA: true}
	}
	for _, spec := range append([]phabtest.UserSpec{bot}, opts.Users...) {
		u := w.Srv.AddUser(spec)
		w.Users[u.Username] = u
		w.Names[u.PHID] = u.Username
	}
	w.Bot = w.Users[bot.Username]
	approvers := w.addProject(phabtest.ProjectSpec{Name: GroupApprovers, Icon: "policy", Color: "red",
		EditPolicy: phabtest.PolicyAdmin, JoinPolicy: phabtest.PolicyNoOne, Members: w.PHIDs(opts.Approvers...)})
	w.addProject(phabtest.ProjectSpec{Name: GroupTeam, Members: w.PHIDs(opts.Team...)})
	policy := func(p, def string) string {
		if p == "" {
			p = def
		}
		if p == PolicyApprovers {
			return approvers.PHID
		}
		return p
	}
	for _, g := range opts.Groups {
		w.addProject(phabtest.ProjectSpec{Name: g.Name, Icon: "policy", Members: w.PHIDs(g.Members...),
			EditPolicy: policy(g.EditPolicy, phabtest.PolicyAdmin), JoinPolicy: policy(g.JoinPolicy, PolicyApprovers)})
	}
	return w
}

func (w *World) addProject(spec phabtest.ProjectSpec) phabtest.Project {
	p := w.Srv.AddProject(spec)
	w.Groups[p.Name] = p
	w.Names[p.PHID] = p.Name
	return p
}

// User returns the seeded user, failing the test if there is none.
func (w *World) User(username string) phabtest.User {
	w.T.Helper()
	u, ok := w.Users[username]
	if !ok {
		w.T.Fatalf("no user %q in the world", username)
	}
	return u
}

// PHIDs returns the users' PHIDs, in order.
func (w *World) PHIDs(usernames ...string) []string {
	w.T.Helper()
	out := make([]string, 0, len(usernames))
	for _, n := range usernames {
		out = append(out, w.User(n).PHID)
	}
	return out
}

// Group returns the seeded project, failing the test if there is none.
func (w *World) Group(name string) phabtest.Project {
	w.T.Helper()
	g, ok := w.Groups[name]
	if !ok {
		w.T.Fatalf("no group %q in the world", name)
	}
	return g
}

// Write writes content to name under Dir, creating directories, and
// returns its path.
func (w *World) Write(name, content string) string {
	w.T.Helper()
	path := filepath.Join(w.Dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		w.T.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		w.T.Fatal(err)
	}
	return path
}

// ConfigYAML is the usual config for the world: its server, a state file
// and campaigns directory beside the config, warnings only, and the
// audited groups' risks; extra is appended.
func (w *World) ConfigYAML(extra string) string {
	return fmt.Sprintf(`conduit:
  url: %s
  timeout: 5s
  requests_per_second: 1000
state_file: state.db
campaigns_dir: campaigns
log:
  level: warn
groups:
  WMF-NDA: {risk: security}
  acl*security: {risk: security}
  acl*sre-team: {risk: internal}
%s`, w.Srv.URL(), extra)
}

// ClientOptions are the options of a test's Conduit client: the server's
// HTTP client, no rate limit and no waiting between retries.
func (w *World) ClientOptions(log zerolog.Logger) conduit.Options {
	return conduit.Options{
		HTTPClient:        w.Srv.Client(),
		RequestsPerSecond: -1,
		CallTimeout:       10 * time.Second,
		Logger:            log,
		Sleep:             func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	}
}

// Dial returns a Conduit client acting as username (with its token).
func (w *World) Dial(ctx context.Context, username string, log zerolog.Logger) *conduit.Client {
	w.T.Helper()
	c, err := conduit.Dial(ctx, w.Srv.URL(), conduit.Token(w.User(username).Token), w.ClientOptions(log))
	if err != nil {
		w.T.Fatalf("dial as %s: %v", username, err)
	}
	return c
}

// Store opens the state file the usual config names (state.db in Dir);
// see OpenStore.
func (w *World) Store() *state.Store {
	w.T.Helper()
	return OpenStore(w.T, filepath.Join(w.Dir, "state.db"))
}

// OpenStore opens (creating it) the state file at path, and at cleanup
// runs its integrity check, failing t on a problem, and closes it. A
// test without a world passes filepath.Join(t.TempDir(), "state.db").
func OpenStore(t testing.TB, path string) *state.Store {
	t.Helper()
	st, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatalf("open state: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Check(); err != nil {
			t.Errorf("state file integrity check: %v", err)
		}
		st.Close()
	})
	return st
}
