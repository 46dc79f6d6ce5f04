package bot_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
)

// These tests cover what must hold between a removal batch's proposal and
// its execution: protections granted meanwhile still protect, and
// approvals must still be valid when the removal runs.

// TestProtectionsAfterProposal: a deadline extension or an exemption
// request made after R1 was proposed keeps the user in their groups when
// R1 is carried out.
func TestProtectionsAfterProposal(t *testing.T) {
	for _, tt := range []struct {
		name    string
		protect func(h *harness)
	}{
		{"extension", func(h *harness) {
			if err := h.bot.Extend(h.ctx, campaignName, cutoff.AddDate(0, 0, 14), "nomfa4", "alice"); err != nil {
				t.Fatalf("Extend: %v", err)
			}
		}},
		{"exemption request", func(h *harness) {
			task, _ := h.taskOf("nomfa4")
			h.comment("nomfa4", task, "exemption: on call for an incident, I enable it next week")
			h.tick()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launchAndPropose()
			if !slices.ContainsFunc(h.snapshot().Removals[0].Items, func(it state.RemovalItem) bool { return it.Username == "nomfa4" }) {
				t.Fatal("nomfa4 is not in R1; the test needs it there")
			}
			tt.protect(h)
			approveR1(t, h, "alice", "bob")
			h.tick()
			if !slices.Contains(h.srv.Members(h.group(groupSRE).PHID), h.phid("nomfa4")) {
				t.Error("nomfa4 was removed although protected after the proposal")
			}
			if slices.Contains(h.srv.Members(h.group(groupSRE).PHID), h.phid("nomfa2")) {
				t.Error("nomfa2, not protected, was not removed")
			}
			if got := h.finding("nomfa4").Status; got != state.StatusPending {
				t.Errorf("nomfa4 = %s, want still pending", got)
			}
		})
	}
}

// TestApprovalMustFollowAnnouncement: a bare "!approve" written before the
// batch existed, and read late because reading the task failed, does not
// count for the batch proposed in between.
func TestApprovalMustFollowAnnouncement(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	h.clock.Set(cutoff.Add(-time.Hour))
	task, _ := h.taskOf("nomfa1")
	h.comment("alice", task, "!approve")
	// The next tick cannot read any task's transactions, but proposes
	// and announces R1.
	h.srv.FailBefore("transaction.search", len(h.snapshot().Batches), "ERR-CONDUIT-CORE", "temporarily unavailable")
	h.clock.Set(cutoff.Add(time.Hour))
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
		t.Fatal("tick succeeded although reading the tasks failed")
	}
	h.tick()
	rm := h.snapshot().Removals[0]
	if len(rm.Approvals) != 0 {
		t.Errorf("R1 approvals = %+v: a comment older than the announcement counted", rm.Approvals)
	}
	// After the announcement, the same command counts.
	h.comment("alice", task, "!approve")
	h.tick()
	if got := h.snapshot().Removals[0].Approvals; len(got) != 1 {
		t.Errorf("R1 approvals = %+v, want alice's", got)
	}
}

// TestApprovalsLapse: an approver who leaves the approvers' project (or is
// disabled) before the removal runs no longer counts; the batch waits for
// approval again and nobody is removed.
func TestApprovalsLapse(t *testing.T) {
	for _, tt := range []struct {
		name  string
		lapse func(h *harness)
	}{
		{"left the approvers", func(h *harness) { h.srv.RemoveMembers(h.group(groupApprovers).PHID, h.phid("bob")) }},
		{"disabled", func(h *harness) { h.srv.SetDisabled(h.phid("bob"), true) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launchAndPropose()
			approveR1(t, h, "alice", "bob")
			tt.lapse(h)
			h.tick()
			if w := h.writesOf("project.edit"); len(w) != 0 {
				t.Fatalf("members were edited with a lapsed approval: %+v", w)
			}
			rm := h.snapshot().Removals[0]
			if rm.Status != state.RemovalProposed || len(rm.Approvals) != 1 || rm.Approvals[0].Username != "alice" {
				t.Errorf("R1 = %s with %+v, want proposed with alice's approval only", rm.Status, rm.Approvals)
			}
			if h.journalKinds()["approval-lapsed"] != 1 {
				t.Error("the lapse was not journaled")
			}
		})
	}
}

