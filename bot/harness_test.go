package bot_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditbot/auditbot/internal/testkit/testbot"
	"github.com/auditbot/auditbot/internal/testkit/testworld"

	"github.com/rs/zerolog"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/internal/testkit"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// The test campaign's name and its dates. The cutoff date 2027-02-28 means
// the instant 2027-03-01T00:00Z; the default reminders fall 30, 7 and 1
// days before it.
const campaignName = "mfa-test"

var (
	launchTime = time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)
	cutoff     = time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
)

// Group names as the campaign and the config write them.
const (
	groupNDA       = "WMF-NDA"
	groupSecurity  = "acl*security"
	groupSRE       = "acl*sre-team"
	groupApprovers = "acl*phabricator-admins"
	groupTeam      = "Security-Team"
)

// fixture varies the harness. The zero value is the default world: an
// admin bot, a campaign auditing mfa on the three groups, two users a task.
type fixture struct {
	// criteria is the campaign's criteria list; "" means "[mfa]".
	criteria string
	// batchSize is the campaign's batch_size; 0 means 2.
	batchSize int
	// campaignExtra is appended to the campaign file.
	campaignExtra string
	// groups overrides the audited groups; "" means all three.
	groups string
	// botNotAdmin seeds the bot account without the admin role.
	botNotAdmin bool
	// lockedGroup is a group whose edit policy is the approvers' project,
	// so the (non-member) bot may not edit its membership.
	lockedGroup string
	// configExtra is appended to the config file; "" means
	// "removal_limit: {max_share: 100%}": the small test groups would
	// otherwise trip the removal guard-rail in every test.
	configExtra string
	// onWrite is the server's write hook (phabtest.Options.OnWrite).
	onWrite func(n int, method string, phase phabtest.WritePhase) bool
	// extraPending adds that many users without MFA to WMF-NDA
	// (pending01, pending02, ...).
	extraPending int
	// usersCreated backdates every seeded account (zero: created at
	// launch time, which the inactive criterion reads as "new").
	usersCreated time.Time
	// files are written into the campaign's directory before it is
	// parsed (a list criterion's file).
	files map[string]string
	// activity, when set, is the bot's activity source.
	activity *fakeActivity
}

// harness is a phabtest server, a state file, a config and campaign and
// a bot wired together over real Conduit.
type harness struct {
	t      *testing.T
	world  *testworld.World
	ctx    context.Context
	clock  *testkit.Clock // the simulated time shared by the server and the bot
	srv    *phabtest.Server
	users  map[string]phabtest.User
	groups map[string]phabtest.Project
	botU   phabtest.User
	client *conduit.Client
	store  *state.Store
	dir    string
	tmpl   *templates.Set
	cfg    *campaigns.Config
	camp   *campaigns.Campaign
	bot    *bot.Bot
	logs   *testkit.SyncBuffer
	log    zerolog.Logger

	clientsMu sync.Mutex
	clients   map[string]*conduit.Client

	activity *fakeActivity
}

