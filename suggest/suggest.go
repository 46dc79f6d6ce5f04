// Package suggest finds the projects that look like access groups but
// that no campaign audits: a team sees what it is not auditing. It only
// reads Phabricator.
//
// A project looks like an access group when its name starts with acl*
// (the convention for ACL groups), when it guards tasks (it is the view
// or edit policy of one of the newest tasks the bot can see), or when it
// carries the lock icon (key "policy", or any icon drawn as fa-lock). For
// each it counts the members (enabled people, disabled accounts, bots and
// mailing lists) and how many of the enabled people have MFA.
//
// Limits, by design of Conduit: only the newest tasks (Options.Tasks) are
// read for their policies, as maniphest.search has no constraint on a
// policy and reading every task of a large install costs one call per 100
// tasks; a project that guards only older tasks, tasks the bot may not
// see, or that is named inside a custom policy (PHID-PLCY-…, which
// Conduit does not show) is found only by its name or icon. A project the
// bot may not see is named by its PHID, without counts. The MFA share
// needs user.search's mfa constraint, which is admin-only.
package suggest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
)

// Phabricator is what suggest reads, all of it through Conduit's search
// methods.
type Phabricator interface {
	ListProjects(ctx context.Context, max int) ([]conduit.ListedProject, error)
	RecentTasks(ctx context.Context, max int) ([]conduit.Task, error)
	ProjectsByPHID(ctx context.Context, phids []string, withMembers bool) ([]conduit.Project, error)
	SearchUsers(ctx context.Context, q conduit.UserQuery) ([]conduit.User, error)
}

// DefaultTasks is how many of the newest tasks are read for their
// policies when Options.Tasks is 0: ten calls.
const DefaultTasks = 1000

// Options say what is already audited and how far to look.
type Options struct {
	// Audited are the groups the campaigns audit, as written.
	Audited []string
	// Roles name what a project not audited is to a campaign, by the
	// project's name as written: "approvers of mfa-2027q1".
	Roles map[string][]string
	// Tasks is how many of the newest tasks to read; 0 means
	// DefaultTasks, a negative number none.
	Tasks int
}

// Reasons a project is suggested.
const (
	ReasonName   = "name starts with acl*"
	ReasonIcon   = "lock icon"
	ReasonGuards = "guards tasks"
)

// Suggestion is one project that looks like an access group and is in no
// campaign.
type Suggestion struct {
	Project string   `json:"project"`
	PHID    string   `json:"phid"`
	Reasons []string `json:"reasons"`
	// GuardsTasks counts the tasks read whose view or edit policy is the
	// project (ViewOf and EditOf each).
	GuardsTasks int `json:"guards_tasks,omitempty"`
	ViewOf      int `json:"view_policy_of,omitempty"`
	EditOf      int `json:"edit_policy_of,omitempty"`
	// Visible reports whether the bot can see the project; a project
	// seen only as a task's policy has no name and no counts.
	Visible bool     `json:"visible"`
	Roles   []string `json:"roles,omitempty"`
	Members int      `json:"members"`
	// Enabled counts the enabled people (not bots, not mailing lists);
	// Disabled the disabled accounts; Bots the bots and mailing lists.
	Enabled  int `json:"enabled"`
	Disabled int `json:"disabled"`
	Bots     int `json:"bots_and_lists"`
	// WithMFA counts the enabled people with MFA; nil when unknown.
	WithMFA *int `json:"with_mfa,omitempty"`
}

// MFAShare is the share of enabled people with MFA, as "3/4 (75%)", or
// "?" when unknown, "-" when there is nobody.
func (s Suggestion) MFAShare() string {
	switch {
	case s.WithMFA == nil:
		return "?"
	case s.Enabled == 0:
		return "-"
	}
	return fmt.Sprintf("%d/%d (%d%%)", *s.WithMFA, s.Enabled, *s.WithMFA*100/s.Enabled)
}

// Result is what Find found and how far it looked.
type Result struct {
	Suggestions  []Suggestion `json:"suggestions"`
	ProjectsRead int          `json:"projects_read"`
	TasksRead    int          `json:"tasks_read"`
	// MFAUnknown says why the MFA share is missing, if it is.
	MFAUnknown string `json:"mfa_unknown,omitempty"`
}

// Find lists the projects that look like access groups and are in no
// campaign, with their member counts and MFA share.
func Find(ctx context.Context, phab Phabricator, o Options) (*Result, error) {
	projects, err := phab.ListProjects(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("suggest: list projects: %w", err)
	}
	n := cmp.Or(o.Tasks, DefaultTasks)
	var tasks []conduit.Task
	if n > 0 {
		if tasks, err = phab.RecentTasks(ctx, n); err != nil {
			return nil, fmt.Errorf("suggest: read the newest tasks: %w", err)
		}
	}
	res := &Result{Suggestions: Candidates(projects, tasks, o), ProjectsRead: len(projects), TasksRead: len(tasks)}
	if err := count(ctx, phab, res); err != nil {
		return nil, err
	}
	return res, nil
}

