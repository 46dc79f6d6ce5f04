package phabtest

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// UserSpec describes an account to seed.
type UserSpec struct {
	Username string
	RealName string // default: Username
	Email    string // default: Username@phabtest.invalid
	Admin    bool
	Bot      bool
	// MailingList marks a mailing-list account (role "list").
	MailingList bool
	Disabled    bool
	// MFA is the cached enrollment flag the admin-only mfa constraint
	// filters on (fact 15).
	MFA bool
	// Created backdates the account (user.search's dateCreated); zero
	// means the server's clock at AddUser.
	Created time.Time
}

// User is a seeded account and its API token.
type User struct {
	ID       int
	PHID     string
	Username string
	RealName string
	// Token is a valid API token for the account: 32 characters, "api-"
	// prefix (fact 6).
	Token string
}

type user struct {
	id                int
	phid              string
	username          string
	realName          string
	email             string
	admin, bot, list  bool
	disabled, mfa     bool
	created, modified int64
	token             string // the token AddUser handed out
}

type apiToken struct {
	userPHID string
	revoked  bool
}

func (u *user) public() User {
	return User{ID: u.id, PHID: u.phid, Username: u.username, RealName: u.realName, Token: u.token}
}

// AddUser creates an account with a fresh API token. It panics if the
// username is empty or taken.
func (s *Server) AddUser(spec UserSpec) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if spec.Username == "" || s.userByName(spec.Username) != nil {
		panic(fmt.Sprintf("phabtest: AddUser: username %q is empty or taken", spec.Username))
	}
	if spec.RealName == "" {
		spec.RealName = spec.Username
	}
	if spec.Email == "" {
		spec.Email = spec.Username + "@phabtest.invalid"
	}
	now := s.now()
	u := &user{
		id:       len(s.users) + 1,
		phid:     s.newPHID("USER"),
		username: spec.Username,
		realName: spec.RealName,
		email:    spec.Email,
		admin:    spec.Admin,
		bot:      spec.Bot,
		list:     spec.MailingList,
		disabled: spec.Disabled,
		mfa:      spec.MFA,
		created:  now,
		modified: now,
	}
	if !spec.Created.IsZero() {
		u.created, u.modified = spec.Created.Unix(), spec.Created.Unix()
	}
	s.users = append(s.users, u)
	s.userByID[u.phid] = u
	s.userByFold[foldKey(u.username)] = u
	u.token = s.newTokenLocked(u.phid)
	return u.public()
}

// NewToken issues another API token for the user with that PHID.
func (s *Server) NewToken(userPHID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustUser("NewToken", userPHID)
	return s.newTokenLocked(userPHID)
}

func (s *Server) newTokenLocked(userPHID string) string {
	tok := "api-" + s.randomString(28)
	s.tokens[tok] = &apiToken{userPHID: userPHID}
	return tok
}

// RevokeToken makes a token invalid; calls with it get ERR-INVALID-AUTH.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[token]; t != nil {
		t.revoked = true
	}
}

// User returns the account with that username (case-insensitive) and the
// token AddUser issued for it.
func (s *Server) User(username string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByName(username)
	if u == nil {
		return User{}, false
	}
	return u.public(), true
}

// SetMFA sets a user's MFA enrollment.
func (s *Server) SetMFA(userPHID string, enrolled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.mustUser("SetMFA", userPHID)
	u.mfa = enrolled
	u.modified = s.now()
}

// SetDisabled disables or enables a user. A disabled user's tokens stay
// but are refused with "User account is not permitted to use the API."
// (error.disabled-user-token.json). Like user.edit, it makes no feed story
// (fact 35).
func (s *Server) SetDisabled(userPHID string, disabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.mustUser("SetDisabled", userPHID)
	u.disabled = disabled
	u.modified = s.now()
}

func (s *Server) mustUser(op, phid string) *user {
	u := s.userByID[phid]
	if u == nil {
		panic(fmt.Sprintf("phabtest: %s: no user %q", op, phid))
	}
	return u
}

func (s *Server) userByName(name string) *user {
	return s.userByFold[foldKey(name)]
}

// foldKey is name with every rune replaced by the smallest rune of its
// simple case-folding orbit: two names have the same key exactly when
// strings.EqualFold says they are equal, so usernames are found by map,
// as a real server finds them by index, and not by a scan per lookup.
func foldKey(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// roles lists the user's roles in the server's order. user.whoami says
// "agent" where user.search says "bot", and "activated" is missing for
// disabled users (fact 16).
func (u *user) roles(whoami bool) []string {
	var r []string
	if u.disabled {
		r = append(r, "disabled")
	}
	if u.bot {
		if whoami {
			r = append(r, "agent")
		} else {
			r = append(r, "bot")
		}
	}
	if u.list {
		r = append(r, "list")
	}
	if u.admin {
		r = append(r, "admin")
	}
	r = append(r, "verified", "approved")
	if !u.disabled {
		r = append(r, "activated")
	}
	return r
}

func (s *Server) userURI(u *user) string { return s.URL() + "/p/" + u.username + "/" }

func (s *Server) userWhoami(c *call) (any, *apiError) {
	u := c.viewer
	return map[string]any{
		"phid":         u.phid,
		"userName":     u.username,
		"realName":     u.realName,
		"image":        s.URL() + "/file/data/" + strings.ToLower(u.phid[10:]) + "/profile.png",
		"uri":          s.userURI(u),
		"roles":        u.roles(true),
		"primaryEmail": u.email,
	}, nil
}

type userRow struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	PHID        string         `json:"phid"`
	Fields      userFields     `json:"fields"`
	Attachments map[string]any `json:"attachments"`
}

