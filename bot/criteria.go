package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// Reason labels used in findings and texts: the criteria's names, as
// state.Finding.Reasons records them.
const (
	reasonMFA       = string(campaigns.CriterionMFA)
	reasonDisabled  = string(campaigns.CriterionDisabled)
	reasonInactive  = string(campaigns.CriterionInactive)
	reasonReconfirm = string(campaigns.CriterionReconfirm)
	reasonList      = string(campaigns.CriterionList)
)

// activitySource tells when members last acted themselves: for each user,
// the newest feed story they authored within window. Stories that only
// reference a user, and stories the bot's own writes caused, do not count.
// A user with no such story is absent from the map. The real one reads
// feed.query with a cache (see the activity scanner); tests use a fake.
type activitySource interface {
	LastActivity(ctx context.Context, users []string, window time.Duration) (map[string]time.Time, error)
}

// scopedActivitySource is an activitySource that also honours a
// campaign's activity_scope: only stories about objects tagged with one of
// projectPHIDs count. A campaign with a scope refuses to run on a source
// that cannot honour it, rather than count activity it was told not to.
type scopedActivitySource interface {
	activitySource
	LastActivityIn(ctx context.Context, users []string, window time.Duration, projectPHIDs []string) (map[string]time.Time, error)
}

// memberLedger remembers when the bot first saw each member of a group:
// Conduit cannot say when someone joined a project (NOTES fact 33).
// RecordMembersSeen returns, for each of members, when it was first seen
// (now for those seen for the first time). state.Store provides it once
// the activity scanner's part lands; until then Options.MembersSeen, or
// no ledger (then nobody is protected as a newcomer).
type memberLedger interface {
	RecordMembersSeen(groupPHID string, members []string, now time.Time) (map[string]time.Time, error)
}

// criterion is one audit rule, and everything the bot knows about it: how
// discovery finds the members that fail it, how one user is re-checked
// live (drift, claims, before a removal), and whether a reply can meet it.
// Texts come from the templates, which branch on the criterion's name.
type criterion struct {
	reason string
	// conversation reports whether the rule is about something the user
	// must do, and so needs them told and able to act. A disabled account
	// can do nothing: only criteria without a conversation (disabled,
	// list) flag one, and it goes on the team's task.
	conversation bool
	// keptByReply reports whether the user's own reply meets the rule:
	// replyKeeps says which replies.
	keptByReply bool
	// keptByApprover reports whether an approver's "!keep @user" meets it.
	keptByApprover bool
	// find returns the members that fail the rule (discovery).
	find func(ctx context.Context, x *critEnv, members []string) (map[string]conduit.User, error)
	// failing returns which of users fail the rule now, ignoring keeps
	// (meets applies those). The user record is there when the answer
	// carries one (roles), else zero.
	failing func(ctx context.Context, x *critEnv, users []string) (map[string]conduit.User, error)
}

