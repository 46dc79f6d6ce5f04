package phabtest

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// ProjectSpec describes a project (an access group) to seed.
type ProjectSpec struct {
	Name string
	// Slug defaults to NormalizeSlug(Name): acl*security → acl_security.
	Slug        string
	Description string
	// Icon is an icon key: "group" (default), "policy", "tag", ...
	Icon string
	// Color is a color key: "blue" (default), "red", "orange", ...
	Color string
	// ViewPolicy, EditPolicy and JoinPolicy default to "users". They take
	// the Policy* constants or a user or project PHID.
	ViewPolicy string
	EditPolicy string
	JoinPolicy string
	// Members are PHIDs, stored as given: like members.add, nothing checks
	// that they are users (fact 30).
	Members []string
	// AuthorPHID is who created it, for transaction.search and feed.query.
	// Empty: the Projects application.
	AuthorPHID string
}

// Project is a seeded project.
type Project struct {
	ID   int
	PHID string
	Name string
	Slug string
}

type project struct {
	id                                 int
	phid, name, slug, description      string
	icon, color                        string
	viewPolicy, editPolicy, joinPolicy string
	members                            []string // in the order they joined
	created, modified                  int64
}

func (p *project) hasMember(phid string) bool { return slices.Contains(p.members, phid) }

func (p *project) public() Project {
	return Project{ID: p.id, PHID: p.phid, Name: p.name, Slug: p.slug}
}

// NormalizeSlug turns a project name into its slug the way Phorge does for
// hashtags: lower case, and runs of spaces and punctuation such as * and #
// become one "_" (acl*security → acl_security, fact 18).
func NormalizeSlug(name string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		if unicode.IsSpace(r) || strings.ContainsRune("*#?&%'\"<>()[]{}|\\/,;:!$^+=~`@", r) {
			if !under {
				b.WriteByte('_')
				under = true
			}
			continue
		}
		under = r == '_'
		b.WriteRune(r)
	}
	return strings.Trim(b.String(), "_")
}

// AddProject creates a project. It panics if the name or slug is taken.
func (s *Server) AddProject(spec ProjectSpec) Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	if spec.Slug == "" {
		spec.Slug = NormalizeSlug(spec.Name)
	}
	if spec.Name == "" || s.projectBySlug(spec.Slug) != nil {
		panic(fmt.Sprintf("phabtest: AddProject: name %q or slug %q is empty or taken", spec.Name, spec.Slug))
	}
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	now := s.now()
	p := &project{
		id:          len(s.projects) + 1,
		phid:        s.newPHID("PROJ"),
		name:        spec.Name,
		slug:        spec.Slug,
		description: spec.Description,
		icon:        def(spec.Icon, "group"),
		color:       def(spec.Color, "blue"),
		viewPolicy:  def(spec.ViewPolicy, PolicyUsers),
		editPolicy:  def(spec.EditPolicy, PolicyUsers),
		joinPolicy:  def(spec.JoinPolicy, PolicyUsers),
		created:     now,
		modified:    now,
	}
	seen := map[string]bool{}
	for _, m := range spec.Members {
		if !seen[m] {
			seen[m] = true
			p.members = append(p.members, m)
		}
	}
	s.projects = append(s.projects, p)
	s.projByID[p.phid] = p

	// The creation history in the order transaction.search shows it
	// (transaction.search.project.acl-security.json): name, slugs, icon,
	// color and join policy come back with type null (fact 33). Seeded
	// members get no transaction, as in the lab.
	author := def(spec.AuthorPHID, "PHID-APPS-PhabricatorProjectApplication")
	entries := []xactEntry{{typ: "create"}, {nullType: true}}
	if p.description != "" {
		entries = append(entries, xactEntry{typ: "core:customfield", fields: map[string]any{
			"std:project:internal:description": oldNew(nil, p.description),
		}})
	}
	entries = append(entries,
		xactEntry{nullType: true}, xactEntry{nullType: true}, xactEntry{nullType: true},
		xactEntry{typ: "core:view-policy", fields: oldNew(nil, p.viewPolicy)},
		xactEntry{typ: "core:edit-policy", fields: oldNew(nil, p.editPolicy)},
		xactEntry{nullType: true},
	)
	xs := s.addXacts(p.phid, "PROJ", author, entries)
	s.addStory(author, p.phid, xs, fmt.Sprintf("%s created %s.", s.handleName(author), p.name))
	return p.public()
}

