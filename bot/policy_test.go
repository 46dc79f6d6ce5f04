package bot_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/report"
	"github.com/auditbot/auditbot/state"
)

// policyLabels are the open policy findings as "label object check value".
func policyLabels(snap state.Snapshot) []string {
	var out []string
	for _, f := range snap.Campaign.Policies {
		if f.Open() {
			out = append(out, f.Label()+" "+f.Object+" "+string(f.Check)+" "+f.Value)
		}
	}
	return out
}

// TestPolicyAuditScenario is the policy audit's sequence on phabtest, as
// phorgetest's TestPolicyAuditOnPhorge runs it on a real Phorge: widen a
// group's join policy and a Security task's view policy, see both found
// and listed on the team's policy task, an approver's !fix alone is not
// enough for a security group, the second fixes the join policy; a task
// fixed by hand closes its finding.
func TestPolicyAuditScenario(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]", campaignExtra: "policy: {scope: [Security]}\n"})
	// The bot sees, and may set, what is restricted to the group.
	h.srv.AddMembers(h.group(groupSecurity).PHID, h.botU.PHID)
	sec := h.srv.AddProject(phabtest.ProjectSpec{Name: "Security"})
	task := h.srv.AddTask(phabtest.TaskSpec{Title: "a security bug", AuthorPHID: h.phid("erin"), Projects: []string{sec.PHID},
		ViewPolicy: h.group(groupSecurity).PHID, EditPolicy: h.group(groupSecurity).PHID})
	h.launch()
	h.tick()
	// The seeded group is safe but for its member list, visible to all
	// users (phabtest's default view policy).
	if got, want := policyLabels(h.snapshot()), []string{"P1 #acl_security view users"}; !slices.Equal(got, want) {
		t.Fatalf("open findings %q, want %q", got, want)
	}

	sc := h.group(groupSecurity).PHID
	if _, err := h.as("erin").EditTask(h.ctx, task.PHID, conduit.Edit{Type: "view", Value: conduit.PolicyPublic}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.as("alice").EditProjectPolicy(h.ctx, sc, "join", conduit.PolicyUsers); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Hour)
	h.tick()
	snap := h.snapshot()
	want := []string{"P1 #acl_security view users", "P2 #acl_security join users", "P3 T" + itoa(task.ID) + " task-view public"}
	if got := policyLabels(snap); !slices.Equal(got, want) {
		t.Fatalf("open findings %q, want %q", got, want)
	}
	pt := snap.Campaign.PolicyTask
	if pt == nil {
		t.Fatal("no policy task filed")
	}
	ptask, _ := h.srv.Task(pt.TaskID)
	if ptask.ViewPolicy == conduit.PolicyPublic || ptask.ViewPolicy == conduit.PolicyUsers {
		t.Errorf("the policy task is not restricted: view %s", ptask.ViewPolicy)
	}
	if got := len(h.writesOf("project.edit")); got != 1 {
		t.Errorf("%d project.edit writes before any !fix, want 1 (alice's)", got)
	}

	// One approver is not enough for a security group; a non-approver
	// does not count; a member finding cannot be fixed by the bot.
	h.comment("alice", pt.Monogram(), "!fix P2")
	h.comment("dave", pt.Monogram(), "!fix P2")
	h.comment("bob", pt.Monogram(), "!fix P1")
	h.clock.Advance(time.Hour)
	h.tick()
	if got := len(h.writesOf("project.edit")); got != 1 {
		t.Fatalf("%d project.edit writes after one approval, want 1", got)
	}
	answers := strings.Join(commentsText(h, pt.TaskID), "\n")
	for _, w := range []string{"approval 1 of 2 recorded", "only enabled members of #acl_phabricator-admins", "P1 is not something the bot can fix itself"} {
		if !strings.Contains(answers, w) {
			t.Errorf("the policy task's answers do not say %q:\n%s", w, answers)
		}
	}

	h.comment("bob", pt.Monogram(), "!fix P2")
	h.clock.Advance(time.Hour)
	h.tick()
	if ps, err := h.as("alice").ProjectsByPHID(h.ctx, []string{sc}, false); err != nil || len(ps) != 1 || ps[0].Policy.Join != conduit.PolicyNoOne {
		t.Errorf("after two !fix: %+v, %v; want the join policy no-one", ps, err)
	}
	// The task's view policy is put back by hand: its finding closes.
	if _, err := h.as("erin").EditTask(h.ctx, task.PHID, conduit.Edit{Type: "view", Value: sc}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Hour)
	h.tick()
	snap = h.snapshot()
	if got, want := policyLabels(snap), []string{"P1 #acl_security view users"}; !slices.Equal(got, want) {
		t.Errorf("open findings %q, want %q", got, want)
	}
	p2, _ := snap.Campaign.PolicyByLabel("P2")
	if !slices.Equal(p2.FixedBy, []string{"alice", "bob"}) {
		t.Errorf("P2 fixed by %q, want alice and bob", p2.FixedBy)
	}
	kinds := h.journalKinds()
	for k, n := range map[string]int{"policy-found": 3, "policy-fixed": 1, "policy-cleared": 1} {
		if kinds[k] != n {
			t.Errorf("%d %s entries, want %d", kinds[k], k, n)
		}
	}
	st, err := h.bot.Status(campaignName)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, p := range st.Policies {
		states = append(states, p.ID+" "+p.State)
	}
	if want := []string{"P1 open", "P2 fixed", "P3 closed"}; !slices.Equal(states, want) || st.PolicyTask != pt.Monogram() {
		t.Errorf("status policies %q on %s, want %q on %s", states, st.PolicyTask, want, pt.Monogram())
	}
	var text strings.Builder
	if err := st.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "Policy findings (on "+pt.Monogram()+")") || !strings.Contains(text.String(), "policy finding P1 (security)") {
		t.Errorf("status text lacks the policy findings:\n%s", text.String())
	}
	ev, err := report.Build(h.store, campaignName, "", h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var rstates []string
	for _, p := range ev.Policies {
		rstates = append(rstates, p.ID+" "+p.State())
	}
	if want := []string{"P1 open", "P2 fixed", "P3 closed"}; !slices.Equal(rstates, want) {
		t.Errorf("report policies %q, want %q", rstates, want)
	}
	// A tick with nothing new writes nothing.
	before := len(h.srv.Writes())
	h.clock.Advance(time.Hour)
	h.tick()
	if got := len(h.srv.Writes()); got != before {
		t.Errorf("a quiet tick made %d writes", got-before)
	}
}

