package bot_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
)

// Attack tests: each one breaks a promise the README makes to the security
// team, and fails until the hole is closed. Comments say what the attack
// is and why it matters.

// outsiderSees reports whether the outsider can read the audit task.
func outsiderSees(h *harness, taskPHID string) bool {
	h.t.Helper()
	got, err := h.as("outsider").SearchTasks(h.ctx, conduit.TaskQuery{PHIDs: []string{taskPHID}})
	if err != nil {
		h.t.Fatalf("outsider searches the task: %v", err)
	}
	return len(got) == 1
}

// TestAttackOutsiderGainsAccessToAuditTask: the policies chore compares
// only the view and edit policy strings, but who may see a task with view
// policy "subscribers" also depends on WHO is subscribed (members of a
// subscribed project count too: Phorge's
// PhabricatorSubscriptionsSubscribersPolicyRule) and on the assignee
// ("The assignee of a task can always view and edit it"). So the list of
// non-compliant members of security groups reaches an outsider without
// any policy changing, and the bot neither undoes it nor tells anyone.
//
// Worse, in real Phorge an affected user does not even need the edit
// policy: PhabricatorApplicationTransactionEditor::
// getLegacyRequiredCapabilities asks only CAN_INTERACT (= the view policy
// for a task, ManiphestTask::getPolicy) to ADD subscribers other than
// yourself ("This allows @mentioning users to work"), and maniphest.edit
// loads the object with CAN_VIEW only (PhabricatorEditEngine
// buildConduitResponse, T13186). So the edit policy "admin", which the
// README presents as the fix for NOTES fact 46, does not stop a named user
// from sending {"type":"subscribers.add","value":["PHID-USER-outsider"]}.
// phabtest refuses that edit (it asks CAN_EDIT for everything but
// comments and self-unsubscribe), so no test can see the hole.
func TestAttackOutsiderGainsAccessToAuditTask(t *testing.T) {
	for _, tt := range []struct {
		name string
		// actor makes the edit; if it is refused and fallback is set,
		// the test reports phabtest's divergence and lets an
		// administrator (who may edit) make it, to show the bot side.
		actor    string
		fallback bool
		// asked makes the bot subscribe the approvers' project for a
		// decision first (an exemption request), so that an
		// administrator among them can see and edit the task: an
		// administrator does not bypass a task's view policy.
		asked bool
		edit  func(h *harness) conduit.Edit
	}{
		{name: "affected user subscribes an outsider (allowed by real Phorge)", actor: "nomfa1", fallback: true,
			edit: func(h *harness) conduit.Edit {
				return conduit.Edit{Type: "subscribers.add", Value: []string{h.phid("outsider")}}
			}},
		{name: "affected user subscribes a project the outsider is in (allowed by real Phorge)", actor: "nomfa1", fallback: true,
			edit: func(h *harness) conduit.Edit {
				p := h.srv.AddProject(phabtest.ProjectSpec{Name: "Everyone", Members: h.phids("outsider")})
				return conduit.Edit{Type: "subscribers.add", Value: []string{p.PHID}}
			}},
		{name: "administrator subscribes an outsider", actor: "carol", asked: true,
			edit: func(h *harness) conduit.Edit {
				return conduit.Edit{Type: "subscribers.add", Value: []string{h.phid("outsider")}}
			}},
		{name: "administrator assigns the task to an outsider", actor: "carol", asked: true,
			edit: func(h *harness) conduit.Edit {
				return conduit.Edit{Type: "owner", Value: h.phid("outsider")}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launch()
			task, id := h.taskOf("nomfa1")
			if tt.asked {
				h.comment("nomfa1", task, "exemption: I travel without my phone until April")
				h.tick()
			}
			snap, _ := h.srv.Task(id)
			if outsiderSees(h, snap.PHID) {
				t.Fatal("fixture: the outsider sees the task before the attack")
			}
			edit := tt.edit(h)
			if _, err := h.as(tt.actor).EditTask(h.ctx, task, edit); err != nil {
				if !tt.fallback {
					t.Fatalf("%s edits %s: %v", tt.actor, task, err)
				}
				t.Errorf("phabtest refuses %s's %s on %s (%v); real Phorge asks only CAN_INTERACT (the view policy) to add other subscribers", tt.actor, edit.Type, task, err)
				h.editAs("carol", task, edit)
			}
			if !outsiderSees(h, snap.PHID) {
				t.Fatal("fixture: the outsider still cannot see the task after the attack")
			}
			h.tick()
			h.clock.Advance(time.Hour)
			h.tick()
			st, err := h.bot.Status(campaignName)
			if err != nil {
				t.Fatal(err)
			}
			flagged := slices.ContainsFunc(st.Attention, func(a string) bool { return strings.Contains(a, task) && strings.Contains(a, "outsider") })
			if outsiderSees(h, snap.PHID) && !flagged {
				t.Errorf("after two ticks @outsider still reads %s (every non-compliant member it names) and status does not flag it:\n%s",
					task, strings.Join(st.Attention, "\n"))
			}
			// What the bot set stays: the users, and the approvers it
			// asked for a decision.
			after, _ := h.srv.Task(id)
			if !slices.Contains(after.SubscriberPHIDs, h.phid("nomfa1")) {
				t.Errorf("the bot unsubscribed nomfa1 from %s: %v", task, after.SubscriberPHIDs)
			}
			if tt.asked && !slices.Contains(after.SubscriberPHIDs, h.group(groupApprovers).PHID) {
				t.Errorf("the bot unsubscribed the approvers it asked for a decision from %s: %v", task, after.SubscriberPHIDs)
			}
			if n := h.journalKinds()[string(state.EntryAccessRevoked)]; n != 1 {
				t.Errorf("%d %s entries, want exactly 1 (journal: %v)", n, state.EntryAccessRevoked, h.journalKinds())
			}
		})
	}
}

