package conduit

import (
	"context"
	"fmt"
	"strings"

	"github.com/uber/gonduit/requests"
)

// projectRow is one project.search row.
type projectRow struct {
	ID     int    `json:"id"`
	PHID   string `json:"phid"`
	Fields struct {
		Name   string `json:"name"`
		Slug   string `json:"slug"`
		Policy struct {
			View string `json:"view"`
			Edit string `json:"edit"`
			Join string `json:"join"`
		} `json:"policy"`
		// Icon is the project's icon: its key ("policy") and Font
		// Awesome class ("fa-lock").
		Icon phpObject[struct {
			Key  string `json:"key"`
			Icon string `json:"icon"`
		}] `json:"icon"`
	} `json:"fields"`
	Attachments phpObject[struct {
		Members *struct {
			Members []phidField `json:"members"`
		} `json:"members"`
	}] `json:"attachments"`
}

func (r projectRow) project() Project {
	p := Project{
		ID:   r.ID,
		PHID: r.PHID,
		Name: r.Fields.Name,
		Slug: r.Fields.Slug,
		Policy: ProjectPolicy{
			View: r.Fields.Policy.View,
			Edit: r.Fields.Policy.Edit,
			Join: r.Fields.Policy.Join,
		},
	}
	if m := r.Attachments.V.Members; m != nil {
		p.MemberPHIDs = make([]string, 0, len(m.Members))
		for _, mem := range m.Members {
			p.MemberPHIDs = append(p.MemberPHIDs, mem.PHID)
		}
	}
	return p
}

// NormalizeSlug turns a project name or hashtag as people write it
// ("#acl*security", "WMF-NDA", "Security Team") into the slug Phorge
// stores ("acl_security", "wmf-nda", "security_team").
func NormalizeSlug(name string) string {
	s := strings.TrimSpace(name)
	s = strings.TrimPrefix(s, "#")
	s = strings.ToLower(s)
	return strings.NewReplacer("*", "_", " ", "_").Replace(s)
}

