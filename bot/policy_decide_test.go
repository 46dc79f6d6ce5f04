package bot

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

const (
	dtTeam   = "PHID-PROJ-team"
	dtOther  = "PHID-PROJ-other"
	dtCustom = "PHID-PLCY-aaaaaaaaaaaaaaaaaaaa"
	dtSecT   = "PHID-TASK-sec"
)

// safeGroup is an audited group with safe policies.
func safeGroup(phid, slug string, risk campaigns.Risk, members ...string) policyGroup {
	return policyGroup{Project: conduit.Project{PHID: phid, Slug: slug, Name: slug, MemberPHIDs: members,
		Policy: conduit.ProjectPolicy{View: conduit.PolicyMembers, Edit: conduit.PolicyAdmin, Join: conduit.PolicyNoOne}}, Risk: risk}
}

// brief is what a test compares of a finding.
type brief struct {
	Key, Value, Safe, Risk string
	ByHand, NoBotFix       bool
	Required               int
}

func briefs(fs []state.PolicyFinding) []brief {
	var out []brief
	for _, f := range fs {
		out = append(out, brief{Key: f.Key, Value: f.Value, Safe: f.Safe, Risk: f.Risk, ByHand: f.ByHand, NoBotFix: f.NoBotFix, Required: f.RequiredApprovals})
	}
	return out
}

