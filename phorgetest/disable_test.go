//go:build phorge

package phorgetest

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// userEditDisabled sends user.edit {disabled: v} for user as the holder of
// tokenVar and returns how many transactions it applied, or its error.
func (e labSettings) userEditDisabled(t *testing.T, tokenVar, user string, v bool) (int, error) {
	t.Helper()
	var res struct {
		Transactions []struct {
			PHID string `json:"phid"`
		} `json:"transactions"`
	}
	err := e.call(t.Context(), tokenVar, "user.edit", map[string]any{
		"objectIdentifier": user,
		"transactions":     []map[string]any{{"type": "disabled", "value": v}},
	}, &res)
	return len(res.Transactions), err
}

// whoamiErr is the error user.whoami answers tokenVar with ("" if none).
func (e labSettings) whoamiErr(t *testing.T, tokenVar string) string {
	t.Helper()
	err := e.call(t.Context(), tokenVar, "user.whoami", map[string]any{}, nil)
	var ce *conduitError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ce):
		return ce.code + ": " + ce.info
	}
	t.Fatalf("user.whoami as %s: %v", tokenVar, err)
	return ""
}

// rolesOf returns username's roles as user.search shows them.
func (e labSettings) rolesOf(t *testing.T, username string) []string {
	t.Helper()
	for _, u := range e.users(t, map[string]any{"usernames": []string{username}}) {
		return u.Roles
	}
	t.Fatalf("no user %s", username)
	return nil
}

// TestPhorgeDisableAccount checks on the real Phorge what user.edit's
// "disabled" transaction does (NOTES fact 60), in the sequence phabtest's
// TestUserEditDisable runs: a non-admin is refused, nobody disables
// themselves, setting what already is needs no capability and applies
// nothing; an admin disables, user.search then shows the role "disabled"
// (and no "activated"), the account's token is refused with
// ERR-INVALID-AUTH, and enabling it makes the token work again.
func TestPhorgeDisableAccount(t *testing.T) {
	env := labEnv(t)
	env.reset(t)
	user25, admin := env.userPHID(t, "user25"), env.userPHID(t, "admin")
	wantErr := func(what string, err error, prefix string) {
		t.Helper()
		if err == nil || !strings.HasPrefix(err.Error(), prefix) {
			t.Errorf("%s: %v, want an error starting %q", what, err, prefix)
		}
	}

	_, err := env.userEditDisabled(t, "USER_TOKEN", user25, true)
	wantErr("disable as a non-admin", err, "ERR-CONDUIT-CORE: [You Shall Not Pass: People] (Can Disable Users)")
	_, err = env.userEditDisabled(t, "ADMIN_TOKEN", admin, true)
	wantErr("disable oneself", err, "ERR-CONDUIT-CORE: Validation errors:\n  - You can not enable or disable your own account.")
	if n, err := env.userEditDisabled(t, "USER_TOKEN", user25, false); err != nil || n != 0 {
		t.Errorf("enabling an enabled account as a non-admin: %d transaction(s), %v; want 0, nil", n, err)
	}
	if n, err := env.userEditDisabled(t, "ADMIN_TOKEN", user25, true); err != nil || n != 1 {
		t.Fatalf("disable as admin: %d transaction(s), %v", n, err)
	}
	if roles := env.rolesOf(t, "user25"); !slices.Contains(roles, "disabled") || slices.Contains(roles, "activated") {
		t.Errorf("user25's roles after the disabling: %v", roles)
	}
	if got := env.whoamiErr(t, "TOKEN_USER25"); got != "ERR-INVALID-AUTH: User account is not permitted to use the API." {
		t.Errorf("user25's token after the disabling: %q", got)
	}
	if n, err := env.userEditDisabled(t, "ADMIN_TOKEN", user25, true); err != nil || n != 0 {
		t.Errorf("disabling again: %d transaction(s), %v; want 0, nil", n, err)
	}
	if n, err := env.userEditDisabled(t, "ADMIN_TOKEN", user25, false); err != nil || n != 1 {
		t.Fatalf("enable as admin: %d transaction(s), %v", n, err)
	}
	if got := env.whoamiErr(t, "TOKEN_USER25"); got != "" {
		t.Errorf("user25's token after enabling: %q", got)
	}
	if roles := env.rolesOf(t, "user25"); slices.Contains(roles, "disabled") || !slices.Contains(roles, "activated") {
		t.Errorf("user25's roles after enabling: %v", roles)
	}
	_, err = env.userEditDisabled(t, "ADMIN_TOKEN", "PHID-USER-nosuchuser0000000000", true)
	wantErr("an unknown PHID", err, `ERR-CONDUIT-CORE: No object exists with PHID "PHID-USER-nosuchuser0000000000".`)
}

