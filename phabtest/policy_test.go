package phabtest

import (
	"strings"
	"testing"
)

// TestPolicyFacts models NOTES facts 53-59 (checked on the lab by
// phorgetest's TestPolicyAuditOnPhorge and the probe in NOTES): policies
// as plain strings, custom policies as their PHID, the spaces constraint
// only once a Space exists and the default Space holding every task
// without one, open() in statuses, policy edits needing Can Edit.
func TestPolicyFacts(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	admin := s.AddUser(UserSpec{Username: "admin", Admin: true})
	bot := s.AddUser(UserSpec{Username: "auditbot", Admin: true, Bot: true})
	approvers := s.AddProject(ProjectSpec{Name: "acl*phabricator-admins", Members: []string{admin.PHID}})
	sec := s.AddProject(ProjectSpec{Name: "acl*security", EditPolicy: approvers.PHID, JoinPolicy: "PHID-PLCY-aaaaaaaaaaaaaaaaaaaa"})
	s.AddTask(TaskSpec{Title: "open", AuthorPHID: admin.PHID, Projects: []string{sec.PHID}})
	s.AddTask(TaskSpec{Title: "resolved", AuthorPHID: admin.PHID, Projects: []string{sec.PHID}, Status: "resolved"})
	adminTok, botTok := s.NewToken(admin.PHID), s.NewToken(bot.PHID)

	call := func(tok, method string, params map[string]any) (map[string]any, string) {
		t.Helper()
		return rawCall(t, s, tok, method, params)
	}
	count := func(res map[string]any) int { return len(res["data"].([]any)) }

	res, _ := call(adminTok, "project.search", map[string]any{"constraints": map[string]any{"phids": []string{sec.PHID}}})
	fields := res["data"].([]any)[0].(map[string]any)["fields"].(map[string]any)
	if p := fields["policy"].(map[string]any); p["join"] != "PHID-PLCY-aaaaaaaaaaaaaaaaaaaa" || p["edit"] != approvers.PHID {
		t.Errorf("project policy %v", p)
	}
	if v, ok := fields["spacePHID"]; !ok || v != nil {
		t.Errorf("project spacePHID %v (present %v), want null", v, ok)
	}
	if _, err := call(adminTok, "maniphest.search", map[string]any{"constraints": map[string]any{"spaces": []string{"PHID-SPCE-x"}}}); !strings.HasPrefix(err, "ERR-INVALID-CONSTRAINT") {
		t.Errorf("spaces before any Space: %q, want ERR-INVALID-CONSTRAINT", err)
	}
	res, _ = call(adminTok, "maniphest.search", map[string]any{"constraints": map[string]any{"statuses": []string{"open()"}}})
	if count(res) != 1 {
		t.Errorf("open(): %d tasks, want 1", count(res))
	}
	space := s.AddSpace()
	s.AddTask(TaskSpec{Title: "in the space", AuthorPHID: admin.PHID, Space: space})
	res, _ = call(adminTok, "maniphest.search", map[string]any{"constraints": map[string]any{"spaces": []string{space}}})
	if count(res) != 3 {
		t.Errorf("the default Space holds %d tasks, want all 3", count(res))
	}
	if _, err := call(botTok, "project.edit", map[string]any{"objectIdentifier": sec.PHID,
		"transactions": []map[string]any{{"type": "join", "value": "no-one"}}}); !strings.Contains(err, "(Can Edit)") {
		t.Errorf("the bot outside the editors sets a join policy: %q, want a Can Edit refusal", err)
	}
	if _, err := call(adminTok, "project.edit", map[string]any{"objectIdentifier": sec.PHID,
		"transactions": []map[string]any{{"type": "join", "value": "users"}}}); err != "" {
		t.Errorf("admin (an editor) sets a join policy: %s", err)
	}
	res, _ = call(adminTok, "transaction.search", map[string]any{"objectIdentifier": sec.PHID, "limit": 1})
	if x := res["data"].([]any)[0].(map[string]any); x["type"] != nil {
		t.Errorf("a join policy change has type %v, want null", x["type"])
	}
}
