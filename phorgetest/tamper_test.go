//go:build phorge

package phorgetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// taskOwner returns a task's ownerPHID ("" when unassigned), as the bot.
func (e labSettings) taskOwner(t *testing.T, id int) string {
	t.Helper()
	var res struct {
		Data []struct {
			Fields struct {
				OwnerPHID *string `json:"ownerPHID"`
			} `json:"fields"`
		} `json:"data"`
	}
	e.must(t, "AUDITBOT_TOKEN", "maniphest.search", map[string]any{"constraints": map[string]any{"ids": []int{id}}}, &res)
	if len(res.Data) != 1 {
		t.Fatalf("T%d: %d rows as the bot", id, len(res.Data))
	}
	if res.Data[0].Fields.OwnerPHID == nil {
		return ""
	}
	return *res.Data[0].Fields.OwnerPHID
}

// proposedCampaign launches a one-group MFA campaign on acl*sre-team and
// ticks past its cutoff, so a removal batch is proposed and the approvers'
// project (acl*phabricator-admins: admin, user03) is subscribed to the
// task: from then on ADMIN can see it. It returns the bot, the campaign's
// only task and the --now to tick with.
func proposedCampaign(t *testing.T, env labSettings, name, risk string) (*botDir, labTask, string) {
	t.Helper()
	cutoff := day(20)
	after := cutoff.AddDate(0, 0, 2).Format(time.RFC3339)
	b := newBot(t, env, "  acl*sre-team: {risk: "+risk+"}")
	b.campaign(name, fmt.Sprintf(`criteria: [mfa]
groups: [acl*sre-team]
cutoff: %s
reminders: []
approvers: acl*phabricator-admins
removal_limit: {max_share: 100%%}
`, cutoff.Format(time.DateOnly)))
	b.ok("launch", name)
	tasks := env.campaignTasks(t, name)
	if len(tasks) != 1 {
		t.Fatalf("%d tasks, want 1", len(tasks))
	}
	tk := tasks[1]
	b.ok("tick", "--allow-future", "--now", after)
	if n := env.countMarked(t, tk.PHID, name, "removal/R1/proposal/"); n != 1 {
		t.Fatalf("announcements of R1: %d, want 1", n)
	}
	if got := env.tasks(t, "ADMIN_TOKEN", map[string]any{"ids": []int{tk.ID}}); len(got) != 1 {
		t.Fatalf("admin (an approver) cannot see T%d after the proposal", tk.ID)
	}
	return b, tk, after
}

// TestOthersTamperWithTheTask: an administrator other than the bot
// assigns a campaign task to an outsider (the assignee of a task can
// always view it) or widens its view policy; the bot takes both back and
// status names who did it.
func TestOthersTamperWithTheTask(t *testing.T) {
	env := labEnv(t)
	env.reset(t)
	const name = "lab-tamper"
	b, tk, after := proposedCampaign(t, env, name, "vandalism")
	outsider := env.userPHID(t, "user01")
	sees := func() bool { return len(env.tasks(t, "USER_TOKEN", map[string]any{"ids": []int{tk.ID}})) == 1 }
	if sees() {
		t.Fatal("user01 sees the task before anything happened")
	}
	edit := func(tx map[string]any) {
		t.Helper()
		env.must(t, "ADMIN_TOKEN", "maniphest.edit", map[string]any{"objectIdentifier": tk.PHID, "transactions": []map[string]any{tx}}, nil)
	}

	t.Run("an assignee is unassigned", func(t *testing.T) {
		edit(map[string]any{"type": "owner", "value": outsider})
		if got := env.taskOwner(t, tk.ID); got != outsider {
			t.Fatalf("owner after admin's assignment: %q, want user01", got)
		}
		if !sees() {
			t.Fatal("user01, the assignee, cannot see the task")
		}
		b.ok("tick", "--allow-future", "--now", after)
		// Phorge subscribes the previous owner when a task is reassigned,
		// also when the bot unassigns it (a subscribers transaction by the
		// bot); the bot therefore unsubscribes an outsider it unassigned in
		// a second edit of the same revoke: one tick is enough.
		if got := env.taskOwner(t, tk.ID); got != "" {
			t.Errorf("owner after a tick: %q, want none", got)
		}
		if sees() {
			t.Error("user01 still sees the task after a tick")
		}
		b.ok("tick", "--allow-future", "--now", after)
		var unassigns int
		for _, x := range env.xacts(t, "AUDITBOT_TOKEN", tk.PHID, nil) {
			if x.typ() == "owner" && x.AuthorPHID == env.userPHID(t, "auditbot") {
				t.Logf("the bot's owner transaction: old %v new %v", x.Fields.Old, x.Fields.New)
				if x.Fields.New == nil {
					unassigns++
				}
			}
		}
		if unassigns != 1 {
			t.Errorf("the bot's unassignments (owner -> null): %d, want 1", unassigns)
		}
		_, st := b.status(name)
		flagged := slices.ContainsFunc(st.Attention, func(a string) bool {
			return strings.Contains(a, "took it back") && strings.Contains(a, "assigned the task to") && strings.Contains(a, "user01")
		})
		if !flagged {
			t.Errorf("status does not flag the assignment of user01:\n%s", strings.Join(st.Attention, "\n"))
		}
		// The bot's own unassignment subscribed user01; a second revoke
		// naming "someone unknown" would mislead whoever reads status.
		if slices.ContainsFunc(st.Attention, func(a string) bool { return strings.Contains(a, "someone unknown") }) {
			t.Errorf("status blames someone unknown for the bot's own unassignment:\n%s", strings.Join(st.Attention, "\n"))
		}
		t.Logf("status attention:\n%s", strings.Join(st.Attention, "\n"))
	})

	t.Run("a widened view policy is put back", func(t *testing.T) {
		view, editPol := tk.ViewPolicy, tk.EditPolicy
		edit(map[string]any{"type": "view", "value": "users"})
		if !sees() {
			t.Fatal("user01 cannot see the task with view policy users")
		}
		b.ok("tick", "--allow-future", "--now", after)
		got := env.tasks(t, "AUDITBOT_TOKEN", map[string]any{"ids": []int{tk.ID}})
		if len(got) != 1 {
			t.Fatalf("the bot cannot see T%d", tk.ID)
		}
		if diff := cmp.Diff([2]string{view, editPol}, [2]string{got[0].ViewPolicy, got[0].EditPolicy}); diff != "" {
			t.Errorf("view/edit policy after a tick (-the bot's +now):\n%s", diff)
		}
		if sees() {
			t.Error("user01 still sees the task after a tick")
		}
		_, st := b.status(name)
		flagged := slices.ContainsFunc(st.Attention, func(a string) bool {
			return strings.Contains(a, "policy was changed by") && strings.Contains(a, "admin")
		})
		if !flagged {
			t.Errorf("status does not name admin as who changed the policy:\n%s", strings.Join(st.Attention, "\n"))
		}
		t.Logf("status attention:\n%s", strings.Join(st.Attention, "\n"))
	})
}