// TestApproverInBatchMayNotDecide: erin is an approver without MFA, so she
// is in R1; she may neither approve nor reject it.
func TestApproverInBatchMayNotDecide(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	if _, err := h.approve(h.bot, "R1", "erin"); !errors.Is(err, bot.ErrRefused) {
		t.Errorf("Approve as erin: %v, want ErrRefused", err)
	}
	task, _ := h.taskOf("erin")
	h.tick() // reads the announcement
	h.comment("erin", task, "!deny not now")
	h.tick()
	rm := h.snapshot().Removals[0]
	if rm.Status != state.RemovalProposed || len(rm.Approvals) != 0 {
		t.Errorf("R1 = %s with %+v after erin's commands, want proposed and unapproved", rm.Status, rm.Approvals)
	}
}

// TestLostRemovalAnswerThenStatusChange: the answer to a removal is lost,
// and before the rerun a removed user says "done" and is verified. The
// rerun must still record exactly what was sent: that user was removed.
func TestLostRemovalAnswerThenStatusChange(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	approveR1(t, h, "alice", "bob")
	h.srv.FailAfterWrite("project.edit", 2) // acl*security: erin, nomfa1, nomfa3
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
		t.Fatal("tick succeeded although a removal's answer was lost")
	}
	h.srv.SetMFA(h.phid("nomfa3"), true)
	task, _ := h.taskOf("nomfa3")
	h.comment("nomfa3", task, "done")
	h.clock.Advance(time.Minute)
	h.tick()
	h.tick()
	f := h.finding("nomfa3")
	if !slices.Contains(f.RemovedFrom, h.group(groupSecurity).PHID) {
		t.Errorf("nomfa3 was removed from acl*security by the bot, but the state says removed from %v (status %s)", f.RemovedFrom, f.Status)
	}
	if got := h.pendingOps(); len(got) != 0 {
		t.Errorf("pending ops: %v", got)
	}
}

// TestComplianceRegression: a user who enabled MFA and then turned it off
// again is pending again; so is one who left and was re-added.
func TestComplianceRegression(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	h.srv.SetMFA(h.phid("nomfa4"), true)
	h.srv.RemoveMembers(h.group(groupSecurity).PHID, h.phid("nomfa3"))
	h.tick()
	if got := h.statuses(); got["nomfa4"] != state.StatusCompliant || got["nomfa3"] != state.StatusLeft {
		t.Fatalf("statuses = %v, want nomfa4 compliant and nomfa3 left-group", got)
	}
	h.srv.SetMFA(h.phid("nomfa4"), false)
	h.srv.AddMembers(h.group(groupSecurity).PHID, h.phid("nomfa3"))
	h.clock.Advance(time.Hour)
	h.tick()
	if got := h.statuses(); got["nomfa4"] != state.StatusPending || got["nomfa3"] != state.StatusPending {
		t.Errorf("statuses = %v, want nomfa4 and nomfa3 pending again", got)
	}
}

// TestExemptionEnds: an exemption "until" a date lapses on that date and
// the user is pending again.
func TestExemptionEnds(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	task, _ := h.taskOf("nomfa4")
	h.comment("nomfa4", task, "on leave until 2027-02-10")
	h.tick()
	h.comment("alice", task, "!approve @nomfa4")
	h.comment("bob", task, "!approve @nomfa4")
	h.tick()
	if got := h.finding("nomfa4").Status; got != state.StatusExempt {
		t.Fatalf("nomfa4 = %s, want exempt", got)
	}
	h.clock.Set(time.Date(2027, 2, 10, 23, 0, 0, 0, time.UTC))
	h.tick()
	if got := h.finding("nomfa4").Status; got != state.StatusExempt {
		t.Errorf("on the end date nomfa4 = %s, want exempt", got)
	}
	h.clock.Set(time.Date(2027, 2, 11, 0, 30, 0, 0, time.UTC))
	h.tick()
	if got := h.finding("nomfa4").Status; got != state.StatusPending {
		t.Errorf("after the end date nomfa4 = %s, want pending", got)
	}
}

