package crashtest

import (
	"fmt"
	"strings"
	"time"
)

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
		args = append(args, "--now", s.at.Format(time.RFC3339))
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
			if key, ok := markerKey(c.Text); ok && strings.HasPrefix(key, "removal/") && strings.Contains(key, "/proposal/") {
				out = append(out, tk.ID)
				break
			}
		}
	}
	return out
}

// script is the campaign, launch to restore. Dates are in year, the
// campaign's year (its cutoff is year-02-28).
func script(year int) []step {
	at := func(month time.Month, day, hour, min int) time.Time {
		return time.Date(year, month, day, hour, min, 0, 0, time.UTC)
	}
	tick := []string{"tick"}
	return []step{
		{name: "launch", cmd: []string{"launch", campaignName}},
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
		{name: "30d reminder", at: at(time.January, 30, 9, 0), cmd: tick},
		{name: "7d reminder", at: at(time.February, 22, 9, 0), cmd: tick},
		{name: "cutoff: propose and announce", at: at(time.March, 1, 9, 0), cmd: tick},
		{name: "approvals and removal", at: at(time.March, 1, 11, 0), cmd: tick, actions: []action{
			onAnnouncedTasks("alice", "!approve"),
			onAnnouncedTasks("bob", "!approve"),
		}},
		{name: "restore request", at: at(time.March, 3, 10, 0), cmd: tick, actions: []action{
			enableMFA("erin"),
			says("erin", "I enabled MFA now, please restore my access."),
		}},
		{name: "restore", at: at(time.March, 3, 10, 30), cmd: tick, actions: []action{
			onTaskOf("alice", "erin", "!restore @erin"),
		}},
		{name: "quiet rerun", at: at(time.March, 3, 11, 0), cmd: tick},
	}
}

// expectedMembers are the audited groups' members at the end, from the
// seed and the script alone: dave complied, gina was exempted, erin was
// removed and restored; frank (voluntary), hank and ivan were removed.
var expectedMembers = map[string][]string{
	groupNDA:      {"ci-bot", "dave", "erin", "gina", "grace"},
	groupSecurity: {"dave", "grace"},
	groupSRE:      {"grace"},
}

// expectedChanges are the membership changes the bot makes, each once.
var expectedChanges = map[string]int{
	"remove erin from WMF-NDA":       1,
	"remove frank from WMF-NDA":      1,
	"remove frank from acl*sre-team": 1,
	"remove hank from acl*security":  1,
	"remove ivan from acl*sre-team":  1,
	"add erin to WMF-NDA":            1,
}
