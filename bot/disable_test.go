package bot_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/report"
	"github.com/auditbot/auditbot/state"
)

// disableFixture is the default world with a campaign that disables
// accounts.
var disableFixture = fixture{campaignExtra: "action: disable\n"}

// disabledUsers are the usernames of the accounts user.edit writes
// changed, in order, with the value sent ("+" disabled, "-" enabled).
func (h *harness) accountWrites() []string {
	var out []string
	for _, w := range h.writesOf("user.edit") {
		sign := "-"
		if v, _ := w.Transactions[0].Value.(bool); v {
			sign = "+"
		}
		out = append(out, sign+h.usernameOf(w.ObjectPHID))
	}
	return out
}

func (h *harness) usernameOf(phid string) string {
	for name, u := range h.users {
		if u.PHID == phid {
			return name
		}
	}
	return phid
}

// tokenWorks reports whether username's own API token is accepted.
func (h *harness) tokenWorks(username string) bool {
	h.t.Helper()
	_, err := h.as(username).Whoami(h.ctx)
	if err != nil && !errors.Is(err, conduit.ErrInvalidAuth) {
		h.t.Fatalf("whoami as %s: %v", username, err)
	}
	return err == nil
}

// TestDisableAccounts is the phabtest side of phorgetest's
// TestPhorgeDisableAccounts: a campaign with action disable announces
// that accounts will be disabled, needs the riskiest group's quorum,
// disables each approved account once (its token stops working, its
// memberships stay), never disables an approver (read live, right
// before), and restore enables the account again.
func TestDisableAccounts(t *testing.T) {
	h := newHarness(t, disableFixture)
	// check and plan say who is never disabled: erin, an approver.
	plan, err := h.bot.Plan(h.ctx, h.camp)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]bot.Skipped{{Username: "erin", Reason: "an approver of this campaign"}}, plan.NeverDisabled); diff != "" || plan.Action != "disable" {
		t.Errorf("plan: action %q, never disabled (-want +got):\n%s", plan.Action, diff)
	}
	var text strings.Builder
	if err := plan.WriteSummary(&text); err != nil || !strings.Contains(text.String(), "erin: an approver of this campaign") {
		t.Errorf("plan summary does not list erin as exempt (%v):\n%s", err, text.String())
	}
	rep, err := h.bot.Check(h.ctx, h.camp)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Rows, func(r bot.CheckRow) bool {
		return r.Subject == "@erin" && r.Check == "never disabled" && r.Warn && strings.Contains(r.Detail, "an approver")
	}) || !slices.ContainsFunc(rep.Rows, func(r bot.CheckRow) bool { return r.Check == "may disable accounts" && r.OK }) {
		t.Errorf("check rows do not list erin as never disabled, or the bot as able to disable: %+v", rep.Rows)
	}
	h.launch()
	for _, task := range h.srv.Tasks() {
		if !strings.Contains(task.Description, "your account will be **disabled**") {
			t.Errorf("T%d's description does not say the account will be disabled:\n%s", task.ID, task.Description)
		}
	}

	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()
	snap := h.snapshot()
	if len(snap.Removals) != 1 {
		t.Fatalf("%d batches, want 1", len(snap.Removals))
	}
	rm := snap.Removals[0]
	if !rm.Disables() || rm.RequiredApprovals != 2 || rm.AutoApproved {
		t.Errorf("R1: action %q, %d approvals, auto %v; want disable, 2 (security groups), not auto", rm.Action, rm.RequiredApprovals, rm.AutoApproved)
	}
	// erin is an approver: never proposed.
	var accounts []string
	for _, u := range rm.Accounts() {
		accounts = append(accounts, h.usernameOf(u))
	}
	if diff := cmp.Diff([]string{"nomfa2", "nomfa4", "nomfa1", "nomfa3"}, accounts); diff != "" {
		t.Errorf("R1 accounts (-want +got):\n%s", diff)
	}
	for _, task := range h.srv.Tasks() {
		for _, c := range h.botCommentsWith(task.ID, "removal/R1/proposal/") {
			if !strings.Contains(c.Text, "disable the account") || strings.Contains(c.Text, "proposes to remove") {
				t.Errorf("T%d's announcement does not say accounts are disabled:\n%s", task.ID, c.Text)
			}
		}
	}

	// The command line shows what the batch does, and its digest covers it.
	shown, err := h.bot.Approve(h.ctx, campaignName, "R1", h.as("alice"), bot.ApproveOptions{})
	if err != nil || shown.Action != "disable" || shown.Recorded {
		t.Errorf("approve without --confirm: %+v, %v; want action disable, nothing recorded", shown, err)
	}
	approveR1(t, h, "alice")
	h.tick()
	if got := h.accountWrites(); len(got) != 0 {
		t.Fatalf("disabled accounts with one approval: %v", got)
	}
	approveR1(t, h, "bob")
	// nomfa3 becomes an approver after the approval: not disabled, as
	// Phabricator says right before.
	h.srv.AddMembers(h.group(groupApprovers).PHID, h.phid("nomfa3"))
	members := map[string][]string{}
	for _, g := range []string{groupNDA, groupSecurity, groupSRE} {
		members[g] = h.srv.Members(h.group(g).PHID)
	}
	h.clock.Advance(time.Hour)
	h.tick()

	if diff := cmp.Diff([]string{"+nomfa2", "+nomfa4", "+nomfa1"}, h.accountWrites()); diff != "" {
		t.Errorf("user.edit writes (-want +got):\n%s", diff)
	}
	if w := h.writesOf("project.edit"); len(w) != 0 {
		t.Errorf("a disable campaign edited memberships: %+v", w)
	}
	for g, before := range members {
		if diff := cmp.Diff(before, h.srv.Members(h.group(g).PHID)); diff != "" {
			t.Errorf("%s's members changed (-before +after):\n%s", g, diff)
		}
	}
	for _, u := range []string{"nomfa1", "nomfa2", "nomfa4"} {
		if h.tokenWorks(u) {
			t.Errorf("%s's token still works after their account was disabled", u)
		}
		if f := h.finding(u); !f.Disabled || f.Status != state.StatusRemoved {
			t.Errorf("%s: disabled %v, status %s; want disabled, removed", u, f.Disabled, f.Status)
		}
	}
	// The evidence names each disabled account per group, with its
	// approvals and when it went.
	ev, err := report.Build(h.store, campaignName, "", h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var md strings.Builder
	if err := ev.Write(&md, "md"); err != nil || !strings.Contains(md.String(), "(account disabled)") {
		t.Errorf("md report does not say accounts were disabled (%v)", err)
	}
	for _, r := range ev.Removals {
		if r.Action != "disable" || r.RemovedAt.IsZero() || len(r.Approvals) != 2 || r.Username == "nomfa3" {
			t.Errorf("report removal %+v", r)
		}
	}
	st, err := h.bot.Status(campaignName)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range st.Users {
		if (u.Username == "nomfa1") != strings.Contains(u.Note, "account disabled") && u.Username != "nomfa2" && u.Username != "nomfa4" {
			t.Errorf("status of @%s: note %q", u.Username, u.Note)
		}
	}
	if !slices.ContainsFunc(st.Attention, func(s string) bool { return strings.Contains(s, "@nomfa3") && strings.Contains(s, "not disabled") }) {
		t.Errorf("status does not flag nomfa3's refused disabling: %v", st.Attention)
	}
	if !h.tokenWorks("nomfa3") {
		t.Errorf("nomfa3 (an approver now) was disabled")
	}
	if f := h.finding("nomfa3"); f.Disabled || !slices.ContainsFunc(f.NeedsHuman, func(s string) bool { return strings.Contains(s, "an approver of this campaign") }) {
		t.Errorf("nomfa3: disabled %v, needs human %q; want not disabled, flagged", f.Disabled, f.NeedsHuman)
	}
	kinds := h.journalKinds()
	if kinds["account-disabled"] != 3 || kinds["disable-refused"] != 1 || kinds["members-removed"] != 0 {
		t.Errorf("journal: %d account-disabled, %d disable-refused, %d members-removed; want 3, 1, 0", kinds["account-disabled"], kinds["disable-refused"], kinds["members-removed"])
	}
	for _, e := range mustJournal(t, h) {
		if e.Kind == state.EntryAccountDisabled && (!slices.Equal(e.Approvers, []string{"alice", "bob"}) || len(e.Groups) == 0) {
			t.Errorf("account-disabled entry without its approvers or groups: %+v", e)
		}
	}
	for _, task := range h.srv.Tasks() {
		for _, c := range h.botCommentsWith(task.ID, "removal/R1/notice/") {
			if !strings.Contains(c.Text, "disabled the account") || strings.Contains(c.Text, "@nomfa3") {
				t.Errorf("T%d's notice:\n%s", task.ID, c.Text)
			}
		}
	}

	// Nothing more: not again, and nobody is proposed for removal.
	writes := len(h.effectiveWrites())
	h.clock.Advance(time.Hour)
	h.tick()
	h.tick()
	if got := len(h.effectiveWrites()); got != writes {
		t.Errorf("later ticks wrote %d more time(s)", got-writes)
	}

	// Restore enables the account again, with the same checks.
	if err := h.bot.Restore(h.ctx, campaignName, "nomfa2", false, "alice"); !errors.Is(err, bot.ErrRefused) {
		t.Errorf("restore of nomfa2, still without MFA: %v, want ErrRefused", err)
	}
	if err := h.bot.Restore(h.ctx, campaignName, "nomfa2", false, "nomfa2"); !errors.Is(err, bot.ErrRefused) {
		t.Errorf("nomfa2 restoring themselves: %v, want ErrRefused", err)
	}
	h.srv.SetMFA(h.phid("nomfa2"), true)
	if err := h.bot.Restore(h.ctx, campaignName, "nomfa2", false, "alice"); err != nil {
		t.Fatalf("restore of nomfa2: %v", err)
	}
	if diff := cmp.Diff([]string{"+nomfa2", "+nomfa4", "+nomfa1", "-nomfa2"}, h.accountWrites()); diff != "" {
		t.Errorf("user.edit writes after the restore (-want +got):\n%s", diff)
	}
	if !h.tokenWorks("nomfa2") {
		t.Errorf("nomfa2's token refused after the restore")
	}
	if f := h.finding("nomfa2"); f.Disabled || f.Status != state.StatusRestored {
		t.Errorf("nomfa2 after restore: disabled %v, status %s", f.Disabled, f.Status)
	}
	_, id := h.taskOf("nomfa2")
	if notes := h.botCommentsWith(id, "restore/nomfa2/"); len(notes) != 1 || !strings.Contains(notes[0].Text, "enabled again") {
		t.Errorf("restore comment: %+v", notes)
	}
	if got := h.journalKinds()["account-enabled"]; got != 1 {
		t.Errorf("%d account-enabled entries, want 1", got)
	}
	writes = len(h.effectiveWrites())
	h.clock.Advance(time.Hour)
	h.tick()
	if got := len(h.effectiveWrites()); got != writes {
		t.Errorf("a tick after the restore wrote %d time(s)", got-writes)
	}
}