// ResolveProjects finds projects by name or slug ("WMF-NDA", "acl*security",
// "acl_security", "#acl_security") with project.search's slugs constraint and
// returns them keyed by the name as given. Names that match nothing, or
// projects the viewer cannot see, are absent from the map.
func (c *Client) ResolveProjects(ctx context.Context, names []string, withMembers bool) (map[string]Project, error) {
	out := make(map[string]Project)
	var slugs []string
	for _, n := range names {
		if s := NormalizeSlug(n); s != "" {
			slugs = append(slugs, s)
		}
	}
	slugs = dedupe(slugs)
	if len(slugs) == 0 {
		return out, nil
	}
	byPHID := make(map[string]Project)
	bySlug := make(map[string]string) // normalised slug sent -> project PHID
	for _, chunk := range chunks(slugs, maxPageSize) {
		req := &searchRequest{Constraints: map[string]any{"slugs": chunk}}
		if withMembers {
			req.Attachments = map[string]bool{"members": true}
		}
		err := searchAll(ctx, c, "project.search", req, func(p *searchPage[projectRow]) (bool, error) {
			for _, r := range p.Data {
				byPHID[r.PHID] = r.project()
				// A project's primary slug also resolves names the slugMap
				// might not echo.
				if _, ok := bySlug[r.Fields.Slug]; !ok && r.Fields.Slug != "" {
					bySlug[r.Fields.Slug] = r.PHID
				}
			}
			// The slugMap also covers secondary slugs (hashtags), so it wins.
			for in, e := range p.Maps.V.SlugMap.V {
				bySlug[NormalizeSlug(in)] = e.ProjectPHID
			}
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		if phid, ok := bySlug[NormalizeSlug(n)]; ok {
			if p, ok := byPHID[phid]; ok {
				out[n] = p
			}
		}
	}
	return out, nil
}

// ProjectNames returns the names of the projects the token's user can
// see, at most max of them (project.search pages of 100, newest first).
// It is for did-you-mean on an unknown group, so a partial list is fine.
func (c *Client) ProjectNames(ctx context.Context, max int) ([]string, error) {
	var out []string
	err := searchAll(ctx, c, "project.search", &searchRequest{}, func(p *searchPage[projectRow]) (bool, error) {
		for _, r := range p.Data {
			out = append(out, r.Fields.Name)
		}
		return len(out) < max, nil
	})
	if len(out) > max {
		out = out[:max]
	}
	return out, err
}

// ListedProject is one project of a listing of them all (ListProjects):
// its fields and its icon, without members.
type ListedProject struct {
	Project
	// IconKey is the project's icon key ("policy" is the lock of the
	// default icon set); IconClass is its Font Awesome class ("fa-lock"),
	// which an install that defines its own icons keeps for a lock.
	IconKey, IconClass string
}

// ListProjects returns the projects the token's user can see, newest
// first, without members: at most max of them (0: all), read in pages of
// 100.
func (c *Client) ListProjects(ctx context.Context, max int) ([]ListedProject, error) {
	var out []ListedProject
	err := searchAll(ctx, c, "project.search", &searchRequest{}, func(p *searchPage[projectRow]) (bool, error) {
		for _, r := range p.Data {
			out = append(out, ListedProject{Project: r.project(), IconKey: r.Fields.Icon.V.Key, IconClass: r.Fields.Icon.V.Icon})
		}
		return max == 0 || len(out) < max, nil
	})
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out, err
}

// ProjectsByPHID returns the projects with the given PHIDs that the viewer can see.
func (c *Client) ProjectsByPHID(ctx context.Context, phids []string, withMembers bool) ([]Project, error) {
	var out []Project
	for _, chunk := range chunks(dedupe(phids), maxPageSize) {
		req := &searchRequest{Constraints: map[string]any{"phids": chunk}}
		if withMembers {
			req.Attachments = map[string]bool{"members": true}
		}
		err := searchAll(ctx, c, "project.search", req, func(p *searchPage[projectRow]) (bool, error) {
			for _, r := range p.Data {
				out = append(out, r.project())
			}
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// editRequest is the params of a *.edit call.
type editRequest struct {
	requests.Request
	ObjectIdentifier string `json:"objectIdentifier,omitempty"`
	Transactions     []Edit `json:"transactions"`
}

// editAnswer is what *.edit returns.
type editAnswer struct {
	Object struct {
		ID   int    `json:"id"`
		PHID string `json:"phid"`
	} `json:"object"`
	Transactions []phidField `json:"transactions"`
}

// edit sends an *.edit call. Writes are not retried after a transport
// failure (the server may have applied them); a 429 is.
func (c *Client) edit(ctx context.Context, method string, req *editRequest) (EditResult, error) {
	var a editAnswer
	if err := c.call(ctx, method, req, &a); err != nil {
		return EditResult{}, err
	}
	if a.Object.PHID == "" {
		return EditResult{}, fmt.Errorf("conduit %s: answer has no object", method)
	}
	res := EditResult{ObjectID: a.Object.ID, ObjectPHID: a.Object.PHID, TransactionPHIDs: []string{}}
	for _, t := range a.Transactions {
		res.TransactionPHIDs = append(res.TransactionPHIDs, t.PHID)
	}
	return res, nil
}

// EditProjectMembers adds and removes project members with project.edit.
// Every PHID must be a user PHID: the server accepts anything.
//
// The arguments are checked before anything is sent: projectPHID must be a
// project PHID, every member a PHID-USER-, and no PHID may be both added and
// removed (the server would turn that into a removal); a violation returns
// an error matching ErrInvalidArgument. With nothing to add or remove it
// returns a zero EditResult without calling.
func (c *Client) EditProjectMembers(ctx context.Context, projectPHID string, add, remove []string) (EditResult, error) {
	const method = "project.edit"
	if !strings.HasPrefix(projectPHID, "PHID-PROJ-") {
		return EditResult{}, fmt.Errorf("conduit %s: %q is not a project PHID: %w", method, projectPHID, ErrInvalidArgument)
	}
	add, remove = dedupe(add), dedupe(remove)
	removing := make(map[string]bool, len(remove))
	for _, p := range remove {
		if !strings.HasPrefix(p, "PHID-USER-") {
			return EditResult{}, fmt.Errorf("conduit %s: member to remove %q is not a user PHID: %w", method, p, ErrInvalidArgument)
		}
		removing[p] = true
	}
	for _, p := range add {
		if !strings.HasPrefix(p, "PHID-USER-") {
			return EditResult{}, fmt.Errorf("conduit %s: member to add %q is not a user PHID: %w", method, p, ErrInvalidArgument)
		}
		if removing[p] {
			return EditResult{}, fmt.Errorf("conduit %s: %s is both added and removed: %w", method, p, ErrInvalidArgument)
		}
	}
	req := &editRequest{ObjectIdentifier: projectPHID}
	if len(add) > 0 {
		req.Transactions = append(req.Transactions, Edit{Type: "members.add", Value: add})
	}
	if len(remove) > 0 {
		req.Transactions = append(req.Transactions, Edit{Type: "members.remove", Value: remove})
	}
	if len(req.Transactions) == 0 {
		return EditResult{}, nil
	}
	return c.edit(ctx, method, req)
}

// EditProjectPolicy sets a project's join, edit or view policy with
// project.edit (transaction types "join", "edit", "view"). The policy is
// sent as given; only the types the bot may set pass.
func (c *Client) EditProjectPolicy(ctx context.Context, projectPHID, which, policy string) (EditResult, error) {
	const method = "project.edit"
	if !strings.HasPrefix(projectPHID, "PHID-PROJ-") {
		return EditResult{}, fmt.Errorf("conduit %s: %q is not a project PHID: %w", method, projectPHID, ErrInvalidArgument)
	}
	switch which {
	case "join", "edit", "view":
	default:
		return EditResult{}, fmt.Errorf("conduit %s: %q is not a policy transaction: %w", method, which, ErrInvalidArgument)
	}
	if strings.TrimSpace(policy) == "" {
		return EditResult{}, fmt.Errorf("conduit %s: empty %s policy: %w", method, which, ErrInvalidArgument)
	}
	return c.edit(ctx, method, &editRequest{ObjectIdentifier: projectPHID, Transactions: []Edit{{Type: which, Value: policy}}})
}