// AddMembers adds members to a project without any policy check, for
// seeding.
func (s *Server) AddMembers(projectPHID string, phids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject("AddMembers", projectPHID)
	for _, m := range phids {
		if !p.hasMember(m) {
			p.members = append(p.members, m)
		}
	}
}

// RemoveMembers removes members from a project without any policy check.
func (s *Server) RemoveMembers(projectPHID string, phids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject("RemoveMembers", projectPHID)
	p.members = slices.DeleteFunc(p.members, func(m string) bool { return slices.Contains(phids, m) })
}

// Members returns a project's member PHIDs in the order they joined, or
// nil if there is no such project.
func (s *Server) Members(projectPHID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projByID[projectPHID]
	if p == nil {
		return nil
	}
	return slices.Clone(p.members)
}

func (s *Server) mustProject(op, phid string) *project {
	p := s.projByID[phid]
	if p == nil {
		panic(fmt.Sprintf("phabtest: %s: no project %q", op, phid))
	}
	return p
}

func (s *Server) projectBySlug(slug string) *project {
	for _, p := range s.projects {
		if strings.EqualFold(p.slug, slug) {
			return p
		}
	}
	return nil
}

// nameTokens splits a project name the way the name constraint's
// token-prefix match does: "-" separates tokens, "*" does not, so
// "security" finds Security-Team but not acl*security (fact 18).
func nameTokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune("-()[]", r)
	})
}

func nameMatches(name, query string) bool {
	have := nameTokens(name)
	for _, q := range nameTokens(query) {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.HasPrefix(h, q) }) {
			return false
		}
	}
	return true
}

type projectRow struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	PHID        string         `json:"phid"`
	Fields      projectFields  `json:"fields"`
	Attachments map[string]any `json:"attachments"`
}

type projectFields struct {
	Name         string            `json:"name"`
	Slug         string            `json:"slug"`
	Subtype      string            `json:"subtype"`
	Milestone    any               `json:"milestone"`
	Depth        int               `json:"depth"`
	Parent       any               `json:"parent"`
	Icon         map[string]string `json:"icon"`
	Color        map[string]string `json:"color"`
	Status       string            `json:"status"`
	SpacePHID    any               `json:"spacePHID"`
	DateCreated  int64             `json:"dateCreated"`
	DateModified int64             `json:"dateModified"`
	Policy       map[string]string `json:"policy"`
	Description  string            `json:"description"`
}

var projectIcons = map[string][2]string{
	"group":  {"Group", "fa-users"},
	"policy": {"Policy", "fa-lock"},
	"tag":    {"Tag", "fa-tags"},
	"people": {"People", "fa-users"},
}

func (p *project) fields() projectFields {
	icon, ok := projectIcons[p.icon]
	if !ok {
		icon = [2]string{strings.ToUpper(p.icon[:1]) + p.icon[1:], "fa-" + p.icon}
	}
	return projectFields{
		Name: p.name, Slug: p.slug, Subtype: "default", Depth: 0,
		Icon:         map[string]string{"key": p.icon, "name": icon[0], "icon": icon[1]},
		Color:        map[string]string{"key": p.color, "name": strings.ToUpper(p.color[:1]) + p.color[1:]},
		Status:       "active",
		DateCreated:  p.created,
		DateModified: p.modified,
		Policy:       map[string]string{"view": p.viewPolicy, "edit": p.editPolicy, "join": p.joinPolicy},
		Description:  p.description,
	}
}

