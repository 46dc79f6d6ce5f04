package bot_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// Attack tests of the attack1 round: each fails on main and says what
// the attack is and what the safe behaviour would be.

// TestAttack1_ApproveFallsBackToOlderBatch: an approver's bare
// "!approve" answers the announcement right above it. When that batch
// (R2) was decided by the time the bot reads the comment (two other
// approvers approved it a minute earlier), the bot does not refuse: it
// looks for the latest *open* batch announced before the comment and
// records the approval for R1, an older batch announced on the same
// task that this approver had deliberately left alone. One approver's
// vote for R2 becomes a vote for R1, and R1 needs one approver fewer.
//
// Rounds on one task are ordinary: a per-user deadline (extend --user),
// a "remove me" after a proposal. Safe behaviour: the command answers
// the latest batch announced before it; if that batch no longer waits
// for approval, the command is refused and counts for no other batch.
func TestAttack1_ApproveFallsBackToOlderBatch(t *testing.T) {
	h := newHarness(t, fixture{groups: "[WMF-NDA]"})
	h.launch()
	task, _ := h.taskOf("nomfa1")
	if t2, _ := h.taskOf("nomfa2"); t2 != task {
		t.Fatalf("nomfa1 on %s, nomfa2 on %s: the test wants them on one task", task, t2)
	}
	// nomfa2's own deadline is a day later: two rounds on one task.
	if err := h.bot.Extend(h.ctx, campaignName, cutoff.AddDate(0, 0, 1), "nomfa2", "alice"); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick() // R1: nomfa1, announced on the task
	h.clock.Set(cutoff.AddDate(0, 0, 2).Add(time.Hour))
	h.tick() // R2: nomfa2, announced on the same task, after R1
	h.tick() // the announcements are seen in the task's stream
	labels := map[string]state.RemovalStatus{}
	for _, rm := range h.snapshot().Removals {
		labels[rm.Label()] = rm.Status
	}
	if labels["R1"] != state.RemovalProposed || labels["R2"] != state.RemovalProposed {
		t.Fatalf("removals = %v, want R1 and R2 proposed", labels)
	}

	// alice and bob approve R2, the last announcement; carol does the
	// same a moment later. She never approved R1.
	h.comment("alice", task, "!approve")
	h.comment("bob", task, "!approve")
	h.comment("carol", task, "!approve")
	h.tick()

	for _, rm := range h.snapshot().Removals {
		if rm.Label() != "R1" {
			continue
		}
		if slices.ContainsFunc(rm.Approvals, func(a state.Approval) bool { return a.Username == "carol" }) {
			t.Errorf("R1 holds an approval by carol, given in a comment that answered R2's announcement: %+v", rm.Approvals)
		}
	}
}

// onFirstEdit is a Phabricator that runs do once, right before the bot's
// first maniphest.edit after it is armed: something a person does in
// Phabricator while a tick is under way.
type onFirstEdit struct {
	bot.Phabricator
	armed bool
	once  sync.Once
	do    func()
}

func (p *onFirstEdit) EditTask(ctx context.Context, task string, edits ...conduit.Edit) (conduit.EditResult, error) {
	if p.armed {
		p.once.Do(p.do)
	}
	return p.Phabricator.EditTask(ctx, task, edits...)
}