// TestApprovalEditedAfterCounted: a batch needing two approvals (risk
// security) counts admin's "!approve" in one tick; admin then edits the
// comment to withdraw it (the edit never comes back past the bot's read
// cursor: NOTES fact 45), user03 approves by the verified command line,
// and the tick that would carry the batch out re-reads the comment: it
// removes nobody and journals approval-withdrawn.
func TestApprovalEditedAfterCounted(t *testing.T) {
	env := labEnv(t)
	env.reset(t)
	// user03 (the other approver) complies first, so the batch is not
	// theirs to decide against (an approver may not decide on a batch
	// they are in).
	env.labCommand(t, "LAB_ENROLL_MFA", "user03")
	const name = "lab-withdrawn"
	before := env.memberNames(t, slugSRE)
	b, tk, after := proposedCampaign(t, env, name, "security")

	env.commentXacts(t, "ADMIN_TOKEN", tk.PHID, "!approve")
	b.ok("tick", "--allow-future", "--now", after)
	_, st := b.status(name)
	if !slices.ContainsFunc(st.Attention, func(a string) bool { return strings.Contains(a, "R1 waits for approval: 1 of 2") }) {
		t.Fatalf("admin's !approve was not counted as 1 of 2:\n%s", strings.Join(st.Attention, "\n"))
	}
	env.labCommand(t, "LAB_EDIT_COMMENT", fmt.Sprintf("T%d", tk.ID), "admin", "!approve", "withdrawn")
	if r := b.approveCLI(name, "R1", "TOKEN_USER03", "user03"); r.code != 0 {
		t.Fatalf("approve as user03: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	b.ok("tick", "--allow-future", "--now", after)
	if diff := cmp.Diff(before, env.memberNames(t, slugSRE)); diff != "" {
		t.Errorf("an approval withdrawn by editing its comment was still counted: members changed (-before +now):\n%s", diff)
	}
	var journal []struct {
		Kind   string `json:"kind"`
		Actor  string `json:"actor"`
		Detail string `json:"detail"`
	}
	b.okJSON(&journal, "journal", name)
	var withdrawn []string
	for _, e := range journal {
		if e.Kind == "approval-withdrawn" {
			withdrawn = append(withdrawn, e.Actor+": "+e.Detail)
		}
	}
	t.Logf("approval-withdrawn entries: %q", withdrawn)
	if len(withdrawn) != 1 || !strings.Contains(withdrawn[0], "admin") {
		t.Errorf("journal approval-withdrawn entries: %q, want one for admin", withdrawn)
	}
	_, st = b.status(name)
	t.Logf("status attention:\n%s", strings.Join(st.Attention, "\n"))
}