// userFields has no MFA flag, email or booleans: only roles (fact 16).
type userFields struct {
	Username     string            `json:"username"`
	RealName     string            `json:"realName"`
	Roles        []string          `json:"roles"`
	DateCreated  int64             `json:"dateCreated"`
	DateModified int64             `json:"dateModified"`
	Policy       map[string]string `json:"policy"`
}

func (s *Server) userSearch(c *call) (any, *apiError) {
	queryKey, aerr := c.queryKey()
	if aerr != nil {
		return nil, aerr
	}
	spec := map[string]constraintKind{
		"ids": cInts, "phids": cStrings, "usernames": cStrings, "nameLike": cString,
		"isAdmin": cBool, "isDisabled": cBool, "isBot": cBool, "isMailingList": cBool,
		"createdStart": cEpoch, "createdEnd": cEpoch,
	}
	if c.viewer.admin {
		// The mfa constraint is only defined for administrators; for
		// anyone else it is just an invalid key (fact 15).
		spec["mfa"] = cBool
	}
	cons, aerr := c.constraints(spec)
	if aerr != nil {
		return nil, aerr
	}
	if _, aerr := c.attachments("availability"); aerr != nil {
		return nil, aerr
	}
	order, rawOrder, aerr := c.order(map[string]rowOrder{"newest": {}, "oldest": {idAsc: true}}, rowOrder{})
	if aerr != nil {
		return nil, aerr
	}
	p, aerr := c.pageParams("user.id")
	if aerr != nil {
		return nil, aerr
	}
	var rows []*user
	for _, u := range named(cons, s.users, s.userByID) {
		if userMatches(u, cons) {
			rows = append(rows, u)
		}
	}
	keys := sortRows(rows, order, func(u *user) sortKey { return sortKey{id: u.id} })
	idx, cur, aerr := paginate(keys, order, p, nil, "PhabricatorPeopleQuery")
	if aerr != nil {
		return nil, aerr
	}
	data := []userRow{}
	for _, i := range idx {
		u := rows[i]
		edit := PolicyNoOne
		if u.bot || u.list {
			edit = PolicyAdmin
		}
		data = append(data, userRow{
			ID: u.id, Type: "USER", PHID: u.phid,
			Fields: userFields{
				Username: u.username, RealName: u.realName, Roles: u.roles(false),
				DateCreated: u.created, DateModified: u.modified,
				Policy: map[string]string{"view": PolicyPublic, "edit": edit},
			},
			Attachments: map[string]any{},
		})
	}
	return newSearchResult(data, nil, queryKey, cur, rawOrder), nil
}

func userMatches(u *user, cons map[string]any) bool {
	for k, v := range cons {
		var ok bool
		switch k {
		case "ids":
			ok = slices.Contains(v.([]int), u.id)
		case "phids":
			ok = slices.Contains(v.([]string), u.phid)
		case "usernames":
			ok = slices.ContainsFunc(v.([]string), func(n string) bool { return strings.EqualFold(n, u.username) })
		case "nameLike":
			q := strings.ToLower(v.(string))
			ok = strings.Contains(strings.ToLower(u.username), q) || strings.Contains(strings.ToLower(u.realName), q)
		case "isAdmin":
			ok = u.admin == v.(bool)
		case "isDisabled":
			ok = u.disabled == v.(bool)
		case "isBot":
			ok = u.bot == v.(bool)
		case "isMailingList":
			ok = u.list == v.(bool)
		case "mfa":
			ok = u.mfa == v.(bool)
		case "createdStart":
			ok = u.created >= v.(int64)
		case "createdEnd":
			ok = u.created <= v.(int64)
		}
		if !ok {
			return false
		}
	}
	return true
}

// order reads the order parameter against the builtin orders of a method.
// It returns the order to use and the raw value to echo in cursor.order
// (null when none was given).
func (c *call) order(builtin map[string]rowOrder, def rowOrder) (rowOrder, any, *apiError) {
	raw, ok := c.value("order")
	if !ok {
		return def, nil, nil
	}
	name, _ := raw.(string)
	o, ok := builtin[name]
	if !ok {
		return def, nil, coreError("Order %q is not a valid order for this query. Valid orders are: %s.", fmt.Sprint(raw), strings.Join(sortedKeys(builtin), ", "))
	}
	return o, raw, nil
}

// sortRows sorts rows in place by order and returns their keys.
func sortRows[T any](rows []T, order rowOrder, key func(T) sortKey) []sortKey {
	slices.SortStableFunc(rows, func(a, b T) int { return order.compare(key(a), key(b)) })
	keys := make([]sortKey, len(rows))
	for i, r := range rows {
		keys[i] = key(r)
	}
	return keys
}