// TestDisableAccountsCampaign: a campaign with action disable on
// acl*sre-team. plan and check list user03 (an approver without MFA) as
// never disabled; after the cutoff and one approval the bot disables
// user02's account (the token stops working; the memberships stay), never
// user03's; restore enables user02 again and the token works.
func TestDisableAccountsCampaign(t *testing.T) {
	env := labEnv(t)
	env.reset(t)
	env.allowRemovals(t, slugSRE)
	const name = "lab-disable"
	cutoff := day(20)
	after := cutoff.AddDate(0, 0, 2).Format(time.RFC3339)
	b := newBot(t, env, "  acl*sre-team: {risk: vandalism}")
	b.campaign(name, fmt.Sprintf(`criteria: [mfa]
groups: [acl*sre-team]
cutoff: %s
reminders: []
approvers: acl*phabricator-admins
action: disable
removal_limit: {max_share: 100%%}
`, cutoff.Format(time.DateOnly)))
	affected := env.expectedMFA(t, nil, slugSRE)
	if !slices.Contains(affected, "user02") || !slices.Contains(affected, "user03") {
		t.Fatalf("acl*sre-team members without MFA: %v; the scenario needs user02 and user03", affected)
	}

	var plan struct {
		Action        string `json:"action"`
		NeverDisabled []struct {
			Username string `json:"username"`
			Reason   string `json:"reason"`
		} `json:"never_disabled"`
	}
	b.okJSON(&plan, "plan", name)
	var exempt []string
	for _, s := range plan.NeverDisabled {
		exempt = append(exempt, s.Username+": "+s.Reason)
	}
	if plan.Action != "disable" || !slices.Contains(exempt, "user03: an approver of this campaign") {
		t.Errorf("plan: action %q, never disabled %v; want disable, user03 an approver", plan.Action, exempt)
	}
	if out := b.ok("check", name); !strings.Contains(out, "@user03") || !strings.Contains(out, "never disabled") {
		t.Errorf("check does not list user03 as never disabled:\n%s", out)
	}

	before := env.memberNames(t, slugSRE)
	b.ok("launch", name)
	tasks := env.campaignTasks(t, name)
	if len(tasks) != 1 {
		t.Fatalf("%d tasks, want 1", len(tasks))
	}
	tk := tasks[1]
	if !strings.Contains(tk.Description, "your account will be **disabled**") {
		t.Errorf("the task does not say the account will be disabled:\n%s", tk.Description)
	}
	b.ok("tick", "--allow-future", "--now", after)
	if n := env.countMarked(t, tk.PHID, name, "removal/R1/proposal/"); n != 1 {
		t.Fatalf("announcements of R1: %d, want 1", n)
	}
	env.commentXacts(t, "ADMIN_TOKEN", tk.PHID, "!approve")
	b.ok("tick", "--allow-future", "--now", after)

	var disabled []string
	for _, u := range env.users(t, map[string]any{"usernames": affected}) {
		if u.has("disabled") {
			disabled = append(disabled, u.Username)
		}
	}
	sort.Strings(disabled)
	if diff := cmp.Diff(without(affected, "user03"), disabled); diff != "" {
		t.Errorf("accounts disabled (-want +got):\n%s", diff)
	}
	if got := env.whoamiErr(t, "TOKEN_USER02"); !strings.HasPrefix(got, "ERR-INVALID-AUTH") {
		t.Errorf("user02's token after the disabling: %q, want ERR-INVALID-AUTH", got)
	}
	if got := env.whoamiErr(t, "TOKEN_USER03"); got != "" {
		t.Errorf("user03 (an approver) was disabled: %q", got)
	}
	if diff := cmp.Diff(before, env.memberNames(t, slugSRE)); diff != "" {
		t.Errorf("acl*sre-team's members changed (-before +after):\n%s", diff)
	}
	if n := env.countMarked(t, tk.PHID, name, "removal/R1/notice/"); n != 1 {
		t.Errorf("notices of R1: %d, want 1", n)
	}
	// Ticking again changes nothing.
	b.ok("tick", "--allow-future", "--now", after)

	env.labCommand(t, "LAB_ENROLL_MFA", "user02")
	b.ok("restore", name, "user02")
	if got := env.whoamiErr(t, "TOKEN_USER02"); got != "" {
		t.Errorf("user02's token after the restore: %q", got)
	}
	if roles := env.rolesOf(t, "user02"); slices.Contains(roles, "disabled") {
		t.Errorf("user02's roles after the restore: %v", roles)
	}
	users, _ := b.status(name)
	if u, ok := users["user02"]; !ok || u.Status != "restored" {
		t.Errorf("status of user02 after the restore: %+v", u)
	}
}