// commentsText are the texts of the bot's comments on task id.
func commentsText(h *harness, id int) []string {
	var out []string
	for _, c := range h.botComments(id) {
		out = append(out, c.Text)
	}
	return out
}

// TestCrashDuringPolicyFix: the bot set a finding's safe value and lost
// Phabricator's answer (the write landed). The next tick finds it landed
// by reading the object's policy, records it once and sends nothing
// again.
func TestCrashDuringPolicyFix(t *testing.T) {
	for _, tc := range []struct {
		name, method, label string
		widen               func(h *harness, task string) error
		fixed               func(h *harness, task string) bool
	}{
		{name: "join policy", method: "project.edit", label: "P2",
			widen: func(h *harness, _ string) error {
				_, err := h.as("alice").EditProjectPolicy(h.ctx, h.group(groupSecurity).PHID, "join", conduit.PolicyUsers)
				return err
			},
			fixed: func(h *harness, _ string) bool {
				ps, err := h.as("alice").ProjectsByPHID(h.ctx, []string{h.group(groupSecurity).PHID}, false)
				return err == nil && len(ps) == 1 && ps[0].Policy.Join == conduit.PolicyNoOne
			}},
		{name: "task view policy", method: "maniphest.edit", label: "P2",
			widen: func(h *harness, task string) error {
				_, err := h.as("erin").EditTask(h.ctx, task, conduit.Edit{Type: "view", Value: conduit.PolicyUsers})
				return err
			},
			fixed: func(h *harness, task string) bool {
				ts, err := h.as("erin").SearchTasks(h.ctx, conduit.TaskQuery{PHIDs: []string{task}})
				return err == nil && len(ts) == 1 && ts[0].ViewPolicy == h.group(groupSecurity).PHID
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]", campaignExtra: "policy: {scope: [Security]}\n"})
			h.srv.AddMembers(h.group(groupSecurity).PHID, h.botU.PHID)
			sec := h.srv.AddProject(phabtest.ProjectSpec{Name: "Security"})
			task := h.srv.AddTask(phabtest.TaskSpec{Title: "a security bug", AuthorPHID: h.phid("erin"), Projects: []string{sec.PHID},
				ViewPolicy: h.group(groupSecurity).PHID, EditPolicy: h.group(groupSecurity).PHID})
			h.launch()
			h.tick()
			if err := tc.widen(h, task.PHID); err != nil {
				t.Fatal(err)
			}
			h.clock.Advance(time.Hour)
			h.tick()
			pt := h.snapshot().Campaign.PolicyTask
			h.comment("alice", pt.Monogram(), "!fix "+tc.label)
			h.comment("bob", pt.Monogram(), "!fix "+tc.label)
			h.clock.Advance(time.Hour)
			h.srv.FailAfterWrite(tc.method, 1)
			if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
				t.Fatal("tick succeeded although the fix's answer was lost")
			}
			if !tc.fixed(h, task.PHID) {
				t.Fatal("the lost write did not land")
			}
			if got := h.pendingOps(); len(got) != 1 {
				t.Fatalf("pending ops %v, want the fix", got)
			}
			writes := len(h.writesOf(tc.method))
			h.clock.Advance(time.Minute)
			h.tick()
			h.tick()
			if got := len(h.writesOf(tc.method)) - writes; tc.method == "project.edit" && got != 0 {
				t.Errorf("%d more project.edit writes after the crash, want 0", got)
			}
			if got := h.pendingOps(); len(got) != 0 {
				t.Errorf("pending ops: %v", got)
			}
			if got := h.journalKinds()["policy-fixed"]; got != 1 {
				t.Errorf("%d policy-fixed entries, want 1", got)
			}
			after := h.snapshot()
			f, _ := after.Campaign.PolicyByLabel(tc.label)
			if f.Open() || !slices.Equal(f.FixedBy, []string{"alice", "bob"}) {
				t.Errorf("%s open %v, fixed by %q; want closed, fixed by alice and bob", tc.label, f.Open(), f.FixedBy)
			}
		})
	}
}