// TestAttackExemptionCountsLapsedApprover: an exemption keeps a
// non-compliant user in a security group and needs two distinct
// approvers. At the grant, the bot re-reads the earlier approving
// comments (edits withdraw them) but never re-checks that the earlier
// approvers are still enabled members of the approvers' project, unlike
// removal approvals (approvalsStillValid: approval-lapsed). Sequence:
// nomfa4 asks for an exemption; carol approves; carol is removed from
// acl*phabricator-admins (or disabled: offboarded, compromised); bob
// approves; the exemption is granted on one valid approval.
func TestAttackExemptionCountsLapsedApprover(t *testing.T) {
	for _, tt := range []struct {
		name  string
		lapse func(h *harness)
	}{
		{"left the approvers", func(h *harness) { h.srv.RemoveMembers(h.group(groupApprovers).PHID, h.phid("carol")) }},
		{"disabled", func(h *harness) { h.srv.SetDisabled(h.phid("carol"), true) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launch()
			task, _ := h.taskOf("nomfa4")
			h.comment("nomfa4", task, "exemption: on call this quarter, I enable it in April")
			h.tick()
			h.comment("carol", task, "!approve @nomfa4")
			h.tick()
			if f := h.finding("nomfa4"); f.Exemption == nil || len(f.Exemption.ApprovedBy) != 1 {
				t.Fatalf("fixture: carol's approval not recorded: %+v", f.Exemption)
			}
			tt.lapse(h)
			h.comment("bob", task, "!approve @nomfa4")
			h.tick()
			if f := h.finding("nomfa4"); f.Status == state.StatusExempt {
				t.Errorf("nomfa4 exempt on approvals %v: @carol is no longer an enabled approver, so one valid approval of two was enough", f.Exemption.ApprovedBy)
			}
		})
	}
}

// TestAttackDenyIgnoredOnceApproved: the README promises "A !deny on any
// task rejects the whole batch (refusing is always safe)". But a !deny
// counts only while the batch is "proposed". Once two approvers approved
// it, the batch is "approved" until it runs, and it may wait: held by the
// removal guard-rail, or failing on a group the bot may not edit. A third
// approver who sees the held notice and writes "!deny" is told "no
// removal batch waiting for approval was announced on this task", and
// when the limit is lifted (for a different reason, or for another
// batch) R1 runs against the standing objection.
func TestAttackDenyIgnoredOnceApproved(t *testing.T) {
	h := newHarness(t, fixture{groups: "[WMF-NDA]", extraPending: 1, configExtra: "# default guard-rail: 25%\n"})
	h.launchAndPropose()
	approveR1(t, h, "alice", "bob")
	h.tick()
	rm := h.snapshot().Removals[0]
	if rm.Status != state.RemovalApproved || rm.Held == "" {
		t.Fatalf("fixture: R1 = %s held %q, want approved and held", rm.Status, rm.Held)
	}
	task, _ := h.taskOf("nomfa1")
	h.comment("carol", task, "!deny nomfa1 is on a trip, the key is in the mail; do not remove")
	h.clock.Advance(time.Hour)
	h.tick()
	h.camp = h.parseCampaign(fixture{groups: "[WMF-NDA]", campaignExtra: "removal_limit: {max_share: 100%}"})
	h.clock.Advance(time.Hour)
	h.tick()
	if rm := h.snapshot().Removals[0]; rm.Status != state.RemovalRejected {
		t.Errorf("R1 = %s after @carol's !deny on %s; want rejected", rm.Status, task)
	}
	if !slices.Contains(h.srv.Members(h.group(groupNDA).PHID), h.phid("nomfa1")) {
		t.Error("nomfa1 was removed although an approver denied R1 before it ran")
	}
}

