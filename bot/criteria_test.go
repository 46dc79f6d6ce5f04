package bot_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
)

// story is one feed story: who caused it and when.
type story struct {
	author string // user PHID
	about  string // the user PHID it references, if any
	at     time.Time
}

// fakeActivity is an activity source over a list of stories. Like the
// real scanner, it counts only stories a user authored: a story that
// merely references them (such as one the bot's own write caused) does
// not count.
type fakeActivity struct {
	mu      sync.Mutex
	now     func() time.Time
	stories []story
	asked   [][]string
}

func (f *fakeActivity) add(author, about string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stories = append(f.stories, story{author: author, about: about, at: at})
}

func (f *fakeActivity) LastActivity(_ context.Context, users []string, window time.Duration) (map[string]time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, slices.Clone(users))
	edge := f.now().Add(-window)
	out := map[string]time.Time{}
	for _, s := range f.stories {
		if !slices.Contains(users, s.author) || s.at.Before(edge) || s.at.After(f.now()) {
			continue
		}
		if s.at.After(out[s.author]) {
			out[s.author] = s.at
		}
	}
	return out, nil
}

// inactivityWorld is acl*security (nomfa1, nomfa3, erin, good2) with
// accounts three years old, plus newbie, created last month:
//
//	nomfa1  only stories the bot caused about them (last week)  flagged
//	nomfa3  active 11 months ago                                 not flagged
//	erin    active 13 months ago                                 flagged
//	good2   active yesterday                                     not flagged
//	newbie  no activity, account created last month              not flagged
func inactivityWorld(t *testing.T, criteria string) *harness {
	act := &fakeActivity{}
	h := newHarness(t, fixture{criteria: criteria, groups: "[acl*security]", batchSize: 5,
		usersCreated: launchTime.AddDate(-3, 0, 0), activity: act})
	act.now = h.clock.Now
	newbie := h.srv.AddUser(phabtest.UserSpec{Username: "newbie", MFA: true, Created: launchTime.Add(-30 * day)})
	h.users["newbie"] = newbie
	h.srv.AddMembers(h.group(groupSecurity).PHID, newbie.PHID)
	act.add(h.botU.PHID, h.phid("nomfa1"), launchTime.Add(-7*day))
	act.add(h.botU.PHID, h.phid("nomfa1"), launchTime.Add(-2*day))
	act.add(h.phid("nomfa3"), "", launchTime.Add(-334*day))
	act.add(h.phid("erin"), "", launchTime.Add(-396*day))
	act.add(h.phid("good2"), "", launchTime.Add(-day))
	return h
}

func planReasons(p *bot.Plan) map[string][]string {
	out := map[string][]string{}
	for _, f := range p.Findings {
		out[f.Username] = f.Reasons
	}
	return out
}

func TestInactiveCriterion(t *testing.T) {
	h := inactivityWorld(t, "[inactive]")
	p, err := h.bot.Plan(h.ctx, h.camp)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	want := map[string][]string{"erin": {"inactive"}, "nomfa1": {"inactive"}}
	if diff := cmp.Diff(want, planReasons(p)); diff != "" {
		t.Errorf("flagged (-want +got):\n%s", diff)
	}
	// The plan says what the bot cannot see: it is not in acl*security.
	if len(p.Visibility) == 0 || p.Visibility[0].Subject != groupSecurity || p.Visibility[0].BotMember {
		t.Errorf("visibility = %+v, want acl*security first, bot not a member", p.Visibility)
	}
	if len(p.Tasks) != 1 {
		t.Fatalf("%d tasks, want 1", len(p.Tasks))
	}
	task := p.Tasks[0]
	for _, w := range []string{"multi-factor", "Multi-Factor", "`done`"} {
		if strings.Contains(task.Title+task.Description, w) {
			t.Errorf("inactivity task mentions %q:\n%s\n%s", w, task.Title, task.Description)
		}
	}
	if !strings.Contains(task.Description, "Any reply from you other than `remove me` counts as activity and keeps your access") {
		t.Errorf("task does not say a reply keeps access:\n%s", task.Description)
	}

	h.launch()
	mono, id := h.taskOf("erin")
	h.comment("erin", mono, "I am still here, mostly on restricted security tasks.")
	h.tick()
	f := h.finding("erin")
	if f.Status != state.StatusCompliant || f.Kept["inactive"].By != "erin" || f.Kept["inactive"].Source == nil {
		t.Errorf("erin after \"still here\": status %s, kept %+v; want compliant, kept by erin with the comment", f.Status, f.Kept)
	}
	if got := h.botComments(id); len(got) == 0 || !strings.Contains(got[len(got)-1].Text, "counts as activity") {
		t.Errorf("no answer saying the reply counts as activity: %+v", got)
	}
	// nomfa1 never replied: proposed for removal after the deadline; erin,
	// kept, is not.
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()
	snap := h.snapshot()
	if len(snap.Removals) != 1 {
		t.Fatalf("%d removal batches, want 1", len(snap.Removals))
	}
	var users []string
	for _, it := range snap.Removals[0].Items {
		users = append(users, it.Username)
	}
	if diff := cmp.Diff([]string{"nomfa1"}, users); diff != "" {
		t.Errorf("proposed (-want +got):\n%s", diff)
	}
}

