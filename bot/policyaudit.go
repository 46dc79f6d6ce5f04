package bot

// The policy criterion: it finds no users. It reads the audited groups'
// policies and members, and the tasks the campaign's scope projects and
// Spaces hold, and grades what is risky by the group's risk level
// (checkPolicies, pure). The findings live in the campaign record
// (state.PolicyFinding), on one task for the team, and are re-checked
// every tick: one found no longer closes, one found anew opens
// (decidePolicyFindings, pure). An approver's "!fix P1" on that task
// sets the safe value, with the quorum of the group's risk
// (policyfix.go).

import (
	"fmt"
	"slices"
	"strings"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// policyGroup is one audited group as the policy checks see it.
type policyGroup struct {
	conduit.Project
	Risk campaigns.Risk
}

// policyInput is what the policy checks read: the audited groups with
// their members, the members' accounts, the tasks in the campaign's scope
// and Spaces (open ones), and the projects inside the audited set (the
// groups, the team, the approvers).
type policyInput struct {
	groups   []policyGroup
	accounts map[string]conduit.User
	tasks    []conduit.Task
	inside   []string
	// approvers is the approvers' project's PHID: it may edit a group.
	approvers string
	// self is the bot's own PHID: not reported as a bot member, and it
	// can set a task's view policy to a group only if it is a member
	// (else Phorge refuses a policy that shuts the editor out, fact 59).
	self string
}

// Policy values as Conduit shows them (NOTES facts 53-55).
const (
	policyCustomPrefix = "PHID-PLCY-"
	policyProjPrefix   = "PHID-PROJ-"
)

// policyWho says in words who a policy value lets in.
func policyWho(v string) string {
	switch {
	case v == conduit.PolicyPublic:
		return "anyone, even logged out (public)"
	case v == conduit.PolicyUsers:
		return "all users"
	case v == conduit.PolicyMembers:
		return "the project's members"
	case v == conduit.PolicyAdmin:
		return "administrators"
	case v == conduit.PolicyNoOne:
		return "no one"
	case strings.HasPrefix(v, policyProjPrefix):
		return "members of project " + v
	case strings.HasPrefix(v, "PHID-USER-"):
		return "the user " + v
	case strings.HasPrefix(v, policyCustomPrefix):
		return "a custom policy"
	}
	return v
}

// wide reports whether a policy value lets in more than the audited set:
// everyone, all users, or a project outside it. A user PHID, admin,
// no-one and object policies (members, subscribers) are narrow.
func wide(v string, inside []string) bool {
	switch {
	case v == conduit.PolicyPublic, v == conduit.PolicyUsers:
		return true
	case strings.HasPrefix(v, policyProjPrefix):
		return !slices.Contains(inside, v)
	}
	return false
}

// checkPolicies returns the risky policies and members in in, in a fixed
// order (groups as given, then tasks by id), without ids or times. Pure.
func checkPolicies(in policyInput) []state.PolicyFinding {
	var out []state.PolicyFinding
	for _, g := range in.groups {
		out = append(out, checkGroup(g, in)...)
	}
	guard, ok := guardOf(in.groups)
	if !ok {
		return out
	}
	tasks := slices.Clone(in.tasks)
	slices.SortFunc(tasks, func(a, b conduit.Task) int { return a.ID - b.ID })
	for _, t := range slices.CompactFunc(tasks, func(a, b conduit.Task) bool { return a.ID == b.ID }) {
		out = append(out, checkTask(t, guard, in.inside, slices.Contains(guard.MemberPHIDs, in.self))...)
	}
	return out
}

// guardOf is the group that guards the campaign's tasks: the riskiest
// audited group (the first, as groups come riskiest first).
func guardOf(groups []policyGroup) (policyGroup, bool) {
	var g policyGroup
	for _, x := range groups {
		if g.PHID == "" || x.Risk > g.Risk {
			g = x
		}
	}
	return g, g.PHID != ""
}

// policyFinding builds one finding about object phid, graded by risk.
func policyFinding(phid, object string, check state.PolicyCheck, value, safe, why string, risk campaigns.Risk) state.PolicyFinding {
	f := state.PolicyFinding{Key: phid + "/" + string(check), ObjectPHID: phid, Object: object, Check: check,
		Value: value, Safe: safe, Why: why, Risk: risk.String(), RequiredApprovals: risk.RequiredApprovals()}
	if strings.HasPrefix(value, policyCustomPrefix) {
		f.ByHand, f.Safe = true, ""
		f.Why = "a custom policy: Conduit does not show its rules, so the bot cannot tell who it lets in; review it by hand"
	}
	return f
}

// checkGroup checks one audited group's join, edit and view policies and
// its members.
func checkGroup(g policyGroup, in policyInput) []state.PolicyFinding {
	var out []state.PolicyFinding
	name := "#" + g.Slug
	// Join: only the group's own members (already in), administrators,
	// the approvers (who decide on its access anyway) or no one; whoever
	// may edit the group adds members.
	if j := g.Policy.Join; j != conduit.PolicyNoOne && j != conduit.PolicyAdmin && j != conduit.PolicyMembers && j != g.PHID && (j != in.approvers || j == "") {
		out = append(out, policyFinding(g.PHID, name, state.PolicyJoin, j, conduit.PolicyNoOne,
			policyWho(j)+" can join the group themselves and get what it grants, with no approval", g.Risk))
	}
	// Edit: whoever may edit the group may add members. Administrators,
	// no one and the approvers (who decide on access anyway) are safe.
	if e := g.Policy.Edit; e != conduit.PolicyAdmin && e != conduit.PolicyNoOne && (e != in.approvers || in.approvers == "") {
		out = append(out, policyFinding(g.PHID, name, state.PolicyEdit, e, conduit.PolicyAdmin,
			policyWho(e)+" can edit the group, and so add members to it", g.Risk))
	}
	// View: who is in a security group is itself sensitive.
	if v := g.Policy.View; g.Risk >= campaigns.RiskSecurity && (v == conduit.PolicyPublic || v == conduit.PolicyUsers || strings.HasPrefix(v, policyCustomPrefix)) {
		out = append(out, policyFinding(g.PHID, name, state.PolicyView, v, conduit.PolicyMembers,
			policyWho(v)+" can see who is in a group of risk level "+g.Risk.String(), g.Risk))
	}
	return append(out, checkMembers(g, in)...)
}

// checkMembers reports the group's members that are bots or mailing
// lists (the bot itself aside).
func checkMembers(g policyGroup, in policyInput) []state.PolicyFinding {
	var out []state.PolicyFinding
	members := slices.Clone(g.MemberPHIDs)
	slices.Sort(members)
	for _, m := range members {
		u, ok := in.accounts[m]
		if !ok || m == in.self || (!u.IsBot() && !u.IsMailingList()) {
			continue
		}
		what := "a bot"
		if u.IsMailingList() {
			what = "a mailing list"
		}
		f := policyFinding(g.PHID, "#"+g.Slug, state.PolicyMember, u.Username, "",
			"`"+u.Username+"` is "+what+": nobody answers for what it does with the group's access; remove it, or exclude it on purpose", g.Risk)
		f.Key += "/" + m
		f.Subject = m
		out = append(out, f)
	}
	return out
}

// checkTask checks a task the campaign's scope or Spaces hold against the
// group that guards it: its view and edit policies must be no wider.
func checkTask(t conduit.Task, guard policyGroup, inside []string, botIn bool) []state.PolicyFinding {
	var out []state.PolicyFinding
	name := fmt.Sprintf("T%d", t.ID)
	for _, p := range []struct {
		check state.PolicyCheck
		value string
		verb  string
	}{{state.PolicyTaskView, t.ViewPolicy, "see"}, {state.PolicyTaskEdit, t.EditPolicy, "edit"}} {
		if !wide(p.value, inside) && !strings.HasPrefix(p.value, policyCustomPrefix) {
			continue
		}
		f := policyFinding(t.PHID, name, p.check, p.value, guard.PHID,
			fmt.Sprintf("%s can %s the task, more than #%s, which guards it", policyWho(p.value), p.verb, guard.Slug), guard.Risk)
		if !botIn && !f.ByHand {
			f.NoBotFix = true
			f.Why += fmt.Sprintf(" (the bot is not a member of #%s, so it cannot set that policy itself)", guard.Slug)
		}
		out = append(out, f)
	}
	return out
}
