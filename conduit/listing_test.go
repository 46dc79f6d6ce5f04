package conduit

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestListProjects decodes every visible project with its icon from the
// lab's recording (the lock is key "policy", class "fa-lock").
func TestListProjects(t *testing.T) {
	f := newFakePhab(t, testToken, step{method: "project.search", rec: "project.search.auditbot.all.json", params: `{"limit":100}`})
	c, _ := newTestClient(t, f, Options{})
	got, err := c.ListProjects(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	icons := map[string]string{}
	for _, p := range got {
		icons[p.Name] = p.IconKey + " " + p.IconClass
		if p.PHID == "" || p.Policy.View == "" {
			t.Errorf("%s: PHID %q, policy %+v", p.Name, p.PHID, p.Policy)
		}
	}
	want := map[string]string{"acl*phabricator-admins": "policy fa-lock", "acl*security": "policy fa-lock", "acl*sre-team": "policy fa-lock",
		"Security-Team": "group fa-users", "WMF-NDA": "policy fa-lock"}
	if d := cmp.Diff(want, icons); d != "" {
		t.Errorf("icons (-want +got):\n%s", d)
	}
}