// userEditRequests counts every user.edit the server ran (no-ops too),
// by account: a write sent twice shows up here even when the second
// changed nothing.
func (h *harness) userEditRequests() map[string]int {
	out := map[string]int{}
	for _, w := range h.srv.Writes() {
		if w.Method == "user.edit" {
			out[h.usernameOf(w.ObjectPHID)]++
		}
	}
	return out
}

// TestCrashDuringDisable: the answer to a user.edit is lost after the
// account was disabled. The next run asks Phabricator (the account's
// roles say "disabled"), records the disabling as landed and never sends
// it again; the others go ahead once each.
func TestCrashDuringDisable(t *testing.T) {
	for _, lost := range []int{1, 2, 3} {
		t.Run(strings.Repeat("I", lost), func(t *testing.T) {
			h := newHarness(t, disableFixture)
			h.launchAndPropose()
			approveR1(t, h, "alice", "bob")
			h.srv.FailAfterWrite("user.edit", lost)
			h.clock.Advance(time.Hour)
			if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
				t.Fatal("tick succeeded although a disabling's answer was lost")
			}
			if got := h.pendingOps(); len(got) != 1 || !strings.HasPrefix(got[0], "removal/R1/disable/") {
				t.Fatalf("pending ops after the lost answer = %v, want one removal/R1/disable/", got)
			}
			h.clock.Advance(time.Minute)
			h.tick()
			h.tick()
			want := map[string]int{"nomfa1": 1, "nomfa2": 1, "nomfa3": 1, "nomfa4": 1}
			if diff := cmp.Diff(want, h.userEditRequests()); diff != "" {
				t.Errorf("user.edit requests per account (-want +got):\n%s", diff)
			}
			if got := h.pendingOps(); len(got) != 0 {
				t.Errorf("pending ops: %v", got)
			}
			reconciled := 0
			for _, e := range mustJournal(t, h) {
				if e.Kind == state.EntryAccountDisabled && strings.HasSuffix(e.Detail, "(reconciled)") {
					reconciled++
				}
			}
			if kinds := h.journalKinds(); kinds["account-disabled"] != 4 || reconciled != 1 || kinds["drift"] != 0 {
				t.Errorf("journal: %d account-disabled (%d reconciled), %d drift; want 4 (1), 0", kinds["account-disabled"], reconciled, kinds["drift"])
			}
			snap := h.snapshot()
			if snap.Removals[0].Status != state.RemovalDone || slices.ContainsFunc(snap.Removals[0].Items, func(it state.RemovalItem) bool { return !it.Done }) {
				t.Errorf("R1 after reconciling: %+v", snap.Removals[0])
			}
			for _, task := range h.srv.Tasks() {
				if got := len(h.botCommentsWith(task.ID, "removal/R1/notice/")); got != 1 {
					t.Errorf("T%d has %d notices, want 1", task.ID, got)
				}
			}
		})
	}
}

