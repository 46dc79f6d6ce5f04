package demo

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/state"
)

// TestDemo runs the whole demo campaign end to end, as `make demo` does,
// and checks its outcome against the seed rather than against a recording
// of an earlier run.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Out: &out, StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}

	// Removals are exactly the seeded non-compliant members, minus the
	// exclusions, the bots and those who complied or were exempted.
	for _, groups := range res.Removed {
		slices.Sort(groups)
	}
	for _, groups := range res.ExpectedRemoved {
		slices.Sort(groups)
	}
	if diff := cmp.Diff(res.ExpectedRemoved, res.Removed); diff != "" {
		t.Errorf("removed memberships differ from the expected (-want +got):\n%s", diff)
	}
	for _, excluded := range []string{"ci-bot", "legacy-importer", "user03", "user12", "user21"} {
		if _, ok := res.Removed[excluded]; ok {
			t.Errorf("@%s was removed; it must not be", excluded)
		}
	}

	wantStatus := map[string]state.Status{
		"user03": state.StatusCompliant, // enabled MFA and said so
		"user21": state.StatusCompliant, // enabled MFA silently
		"user06": state.StatusRestored,  // claimed falsely, removed, then restored
		"user09": state.StatusRemoved,   // asked to be removed
		"user12": state.StatusExempt,    // exemption granted by an approver
		"user15": state.StatusRemoved,   // unsubscribed: flagged, not forgotten
	}
	for user, want := range wantStatus {
		if got := res.Statuses[user]; got != want {
			t.Errorf("@%s status = %s, want %s", user, got, want)
		}
	}
	if res.TrackingSummaries != 1 {
		t.Errorf("the tracking task holds %d summaries, want 1", res.TrackingSummaries)
	}
	if res.MaxSubscribers > 20 {
		t.Errorf("a task subscribes %d users, more than 20", res.MaxSubscribers)
	}
	if res.Tasks < 2 {
		t.Errorf("filed %d tasks, want at least 2 batches", res.Tasks)
	}
	if !res.TaskHiddenFromOutsider {
		t.Error("a user outside the batch could see the restricted task")
	}
	if !res.RefusedApproval {
		t.Error("an approval by a non-approver was not refused")
	}
	if res.WritesAfterRerun != 0 {
		t.Errorf("the rerun tick made %d writes, want 0", res.WritesAfterRerun)
	}
	if !slices.Equal(res.Restored, []string{"user06"}) {
		t.Errorf("restored = %v, want [user06]", res.Restored)
	}
	if !res.ExemptionHeldAfterOneApproval {
		t.Error("user12's exemption was decided after one approval; a security group needs two")
	}
	if diff := cmp.Diff(map[string][]string{"user06": {"WMF-NDA"}}, res.RestoredMembers); diff != "" {
		t.Errorf("restored users' memberships in Phabricator (-want +got):\n%s", diff)
	}
	if !slices.Equal(res.Unsubscribed, []string{"user15"}) {
		t.Errorf("flagged as unsubscribed: %v, want [user15]", res.Unsubscribed)
	}
	// Three reminders (30d, 7d, 1d) per task, each once; they mention
	// pending users only, never one who complied, was exempted or
	// unsubscribed (unsubscribed users are listed by name, not mentioned).
	for task, n := range res.Reminders {
		if n != 3 {
			t.Errorf("%s got %d reminders, want 3", task, n)
		}
	}
	// Every users' task is reminded; the team's task (disabled accounts,
	// nobody to remind) is not.
	if len(res.Reminders) != res.Tasks-1 {
		t.Errorf("reminders on %d of %d tasks, want all but the team's", len(res.Reminders), res.Tasks)
	}
	for _, u := range []string{"user03", "user21", "user12", "user15"} {
		if n := res.Reminded[u]; n != 0 {
			t.Errorf("@%s was mentioned in %d reminder(s)", u, n)
		}
	}
	if res.Reminded["user06"] != 3 {
		t.Errorf("@user06, pending throughout, was mentioned in %d reminders, want 3", res.Reminded["user06"])
	}
	t.Run("inactivity review", func(t *testing.T) {
		in := res.Inactivity
		if in == nil {
			t.Fatal("the demo ran no inactivity review")
		}
		// Expected comes from the seeded activity, not from the bot.
		if diff := cmp.Diff(in.Expected, in.Flagged); diff != "" {
			t.Errorf("flagged as inactive (-want +got):\n%s", diff)
		}
		for _, u := range []string{"user04", "user20", "user32", "user53"} {
			if !slices.Contains(in.Expected, u) {
				t.Errorf("the seed should make @%s inactive; expected %v", u, in.Expected)
			}
		}
		for _, u := range []string{"user12", "newhire", "ci-bot"} { // 11 months ago; account 30 days old; a bot
			if slices.Contains(in.Flagged, u) {
				t.Errorf("@%s flagged as inactive", u)
			}
		}
		if in.Statuses["user04"] != state.StatusCompliant {
			t.Errorf("@user04 after \"I am still here\": %s, want compliant", in.Statuses["user04"])
		}
		if in.Statuses["user32"] != state.StatusPending {
			t.Errorf("@user32 (silent): %s, want pending", in.Statuses["user32"])
		}
		// One page for the group's 12 members: never more stories than
		// members asked about, and the page crosses the window's edge.
		if in.ScanCalls != 1 || in.ScanStories > 12 || in.ScanStories == 0 {
			t.Errorf("activity scan: %d calls, %d stories; want 1 call, at most 12 stories (one per member)", in.ScanCalls, in.ScanStories)
		}
	})
	t.Run("policy audit", func(t *testing.T) {
		p := res.Policy
		if p == nil {
			t.Fatal("the demo ran no policy audit")
		}
		if p.Fixed == "" || p.JoinAfter != "no-one" {
			t.Errorf("the widened join policy: finding %q, now %q; want a finding fixed to no-one", p.Fixed, p.JoinAfter)
		}
		// The seed: every group's member list is visible to all users
		// (phabtest's default view policy), ci-bot is in two groups.
		if len(p.Found) != 6 {
			t.Errorf("policy findings %q, want 6 (3 views, 2 bot members, the join)", p.Found)
		}
	})
	t.Run("accounts disabled and one restored", func(t *testing.T) {
		dr := res.Disable
		if dr == nil {
			t.Fatal("the demo ran no disable campaign")
		}
		// From the server's write log: each approved account disabled
		// once, the bot never, one enabled again.
		if diff := cmp.Diff([]string{"contractor2", "contractor3"}, dr.Disabled); diff != "" {
			t.Errorf("accounts disabled (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"contractor2"}, dr.Enabled); diff != "" {
			t.Errorf("accounts enabled again (-want +got):\n%s", diff)
		}
		if !slices.Equal(dr.NeverDisabled, []string{"ci-bot"}) || !dr.TokenRefused || !dr.TokenWorksAgain {
			t.Errorf("never disabled %v, token refused %v, works again %v; want [ci-bot], true, true", dr.NeverDisabled, dr.TokenRefused, dr.TokenWorksAgain)
		}
	})
	for _, want := range []string{"launch again: 0 new tasks", "Final table", "approved=true", "Inactivity review of acl*sre-team", "Policy audit of the three groups"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
}
