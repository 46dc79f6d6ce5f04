//go:build phorge

package phorgetest

import (
	"fmt"
	"github.com/auditbot/auditbot/bot"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The lab's groups, by slug.
const (
	slugNDA      = "wmf-nda"
	slugSRE      = "acl_sre-team"
	slugSecurity = "acl_security"
)

// allowRemovals lets the bot edit a group's membership, as an admin would
// before a campaign (lab README point 6). Undone by the next reset.
func (e labSettings) allowRemovals(t *testing.T, slugs ...string) {
	t.Helper()
	for _, s := range slugs {
		e.must(t, "ADMIN_TOKEN", "project.edit", map[string]any{
			"objectIdentifier": "#" + s,
			"transactions":     []map[string]any{{"type": "edit", "value": "admin"}},
		}, nil)
	}
}

// commentXacts writes a comment and returns the PHIDs of its transactions
// (the comment, and the subscription a comment adds: NOTES fact 27).
func (e labSettings) commentXacts(t *testing.T, tokenVar, task, text string) []string {
	t.Helper()
	var res struct {
		Transactions []struct {
			PHID string `json:"phid"`
		} `json:"transactions"`
	}
	e.must(t, tokenVar, "maniphest.edit", map[string]any{
		"objectIdentifier": task,
		"transactions":     []map[string]any{{"type": "comment", "value": text}},
	}, &res)
	var out []string
	for _, x := range res.Transactions {
		out = append(out, x.PHID)
	}
	if len(out) == 0 {
		t.Fatalf("comment on %s: no transaction", task)
	}
	return out
}

// hasTaskMarker reports whether a description carries a task marker of
// campaign (any batch, genuine or forged).
func hasTaskMarker(description, campaign string) bool {
	for _, line := range strings.Split(description, "\n") {
		if key, ok := bot.MarkerKey(line, campaign); ok && strings.HasPrefix(key, "task/batch-") {
			return true
		}
	}
	return false
}

// campaignTasks returns the bot's tasks of campaign, by batch index, read
// as the bot.
func (e labSettings) campaignTasks(t *testing.T, campaign string) map[int]labTask {
	t.Helper()
	out := map[int]labTask{}
	for _, tk := range e.botTasks(t, "AUDITBOT_TOKEN") {
		for _, line := range strings.Split(tk.Description, "\n") {
			var n int
			key, ok := bot.MarkerKey(line, campaign)
			if _, err := fmt.Sscanf(key, "task/batch-%d", &n); ok && err == nil {
				if _, dup := out[n]; dup {
					t.Errorf("two tasks carry the marker of %s batch %d", campaign, n)
				}
				out[n] = tk
			}
		}
	}
	return out
}

// subscriberNames returns a task's subscribers' usernames, sorted, from
// maniphest.info's ccPHIDs: the search attachment lists at most 10 (NOTES
// fact 24).
func (e labSettings) subscriberNames(t *testing.T, tk labTask) []string {
	t.Helper()
	var info struct {
		CCPHIDs []string `json:"ccPHIDs"`
	}
	e.must(t, "AUDITBOT_TOKEN", "maniphest.info", map[string]any{"task_id": tk.ID}, &info)
	var names []string
	for _, u := range e.users(t, map[string]any{"phids": info.CCPHIDs}) {
		names = append(names, u.Username)
	}
	sort.Strings(names)
	return names
}

func without(all []string, drop ...string) []string {
	skip := map[string]bool{}
	for _, d := range drop {
		skip[d] = true
	}
	var out []string
	for _, a := range all {
		if !skip[a] {
			out = append(out, a)
		}
	}
	return out
}

// day is a date n days from today (UTC), as a campaign cutoff.
func day(n int) time.Time { return time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, n) }