// TestDeniedExtensionKeepsTheGrant: asking to extend a dated exemption
// and being denied leaves the granted exemption as it was, on record and
// ending on its date (before the fix the new request replaced it and the
// denial left the user exempt for ever).
func TestDeniedExtensionKeepsTheGrant(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	task, _ := h.taskOf("nomfa4")
	h.comment("nomfa4", task, "on leave until 2027-02-10")
	h.tick()
	h.comment("alice", task, "!approve @nomfa4")
	h.comment("bob", task, "!approve @nomfa4")
	h.tick()
	h.comment("nomfa4", task, "exemption: my leave is extended until 2027-04-30")
	h.tick()
	if f := h.finding("nomfa4"); f.Status != state.StatusExempt || f.Exemption.Decision != state.ExemptionPending {
		t.Fatalf("nomfa4 = %s with %+v, want exempt with the extension pending", f.Status, f.Exemption)
	}
	h.comment("carol", task, "!deny @nomfa4 no further leave is planned")
	h.tick()
	f := h.finding("nomfa4")
	if f.Exemption.Decision != state.ExemptionDenied || len(f.ExemptionHistory) != 1 {
		t.Fatalf("exemption %+v, history %+v; want the extension denied and the grant in the history", f.Exemption, f.ExemptionHistory)
	}
	grant := f.ExemptionInForce()
	if grant == nil || grant.Decision != state.ExemptionGranted || !grant.Until.Equal(time.Date(2027, 2, 10, 0, 0, 0, 0, time.UTC)) || len(grant.ApprovedBy) != 2 {
		t.Errorf("exemption in force = %+v, want the grant by two approvers until 2027-02-10", grant)
	}
	h.clock.Set(time.Date(2027, 2, 11, 0, 30, 0, 0, time.UTC))
	h.tick()
	if got := h.finding("nomfa4").Status; got != state.StatusPending {
		t.Errorf("after the granted end date nomfa4 = %s, want pending", got)
	}
}

// TestExtendOnlyLater: extend never shortens a deadline, for the campaign
// or for one user.
func TestExtendOnlyLater(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	for _, user := range []string{"", "nomfa4"} {
		err := h.bot.Extend(h.ctx, campaignName, time.Date(2027, 2, 20, 0, 0, 0, 0, time.UTC), user, "alice")
		if !errors.Is(err, bot.ErrInput) {
			t.Errorf("Extend(%q) to before the deadline: %v, want ErrInput", user, err)
		}
	}
	if got := h.snapshot().Campaign.Cutoff; !got.Equal(cutoff) {
		t.Errorf("cutoff moved to %s", got)
	}
	if n := len(h.effectiveWrites()); n != 3 {
		t.Errorf("%d writes, want only the 3 launch tasks", n)
	}
}

// TestDryRunLaunchRefusedLikeTheRealOne: the membership probe is sent even
// in dry-run (it is a no-op by construction), so a dry-run launch refuses a
// group the bot may not edit, as the real launch would.
func TestDryRunLaunchRefusedLikeTheRealOne(t *testing.T) {
	h := newHarness(t, fixture{lockedGroup: groupSecurity})
	dry := h.newBot(bot.DryRun(h.client, h.log), h.log)
	_, err := dry.Launch(h.ctx, h.camp)
	if !errors.Is(err, bot.ErrCheckFailed) {
		t.Fatalf("dry-run Launch: %v, want ErrCheckFailed", err)
	}
	if w := withoutProbes(h.srv.Writes()); len(w) != 0 {
		t.Errorf("dry-run sent writes: %+v", w)
	}
}