// TestRecurringPolicyAudit: a weekly policy audit (every: 7d) keeps one
// policy task and its findings across runs, and finds a policy widened
// between two runs.
func TestRecurringPolicyAudit(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]", campaignExtra: "every: 7d\n"})
	h.launch()
	h.tick()
	for week := 1; week <= 2; week++ {
		h.clock.Advance(7*24*time.Hour + time.Hour)
		h.tick()
	}
	if _, err := h.as("alice").EditProjectPolicy(h.ctx, h.group(groupSecurity).PHID, "edit", conduit.PolicyUsers); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(7*24*time.Hour + time.Hour)
	h.tick()
	snap := h.snapshot()
	if got, want := policyLabels(snap), []string{"P1 #acl_security view users", "P2 #acl_security edit users"}; !slices.Equal(got, want) {
		t.Errorf("open findings %q, want %q", got, want)
	}
	if n := len(snap.Campaign.Runs); n != 3 {
		t.Errorf("%d recurring runs, want 3", n)
	}
	var policyTasks int
	for _, tk := range h.srv.Tasks() {
		if strings.HasSuffix(tk.Title, ": policy findings") {
			policyTasks++
		}
	}
	if policyTasks != 1 {
		t.Errorf("%d policy tasks, want 1", policyTasks)
	}
}

// TestPolicyOnlyLaunchesOnLockedGroup: a policy-only campaign removes no
// one, so a group the bot may not edit does not stop its launch (a
// campaign that may remove members is refused, as before).
func TestPolicyOnlyLaunchesOnLockedGroup(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]", lockedGroup: groupSecurity})
	if _, err := h.bot.Launch(h.ctx, h.camp); err != nil {
		t.Fatalf("policy-only launch on a group the bot may not edit: %v", err)
	}
	h.tick()
	if got := policyLabels(h.snapshot()); len(got) != 1 {
		t.Errorf("open findings %q, want the member list only", got)
	}
	m := newHarness(t, fixture{criteria: "[mfa, policy]", groups: "[acl*security]", lockedGroup: groupSecurity})
	if _, err := m.bot.Launch(m.ctx, m.camp); err == nil {
		t.Error("an mfa and policy campaign launched on a group the bot may not edit")
	}
}