// TestAttackRefusedRemovalSkipsRecheck: executeRemoval treats a batch as
// "started" (approvals and the guard-rail are no longer re-checked, "a
// started removal is finished") as soon as the intent of a project.edit is
// recorded, even if Phabricator refused that write and nothing was
// removed. Sequence: alice and bob "!approve" R1 on T1; the tick's
// project.edit is refused (ERR-CONDUIT-CORE, nothing applied); alice
// edits her comment into a withdrawal (or leaves the approvers' project);
// the next tick removes nomfa2 and nomfa4 anyway, on one approval where
// two are needed, although nothing had been removed when the approval
// went away.
func TestAttackRefusedRemovalSkipsRecheck(t *testing.T) {
	for _, tt := range []struct {
		name     string
		withdraw func(h *harness, alicesTx string)
	}{
		{"approval edited away", func(h *harness, tx string) { h.srv.EditComment(tx, "I take that back: do not remove anyone yet") }},
		{"approval deleted", func(h *harness, tx string) { h.srv.DeleteComment(tx) }},
		{"approver left the approvers", func(h *harness, _ string) {
			h.srv.RemoveMembers(h.group(groupApprovers).PHID, h.phid("alice"))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{groups: "[acl*sre-team]"})
			h.launchAndPropose()
			h.tick() // reads the announcement
			task, _ := h.taskOf("nomfa4")
			alices := h.commentTx("alice", task, "!approve")
			h.comment("bob", task, "!approve")
			h.srv.FailBefore("project.edit", 1, "ERR-CONDUIT-CORE", "temporarily unavailable")
			if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
				t.Fatal("tick succeeded although the removal was refused")
			}
			if got := h.writesOf("project.edit"); len(got) != 0 {
				t.Fatalf("fixture: a refused project.edit changed something: %+v", got)
			}
			tt.withdraw(h, alices)
			h.clock.Advance(time.Hour)
			h.tick()
			if got := h.srv.Members(h.group(groupSRE).PHID); !slices.Contains(got, h.phid("nomfa4")) {
				t.Errorf("nomfa4 removed from acl*sre-team on one valid approval of two: @alice's approval went away before anything was removed (journal: %v)", h.journalKinds())
			}
		})
	}
}

// TestAttackGuardRailSplitByRounds: the guard-rail judges each batch
// against the group's members at that moment, so the same removals split
// into rounds pass where one batch is held. WMF-NDA has 8 members, 3
// without MFA; the default limit is 25% (2 of 8). Extending one user's
// deadline by a day splits them: R1 removes 2 of 8, R2 a day later 1 of
// 6, 3 of 8 (37.5%) within two days, and nobody was asked. Rounds also
// happen without anyone trying (a "remove me", per-user deadlines), so
// the limit does not bound what a campaign removes from a group.
func TestAttackGuardRailSplitByRounds(t *testing.T) {
	h := newHarness(t, fixture{groups: "[WMF-NDA]", extraPending: 1, configExtra: "# default guard-rail: 25%\n"})
	h.launch()
	if err := h.bot.Extend(h.ctx, campaignName, cutoff.AddDate(0, 0, 1), "nomfa2", "alice"); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()
	approveR1(t, h, "alice", "bob")
	h.tick()
	h.clock.Set(cutoff.AddDate(0, 0, 2).Add(2 * time.Hour))
	h.tick()
	for _, rm := range h.snapshot().Removals {
		if rm.Status == state.RemovalProposed {
			if _, err := h.approve(h.bot, rm.Label(), "alice"); err != nil {
				t.Fatal(err)
			}
			if _, err := h.approve(h.bot, rm.Label(), "bob"); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.tick()
	gone := 0
	for _, u := range []string{"nomfa1", "nomfa2", "pending001"} {
		if !slices.Contains(h.srv.Members(h.group(groupNDA).PHID), h.phid(u)) {
			gone++
		}
	}
	for _, rm := range h.snapshot().Removals {
		t.Logf("%s %s held=%q items=%d", rm.Label(), rm.Status, rm.Held, len(rm.Items))
	}
	if gone > 2 {
		t.Errorf("%d of WMF-NDA's 8 members removed within two days, over the 25%% guard-rail that holds the same removals in one batch", gone)
	}
}

// TestAttackStatusTerminalInjection: a comment the bot cannot classify is
// kept, truncated but otherwise raw, as the user's note, and `auditbot
// status` prints it as is. An affected user so writes into the operator's
// terminal: ANSI escapes (clear the screen, move the cursor, rewrite the
// window title; OSC 52 writes the clipboard on some terminals) and
// newlines that forge status lines, e.g. a fake "Needs attention" section
// or "Removal R1: rejected". The status an operator relies on to see what
// needs a human can be hidden or faked by the people being audited.
func TestAttackStatusTerminalInjection(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	task, _ := h.taskOf("nomfa1")
	h.comment("nomfa1", task, "why me?\x1b[2J\x1b[H\x1b]0;owned\x07\n\nRemoval R9: rejected, 0 item(s), approvers 2/2 @alice @bob")
	h.tick()
	st, err := h.bot.Status(campaignName)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if err := st.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("status text carries terminal control characters from a user's comment:\n%q", out)
	}
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "Removal R9") {
			t.Errorf("a user's comment forged a status line: %q", line)
		}
	}
}