// criteria is the table of every criterion, in the order texts list them.
var criteria = []criterion{
	{
		reason: reasonMFA, conversation: true,
		find: func(ctx context.Context, x *critEnv, members []string) (map[string]conduit.User, error) {
			out, err := x.read.usersMatching(ctx, members, conduit.UserQuery{MFA: ptr(false)})
			if errors.Is(err, conduit.ErrInvalidConstraint) {
				return nil, fmt.Errorf("%w: user.search refused the mfa constraint: it exists only for administrators, so the bot account %s must be an admin", ErrCheckFailed, x.self.Username)
			}
			if err != nil {
				return nil, fmt.Errorf("find members without MFA: %w", err)
			}
			return out, nil
		},
		failing: func(ctx context.Context, x *critEnv, users []string) (map[string]conduit.User, error) {
			out, err := x.read.usersMatching(ctx, users, conduit.UserQuery{MFA: ptr(false)})
			if err != nil {
				return nil, fmt.Errorf("re-check MFA: %w", err)
			}
			return out, nil
		},
	},
	{
		reason: reasonDisabled,
		find: func(ctx context.Context, x *critEnv, members []string) (map[string]conduit.User, error) {
			out, err := x.read.usersMatching(ctx, members, conduit.UserQuery{IsDisabled: ptr(true)})
			if err != nil {
				return nil, fmt.Errorf("find disabled members: %w", err)
			}
			return out, nil
		},
		failing: func(ctx context.Context, x *critEnv, users []string) (map[string]conduit.User, error) {
			out, err := x.read.usersMatching(ctx, users, conduit.UserQuery{IsDisabled: ptr(true)})
			if err != nil {
				return nil, fmt.Errorf("re-check disabled accounts: %w", err)
			}
			return out, nil
		},
	},
	{
		reason: reasonInactive, conversation: true, keptByReply: true, keptByApprover: true,
		find:    findInactive,
		failing: failingInactive,
	},
	{
		// Everyone is affected until they (or an approver) say they still
		// need the access; nothing to ask Phabricator.
		reason: reasonReconfirm, conversation: true, keptByReply: true, keptByApprover: true,
		find: func(ctx context.Context, x *critEnv, members []string) (map[string]conduit.User, error) {
			return x.allUsers(ctx, members)
		},
		failing: everyoneFails,
	},
	{
		// Only an approver can take a user off an offboarding list: the
		// list is someone else's decision.
		reason: reasonList, keptByApprover: true,
		find:    findListed,
		failing: everyoneFails,
	},
}

// criterionOf returns the criterion behind a reason label.
func criterionOf(reason string) (criterion, bool) {
	i := slices.IndexFunc(criteria, func(c criterion) bool { return c.reason == reason })
	if i < 0 {
		return criterion{}, false
	}
	return criteria[i], true
}

// campaignCriteria returns the campaign's criteria in table order.
func campaignCriteria(c *campaigns.Campaign) []criterion {
	var out []criterion
	for _, cr := range criteria {
		if c.Has(campaigns.Criterion(cr.reason)) {
			out = append(out, cr)
		}
	}
	return out
}

func everyoneFails(_ context.Context, _ *critEnv, users []string) (map[string]conduit.User, error) {
	out := map[string]conduit.User{}
	for _, u := range users {
		out[u] = conduit.User{PHID: u}
	}
	return out, nil
}

// critEnv is what the criteria share while they look at one campaign.
type critEnv struct {
	read *reader
	c    *campaigns.Campaign
	self conduit.Whoami
	now  time.Time
	// groups are the audited groups with their members (discovery only).
	groups []groupView
	// scope are the activity_scope projects' PHIDs.
	scope []string
	// users caches every member's account, fetched once when a criterion
	// needs them all.
	users map[string]conduit.User
	// listReport is what the list criterion could not match.
	listReport *ListReport
}

// allUsers returns the accounts of members, in one user.search page per
// 100, asked once per critEnv.
func (x *critEnv) allUsers(ctx context.Context, members []string) (map[string]conduit.User, error) {
	if x.users == nil {
		all, err := x.read.usersMatching(ctx, members, conduit.UserQuery{})
		if err != nil {
			return nil, fmt.Errorf("read the members' accounts: %w", err)
		}
		x.users = all
	}
	out := map[string]conduit.User{}
	for _, m := range members {
		if u, ok := x.users[m]; ok {
			out[m] = u
		}
	}
	return out, nil
}

// lastActivity asks the activity source about users (observe.go).
func (x *critEnv) lastActivity(ctx context.Context, users []string) (map[string]time.Time, error) {
	return x.read.lastActivity(ctx, x.c, x.scope, users)
}

// errNoActivitySource refuses the inactive criterion without a source.
var errNoActivitySource = fmt.Errorf("%w: the inactive criterion needs the activity scanner, and this bot has none configured", ErrInput)

