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
