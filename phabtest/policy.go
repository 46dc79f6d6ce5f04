package phabtest

import (
	"fmt"
	"strings"
)

// Policy values a Phorge object accepts besides a user or project PHID.
const (
	PolicyPublic      = "public"
	PolicyUsers       = "users"
	PolicyAdmin       = "admin"
	PolicyNoOne       = "no-one"
	PolicySubscribers = "obj.subscriptions.subscribers"
	PolicyMembers     = "obj.project.members"
)

// capability is what a policy check is for.
type capability int

const (
	canView capability = iota
	canEdit
	canJoin
)

func (c capability) label() string {
	return [...]string{"Can View", "Can Edit", "Can Join"}[c]
}

func (c capability) verb() string {
	return [...]string{"view", "edit", "join"}[c]
}

// matchPolicy reports whether u satisfies policy on obj (a *task or a
// *project). There is no administrator override anywhere: an admin is not
// omnipotent (fact 22). Unknown policy strings match no one, which is why
// they produce the "would no longer allow you to view" error (fact 25).
func (s *Server) matchPolicy(u *user, policy string, obj any) bool {
	if u == nil {
		return policy == PolicyPublic
	}
	switch policy {
	case PolicyPublic, PolicyUsers:
		return true
	case PolicyAdmin:
		return u.admin
	case PolicyNoOne:
		return false
	case PolicySubscribers:
		t, ok := obj.(*task)
		return ok && s.subscribed(u.phid, t)
	case PolicyMembers:
		p, ok := obj.(*project)
		return ok && p.hasMember(u.phid)
	}
	switch {
	case strings.HasPrefix(policy, "PHID-PROJ-"):
		p := s.projByID[policy]
		return p != nil && p.hasMember(u.phid)
	case strings.HasPrefix(policy, "PHID-USER-"):
		return policy == u.phid
	}
	return false
}

// subscribed reports whether phid is a subscriber of t, directly or as a
// member of a subscribed project.
func (s *Server) subscribed(phid string, t *task) bool {
	for _, sub := range t.subscribers {
		if sub == phid {
			return true
		}
		if p := s.projByID[sub]; p != nil && p.hasMember(phid) {
			return true
		}
	}
	return false
}

// canTask reports whether u may view or edit t. The assignee of a task can
// always view and edit it. Interacting (commenting) follows the view
// policy, as in Phorge's ManiphestTask::getPolicy.
func (s *Server) canTask(u *user, t *task, c capability) bool {
	if u != nil && t.ownerPHID != "" && t.ownerPHID == u.phid {
		return true
	}
	if c == canView {
		return s.matchPolicy(u, t.viewPolicy, t)
	}
	return s.matchPolicy(u, t.editPolicy, t)
}

// canProject reports whether u may view, edit or join p. Members can
// always view it; whoever can edit it can always join it.
func (s *Server) canProject(u *user, p *project, c capability) bool {
	switch c {
	case canView:
		return (u != nil && p.hasMember(u.phid)) || s.matchPolicy(u, p.viewPolicy, p)
	case canEdit:
		return s.matchPolicy(u, p.editPolicy, p)
	default:
		return s.canProject(u, p, canEdit) || s.matchPolicy(u, p.joinPolicy, p)
	}
}

// explainPolicy is the sentence a denial gives for policy.
func (s *Server) explainPolicy(policy string) string {
	switch policy {
	case PolicyPublic:
		return "This object is public."
	case PolicyUsers:
		return "Logged in users can take this action."
	case PolicyAdmin:
		return "Administrators can take this action."
	case PolicyNoOne:
		return "By default, no one can take this action."
	case PolicySubscribers:
		return "Subscribers can take this action."
	case PolicyMembers:
		return "Project members can take this action."
	}
	if p := s.projByID[policy]; p != nil {
		return fmt.Sprintf("Members of the project %q can take this action.", p.name)
	}
	if u := s.userByID[policy]; u != nil {
		return fmt.Sprintf("%q can take this action.", u.username)
	}
	return fmt.Sprintf("This object has an unknown or invalid policy setting (%q).", policy)
}

// policyDenied is a policy exception: ERR-CONDUIT-CORE with the "You Shall
// Not Pass" text, which has no dedicated error code (fact 5). name is the
// object's handle name (#slug, T10), or "Restricted ..." when the viewer
// cannot see it.
func policyDenied(name string, c capability, explanation string) *apiError {
	return coreError("[You Shall Not Pass: %s] (%s) You do not have permission to %s this object. // %s",
		name, c.label(), c.verb(), explanation)
}

func (s *Server) taskDenied(u *user, t *task, c capability) *apiError {
	name := "Restricted Maniphest Task"
	if s.canTask(u, t, canView) {
		name = t.monogram()
	}
	policy := t.viewPolicy
	if c == canEdit {
		policy = t.editPolicy
	}
	return policyDenied(name, c, s.explainPolicy(policy)+" The assignee of a task can always view and edit it.")
}

func (s *Server) projectDenied(u *user, p *project, c capability) *apiError {
	name := "Restricted Project"
	if s.canProject(u, p, canView) {
		name = "#" + p.slug
	}
	var expl string
	switch c {
	case canView:
		expl = s.explainPolicy(p.viewPolicy) + " Members of a project can always view it."
	case canEdit:
		expl = s.explainPolicy(p.editPolicy)
	default:
		expl = s.explainPolicy(p.joinPolicy) + " Users who can edit a project can always join it."
	}
	return policyDenied(name, c, expl)
}
