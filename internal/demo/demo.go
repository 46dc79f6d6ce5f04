// Package demo runs a whole audit campaign against the in-process
// Phabricator (phabtest) on a simulated clock: plan, launch, replies,
// reminders, the cutoff, approvals, removal and a restore. cmd/auditbot-demo
// (`make demo`) prints its timeline; the package's tests run it end to end
// and check the outcome against the seeded data and the golden files.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditbot/auditbot/activity"
	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/internal/testkit"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// Options tune a demo run.
type Options struct {
	Out      io.Writer
	Verbose  bool   // also print the bot's log and full task texts
	StateDir string // keep the state file here; "" for a temporary directory
}

// Result is what the demo did, for its test.
type Result struct {
	// Removed maps each username to the groups the bot removed it from.
	Removed map[string][]string
	// ExpectedRemoved is computed from the seed: members without MFA or
	// disabled, minus exclusions, bots, and everyone who complied, left or
	// was exempted during the run.
	ExpectedRemoved map[string][]string
	Restored        []string
	Tasks           int
	MaxSubscribers  int // the most users subscribed to one task
	// WritesAfterRerun is how many writes the final, repeated tick made.
	WritesAfterRerun int
	// CallsPerTick is the number of Conduit calls of each tick, by label.
	CallsPerTick []TickCalls
	// Writes are every write the in-process Phabricator applied, oldest
	// first (the bot's and the scripted users'), for the golden test.
	Writes []phabtest.Write
	// Journals are each campaign's whole journal at the end, by name.
	Journals map[string][]state.Entry
	Statuses map[string]state.Status
	// TaskHiddenFromOutsider reports whether a user outside a batch could
	// not see that batch's task.
	TaskHiddenFromOutsider bool
	// RefusedApproval reports whether an approval by a non-approver was
	// refused.
	RefusedApproval bool
	// ExemptionHeldAfterOneApproval reports whether user12's exemption was
	// still undecided after one of the two approvals it needs.
	ExemptionHeldAfterOneApproval bool
	// RestoredMembers maps each restored user to the groups Phabricator
	// lists them in at the end.
	RestoredMembers map[string][]string
	// Unsubscribed lists the users the bot flagged as unsubscribed.
	Unsubscribed []string
	// Reminders counts the bot's reminder comments per task; Reminded
	// lists who they @mention, with how many times.
	Reminders map[string]int
	Reminded  map[string]int
	// Inactivity is the second campaign, the yearly inactivity review.
	Inactivity *InactivityResult
	// TrackingSummaries counts the bot's summaries on the MFA campaign's
	// tracking task (once it closes: one).
	TrackingSummaries int
	// Policy is the third campaign, the weekly policy audit.
	Policy *PolicyResult
	// Disable is the third, a campaign that disables accounts.
	Disable *DisableResult
}

// TickCalls is the Conduit call count of one tick.
type TickCalls struct {
	Label string
	Calls int
	// ByMethod counts the tick's calls per Conduit method.
	ByMethod map[string]int
}

// The demo's campaign: the one a security team would write.
const campaignYAML = `name: mfa-demo
title: "Multi-factor authentication is required for private groups"
criteria: [mfa, disabled]
groups: [WMF-NDA, acl*security, acl*sre-team]
exclude:
  users: [legacy-importer]
batch_size: 20
cutoff: 2027-02-28
reminders: [30d, 7d, 1d]
quiet_reminders: true
team: Security-Team
approvers: acl*phabricator-admins
help_url: https://www.mediawiki.org/wiki/Phabricator/Help/Two-factor_Authentication
# The demo's groups are small and lose a large part of their members on
# purpose: this campaign lifts the removal guard-rail (default 25%).
removal_limit: {max_share: 100%}
`

func configYAML(url string) string {
	return fmt.Sprintf(`conduit:
  url: %s
groups:
  WMF-NDA: {risk: security}
  acl*security: {risk: security}
  acl*sre-team: {risk: internal}
`, url)
}