// TestPolicyFixRefusedThenRetried: Phabricator refuses the fix (the
// write does not land); the tick reports it, nothing is recorded as
// fixed, and the next tick sends it again and records it once.
func TestPolicyFixRefusedThenRetried(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]"})
	h.launch()
	sc, _, pt, label := widenEditPolicy(t, h)
	if err := approveFixRefusedOnce(h, pt, label); err == nil || !strings.Contains(err.Error(), "set it by hand") {
		t.Fatalf("tick after a refused fix: %v, want the refusal and what a person must do", err)
	}
	if got := h.journalKinds()["policy-fixed"]; got != 0 {
		t.Fatalf("%d policy-fixed entries after a refused write", got)
	}
	h.clock.Advance(time.Minute)
	h.tick()
	h.tick()
	ps, err := h.as("alice").ProjectsByPHID(h.ctx, []string{sc}, false)
	if err != nil || len(ps) != 1 || ps[0].Policy.Edit != conduit.PolicyAdmin {
		t.Fatalf("edit policy after the retry: %+v %v, want admin", ps, err)
	}
	if got := h.journalKinds()["policy-fixed"]; got != 1 {
		t.Errorf("%d policy-fixed entries, want 1", got)
	}
	if got := h.pendingOps(); len(got) != 0 {
		t.Errorf("pending ops: %v", got)
	}
}

// TestPolicyTaskStaysPrivate: the policy task names which groups anyone
// may join; it is guarded like the audit tasks: a view policy someone
// widened is put back.
func TestPolicyTaskStaysPrivate(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]"})
	h.launch()
	h.tick()
	pt := h.snapshot().Campaign.PolicyTask
	if pt == nil {
		t.Fatal("no policy task")
	}
	before, _ := h.srv.Task(pt.TaskID)
	if _, err := h.as("alice").EditTask(h.ctx, pt.TaskPHID, conduit.Edit{Type: "view", Value: conduit.PolicyPublic}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	h.tick()
	after, _ := h.srv.Task(pt.TaskID)
	if after.ViewPolicy != before.ViewPolicy {
		t.Errorf("policy task view %q after a tick, want %q put back", after.ViewPolicy, before.ViewPolicy)
	}
	if got := h.journalKinds()["policy-restored"]; got != 1 {
		t.Errorf("%d policy-restored entries, want 1", got)
	}
}

// TestPolicyFixDryRun: a dry-run tick logs the fix it would make and
// writes nothing.
func TestPolicyFixDryRun(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]"})
	h.launch()
	sc := h.group(groupSecurity).PHID
	if _, err := h.as("alice").EditProjectPolicy(h.ctx, sc, "join", conduit.PolicyUsers); err != nil {
		t.Fatal(err)
	}
	h.tick()
	pt := h.snapshot().Campaign.PolicyTask
	h.comment("alice", pt.Monogram(), "!fix P1")
	h.comment("bob", pt.Monogram(), "!fix P1")
	writes := len(h.srv.Writes())
	dry := h.newBot(bot.DryRun(h.client, h.log), h.log)
	if _, err := dry.Tick(h.ctx, bot.TickOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := len(h.srv.Writes()) - writes; got != 0 {
		t.Errorf("a dry-run tick made %d writes", got)
	}
	if !strings.Contains(h.logs.String(), "dry-run: would set policy") {
		t.Errorf("the dry-run log does not show the policy it would set:\n%s", h.logs.String())
	}
}

// widenEditPolicy opens acl*security's edit policy to all users (as
// alice) and ticks; it returns the group, the snapshot after the tick,
// the policy task and the label of the finding the tick opened for it.
func widenEditPolicy(t *testing.T, h *harness) (group string, snap state.Snapshot, pt *state.PolicyTask, label string) {
	t.Helper()
	group = h.group(groupSecurity).PHID
	if _, err := h.as("alice").EditProjectPolicy(h.ctx, group, "edit", conduit.PolicyUsers); err != nil {
		t.Fatal(err)
	}
	h.tick()
	snap = h.snapshot()
	for _, f := range snap.Campaign.Policies {
		if f.Check == state.PolicyEdit {
			label = f.Label()
		}
	}
	return group, snap, snap.Campaign.PolicyTask, label
}

// approveFixRefusedOnce has alice and bob answer !fix label on the policy
// task and runs a tick in which Phabricator refuses the first
// project.edit; it returns that tick's error.
func approveFixRefusedOnce(h *harness, pt *state.PolicyTask, label string) error {
	h.comment("alice", pt.Monogram(), "!fix "+label)
	h.comment("bob", pt.Monogram(), "!fix "+label)
	h.srv.FailBefore("project.edit", 1, "ERR-CONDUIT-CORE", "simulated refusal")
	_, err := h.bot.Tick(h.ctx, bot.TickOptions{})
	return err
}
