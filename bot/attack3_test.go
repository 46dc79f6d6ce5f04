package bot_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/state"
)

// Third round of attack tests (see attack_test.go and attack2_test.go):
// each breaks a promise README.md makes and fails until the hole is closed.

// botWith builds a bot over the harness's server and store that knows
// several campaign files by name (the harness's bot knows only h.camp).
func botWith(h *harness, camps ...*campaigns.Campaign) *bot.Bot {
	h.t.Helper()
	b, err := bot.New(bot.Options{
		Phab: h.client, Store: h.store, Templates: h.tmpl, Config: h.cfg,
		LoadCampaign: func(name string) (*campaigns.Campaign, error) {
			for _, c := range camps {
				if c.Name == name {
					return c, nil
				}
			}
			return nil, fmt.Errorf("no campaign %q in this test", name)
		},
		Now: h.clock.Now, Logger: h.log,
	})
	if err != nil {
		h.t.Fatalf("bot.New: %v", err)
	}
	return b
}

// parseNamed parses a small campaign file under another name.
func parseNamed(h *harness, name, body string) *campaigns.Campaign {
	h.t.Helper()
	c, err := campaigns.ParseCampaign(filepath.Join(h.dir, name+".yaml"), []byte("name: "+name+"\n"+body))
	if err != nil {
		h.t.Fatalf("parse campaign %s: %v", name, err)
	}
	return c
}

// TestAttack3InstanceNameCollidesWithUserCampaign: a recurring campaign in
// mode instance names run N's campaign NAME-rN, and startInstance treated
// an existing campaign of that name as "a rerun of the same run already
// created it" (HasCampaign -> return nil). But NAME-rN was an ordinary
// valid campaign name that anyone could launch first (a campaign file
// mfa-test-r1.yaml auditing something else). Then run 1 recorded
// "instance mfa-test-r1" and its new non-compliant members were put in NO
// campaign: nobody told, nobody ever removed.
//
// Fixed twice over: a campaign file's name may not end in -rN (the parser
// says file:line, Launch refuses a campaign built otherwise), and a run
// adopts an existing NAME-rN only when its record says it is an instance
// of NAME; otherwise (a campaign launched by an older auditbot) the run is
// refused, journaled once and shown in status, and nothing is recorded.
func TestAttack3InstanceNameCollidesWithUserCampaign(t *testing.T) {
	const otherBody = `title: someone else's audit
criteria: [mfa]
groups: [acl*sre-team]
batch_size: 2
cutoff: 2027-02-28
team: Security-Team
approvers: acl*phabricator-admins
`
	t.Run("a campaign file may not take an instance's name", func(t *testing.T) {
		for _, name := range []string{campaignName + "-r1", "audit-r12"} {
			path := filepath.Join(t.TempDir(), name+".yaml")
			_, err := campaigns.ParseCampaign(path, []byte("name: "+name+"\n"+otherBody))
			if err == nil || !strings.Contains(err.Error(), path+":1: name") || !strings.Contains(err.Error(), "-rN") {
				t.Errorf("ParseCampaign(%s) = %v, want an error at %s:1 naming the reserved -rN suffix", name, err, path)
			}
		}
		for _, name := range []string{"r1", "audit-r", "audit-rx1", "audit-2027r1"} {
			if _, err := campaigns.ParseCampaign(filepath.Join(t.TempDir(), name+".yaml"), []byte("name: "+name+"\n"+otherBody)); err != nil {
				t.Errorf("ParseCampaign(%s): %v, want it accepted", name, err)
			}
		}
	})
	t.Run("launch refuses an instance's name", func(t *testing.T) {
		h := newHarness(t, fixture{})
		other := parseNamed(h, "other-audit", otherBody)
		other.Name = campaignName + "-r1"
		h.bot = botWith(h, h.camp, other)
		_, err := h.bot.Launch(h.ctx, other)
		if !errors.Is(err, bot.ErrInput) {
			t.Fatalf("Launch(%s) = %v, want ErrInput", other.Name, err)
		}
		if ok, _ := h.store.HasCampaign(other.Name); ok {
			t.Errorf("Launch(%s) refused but recorded the campaign", other.Name)
		}
	})
	t.Run("a run refuses a campaign that is not its instance", func(t *testing.T) {
		h := newHarness(t, fixture{campaignExtra: "recurring: {every: 7d, mode: instance}\nnotice: 30d\n"})
		h.launch()
		// A campaign of that name launched by an auditbot that did not
		// reserve the suffix: a plain campaign, not an instance.
		rec := h.snapshot().Campaign
		rec.Name, rec.InstanceOf, rec.Runs = campaignName+"-r1", "", nil
		if err := h.store.CreateCampaign(rec, nil, nil); err != nil {
			t.Fatalf("create %s: %v", rec.Name, err)
		}
		newcomer(h)
		h.clock.Set(launchTime.Add(week))
		_, err := h.bot.Rescan(h.ctx, campaignName)
		if !errors.Is(err, bot.ErrRefused) || !strings.Contains(err.Error(), campaignName+"-r1") {
			t.Fatalf("Rescan = %v, want ErrRefused naming %s-r1", err, campaignName)
		}
		h.clock.Advance(time.Hour)
		if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
			t.Errorf("Tick succeeded, want the rescan chore to fail")
		}
		snap := h.snapshot()
		if len(snap.Campaign.Runs) != 0 {
			t.Errorf("runs recorded: %+v, want none", snap.Campaign.Runs)
		}
		if got := h.journalKinds()["run-refused"]; got != 1 {
			t.Errorf("run-refused journaled %d times, want once", got)
		}
		st, err := h.bot.Status(campaignName)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(st.Attention, func(s string) bool { return strings.Contains(s, "recurring runs are refused") }) {
			t.Errorf("status attention %q does not say the runs are refused", st.Attention)
		}
		inst, err := h.store.Snapshot(campaignName + "-r1")
		if err != nil {
			t.Fatal(err)
		}
		j, err := h.store.Journal(campaignName + "-r1")
		if err != nil {
			t.Fatal(err)
		}
		if len(inst.Findings) != 0 || len(j) != 0 {
			t.Errorf("the other campaign was changed: %d findings, %d journal entries", len(inst.Findings), len(j))
		}
	})
}