// demo holds a run's moving parts.
type demo struct {
	out   io.Writer
	opts  Options
	clock *testkit.Clock
	srv   *phabtest.Server
	bot   *bot.Bot
	store *state.Store
	users map[string]phabtest.User
	// nonCompliant is the seed's truth: users created without MFA or
	// disabled.
	nonCompliant map[string]bool
	groups       map[string]phabtest.Project
	res          *Result
	ctx          context.Context
	// mfa is the MFA campaign as the bot loads it (the campaign file):
	// the script edits it to name a tracking task.
	mfa *campaigns.Campaign
}

// Run runs the demo and prints its timeline to opts.Out.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	d := &demo{out: opts.Out, opts: opts, ctx: ctx, clock: testkit.NewClock(time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC)),
		users: map[string]phabtest.User{}, nonCompliant: map[string]bool{}, groups: map[string]phabtest.Project{},
		res: &Result{Removed: map[string][]string{}, ExpectedRemoved: map[string][]string{}, Statuses: map[string]state.Status{}}}
	d.srv = phabtest.New(phabtest.Options{Now: d.clock.Now, Host: "phab.demo.invalid", Seed: 2027})
	defer d.srv.Close()
	d.seed()
	d.expect()

	dir := opts.StateDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "auditbot-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else {
		// A kept directory holds the last run's file: each run starts a
		// new campaign world, so it starts a new state file too.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("demo: state directory: %w", err)
		}
		for _, f := range []string{"demo.db", "demo.db.writer.lock"} {
			if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("demo: remove the last run's state: %w", err)
			}
		}
	}
	if err := d.setup(filepath.Join(dir, "demo.db")); err != nil {
		return nil, err
	}
	defer d.store.Close()
	if err := d.script(); err != nil {
		return d.res, err
	}
	d.res.Writes = d.srv.Writes()
	d.res.Journals = map[string][]state.Entry{}
	names, err := d.store.CampaignNames()
	if err != nil {
		return d.res, err
	}
	for _, name := range names {
		if d.res.Journals[name], err = d.store.Journal(name); err != nil {
			return d.res, err
		}
	}
	return d.res, nil
}

// seed creates about 60 users in the three groups: most with MFA, some
// without, a few disabled accounts, two bots and an excluded account.
func (d *demo) seed() {
	add := func(spec phabtest.UserSpec) phabtest.User {
		// Accounts three years old: none is new to the inactivity review.
		spec.Created = d.clock.Now().AddDate(-3, 0, 0)
		u := d.srv.AddUser(spec)
		d.users[spec.Username] = u
		d.nonCompliant[spec.Username] = !spec.MFA || spec.Disabled
		return u
	}
	add(phabtest.UserSpec{Username: "auditbot", RealName: "Audit Bot", Admin: true, Bot: true, MFA: true})
	alice := add(phabtest.UserSpec{Username: "alice", RealName: "Alice Approver", Admin: true, MFA: true})
	bob := add(phabtest.UserSpec{Username: "bob", RealName: "Bob Approver", Admin: true, MFA: true})
	carol := add(phabtest.UserSpec{Username: "carol", RealName: "Carol Security", MFA: true})
	add(phabtest.UserSpec{Username: "mallory", RealName: "Mallory Outsider", MFA: true})

	// user01..user56: every third and every seventh has no MFA; 50-52
	// are disabled.
	var members []phabtest.User
	for i := 1; i <= 56; i++ {
		name := fmt.Sprintf("user%02d", i)
		spec := phabtest.UserSpec{Username: name, RealName: fmt.Sprintf("User %02d", i), MFA: i%3 != 0 && i%7 != 0}
		switch {
		case i == 7:
			// A real name crafted to inject Remarkup and HTML: the
			// templates and the dashboard must print it inert.
			spec.RealName = "Eve <img src=x onerror=alert(1)> @alice [[https://evil.example|click]] {F1}"
		case i >= 50 && i <= 52:
			spec.Disabled, spec.MFA = true, false
		}
		members = append(members, add(spec))
	}
	ciBot := add(phabtest.UserSpec{Username: "ci-bot", RealName: "CI Bot", Bot: true})
	importer := add(phabtest.UserSpec{Username: "legacy-importer", RealName: "Legacy Importer"})

	approvers := d.srv.AddProject(phabtest.ProjectSpec{Name: "acl*phabricator-admins", Icon: "policy", Color: "red",
		ViewPolicy: "users", EditPolicy: "admin", JoinPolicy: "no-one", Members: []string{alice.PHID, bob.PHID}})
	d.groups["acl*phabricator-admins"] = approvers
	team := d.srv.AddProject(phabtest.ProjectSpec{Name: "Security-Team", Members: []string{carol.PHID, alice.PHID}})
	d.groups["Security-Team"] = team

	var nda, sec, sre []string
	for i, u := range members {
		n := i + 1
		if n <= 45 {
			nda = append(nda, u.PHID)
		}
		if n >= 30 {
			sec = append(sec, u.PHID)
		}
		if n%4 == 0 || n >= 50 {
			sre = append(sre, u.PHID)
		}
	}
	nda = append(nda, ciBot.PHID, importer.PHID)
	sre = append(sre, ciBot.PHID)
	// On a real install WMF-NDA and acl*security are often editable only
	// by acl*phabricator-admins members (NOTES fact 32); here the bot's
	// admin role may edit all three, so the demo can run to the end.
	d.groups["WMF-NDA"] = d.srv.AddProject(phabtest.ProjectSpec{Name: "WMF-NDA", Icon: "policy", Color: "orange", EditPolicy: "admin", JoinPolicy: approvers.PHID, Members: nda})
	d.groups["acl*security"] = d.srv.AddProject(phabtest.ProjectSpec{Name: "acl*security", Icon: "policy", Color: "red", EditPolicy: "admin", JoinPolicy: approvers.PHID, Members: sec})
	d.groups["acl*sre-team"] = d.srv.AddProject(phabtest.ProjectSpec{Name: "acl*sre-team", Icon: "policy", Color: "red", EditPolicy: "admin", JoinPolicy: "admin", Members: sre})
}