// TestRemindersForExtendedUser: a user whose deadline was extended is left
// out of the campaign's reminders and reminded from their own date.
func TestRemindersForExtendedUser(t *testing.T) {
	h := newHarness(t, fixture{campaignExtra: "reminders: [7d, 1d]\nquiet_reminders: false\n"})
	h.launch()
	newLast := time.Date(2027, 3, 14, 0, 0, 0, 0, time.UTC) // deadline 2027-03-15T00:00Z
	if err := h.bot.Extend(h.ctx, campaignName, newLast, "nomfa4", "alice"); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	_, id := h.taskOf("nomfa4")
	mentions := func(prefix string) (campaign, own int) {
		for _, c := range h.botCommentsWith(id, prefix) {
			if strings.Contains(markerKeyOf(c.Text), "user-nomfa4") {
				own++
			} else if strings.Contains(c.Text, "@nomfa4") {
				campaign++
			}
		}
		return campaign, own
	}
	h.clock.Set(cutoff.Add(-7 * 24 * time.Hour)) // the campaign's 7d reminder
	h.tick()
	if c, own := mentions("reminder/"); c != 0 || own != 0 {
		t.Errorf("at the campaign's 7d: nomfa4 mentioned in %d campaign reminder(s) and %d own, want 0 and 0", c, own)
	}
	h.clock.Set(time.Date(2027, 3, 8, 9, 0, 0, 0, time.UTC)) // nomfa4's own 7d
	h.tick()
	h.tick()
	if _, own := mentions("reminder/2027-03-14/7d/user-nomfa4"); own != 1 {
		t.Errorf("nomfa4's own 7d reminder posted %d times, want 1", own)
	}
}

// TestUnapprovedBatchBlocksNobodyElse: while R1 waits for approvers, a
// user whose extended deadline passes later goes into a new round.
func TestUnapprovedBatchBlocksNobodyElse(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	if err := h.bot.Extend(h.ctx, campaignName, cutoff.AddDate(0, 0, 6), "nomfa4", "alice"); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()
	h.clock.Set(cutoff.AddDate(0, 0, 8))
	h.tick()
	rs := h.snapshot().Removals
	if len(rs) != 2 {
		t.Fatalf("removal batches = %d, want R1 (waiting) and R2", len(rs))
	}
	if rs[1].Status != state.RemovalProposed || len(rs[1].Items) != 1 || rs[1].Items[0].Username != "nomfa4" {
		t.Errorf("R2 = %+v, want nomfa4 alone", rs[1])
	}
}

// TestRetryAfterUnsentRemovalRechecks: the removal's project.edit fails
// before landing; meanwhile a user enables MFA. The retry does not remove
// them: only a write that landed is recorded as it was sent.
func TestRetryAfterUnsentRemovalRechecks(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	approveR1(t, h, "alice", "bob")
	h.srv.FailBefore("project.edit", 1, "ERR-CONDUIT-CORE", "temporarily unavailable")
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
		t.Fatal("tick succeeded although the removal failed")
	}
	h.srv.SetMFA(h.phid("nomfa4"), true) // nomfa4 is only in acl*sre-team, the first group edited
	h.clock.Advance(time.Minute)
	h.tick()
	if !slices.Contains(h.srv.Members(h.group(groupSRE).PHID), h.phid("nomfa4")) {
		t.Error("nomfa4 enabled MFA before the retry and was removed anyway")
	}
	if slices.Contains(h.srv.Members(h.group(groupSRE).PHID), h.phid("nomfa2")) {
		t.Error("nomfa2 was not removed by the retry")
	}
	if got := h.pendingOps(); len(got) != 0 {
		t.Errorf("pending ops: %v", got)
	}
}

// TestPartlyRemovedUserRechecked: nomfa2 is removed from the not-risky
// group at once, then enables MFA before the riskier batch is approved: the
// bot does not remove them from WMF-NDA.
func TestPartlyRemovedUserRechecked(t *testing.T) {
	h := newHarness(t, fixture{campaignExtra: "auto_approve_not_risky: true\n"})
	h.cfg.Groups[groupSRE] = campaigns.RiskNotRisky
	h.launch()
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick() // R1 (auto, acl*sre-team) runs; R2 waits
	if f := h.finding("nomfa2"); f.Status != state.StatusRemoved {
		t.Fatalf("nomfa2 = %s, want removed from acl*sre-team", f.Status)
	}
	h.srv.SetMFA(h.phid("nomfa2"), true)
	rs := h.snapshot().Removals
	for _, a := range []string{"alice", "bob"} {
		if _, err := h.approve(h.bot, rs[len(rs)-1].Label(), a); err != nil {
			t.Fatalf("Approve: %v", err)
		}
	}
	h.tick()
	if !slices.Contains(h.srv.Members(h.group(groupNDA).PHID), h.phid("nomfa2")) {
		t.Error("nomfa2, compliant before R2 ran, was removed from WMF-NDA")
	}
	if slices.Contains(h.srv.Members(h.group(groupNDA).PHID), h.phid("nomfa1")) {
		t.Error("nomfa1 was not removed from WMF-NDA")
	}
}