func (s *Server) projectSearch(c *call) (any, *apiError) {
	queryKey, aerr := c.queryKey()
	if aerr != nil {
		return nil, aerr
	}
	// "members", not "memberPHIDs" (fact 19); no "names" (fact 18).
	cons, aerr := c.constraints(map[string]constraintKind{
		"ids": cInts, "phids": cStrings, "slugs": cStrings, "name": cString, "members": cStrings,
	})
	if aerr != nil {
		return nil, aerr
	}
	att, aerr := c.attachments("members", "watchers", "ancestors")
	if aerr != nil {
		return nil, aerr
	}
	order, rawOrder, aerr := c.order(map[string]rowOrder{
		"name": {byString: true}, "newest": {}, "oldest": {idAsc: true},
	}, rowOrder{byString: true}) // default: by name, case-insensitive (fact 13)
	if aerr != nil {
		return nil, aerr
	}
	p, aerr := c.pageParams("project.id")
	if aerr != nil {
		return nil, aerr
	}
	slugMap := map[string]any{}
	var rows []*project
	for _, pr := range s.projects {
		// Invisible projects are omitted, for admins too (fact 22).
		if !s.canProject(c.viewer, pr, canView) || !s.projectMatches(pr, cons, slugMap) {
			continue
		}
		rows = append(rows, pr)
	}
	key := func(pr *project) sortKey { return sortKey{s: strings.ToLower(pr.name), id: pr.id} }
	keys := sortRows(rows, order, key)
	lookup := func(id int) (sortKey, bool) {
		for _, pr := range s.projects {
			if pr.id == id && s.canProject(c.viewer, pr, canView) {
				return key(pr), true
			}
		}
		return sortKey{}, false
	}
	idx, cur, aerr := paginate(keys, order, p, lookup, "PhabricatorProjectQuery")
	if aerr != nil {
		return nil, aerr
	}
	data := []projectRow{}
	for _, i := range idx {
		pr := rows[i]
		row := projectRow{ID: pr.id, Type: "PROJ", PHID: pr.phid, Fields: pr.fields(), Attachments: map[string]any{}}
		if att["members"] {
			// Complete and unpaged, bogus PHIDs included (fact 20).
			members := []map[string]string{}
			for _, m := range slices.Backward(pr.members) {
				members = append(members, map[string]string{"phid": m})
			}
			row.Attachments["members"] = map[string]any{"members": members}
		}
		if att["watchers"] {
			row.Attachments["watchers"] = map[string]any{"watchers": []any{}}
		}
		if att["ancestors"] {
			row.Attachments["ancestors"] = map[string]any{"ancestors": []any{}}
		}
		data = append(data, row)
	}
	return newSearchResult(data, map[string]any{"slugMap": slugMap}, queryKey, cur, rawOrder), nil
}

// projectMatches applies the constraints; slug hits go into slugMap keyed
// by the string as sent (fact 18).
func (s *Server) projectMatches(p *project, cons map[string]any, slugMap map[string]any) bool {
	for k, v := range cons {
		var ok bool
		switch k {
		case "ids":
			ok = slices.Contains(v.([]int), p.id)
		case "phids":
			ok = slices.Contains(v.([]string), p.phid)
		case "slugs":
			for _, in := range v.([]string) {
				if strings.EqualFold(NormalizeSlug(in), p.slug) {
					ok = true
					slugMap[in] = map[string]string{"slug": p.slug, "projectPHID": p.phid}
				}
			}
		case "name":
			ok = nameMatches(p.name, v.(string))
		case "members":
			ok = slices.ContainsFunc(v.([]string), p.hasMember)
		}
		if !ok {
			return false
		}
	}
	return true
}

var projectEditTypes = []string{
	"parent", "milestone", "subtype", "name", "slugs", "status", "icon", "color", "image", "locked",
	"description", "view", "edit", "join", "members.add", "members.remove", "members.set",
	"watchers.add", "watchers.remove", "watchers.set", "mfa",
}

