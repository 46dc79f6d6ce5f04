package phabtest

import (
	"strings"
	"testing"
)

// TestUserEditDisable runs the sequence of phorgetest's
// TestPhorgeDisableAccount (checked on a real Phorge, NOTES fact 60)
// against phabtest: a non-admin may not disable anyone, nobody may
// disable themselves, an admin may; the account's token is then refused
// with ERR-INVALID-AUTH until it is enabled again; setting what already
// is applies nothing and needs no capability.
func TestUserEditDisable(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	admin := s.AddUser(UserSpec{Username: "admin", Admin: true})
	user01 := s.AddUser(UserSpec{Username: "user01"})
	user02 := s.AddUser(UserSpec{Username: "user02"})

	call := func(tok, method string, params map[string]any) (map[string]any, string) {
		t.Helper()
		return rawCall(t, s, tok, method, params)
	}
	disable := func(tok, who string, v bool) (int, string) {
		t.Helper()
		res, err := call(tok, "user.edit", map[string]any{"objectIdentifier": who,
			"transactions": []map[string]any{{"type": "disabled", "value": v}}})
		if err != "" {
			return 0, err
		}
		return len(res["transactions"].([]any)), ""
	}
	roles := func(who string) string {
		t.Helper()
		res, err := call(admin.Token, "user.search", map[string]any{"constraints": map[string]any{"phids": []string{who}}})
		if err != "" {
			t.Fatal(err)
		}
		var r []string
		for _, x := range res["data"].([]any)[0].(map[string]any)["fields"].(map[string]any)["roles"].([]any) {
			r = append(r, x.(string))
		}
		return strings.Join(r, ",")
	}
	mustErr := func(got, prefix string) {
		t.Helper()
		if !strings.HasPrefix(got, prefix) {
			t.Fatalf("got error %q, want one starting %q", got, prefix)
		}
	}

	_, err := disable(user01.Token, user02.PHID, true)
	mustErr(err, "ERR-CONDUIT-CORE: [You Shall Not Pass: People] (Can Disable Users)")
	_, err = disable(admin.Token, admin.PHID, true)
	mustErr(err, "ERR-CONDUIT-CORE: Validation errors:\n  - You can not enable or disable your own account.")
	// Setting what already is needs no capability and applies nothing.
	if n, err := disable(user01.Token, user02.PHID, false); err != "" || n != 0 {
		t.Fatalf("no-op enable by a non-admin: %d transaction(s), %q", n, err)
	}
	if n, err := disable(admin.Token, user02.PHID, true); err != "" || n != 1 {
		t.Fatalf("disable: %d transaction(s), %q", n, err)
	}
	if got := roles(user02.PHID); got != "disabled,verified,approved" {
		t.Errorf("roles after disable = %s", got)
	}
	_, err = call(user02.Token, "user.whoami", map[string]any{})
	mustErr(err, "ERR-INVALID-AUTH: User account is not permitted to use the API.")
	if n, err := disable(admin.Token, user02.PHID, true); err != "" || n != 0 {
		t.Fatalf("disable again: %d transaction(s), %q", n, err)
	}
	if n, err := disable(admin.Token, user02.PHID, false); err != "" || n != 1 {
		t.Fatalf("enable: %d transaction(s), %q", n, err)
	}
	if got := roles(user02.PHID); got != "verified,approved,activated" {
		t.Errorf("roles after enable = %s", got)
	}
	if _, err := call(user02.Token, "user.whoami", map[string]any{}); err != "" {
		t.Errorf("whoami after enable: %s", err)
	}
	_, err = disable(admin.Token, "PHID-USER-nosuchuser0000000000", true)
	mustErr(err, `ERR-CONDUIT-CORE: No object exists with PHID "PHID-USER-nosuchuser0000000000".`)
}