// TestLapseAfterRemovalStarted: once a removal's write was sent, a lapsed
// approval does not reset the batch; the bot reconciles and finishes it.
func TestLapseAfterRemovalStarted(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	approveR1(t, h, "alice", "bob")
	h.srv.FailAfterWrite("project.edit", 1)
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
		t.Fatal("tick succeeded although a removal's answer was lost")
	}
	h.srv.RemoveMembers(h.group(groupApprovers).PHID, h.phid("bob"))
	h.clock.Advance(time.Minute)
	h.tick()
	h.tick()
	rm := h.snapshot().Removals[0]
	if rm.Status != state.RemovalDone {
		t.Errorf("R1 = %s, want done (it was under way)", rm.Status)
	}
	if f := h.finding("nomfa4"); f.Status != state.StatusRemoved || len(f.RemovedFrom) != 1 {
		t.Errorf("nomfa4 = %s removed from %v, want removed from acl*sre-team", f.Status, f.RemovedFrom)
	}
	if got := h.pendingOps(); len(got) != 0 {
		t.Errorf("pending ops: %v", got)
	}
}

// TestForcedRestoreStays: a restore forced past a failed compliance check
// is a person's decision; drift does not put the user back in line.
func TestForcedRestoreStays(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	approveR1(t, h, "alice", "bob")
	h.tick()
	if err := h.bot.Restore(h.ctx, campaignName, "nomfa4", true, "alice"); err != nil {
		t.Fatalf("forced Restore: %v", err)
	}
	h.clock.Advance(time.Hour)
	h.tick()
	h.tick()
	if got := h.finding("nomfa4").Status; got != state.StatusRestored {
		t.Errorf("nomfa4 = %s after ticks, want still restored", got)
	}
	if !slices.Contains(h.srv.Members(h.group(groupSRE).PHID), h.phid("nomfa4")) {
		t.Error("nomfa4 was removed again")
	}
}

// TestTaskPolicyTheBotCannotMeet: view_policy "project" (the team) when
// the bot is not in the team would make Phabricator refuse every task; the
// pre-flight check says so before anything is recorded.
func TestTaskPolicyTheBotCannotMeet(t *testing.T) {
	h := newHarness(t, fixture{campaignExtra: "view_policy: project\n"})
	_, err := h.bot.Launch(h.ctx, h.camp)
	if !errors.Is(err, bot.ErrCheckFailed) || !strings.Contains(err.Error(), "which the bot is not in") {
		t.Fatalf("Launch: %v, want a failed check naming the team policy", err)
	}
	if ok, _ := h.store.HasCampaign(campaignName); ok {
		t.Error("the campaign was recorded")
	}
	if n := len(h.srv.Tasks()); n != 0 {
		t.Errorf("%d task(s) filed", n)
	}

	// With the bot in the team, the same campaign launches and its tasks
	// are visible to the team only.
	h.srv.AddMembers(h.group(groupTeam).PHID, h.botU.PHID)
	res := h.launch()
	for _, lt := range res.Tasks {
		id, err := strconv.Atoi(strings.TrimPrefix(lt.Task, "T"))
		if err != nil {
			t.Fatal(err)
		}
		task, _ := h.srv.Task(id)
		if task.ViewPolicy != h.group(groupTeam).PHID {
			t.Errorf("%s view policy = %s, want the team's PHID", lt.Task, task.ViewPolicy)
		}
	}
}

// TestLaunchCalls: launch resolves the groups once (the pre-flight check's
// answer is reused for discovery) and asks for the bot's account once.
func TestLaunchCalls(t *testing.T) {
	h := newHarness(t, fixture{})
	h.srv.ResetCalls()
	h.launch()
	calls := h.srv.Calls()
	for method, want := range map[string]int{"project.search": 1, "user.whoami": 1, "user.search": 1} {
		if got := calls[method]; got != want {
			t.Errorf("%s calls = %d, want %d (all: %v)", method, got, want, calls)
		}
	}
}