// TestAttack3RecurringSkipsKnownUserNobodyWatches: a recurring run (mode
// join) adds a newly found member only if they have no finding yet,
// because "someone with a finding already is watched by drift on their
// task". That is not true of every finding: drift checks membership in
// the finding's own groups only (f.Groups), so a member who moves from
// one audited group to another is "left-group" for good, and a run that
// finds them non-compliant in the new group files nothing: the recurring
// campaign never audits them again. (The same holds for a removed user
// that someone re-adds by hand instead of !restore: drift does not watch
// removed findings at all.)
//
// Sequence: mfa campaign, recurring every 7d (mode join); launch (nomfa3,
// no MFA, is only in acl*security); an admin moves nomfa3 from
// acl*security to acl*sre-team; tick (drift: left-group); a week later
// the run finds nomfa3 non-compliant in acl*sre-team (in run.Found; not
// even "new", since diffRun compares with the launch's findings whatever
// their status) and adds no batch; more ticks: nomfa3 stays left-group.
//
// Fixed: a run audits again anyone it finds whose finding drift does not
// bring back to pending where the run found them (removed; or groups, or
// for a non-removable status reasons, that do not cover the run's): a new
// batch, its own task, the run's deadline (see driftCovers and reaudit).
func TestAttack3RecurringSkipsKnownUserNobodyWatches(t *testing.T) {
	// reaudited checks that username was moved into a batch the run
	// added, pending on the groups the run found, told on a filed task.
	reaudited := func(t *testing.T, h *harness, username string, groups ...string) state.Finding {
		t.Helper()
		snap := h.snapshot()
		run := snap.Campaign.Runs[len(snap.Campaign.Runs)-1]
		f := h.finding(username)
		if diff := cmp.Diff(groups, groupNamesOf(h, f.Groups)); f.Status != "pending" || !slices.Contains(run.Batches, f.Batch) || diff != "" {
			t.Fatalf("run %d found %s non-compliant (batches %v), but their finding is %s in batch %d (groups -want +got):\n%s",
				run.N, username, run.Batches, f.Status, f.Batch, diff)
		}
		if !f.Cutoff.Equal(run.Cutoff) {
			t.Errorf("%s's deadline = %s, want the run's %s", username, f.Cutoff, run.Cutoff)
		}
		for _, bt := range snap.Batches {
			if bt.Index != f.Batch {
				continue
			}
			task, ok := h.srv.Task(bt.TaskID)
			if !ok || !strings.Contains(task.Description, username) {
				t.Errorf("batch %d's task T%d does not tell %s (filed: %v)", bt.Index, bt.TaskID, username, ok)
			}
		}
		return f
	}
	t.Run("moved to another audited group", func(t *testing.T) {
		h := newHarness(t, recurringFixture)
		h.launch()
		h.srv.RemoveMembers(h.group(groupSecurity).PHID, h.phid("nomfa3"))
		h.srv.AddMembers(h.group(groupSRE).PHID, h.phid("nomfa3"))
		h.clock.Advance(time.Hour)
		h.tick()
		if got := h.finding("nomfa3").Status; got != "left-group" {
			t.Fatalf("nomfa3 = %s after leaving acl*security, want left-group", got)
		}
		h.clock.Set(launchTime.Add(week))
		h.tick()
		h.clock.Advance(time.Hour)
		h.tick()
		reaudited(t, h, "nomfa3", groupSRE)
		// Findings drift still covers stay where they are.
		if f := h.finding("nomfa1"); f.Batch != 1 || f.Status != "pending" || !f.Cutoff.IsZero() {
			t.Errorf("nomfa1 (pending, where the run found them) = %s in batch %d, cutoff %s; want untouched", f.Status, f.Batch, f.Cutoff)
		}
		// The next run finds nothing new to do for nomfa3.
		batches := len(h.snapshot().Batches)
		h.clock.Advance(week)
		h.tick()
		if got := len(h.snapshot().Batches); got != batches {
			t.Errorf("run 2 added %d more batch(es), want none", got-batches)
		}
	})
	t.Run("removed and re-added by hand", func(t *testing.T) {
		h := newHarness(t, recurringFixture)
		h.launchAndPropose()
		approveR1(t, h, "alice", "bob")
		h.tick()
		if got := h.finding("nomfa3").Status; got != "removed" {
			t.Fatalf("nomfa3 = %s, want removed", got)
		}
		// An admin puts nomfa3 back without !restore; MFA still off.
		h.srv.AddMembers(h.group(groupSecurity).PHID, h.phid("nomfa3"))
		h.clock.Advance(week)
		h.tick()
		f := reaudited(t, h, "nomfa3", groupSecurity)
		if len(f.RemovedFrom) == 0 {
			t.Errorf("nomfa3's earlier removal is no longer on record: %+v", f)
		}
	})
}

