package bot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
)

// failing is what one criterion found, for decideFindings.
func failing(t *testing.T, reason string, users ...conduit.User) failed {
	t.Helper()
	cr, ok := criterionOf(reason)
	if !ok {
		t.Fatalf("no criterion %q", reason)
	}
	fl := failed{cr: cr, users: map[string]conduit.User{}}
	for _, u := range users {
		fl.users[u.PHID] = u
	}
	return fl
}

func TestDecideFindings(t *testing.T) {
	user := func(name string, roles ...string) conduit.User {
		return conduit.User{PHID: "PHID-USER-" + name, Username: name, Roles: roles}
	}
	ana, bo, cy := user("ana"), user("bo"), user("cy", "disabled")
	ci, list := user("ci-bot", "bot"), user("wikitech-l", "list")
	gone := user("gone1")
	// Riskiest first, as resolveGroups sorts them.
	groups := []groupView{
		{Project: conduit.Project{PHID: "PHID-PROJ-sec", Name: "acl*security", MemberPHIDs: []string{ana.PHID, cy.PHID}}, Risk: campaigns.RiskSecurity},
		{Project: conduit.Project{PHID: "PHID-PROJ-nda", Name: "WMF-NDA", MemberPHIDs: []string{bo.PHID, ana.PHID, cy.PHID, ci.PHID, list.PHID, gone.PHID}}, Risk: campaigns.RiskVandalism},
	}
	type finding struct {
		User     string
		Groups   []string
		Reasons  []string
		TeamTask bool
	}
	tests := []struct {
		name     string
		criteria string
		extra    string
		fails    func(t *testing.T) []failed
		want     []finding
		skipped  []Skipped
	}{
		{
			name: "mfa: a disabled account cannot be asked, bots and lists as the file says", criteria: "[mfa]",
			extra: "exclude:\n  users: [gone1]\n  bots: true\n  mailing_lists: true\n",
			fails: func(t *testing.T) []failed { return []failed{failing(t, reasonMFA, bo, ana, cy, ci, list, gone)} },
			want: []finding{
				{User: "ana", Groups: []string{"acl*security", "WMF-NDA"}, Reasons: []string{reasonMFA}},
				{User: "bo", Groups: []string{"WMF-NDA"}, Reasons: []string{reasonMFA}},
			},
			skipped: []Skipped{
				{"ci-bot", "bot account"},
				{"cy", "disabled account (the campaign does not audit disabled accounts)"},
				{"gone1", "excluded by the campaign file"},
				{"wikitech-l", "mailing list"},
			},
		},
		{
			name: "mfa and disabled: a disabled account is audited as that only, on the team's task", criteria: "[mfa, disabled]", extra: "team: Security-Team\n",
			fails: func(t *testing.T) []failed {
				return []failed{failing(t, reasonMFA, ana, cy), failing(t, reasonDisabled, cy)}
			},
			want: []finding{
				{User: "ana", Groups: []string{"acl*security", "WMF-NDA"}, Reasons: []string{reasonMFA}},
				{User: "cy", Groups: []string{"acl*security", "WMF-NDA"}, Reasons: []string{reasonDisabled}, TeamTask: true},
			},
		},
		{
			name: "list and disabled: both reasons need no answer", criteria: "[disabled, list]", extra: "team: Security-Team\nlist:\n  file: LIST\n",
			fails: func(t *testing.T) []failed {
				return []failed{failing(t, reasonDisabled, cy), failing(t, reasonList, cy, bo)}
			},
			want: []finding{
				{User: "bo", Groups: []string{"WMF-NDA"}, Reasons: []string{reasonList}},
				{User: "cy", Groups: []string{"acl*security", "WMF-NDA"}, Reasons: []string{reasonDisabled, reasonList}, TeamTask: true},
			},
		},
		{
			name: "nobody fails", criteria: "[mfa]",
			fails: func(t *testing.T) []failed { return []failed{failing(t, reasonMFA)} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "list.txt"), []byte("bo\ncy\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := campaigns.ParseCampaign(filepath.Join(dir, "test.yaml"), []byte("name: test\ncriteria: "+tt.criteria+
				"\ngroups: [WMF-NDA]\ncutoff: 2027-02-28\napprovers: acl*admins\n"+strings.ReplaceAll(tt.extra, "LIST", "list.txt")))
			if err != nil {
				t.Fatal(err)
			}
			fs, skipped := decideFindings(c, groups, tt.fails(t))
			var got []finding
			for _, f := range fs {
				g := finding{User: f.User.Username, Reasons: f.Reasons, TeamTask: f.TeamTask}
				for _, gv := range f.Groups {
					g.Groups = append(g.Groups, gv.Name)
				}
				got = append(got, g)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.skipped, skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGroupMembers(t *testing.T) {
	groups := []groupView{
		{Project: conduit.Project{MemberPHIDs: []string{"PHID-USER-b", "PHID-PROJ-x", "PHID-USER-a"}}},
		{Project: conduit.Project{MemberPHIDs: []string{"PHID-USER-a", "PHID-USER-c", "PHID-BOGUS-1"}}},
	}
	users, others := groupMembers(groups)
	if diff := cmp.Diff([]string{"PHID-USER-a", "PHID-USER-b", "PHID-USER-c"}, users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"PHID-BOGUS-1", "PHID-PROJ-x"}, others); diff != "" {
		t.Errorf("non-users (-want +got):\n%s", diff)
	}
}

// TestPlanGroups counts each affected member once per group, also when
// a group is listed twice.
func TestPlanGroups(t *testing.T) {
	nda := groupView{Project: conduit.Project{PHID: "PHID-PROJ-nda", Name: "WMF-NDA", MemberPHIDs: []string{"u1", "u2", "u3"}}, Risk: campaigns.RiskVandalism}
	sec := groupView{Project: conduit.Project{PHID: "PHID-PROJ-sec", Name: "acl*security", MemberPHIDs: []string{"u1"}}, Risk: campaigns.RiskSecurity}
	snap := &snapshot{groups: []groupView{sec, nda}, findings: []plannedFinding{
		{User: conduit.User{PHID: "u1"}, Groups: []groupView{sec, nda, nda}},
		{User: conduit.User{PHID: "u2"}, Groups: []groupView{nda}},
	}}
	want := []PlanGroup{
		{Name: "acl*security", PHID: "PHID-PROJ-sec", Risk: campaigns.RiskSecurity.String(), RequiredApprovals: campaigns.RiskSecurity.RequiredApprovals(), Members: 1, Affected: 1},
		{Name: "WMF-NDA", PHID: "PHID-PROJ-nda", Risk: campaigns.RiskVandalism.String(), RequiredApprovals: campaigns.RiskVandalism.RequiredApprovals(), Members: 3, Affected: 2},
	}
	if diff := cmp.Diff(want, planGroups(snap)); diff != "" {
		t.Errorf("planGroups (-want +got):\n%s", diff)
	}
}

// TestNewPlan: the plan shows the tasks as launch files them: users
// named, the team and the approvers by hashtag, the marker at the end of
// the description, the reminders before the cutoff.
func TestNewPlan(t *testing.T) {
	c := parseCampaign(t, "[mfa, disabled]", "team: Security-Team\nbatch_size: 2\nreminders: [7d]\n")
	nda := groupView{Project: conduit.Project{PHID: "PHID-PROJ-nda", Name: "WMF-NDA", MemberPHIDs: []string{"a", "b", "c", "d"}}, Risk: campaigns.RiskSecurity}
	snap := &snapshot{self: conduit.Whoami{PHID: "PHID-USER-bot", Username: "auditbot"}, groups: []groupView{nda},
		approvers: conduit.Project{PHID: "PHID-PROJ-admins", Name: "acl*admins", Slug: "acl_admins"},
		team:      &conduit.Project{PHID: "PHID-PROJ-team", Name: "Security-Team", Slug: "security-team"}}
	for _, u := range []conduit.User{{PHID: "a", Username: "ana"}, {PHID: "b", Username: "bo"}, {PHID: "c", Username: "cy", Roles: []string{"disabled"}}, {PHID: "d", Username: "dee"}} {
		reason := reasonMFA
		if u.IsDisabled() {
			reason = reasonDisabled
		}
		snap.findings = append(snap.findings, plannedFinding{User: u, Groups: []groupView{nda}, Reasons: []string{reason}, TeamTask: u.IsDisabled()})
	}
	p, err := newPlan(testWords(t), c, snap, decideNow)
	if err != nil {
		t.Fatal(err)
	}
	var subs [][]string
	for _, task := range p.Tasks {
		subs = append(subs, task.Subscribers)
		if !hasMarker(task.Description, c.Name, taskKey(task.Batch)) {
			t.Errorf("batch %d's description does not end with its marker:\n%s", task.Batch, task.Description)
		}
	}
	want := [][]string{{"@ana", "@bo", "#security-team"}, {"@dee", "#security-team"}, {"#security-team"}}
	if diff := cmp.Diff(want, subs); diff != "" {
		t.Errorf("subscribers per task (-want +got):\n%s", diff)
	}
	var batches []int
	for _, f := range p.Findings {
		batches = append(batches, f.Batch)
	}
	if diff := cmp.Diff([]int{1, 1, 3, 2}, batches); diff != "" {
		t.Errorf("batches of ana, bo, cy, dee (-want +got):\n%s", diff)
	}
	if len(p.Reminders) != 1 || !p.Reminders[0].Equal(c.Cutoff.AddDate(0, 0, -7)) {
		t.Errorf("reminders %v, want one 7 days before %s", p.Reminders, c.Cutoff)
	}
	if len(p.Groups) != 1 || p.Groups[0].Affected != 4 || p.Team != "Security-Team" || p.Approvers != "acl*admins" {
		t.Errorf("plan header: groups %+v, team %q, approvers %q", p.Groups, p.Team, p.Approvers)
	}
}

// TestDecideFindingsGroups: a finding's groups follow the campaign's
// order; a member listed twice in a group counts once, a group the
// campaign names twice (by name and by slug) twice, as before.
func TestDecideFindingsGroups(t *testing.T) {
	ana := conduit.User{PHID: "PHID-USER-ana", Username: "ana"}
	sec := groupView{Project: conduit.Project{PHID: "PHID-PROJ-sec", Name: "acl*security", MemberPHIDs: []string{ana.PHID, ana.PHID}}}
	nda := groupView{Project: conduit.Project{PHID: "PHID-PROJ-nda", Name: "WMF-NDA", MemberPHIDs: []string{"PHID-USER-x", ana.PHID}}}
	fs, _ := decideFindings(parseCampaign(t, "[mfa]", ""), []groupView{sec, nda, sec}, []failed{failing(t, reasonMFA, ana)})
	var got []string
	for _, g := range fs[0].Groups {
		got = append(got, g.Name)
	}
	if diff := cmp.Diff([]string{"acl*security", "WMF-NDA", "acl*security"}, got); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}