// Candidates picks, from every project the bot can see and the tasks it
// read, those that look like access groups and that no campaign audits,
// by name. It reads nothing.
func Candidates(projects []conduit.ListedProject, tasks []conduit.Task, o Options) []Suggestion {
	audited := map[string]bool{}
	for _, g := range o.Audited {
		audited[campaigns.GroupKey(g)] = true
	}
	roles := map[string][]string{}
	for name, rs := range o.Roles {
		roles[campaigns.GroupKey(name)] = append(roles[campaigns.GroupKey(name)], rs...)
	}
	view, edit := map[string]int{}, map[string]int{}
	for _, t := range tasks {
		if strings.HasPrefix(t.ViewPolicy, "PHID-PROJ-") {
			view[t.ViewPolicy]++
		}
		if strings.HasPrefix(t.EditPolicy, "PHID-PROJ-") && t.EditPolicy != t.ViewPolicy {
			edit[t.EditPolicy]++
		}
	}
	seen := map[string]bool{}
	var out []Suggestion
	for _, p := range projects {
		seen[p.PHID] = true
		if audited[campaigns.GroupKey(p.Name)] || audited[campaigns.GroupKey(p.Slug)] {
			continue
		}
		s := Suggestion{Project: p.Name, PHID: p.PHID, Visible: true, ViewOf: view[p.PHID], EditOf: edit[p.PHID], Roles: roles[campaigns.GroupKey(p.Name)]}
		s.GuardsTasks = s.ViewOf + s.EditOf
		if strings.HasPrefix(strings.ToLower(p.Name), "acl*") {
			s.Reasons = append(s.Reasons, ReasonName)
		}
		if s.GuardsTasks > 0 {
			s.Reasons = append(s.Reasons, ReasonGuards)
		}
		if p.IconKey == "policy" || p.IconClass == "fa-lock" {
			s.Reasons = append(s.Reasons, ReasonIcon)
		}
		if len(s.Reasons) > 0 {
			out = append(out, s)
		}
	}
	// A project that guards tasks but that the bot may not see: named by
	// its PHID (it may well be audited under its name; the bot cannot tell).
	var hidden []string
	for phid := range view {
		hidden = append(hidden, phid)
	}
	for phid := range edit {
		hidden = append(hidden, phid)
	}
	slices.Sort(hidden)
	for _, phid := range slices.Compact(hidden) {
		if !seen[phid] {
			out = append(out, Suggestion{Project: phid, PHID: phid, Reasons: []string{ReasonGuards}, ViewOf: view[phid], EditOf: edit[phid], GuardsTasks: view[phid] + edit[phid]})
		}
	}
	return out
}

// count fills in each visible suggestion's member counts and MFA share:
// the members of every suggestion in one project.search, the accounts of
// all of them in one user.search (pages of 100), and who has MFA in
// another.
func count(ctx context.Context, phab Phabricator, res *Result) error {
	var phids []string
	for _, s := range res.Suggestions {
		if s.Visible {
			phids = append(phids, s.PHID)
		}
	}
	if len(phids) == 0 {
		return nil
	}
	projects, err := phab.ProjectsByPHID(ctx, phids, true)
	if err != nil {
		return fmt.Errorf("suggest: read members: %w", err)
	}
	members := map[string][]string{}
	var all []string
	for _, p := range projects {
		members[p.PHID] = p.MemberPHIDs
		all = append(all, p.MemberPHIDs...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	accounts := map[string]conduit.User{}
	mfa := map[string]bool{}
	if len(all) > 0 {
		users, err := phab.SearchUsers(ctx, conduit.UserQuery{PHIDs: all})
		if err != nil {
			return fmt.Errorf("suggest: read members' accounts: %w", err)
		}
		for _, u := range users {
			accounts[u.PHID] = u
		}
		yes := true
		withMFA, err := phab.SearchUsers(ctx, conduit.UserQuery{PHIDs: all, MFA: &yes})
		switch {
		case errors.Is(err, conduit.ErrInvalidConstraint) || errors.Is(err, conduit.ErrPermissionDenied):
			res.MFAUnknown = "user.search's mfa constraint is admin-only, and the bot's account is not an administrator: " + err.Error()
		case err != nil:
			return fmt.Errorf("suggest: read who has MFA: %w", err)
		}
		for _, u := range withMFA {
			mfa[u.PHID] = true
		}
	}
	for i := range res.Suggestions {
		s := &res.Suggestions[i]
		if !s.Visible {
			continue
		}
		tally(s, members[s.PHID], accounts, mfa, res.MFAUnknown == "")
	}
	return nil
}

// tally counts one project's members by kind of account.
func tally(s *Suggestion, members []string, accounts map[string]conduit.User, mfa map[string]bool, mfaKnown bool) {
	s.Members = len(members)
	with := 0
	for _, m := range members {
		u, ok := accounts[m]
		switch {
		case !ok:
			// Not a user the bot can read: counted as a member only.
		case u.IsDisabled():
			s.Disabled++
		case u.IsBot() || u.IsMailingList():
			s.Bots++
		default:
			s.Enabled++
			if mfa[m] {
				with++
			}
		}
	}
	if mfaKnown {
		s.WithMFA = &with
	}
}