func TestCheckPolicies(t *testing.T) {
	withPolicy := func(g policyGroup, fn func(p *conduit.ProjectPolicy)) policyGroup {
		fn(&g.Policy)
		return g
	}
	nda := safeGroup(dtNDA, "wmf-nda", campaigns.RiskSecurity, dtUser("alice"), dtUser("ci"), dtUser("list"))
	wiki := safeGroup(dtOther+"wiki", "wiki-editors", campaigns.RiskNotRisky)
	accounts := map[string]conduit.User{
		dtUser("alice"): {PHID: dtUser("alice"), Username: "alice"},
		dtUser("ci"):    {PHID: dtUser("ci"), Username: "ci", Roles: []string{"bot"}},
		dtUser("list"):  {PHID: dtUser("list"), Username: "ops-l", Roles: []string{"list"}},
	}
	inside := []string{dtNDA, dtTeam, dtApprovers}
	task := func(id int, view, edit string) conduit.Task {
		return conduit.Task{ID: id, PHID: dtSecT + string(rune('0'+id)), ViewPolicy: view, EditPolicy: edit}
	}
	tests := []struct {
		name string
		in   policyInput
		want []brief
	}{
		{name: "safe group, its members people", in: policyInput{groups: []policyGroup{safeGroup(dtNDA, "wmf-nda", campaigns.RiskSecurity, dtUser("alice"))}, accounts: accounts, inside: inside, approvers: dtApprovers}},
		{name: "join by all users, edit by members, public member list, bot and list members",
			in: policyInput{groups: []policyGroup{withPolicy(nda, func(p *conduit.ProjectPolicy) {
				p.Join, p.Edit, p.View = conduit.PolicyUsers, conduit.PolicyMembers, conduit.PolicyPublic
			})}, accounts: accounts, inside: inside, approvers: dtApprovers},
			want: []brief{
				{Key: dtNDA + "/join", Value: "users", Safe: "no-one", Risk: "security", Required: 2},
				{Key: dtNDA + "/edit", Value: "obj.project.members", Safe: "admin", Risk: "security", Required: 2},
				{Key: dtNDA + "/view", Value: "public", Safe: "obj.project.members", Risk: "security", Required: 2},
				{Key: dtNDA + "/member/" + dtUser("ci"), Value: "ci", Risk: "security", Required: 2},
				{Key: dtNDA + "/member/" + dtUser("list"), Value: "ops-l", Risk: "security", Required: 2},
			}},
		{name: "approvers may edit; a not-risky group's list may be seen; its join is graded not-risky",
			in: policyInput{groups: []policyGroup{withPolicy(wiki, func(p *conduit.ProjectPolicy) {
				p.Join, p.Edit, p.View = conduit.PolicyUsers, dtApprovers, conduit.PolicyUsers
			})}, inside: inside, approvers: dtApprovers},
			want: []brief{{Key: dtOther + "wiki/join", Value: "users", Safe: "no-one", Risk: "not-risky", Required: 1}}},
		{name: "custom policies are for review by hand",
			in: policyInput{groups: []policyGroup{withPolicy(safeGroup(dtNDA, "wmf-nda", campaigns.RiskSecurity), func(p *conduit.ProjectPolicy) { p.Join = dtCustom })},
				tasks: []conduit.Task{task(3, dtCustom, conduit.PolicyAdmin)}, inside: inside, approvers: dtApprovers},
			want: []brief{
				{Key: dtNDA + "/join", Value: dtCustom, Risk: "security", ByHand: true, Required: 2},
				{Key: dtSecT + "3/task-view", Value: dtCustom, Risk: "security", ByHand: true, Required: 2},
			}},
		{name: "tasks wider than the guarding group, graded by the riskiest group",
			in: policyInput{groups: []policyGroup{safeGroup(dtNDA, "wmf-nda", campaigns.RiskSecurity), safeGroup(dtSRE, "sre", campaigns.RiskInternal)},
				tasks: []conduit.Task{
					task(2, conduit.PolicyPublic, dtOther),
					task(1, conduit.PolicyUsers, dtNDA),
					task(4, dtNDA, conduit.PolicySubscribers),
					task(5, dtUser("alice"), conduit.PolicyNoOne),
					task(1, conduit.PolicyUsers, dtNDA), // found by scope and Space: once
				}, inside: append(inside, dtSRE), approvers: dtApprovers},
			want: []brief{
				{Key: dtSecT + "1/task-view", Value: "users", Safe: dtSRE, Risk: "internal", NoBotFix: true, Required: 2},
				{Key: dtSecT + "2/task-view", Value: "public", Safe: dtSRE, Risk: "internal", NoBotFix: true, Required: 2},
				{Key: dtSecT + "2/task-edit", Value: dtOther, Safe: dtSRE, Risk: "internal", NoBotFix: true, Required: 2},
			}},
		{name: "the bot in the guarding group may fix a task; it is no bot member finding itself",
			in: policyInput{groups: []policyGroup{safeGroup(dtNDA, "wmf-nda", campaigns.RiskSecurity, dtBot)},
				accounts: map[string]conduit.User{dtBot: {PHID: dtBot, Username: "auditbot", Roles: []string{"bot"}}},
				tasks:    []conduit.Task{task(1, conduit.PolicyPublic, dtNDA)}, inside: inside, approvers: dtApprovers, self: dtBot},
			want: []brief{{Key: dtSecT + "1/task-view", Value: "public", Safe: dtNDA, Risk: "security", Required: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, briefs(checkPolicies(tt.in))); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// policyView is a view of a policy campaign with these findings and a
// policy task.
func policyView(t *testing.T, fs ...state.PolicyFinding) *view {
	v := testView(t)
	v.snap.Campaign.Policies = fs
	v.snap.Campaign.PolicyTask = &state.PolicyTask{TaskID: 9, TaskPHID: "PHID-TASK-policy", Said: labels(openPolicies(&v.snap.Campaign))}
	v.snap.Campaign.TeamPHID = dtTeam
	return v
}

func openJoin(id int) state.PolicyFinding {
	return state.PolicyFinding{ID: id, Key: dtNDA + "/join", ObjectPHID: dtNDA, Object: "#wmf-nda", Check: state.PolicyJoin,
		Value: "users", Safe: "no-one", Risk: "security", RequiredApprovals: 2, OpenedAt: dtNow.Add(-48 * 3600e9)}
}

func TestDecidePolicyFindings(t *testing.T) {
	found := func(fs ...state.PolicyFinding) []state.PolicyFinding { return fs }
	tests := []struct {
		name     string
		existing []state.PolicyFinding
		found    []state.PolicyFinding
		kinds    []state.EntryKind
		open     []string
	}{
		{name: "new finding opens as P1", found: found(state.PolicyFinding{Key: dtNDA + "/join", Value: "users"}),
			kinds: []state.EntryKind{state.EntryPolicyFound}, open: []string{"P1"}},
		{name: "found again: nothing", existing: []state.PolicyFinding{openJoin(1)}, found: found(openJoin(0)), open: []string{"P1"}},
		{name: "fixed by someone: closes", existing: []state.PolicyFinding{openJoin(1)},
			kinds: []state.EntryKind{state.EntryPolicyCleared}, open: nil},
		{name: "changed to another risky value: the old closes, a new one opens",
			existing: []state.PolicyFinding{openJoin(1)}, found: found(state.PolicyFinding{Key: dtNDA + "/join", Value: "public"}),
			kinds: []state.EntryKind{state.EntryPolicyCleared, state.EntryPolicyFound}, open: []string{"P2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := policyView(t, tt.existing...)
			ins := decidePolicyFindings(v.rec(), tt.found, dtNow)
			var kinds []state.EntryKind
			for _, in := range ins {
				kinds = append(kinds, in.entry.Kind)
				if in.write != nil {
					t.Errorf("a finding's change writes to Phabricator: %+v", in.write)
				}
			}
			if diff := cmp.Diff(tt.kinds, kinds); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			snap := applied(t, v, ins...)
			if diff := cmp.Diff(tt.open, labels(openPolicies(&snap.Campaign)), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("open (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideFixCommands(t *testing.T) {
	member := state.PolicyFinding{ID: 2, Key: dtNDA + "/member/x", Check: state.PolicyMember, Value: "ci", Risk: "security", RequiredApprovals: 2}
	closed := openJoin(3)
	closed.ClosedAt = dtNow
	approved := openJoin(1)
	approved.Approvals = []state.Approval{{ApproverPHID: dtUser("ann"), Username: "ann"}}
	tx := func(id int, author string) conduit.Transaction {
		return conduit.Transaction{ID: id, PHID: "PHID-XACT-" + string(rune('a'+id)), AuthorPHID: dtUser(author)}
	}
	tests := []struct {
		name      string
		finding   state.PolicyFinding
		cmds      []fixCommand
		kinds     []state.EntryKind
		approvals int
	}{
		{name: "an approver's !fix counts", finding: openJoin(1), cmds: []fixCommand{{tx(5, "ann"), "P1"}},
			kinds: []state.EntryKind{state.EntryApprovalRecorded}, approvals: 1},
		{name: "twice by one approver counts once", finding: openJoin(1), cmds: []fixCommand{{tx(5, "ann"), "P1"}, {tx(6, "ann"), "P1"}},
			kinds: []state.EntryKind{state.EntryApprovalRecorded, state.EntryCommandRefused}, approvals: 1},
		{name: "already approved earlier", finding: approved, cmds: []fixCommand{{tx(5, "ann"), "P1"}},
			kinds: []state.EntryKind{state.EntryCommandRefused}, approvals: 1},
		{name: "not an approver", finding: openJoin(1), cmds: []fixCommand{{tx(5, "mallory"), "P1"}},
			kinds: []state.EntryKind{state.EntryCommandRefused}},
		{name: "unknown label", finding: openJoin(1), cmds: []fixCommand{{tx(5, "ann"), "P7"}},
			kinds: []state.EntryKind{state.EntryCommandRefused}},
		{name: "a member finding is fixed by hand", finding: member, cmds: []fixCommand{{tx(5, "ann"), "P2"}},
			kinds: []state.EntryKind{state.EntryCommandRefused}},
		{name: "a closed finding", finding: closed, cmds: []fixCommand{{tx(5, "ann"), "P3"}},
			kinds: []state.EntryKind{state.EntryCommandRefused}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := policyView(t, tt.finding).withApprover("ann")
			v.users[dtUser("mallory")] = conduit.User{PHID: dtUser("mallory"), Username: "mallory"}
			ins := decideFixCommands(v, tt.cmds, 10, nil)
			var kinds []state.EntryKind
			for _, in := range ins {
				if in.write != nil {
					t.Errorf("a command writes to Phabricator: %+v", in.write)
				}
				if !in.unjournaled {
					kinds = append(kinds, in.entry.Kind)
				}
			}
			if diff := cmp.Diff(tt.kinds, kinds); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			snap := applied(t, v, ins...)
			pt := snap.Campaign.PolicyTask
			if pt.TxCursor != 10 || len(pt.Answers) != len(tt.cmds) {
				t.Errorf("cursor %d, %d answers; want 10 and %d", pt.TxCursor, len(pt.Answers), len(tt.cmds))
			}
			if got := len(snap.Campaign.Policies[0].Approvals); got != tt.approvals {
				t.Errorf("%d approvals recorded, want %d", got, tt.approvals)
			}
		})
	}
}

func TestDecidePolicyFix(t *testing.T) {
	src := func(id string) *state.Source {
		return &state.Source{TaskPHID: "PHID-TASK-policy", Task: "T9", TxPHID: id}
	}
	approvedBy := func(f state.PolicyFinding, names ...string) state.PolicyFinding {
		for _, n := range names {
			f.Approvals = append(f.Approvals, state.Approval{ApproverPHID: dtUser(n), Username: n, Source: src("PHID-XACT-" + n)})
		}
		return f
	}
	taskView := state.PolicyFinding{ID: 4, Key: dtSecT + "/task-view", ObjectPHID: dtSecT, Object: "T40", Check: state.PolicyTaskView,
		Value: "public", Safe: dtNDA, Risk: "security", RequiredApprovals: 2}
	tests := []struct {
		name    string
		finding state.PolicyFinding
		texts   map[string]string
		gone    []string // approvers no longer in the approvers' project
		want    intentParts
	}{
		{name: "join policy set after two approvals", finding: approvedBy(openJoin(1), "ann", "bob"),
			texts: map[string]string{"PHID-XACT-ann": "!fix P1", "PHID-XACT-bob": "yes\n!fix P1"},
			want: intentParts{Key: "policy-audit/fix/P1", Kind: state.OpPolicyFixed, Write: editPolicy{project: dtNDA, which: "join", value: "no-one"},
				Subjects: []string{dtNDA}, Entry: state.Entry{Actor: "auditbot", Group: "#wmf-nda", Approvers: []string{"ann", "bob"},
					Detail: "P1: join policy of #wmf-nda set from users to no-one"}}},
		{name: "task view policy set", finding: approvedBy(taskView, "ann", "bob"),
			texts: map[string]string{"PHID-XACT-ann": "!fix P4", "PHID-XACT-bob": "!fix P4"},
			want: intentParts{Key: "policy-audit/fix/P4", Kind: state.OpPolicyFixed, Write: editTask{task: dtSecT, edits: []conduit.Edit{{Type: "view", Value: dtNDA}}},
				Subjects: []string{dtSecT}, Entry: state.Entry{Actor: "auditbot", Group: "T40", Approvers: []string{"ann", "bob"},
					Detail: "P4: task-view policy of T40 set from public to " + dtNDA}}},
		{name: "an edited approval is withdrawn, nothing is written", finding: approvedBy(openJoin(1), "ann", "bob"),
			texts: map[string]string{"PHID-XACT-ann": "!fix P1", "PHID-XACT-bob": "on second thought, no"},
			want: intentParts{Entry: state.Entry{Kind: state.EntryApprovalWithdrawn, Actor: "auditbot", Group: "P1",
				Detail: "P1: @bob no longer count (not an enabled approver any more, or the comment no longer says !fix P1)"}}},
		{name: "an offboarded approver lapses, nothing is written", finding: approvedBy(openJoin(1), "ann", "bob"), gone: []string{"bob"},
			texts: map[string]string{"PHID-XACT-ann": "!fix P1", "PHID-XACT-bob": "!fix P1"},
			want: intentParts{Entry: state.Entry{Kind: state.EntryApprovalWithdrawn, Actor: "auditbot", Group: "P1",
				Detail: "P1: @bob no longer count (not an enabled approver any more, or the comment no longer says !fix P1)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := policyView(t, tt.finding).withApprover("ann").withApprover("bob")
			for _, g := range tt.gone {
				v.approvers = slicesDelete(v.approvers, dtUser(g))
			}
			v.texts = tt.texts
			in := decidePolicyFix(v, tt.finding)
			got := parts([]intent{in})[0]
			got.Said = ""
			if diff := cmp.Diff(tt.want, got, cmpIntents, cmp.AllowUnexported(editPolicy{})); diff != "" {
				t.Errorf("intent (-want +got):\n%s", diff)
			}
			snap := applied(t, v, in)
			f := snap.Campaign.Policies[0]
			if fixed := in.write != nil; fixed == f.Open() {
				t.Errorf("finding open %v after a write %v", f.Open(), fixed)
			}
			if in.write != nil && !in.landed.set() {
				t.Errorf("the fix has no landed check")
			}
		})
	}
}

func slicesDelete(s []string, x string) []string {
	var out []string
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}