func (d *demo) setup(statePath string) error {
	cfg, err := campaigns.ParseConfig("demo-config.yaml", []byte(configYAML(d.srv.URL())))
	if err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	camp, err := campaigns.ParseCampaign("mfa-demo.yaml", []byte(campaignYAML))
	if err != nil {
		return fmt.Errorf("demo campaign: %w", err)
	}
	review, err := campaigns.ParseCampaign("sre-inactivity-demo.yaml", []byte(inactivityYAML))
	if err != nil {
		return fmt.Errorf("demo inactivity campaign: %w", err)
	}
	d.mfa = camp
	audit, err := campaigns.ParseCampaign("policy-demo.yaml", []byte(policyYAML))
	if err != nil {
		return fmt.Errorf("demo policy campaign: %w", err)
	}
	contractors, err := campaigns.ParseCampaign("contractors-disable-demo.yaml", []byte(disableYAML))
	if err != nil {
		return fmt.Errorf("demo disable campaign: %w", err)
	}
	tmpl, err := templates.Load("")
	if err != nil {
		return err
	}
	client, err := d.client("auditbot")
	if err != nil {
		return err
	}
	d.store, err = state.Open(statePath, state.Options{})
	if err != nil {
		return err
	}
	logger := zerolog.Nop()
	if d.opts.Verbose {
		logger = zerolog.New(zerolog.ConsoleWriter{Out: d.out, NoColor: true, PartsExclude: []string{zerolog.TimestampFieldName}}).Level(zerolog.InfoLevel)
	}
	// The activity scanner as the CLI wires it: feed.query through the
	// bot's client, the state file as its cache, the bot's own stories
	// never a member's activity.
	scanner := &activity.Scanner{Feed: client, Cache: d.store, Now: d.clock.Now, Ignore: []string{d.users["auditbot"].PHID}}
	d.bot, err = bot.New(bot.Options{Phab: client, Store: d.store, Templates: tmpl, Config: cfg, Now: d.clock.Now, Logger: logger,
		Activity: activity.Source{Scanner: scanner},
		LoadCampaign: func(name string) (*campaigns.Campaign, error) {
			for _, c := range []*campaigns.Campaign{camp, review, audit, contractors} {
				if c.Name == name {
					return c, nil
				}
			}
			return nil, fmt.Errorf("no campaign %q", name)
		}})
	return err
}