// TestDropBeforeDisable: the connection drops before a user.edit reaches
// Phabricator. The next run finds the account enabled, so the disabling
// did not land: sent again if the user is still due, and not sent at all
// if they enabled MFA meanwhile (the op is closed, nothing recorded
// disabled).
func TestDropBeforeDisable(t *testing.T) {
	for _, complies := range []bool{false, true} {
		name := "still due"
		if complies {
			name = "complied meanwhile"
		}
		t.Run(name, func(t *testing.T) {
			drop := true
			var h *harness
			fx := disableFixture
			fx.onWrite = func(_ int, method string, phase phabtest.WritePhase) bool {
				if method == "user.edit" && phase == phabtest.BeforeWrite && drop {
					drop = false
					return true
				}
				return false
			}
			h = newHarness(t, fx)
			h.launchAndPropose()
			approveR1(t, h, "alice", "bob")
			h.clock.Advance(time.Hour)
			if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
				t.Fatal("tick succeeded although a user.edit was dropped")
			}
			pending := h.pendingOps()
			if len(pending) != 1 {
				t.Fatalf("pending ops = %v, want one", pending)
			}
			first := h.usernameOf(strings.TrimPrefix(pending[0], "removal/R1/disable/"))
			if complies {
				h.srv.SetMFA(h.phid(first), true)
			}
			h.clock.Advance(time.Minute)
			h.tick()
			h.tick()
			want := map[string]int{"nomfa1": 1, "nomfa2": 1, "nomfa3": 1, "nomfa4": 1}
			if complies {
				delete(want, first)
			}
			if diff := cmp.Diff(want, h.userEditRequests()); diff != "" {
				t.Errorf("user.edit requests per account (-want +got):\n%s", diff)
			}
			if h.tokenWorks(first) != complies {
				t.Errorf("%s's token works: %v, want %v", first, !complies, complies)
			}
			if f := h.finding(first); f.Disabled == complies {
				t.Errorf("%s recorded disabled = %v", first, f.Disabled)
			}
			if got := h.pendingOps(); len(got) != 0 {
				t.Errorf("pending ops: %v", got)
			}
		})
	}
}