// TestCheckAndPlan needs no reset: check and plan write nothing.
func TestCheckAndPlan(t *testing.T) {
	env := labEnv(t)
	b := newBot(t, env, "  acl*sre-team: {risk: vandalism}")
	b.campaign("read-only", fmt.Sprintf(`criteria: [mfa]
groups: [WMF-NDA, acl*security, acl*sre-team]
cutoff: %s
approvers: acl*phabricator-admins
`, day(30).Format(time.DateOnly)))

	t.Run("check names exactly the groups the bot may not edit", func(t *testing.T) {
		r := b.run("check", "read-only", "--json")
		if r.code != 4 {
			t.Fatalf("check: exit %d, want 4 (refused)\n%s%s", r.code, r.stdout, r.stderr)
		}
		var report struct {
			Rows []struct {
				Subject string `json:"subject"`
				Check   string `json:"check"`
				OK      bool   `json:"ok"`
			} `json:"rows"`
		}
		if err := unwrapJSON(r.stdout, &report); err != nil {
			t.Fatalf("check --json: %v\n%s", err, r.stdout)
		}
		var failed []string
		for _, row := range report.Rows {
			if !row.OK {
				failed = append(failed, row.Subject+": "+row.Check)
			}
		}
		sort.Strings(failed)
		// Independently: the bot's no-op removal on each group, as Conduit answers it.
		var want []string
		for _, g := range []struct{ slug, name string }{{slugNDA, "WMF-NDA"}, {slugSecurity, "acl*security"}, {slugSRE, "acl*sre-team"}} {
			err := env.call(t.Context(), "AUDITBOT_TOKEN", "project.edit", map[string]any{
				"objectIdentifier": "#" + g.slug,
				"transactions":     []map[string]any{{"type": "members.remove", "value": []string{env.userPHID(t, "user01")}}},
			}, nil)
			if err != nil {
				want = append(want, g.name+": may edit membership")
			}
		}
		sort.Strings(want)
		if diff := cmp.Diff(want, failed); diff != "" {
			t.Errorf("failed checks (-want +got):\n%s", diff)
		}
	})

	t.Run("plan lists exactly the members without MFA", func(t *testing.T) {
		var plan struct {
			Findings []struct {
				Username string `json:"username"`
			} `json:"findings"`
			Tasks []struct {
				Subscribers []string `json:"subscribers"`
			} `json:"tasks"`
		}
		b.okJSON(&plan, "plan", "read-only")
		var got []string
		for _, f := range plan.Findings {
			got = append(got, f.Username)
		}
		sort.Strings(got)
		want := env.expectedMFA(t, nil, slugNDA, slugSecurity, slugSRE)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("plan findings (-want +got):\n%s", diff)
		}
		for i, tk := range plan.Tasks {
			if len(tk.Subscribers) > 21 { // 20 users + the bot
				t.Errorf("planned task %d has %d subscribers", i+1, len(tk.Subscribers))
			}
		}
	})
}