// client dials the in-process Phabricator as one of the seeded users.
func (d *demo) client(username string) (*conduit.Client, error) {
	u, ok := d.users[username]
	if !ok {
		return nil, fmt.Errorf("demo: no user %s", username)
	}
	return conduit.Dial(d.ctx, d.srv.URL(), conduit.Token(u.Token), conduit.Options{
		HTTPClient: d.srv.Client(), RequestsPerSecond: 1000,
		Sleep: func(context.Context, time.Duration) error { return nil },
	})
}

// at moves the simulated clock and prints a heading.
func (d *demo) at(t time.Time, what string) {
	d.clock.Set(t)
	fmt.Fprintf(d.out, "\n== %s  %s\n", t.Format("2006-01-02 15:04 MST"), what)
}

func (d *demo) say(format string, args ...any) {
	// Sprintf with format as given lets go vet check every call's
	// verbs against its arguments (it once printed %!s(int=1)).
	fmt.Fprintf(d.out, "   %s\n", fmt.Sprintf(format, args...))
}

// tick runs one tick, prints its events and counts its Conduit calls.
func (d *demo) tick(label string) error { return d.tickWith(label, bot.TickOptions{}) }

// tickWith runs one tick with opts, prints its events and counts its
// Conduit calls.
func (d *demo) tickWith(label string, opts bot.TickOptions) error {
	d.srv.ResetCalls()
	report, err := d.bot.Tick(d.ctx, opts)
	calls := 0
	byMethod := d.srv.Calls()
	for _, n := range byMethod {
		calls += n
	}
	d.res.CallsPerTick = append(d.res.CallsPerTick, TickCalls{Label: label, Calls: calls, ByMethod: byMethod})
	if report != nil {
		for _, c := range report.Campaigns {
			for _, e := range c.Events {
				d.say("bot: %s", e)
			}
			for _, e := range c.Errors {
				d.say("bot ERROR: %s", e)
			}
		}
	}
	d.say("(tick: %d Conduit calls)", calls)
	return err
}

// comment posts a comment as a user, with that user's own token.
func (d *demo) comment(username string, task int, text string) error {
	c, err := d.client(username)
	if err != nil {
		return err
	}
	if _, err := c.EditTask(d.ctx, fmt.Sprintf("T%d", task), conduit.CommentEdit(text)); err != nil {
		return fmt.Errorf("demo: @%s comments on T%d: %w", username, task, err)
	}
	d.say("@%s on T%d: %q", username, task, text)
	return nil
}

// status is a user's finding status now.
func (d *demo) status(username string) state.Status {
	snap, err := d.store.Snapshot("mfa-demo")
	if err != nil {
		return ""
	}
	for _, f := range snap.Findings {
		if f.Username == username {
			return f.Status
		}
	}
	return ""
}