// disableOutcome is what a disable campaign left: the bot's comments by
// marker, who is disabled, the statuses, the ops left pending, and how
// many user.edit calls changed an account.
type disableOutcome struct {
	Comments map[string][]string
	Disabled []string
	Statuses map[string]string
	Pending  []string
	Changes  int
}

// runDisableLifecycle runs a disable campaign from the cutoff to a
// restore, with p's fault injected, settling each step with retried ticks.
func runDisableLifecycle(t *testing.T, p *faultPlan, methods *[]string) disableOutcome {
	fx := disableFixture
	fx.onWrite = func(n int, method string, phase phabtest.WritePhase) bool {
		drop := p.onWrite(n, method, phase)
		p.mu.Lock()
		defer p.mu.Unlock()
		if methods != nil && phase == phabtest.BeforeWrite && p.armed {
			*methods = append(*methods, method)
		}
		return drop
	}
	h := newHarness(t, fx)
	h.launch()
	settle := func() { p.settle(t, h) }
	h.clock.Set(cutoff.Add(time.Hour))
	settle()
	p.arm(false)
	approveR1(t, h, "alice", "bob")
	h.clock.Advance(time.Hour)
	settle()
	h.srv.SetMFA(h.phid("nomfa2"), true)
	t2, _ := h.taskOf("nomfa2")
	h.comment("carol", t2, "!restore @nomfa2")
	h.clock.Advance(time.Hour)
	settle()
	h.clock.Advance(time.Hour)
	settle()

	out := disableOutcome{Comments: map[string][]string{}, Statuses: map[string]string{}, Pending: h.pendingOps(), Changes: len(h.writesOf("user.edit"))}
	for _, tk := range h.srv.Tasks() {
		var cs []string
		for _, c := range h.botComments(tk.ID) {
			cs = append(cs, markerKeyOf(c.Text))
		}
		sort.Strings(cs)
		out.Comments[markerKeyOf(tk.Description)] = cs
	}
	for _, f := range h.snapshot().Findings {
		out.Statuses[f.Username] = string(f.Status)
		if !h.tokenWorks(f.Username) {
			out.Disabled = append(out.Disabled, f.Username)
		}
	}
	sort.Strings(out.Disabled)
	return out
}

