package demo

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
)

// The second campaign: the yearly review of acl*sre-team, after the MFA
// campaign has run its course.
const inactivityYAML = `name: sre-inactivity-demo
title: "Yearly review of acl*sre-team: are you still active?"
criteria: [inactive]
inactive: {window: 365d}
groups: [acl*sre-team]
batch_size: 20
cutoff: 2027-04-15
reminders: []
team: Security-Team
approvers: acl*phabricator-admins
`

// inactivityAt is when the review is planned and launched.
var inactivityAt = time.Date(2027, 3, 4, 9, 0, 0, 0, time.UTC)

// InactivityResult is what the inactivity review did.
type InactivityResult struct {
	// Flagged are the users the bot's plan flagged; Expected is derived
	// from the seeded activity (lastOwnStory) and the group's members.
	Flagged, Expected []string
	// Statuses are the review's findings' statuses at the end.
	Statuses map[string]state.Status
	// ScanCalls and ScanStories are what the plan's activity scan cost.
	ScanCalls, ScanStories int
}

// lastOwnStory is the seed of the review: days before inactivityAt of
// each member's newest story of their own (-1: none). user20 has only
// stories the bot's writes caused about them; newhire's account is a
// month old.
var lastOwnStory = map[string]int{
	"user04": 400, // 13 months ago: flagged, answers "I am still here"
	"user08": 20,
	"user12": 335, // 11 months ago: not flagged
	"user16": 100,
	"user20": -1, // only the bot's stories about them
	"user32": -1,
	"user40": 60,
	"user44": -1,
	"user53": 500,
	"user55": 1,
	"ci-bot": 2,
}

// seedActivity publishes the backdated feed of lastOwnStory on a public
// task, and a new hire who joined acl*sre-team last month.
func (d *demo) seedActivity() {
	ago := func(days int) time.Time { return inactivityAt.AddDate(0, 0, -days) }
	chatter := d.srv.AddTask(phabtest.TaskSpec{Title: "SRE on-call handover notes", AuthorPHID: d.users["carol"].PHID, At: ago(900)})
	for name, days := range lastOwnStory {
		if days >= 0 {
			d.srv.AddComment(phabtest.CommentSpec{TaskID: chatter.ID, AuthorPHID: d.users[name].PHID, Text: "handover done", At: ago(days)})
		}
	}
	for _, days := range []int{3, 40} {
		d.srv.AddStory(d.users["auditbot"].PHID, d.users["user20"].PHID, ago(days))
	}
	hire := d.srv.AddUser(phabtest.UserSpec{Username: "newhire", RealName: "New Hire", MFA: true, Created: ago(30)})
	d.users["newhire"] = hire
	d.srv.AddMembers(d.groups["acl*sre-team"].PHID, hire.PHID)
}

// expectInactive derives who the review must flag from the seed and the
// group's members now: humans (not bots, not disabled) whose account is
// older than the window and who have no story of their own within it.
func (d *demo) expectInactive() []string {
	disabled := map[string]bool{"user50": true, "user51": true, "user52": true}
	names := map[string]string{}
	for n, u := range d.users {
		names[u.PHID] = n
	}
	var out []string
	for _, m := range d.srv.Members(d.groups["acl*sre-team"].PHID) {
		n := names[m]
		days, seeded := lastOwnStory[n]
		switch {
		case n == "ci-bot", n == "newhire", disabled[n]:
		case !seeded || days < 0 || days > 365:
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// inactivity runs the review: plan (with what the scan cost), launch, one
// flagged member answers "I am still here", a tick keeps them.
func (d *demo) inactivity(camp *campaigns.Campaign) error {
	ctx := d.ctx
	d.at(inactivityAt, "the yearly inactivity review of acl*sre-team (365 days of no own activity)")
	d.seedActivity()
	res := &InactivityResult{Expected: d.expectInactive(), Statuses: map[string]state.Status{}}
	d.res.Inactivity = res
	plan, err := d.bot.Plan(ctx, camp)
	if err != nil {
		return fmt.Errorf("inactivity plan: %w", err)
	}
	for _, f := range plan.Findings {
		res.Flagged = append(res.Flagged, f.Username)
	}
	if a := plan.ActivityScan; a != nil {
		res.ScanCalls, res.ScanStories = a.Calls, a.Stories
	}
	d.say("plan: %d of %d members flagged %v; activity scan: %d feed.query calls, %d stories read",
		len(res.Flagged), plan.Groups[0].Members, res.Flagged, res.ScanCalls, res.ScanStories)
	for _, s := range plan.Skipped {
		d.say("not audited: @%s (%s)", s.Username, s.Reason)
	}
	if _, err := d.bot.Launch(ctx, camp); err != nil {
		return fmt.Errorf("inactivity launch: %w", err)
	}
	snap, err := d.store.Snapshot(camp.Name)
	if err != nil {
		return err
	}
	for _, bt := range snap.Batches {
		d.say("filed %s for %d flagged member(s): a reply keeps access", bt.Monogram(), len(bt.UserPHIDs))
	}

	d.at(inactivityAt.Add(26*time.Hour), "a flagged member answers")
	task := 0
	for _, f := range snap.Findings {
		if f.Username == "user04" {
			for _, bt := range snap.Batches {
				if bt.Index == f.Batch {
					task = bt.TaskID
				}
			}
		}
	}
	if task == 0 {
		return fmt.Errorf("demo: @user04 is on no inactivity task")
	}
	if err := d.comment("user04", task, "I am still here, I review the on-call runbooks every quarter."); err != nil {
		return err
	}
	d.srv.ResetCalls()
	report, err := d.bot.Tick(ctx, bot.TickOptions{Campaigns: []string{camp.Name}})
	if report != nil {
		for _, c := range report.Campaigns {
			for _, e := range c.Events {
				d.say("bot: %s", e)
			}
		}
	}
	if err != nil {
		return err
	}
	snap, err = d.store.Snapshot(camp.Name)
	if err != nil {
		return err
	}
	for _, f := range snap.Findings {
		res.Statuses[f.Username] = f.Status
	}
	return nil
}

// inactivityTable is the final table's second part: every member of
// acl*sre-team, their last own activity as seeded, and the outcome.
func (d *demo) inactivityTable() string {
	res := d.res.Inactivity
	if res == nil {
		return ""
	}
	names := map[string]string{}
	for n, u := range d.users {
		names[u.PHID] = n
	}
	var members []string
	for _, m := range d.srv.Members(d.groups["acl*sre-team"].PHID) {
		members = append(members, names[m])
	}
	sort.Strings(members)
	var sb bytes.Buffer
	tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tLAST OWN ACTIVITY\tFLAGGED\tSTATUS")
	for _, n := range members {
		last := "never"
		if days, ok := lastOwnStory[n]; ok && days >= 0 {
			last = fmt.Sprintf("%d days ago", days)
			if days == 1 {
				last = "1 day ago"
			}
		}
		if n == "newhire" {
			last = "never (account 30 days old)"
		}
		flagged := "no"
		if slices.Contains(res.Flagged, n) {
			flagged = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n, last, flagged, dash(string(res.Statuses[n])))
	}
	tw.Flush()
	return sb.String()
}