// TestLaunchAndConversation: launch, privacy of the tasks, relaunch, and
// the replies a tick answers.
func TestLaunchAndConversation(t *testing.T) {
	env := labEnv(t)
	env.reset(t)
	env.allowRemovals(t, slugNDA)
	const name = "lab-talk"
	cutoff := day(30)
	b := newBot(t, env, "  acl*sre-team: {risk: vandalism}\n  WMF-NDA: {risk: vandalism}")
	b.campaign(name, fmt.Sprintf(`criteria: [mfa]
groups: [WMF-NDA, acl*sre-team]
cutoff: %s
reminders: [7d]
approvers: acl*phabricator-admins
`, cutoff.Format(time.DateOnly)))
	want := env.expectedMFA(t, nil, slugNDA, slugSRE)

	b.ok("launch", name)
	tasks := env.campaignTasks(t, name)
	if n := (len(want) + 19) / 20; len(tasks) != n {
		t.Fatalf("launch filed %d tasks, want %d for %d users", len(tasks), n, len(want))
	}
	taskOf := map[string]labTask{} // username -> task
	t.Run("tasks of at most 20 users cover exactly the affected", func(t *testing.T) {
		var got []string
		for i, tk := range tasks {
			names := without(env.subscriberNames(t, tk), "auditbot")
			if len(names) > 20 {
				t.Errorf("batch %d: %d users", i, len(names))
			}
			for _, n := range names {
				taskOf[n] = tk
			}
			got = append(got, names...)
		}
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("subscribed users (-want +got):\n%s", diff)
		}
	})
	t.Run("an outsider cannot see the tasks", func(t *testing.T) {
		var ids []int
		for _, tk := range tasks {
			ids = append(ids, tk.ID)
		}
		if got := env.tasks(t, "USER_TOKEN", map[string]any{"ids": ids}); len(got) != 0 {
			t.Errorf("user01 sees %d of the campaign's tasks", len(got))
		}
	})
	t.Run("a named user cannot make the task public", func(t *testing.T) {
		for _, who := range []struct{ user, token string }{{"user02", "TOKEN_USER02"}, {"user25", "TOKEN_USER25"}} {
			tk, ok := taskOf[who.user]
			if !ok {
				t.Fatalf("%s is on no task", who.user)
			}
			err := env.call(t.Context(), who.token, "maniphest.edit", map[string]any{
				"objectIdentifier": tk.PHID,
				"transactions":     []map[string]any{{"type": "view", "value": "public"}},
			}, nil)
			if err == nil {
				t.Errorf("%s, subscribed to T%d, made it public: the task's edit policy %q lets a named user change who sees it", who.user, tk.ID, tk.EditPolicy)
			}
		}
		// Whatever happened above, the tasks must still be private.
		if got := env.tasks(t, "USER_TOKEN", map[string]any{"ids": []int{taskOf["user02"].ID, taskOf["user25"].ID}}); len(got) != 0 {
			t.Errorf("user01 now sees %d campaign task(s)", len(got))
		}
	})
	t.Run("a second launch files nothing", func(t *testing.T) {
		before := len(env.botTasks(t, "AUDITBOT_TOKEN"))
		b.ok("launch", name)
		if after := len(env.botTasks(t, "AUDITBOT_TOKEN")); after != before {
			t.Errorf("second launch: %d bot tasks, had %d", after, before)
		}
	})

	t02, t03, t25 := taskOf["user02"], taskOf["user03"], taskOf["user25"]
	t.Run("done without MFA is answered once", func(t *testing.T) {
		// The answers of one tick on a task are one comment (replies/...).
		before := env.countMarked(t, t02.PHID, name, "replies/")
		env.commentXacts(t, "TOKEN_USER02", t02.PHID, "done, I enabled it")
		b.ok("tick")
		b.ok("tick")
		if n := env.countMarked(t, t02.PHID, name, "replies/") - before; n != 1 {
			t.Errorf("answers to user02's done: %d, want 1", n)
		}
		if st, _ := b.status(name); st["user02"].Status != "pending" {
			t.Errorf("user02 after a false done: %q, want pending", st["user02"].Status)
		}
	})
	t.Run("MFA enrolment is seen by drift", func(t *testing.T) {
		env.labCommand(t, "LAB_ENROLL_MFA", "user05")
		b.ok("tick")
		if st, _ := b.status(name); st["user05"].Status != "compliant" {
			t.Errorf("user05 after enrolling: %q, want compliant", st["user05"].Status)
		}
	})
	t.Run("exemption asked and approved by comment", func(t *testing.T) {
		env.commentXacts(t, "TOKEN_USER03", t03.PHID, fmt.Sprintf("exemption: on leave until %s", cutoff.AddDate(0, 2, 0).Format(time.DateOnly)))
		b.ok("tick")
		if st, _ := b.status(name); st["user03"].Status != "pending" || !strings.Contains(st["user03"].Note, "pending") {
			t.Errorf("user03 after asking: %q %q, want pending with a pending exemption", st["user03"].Status, st["user03"].Note)
		}
		env.commentXacts(t, "ADMIN_TOKEN", t03.PHID, "!approve @user03")
		b.ok("tick")
		if st, _ := b.status(name); st["user03"].Status != "exempt" {
			t.Errorf("user03 after admin's !approve: %q (%s), want exempt", st["user03"].Status, st["user03"].Note)
		}
	})
	t.Run("an unsubscribe is flagged", func(t *testing.T) {
		env.must(t, "TOKEN_USER25", "maniphest.edit", map[string]any{
			"objectIdentifier": t25.PHID,
			"transactions":     []map[string]any{{"type": "subscribers.remove", "value": []string{env.userPHID(t, "user25")}}},
		}, nil)
		b.ok("tick")
		st, _ := b.status(name)
		if !st["user25"].Unsubscribed || st["user25"].Status != "pending" {
			t.Errorf("user25 after unsubscribing: %+v, want pending and unsubscribed", st["user25"])
		}
	})
	t.Run("reminders once", func(t *testing.T) {
		at := cutoff.AddDate(0, 0, -6).Format(time.RFC3339)
		b.ok("tick", "--allow-future", "--now", at)
		b.ok("tick", "--allow-future", "--now", at)
		for i, tk := range tasks {
			if n := env.countMarked(t, tk.PHID, name, "reminder/"); n != 1 {
				t.Errorf("batch %d (T%d): %d reminders, want 1", i, tk.ID, n)
			}
		}
	})
}