func groupNamesOf(h *harness, phids []string) []string {
	var out []string
	for _, p := range phids {
		for _, g := range []string{groupNDA, groupSecurity, groupSRE} {
			if h.group(g).PHID == p {
				out = append(out, g)
			}
		}
	}
	return out
}

// TestAttack3ApproverRestoresThemself: every other decision refuses the
// person it is about ("nobody approves their own exemption", "nobody keeps
// their own access by command", "you are in R1 yourself, so another
// approver must decide on it"), but !restore has no such check: an
// approver the campaign removed re-adds themself to the security group on
// their own word. A plain member in the same position must wait for an
// approver. With the inactive criterion it is worse: the !restore comment
// is itself the activity that makes the approver "compliant" again.
//
// Sequence: mfa campaign; after the cutoff alice and bob approve R1, which
// removes erin (approver, no MFA) from acl*security; erin enables MFA and
// writes "!restore @erin" on her own task; tick: erin is restored,
// journaled as restored by @erin.
//
// Fix: in commandOutcome refuse !restore (and "!approve @user" of a
// restore request) when target.UserPHID == approver.PHID.
func TestAttack3ApproverRestoresThemself(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	approveR1(t, h, "alice", "bob")
	h.tick()
	if got := h.finding("erin").Status; got != "removed" {
		t.Fatalf("erin = %s, want removed", got)
	}
	h.srv.SetMFA(h.phid("erin"), true)
	mono, _ := h.taskOf("erin")
	refused := h.journalKinds()["command-refused"]
	for _, text := range []string{"!restore @erin", "done, please add me back", "!approve @erin"} {
		h.clock.Advance(time.Hour)
		h.comment("erin", mono, text)
		h.tick()
		if got := h.finding("erin").Status; got == "restored" {
			t.Fatalf("after erin's %q: erin restored herself into acl*security (members now include her: %v)",
				text, containsStr(h.srv.Members(h.group(groupSecurity).PHID), h.phid("erin")))
		}
	}
	if !h.finding("erin").RestoreRequested {
		t.Errorf("erin's \"done, please add me back\" was not recorded as a restore request, so !approve @erin was not about one")
	}
	if got := h.journalKinds()["command-refused"] - refused; got != 2 {
		t.Errorf("%d command(s) refused, want erin's !restore and !approve", got)
	}
	// The operator's restore names who asked: not erin either.
	if err := h.bot.Restore(h.ctx, campaignName, "erin", false, "erin"); !errors.Is(err, bot.ErrRefused) {
		t.Errorf("auditbot restore erin --as erin = %v, want ErrRefused", err)
	}
	// Another approver may.
	h.clock.Advance(time.Hour)
	h.comment("alice", mono, "!restore @erin")
	h.tick()
	if got := h.finding("erin").Status; got != "restored" {
		t.Errorf("after alice's !restore @erin: erin = %s, want restored", got)
	}
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