// TestAttack1_LapsedApproverCountsForTheRestOfTheTick: the engine reads
// each account once per tick (reader.accounts keeps it in the run) and
// the approvers' project once per tick (approverMembers), and uses those
// reads for every later decision of the tick: each command's "is the
// commenter an enabled approver", and execute-removals' "do the approvals
// still stand" right before project.edit (ARCHITECTURE.md: "Right before
// removing it observes again: the approvers and the text of every
// approving comment"). The engine before the rewrite (c12d077) read the
// commenter's account for each command (commandOutcome) and the
// approvers' accounts again right before the removal (splitLapsed), so
// the "disabled" case is a regression; the approvers' project was cached
// per tick there too. An approver disabled (offboarded, compromised) or
// taken out of the approvers' project while a tick runs still gives
// commands on the tick's later tasks, and the batch their approvals
// complete is executed in that tick: memberships are removed on the
// approval of someone who, when the removal is made, may not approve.
//
// Here bob loses his standing right after the bot posts its answer on
// the first task (he approved there while he could); his "!approve" on
// the other tasks is read after that. Safe behaviour: those commands are
// refused, and the approvals are checked against Phabricator right
// before the removal, so nothing is removed.
func TestAttack1_LapsedApproverCountsForTheRestOfTheTick(t *testing.T) {
	for _, tt := range []struct {
		name  string
		lapse func(h *harness)
	}{
		{"disabled (regression)", func(h *harness) { h.srv.SetDisabled(h.phid("bob"), true) }},
		{"left the approvers", func(h *harness) { h.srv.RemoveMembers(h.group(groupApprovers).PHID, h.phid("bob")) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launchAndPropose()
			rm := h.snapshot().Removals[0]
			var tasks []string
			for _, bt := range h.snapshot().Batches {
				if slices.ContainsFunc(rm.Items, func(it state.RemovalItem) bool { return it.Batch == bt.Index }) {
					tasks = append(tasks, bt.Monogram())
				}
			}
			if len(tasks) < 2 {
				t.Fatalf("R1 is on %d task(s), the test wants at least 2", len(tasks))
			}
			h.tick() // the announcements are seen
			for _, task := range tasks {
				h.comment("alice", task, "!approve")
				h.comment("bob", task, "!approve")
			}
			lapsed := false
			p := &onFirstEdit{Phabricator: h.client, do: func() { tt.lapse(h); lapsed = true }}
			h.bot = h.newBot(p, h.log)
			p.armed = true
			h.tick()
			p.armed = false
			if !lapsed {
				t.Fatal("bob did not lapse during the tick")
			}
			if w := h.writesOf("project.edit"); len(w) != 0 {
				t.Errorf("%d membership edit(s) in the tick in which approver bob lapsed, resting on his approval", len(w))
			}
			var bobs []string
			for _, a := range h.snapshot().Removals[0].Approvals {
				if a.ApproverPHID == h.phid("bob") && a.Via != tasks[0] {
					bobs = append(bobs, a.Via)
				}
			}
			if len(bobs) > 0 {
				t.Errorf("commands of bob read after he lapsed were counted (on %v)", bobs)
			}
		})
	}
}

// TestAttack1_KeepOnOldTaskCoversNewGroups: "!keep @user" must be written
// on the task that lists the user, "each on the task that lists the user"
// (README), so that the keep covers what the approvers were shown there.
// In a recurring campaign (mode join) a run that audits someone again
// moves their finding to a new batch and task, with the groups the run
// found; the earlier keep "given for other groups no longer applies". But
// the old task's batch still lists them, and decideKeepCommand only asks
// whether the task's batch contains the user. Two approvers answering on
// the old thread, which showed nomfa3 in acl*security, so keep nomfa3 in
// acl*sre-team, a membership they were never shown there.
//
// Safe behaviour: a keep counts only on the task of the user's current
// batch (the one that lists the groups it keeps), or is refused.
func TestAttack1_KeepOnOldTaskCoversNewGroups(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[reconfirm]", campaignExtra: "recurring: {every: 7d}\nnotice: 60d\n"})
	h.launch()
	oldTask, _ := h.taskOf("nomfa3")
	// An admin moves nomfa3 from acl*security to acl*sre-team.
	h.srv.RemoveMembers(h.group(groupSecurity).PHID, h.phid("nomfa3"))
	h.srv.AddMembers(h.group(groupSRE).PHID, h.phid("nomfa3"))
	h.clock.Advance(time.Hour)
	h.tick()
	h.clock.Set(launchTime.Add(7 * 24 * time.Hour))
	h.tick()
	h.clock.Advance(time.Hour)
	h.tick()
	f := h.finding("nomfa3")
	newTask, _ := h.taskOf("nomfa3")
	if newTask == oldTask || f.Status != state.StatusPending || len(f.Groups) != 1 || f.Groups[0] != h.group(groupSRE).PHID {
		t.Fatalf("nomfa3 = %s on %s (was %s), groups %v: want pending on a new task for acl*sre-team", f.Status, newTask, oldTask, f.Groups)
	}

	h.comment("alice", oldTask, "!keep @nomfa3")
	h.comment("bob", oldTask, "!keep @nomfa3")
	h.clock.Advance(time.Hour)
	h.tick()
	if f := h.finding("nomfa3"); len(f.Kept) > 0 || f.Status != state.StatusPending {
		t.Errorf("nomfa3 = %s, kept %v: keeps written on %s, which showed acl*security, keep access to acl*sre-team, listed only on %s",
			f.Status, f.Kept, oldTask, newTask)
	}
}

