package crashtest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/auditbot/auditbot/conduit"
)

// scenario is one scripted campaign with everything about it that is
// known before the binary runs: the seed, the script, and the outcome
// worked out by hand from them.
type scenario struct {
	// name is the campaign's, and the sweep's subtest's.
	name string
	// campaign is the campaign file for a campaign in year.
	campaign func(year int) string
	// groups are the audited groups; seed their members at the start
	// (other projects start empty).
	groups []string
	seed   map[string][]string
	// team are the team project's members; nil means carol and alice.
	team   []string
	script func(year int) []step
	// members are the audited groups' members at the end, changes the
	// membership changes the bot makes, each once.
	members map[string][]string
	changes map[string]int
	// paths are the write paths the run without a crash must take, each
	// at least once (see world.paths for the names).
	paths []string
	// tracking seeds the campaign's tracking task, T1, filed by alice
	// and readable by every user, before anything else.
	tracking bool
}

// scenarios are the campaigns the sweeps play, each in worlds of its own.
func scenarios() []*scenario { return []*scenario{mfaScenario(), keepScenario()} }

// step is one moment of the campaign: the clock is set to at, the actions
// (what people do in Phabricator) happen, then the binary runs cmd once.
// A step killed mid-way runs cmd again, without repeating the actions: the
// people already did what they did.
type step struct {
	name string
	// at is the simulated time (the server's clock and tick's --now); zero
	// means the wall clock, for launch, which has no --now.
	at      time.Time
	actions []action
	cmd     []string
}

// action is something a person does through Phabricator between runs.
type action struct {
	what string
	do   func(w *world) error
}

// args are the binary's arguments for the step.
func (s step) args() []string {
	args := append([]string(nil), s.cmd...)
	if len(args) > 0 && args[0] == "tick" && !s.at.IsZero() {
		args = append(args, "--allow-future", "--now", s.at.Format(time.RFC3339))
	}
	return args
}

// enableMFA makes user enroll in MFA.
func enableMFA(user string) action {
	return action{"@" + user + " enables MFA", func(w *world) error {
		w.srv.SetMFA(w.users[user].PHID, true)
		return nil
	}}
}

// says posts text as user on user's own task.
func says(user, text string) action {
	return onTaskOf(user, user, text)
}

// onTaskOf posts text as author on the task subject is on.
func onTaskOf(author, subject, text string) action {
	return action{fmt.Sprintf("@%s on @%s's task: %q", author, subject, text), func(w *world) error {
		task, err := w.taskOf(subject)
		if err != nil {
			return err
		}
		return w.comment(author, task, text)
	}}
}

// onAnnouncedTasks posts text as author on every task where the bot has
// announced a removal batch (approvals count per task, after the
// announcement).
func onAnnouncedTasks(author, text string) action {
	return action{fmt.Sprintf("@%s on every task with a removal announcement: %q", author, text), func(w *world) error {
		// None (after a kill that the bot has not recovered from yet)
		// means nothing to approve; the golden run checks that removals
		// happen.
		for _, task := range w.announcedTasks() {
			if err := w.comment(author, task, text); err != nil {
				return err
			}
		}
		return nil
	}}
}

// announcedTasks are the tasks carrying a bot comment that announces a
// removal batch (marker removal/R<n>/proposal/...).
func (w *world) announcedTasks() []int {
	var out []int
	for _, tk := range w.srv.Tasks() {
		for _, c := range w.srv.Comments(tk.ID) {
			if c.AuthorPHID != w.users["auditbot"].PHID {
				continue
			}
			if key, ok := markerKey(w.sc.name, c.Text); ok && strings.HasPrefix(key, "removal/") && strings.Contains(key, "/proposal/") {
				out = append(out, tk.ID)
				break
			}
		}
	}
	return out
}

// onTaskOfDo makes edits as author on the task subject is on, through
// Conduit: what the web UI does when someone changes a policy, subscribes
// someone or assigns the task.
func onTaskOfDo(author, subject, what string, edits func(w *world) []conduit.Edit) action {
	return action{fmt.Sprintf("@%s on @%s's task: %s", author, subject, what), func(w *world) error {
		task, err := w.taskOf(subject)
		if err != nil {
			return err
		}
		return w.edit(author, task, edits(w)...)
	}}
}

// setCampaign rewrites the campaign file (campaign files are read again at
// every tick): the operator changes a key.
func setCampaign(what string, file func(year int) string) action {
	return action{"the operator " + what, func(w *world) error {
		w.tw.Write(w.campaignFile(), file(w.year))
		return nil
	}}
}

// addsMember adds user to group as admin, through Conduit (the write log
// then replays to the members the server has).
func addsMember(admin, user, group string) action {
	return action{fmt.Sprintf("@%s adds @%s to %s", admin, user, group), func(w *world) error {
		return w.as(admin, func(ctx context.Context, c *conduit.Client) error {
			_, err := c.EditProjectMembers(ctx, w.groups[group].PHID, []string{w.users[user].PHID}, nil)
			return err
		})
	}}
}