// resolveProject loads the project an edit names. PHIDs and IDs of
// invisible projects raise a (Can View) policy error; hashtags go through
// the name lookup, which just finds nothing.
func (s *Server) resolveProject(viewer *user, ident any) (*project, *apiError) {
	text, kind, ok := classifyIdent(ident)
	if !ok {
		return nil, coreError("Parameter \"objectIdentifier\" must be a string or an integer.")
	}
	var found *project
	for _, p := range s.projects {
		switch kind {
		case identID:
			if fmt.Sprint(p.id) == text {
				found = p
			}
		case identPHID:
			if p.phid == text {
				found = p
			}
		default:
			if strings.HasPrefix(text, "#") && strings.EqualFold(p.slug, text[1:]) {
				found = p
			}
		}
	}
	if found == nil || (kind == identName && !s.canProject(viewer, found, canView)) {
		return nil, errObjectIdentifier(kind, text)
	}
	if !s.canProject(viewer, found, canView) {
		return nil, s.projectDenied(viewer, found, canView) // as error.project.edit.invisible-project
	}
	return found, nil
}

func (s *Server) projectEdit(c *call) (any, *apiError) {
	txs, aerr := c.editTransactions(projectEditTypes)
	if aerr != nil {
		return nil, aerr
	}
	ident, ok := c.value("objectIdentifier")
	if !ok {
		return nil, coreError("phabtest: project.edit without objectIdentifier (creating projects) is not implemented")
	}
	p, aerr := s.resolveProject(c.viewer, ident)
	if aerr != nil {
		return nil, aerr
	}
	actor := c.viewer
	policies, txs := splitPolicyEdits(txs)
	if len(policies) > 0 {
		return s.projectPolicyEdit(c, p, policies, txs)
	}
	adds, removes, aerr := s.readMemberEdits(p, txs)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := s.checkMembersEditable(actor, p, adds, removes); aerr != nil {
		return nil, aerr
	}
	final, added, removed := memberChanges(p, adds, removes)
	var xs []*xact
	if len(added)+len(removed) > 0 {
		p.members = final
		p.modified = s.now()
		// One core:edge transaction, which transaction.search shows with
		// type null (fact 33).
		xs = s.addXacts(p.phid, "PROJ", actor.phid, []xactEntry{{nullType: true}})
		var text []string
		if len(added) > 0 {
			text = append(text, fmt.Sprintf("%s added members for %s: %s.", actor.username, p.name, s.handleNames(added)))
		}
		if len(removed) > 0 {
			text = append(text, fmt.Sprintf("%s removed members for %s: %s.", actor.username, p.name, s.handleNames(removed)))
		}
		s.addStory(actor.phid, p.phid, xs, strings.Join(text, " "))
	}
	return s.finishEdit(c, p.id, p.phid, false, txs, xs), nil
}

// splitPolicyEdits splits project.edit's view, edit and join transactions
// from the others.
func splitPolicyEdits(txs []txSpec) (policies, rest []txSpec) {
	for _, tx := range txs {
		switch tx.typ {
		case "view", "edit", "join":
			policies = append(policies, tx)
		default:
			rest = append(rest, tx)
		}
	}
	return policies, rest
}

// projectPolicyEdit applies project.edit's policy transactions: they need
// the edit policy. A view policy comes back in transaction.search as
// core:view-policy, an edit policy as core:edit-policy, a join policy
// with type null (fact 33). Policies and members are not mixed in one
// call here (phabtest's limit, not Phorge's).
func (s *Server) projectPolicyEdit(c *call, p *project, policies, rest []txSpec) (any, *apiError) {
	if len(rest) > 0 {
		return nil, coreError("phabtest: project.edit mixing policy and other transactions is not implemented")
	}
	if !s.canProject(c.viewer, p, canEdit) {
		return nil, s.projectDenied(c.viewer, p, canEdit)
	}
	var entries []xactEntry
	for i, tx := range policies {
		v, aerr := readString(fmt.Sprintf("transactions.%d.value", i), tx.value)
		if aerr != nil {
			return nil, aerr
		}
		cur, typ := &p.viewPolicy, "core:view-policy"
		switch tx.typ {
		case "edit":
			cur, typ = &p.editPolicy, "core:edit-policy"
		case "join":
			cur, typ = &p.joinPolicy, ""
		}
		if *cur == v {
			continue
		}
		if typ == "" {
			entries = append(entries, xactEntry{nullType: true})
		} else {
			entries = append(entries, xactEntry{typ: typ, fields: oldNew(*cur, v)})
		}
		*cur = v
	}
	var xs []*xact
	if len(entries) > 0 {
		p.modified = s.now()
		xs = s.addXacts(p.phid, "PROJ", c.viewer.phid, entries)
		s.addStory(c.viewer.phid, p.phid, xs, fmt.Sprintf("%s changed the policies of %s.", c.viewer.username, p.name))
	}
	return s.finishEdit(c, p.id, p.phid, false, policies, xs), nil
}