// TestRemovalAndRestore: approvals by comment (an edited one must not
// count) and by the command line, removal of exactly the approved
// memberships, and restore.
func TestRemovalAndRestore(t *testing.T) {
	env := labEnv(t)
	env.reset(t)
	env.allowRemovals(t, slugNDA)
	cutoff := day(20) // past the minimum notice (14 days); ticks run with --now
	after := cutoff.AddDate(0, 0, 2).Format(time.RFC3339)
	b := newBot(t, env, "  acl*sre-team: {risk: vandalism}\n  WMF-NDA: {risk: vandalism}")
	campaign := func(name, group string) {
		b.campaign(name, fmt.Sprintf(`criteria: [mfa]
groups: [%s]
cutoff: %s
reminders: []
approvers: acl*phabricator-admins
# The lab's groups are small (acl*sre-team has 8 members): the default
# guard-rail (at most 25 per cent of a group per batch) would hold these
# removals.
removal_limit: {max_share: 100%%}
`, group, cutoff.Format(time.DateOnly)))
	}

	t.Run("approval by comment; an edited approval does not count", func(t *testing.T) {
		const name = "lab-sre"
		campaign(name, "acl*sre-team")
		before := env.memberNames(t, slugSRE)
		affected := env.expectedMFA(t, nil, slugSRE)
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
		env.commentXacts(t, "ADMIN_TOKEN", tk.PHID, "!approve")
		env.labCommand(t, "LAB_EDIT_COMMENT", fmt.Sprintf("T%d", tk.ID), "admin", "!approve", "On second thought, hold this: not yet.")
		b.ok("tick", "--allow-future", "--now", after)
		if diff := cmp.Diff(before, env.memberNames(t, slugSRE)); diff != "" {
			t.Errorf("an !approve edited away before the bot read it was counted: members changed (-before +now):\n%s", diff)
		}
		env.commentXacts(t, "ADMIN_TOKEN", tk.PHID, "!approve")
		b.ok("tick", "--allow-future", "--now", after)
		if diff := cmp.Diff(without(before, affected...), env.memberNames(t, slugSRE)); diff != "" {
			t.Errorf("acl*sre-team after the approved removal (-want +got):\n%s", diff)
		}

		t.Run("restore", func(t *testing.T) {
			env.labCommand(t, "LAB_ENROLL_MFA", "user05")
			b.ok("restore", name, "user05")
			if diff := cmp.Diff(without(before, without(affected, "user05")...), env.memberNames(t, slugSRE)); diff != "" {
				t.Errorf("acl*sre-team after restoring user05 (-want +got):\n%s", diff)
			}
		})
	})

	t.Run("approval by verified CLI", func(t *testing.T) {
		const name = "lab-nda"
		campaign(name, "WMF-NDA")
		before := env.memberNames(t, slugNDA)
		affected := env.expectedMFA(t, nil, slugNDA)
		b.ok("launch", name)
		b.ok("tick", "--allow-future", "--now", after)
		if r := b.approveCLI(name, "R1", "USER_TOKEN", "user01"); r.code != 4 {
			t.Errorf("approve as user01 (not an approver): exit %d, want 4\n%s", r.code, r.stderr)
		}
		if r := b.approveCLI(name, "R1", "ADMIN_TOKEN", "admin"); r.code != 0 {
			t.Fatalf("approve as admin: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		b.ok("tick", "--allow-future", "--now", after)
		if diff := cmp.Diff(without(before, affected...), env.memberNames(t, slugNDA)); diff != "" {
			t.Errorf("WMF-NDA after the approved removal (-want +got):\n%s", diff)
		}
	})
}

// TestForgedMarkerAfterCrash: the bot dies while filing batch 2; meanwhile
// a subscriber writes batch 2's marker into batch 1's description. The
// rerun must still file batch 2's own task: recovery trusts only what the
// bot wrote, never text others can edit.
func TestForgedMarkerAfterCrash(t *testing.T) {
	env := labEnv(t)
	env.reset(t)
	const name = "lab-crash"
	lab, err := url.Parse(env["PHAB_URL"])
	if err != nil {
		t.Fatal(err)
	}
	// A proxy that, while crashing is set, drops the creation of batch 2's
	// task without forwarding it: the bot recorded its intent, the write
	// never landed.
	var crashing atomic.Bool
	crashing.Store(true)
	rp := httputil.NewSingleHostReverseProxy(lab)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		form, _ := url.ParseQuery(string(body))
		if crashing.Load() && strings.HasSuffix(r.URL.Path, "/maniphest.edit") && strings.Contains(form.Get("params"), bot.Marker(name, "task/batch-2")) {
			hj, ok := w.(http.Hijacker)
			if !ok {
				http.Error(w, "crash", http.StatusBadGateway)
				return
			}
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	b := newBot(t, env, "  acl*sre-team: {risk: vandalism}")
	b.url = proxy.URL
	b.writeConfig("  acl*sre-team: {risk: vandalism}")
	b.campaign(name, fmt.Sprintf(`criteria: [mfa]
groups: [acl*sre-team]
batch_size: 2
cutoff: %s
approvers: acl*phabricator-admins
`, day(30).Format(time.DateOnly)))
	want := env.expectedMFA(t, nil, slugSRE)
	if len(want) < 3 {
		t.Fatalf("need at least 3 affected users for two batches, have %v", want)
	}

	if r := b.run("launch", name); r.code == 0 {
		t.Fatalf("launch succeeded though batch 2's task could not be filed:\n%s", r.stdout)
	}
	tasks := env.campaignTasks(t, name)
	if len(tasks) != 1 {
		t.Fatalf("after the crash: %d tasks, want batch 1's only", len(tasks))
	}
	first := tasks[1]
	forger := map[string]string{"user02": "TOKEN_USER02", "user03": "TOKEN_USER03"}
	var tok string
	for _, n := range env.subscriberNames(t, first) {
		if forger[n] != "" {
			tok = forger[n]
		}
	}
	if tok == "" {
		t.Fatalf("no subscriber of T%d with a token", first.ID)
	}
	forge := map[string]any{
		"objectIdentifier": first.PHID,
		"transactions": []map[string]any{{"type": "description",
			"value": first.Description + "\n\n" + bot.Marker(name, "task/batch-2")}},
	}
	if err := env.call(t.Context(), tok, "maniphest.edit", forge, nil); err != nil {
		// The task's edit policy (administrators) keeps subscribers out.
		// An administrator other than the bot who can see the task (here
		// subscribed to it) can still edit it, and recovery must not
		// trust their text either: forge as admin.
		t.Logf("forging as a subscriber refused (%v); forging as a subscribed admin", err)
		env.must(t, "AUDITBOT_TOKEN", "maniphest.edit", map[string]any{"objectIdentifier": first.PHID,
			"transactions": []map[string]any{{"type": "subscribers.add", "value": []string{env.userPHID(t, "admin")}}}}, nil)
		if err := env.call(t.Context(), "ADMIN_TOKEN", "maniphest.edit", forge, nil); err != nil {
			t.Fatalf("forging as admin: %v", err)
		}
	}

	crashing.Store(false)
	b.ok("launch", name)
	var got []string
	seen := map[int]bool{}
	for _, tk := range env.botTasks(t, "AUDITBOT_TOKEN") {
		if hasTaskMarker(tk.Description, name) && !seen[tk.ID] {
			seen[tk.ID] = true
			got = append(got, without(env.subscriberNames(t, tk), "auditbot", "admin")...) // admin: subscribed above to forge
		}
	}
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("users subscribed to the campaign's tasks after the rerun (-want +got):\n%s\n(batch 2 adopted batch 1's task T%d through a forged marker)", diff, first.ID)
	}
	if len(seen) != 2 {
		t.Errorf("campaign tasks after the rerun: %d, want 2", len(seen))
	}
}

// TestSubscriberLetsOthersIn: on a task with view policy "subscribers"
// and edit policy "admin", a named (subscribed) user may still subscribe
// anyone: Phorge asks only CAN_INTERACT (the view policy) to add other
// subscribers (getLegacyRequiredCapabilities), and maniphest.edit loads
// the task with CAN_VIEW only. Removing another subscriber and assigning
// the task need CAN_EDIT. The bot's policies chore takes the access back
// and flags it.
func TestSubscriberLetsOthersIn(t *testing.T) {
	env := labEnv(t)
	env.reset(t)
	env.allowRemovals(t, slugNDA)
	const name = "lab-access"
	b := newBot(t, env, "  acl*sre-team: {risk: vandalism}\n  WMF-NDA: {risk: vandalism}")
	b.campaign(name, fmt.Sprintf(`criteria: [mfa]
groups: [WMF-NDA, acl*sre-team]
cutoff: %s
approvers: acl*phabricator-admins
`, day(30).Format(time.DateOnly)))
	b.ok("launch", name)
	var tk labTask
	for _, c := range env.campaignTasks(t, name) {
		if slices.Contains(env.subscriberNames(t, c), "user02") {
			tk = c
		}
	}
	if tk.PHID == "" {
		t.Fatal("user02 is on no task")
	}
	outsider := env.userPHID(t, "user01")
	edit := func(tokenVar string, tx map[string]any) error {
		return env.call(t.Context(), tokenVar, "maniphest.edit", map[string]any{"objectIdentifier": tk.PHID, "transactions": []map[string]any{tx}}, nil)
	}
	sees := func() bool { return len(env.tasks(t, "USER_TOKEN", map[string]any{"ids": []int{tk.ID}})) == 1 }
	if sees() {
		t.Fatal("user01 sees the task before anything happened")
	}
	t.Run("a subscriber may not assign the task", func(t *testing.T) {
		err := edit("TOKEN_USER02", map[string]any{"type": "owner", "value": outsider})
		t.Logf("owner edit by a subscriber: %v", err)
		if err == nil {
			t.Error("user02 assigned the task with edit policy admin")
		}
	})
	t.Run("a subscriber may not unsubscribe another", func(t *testing.T) {
		err := edit("TOKEN_USER02", map[string]any{"type": "subscribers.remove", "value": []string{env.userPHID(t, "auditbot")}})
		t.Logf("subscribers.remove of another by a subscriber: %v", err)
		if err == nil {
			t.Error("user02 unsubscribed the bot with edit policy admin")
		}
	})
	t.Run("a subscriber may subscribe an outsider, and the bot takes it back", func(t *testing.T) {
		if err := edit("TOKEN_USER02", map[string]any{"type": "subscribers.add", "value": []string{outsider}}); err != nil {
			t.Fatalf("subscribers.add of an outsider by a subscriber: %v (phabtest allows it, as getLegacyRequiredCapabilities reads)", err)
		}
		if !sees() {
			t.Fatal("user01 subscribed but still cannot see the task")
		}
		b.ok("tick")
		b.ok("tick")
		if sees() {
			t.Error("user01 still sees the task after two ticks")
		}
		_, st := b.status(name)
		if !slices.ContainsFunc(st.Attention, func(a string) bool { return strings.Contains(a, "@user02 subscribed @user01") }) {
			t.Errorf("status does not flag user02 subscribing user01:\n%s", strings.Join(st.Attention, "\n"))
		}
		if !slices.Contains(env.subscriberNames(t, tk), "user02") {
			t.Error("the bot unsubscribed user02")
		}
	})
}