// TestAttack1_TickTypoInCampaignListStillWrites: "bad input changes
// nothing". Tick refuses an unknown chore (--only) before it does
// anything, but an unknown campaign in --campaign is found only when the
// tick reaches it: the campaigns before it in the list are ticked, with
// every write that entails (here a "remove me" recorded and answered;
// past the cutoff, removals), and the typo ends as "some campaign
// failed" (exit 6), not as bad input (exit 2). An operator who means "tick only
// mfa-tset, the test campaign" and types a name that does not exist,
// beside the real one, gets the real one's removals.
//
// Safe behaviour: every name in Campaigns is checked before anything is
// done; one that was never launched fails the tick with
// ErrUnknownCampaign and nothing is written.
func TestAttack1_TickTypoInCampaignListStillWrites(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	task, _ := h.taskOf("nomfa1")
	h.comment("nomfa1", task, "remove me")
	writes := len(h.effectiveWrites())
	_, err := h.bot.Tick(h.ctx, bot.TickOptions{Campaigns: []string{campaignName, "mfa-tset"}})
	if !errors.Is(err, bot.ErrUnknownCampaign) {
		t.Errorf("Tick with an unknown campaign = %v, want ErrUnknownCampaign", err)
	}
	if n := len(h.effectiveWrites()) - writes; n != 0 {
		t.Errorf("a tick refused for an unknown campaign name made %d write(s) to Phabricator", n)
	}
	if got := h.finding("nomfa1").Status; got != state.StatusPending {
		t.Errorf("nomfa1 = %s, want pending: the refused tick recorded the reply", got)
	}
}

// TestAttack1_AnyoneJoinsTheTeamAndReadsEveryAuditTask: every audit task
// subscribes the team project, and the guard lets the team's members stay
// (taskAudience: "the team project and its members"). With view policy
// "subscribers", a member of a subscribed project can read the task
// (members of a subscribed project count as subscribers). Whether someone
// may *become* a member is the project's join policy (NOTES fact 32:
// adding yourself is checked against join, not edit), which neither the
// pre-flight check nor the policies chore ever reads. A team project
// that anyone may join (Phorge's default join policy, "All Users", and
// the test world's Security-Team) lets any account join it and read the
// list of non-compliant members of the security groups, for every task of
// every campaign, and the bot neither refuses the launch nor takes the
// access back. The same holds for the approvers' project: who may join it
// may approve removals.
//
// Decided behaviour (issue 16's review): the approvers' project that
// anyone may join fails the check (launch refuses; every tick's guard
// errors until a person closes it), since whoever joins could approve
// removals. A team project anyone may join is warned about (check and
// plan show a WARN row, every tick logs it): the team's project is often
// not the audit's to change, and refusing would make the audit impossible
// (the real lab's Security-Team is such a project). The warning names what
// it lets anyone do.
func TestAttack1_AnyoneJoinsTheTeamAndReadsEveryAuditTask(t *testing.T) {
	h := newHarness(t, fixture{})
	report, err := h.bot.Check(h.ctx, h.camp)
	if err != nil {
		t.Fatal(err)
	}
	var warned bool
	for _, row := range report.Rows {
		if row.Subject == groupTeam && row.Check == "team join policy" {
			warned = row.OK && row.Warn && strings.Contains(row.Detail, "reads every audit task")
		}
	}
	if !warned {
		t.Errorf("check does not warn that anyone may join %s: %+v", groupTeam, report.Rows)
	}
	// The approvers' project anyone may join: TestGatekeepers (package
	// bot) shows the check fails and every tick's guard errors.
}

// TestAttack1_ExemptionApprovedOnATaskThatNeverShowedIt: an approval
// covers only what its approver was shown. "!keep @user" is refused on a
// task that does not list the user ("keep them on the task that lists
// them"), and a batch "!approve" covers only the announcing task's items;
// but "!approve @user" of an exemption counts on any task of the
// campaign. The exemption request (its reason, its end date, the groups
// it keeps) is shown only on the user's own task; two approvers who
// write "!approve @nomfa3" on another task, where nothing about nomfa3's
// request was shown (say, meaning a different request, or mistyping a
// name), grant nomfa3 an exemption from the security groups.
//
// Safe behaviour: a decision on an exemption counts only on the task of
// the batch that lists the user, where the request was answered.
func TestAttack1_ExemptionApprovedOnATaskThatNeverShowedIt(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	own, _ := h.taskOf("nomfa3")
	other, _ := h.taskOf("nomfa1")
	if own == other {
		t.Fatalf("nomfa3 and nomfa1 share %s; the test wants two tasks", own)
	}
	h.comment("nomfa3", own, "exemption: I only read security bugs from a hardware key-less laptop")
	h.clock.Advance(time.Hour)
	h.tick()
	if e := h.finding("nomfa3").Exemption; e == nil || e.Decision != state.ExemptionPending {
		t.Fatalf("nomfa3's exemption = %+v, want a pending request", e)
	}
	h.comment("alice", other, "!approve @nomfa3")
	h.comment("bob", other, "!approve @nomfa3")
	h.clock.Advance(time.Hour)
	h.tick()
	if f := h.finding("nomfa3"); f.Status == state.StatusExempt {
		t.Errorf("nomfa3 is exempt on approvals written on %s, which never listed nomfa3 or showed the request (on %s): %+v", other, own, f.Exemption.Approvals)
	}
}
