package bot_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// TestAutoApproveNotRisky: with auto_approve_not_risky, removals from a
// not-risky group go ahead without an approver in their own batch, while
// removals from riskier groups still wait for two approvers.
func TestAutoApproveNotRisky(t *testing.T) {
	for _, tt := range []struct {
		name        string
		autoApprove bool
		wantAuto    bool
	}{
		{"configured", true, true},
		{"not configured", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			extra := ""
			if tt.autoApprove {
				extra = "auto_approve_not_risky: true\n"
			}
			h := newHarness(t, fixture{campaignExtra: extra})
			h.cfg.Groups[groupSRE] = campaigns.RiskNotRisky
			h.launchAndPropose()

			removals := h.snapshot().Removals
			var auto []state.Removal
			for _, r := range removals {
				if r.AutoApproved {
					auto = append(auto, r)
				}
			}
			if got := len(auto) > 0; got != tt.wantAuto {
				t.Fatalf("auto-approved batches: %d, want some: %v (%+v)", len(auto), tt.wantAuto, removals)
			}
			sre := h.srv.Members(h.group(groupSRE).PHID)
			if tt.wantAuto {
				// The not-risky group was cleaned in the same tick,
				// and only it.
				if slices.Contains(sre, h.phid("nomfa4")) || slices.Contains(sre, h.phid("nomfa2")) {
					t.Errorf("acl*sre-team still has the non-compliant members: %v", sre)
				}
				for _, it := range auto[0].Items {
					if it.GroupName != groupSRE {
						t.Errorf("auto-approved item outside the not-risky group: %+v", it)
					}
				}
				if auto[0].Status != state.RemovalDone {
					t.Errorf("auto-approved batch is %s, want done", auto[0].Status)
				}
			} else if !slices.Contains(sre, h.phid("nomfa4")) {
				t.Errorf("nomfa4 was removed from acl*sre-team without approval")
			}
			// The security groups still wait for two approvers.
			var manual *state.Removal
			for i := range removals {
				if !removals[i].AutoApproved {
					manual = &removals[i]
				}
			}
			if manual == nil || manual.Status != state.RemovalProposed || manual.RequiredApprovals != 2 {
				t.Fatalf("manual batch = %+v, want proposed needing 2 approvals", manual)
			}
			if !slices.Contains(h.srv.Members(h.group(groupNDA).PHID), h.phid("nomfa1")) {
				t.Error("nomfa1 was removed from WMF-NDA without approval")
			}
			// An approver's !approve on a task goes to the batch that
			// waits, not to the auto-approved one.
			task, _ := h.taskOf("nomfa1")
			h.comment("alice", task, "!approve")
			h.tick()
			var got []state.Approval
			for _, r := range h.snapshot().Removals {
				if r.ID == manual.ID {
					got = r.Approvals
				}
			}
			if len(got) != 1 || got[0].Username != "alice" {
				t.Errorf("approvals of %s = %+v, want alice's", manual.Label(), got)
			}
		})
	}
}

// policyDrift is a Phabricator whose read-back shows a task as less
// restricted than asked, as a misconfigured install or a policy extension
// might.
type policyDrift struct {
	bot.Phabricator
}

func (p policyDrift) SearchTasks(ctx context.Context, q conduit.TaskQuery) ([]conduit.Task, error) {
	tasks, err := p.Phabricator.SearchTasks(ctx, q)
	for i := range tasks {
		tasks[i].ViewPolicy = conduit.PolicyUsers
	}
	return tasks, err
}

// TestLaunchFailsLoudlyOnPolicyMismatch: after filing, the bot reads the
// task back; a view policy that is not the restricted one asked for fails
// the launch and is journaled.
func TestLaunchFailsLoudlyOnPolicyMismatch(t *testing.T) {
	h := newHarness(t, fixture{})
	b := h.newBot(policyDrift{h.client}, h.log)
	_, err := b.Launch(h.ctx, h.camp)
	if err == nil {
		t.Fatal("Launch succeeded with a task readable by all users")
	}
	for _, want := range []string{"view policy is \"users\"", "not restricted"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if got := h.journalKinds()["policy-mismatch"]; got == 0 {
		t.Error("the mismatch was not journaled")
	}
}

// TestExtendCampaign moves the whole campaign's deadline: every task with
// pending users is told once, reminders count from the new date, and no
// removal is proposed before it.
func TestExtendCampaign(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	h.clock.Set(cutoff.Add(-10 * 24 * time.Hour))
	newLast := time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)
	for i := range 2 { // twice: the announcement is made once
		if err := h.bot.Extend(h.ctx, campaignName, newLast, "", "alice"); err != nil && (i == 0 || !errors.Is(err, bot.ErrUnchanged)) {
			t.Fatalf("Extend #%d: %v", i+1, err)
		}
	}
	snap := h.snapshot()
	if want := time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC); !snap.Campaign.Cutoff.Equal(want) {
		t.Errorf("cutoff = %s, want %s", snap.Campaign.Cutoff, want)
	}
	for _, bt := range snap.Batches {
		if got := len(h.botCommentsWith(bt.TaskID, "extend/")); got != 1 {
			t.Errorf("%s has %d extension notices, want 1", bt.Monogram(), got)
		}
	}
	// The old cutoff passes: nothing is proposed.
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()
	if rs := h.snapshot().Removals; len(rs) != 0 {
		t.Errorf("removal proposed before the extended deadline: %+v", rs)
	}
	// 7 days before the new date the 7d reminder comes again, keyed to
	// the new date.
	h.clock.Set(time.Date(2027, 3, 25, 9, 0, 0, 0, time.UTC))
	h.tick()
	var keys []string
	for _, op := range h.snapshot().Ops {
		if strings.HasPrefix(op.Key, "reminder/2027-03-31/7d/") {
			keys = append(keys, op.Key)
		}
	}
	if diff := cmp.Diff(len(snap.Batches), len(keys)); diff != "" {
		t.Errorf("7d reminders for the new date: %v", keys)
	}
	// A date in the past is refused.
	if err := h.bot.Extend(h.ctx, campaignName, time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC), "", "alice"); !errors.Is(err, bot.ErrInput) {
		t.Errorf("Extend to the past: %v, want ErrInput", err)
	}
}