// TestCrashSweepDisable drops, one at a time, every write the bot makes
// after launch in a disable campaign (proposals, answers, user.edit
// disablings, notices, the restore's user.edit and comment), once before
// it applies and once after it applied (answer lost), and compares what is
// left with the run without a fault: the same comments (no duplicate
// marker), the same accounts disabled, the same statuses, no op pending,
// and no account changed more often. Without AUDITBOT_SWEEP (which `make
// crash` sets) only the user.edit writes are dropped (~4 s); with it,
// every write (~17 s).
func TestCrashSweepDisable(t *testing.T) {
	ref := &faultPlan{}
	var methods []string
	want := runDisableLifecycle(t, ref, &methods)
	total := ref.n
	if diff := cmp.Diff([]string{"nomfa1", "nomfa3", "nomfa4"}, want.Disabled); diff != "" || want.Changes != 5 {
		t.Fatalf("the run without a fault: %d account change(s), disabled (-want +got):\n%s", want.Changes, diff)
	}
	t.Logf("%d bot writes after launch", total)
	for _, phase := range []phabtest.WritePhase{phabtest.BeforeWrite, phabtest.AfterWrite} {
		for n := 1; n <= total; n++ {
			if os.Getenv("AUDITBOT_SWEEP") == "" && methods[n-1] != "user.edit" {
				continue
			}
			t.Run(fmt.Sprintf("%s-%d-%s", phase, n, methods[n-1]), func(t *testing.T) {
				p := &faultPlan{at: n, phase: phase}
				got := runDisableLifecycle(t, p, nil)
				if !p.hit {
					t.Fatalf("write %d (%s) was never reached", n, phase)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("outcome after losing write %d (%s) differs from the run without a fault (-want +got):\n%s", n, phase, diff)
				}
			})
		}
	}
}

// TestRecurringDisableNotFoundAgain: a recurring campaign that disables
// accounts. A disabled account stays a member of its groups; the next run
// must not find it again (no new batch, no new task naming it, no second
// disabling), while a member who joins without MFA is found.
func TestRecurringDisableNotFoundAgain(t *testing.T) {
	h := newHarness(t, fixture{campaignExtra: "action: disable\nrecurring: {every: 7d}\nnotice: 60d\n"})
	h.launch()
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()
	approveR1(t, h, "alice", "bob")
	h.clock.Advance(time.Hour)
	h.tick()
	disabled := h.accountWrites()
	if len(disabled) != 4 {
		t.Fatalf("disabled %v, want nomfa1-4", disabled)
	}
	batches := len(h.snapshot().Batches)
	h.users["newbie"] = h.srv.AddUser(phabtest.UserSpec{Username: "newbie"})
	h.srv.AddMembers(h.group(groupNDA).PHID, h.phid("newbie"))
	h.clock.Advance(week)
	h.tick()
	snap := h.snapshot()
	if len(snap.Campaign.Runs) == 0 {
		t.Fatal("no recurring run")
	}
	for _, b := range snap.Batches[batches:] {
		for _, u := range b.UserPHIDs {
			if name := h.usernameOf(u); name != "newbie" {
				t.Errorf("the run put @%s in a new batch", name)
			}
		}
	}
	if len(snap.Batches) != batches+1 {
		t.Errorf("%d new batch(es), want 1 (newbie's)", len(snap.Batches)-batches)
	}
	for _, u := range []string{"nomfa1", "nomfa2", "nomfa3", "nomfa4"} {
		if f := h.finding(u); !f.Disabled || f.Status != state.StatusRemoved {
			t.Errorf("@%s after the run: disabled %v, %s", u, f.Disabled, f.Status)
		}
	}
	if got := h.accountWrites(); !slices.Equal(got, disabled) {
		t.Errorf("account writes after the run: %v", got)
	}
}
