package suggest_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/suggest"
)

// world is a phabtest server with access groups audited and not.
type world struct {
	srv   *phabtest.Server
	users map[string]phabtest.User
	proj  map[string]phabtest.Project
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{srv: phabtest.New(phabtest.Options{Now: func() time.Time { return time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) }}),
		users: map[string]phabtest.User{}, proj: map[string]phabtest.Project{}}
	t.Cleanup(w.srv.Close)
	for _, u := range []phabtest.UserSpec{
		{Username: "auditbot", Admin: true, Bot: true, MFA: true},
		{Username: "mallory", MFA: false}, // not an admin
		{Username: "ann", MFA: true}, {Username: "ben"}, {Username: "cat", MFA: true},
		{Username: "gone", Disabled: true}, {Username: "ci-bot", Bot: true}, {Username: "list-l", MailingList: true},
	} {
		w.users[u.Username] = w.srv.AddUser(u)
	}
	p := func(name, icon string, members ...string) {
		var phids []string
		for _, m := range members {
			phids = append(phids, w.users[m].PHID)
		}
		w.proj[name] = w.srv.AddProject(phabtest.ProjectSpec{Name: name, Icon: icon, Members: phids})
	}
	p("acl*security", "policy", "ann", "ben")           // audited
	p("acl*volunteers", "group", "ann", "ben", "gone")  // by name
	p("Legal", "policy", "cat", "ci-bot", "list-l")     // by icon
	p("Security-Team", "group", "ann", "ben", "cat")    // guards a task
	p("Frontend", "tag", "ann")                         // nothing
	p("acl*phabricator-admins", "policy", "ann", "cat") // approvers, not audited
	hidden := w.srv.AddProject(phabtest.ProjectSpec{Name: "Hidden", ViewPolicy: w.users["ann"].PHID, Members: []string{w.users["ann"].PHID}})
	w.srv.AddTask(phabtest.TaskSpec{Title: "team only", AuthorPHID: w.users["ann"].PHID, ViewPolicy: w.proj["Security-Team"].PHID})
	w.srv.AddTask(phabtest.TaskSpec{Title: "team edits", AuthorPHID: w.users["ann"].PHID, EditPolicy: w.proj["Security-Team"].PHID})
	w.srv.AddTask(phabtest.TaskSpec{Title: "public", AuthorPHID: w.users["ann"].PHID})
	w.srv.AddTask(phabtest.TaskSpec{Title: "hidden's", AuthorPHID: w.users["ann"].PHID, ViewPolicy: "users", EditPolicy: hidden.PHID})
	return w
}

func (w *world) client(t *testing.T, user string) *conduit.Client {
	t.Helper()
	c, err := conduit.Dial(t.Context(), w.srv.URL(), conduit.Token(w.users[user].Token), conduit.Options{
		HTTPClient: w.srv.Client(), RequestsPerSecond: 1000, Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ptr(n int) *int { return &n }

// TestFind: projects named acl*, with a lock icon or guarding a task are
// suggested unless a campaign audits them, with their member counts and
// MFA share; a project that guards a task but that the bot may not see
// is named by its PHID.
func TestFind(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, "auditbot")
	w.srv.ResetCalls()
	res, err := suggest.Find(t.Context(), c, suggest.Options{
		Audited: []string{"acl*security"}, Roles: map[string][]string{"acl*phabricator-admins": {"approvers of mfa-2027"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The cost: one page of projects, one of tasks, the members of every
	// suggestion in one call, their accounts and who has MFA in one each.
	if d := cmp.Diff(map[string]int{"project.search": 2, "maniphest.search": 1, "user.search": 2}, w.srv.Calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	byName := map[string]suggest.Suggestion{}
	for _, s := range res.Suggestions {
		byName[s.Project] = s
	}
	hiddenPHID := ""
	for name := range byName {
		if len(name) > 10 && name[:10] == "PHID-PROJ-" {
			hiddenPHID = name
		}
	}
	want := map[string]suggest.Suggestion{
		"acl*volunteers": {Project: "acl*volunteers", PHID: w.proj["acl*volunteers"].PHID, Visible: true, Reasons: []string{suggest.ReasonName},
			Members: 3, Enabled: 2, Disabled: 1, WithMFA: ptr(1)},
		"Legal": {Project: "Legal", PHID: w.proj["Legal"].PHID, Visible: true, Reasons: []string{suggest.ReasonIcon},
			Members: 3, Enabled: 1, Bots: 2, WithMFA: ptr(1)},
		"Security-Team": {Project: "Security-Team", PHID: w.proj["Security-Team"].PHID, Visible: true, Reasons: []string{suggest.ReasonGuards},
			GuardsTasks: 1, EditOf: 1, Members: 3, Enabled: 3, WithMFA: ptr(2)},
		"acl*phabricator-admins": {Project: "acl*phabricator-admins", PHID: w.proj["acl*phabricator-admins"].PHID, Visible: true,
			Reasons: []string{suggest.ReasonName, suggest.ReasonIcon}, Roles: []string{"approvers of mfa-2027"}, Members: 2, Enabled: 2, WithMFA: ptr(2)},
		hiddenPHID: {Project: hiddenPHID, PHID: hiddenPHID, Reasons: []string{suggest.ReasonGuards}, GuardsTasks: 1, EditOf: 1},
	}
	if d := cmp.Diff(want, byName); d != "" {
		t.Errorf("suggestions (-want +got):\n%s", d)
	}
	// The task only Security-Team may see is not read: the bot is no
	// member (a limit README states).
	if res.TasksRead != 3 || res.MFAUnknown != "" {
		t.Errorf("tasks read %d, MFA unknown %q", res.TasksRead, res.MFAUnknown)
	}
	if got := byName["Security-Team"].MFAShare(); got != "2/3 (66%)" {
		t.Errorf("MFA share %q", got)
	}
	// No write.
	if n := len(w.srv.Writes()); n != 0 {
		t.Errorf("suggest made %d writes", n)
	}
}

// TestFindNotAdmin: without the admin role the MFA share is unknown and
// says why; the rest is found. Tasks: -1 reads none.
func TestFindNotAdmin(t *testing.T) {
	w := newWorld(t)
	res, err := suggest.Find(t.Context(), w.client(t, "mallory"), suggest.Options{Tasks: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.MFAUnknown == "" || res.TasksRead != 0 {
		t.Errorf("MFA unknown %q, tasks read %d", res.MFAUnknown, res.TasksRead)
	}
	for _, s := range res.Suggestions {
		if s.WithMFA != nil || s.MFAShare() != "?" {
			t.Errorf("%s: MFA %v %s", s.Project, s.WithMFA, s.MFAShare())
		}
		if s.Project == "Security-Team" {
			t.Errorf("Security-Team suggested without reading tasks")
		}
	}
}
