package cli

import (
	"strings"
	"testing"

	"github.com/auditbot/auditbot/phabtest"
)

// TestSuggest: suggest lists the acl* projects no campaign audits (the
// approvers' project with its role, a volunteers' group), with member
// counts and MFA share, in text and JSON, and writes nothing.
func TestSuggest(t *testing.T) {
	l := newLab(t)
	l.srv.AddProject(phabtest.ProjectSpec{Name: "acl*security_volunteer", Icon: "group",
		Members: []string{l.users["dave"].PHID, l.users["grace"].PHID, l.users["ci-bot"].PHID}})
	r := l.run("suggest")
	r.expect(t, ExitOK, []string{"PROJECT", "acl*security_volunteer", "name starts with acl*", "1/2 (50%)", "approvers of mfa-test"}, nil)
	for _, audited := range []string{"WMF-NDA ", "acl*security ", "acl*sre-team", "acl*locked"} {
		if strings.Contains(r.stdout, "\n"+audited) {
			t.Errorf("suggests %q, which a campaign audits:\n%s", audited, r.stdout)
		}
	}
	var res SuggestResult
	r = l.run("suggest", "--json", "--tasks", "0")
	r.expect(t, ExitOK, nil, nil)
	if err := unwrapJSON(t, r.stdout, "suggest", &res); err != nil {
		t.Fatalf("suggest --json: %v\n%s", err, r.stdout)
	}
	found := false
	for _, s := range res.Suggestions {
		if s.Project == "acl*security_volunteer" {
			found = s.Members == 3 && s.Enabled == 2 && s.Bots == 1 && s.WithMFA != nil && *s.WithMFA == 1
		}
	}
	if !found || res.TasksRead != 0 || len(res.Campaigns) == 0 {
		t.Errorf("suggest --json: %+v", res)
	}
	if w := l.applied(); len(w) != 0 {
		t.Errorf("suggest changed Phabricator: %+v", w)
	}
	if l.stateFile() != nil {
		t.Error("suggest created the state file")
	}
	l.run("suggest", "--tasks", "-1").expect(t, ExitUsage, nil, []string{"--tasks"})
}