func TestInactiveWithoutActivitySource(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[inactive]", groups: "[acl*security]"})
	rep, err := h.bot.Check(h.ctx, h.camp)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if rep.Err() == nil || !strings.Contains(rep.Err().Error(), "needs the activity scanner") {
		t.Errorf("Check without an activity source: %v, want a failure naming the scanner", rep.Err())
	}
	if _, err := h.bot.Plan(h.ctx, h.camp); err == nil || !strings.Contains(err.Error(), "needs the activity scanner") {
		t.Errorf("Plan without an activity source: %v", err)
	}
}

func TestMFAAndInactiveOneTask(t *testing.T) {
	h := inactivityWorld(t, "[mfa, inactive]")
	p, err := h.bot.Plan(h.ctx, h.camp)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	want := map[string][]string{"erin": {"mfa", "inactive"}, "nomfa1": {"mfa", "inactive"}, "nomfa3": {"mfa"}}
	if diff := cmp.Diff(want, planReasons(p)); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	h.launch()
	tasks := 0
	for _, bt := range h.snapshot().Batches {
		if bt.Has(h.phid("nomfa1")) {
			tasks++
		}
	}
	if tasks != 1 {
		t.Errorf("nomfa1 is on %d tasks, want 1", tasks)
	}
	// "still here" meets inactivity, not MFA: still pending, told why.
	mono, id := h.taskOf("nomfa1")
	h.comment("nomfa1", mono, "still here!")
	h.tick()
	if f := h.finding("nomfa1"); f.Status != state.StatusPending || f.Kept["inactive"].By != "nomfa1" {
		t.Errorf("nomfa1: %s, kept %+v; want pending with inactivity kept", f.Status, f.Kept)
	}
	if got := h.botComments(id); len(got) == 0 || !strings.Contains(got[len(got)-1].Text, "still not met for you: no MFA") {
		t.Errorf("answer does not name MFA as still unmet: %+v", got)
	}
	// Compliance means every criterion: with MFA on too, compliant.
	h.srv.SetMFA(h.phid("nomfa1"), true)
	h.tick()
	if f := h.finding("nomfa1"); f.Status != state.StatusCompliant {
		t.Errorf("nomfa1 with MFA and a reply: %s, want compliant", f.Status)
	}
}

func TestReconfirm(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[reconfirm]", groups: "[acl*security]", batchSize: 5})
	p, err := h.bot.Plan(h.ctx, h.camp)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	want := map[string][]string{"erin": {"reconfirm"}, "good2": {"reconfirm"}, "nomfa1": {"reconfirm"}, "nomfa3": {"reconfirm"}}
	if diff := cmp.Diff(want, planReasons(p)); diff != "" {
		t.Errorf("everyone is affected (-want +got):\n%s", diff)
	}
	h.launch()
	mono, _ := h.taskOf("nomfa1")
	h.comment("nomfa1", mono, "Yes, I still need it.")
	// acl*security: a keep needs two approvers, as an exemption does.
	keep := h.commentTx("alice", mono, "!keep @nomfa3")
	h.comment("good2", mono, "what is this about?")
	h.tick()
	if s := h.finding("nomfa3").Status; s != state.StatusPending {
		t.Errorf("nomfa3 after alice's !keep alone: %s, want pending (1 of 2)", s)
	}
	h.comment("bob", mono, "!keep @nomfa3")
	h.tick()
	got := h.statuses()
	for user, want := range map[string]state.Status{"nomfa1": state.StatusCompliant, "nomfa3": state.StatusCompliant, "good2": state.StatusPending, "erin": state.StatusPending} {
		if got[user] != want {
			t.Errorf("@%s: %s, want %s", user, got[user], want)
		}
	}
	if k := h.finding("nomfa3").Kept["reconfirm"]; k.By != "bob" || !k.Approver || len(k.Approvals) != 2 || k.Approvals[0].Username != "alice" {
		t.Errorf("nomfa3's keep = %+v, want by approvers alice and bob", k)
	}
	// A non-approver's !keep is refused.
	h.comment("dave", mono, "!keep @good2")
	h.tick()
	if s := h.finding("good2").Status; s != state.StatusPending {
		t.Errorf("good2 after dave's !keep: %s, want pending", s)
	}
	// alice takes her !keep back by editing it: nomfa3 is proposed too.
	h.srv.EditComment(keep, "hm, wait")
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()
	snap := h.snapshot()
	if len(snap.Removals) != 1 {
		t.Fatalf("%d removal batches, want 1", len(snap.Removals))
	}
	var users []string
	for _, it := range snap.Removals[0].Items {
		users = append(users, it.Username)
	}
	slices.Sort(users)
	if diff := cmp.Diff([]string{"erin", "good2", "nomfa3"}, users); diff != "" {
		t.Errorf("proposed (-want +got):\n%s", diff)
	}
	if h.journalKinds()[string(state.EntryKeepWithdrawn)] != 1 {
		t.Errorf("journal kinds %v, want one keep-withdrawn", h.journalKinds())
	}
}

