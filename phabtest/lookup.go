package phabtest

import "strings"

// phidLookup resolves #slug (case-insensitive; "*" must be written "_"),
// @username and task monograms. Names that do not resolve, and objects the
// viewer cannot see, are silently dropped; keys are the names as sent, and
// no match at all is PHP's `[]` (facts 8 and 21).
func (s *Server) phidLookup(c *call) (any, *apiError) {
	raw, _ := c.value("names")
	names, aerr := readStringList("names", raw, false)
	if aerr != nil {
		return nil, aerr
	}
	out := &orderedObject{}
	for _, name := range names {
		if h, ok := s.lookupName(c.viewer, name); ok {
			out.set(name, h)
		}
	}
	return out, nil
}

type handle struct {
	PHID     string `json:"phid"`
	URI      string `json:"uri"`
	TypeName string `json:"typeName"`
	Type     string `json:"type"`
	Name     string `json:"name"`
	FullName string `json:"fullName"`
	Status   string `json:"status"`
}

func (s *Server) lookupName(viewer *user, name string) (handle, bool) {
	switch {
	case strings.HasPrefix(name, "#"):
		p := s.projectBySlug(name[1:])
		if p == nil || !s.canProject(viewer, p, canView) {
			return handle{}, false
		}
		return handle{
			PHID: p.phid, URI: s.URL() + "/tag/" + p.slug + "/", TypeName: "Project", Type: "PROJ",
			Name: p.name, FullName: p.name, Status: "open",
		}, true
	case strings.HasPrefix(name, "@"):
		u := s.userByName(name[1:])
		if u == nil {
			return handle{}, false
		}
		status := "open"
		if u.disabled {
			status = "closed"
		}
		return handle{
			PHID: u.phid, URI: s.userURI(u), TypeName: "User", Type: "USER",
			Name: u.username, FullName: u.username + " (" + u.realName + ")", Status: status,
		}, true
	}
	t := s.taskByMonogram(name)
	if t == nil || !s.canTask(viewer, t, canView) {
		return handle{}, false
	}
	status := "open"
	if isClosedStatus(t.status) {
		status = "closed"
	}
	return handle{
		PHID: t.phid, URI: s.URL() + "/" + t.monogram(), TypeName: "Maniphest Task", Type: "TASK",
		Name: t.monogram(), FullName: t.monogram() + ": " + t.title, Status: status,
	}, true
}

// named are the objects a search may match: those its phids constraint
// names, found by PHID (each once), or else all of them. A search pages a
// long PHID list 100 at a time (a discovery's user.search, a launch's
// read-back of each task it files), and a scan of every object per page
// made the server, not the bot, cost the square of their number; a real
// server finds them by index.
func named[T any](cons map[string]any, all []*T, byPHID map[string]*T) []*T {
	phids, ok := cons["phids"].([]string)
	if !ok {
		return all
	}
	var out []*T
	seen := map[string]bool{}
	for _, p := range phids {
		if x := byPHID[p]; x != nil && !seen[p] {
			seen[p] = true
			out = append(out, x)
		}
	}
	return out
}