// mfaCampaign is the campaign file of mfaScenario, with extra keys.
func mfaCampaign(extra string) func(year int) string {
	return func(year int) string {
		return fmt.Sprintf(`name: crash-mfa
title: "MFA is required for private groups"
criteria: [mfa, disabled]
groups: [WMF-NDA, acl*security, acl*sre-team]
batch_size: 2
cutoff: %d-02-28
reminders: [30d, 7d]
team: Security-Team
approvers: acl*phabricator-admins
tracking_task: T1
%s`, year, extra)
	}
}

// mfaScenario is an MFA campaign from launch to closing: six affected
// users, two per task, so three tasks; every group needs two approvers.
// Between the runs, an administrator opens a task to everyone and gives
// another to people it is not for (the policies chore takes both back);
// the operator caps removals before the cutoff, so that the approved batch
// is held by the guard-rail, then lifts the cap; once everything is
// decided and a quiet week has passed, the campaign closes its tasks.
//
// Without MFA: dave, erin, frank, gina, hank, ivan (the six affected
// users) and ci-bot (a bot, skipped).
func mfaScenario() *scenario {
	return &scenario{
		name:     "crash-mfa",
		campaign: mfaCampaign(""),
		groups:   []string{groupNDA, groupSecurity, groupSRE},
		seed: map[string][]string{
			groupNDA:      {"dave", "erin", "frank", "gina", "grace", "ci-bot"},
			groupSecurity: {"dave", "hank", "grace"},
			groupSRE:      {"frank", "ivan", "grace"},
		},
		script:   mfaScript,
		tracking: true,
		// dave complied, gina was exempted, erin was removed and
		// restored; frank (voluntary), hank and ivan were removed.
		members: map[string][]string{
			groupNDA:      {"ci-bot", "dave", "erin", "gina", "grace"},
			groupSecurity: {"dave", "grace"},
			groupSRE:      {"grace"},
		},
		changes: map[string]int{
			"remove erin from WMF-NDA":       1,
			"remove frank from WMF-NDA":      1,
			"remove frank from acl*sre-team": 1,
			"remove hank from acl*security":  1,
			"remove ivan from acl*sre-team":  1,
			"add erin to WMF-NDA":            1,
		},
		paths: []string{
			// dave and erin share a task and reply in the same tick.
			"answers 2",
			// gina's exemption request asks the approvers.
			"edit comment(replies) + subscribers.add(#acl*phabricator-admins)",
			"journal exemption-decision",
			"comment reminder/",
			"journal policy-restored",
			"edit view(",
			"journal access-revoked",
			"edit subscribers.remove(@grace) + owner()",
			"comment removal/R1/proposal/",
			"comment removal/R1/held/",
			"journal removal-released",
			"journal members-removed",
			"comment removal/R1/notice/",
			"journal member-restored",
			"comment close/batch-",
			"edit status(resolved) + comment(close)",
			"journal campaign-closed",
			"comment close/tracking",
			"journal tracking-summary",
		},
	}
}

// mfaScript is mfaScenario's script. Dates are in year, the campaign's
// year (its cutoff is year-02-28).
func mfaScript(year int) []step {
	at := func(month time.Month, day, hour, min int) time.Time {
		return time.Date(year, month, day, hour, min, 0, 0, time.UTC)
	}
	tick := []string{"tick"}
	return []step{
		{name: "launch", cmd: []string{"launch", "crash-mfa"}},
		{name: "replies", at: at(time.January, 16, 10, 0), cmd: tick, actions: []action{
			enableMFA("dave"),
			says("dave", "Done! I enabled TOTP just now."),
			says("erin", "done"), // claims it, falsely
			says("frank", "Please remove me, I no longer need access."),
			says("gina", "exemption: my hardware key is stuck in customs; it arrives in March"),
			says("hank", "What is MFA and why do I need it?"),
		}},
		{name: "exemption approved", at: at(time.January, 16, 15, 0), cmd: tick, actions: []action{
			onTaskOf("bob", "gina", "!approve @gina"),
			onTaskOf("alice", "gina", "!approve @gina"),
		}},
		{name: "30d reminder; a task made public", at: at(time.January, 30, 9, 0), cmd: tick, actions: []action{
			// alice, an administrator in the team, may edit the tasks.
			onTaskOfDo("alice", "hank", "makes it public", func(*world) []conduit.Edit {
				return []conduit.Edit{{Type: "view", Value: "public"}}
			}),
		}},
		{name: "7d reminder; a task given to others", at: at(time.February, 22, 9, 0), cmd: tick, actions: []action{
			onTaskOfDo("alice", "ivan", "subscribes @grace and assigns it to herself", func(w *world) []conduit.Edit {
				return []conduit.Edit{conduit.AddSubscribersEdit(w.users["grace"].PHID), {Type: "owner", Value: w.users["alice"].PHID}}
			}),
		}},
		{name: "cutoff: propose and announce", at: at(time.March, 1, 9, 0), cmd: tick, actions: []action{
			setCampaign("caps removals at one member per group", mfaCampaign("removal_limit: {max_count: 1}\n")),
		}},
		{name: "approvals; removal held", at: at(time.March, 1, 11, 0), cmd: tick, actions: []action{
			onAnnouncedTasks("alice", "!approve"),
			onAnnouncedTasks("bob", "!approve"),
		}},
		{name: "cap lifted: removal", at: at(time.March, 1, 12, 0), cmd: tick, actions: []action{
			setCampaign("lifts the cap", mfaCampaign("")),
		}},
		{name: "restore request", at: at(time.March, 3, 10, 0), cmd: tick, actions: []action{
			enableMFA("erin"),
			says("erin", "I enabled MFA now, please restore my access."),
		}},
		{name: "restore", at: at(time.March, 3, 10, 30), cmd: tick, actions: []action{
			onTaskOf("alice", "erin", "!restore @erin"),
		}},
		// A quiet week (approval_reminder, 7d) after the restore.
		{name: "close", at: at(time.March, 11, 10, 0), cmd: tick},
		{name: "quiet rerun", at: at(time.March, 11, 11, 0), cmd: tick},
	}
}