// TestCheckRefusesEditableByAffectedUsers: whoever may edit a task may make
// it public or rewrite it (NOTES fact 46), so the pre-flight check refuses
// an edit policy that lets a user the tasks name edit them, and launch
// records and files nothing.
func TestCheckRefusesEditableByAffectedUsers(t *testing.T) {
	for _, tt := range []struct {
		name    string
		extra   string
		prepare func(h *harness)
		want    string // in the failed row's detail; "" means the check passes
	}{
		{name: "default is admin", want: ""},
		{name: "subscribers", extra: "edit_policy: subscribers\n", want: "every user a task names is subscribed"},
		{name: "team with an affected member", extra: "edit_policy: project\n",
			prepare: func(h *harness) { h.srv.AddMembers(h.group(groupTeam).PHID, h.botU.PHID, h.phid("nomfa3")) },
			want:    "affected user(s) @nomfa3"},
		{name: "team without affected members", extra: "edit_policy: project\n",
			prepare: func(h *harness) { h.srv.AddMembers(h.group(groupTeam).PHID, h.botU.PHID) }, want: ""},
		{name: "admin, and an affected user is an admin", prepare: func(h *harness) {
			u := h.srv.AddUser(phabtest.UserSpec{Username: "rootnomfa", Admin: true})
			h.srv.AddMembers(h.group(groupNDA).PHID, u.PHID)
		}, want: "administrator(s) @rootnomfa"},
		{name: "the bot alone", extra: "edit_policy: PHID-USER-BOT\n", prepare: func(h *harness) {
			u := h.srv.AddUser(phabtest.UserSpec{Username: "rootnomfa", Admin: true})
			h.srv.AddMembers(h.group(groupNDA).PHID, u.PHID)
		}, want: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			if tt.extra != "" {
				h.camp = h.parseCampaign(fixture{campaignExtra: strings.ReplaceAll(tt.extra, "PHID-USER-BOT", h.botU.PHID)})
			}
			if tt.prepare != nil {
				tt.prepare(h)
			}
			report, err := h.bot.Check(h.ctx, h.camp)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			var failed []string
			for _, row := range report.Rows {
				if !row.OK {
					failed = append(failed, row.Subject+": "+row.Check+": "+row.Detail)
				}
			}
			if tt.want == "" {
				if len(failed) > 0 {
					t.Fatalf("check failed: %v", failed)
				}
				return
			}
			if len(failed) != 1 || !strings.Contains(failed[0], "tasks: edit policy: ") || !strings.Contains(failed[0], tt.want) {
				t.Fatalf("failed rows = %q, want one edit policy row with %q", failed, tt.want)
			}
			if _, err := h.bot.Launch(h.ctx, h.camp); !errors.Is(err, bot.ErrCheckFailed) {
				t.Errorf("Launch: %v, want ErrCheckFailed", err)
			}
			if ok, _ := h.store.HasCampaign(campaignName); ok {
				t.Error("the campaign was recorded")
			}
			if n := len(h.srv.Tasks()); n != 0 {
				t.Errorf("%d task(s) filed", n)
			}
		})
	}
}

// TestEditedExemptionApproval: an exemption approval edited away before
// the exemption is granted does not count towards it.
func TestEditedExemptionApproval(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	task, _ := h.taskOf("nomfa4")
	h.comment("nomfa4", task, "on leave until 2027-02-10")
	h.tick()
	tx := h.commentTx("alice", task, "!approve @nomfa4")
	h.tick()
	h.srv.EditComment(tx, "on second thought, no")
	h.comment("bob", task, "!approve @nomfa4")
	h.tick()
	f := h.finding("nomfa4")
	if f.Status == state.StatusExempt || f.Exemption.Decision != state.ExemptionPending {
		t.Fatalf("nomfa4 = %s with %+v, want the exemption still pending", f.Status, f.Exemption)
	}
	if got := f.Exemption.ApprovedBy; len(got) != 1 || got[0] != h.phid("bob") {
		t.Errorf("approved by %v, want bob only", got)
	}
}