// inactiveDecision is the pure part of the inactive criterion: whether a
// member is flagged, given when their account was created, when the bot
// first saw them in a group it had scanned before (zero: unknown, or
// there at the first scan), and their last own activity (zero: none in
// the window).
func inactiveDecision(now time.Time, window time.Duration, created, joined, last time.Time) (flag bool, why string) {
	edge := now.Add(-window)
	switch {
	case !created.IsZero() && created.After(edge):
		return false, "account created within the window"
	case !joined.IsZero() && joined.After(edge):
		return false, "joined the group within the window"
	case !last.IsZero() && !last.Before(edge):
		return false, "active within the window"
	}
	return true, "no activity of their own within the window"
}

func findInactive(ctx context.Context, x *critEnv, members []string) (map[string]conduit.User, error) {
	if x.read.activity == nil {
		return nil, errNoActivitySource
	}
	users, err := x.allUsers(ctx, members)
	if err != nil {
		return nil, err
	}
	joined, err := x.joined(members)
	if err != nil {
		return nil, err
	}
	window := x.c.Inactivity.Window
	var ask []string
	for _, m := range members {
		if flag, _ := inactiveDecision(x.now, window, users[m].Created, joined[m], time.Time{}); flag {
			ask = append(ask, m)
		}
	}
	last, err := x.lastActivity(ctx, ask)
	if err != nil {
		return nil, fmt.Errorf("read members' activity: %w", err)
	}
	out := map[string]conduit.User{}
	for _, m := range ask {
		if flag, _ := inactiveDecision(x.now, window, users[m].Created, joined[m], last[m]); flag {
			out[m] = users[m]
		}
	}
	return out, nil
}

func failingInactive(ctx context.Context, x *critEnv, users []string) (map[string]conduit.User, error) {
	last, err := x.lastActivity(ctx, users)
	if err != nil {
		return nil, fmt.Errorf("re-check activity: %w", err)
	}
	out := map[string]conduit.User{}
	for _, u := range users {
		if flag, _ := inactiveDecision(x.now, x.c.Inactivity.Window, time.Time{}, time.Time{}, last[u]); flag {
			out[u] = conduit.User{PHID: u}
		}
	}
	return out, nil
}

// joined returns, for members who joined an audited group after the bot
// first scanned it, the earliest such time over their groups; members
// seen at a group's first scan (or with no ledger) are absent: the bot
// cannot tell when they joined, so it does not protect them.
func (x *critEnv) joined(members []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if x.read.ledger == nil {
		return out, nil
	}
	there := map[string]bool{} // seen at some group's first scan
	for _, g := range x.groups {
		seen, err := x.read.ledger.RecordMembersSeen(g.PHID, g.MemberPHIDs, x.now)
		if err != nil {
			return nil, fmt.Errorf("record the members of %s: %w", g.Name, err)
		}
		var first time.Time
		for _, t := range seen {
			if first.IsZero() || t.Before(first) {
				first = t
			}
		}
		for m, t := range seen {
			switch {
			case !t.After(first):
				there[m] = true
			case out[m].IsZero() || t.Before(out[m]):
				out[m] = t
			}
		}
	}
	for m := range there {
		delete(out, m)
	}
	return out, nil
}

// ListReport is what a list criterion's file names that the campaign
// cannot act on: never dropped silently, plan shows it and launch journals
// it.
type ListReport struct {
	File string `json:"file"`
	// Unknown are usernames no account has.
	Unknown []string `json:"unknown,omitempty"`
	// NotMembers are accounts in none of the audited groups.
	NotMembers []string `json:"not_members,omitempty"`
}

// Empty reports whether the list matched entirely.
func (r *ListReport) Empty() bool { return r == nil || len(r.Unknown)+len(r.NotMembers) == 0 }