// keepCampaign is keepScenario's campaign file.
func keepCampaign(year int) string {
	return fmt.Sprintf(`name: crash-keep
title: "Do you still need access to acl*sre-team?"
criteria: [reconfirm, disabled]
groups: [acl*sre-team]
batch_size: 2
cutoff: %d-02-28
reminders: [7d]
team: Security-Team
approvers: acl*phabricator-admins
every: 7d
notice: 20d
`, year)
}

// keepScenario is a weekly reconfirmation of acl*sre-team: every member
// must say they still need it. frank, grace and ivan are asked on two
// tasks; judy's account is disabled, so she is listed on the team's task
// and proposed for removal at once. frank and grace reply; two approvers
// keep ivan with !keep. The first run files the standing task and posts
// its summary; kate, added to the group, is found by the second run and
// gets a task of her own in a new batch; the approvers, reminded of
// judy's batch a week later and the team told after two, approve it.
func keepScenario() *scenario {
	return &scenario{
		name:     "crash-keep",
		campaign: keepCampaign,
		groups:   []string{groupSRE},
		seed:     map[string][]string{groupSRE: {"frank", "grace", "ivan", "judy"}},
		// bob is in the team, so he sees every task and can !keep: the
		// approvers' project is subscribed only where the bot asks it for
		// a decision, and bob is no administrator.
		team:    []string{"carol", "alice", "bob"},
		script:  keepScript,
		members: map[string][]string{groupSRE: {"frank", "grace", "ivan", "kate"}},
		changes: map[string]int{"remove judy from acl*sre-team": 1},
		paths: []string{
			// The team's task for judy, and its proposal, which subscribes
			// the approvers.
			"task task/batch-3",
			"edit comment(removal) + subscribers.add(#acl*phabricator-admins)",
			"journal recurring-run",
			"task recurring/standing-task",
			"comment recurring/run-1/summary",
			"comment recurring/run-2/summary",
			"comment recurring/run-3/summary",
			// kate's batch, from run 2.
			"task task/batch-4",
			// frank and grace share a task and reply in the same tick;
			// both approvers keep ivan in the same tick.
			"answers 2",
			"journal kept by bob",
			"comment removal/R1/approval-reminder/batch-3/1",
			"comment removal/R1/approval-reminder/batch-3/2",
			"comment removal/R1/overdue/standing",
			"journal members-removed",
		},
	}
}

// keepScript is keepScenario's script, in year (cutoff year-02-28).
func keepScript(year int) []step {
	at := func(month time.Month, day, hour, min int) time.Time {
		return time.Date(year, month, day, hour, min, 0, 0, time.UTC)
	}
	tick := []string{"tick"}
	return []step{
		{name: "launch", cmd: []string{"launch", "crash-keep"}},
		{name: "run 1; replies", at: at(time.January, 10, 10, 0), cmd: tick, actions: []action{
			says("frank", "I still need it, I am on call."),
			says("grace", "keep"),
		}},
		{name: "run 2: kate; ivan kept", at: at(time.January, 17, 10, 0), cmd: tick, actions: []action{
			addsMember("alice", "kate", groupSRE),
			onTaskOf("alice", "ivan", "!keep @ivan"),
			onTaskOf("bob", "ivan", "!keep @ivan"),
		}},
		{name: "run 3; overdue", at: at(time.January, 24, 10, 0), cmd: tick, actions: []action{
			says("kate", "still need it"),
		}},
		{name: "approvals and removal", at: at(time.January, 24, 12, 0), cmd: tick, actions: []action{
			onAnnouncedTasks("alice", "!approve"),
			onAnnouncedTasks("bob", "!approve"),
		}},
		{name: "quiet rerun", at: at(time.January, 24, 13, 0), cmd: tick},
	}
}