func TestListCriterion(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[list]", groups: "[acl*security]", campaignExtra: "list: {file: leavers.txt}\n",
		files: map[string]string{"leavers.txt": "# offboarded in January\nnomfa1\noutsider   # never a member\nno-such-user\n"}})
	p, err := h.bot.Plan(h.ctx, h.camp)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if diff := cmp.Diff(map[string][]string{"nomfa1": {"list"}}, planReasons(p)); diff != "" {
		t.Errorf("flagged (-want +got):\n%s", diff)
	}
	wantList := &bot.ListReport{File: h.camp.List.File, Unknown: []string{"no-such-user"}, NotMembers: []string{"outsider"}}
	if diff := cmp.Diff(wantList, p.List); diff != "" {
		t.Errorf("list report (-want +got):\n%s", diff)
	}
	var text strings.Builder
	if err := p.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"unknown username(s): no-such-user", "not a member of any audited group: outsider"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("plan text lacks %q:\n%s", w, text.String())
		}
	}
	// Only an approver's !keep keeps anyone on a list: the approvers see
	// the tasks from launch, and the access chore leaves them there.
	for _, task := range p.Tasks {
		if !slices.Contains(task.Subscribers, "#acl_phabricator-admins") {
			t.Errorf("task %d subscribers %v lack the approvers' project", task.Batch, task.Subscribers)
		}
	}
	h.launch()
	if h.journalKinds()[string(state.EntryListUnmatched)] != 1 {
		t.Errorf("launch did not journal the unmatched names: %v", h.journalKinds())
	}
	// Only an approver takes a user off the list.
	mono, _ := h.taskOf("nomfa1")
	h.comment("nomfa1", mono, "I still need it")
	h.tick()
	if s := h.finding("nomfa1").Status; s != state.StatusPending {
		t.Errorf("nomfa1 after their own keep: %s, want pending", s)
	}
	if n := h.journalKinds()[string(state.EntryAccessRevoked)]; n != 0 {
		t.Errorf("the access chore took back %d subscription(s) on a list task", n)
	}
	// acl*security: two distinct approvers, as for an exemption.
	h.comment("bob", mono, "!keep @nomfa1")
	h.tick()
	if s := h.finding("nomfa1").Status; s != state.StatusPending {
		t.Errorf("nomfa1 after bob's !keep alone: %s, want pending", s)
	}
	h.comment("bob", mono, "!keep @nomfa1")
	h.comment("alice", mono, "!keep @nomfa1")
	h.tick()
	if s := h.finding("nomfa1").Status; s != state.StatusCompliant {
		t.Errorf("nomfa1 after bob's and alice's !keep: %s, want compliant", s)
	}
}

func TestDisabledOnlyCampaign(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[disabled]"})
	p, err := h.bot.Plan(h.ctx, h.camp)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if len(p.Tasks) != 1 {
		t.Fatalf("%d tasks, want the team's one", len(p.Tasks))
	}
	task := p.Tasks[0]
	// The approvers' project is subscribed only by the comment that asks
	// it for a decision (the removal proposal), not at launch.
	if diff := cmp.Diff([]string{"#security-team"}, task.Subscribers); diff != "" {
		t.Errorf("subscribers: no listed user (-want +got):\n%s", diff)
	}
	for _, w := range []string{"multi-factor", "| @gone1 |"} {
		if strings.Contains(task.Title+task.Description, w) {
			t.Errorf("team task contains %q:\n%s\n%s", w, task.Title, task.Description)
		}
	}
	if !strings.Contains(task.Description, "`@gone1`") {
		t.Errorf("team task does not name gone1:\n%s", task.Description)
	}
	h.launch()
	mono, id := h.taskOf("gone1")
	// No deadline to wait for: the first tick proposes and announces.
	h.tick()
	snap := h.snapshot()
	if len(snap.Removals) != 1 || snap.Removals[0].Items[0].Username != "gone1" {
		t.Fatalf("removals = %+v, want R1 with gone1", snap.Removals)
	}
	proposals := h.botCommentsWith(id, "removal/R1/proposal")
	if len(proposals) != 1 || strings.Contains(proposals[0].Text, "@gone1 ") || !strings.Contains(proposals[0].Text, "`@gone1`") {
		t.Fatalf("proposal on the team task: %+v", proposals)
	}
	h.comment("alice", mono, "!approve")
	h.comment("bob", mono, "!approve")
	h.tick()
	if s := h.finding("gone1").Status; s != state.StatusRemoved {
		t.Errorf("gone1: %s, want removed", s)
	}
	if slices.Contains(h.srv.Members(h.group(groupNDA).PHID), h.phid("gone1")) {
		t.Error("gone1 is still in WMF-NDA")
	}
	if h.journalKinds()[string(state.EntryMembersRemoved)] != 1 {
		t.Errorf("removal not journaled: %v", h.journalKinds())
	}
}