// readMemberEdits reads project.edit's members.* transactions into the
// PHIDs they ask to add and to remove.
func (s *Server) readMemberEdits(p *project, txs []txSpec) (adds, removes []string, _ *apiError) {
	for i, tx := range txs {
		switch tx.typ {
		case "members.add", "members.remove", "members.set":
		default:
			return nil, nil, coreError("phabtest: project.edit transaction type %q is not implemented", tx.typ)
		}
		vals, aerr := readStringList(fmt.Sprintf("transactions.%d.value", i), tx.value, false)
		if aerr != nil {
			return nil, nil, aerr
		}
		phids, aerr := s.memberPHIDs(vals)
		if aerr != nil {
			return nil, nil, aerr
		}
		switch tx.typ {
		case "members.set":
			set := setOf(phids)
			for _, m := range p.members {
				if !set[m] {
					removes = append(removes, m)
				}
			}
			adds = append(adds, phids...)
		case "members.add":
			adds = append(adds, phids...)
		default:
			removes = append(removes, phids...)
		}
	}
	return adds, removes, nil
}

// memberPHIDs resolves a members transaction's values. members.add
// validates nothing: any PHID-looking string is taken as is, usernames
// are resolved (fact 30).
func (s *Server) memberPHIDs(vals []string) ([]string, *apiError) {
	var phids []string
	for _, v := range vals {
		if !strings.HasPrefix(v, "PHID-") {
			u := s.userByName(strings.TrimPrefix(v, "@"))
			if u == nil {
				return nil, errValidation(fmt.Sprintf("Member %q is not a valid user.", v))
			}
			v = u.phid
		}
		phids = append(phids, v)
	}
	return phids, nil
}

// checkMembersEditable refuses a members edit the actor may not make.
// Adding yourself needs the join policy, adding or removing anyone else
// the edit policy (fact 32); leaving needs neither. The check is on what
// was asked, not on its effect, so a no-op members.remove of a non-member
// is a permission probe (NOTES, "What follows").
func (s *Server) checkMembersEditable(actor *user, p *project, adds, removes []string) *apiError {
	needEdit, needJoin := false, false
	for _, m := range adds {
		if m == actor.phid {
			needJoin = true
		} else {
			needEdit = true
		}
	}
	for _, m := range removes {
		if m != actor.phid {
			needEdit = true
		}
	}
	if needEdit && !s.canProject(actor, p, canEdit) {
		return s.projectDenied(actor, p, canEdit)
	}
	if needJoin && !s.canProject(actor, p, canJoin) {
		return s.projectDenied(actor, p, canJoin)
	}
	return nil
}

// memberChanges returns p's members after adds and removes, and who that
// adds and removes in effect. Removals win over additions in the same
// call: remove + add of one user is a net removal (fact 31).
//
// By set, as a server does by index: a group of 50,000 members must not
// make one edit cost billions of comparisons.
func memberChanges(p *project, adds, removes []string) (final, added, removed []string) {
	final = slices.Clone(p.members)
	inFinal := setOf(final)
	for _, m := range adds {
		if !inFinal[m] {
			inFinal[m] = true
			final = append(final, m)
		}
	}
	gone := setOf(removes)
	final = slices.DeleteFunc(final, func(m string) bool { return gone[m] })
	was, is := setOf(p.members), setOf(final)
	for _, m := range final {
		if !was[m] {
			added = append(added, m)
		}
	}
	for _, m := range p.members {
		if !is[m] {
			removed = append(removed, m)
		}
	}
	return final, added, removed
}

// setOf is the set of ss.
func setOf(ss []string) map[string]bool {
	out := make(map[string]bool, len(ss))
	for _, x := range ss {
		out[x] = true
	}
	return out
}