func findListed(ctx context.Context, x *critEnv, members []string) (map[string]conduit.User, error) {
	// The list's names go to Phabricator and into the journal: never the
	// token file's (the CLI refuses such a campaign when loading it; this
	// covers every other caller).
	if err := x.c.List.CheckListFile(x.read.cfg.Conduit.TokenFile); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	users, err := x.allUsers(ctx, members)
	if err != nil {
		return nil, err
	}
	byName := map[string]conduit.User{}
	for _, u := range users {
		byName[strings.ToLower(u.Username)] = u
	}
	out := map[string]conduit.User{}
	var rest []string
	for _, name := range x.c.List.Usernames() {
		if u, ok := byName[strings.ToLower(name)]; ok {
			out[u.PHID] = u
		} else {
			rest = append(rest, name)
		}
	}
	rep := &ListReport{File: x.c.List.File}
	if len(rest) > 0 {
		known, err := x.read.usersNamed(ctx, rest)
		if err != nil {
			return nil, fmt.Errorf("look up the list's usernames: %w", err)
		}
		exists := map[string]bool{}
		for _, u := range known {
			exists[strings.ToLower(u.Username)] = true
		}
		for _, name := range rest {
			if exists[strings.ToLower(name)] {
				rep.NotMembers = append(rep.NotMembers, name)
			} else {
				rep.Unknown = append(rep.Unknown, name)
			}
		}
	}
	x.listReport = rep
	return out, nil
}

// keepMeets reports whether a recorded keep meets the criterion.
func (cr criterion) keepMeets(k state.Keep) bool {
	if k.Approver {
		return cr.keptByApprover
	}
	return cr.keptByReply
}

// met reports whether f meets reason r through a recorded keep.
func keptFor(f state.Finding, r string) bool {
	k, ok := f.Kept[r]
	if !ok {
		return false
	}
	cr, known := criterionOf(r)
	return known && cr.keepMeets(k)
}

// failsAny reports whether f fails any of its reasons in live.
func failsAny(f state.Finding, live map[string]map[string]conduit.User) bool {
	return slices.ContainsFunc(f.Reasons, func(r string) bool {
		_, bad := live[r][f.UserPHID]
		return bad && !keptFor(f, r)
	})
}

// reasonText is how texts name a reason.
func reasonText(r string) string {
	switch r {
	case reasonMFA:
		return templates.ReasonNoMFA
	case reasonDisabled:
		return templates.ReasonDisabled
	case reasonInactive:
		return templates.ReasonInactive
	case reasonReconfirm:
		return templates.ReasonReconfirm
	case reasonList:
		return templates.ReasonList
	}
	return r
}

// reasonsOf lists what texts say about reasons.
func reasonsText(rs []string) []string {
	var out []string
	for _, r := range rs {
		out = append(out, reasonText(r))
	}
	return out
}

// Visibility is one line of what activity the bot can and cannot see,
// for the inactive criterion (NOTES fact 43: feed.query returns no story
// about an object the viewer cannot see, so a member busy on restricted
// tasks can look inactive).
type Visibility struct {
	Subject string `json:"subject"`
	// BotMember reports whether the bot is a member of the project: then
	// it sees what is restricted to that project's members.
	BotMember bool   `json:"bot_member"`
	Detail    string `json:"detail"`
}

// activityVisibility says, per audited group and activity_scope project,
// whether the bot sees what is restricted to its members. Conduit cannot
// list what the bot cannot see (hidden projects and spaces do not come
// back at all), so the last line says so. Pure.
func activityVisibility(c *campaigns.Campaign, snap *snapshot) []Visibility {
	if !c.Has(campaigns.CriterionInactive) {
		return nil
	}
	var out []Visibility
	note := func(p conduit.Project, what string) {
		in := slices.Contains(p.MemberPHIDs, snap.self.PHID)
		v := Visibility{Subject: p.Name, BotMember: in}
		if in {
			v.Detail = fmt.Sprintf("the bot is a member of this %s: it sees tasks restricted to its members", what)
		} else {
			v.Detail = fmt.Sprintf("the bot is NOT a member of this %s: work on tasks restricted to its members is invisible to it; make the bot a member to see it", what)
		}
		out = append(out, v)
	}
	for _, g := range snap.groups {
		note(g.Project, "group")
	}
	for _, p := range snap.scope {
		note(p, "activity_scope project")
	}
	out = append(out, Visibility{Subject: "other policies", Detail: "objects in spaces or under policies the bot does not meet give it no story at all, and Conduit cannot list them"})
	return out
}
