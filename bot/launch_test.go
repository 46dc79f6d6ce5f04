package bot_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/internal/testkit"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
)

func TestPlan(t *testing.T) {
	tests := []struct {
		name         string
		fx           fixture
		wantFindings func(h *harness) []bot.PlanFinding
		wantSkipped  []bot.Skipped
		wantBatches  [][]string
	}{
		{
			name: "mfa",
			fx:   fixture{},
			wantFindings: func(h *harness) []bot.PlanFinding {
				return []bot.PlanFinding{
					{Username: "erin", PHID: h.phid("erin"), Groups: []string{groupSecurity}, Reasons: []string{"mfa"}, Batch: 1},
					{Username: "nomfa1", PHID: h.phid("nomfa1"), Groups: []string{groupSecurity, groupNDA}, Reasons: []string{"mfa"}, Batch: 1},
					{Username: "nomfa2", PHID: h.phid("nomfa2"), Groups: []string{groupSRE, groupNDA}, Reasons: []string{"mfa"}, Batch: 2},
					{Username: "nomfa3", PHID: h.phid("nomfa3"), Groups: []string{groupSecurity}, Reasons: []string{"mfa"}, Batch: 2},
					{Username: "nomfa4", PHID: h.phid("nomfa4"), Groups: []string{groupSRE}, Reasons: []string{"mfa"}, Batch: 3},
				}
			},
			wantSkipped: []bot.Skipped{
				{Username: "ci-bot", Reason: "bot account"},
				{Username: "excluded1", Reason: "excluded by the campaign file"},
				{Username: "gone1", Reason: "disabled account (the campaign does not audit disabled accounts)"},
				{Username: "wikitech-l", Reason: "mailing list"},
			},
			wantBatches: [][]string{{"@erin", "@nomfa1"}, {"@nomfa2", "@nomfa3"}, {"@nomfa4"}},
		},
		{
			name: "mfa and disabled",
			fx:   fixture{criteria: "[mfa, disabled]", batchSize: 4},
			wantFindings: func(h *harness) []bot.PlanFinding {
				return []bot.PlanFinding{
					// The disabled account cannot log in: it is listed on the
					// team's task (batch 3), which subscribes no listed user.
					{Username: "erin", PHID: h.phid("erin"), Groups: []string{groupSecurity}, Reasons: []string{"mfa"}, Batch: 1},
					{Username: "gone1", PHID: h.phid("gone1"), Groups: []string{groupNDA}, Reasons: []string{"disabled"}, Batch: 3},
					{Username: "nomfa1", PHID: h.phid("nomfa1"), Groups: []string{groupSecurity, groupNDA}, Reasons: []string{"mfa"}, Batch: 1},
					{Username: "nomfa2", PHID: h.phid("nomfa2"), Groups: []string{groupSRE, groupNDA}, Reasons: []string{"mfa"}, Batch: 1},
					{Username: "nomfa3", PHID: h.phid("nomfa3"), Groups: []string{groupSecurity}, Reasons: []string{"mfa"}, Batch: 1},
					{Username: "nomfa4", PHID: h.phid("nomfa4"), Groups: []string{groupSRE}, Reasons: []string{"mfa"}, Batch: 2},
				}
			},
			wantSkipped: []bot.Skipped{
				{Username: "ci-bot", Reason: "bot account"},
				{Username: "excluded1", Reason: "excluded by the campaign file"},
				{Username: "wikitech-l", Reason: "mailing list"},
			},
			wantBatches: [][]string{{"@erin", "@nomfa1", "@nomfa2", "@nomfa3"}, {"@nomfa4"}, nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.fx)
			p, err := h.bot.Plan(h.ctx, h.camp)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if diff := cmp.Diff(tt.wantFindings(h), p.Findings); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSkipped, p.Skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
			var gotGroups []string
			for _, g := range p.Groups {
				gotGroups = append(gotGroups, g.Name+"/"+g.Risk)
				if g.RequiredApprovals != 2 {
					t.Errorf("group %s: required approvals %d, want 2", g.Name, g.RequiredApprovals)
				}
			}
			// Riskiest first: internal, then the security groups by name.
			if diff := cmp.Diff([]string{"acl*sre-team/internal", "acl*security/security", "WMF-NDA/security"}, gotGroups); diff != "" {
				t.Errorf("groups, riskiest first (-want +got):\n%s", diff)
			}
			var gotBatches [][]string
			for _, task := range p.Tasks {
				var users []string
				for _, s := range task.Subscribers {
					if strings.HasPrefix(s, "@") {
						users = append(users, s)
					}
				}
				if len(users) > h.camp.BatchSize {
					t.Errorf("task %d has %d users, more than batch_size %d", task.Batch, len(users), h.camp.BatchSize)
				}
				if diff := cmp.Diff([]string{"#security-team"}, task.Subscribers[len(users):]); diff != "" {
					t.Errorf("task %d: subscribers after the users: the team only (-want +got):\n%s", task.Batch, diff)
				}
				if task.ViewPolicy != conduit.PolicySubscribers || task.EditPolicy != conduit.PolicyAdmin {
					t.Errorf("task %d policies view=%q edit=%q, want subscribers and admin", task.Batch, task.ViewPolicy, task.EditPolicy)
				}
				gotBatches = append(gotBatches, users)
			}
			if diff := cmp.Diff(tt.wantBatches, gotBatches); diff != "" {
				t.Errorf("batches (-want +got):\n%s", diff)
			}
			if w := h.srv.Writes(); len(w) != 0 {
				t.Errorf("Plan wrote to Phabricator: %+v", w)
			}
			if ok, err := h.store.HasCampaign(campaignName); err != nil || ok {
				t.Errorf("Plan recorded the campaign (HasCampaign = %v, %v)", ok, err)
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	t.Run("unknown group", func(t *testing.T) {
		h := newHarness(t, fixture{groups: "[WMF-NDA, acl*no-such-group]"})
		_, err := h.bot.Plan(h.ctx, h.camp)
		if !errors.Is(err, bot.ErrInput) {
			t.Fatalf("Plan error = %v, want ErrInput", err)
		}
		if !strings.Contains(err.Error(), "acl*no-such-group") {
			t.Errorf("error %q does not name the unknown group", err)
		}
		if w := h.srv.Writes(); len(w) != 0 {
			t.Errorf("writes: %+v", w)
		}
	})
	t.Run("bot not admin", func(t *testing.T) {
		h := newHarness(t, fixture{botNotAdmin: true})
		_, err := h.bot.Plan(h.ctx, h.camp)
		if !errors.Is(err, bot.ErrCheckFailed) {
			t.Fatalf("Plan error = %v, want ErrCheckFailed", err)
		}
		for _, want := range []string{"mfa", "admin", "auditbot"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	})
}

func TestLaunch(t *testing.T) {
	h := newHarness(t, fixture{})
	res := h.launch()
	if res.Resumed {
		t.Errorf("first launch reported Resumed")
	}
	team := h.group(groupTeam).PHID
	wantUsers := [][]string{{"erin", "nomfa1"}, {"nomfa2", "nomfa3"}, {"nomfa4"}}
	if len(res.Tasks) != len(wantUsers) {
		t.Fatalf("launch filed %d tasks, want %d: %+v", len(res.Tasks), len(wantUsers), res.Tasks)
	}
	tasks := h.srv.Tasks()
	if len(tasks) != len(wantUsers) {
		t.Fatalf("server has %d tasks, want %d", len(tasks), len(wantUsers))
	}
	for i, lt := range res.Tasks {
		if !lt.New || lt.Batch != i+1 || lt.Users != len(wantUsers[i]) {
			t.Errorf("launch task %d = %+v", i, lt)
		}
		task := tasks[i]
		if lt.Task != "T"+itoa(task.ID) {
			t.Errorf("batch %d reported as %s, server task is T%d", lt.Batch, lt.Task, task.ID)
		}
		// The batch's users, the team and the bot as author. The
		// approvers' project is subscribed only when a comment asks it
		// for a decision (TestApproversSubscribedWhenAsked).
		want := sorted(append(h.phids(wantUsers[i]...), team, h.botU.PHID))
		if diff := cmp.Diff(want, sorted(task.SubscriberPHIDs)); diff != "" {
			t.Errorf("T%d subscribers (-want +got):\n%s", task.ID, diff)
		}
		if task.ViewPolicy != conduit.PolicySubscribers || task.EditPolicy != conduit.PolicyAdmin {
			t.Errorf("T%d policies view=%q edit=%q, want subscribers and admin", task.ID, task.ViewPolicy, task.EditPolicy)
		}
		if !slices.Contains(task.ProjectPHIDs, team) {
			t.Errorf("T%d projects %v, want the team", task.ID, task.ProjectPHIDs)
		}
		for _, u := range wantUsers[i] {
			if !strings.Contains(task.Description, "@"+u) {
				t.Errorf("T%d description does not mention @%s", task.ID, u)
			}
		}
	}

	// Who can see batch 1's task: its users and the team, nobody else
	// (carol approves only).
	t1 := tasks[0]
	visible := map[string]bool{"erin": true, "nomfa1": true, "alice": true, "dave": true, "carol": false,
		"nomfa2": false, "nomfa3": false, "good1": false, "outsider": false}
	for user, want := range visible {
		got, err := h.as(user).SearchTasks(h.ctx, conduit.TaskQuery{IDs: []int{t1.ID}})
		if err != nil {
			t.Fatalf("search as %s: %v", user, err)
		}
		if (len(got) == 1) != want {
			t.Errorf("@%s sees T%d: %v, want %v", user, t1.ID, len(got) == 1, want)
		}
	}

	// A second launch files nothing.
	before := len(h.effectiveWrites())
	res2 := h.launch()
	if !res2.Resumed {
		t.Errorf("second launch not reported as resumed")
	}
	for _, lt := range res2.Tasks {
		if lt.New {
			t.Errorf("second launch filed %+v", lt)
		}
	}
	if after := len(h.effectiveWrites()); after != before {
		t.Errorf("second launch wrote: %d effective writes, was %d", after, before)
	}
	if n := len(h.srv.Tasks()); n != len(wantUsers) {
		t.Errorf("server has %d tasks after the second launch, want %d", n, len(wantUsers))
	}
}

func TestLaunchRefusedWhenGroupNotEditable(t *testing.T) {
	h := newHarness(t, fixture{lockedGroup: groupSecurity})
	_, err := h.bot.Launch(h.ctx, h.camp)
	if !errors.Is(err, bot.ErrCheckFailed) {
		t.Fatalf("Launch error = %v, want ErrCheckFailed", err)
	}
	if !strings.Contains(err.Error(), groupSecurity) || !strings.Contains(err.Error(), groupApprovers) {
		t.Errorf("error %q should name the group and who may edit it", err)
	}
	if w := h.effectiveWrites(); len(w) != 0 {
		t.Errorf("refused launch changed Phabricator: %+v", w)
	}
	for _, w := range h.srv.Writes() {
		if w.Method != "project.edit" {
			t.Errorf("refused launch wrote %s", w.Method)
		}
	}
	if n := len(h.srv.Tasks()); n != 0 {
		t.Errorf("refused launch filed %d task(s)", n)
	}
	if ok, err := h.store.HasCampaign(campaignName); err != nil || ok {
		t.Errorf("refused launch recorded the campaign (HasCampaign = %v, %v)", ok, err)
	}
}

func TestDryRunLaunchWritesNothing(t *testing.T) {
	h := newHarness(t, fixture{})
	logs := &testkit.SyncBuffer{}
	dry := h.newBot(bot.DryRun(h.client, zeroLog(logs)), zeroLog(logs))
	res, err := dry.Launch(h.ctx, h.camp)
	if err != nil {
		t.Fatalf("dry-run Launch: %v", err)
	}
	if len(res.Tasks) != 3 {
		t.Errorf("dry-run launch reported %d tasks, want 3: %+v", len(res.Tasks), res.Tasks)
	}
	for _, lt := range res.Tasks {
		if !lt.New {
			t.Errorf("dry-run task %+v not reported as new", lt)
		}
	}
	if w := withoutProbes(h.srv.Writes()); len(w) != 0 {
		t.Errorf("dry-run launch sent writes: %+v", w)
	}
	if n := len(h.srv.Tasks()); n != 0 {
		t.Errorf("dry-run launch filed %d task(s)", n)
	}
	if got := strings.Count(logs.String(), "dry-run: would create task"); got != 3 {
		t.Errorf("dry-run logged %d task creations, want 3", got)
	}

	// Ticks through a reminder and a removal write nothing either.
	h.clock.Set(cutoff.Add(-30 * 24 * time.Hour))
	if _, err := dry.Tick(h.ctx, bot.TickOptions{}); err != nil {
		t.Fatalf("dry-run tick: %v", err)
	}
	h.clock.Set(cutoff.Add(time.Hour))
	if _, err := dry.Tick(h.ctx, bot.TickOptions{}); err != nil {
		t.Fatalf("dry-run tick: %v", err)
	}
	for _, a := range []string{"alice", "bob"} {
		if _, err := h.approve(dry, "R1", a); err != nil {
			t.Fatalf("dry-run approve: %v", err)
		}
	}
	if _, err := dry.Tick(h.ctx, bot.TickOptions{}); err != nil {
		t.Fatalf("dry-run tick: %v", err)
	}
	if w := withoutProbes(h.srv.Writes()); len(w) != 0 {
		t.Errorf("dry-run ticks sent writes: %+v", w)
	}
	if !strings.Contains(logs.String(), "dry-run: would edit members") {
		t.Errorf("dry-run did not log the removals")
	}
	if !strings.Contains(logs.String(), "dry-run: would edit task") {
		t.Errorf("dry-run did not log the reminders")
	}
	removalLogged := false
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "would edit members") && strings.Contains(line, h.phid("nomfa4")) {
			removalLogged = true
		}
	}
	if !removalLogged {
		t.Errorf("dry-run did not log the removal of nomfa4")
	}
}

// withoutProbes drops the pre-flight membership probes, which dry-run lets
// through on purpose: each removes bot.ProbePHID, which exists nowhere, and
// applies nothing.
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