// taskOf is the task a user was batched into.
func (d *demo) taskOf(username string) (int, error) {
	snap, err := d.store.Snapshot("mfa-demo")
	if err != nil {
		return 0, err
	}
	for _, f := range snap.Findings {
		if f.Username == username {
			for _, bt := range snap.Batches {
				if bt.Index == f.Batch {
					return bt.TaskID, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("demo: @%s has no task", username)
}

func (d *demo) script() error {
	camp, err := campaigns.ParseCampaign("mfa-demo.yaml", []byte(campaignYAML))
	if err != nil {
		return err
	}
	if err := d.planAndLaunch(camp); err != nil {
		return err
	}
	for _, act := range []func() error{d.conversation, d.exemptionAndTeam} {
		if err := act(); err != nil {
			return err
		}
	}
	rm, err := d.deadline()
	if err != nil {
		return err
	}
	if err := d.approvals(rm); err != nil {
		return err
	}
	if err := d.removalAndRestore(); err != nil {
		return err
	}
	review, err := campaigns.ParseCampaign("sre-inactivity-demo.yaml", []byte(inactivityYAML))
	if err != nil {
		return err
	}
	if err := d.inactivity(review); err != nil {
		return err
	}
	audit, err := campaigns.ParseCampaign("policy-demo.yaml", []byte(policyYAML))
	if err != nil {
		return err
	}
	if err := d.policyAudit(audit); err != nil {
		return err
	}
	if err := d.closeWithTracking(); err != nil {
		return err
	}
	contractors, err := campaigns.ParseCampaign("contractors-disable-demo.yaml", []byte(disableYAML))
	if err != nil {
		return err
	}
	if err := d.disabling(contractors); err != nil {
		return err
	}
	return d.summary()
}

// planAndLaunch plans the campaign (writing nothing), launches it and
// launches it again (filing nothing twice).
func (d *demo) planAndLaunch(camp *campaigns.Campaign) error {
	ctx := d.ctx
	d.at(d.clock.Now(), "the Security-Team plans the campaign (nothing is written)")
	plan, err := d.bot.Plan(ctx, camp)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	for _, g := range plan.Groups {
		d.say("%-14s risk %-9s %2d members, %2d affected, %d approvals needed", g.Name, g.Risk, g.Members, g.Affected, g.RequiredApprovals)
	}
	for _, s := range plan.Skipped {
		d.say("not audited: @%s (%s)", s.Username, s.Reason)
	}
	d.say("%d affected users in %d tasks; writes so far: %d", len(plan.Findings), len(plan.Tasks), len(d.srv.Writes()))
	if d.opts.Verbose && len(plan.Tasks) > 0 {
		fmt.Fprintf(d.out, "\n--- first task, as plan renders it ---\n%s\n\n%s\n---\n", plan.Tasks[0].Title, plan.Tasks[0].Description)
	}

	d.at(d.clock.Now().Add(time.Hour), "launch")
	launched, err := d.bot.Launch(ctx, camp)
	if err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	snap, err := d.store.Snapshot(camp.Name)
	if err != nil {
		return err
	}
	team := map[int]bool{}
	for _, bt := range snap.Batches {
		team[bt.Index] = bt.Team
	}
	for _, t := range launched.Tasks {
		if team[t.Batch] {
			// The team's task lists disabled accounts, who cannot log
			// in to read it: it subscribes and mentions none of them.
			d.say("filed %s for the team: %d disabled account(s) listed, none subscribed, visible to subscribers only", t.Task, t.Users)
			continue
		}
		d.say("filed %s: %d users subscribed, visible to subscribers only", t.Task, t.Users)
		d.res.MaxSubscribers = max(d.res.MaxSubscribers, t.Users)
	}
	d.res.Tasks = len(launched.Tasks)
	again, err := d.bot.Launch(ctx, camp)
	if err != nil {
		return fmt.Errorf("second launch: %w", err)
	}
	newTasks := 0
	for _, t := range again.Tasks {
		if t.New {
			newTasks++
		}
	}
	d.say("launch again: %d new tasks (exactly once)", newTasks)
	return d.checkHidden()
}

// conversation: affected users reply on their tasks, a day after launch.
func (d *demo) conversation() error {
	ctx := d.ctx
	d.at(time.Date(2027, 1, 16, 10, 0, 0, 0, time.UTC), "affected users reply on their tasks")
	script := []struct {
		user string
		do   func(task int) error
	}{
		{"user03", func(task int) error { // enables MFA and says so
			d.srv.SetMFA(d.users["user03"].PHID, true)
			return d.comment("user03", task, "Done! I enabled TOTP just now.")
		}},
		{"user06", func(task int) error { return d.comment("user06", task, "done") }}, // claims it, falsely
		{"user09", func(task int) error { // no longer needs access
			return d.comment("user09", task, "Please remove me, I no longer need access.")
		}},
		{"user12", func(task int) error {
			return d.comment("user12", task, "exemption: my hardware key is stuck in customs; it arrives in March")
		}},
		{"user15", func(task int) error { // unsubscribes
			c, err := d.client("user15")
			if err != nil {
				return err
			}
			_, err = c.EditTask(ctx, fmt.Sprintf("T%d", task), conduit.Edit{Type: "subscribers.remove", Value: []string{d.users["user15"].PHID}})
			d.say("@user15 unsubscribes from T%d", task)
			return err
		}},
		{"user18", func(task int) error { return d.comment("user18", task, "What is MFA and why do I need it?") }},
	}
	for _, s := range script {
		task, err := d.taskOf(s.user)
		if err != nil {
			return err
		}
		if err := s.do(task); err != nil {
			return err
		}
	}
	d.srv.SetMFA(d.users["user21"].PHID, true)
	d.say("@user21 enables MFA without saying anything")
	return d.tick("replies")
}

// exemptionAndTeam: two approvers grant an exemption; the team approves
// removing the disabled accounts on its own task.
func (d *demo) exemptionAndTeam() error {
	d.at(time.Date(2027, 1, 16, 15, 0, 0, 0, time.UTC), "two approvers decide on the exemption")
	t12, err := d.taskOf("user12")
	if err != nil {
		return err
	}
	// user12 is in a security-level group: two approvers must agree.
	if err := d.comment("bob", t12, "!approve @user12"); err != nil {
		return err
	}
	if err := d.tick("first exemption approval"); err != nil {
		return err
	}
	d.res.ExemptionHeldAfterOneApproval = d.status("user12") == state.StatusPending
	if err := d.comment("alice", t12, "!approve @user12"); err != nil {
		return err
	}
	if err := d.tick("second exemption approval"); err != nil {
		return err
	}

	// Disabled accounts cannot log in: they were listed on one task for
	// the team, not subscribed, and proposed for removal at once.
	if team := d.teamTask(); team != 0 {
		d.at(time.Date(2027, 1, 16, 16, 0, 0, 0, time.UTC), "the team approves removing the disabled accounts (on its own task)")
		for _, who := range []string{"alice", "bob"} {
			if err := d.comment(who, team, "!approve"); err != nil {
				return err
			}
		}
		if err := d.tick("disabled accounts removed"); err != nil {
			return err
		}
	}
	return nil
}

// deadline runs the reminders' ticks and the one past the cutoff, which
// proposes a removal batch, and returns its label.
func (d *demo) deadline() (string, error) {
	for _, r := range []struct {
		at    time.Time
		label string
	}{
		{time.Date(2027, 1, 30, 9, 0, 0, 0, time.UTC), "30 days before the deadline"},
		{time.Date(2027, 2, 22, 9, 0, 0, 0, time.UTC), "7 days before the deadline"},
		{time.Date(2027, 2, 28, 9, 0, 0, 0, time.UTC), "the last day"},
	} {
		d.at(r.at, r.label)
		if err := d.tick(r.label); err != nil {
			return "", err
		}
	}

	d.at(time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC), "past the cutoff: the bot proposes a removal batch")
	if err := d.tick("cutoff"); err != nil {
		return "", err
	}
	return d.openRemoval()
}

// approvals: a refused approval, one on a task (its memberships only)
// and two on the command line.
func (d *demo) approvals(rm string) error {
	ctx := d.ctx
	d.at(time.Date(2027, 3, 1, 11, 0, 0, 0, time.UTC), "approvals")
	// A command-line approval is verified with the approver's own token
	// (user.whoami), shown every membership first, and counts only with
	// the digest of what was shown.
	approve := func(username string) (*bot.ApproveResult, error) {
		session, err := d.client(username)
		if err != nil {
			return nil, err
		}
		shown, err := d.bot.Approve(ctx, "mfa-demo", rm, session, bot.ApproveOptions{})
		if err != nil {
			return nil, err
		}
		return d.bot.Approve(ctx, "mfa-demo", rm, session, bot.ApproveOptions{Confirm: shown.Digest})
	}
	_, err := approve("mallory")
	d.res.RefusedApproval = errors.Is(err, bot.ErrNotApprover)
	d.say("auditbot approve mfa-demo %s --token-file mallory.token: %v", rm, err)
	firstTask, err := d.taskOf(d.anyRemovable())
	if err != nil {
		return err
	}
	if err := d.comment("alice", firstTask, "!approve"); err != nil {
		return err
	}
	if err := d.tick("first approval"); err != nil {
		return err
	}
	d.say("alice's !approve on T%d covers only the memberships listed there", firstTask)
	for _, who := range []string{"alice", "bob"} {
		res, err := approve(who)
		if err != nil {
			return fmt.Errorf("approve as %s: %w", who, err)
		}
		d.say("auditbot approve mfa-demo %s --token-file %s.token --confirm %s: %d of %d approvals, approved=%v", rm, who, res.Digest, res.Approvals, res.Required, res.Approved)
	}
	return nil
}

// removalAndRestore: the removal, a restore asked for and approved, and a
// rerun that writes nothing.
func (d *demo) removalAndRestore() error {
	d.at(time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC), "the bot removes the approved members")
	if err := d.tick("removal"); err != nil {
		return err
	}

	d.at(time.Date(2027, 3, 3, 10, 0, 0, 0, time.UTC), "a removed user enables MFA and asks to come back")
	d.srv.SetMFA(d.users["user06"].PHID, true)
	t6, err := d.taskOf("user06")
	if err != nil {
		return err
	}
	if err := d.comment("user06", t6, "I enabled MFA now, please restore my access."); err != nil {
		return err
	}
	if err := d.tick("restore request"); err != nil {
		return err
	}
	if err := d.comment("alice", t6, "!restore @user06"); err != nil {
		return err
	}
	if err := d.tick("restore"); err != nil {
		return err
	}

	d.at(time.Date(2027, 3, 3, 10, 30, 0, 0, time.UTC), "rerun: a tick with nothing new writes nothing")
	before := len(d.srv.Writes())
	if err := d.tick("rerun"); err != nil {
		return err
	}
	d.res.WritesAfterRerun = len(d.srv.Writes()) - before
	d.say("writes made by the rerun: %d", d.res.WritesAfterRerun)
	return nil
}

// expect derives the expected removals from the seed alone, not from
// anything the bot computed: every member of an audited group without MFA
// or with a disabled account, minus the campaign's exclusions and bots, and
// minus whoever the script makes comply or exempts.
func (d *demo) expect() {
	stays := map[string]bool{"user03": true, "user12": true, "user21": true, "ci-bot": true, "legacy-importer": true}
	names := map[string]string{}
	for n, u := range d.users {
		names[u.PHID] = n
	}
	for _, g := range []string{"WMF-NDA", "acl*security", "acl*sre-team"} {
		for _, m := range d.srv.Members(d.groups[g].PHID) {
			n := names[m]
			if d.nonCompliant[n] && !stays[n] {
				d.res.ExpectedRemoved[n] = append(d.res.ExpectedRemoved[n], g)
			}
		}
	}
}

// checkHidden verifies, as a user outside the first batch, that the task
// is invisible: maniphest.search silently omits it.
func (d *demo) checkHidden() error {
	snap, err := d.store.Snapshot("mfa-demo")
	if err != nil {
		return err
	}
	if len(snap.Batches) == 0 {
		return nil
	}
	c, err := d.client("mallory")
	if err != nil {
		return err
	}
	tasks, err := c.SearchTasks(d.ctx, conduit.TaskQuery{PHIDs: []string{snap.Batches[0].TaskPHID}})
	if err != nil {
		return err
	}
	d.res.TaskHiddenFromOutsider = len(tasks) == 0
	d.say("@mallory (not subscribed) searches for %s: %d result(s)", snap.Batches[0].Monogram(), len(tasks))
	return nil
}

func (d *demo) openRemoval() (string, error) {
	snap, err := d.store.Snapshot("mfa-demo")
	if err != nil {
		return "", err
	}
	for _, r := range snap.Removals {
		if r.Status == state.RemovalProposed {
			return r.Label(), nil
		}
	}
	return "", fmt.Errorf("demo: no removal batch was proposed")
}

// teamTask is the id of the team's task, 0 if there is none.
func (d *demo) teamTask() int {
	snap, _ := d.store.Snapshot("mfa-demo")
	for _, bt := range snap.Batches {
		if bt.Team {
			return bt.TaskID
		}
	}
	return 0
}

func (d *demo) anyRemovable() string {
	snap, _ := d.store.Snapshot("mfa-demo")
	for _, r := range snap.Removals {
		if r.Status == state.RemovalProposed && len(r.Items) > 0 {
			return r.Items[0].Username
		}
	}
	return ""
}

// summary prints who was removed from what and fills the result from what
// the in-process Phabricator now says.
func (d *demo) summary() error {
	snap, err := d.store.Snapshot("mfa-demo")
	if err != nil {
		return err
	}
	d.outcomes(&snap)
	d.reminders(&snap)
	d.removals()
	fmt.Fprintf(d.out, "\n== Final table\n%s", d.finalTable(&snap))
	if t := d.inactivityTable(); t != "" {
		fmt.Fprintf(d.out, "\n== Inactivity review of acl*sre-team (365 days)\n%s", t)
	}
	if t := d.policyTable(); t != "" {
		fmt.Fprintf(d.out, "\n== Policy audit of the three groups\n%s", t)
	}
	total := 0
	for _, gs := range d.res.Removed {
		total += len(gs)
	}
	fmt.Fprintf(d.out, "\n%d tasks filed (at most %d users each), %d memberships removed from %d users, %d restored, %d writes in all.\n",
		d.res.Tasks, d.res.MaxSubscribers, total, len(d.res.Removed), len(d.res.Restored), len(d.srv.Writes()))
	return nil
}

// outcomes records each user's final status, who was restored (and is a
// member of what again) and who unsubscribed.
func (d *demo) outcomes(snap *state.Snapshot) {
	d.res.RestoredMembers = map[string][]string{}
	for _, f := range snap.Findings {
		d.res.Statuses[f.Username] = f.Status
		if f.Status == state.StatusRestored {
			d.res.Restored = append(d.res.Restored, f.Username)
			for _, g := range []string{"WMF-NDA", "acl*security", "acl*sre-team"} {
				if slices.Contains(d.srv.Members(d.groups[g].PHID), f.UserPHID) {
					d.res.RestoredMembers[f.Username] = append(d.res.RestoredMembers[f.Username], g)
				}
			}
		}
		if f.Unsubscribed {
			d.res.Unsubscribed = append(d.res.Unsubscribed, f.Username)
		}
	}
}

// reminders counts the reminders as Phabricator shows them.
func (d *demo) reminders(snap *state.Snapshot) {
	// the bot's comments carrying a
	// reminder marker, and whom they mention.
	d.res.Reminders, d.res.Reminded = map[string]int{}, map[string]int{}
	for _, bt := range snap.Batches {
		for _, c := range d.srv.Comments(bt.TaskID) {
			if c.AuthorPHID != d.users["auditbot"].PHID || !hasMarkerPrefix(c.Text, "mfa-demo", "reminder/") {
				continue
			}
			d.res.Reminders[bt.Monogram()]++
			for _, word := range strings.Fields(c.Text) {
				if name, ok := strings.CutPrefix(strings.Trim(word, ",.:;()"), "@"); ok {
					d.res.Reminded[name]++
				}
			}
		}
	}
}

// removals records who was removed from what.
func (d *demo) removals() {
	// Removed: every user the bot's project.edit calls took out, read
	// from the server's write log, not from the bot's own state.
	names := map[string]string{}
	for n, u := range d.users {
		names[u.PHID] = n
	}
	groupName := map[string]string{}
	for n, g := range d.groups {
		groupName[g.PHID] = n
	}
	for _, w := range d.srv.Writes() {
		if w.Method != "project.edit" || w.ActorPHID != d.users["auditbot"].PHID {
			continue
		}
		for _, tx := range w.Transactions {
			if tx.Type != "members.remove" || len(w.TransactionPHIDs) == 0 {
				continue
			}
			for _, p := range toStrings(tx.Value) {
				d.res.Removed[names[p]] = append(d.res.Removed[names[p]], groupName[w.ObjectPHID])
			}
		}
	}
}

// finalTable is the table of each user's status, the groups they were
// removed from and those they are a member of now.
func (d *demo) finalTable(snap *state.Snapshot) string {
	var sb bytes.Buffer
	tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tSTATUS\tREMOVED FROM\tNOW A MEMBER OF")
	var users []string
	for _, f := range snap.Findings {
		users = append(users, f.Username)
	}
	sort.Strings(users)
	for _, u := range users {
		var now []string
		for _, g := range []string{"WMF-NDA", "acl*security", "acl*sre-team"} {
			if slices.Contains(d.srv.Members(d.groups[g].PHID), d.users[u].PHID) {
				now = append(now, g)
			}
		}
		removed := d.res.Removed[u]
		sort.Strings(removed)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u, d.res.Statuses[u], dash(strings.Join(removed, ", ")), dash(strings.Join(now, ", ")))
	}
	tw.Flush()
	return sb.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func toStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// hasMarkerPrefix reports whether text carries a bot marker of campaign
// whose key starts with prefix.
func hasMarkerPrefix(text, campaign, prefix string) bool {
	for line := range strings.Lines(text) {
		if key, ok := bot.MarkerKey(line, campaign); ok && strings.HasPrefix(key, prefix) {
			return true
		}
	}
	return false
}
