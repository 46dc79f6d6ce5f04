//go:build phorge

package phorgetest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
)

// TestTrackingTaskSummary: a campaign naming a tracking task that does not
// exist fails check (exit 2); one naming the lab's T4 (readable by every
// user) removes acl*sre-team's members without MFA after an approval and,
// once closed, posts its summary on T4 exactly once, even when ticked
// again. The summary subscribes none of the users it names (it mentions
// nobody), and the journal head it names passes verify-journal --head.
func TestTrackingTaskSummary(t *testing.T) {
	env := labEnv(t)
	env.reset(t)
	defer env.reset(t)
	env.allowRemovals(t, slugSRE)
	cutoff := day(20)
	after := cutoff.AddDate(0, 0, 2)
	b := newBot(t, env, "  acl*sre-team: {risk: vandalism}")
	campaign := func(name, task string) {
		b.campaign(name, fmt.Sprintf(`criteria: [mfa]
groups: [acl*sre-team]
cutoff: %s
reminders: []
approvers: acl*phabricator-admins
removal_limit: {max_share: 100%%}
tracking_task: %s
`, cutoff.Format(time.DateOnly), task))
	}

	campaign("lab-track-none", "T99999")
	if r := b.run("check", "lab-track-none"); r.code != 2 || !strings.Contains(r.stdout+r.stderr, "tracking_task T99999: no such task, or the bot may not see it") {
		t.Errorf("check with a missing tracking task: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := removeFile(b, "lab-track-none"); err != nil {
		t.Fatal(err)
	}

	const name = "lab-track"
	const tracking = "T4"
	campaign(name, tracking)
	trackingPHID := env.taskPHID(t, "ADMIN_TOKEN", 4)
	subsBefore := env.tasks(t, "ADMIN_TOKEN", map[string]any{"ids": []int{4}})[0].Subscribers
	affected := env.expectedMFA(t, nil, slugSRE)
	if len(affected) == 0 {
		t.Fatal("the lab's acl*sre-team has nobody without MFA")
	}
	out := b.ok("check", name)
	if !strings.Contains(out, "tracking task visible") {
		t.Errorf("check shows no tracking task row:\n%s", out)
	}
	b.ok("launch", name)
	b.ok("tick", "--allow-future", "--now", after.Format(time.RFC3339))
	if r := b.approveCLI(name, "R1", "ADMIN_TOKEN", "admin"); r.code != 0 {
		t.Fatalf("approve as admin: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	b.ok("tick", "--allow-future", "--now", after.Add(time.Hour).Format(time.RFC3339))
	// A quiet period (approval_reminder, 7 days) after the removal: it closes.
	b.ok("tick", "--allow-future", "--now", after.AddDate(0, 0, 9).Format(time.RFC3339))
	b.ok("tick", "--allow-future", "--now", after.AddDate(0, 0, 10).Format(time.RFC3339))

	if n := env.countMarked(t, trackingPHID, name, "close/tracking"); n != 1 {
		t.Fatalf("summaries on %s: %d, want 1\n%s", tracking, n, b.ok("status", name))
	}
	var summary string
	for _, c := range env.comments(t, "AUDITBOT_TOKEN", trackingPHID) {
		if strings.Contains(c.Text, bot.Marker(name, "close/tracking")) {
			summary = c.Text
		}
	}
	t.Logf("summary on %s:\n%s", tracking, summary)
	for _, u := range affected {
		if !strings.Contains(summary, "`"+u+"`") {
			t.Errorf("the summary does not name removed user %s in monospace", u)
		}
	}
	if !strings.Contains(summary, "`admin`") || strings.Contains(summary, "@") {
		t.Errorf("the summary names its approver as %q and no @mention", "`admin`")
	}
	// Nobody it names was subscribed (a mention would subscribe them).
	subsAfter := env.tasks(t, "ADMIN_TOKEN", map[string]any{"ids": []int{4}})[0].Subscribers
	for _, s := range subsAfter {
		if !slices.Contains(subsBefore, s) && s != env.userPHID(t, "auditbot") {
			t.Errorf("the summary subscribed %s to %s", s, tracking)
		}
	}
	// The head it names is in the journal.
	i := strings.Index(summary, "--head "+name+"=")
	if i < 0 {
		t.Fatalf("no head in the summary")
	}
	head := strings.Fields(summary[i+len("--head "):])[0]
	b.ok("verify-journal", name, "--head", head)

	// Ticking again posts nothing more.
	b.ok("tick", "--allow-future", "--now", after.AddDate(0, 0, 20).Format(time.RFC3339))
	if n := env.countMarked(t, trackingPHID, name, "close/tracking"); n != 1 {
		t.Errorf("summaries on %s after a rerun: %d, want 1", tracking, n)
	}
}

// TestSuggestOnLab: with a campaign auditing acl*sre-team, suggest lists
// the lab's other access groups: acl*security (name and lock icon, with
// its MFA share), WMF-NDA (lock icon) and acl*phabricator-admins (the
// approvers), never acl*sre-team; it writes nothing.
func TestSuggestOnLab(t *testing.T) {
	env := labEnv(t)
	env.reset(t)
	b := newBot(t, env, "  acl*sre-team: {risk: vandalism}")
	b.campaign("lab-suggest", fmt.Sprintf("criteria: [mfa]\ngroups: [acl*sre-team]\ncutoff: %s\napprovers: acl*phabricator-admins\n", day(30).Format(time.DateOnly)))
	var res struct {
		Suggestions []struct {
			Project string   `json:"project"`
			Reasons []string `json:"reasons"`
			Roles   []string `json:"roles"`
			Members int      `json:"members"`
			Enabled int      `json:"enabled"`
			WithMFA *int     `json:"with_mfa"`
			Visible bool     `json:"visible"`
		} `json:"suggestions"`
		TasksRead int `json:"tasks_read"`
	}
	b.okJSON(&res, "suggest")
	t.Logf("suggest:\n%s", b.ok("suggest"))
	got := map[string]string{}
	for _, s := range res.Suggestions {
		got[s.Project] = strings.Join(s.Reasons, ", ")
		if s.Project == "acl*sre-team" {
			t.Errorf("suggests acl*sre-team, which the campaign audits")
		}
		if s.Visible && s.WithMFA == nil {
			t.Errorf("%s: no MFA share (the bot is an admin)", s.Project)
		}
	}
	for project, reasons := range map[string]string{"acl*security": "name starts with acl*, lock icon", "WMF-NDA": "lock icon", "acl*phabricator-admins": "name starts with acl*, lock icon"} {
		if !strings.HasPrefix(got[project], reasons) {
			t.Errorf("%s: reasons %q, want %q", project, got[project], reasons)
		}
	}
	if res.TasksRead == 0 {
		t.Errorf("read no task")
	}
}

// removeFile removes campaigns/NAME.yaml.
func removeFile(b *botDir, name string) error {
	return os.Remove(filepath.Join(b.dir, "campaigns", name+".yaml"))
}