// newHarness seeds this world:
//
//	auditbot     admin bot, MFA              the bot's account
//	alice, bob   admins, MFA                 approvers and Security-Team
//	carol        admin, MFA                  approver, not in the team
//	dave         MFA                         Security-Team, not an approver
//	erin         no MFA                      approver and acl*security member
//	nomfa1..4    no MFA                      group members
//	good1, good2 MFA                         group members
//	excluded1    no MFA                      excluded by the campaign file
//	ci-bot       bot, no MFA                 WMF-NDA
//	wikitech-l   mailing list, no MFA        WMF-NDA
//	gone1        disabled, no MFA            WMF-NDA
//	outsider     MFA                         in nothing
//
//	WMF-NDA (security):     nomfa1 nomfa2 good1 excluded1 ci-bot wikitech-l gone1
//	acl*security (security): nomfa1 nomfa3 erin good2
//	acl*sre-team (internal): nomfa4 nomfa2 good1
func newHarness(t *testing.T, fx fixture) *harness {
	t.Helper()
	h := &harness{
		t:        t,
		ctx:      t.Context(),
		clock:    testkit.NewClock(launchTime),
		logs:     &testkit.SyncBuffer{},
		clients:  map[string]*conduit.Client{},
		activity: fx.activity,
	}
	h.log = zerolog.New(h.logs).Level(zerolog.DebugLevel)

	user := func(spec phabtest.UserSpec) phabtest.UserSpec {
		spec.Created = fx.usersCreated
		return spec
	}
	users := []phabtest.UserSpec{}
	for _, n := range []string{"alice", "bob", "carol"} {
		users = append(users, user(phabtest.UserSpec{Username: n, RealName: strings.ToUpper(n[:1]) + n[1:], Admin: true, MFA: true}))
	}
	users = append(users, user(phabtest.UserSpec{Username: "dave", MFA: true}), user(phabtest.UserSpec{Username: "erin"}))
	for i := 1; i <= 4; i++ {
		users = append(users, user(phabtest.UserSpec{Username: fmt.Sprintf("nomfa%d", i)}))
	}
	users = append(users,
		user(phabtest.UserSpec{Username: "good1", MFA: true}),
		user(phabtest.UserSpec{Username: "good2", MFA: true}),
		user(phabtest.UserSpec{Username: "excluded1"}),
		user(phabtest.UserSpec{Username: "ci-bot", Bot: true}),
		user(phabtest.UserSpec{Username: "wikitech-l", MailingList: true}),
		user(phabtest.UserSpec{Username: "gone1", Disabled: true}),
		user(phabtest.UserSpec{Username: "outsider", MFA: true}))
	var extra []string
	for i := 1; i <= fx.extraPending; i++ {
		n := fmt.Sprintf("pending%03d", i)
		users = append(users, user(phabtest.UserSpec{Username: n}))
		extra = append(extra, n)
	}
	group := func(name string, members ...string) testworld.Group {
		edit := phabtest.PolicyAdmin
		if name == fx.lockedGroup {
			edit = testworld.PolicyApprovers
		}
		return testworld.Group{Name: name, Members: members, EditPolicy: edit, JoinPolicy: edit}
	}
	w := testworld.New(t, testworld.Options{
		Server:    phabtest.Options{Now: h.clock.Now, OnWrite: fx.onWrite},
		Bot:       user(phabtest.UserSpec{Username: "auditbot", Admin: !fx.botNotAdmin, Bot: true, MFA: true}),
		Users:     users,
		Approvers: []string{"alice", "bob", "carol", "erin"},
		Team:      []string{"alice", "bob", "dave"},
		Groups: []testworld.Group{
			group(groupNDA, append([]string{"nomfa1", "nomfa2", "good1", "excluded1", "ci-bot", "wikitech-l", "gone1"}, extra...)...),
			group(groupSecurity, "nomfa1", "nomfa3", "erin", "good2"),
			group(groupSRE, "nomfa4", "nomfa2", "good1"),
		},
	})
	h.world, h.srv, h.dir, h.users, h.groups, h.botU = w, w.Srv, w.Dir, w.Users, w.Groups, w.Bot
	h.client = w.Dial(h.ctx, h.botU.Username, h.log)
	h.store = w.Store()
	h.tmpl = testbot.Templates(t)
	if fx.configExtra == "" {
		fx.configExtra = "removal_limit: {max_share: 100%}\n"
	}
	h.cfg = testbot.Config(t, w, "default_risk: security\n"+fx.configExtra)
	for name, body := range fx.files {
		if err := os.WriteFile(filepath.Join(h.dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h.camp = h.parseCampaign(fx)
	h.bot = h.newBot(h.client, h.log)
	return h
}

func (h *harness) clientOptions(log zerolog.Logger) conduit.Options {
	return h.world.ClientOptions(log)
}

func (h *harness) parseCampaign(fx fixture) *campaigns.Campaign {
	h.t.Helper()
	criteria := fx.criteria
	if criteria == "" {
		criteria = "[mfa]"
	}
	size := fx.batchSize
	if size == 0 {
		size = 2
	}
	groups := fx.groups
	if groups == "" {
		groups = "[WMF-NDA, acl*security, acl*sre-team]"
	}
	src := fmt.Sprintf(`name: %s
title: MFA audit for tests
criteria: %s
groups: %s
exclude:
  users: [excluded1]
batch_size: %d
cutoff: 2027-02-28
team: Security-Team
approvers: acl*phabricator-admins
%s`, campaignName, criteria, groups, size, fx.campaignExtra)
	c, err := campaigns.ParseCampaign(filepath.Join(h.dir, campaignName+".yaml"), []byte(src))
	if err != nil {
		h.t.Fatalf("parse campaign: %v", err)
	}
	return c
}

// newBot builds a bot over phab with the harness's store, config, campaign
// and clock.
func (h *harness) newBot(phab bot.Phabricator, log zerolog.Logger) *bot.Bot {
	h.t.Helper()
	return testbot.New(h.t, h.world, testbot.Options{
		Phab: phab, Store: h.store, Templates: h.tmpl, Config: h.cfg, Now: h.clock.Now, Logger: log,
		Configure: func(o *bot.Options) {
			// h.camp as it is at each call: a test may change it.
			o.LoadCampaign = func(name string) (*campaigns.Campaign, error) {
				if name != h.camp.Name {
					return nil, fmt.Errorf("no campaign %q in this test", name)
				}
				return h.camp, nil
			}
			if h.activity != nil {
				o.Activity = h.activity
			}
		},
	})
}

// as returns a Conduit client acting as username.
func (h *harness) as(username string) *conduit.Client {
	h.t.Helper()
	h.clientsMu.Lock()
	defer h.clientsMu.Unlock()
	if c, ok := h.clients[username]; ok {
		return c
	}
	c := h.world.Dial(h.ctx, username, zerolog.Nop())
	h.clients[username] = c
	return c
}

func (h *harness) phid(username string) string {
	h.t.Helper()
	return h.world.User(username).PHID
}

func (h *harness) phids(usernames ...string) []string {
	h.t.Helper()
	return h.world.PHIDs(usernames...)
}

func (h *harness) group(name string) phabtest.Project {
	h.t.Helper()
	return h.world.Group(name)
}

// launch launches the campaign and fails the test on error.
func (h *harness) launch() *bot.LaunchResult {
	h.t.Helper()
	res, err := h.bot.Launch(h.ctx, h.camp)
	if err != nil {
		h.t.Fatalf("Launch: %v", err)
	}
	return res
}

// launchAndPropose launches the campaign and ticks an hour past the cutoff,
// which proposes R1.
func (h *harness) launchAndPropose() {
	h.t.Helper()
	h.launch()
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()
}

// tick runs every chore and fails the test on error.
func (h *harness) tick() *bot.TickReport {
	h.t.Helper()
	rep, err := h.bot.Tick(h.ctx, bot.TickOptions{})
	if err != nil {
		h.t.Fatalf("Tick at %s: %v", h.clock.Now().Format(time.RFC3339), err)
	}
	return rep
}

// comment posts text on a task as username.
func (h *harness) comment(username, task, text string) {
	h.t.Helper()
	if _, err := h.as(username).EditTask(h.ctx, task, conduit.CommentEdit(text)); err != nil {
		h.t.Fatalf("%s comments on %s: %v", username, task, err)
	}
}

func (h *harness) snapshot() state.Snapshot {
	h.t.Helper()
	snap, err := h.store.Snapshot(campaignName)
	if err != nil {
		h.t.Fatalf("state snapshot: %v", err)
	}
	return snap
}

func (h *harness) finding(username string) state.Finding {
	h.t.Helper()
	for _, f := range h.snapshot().Findings {
		if f.Username == username {
			return f
		}
	}
	h.t.Fatalf("no finding for @%s", username)
	return state.Finding{}
}

// statuses maps each finding's username to its status.
func (h *harness) statuses() map[string]state.Status {
	out := map[string]state.Status{}
	for _, f := range h.snapshot().Findings {
		out[f.Username] = f.Status
	}
	return out
}

// taskOf returns the task (monogram and id) of username's batch.
func (h *harness) taskOf(username string) (string, int) {
	h.t.Helper()
	f := h.finding(username)
	for _, bt := range h.snapshot().Batches {
		if bt.Index == f.Batch {
			if bt.TaskID == 0 {
				h.t.Fatalf("batch %d of @%s has no task", bt.Index, username)
			}
			return bt.Monogram(), bt.TaskID
		}
	}
	h.t.Fatalf("no batch %d", f.Batch)
	return "", 0
}

// botComments returns the bot's comments on task id.
func (h *harness) botComments(id int) []phabtest.CommentSnapshot {
	var out []phabtest.CommentSnapshot
	for _, c := range h.srv.Comments(id) {
		if c.AuthorPHID == h.botU.PHID {
			out = append(out, c)
		}
	}
	return out
}

// botCommentsWith returns the bot's comments on task id whose marker key
// starts with prefix (e.g. "reminder/", "reply/").
func (h *harness) botCommentsWith(id int, prefix string) []phabtest.CommentSnapshot {
	var out []phabtest.CommentSnapshot
	for _, c := range h.botComments(id) {
		for line := range strings.Lines(c.Text) {
			if key, ok := bot.MarkerKey(line, campaignName); ok && strings.HasPrefix(key, prefix) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// markerKeyOf is the op key in text's marker line ("" if none).
func markerKeyOf(text string) string {
	for line := range strings.Lines(text) {
		if key, ok := bot.MarkerKey(line, campaignName); ok {
			return key
		}
	}
	return ""
}

// answers are the bot's answers to replies on task id, in order: the
// sections of its combined answering comments.
func (h *harness) answers(id int) []string {
	var out []string
	for _, c := range h.botCommentsWith(id, "replies/") {
		out = append(out, strings.Split(c.Text, "\n\n---\n\n")...)
	}
	return out
}

// allBotComments counts the comments the bot wrote (they carry its
// marker) on every task.
func (h *harness) allBotComments() int {
	n := 0
	for _, t := range h.srv.Tasks() {
		n += len(h.botCommentsWith(t.ID, ""))
	}
	return n
}

// effectiveWrites returns the writes that changed something: a no-op
// project.edit (the pre-flight membership probe) is left out.
func (h *harness) effectiveWrites() []phabtest.Write {
	var out []phabtest.Write
	for _, w := range h.srv.Writes() {
		if len(w.TransactionPHIDs) > 0 {
			out = append(out, w)
		}
	}
	return out
}

// writesOf returns the effective writes of method.
func (h *harness) writesOf(method string) []phabtest.Write {
	var out []phabtest.Write
	for _, w := range h.effectiveWrites() {
		if w.Method == method {
			out = append(out, w)
		}
	}
	return out
}

// journalKinds counts the journal entries per kind.
func (h *harness) journalKinds() map[string]int {
	h.t.Helper()
	entries, err := h.store.Journal(campaignName)
	if err != nil {
		h.t.Fatalf("journal: %v", err)
	}
	out := map[string]int{}
	for _, e := range entries {
		out[string(e.Kind)]++
	}
	return out
}

// pendingOps lists the ops still recorded as pending.
func (h *harness) pendingOps() []string {
	var out []string
	for _, op := range h.snapshot().Ops {
		if op.State == state.OpPending {
			out = append(out, op.Key)
		}
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func itoa(n int) string { return strconv.Itoa(n) }

func zeroLog(w io.Writer) zerolog.Logger { return zerolog.New(w).Level(zerolog.DebugLevel) }

// conduitSpec is a plain public task with description desc.
func conduitSpec(desc string) conduit.TaskSpec {
	return conduit.TaskSpec{Title: "Unrelated task", Description: desc}
}

// phabtestComment seeds a comment by username on task (a monogram),
// bypassing policies.
func phabtestComment(h *harness, task, username, text string) phabtest.CommentSpec {
	id, err := strconv.Atoi(strings.TrimPrefix(task, "T"))
	if err != nil {
		h.t.Fatalf("task %q: %v", task, err)
	}
	return phabtest.CommentSpec{TaskID: id, AuthorPHID: h.phid(username), Text: text}
}

type phabtestWrite = phabtest.Write

// unsubscribe is the edit a user makes to leave a task.
func unsubscribe(phid string) conduit.Edit {
	return conduit.Edit{Type: "subscribers.remove", Value: []string{phid}}
}

// approve approves removal batch label from the command line as username,
// the way the CLI does: with username's own token (user.whoami decides
// who approves), first shown the batch, then confirming its digest.
func (h *harness) approve(b *bot.Bot, label, username string) (*bot.ApproveResult, error) {
	h.t.Helper()
	session := h.as(strings.TrimPrefix(username, "@"))
	shown, err := b.Approve(h.ctx, campaignName, label, session, bot.ApproveOptions{})
	if err != nil {
		return nil, err
	}
	return b.Approve(h.ctx, campaignName, label, session, bot.ApproveOptions{Confirm: shown.Digest})
}

// commentTx comments as username and returns the comment's transaction
// PHID, for editing it later.
func (h *harness) commentTx(username, task, text string) string {
	h.t.Helper()
	res, err := h.as(username).EditTask(h.ctx, task, conduit.CommentEdit(text))
	if err != nil || len(res.TransactionPHIDs) == 0 {
		h.t.Fatalf("%s comments on %s: %v (%+v)", username, task, err, res)
	}
	return res.TransactionPHIDs[len(res.TransactionPHIDs)-1]
}
