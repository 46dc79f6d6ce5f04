package campaigns

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Criterion is one reason a group member fails an audit.
type Criterion string

// The criteria a campaign can audit.
const (
	// CriterionMFA flags members without multi-factor authentication.
	CriterionMFA Criterion = "mfa"
	// CriterionDisabled flags disabled accounts that are still members.
	CriterionDisabled Criterion = "disabled"
	// CriterionInactive flags members with no activity of their own within
	// a window (Campaign.Inactivity).
	CriterionInactive Criterion = "inactive"
	// CriterionReconfirm flags every member: each keeps access by saying
	// they still need it.
	CriterionReconfirm Criterion = "reconfirm"
	// CriterionList flags the members named in a file of usernames
	// (Campaign.List), such as an offboarding list.
	CriterionList Criterion = "list"
	// CriterionPolicy finds no users: it audits the policies of the
	// audited groups and of the tasks they guard (Campaign.Policy).
	CriterionPolicy Criterion = "policy"
)

// Criteria returns every known criterion, in the order texts list them.
func Criteria() []Criterion {
	return []Criterion{CriterionMFA, CriterionDisabled, CriterionInactive, CriterionReconfirm, CriterionList, CriterionPolicy}
}

// DefaultInactivityWindow is the inactive criterion's window when the
// campaign file sets none: a year.
const DefaultInactivityWindow = 365 * day

// Inactivity configures the inactive criterion.
type Inactivity struct {
	// Window is how far back a member's own activity counts.
	Window time.Duration
	// Scope, when set, lists the projects (as written) whose tagged
	// objects alone count as activity.
	Scope []string
}

// PolicyAudit configures the policy criterion: which tasks it checks
// besides the audited groups themselves.
type PolicyAudit struct {
	// Scope lists projects (as written): tasks tagged with one of them
	// are checked.
	Scope []string
	// Spaces lists Spaces by PHID (PHID-SPCE-…): tasks in one of them are
	// checked.
	Spaces []string
}

// UserList is the list criterion's file of usernames.
type UserList struct {
	// File is the list's path, resolved against the campaign file's
	// directory.
	File string
	// Entries are the usernames in file order, without a leading @.
	Entries []ListEntry
}

// Usernames returns the list's usernames in file order.
func (l *UserList) Usernames() []string {
	out := make([]string, len(l.Entries))
	for i, e := range l.Entries {
		out[i] = e.Username
	}
	return out
}

// ListEntry is one username of a list file and its line.
type ListEntry struct {
	Username string
	Line     int
}

// MaxBatchSize is the most subscribers the bot puts on one task.
const MaxBatchSize = 20

// Campaign defaults for keys a campaign file leaves out.
const (
	DefaultBatchSize = MaxBatchSize
	// DefaultHelpURL is Phabricator's own multi-factor settings page,
	// relative to the instance; see Campaign.HelpLink.
	DefaultHelpURL = "/settings/panel/multifactor/"
)

// DefaultReminders returns the reminder offsets used when a campaign file
// has no reminders key: 30, 7 and 1 days before the cutoff.
func DefaultReminders() []time.Duration {
	return []time.Duration{30 * day, 7 * day, day}
}

const day = 24 * time.Hour

// PolicyKind is how a task's view or edit policy is chosen.
type PolicyKind string

// The policy kinds.
const (
	// PolicySubscribers lets only the task's subscribers in.
	PolicySubscribers PolicyKind = "subscribers"
	// PolicyAdmin lets only Phabricator administrators in.
	PolicyAdmin PolicyKind = "admin"
	// PolicyProject lets the members of the campaign's team project in.
	PolicyProject PolicyKind = "project"
	// PolicyLiteral uses a policy PHID as written.
	PolicyLiteral PolicyKind = "literal"
)

// PolicyChoice is a campaign's choice of view or edit policy. Value is the
// team's project name for PolicyProject and the PHID for PolicyLiteral, and
// empty otherwise. Mapping the choice to the string Conduit wants
// ("obj.subscriptions.subscribers", "admin", the team's PHID, the literal
// PHID) is the caller's job, since only it can resolve project PHIDs.
type PolicyChoice struct {
	Kind  PolicyKind
	Value string
}

// String returns the choice as written in a campaign file.
func (pc PolicyChoice) String() string {
	if pc.Kind == PolicyLiteral {
		return pc.Value
	}
	return string(pc.Kind)
}

var phidPattern = regexp.MustCompile(`^PHID-[A-Z]{4}-[a-z0-9]{20}$`)

// ParsePolicy parses a view or edit policy as written in a campaign file:
// subscribers, admin, project or a PHID. For project, Value is left empty:
// the caller fills in the team. Any PHID parses; `check` accepts only a
// project's or the bot's own user PHID, as it cannot tell who another
// policy (a custom PHID-PLCY-…) lets in.
func ParsePolicy(s string) (PolicyChoice, error) {
	s = strings.TrimSpace(s)
	switch k := PolicyKind(strings.ToLower(s)); k {
	case PolicySubscribers, PolicyAdmin, PolicyProject:
		return PolicyChoice{Kind: k}, nil
	}
	if phidPattern.MatchString(s) {
		return PolicyChoice{Kind: PolicyLiteral, Value: s}, nil
	}
	return PolicyChoice{}, fmt.Errorf("unknown policy %q (want subscribers, admin, project, a project's PHID or the bot's own user PHID)", s)
}

// Campaign is one audit, as loaded from a campaign file.
type Campaign struct {
	// Name identifies the campaign in task markers and state keys; it
	// matches [a-z0-9][a-z0-9-]{1,62}.
	Name string
	// Title is the human-readable title of the campaign's tasks.
	Title string
	// Criteria are what members are audited for; at least one, no repeats.
	Criteria []Criterion
	// Inactivity configures the inactive criterion (defaults when the
	// campaign file has no inactive key).
	Inactivity Inactivity
	// List is the list criterion's file; nil unless the campaign audits
	// list.
	List *UserList
	// Policy configures the policy criterion.
	Policy PolicyAudit
	// Groups are the audited groups, as written; no two share a GroupKey.
	Groups []string
	// ExcludeUsers are usernames never audited (without a leading @).
	ExcludeUsers []string
	// ExcludeBots and ExcludeMailingLists skip bot and mailing-list
	// accounts; both default to true.
	ExcludeBots, ExcludeMailingLists bool
	// BatchSize is how many members share one task, 1..MaxBatchSize.
	BatchSize int
	// Cutoff is the instant after which removal may be proposed. A cutoff
	// written as a date means the end of that day in UTC.
	Cutoff time.Time
	// CutoffDate is the cutoff as written, for display ("2027-02-28").
	CutoffDate string
	// Reminders are offsets before Cutoff at which to remind, descending.
	Reminders []time.Duration
	// QuietReminders skips a reminder on a task where nobody is pending.
	QuietReminders bool
	// Team is the owning team's project, tagged on and subscribed to every
	// task; "" if none.
	Team string
	// Tags are extra projects tagged on tasks, as written; the bot tags the
	// team too and drops repeats by PHID (bot.taskSpec).
	Tags []string
	// ViewPolicy and EditPolicy are the policies of the campaign's tasks.
	ViewPolicy, EditPolicy PolicyChoice
	// Approvers is the project whose members may approve removals,
	// exemptions and restores.
	Approvers string
	// AutoApproveNotRisky allows removals from not-risky groups without an
	// approver.
	AutoApproveNotRisky bool
	// Action is what an approved removal does: remove the memberships
	// (ActionRemove, the default) or disable the account (ActionDisable).
	Action Action
	// RemovalLimit overrides the config's removal_limit for this
	// campaign: the guard-rail that holds back a removal batch taking too
	// large a part of a group. Keys left out keep the config's.
	RemovalLimit RemovalLimitOverride
	// HelpURL is linked from tasks: an absolute http(s) URL or a path on
	// the Phabricator instance (see HelpLink).
	HelpURL string
	// AllowShortNotice lets the campaign launch with a cutoff closer than
	// the config's min_notice, or in the past (see CheckNotice).
	AllowShortNotice bool
	// Source is the file the campaign came from, for messages.
	Source string

	// CutoffLine is the line of the cutoff key, for CheckNotice's error;
	// 0 for a campaign not read from a file.
	CutoffLine int

	// Recurring, when set, makes the daemon scan the groups again every
	// period and handle the difference (see recurring.go).
	Recurring *Recurring
	// Notice is how long members a recurring run finds get before their
	// own cutoff; 0 means the launch's own notice (cutoff - launch).
	Notice     time.Duration
	NoticeLine int
	// ApprovalReminder is how long a removal batch may wait undecided
	// before the approvers are reminded; 0 means the config's.
	ApprovalReminder time.Duration

	// TrackingTask is the task that tracks the audit, such as T123: when
	// the campaign closes, the bot posts its summary there (counts,
	// removals with their approvers, the journal's head). 0 when unset.
	TrackingTask int
}

// TrackingMonogram is the tracking task's monogram (T123), or "".
func (c *Campaign) TrackingMonogram() string {
	if c.TrackingTask == 0 {
		return ""
	}
	return "T" + strconv.Itoa(c.TrackingTask)
}

// trackingPattern is a task monogram as a campaign file names its
// tracking task.
var trackingPattern = regexp.MustCompile(`^[Tt]([1-9][0-9]{0,9})$`)

// ParseTrackingTask parses a tracking task as written: a monogram such as
// T123 (a leading T is required: a bare number is too easily a typo).
func ParseTrackingTask(s string) (int, error) {
	m := trackingPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a task (want a monogram such as T123)", s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n > math.MaxInt32 {
		return 0, fmt.Errorf("%q is not a task (the number is too large)", s)
	}
	return n, nil
}

// CheckNotice reports, as a *LineError naming the cutoff's line, a cutoff
// earlier than launchAt + minNotice: tasks would name a deadline the
// affected users cannot meet, or one already past, and the next tick would
// propose their removal. force (launch --allow-short-notice) or the
// campaign's allow_short_notice key let it through. Check it before a
// campaign is launched, never on ticks of a launched one: its cutoff was
// accepted when it launched.
func (c *Campaign) CheckNotice(launchAt time.Time, minNotice time.Duration, force bool) error {
	if force || c.AllowShortNotice {
		return nil
	}
	if err := c.CheckRunNotice(c.Notice, minNotice); err != nil {
		return err
	}
	earliest := launchAt.Add(minNotice)
	if !c.Cutoff.Before(earliest) {
		return nil
	}
	var why string
	if c.Cutoff.After(launchAt) {
		why = fmt.Sprintf("is only %s after launch, less than min_notice (%s)", roundNotice(c.Cutoff.Sub(launchAt)), roundNotice(minNotice))
	} else {
		why = "is in the past"
	}
	return &LineError{File: c.Source, Line: c.CutoffLine, Key: "cutoff", Msg: fmt.Sprintf(
		"%s %s: affected users get no time to act, and removal would be proposed at once; the earliest cutoff is %s. "+
			"Move the cutoff, or launch anyway with launch --allow-short-notice (or allow_short_notice: true in the campaign file)",
		c.CutoffDate, why, earliest.UTC().Format(time.DateOnly))}
}

// roundNotice prints a notice period in days, or hours under two days.
func roundNotice(d time.Duration) string {
	if d >= 2*day {
		return fmt.Sprintf("%d days", d/day)
	}
	return fmt.Sprintf("%d hours", d/time.Hour)
}

// Has reports whether the campaign audits for criterion c.
func (c *Campaign) Has(cr Criterion) bool { return slices.Contains(c.Criteria, cr) }

// Excluded reports whether username is listed in exclude.users. Usernames
// compare case-insensitively, as in Phabricator, and a leading @ is
// ignored. Bots and mailing lists are the caller's to check against
// ExcludeBots and ExcludeMailingLists, from the account's roles.
func (c *Campaign) Excluded(username string) bool {
	u := normUser(username)
	return slices.ContainsFunc(c.ExcludeUsers, func(x string) bool { return normUser(x) == u })
}

func normUser(s string) string { return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "@")) }

// HelpLink returns HelpURL as an absolute URL, resolving a path such as
// the default "/settings/panel/multifactor/" against baseURL (the
// Phabricator address, Config.Conduit.URL).
func (c *Campaign) HelpLink(baseURL string) string {
	if strings.HasPrefix(c.HelpURL, "/") {
		return strings.TrimRight(baseURL, "/") + c.HelpURL
	}
	return c.HelpURL
}

var offsetPattern = regexp.MustCompile(`^([0-9]+)([dhm])$`)

// ParseOffset parses a reminder offset: a whole number and one unit, d
// (days of 24 hours), h or m, such as "30d", "36h" or "90m". Zero parses;
// campaigns reject it.
func ParseOffset(s string) (time.Duration, error) {
	m := offsetPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not an offset (want a whole number and a unit d, h or m, such as 30d, 36h or 90m)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	unit := map[string]time.Duration{"d": day, "h": time.Hour, "m": time.Minute}[m[2]]
	if err != nil || n > math.MaxInt64/int64(unit) {
		return 0, fmt.Errorf("offset %q is too large", s)
	}
	return time.Duration(n) * unit, nil
}

// ParseCutoff parses a cutoff: a date YYYY-MM-DD, meaning the end of that
// day in UTC (the returned instant is midnight UTC of the next day), or an
// RFC 3339 time, taken as written.
func ParseCutoff(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.AddDate(0, 0, 1), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (want YYYY-MM-DD or RFC 3339)", s)
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// instanceSuffix is how a recurring campaign's instance name ends
// (NAME-rN, bot's instanceName).
var instanceSuffix = regexp.MustCompile(`-r[0-9]+$`)

// ReservedName reports whether name ends like the name of a recurring
// campaign's instance (-rN). No campaign file may take such a name: a run
// would otherwise find a campaign launched by hand under the name of the
// instance it starts.
func ReservedName(name string) bool { return instanceSuffix.MatchString(name) }

// checkName reports why s is not a valid campaign name, or nil.
func checkName(s string) error {
	if !namePattern.MatchString(s) {
		return fmt.Errorf("%q is not a valid campaign name (want 2 to 63 lower-case letters, digits and dashes, not starting with a dash)", s)
	}
	return nil
}

// LoadCampaign reads and validates the campaign file at path. On top of
// what ParseCampaign checks, the campaign's name must match the file's
// base name (mfa-2027q1 in mfa-2027q1.yaml): the name keys task markers and
// state, so a file copied without renaming the campaign would otherwise
// act on the original campaign's tasks.
func LoadCampaign(path string) (*Campaign, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("campaigns: reading campaign: %w", err)
	}
	p := &parser{file: path}
	c := parseCampaign(p, data)
	if c != nil && c.nameNode != nil {
		base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".yaml"), ".yml")
		if c.Name != base {
			p.errorf(c.nameNode, "name", "%q does not match the file name %q; a campaign named %s must be in %s.yaml",
				c.Name, filepath.Base(path), c.Name, c.Name)
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return &c.Campaign, nil
}

// ParseCampaign parses and validates a campaign file's contents. name is
// used in error messages and as Source.
func ParseCampaign(name string, data []byte) (*Campaign, error) {
	p := &parser{file: name}
	c := parseCampaign(p, data)
	if err := p.err(); err != nil {
		return nil, err
	}
	return &c.Campaign, nil
}

// parsedCampaign is a compiled campaign with the node of its name, which
// LoadCampaign needs for its file-name check.
type parsedCampaign struct {
	Campaign
	nameNode *yaml.Node
}

func parseCampaign(p *parser, data []byte) *parsedCampaign {
	var f campaignFile
	root := p.document(data, "a mapping with at least name, criteria, groups, cutoff and approvers")
	if root == nil {
		return nil
	}
	f.parse(p, root)
	c := f.compile(p)
	c.Source = p.file
	return &parsedCampaign{Campaign: *c, nameNode: f.name.n}
}

// campaignFile is a campaign file as written: values with their nodes,
// before defaults.
type campaignFile struct {
	name, title            val[string]
	criteria, groups       val[[]item]
	excludeUsers           val[[]item]
	excludeBots, excludeML val[bool]
	batchSize              val[int]
	cutoff                 val[string]
	reminders              val[[]item]
	quietReminders         val[bool]
	team                   val[string]
	tags                   val[[]item]
	viewPolicy, editPolicy val[string]
	approvers              val[string]
	autoApprove            val[bool]
	action                 val[string]
	helpURL                val[string]
	allowShortNotice       val[bool]
	removalLimit           removalLimitFile
	recurring              recurringFile
	inactiveKey            *yaml.Node
	inactiveWindow         val[string]
	activityScope          val[[]item]
	listKey                *yaml.Node
	listFile               val[string]
	trackingTask           val[string]
	policyKey              *yaml.Node
	policyScope            val[[]item]
	policySpaces           val[[]item]
}

func (f *campaignFile) parse(p *parser, root *yaml.Node) {
	str := func(dst *val[string], key string) func(*yaml.Node) { return into(dst, keyed(p.str, key)) }
	list := func(dst *val[[]item], key string) func(*yaml.Node) { return into(dst, keyed(p.list, key)) }
	boolean := func(dst *val[bool], key string) func(*yaml.Node) { return into(dst, keyed(p.boolean, key)) }
	p.mapping(root, "", []field{
		{name: "name", required: true, parse: str(&f.name, "name")},
		{name: "title", parse: str(&f.title, "title")},
		{name: "criteria", required: true, parse: list(&f.criteria, "criteria")},
		{name: "groups", required: true, parse: list(&f.groups, "groups")},
		{name: "exclude", parse: func(n *yaml.Node) {
			p.mapping(n, "exclude", []field{
				{name: "users", parse: list(&f.excludeUsers, "exclude.users")},
				{name: "bots", parse: boolean(&f.excludeBots, "exclude.bots")},
				{name: "mailing_lists", parse: boolean(&f.excludeML, "exclude.mailing_lists")},
			})
		}},
		{name: "batch_size", parse: into(&f.batchSize, keyed(p.integer, "batch_size"))},
		{name: "cutoff", required: true, parse: str(&f.cutoff, "cutoff")},
		{name: "reminders", parse: list(&f.reminders, "reminders")},
		{name: "quiet_reminders", parse: boolean(&f.quietReminders, "quiet_reminders")},
		{name: "team", parse: str(&f.team, "team")},
		{name: "tags", parse: list(&f.tags, "tags")},
		{name: "view_policy", parse: str(&f.viewPolicy, "view_policy")},
		{name: "edit_policy", parse: str(&f.editPolicy, "edit_policy")},
		{name: "approvers", required: true, parse: str(&f.approvers, "approvers")},
		{name: "auto_approve_not_risky", parse: boolean(&f.autoApprove, "auto_approve_not_risky")},
		{name: "action", parse: str(&f.action, "action")},
		{name: "help_url", parse: str(&f.helpURL, "help_url")},
		{name: "allow_short_notice", parse: boolean(&f.allowShortNotice, "allow_short_notice")},
		{name: "tracking_task", parse: str(&f.trackingTask, "tracking_task")},
		{name: "removal_limit", parse: func(n *yaml.Node) { f.removalLimit.parse(p, n, "removal_limit") }},
		{name: "every", parse: into(&f.recurring.shortEvery, keyed(p.str, "every"))},
		{name: "recurring", parse: func(n *yaml.Node) { f.recurring.parse(p, n) }},
		{name: "notice", parse: into(&f.recurring.notice, keyed(p.str, "notice"))},
		{name: "approval_reminder", parse: into(&f.recurring.approvalReminder, keyed(p.str, "approval_reminder"))},
		{name: "inactive", parse: func(n *yaml.Node) {
			f.inactiveKey = deref(n)
			p.mapping(n, "inactive", []field{
				{name: "window", parse: str(&f.inactiveWindow, "inactive.window")},
				{name: "activity_scope", parse: list(&f.activityScope, "inactive.activity_scope")},
			})
		}},
		{name: "policy", parse: func(n *yaml.Node) {
			f.policyKey = deref(n)
			p.mapping(n, "policy", []field{
				{name: "scope", parse: list(&f.policyScope, "policy.scope")},
				{name: "spaces", parse: list(&f.policySpaces, "policy.spaces")},
			})
		}},
		{name: "list", parse: func(n *yaml.Node) {
			f.listKey = deref(n)
			p.mapping(n, "list", []field{
				{name: "file", required: true, parse: str(&f.listFile, "list.file")},
			})
		}},
	})
}

// compile applies defaults and checks every value, recording problems in p.
func (f *campaignFile) compile(p *parser) *Campaign {
	c := &Campaign{
		Name:                strings.TrimSpace(f.name.v),
		Title:               strings.TrimSpace(f.title.v),
		ExcludeBots:         f.excludeBots.or(true),
		ExcludeMailingLists: f.excludeML.or(true),
		BatchSize:           f.batchSize.or(DefaultBatchSize),
		QuietReminders:      f.quietReminders.or(true),
		Team:                strings.TrimSpace(f.team.v),
		Approvers:           strings.TrimSpace(f.approvers.v),
		AutoApproveNotRisky: f.autoApprove.v,
		HelpURL:             strings.TrimSpace(f.helpURL.or(DefaultHelpURL)),
		AllowShortNotice:    f.allowShortNotice.v,
		RemovalLimit:        f.removalLimit.override(),
	}

	f.compileName(p, c)
	f.compileScope(p, c)
	f.compileTiming(p, c)

	if f.team.set() && c.Team == "" {
		p.errorf(f.team.n, "team", "must not be empty; leave the key out if there is no owning team")
	}
	if f.tags.set() {
		c.Tags = uniqueGroups(p, f.tags, "tags", "project")
	}

	c.ViewPolicy = f.compilePolicy(p, f.viewPolicy, "view_policy", c.Team, PolicySubscribers)
	// Whoever may edit a task may make it public or rewrite it, so the
	// users it names must not (NOTES fact 46): administrators by default.
	c.EditPolicy = f.compilePolicy(p, f.editPolicy, "edit_policy", c.Team, PolicyAdmin)

	action, err := ParseAction(f.action.v)
	if err != nil {
		p.errorf(f.action.n, "action", "%v", err)
	}
	c.Action = action

	if f.approvers.set() && c.Approvers == "" {
		p.errorf(f.approvers.n, "approvers", "must name the project whose members approve removals")
	}

	if err := checkHelpURL(c.HelpURL); err != nil {
		p.errorf(f.helpURL.n, "help_url", "%v", err)
	}
	if f.trackingTask.set() {
		n, err := ParseTrackingTask(f.trackingTask.v)
		if err != nil {
			p.errorf(f.trackingTask.n, "tracking_task", "%v", err)
		}
		c.TrackingTask = n
	}
	f.recurring.compile(p, c, f.team)
	f.compileCriterionKeys(p, c)
	return c
}

// compileName checks the name and title; the title defaults to one from
// the name.
func (f *campaignFile) compileName(p *parser, c *Campaign) {
	if f.name.set() {
		if err := checkName(c.Name); err != nil {
			p.errorf(f.name.n, "name", "%v", err)
		} else if ReservedName(c.Name) {
			p.errorf(f.name.n, "name", "%q ends in -rN, which names the instances of recurring campaigns (NAME-r1, NAME-r2, ...); choose another name", c.Name)
		}
	}
	if strings.ContainsAny(c.Title, "\r\n") {
		p.errorf(f.title.n, "title", "must be a single line")
	}
	if c.Title == "" {
		c.Title = "Security audit: " + c.Name
	}
}

// compileScope compiles whom the campaign audits: criteria, groups and
// excluded users.
func (f *campaignFile) compileScope(p *parser, c *Campaign) {
	if f.criteria.set() {
		c.Criteria = f.compileCriteria(p)
	}
	if f.groups.set() {
		c.Groups = uniqueGroups(p, f.groups, "groups", "group")
		if len(f.groups.v) == 0 {
			p.errorf(f.groups.n, "groups", "is empty; list at least one group to audit")
		}
	}
	if f.excludeUsers.set() {
		c.ExcludeUsers = f.compileUsers(p)
	}
}

// compileTiming compiles the batch size, the cutoff and the reminders.
func (f *campaignFile) compileTiming(p *parser, c *Campaign) {
	if c.BatchSize < 1 {
		p.errorf(f.batchSize.n, "batch_size", "%d is less than 1", c.BatchSize)
	} else if c.BatchSize > MaxBatchSize {
		p.errorf(f.batchSize.n, "batch_size", "%d is more than %d, the most subscribers the bot puts on one task", c.BatchSize, MaxBatchSize)
	}

	if f.cutoff.set() {
		c.CutoffDate = strings.TrimSpace(f.cutoff.v)
		t, err := ParseCutoff(c.CutoffDate)
		if err != nil {
			p.errorf(f.cutoff.n, "cutoff", "%v", err)
		}
		c.Cutoff = t
		c.CutoffLine = f.cutoff.n.Line
	}

	c.Reminders = DefaultReminders()
	if f.reminders.set() {
		c.Reminders = f.compileReminders(p)
	}
}

// compileCriterionKeys checks the keys that configure criteria against
// the criteria list: a key for a criterion the campaign does not audit is
// a mistake (the file says one thing and the bot would do another).
func (f *campaignFile) compileCriterionKeys(p *parser, c *Campaign) {
	if c.Has(CriterionInactive) {
		c.Inactivity = Inactivity{Window: DefaultInactivityWindow}
	}
	if f.inactiveKey != nil && f.criteria.set() && !c.Has(CriterionInactive) {
		p.errorf(f.inactiveKey, "inactive", "configures the inactive criterion, but criteria does not list inactive")
	}
	if f.inactiveWindow.set() {
		d, err := ParseOffset(f.inactiveWindow.v)
		switch {
		case err != nil:
			p.errorf(f.inactiveWindow.n, "inactive.window", "%v", err)
		case d < day:
			p.errorf(f.inactiveWindow.n, "inactive.window", "%q is shorter than a day", f.inactiveWindow.v)
		default:
			c.Inactivity.Window = d
		}
	}
	if f.activityScope.set() {
		c.Inactivity.Scope = uniqueGroups(p, f.activityScope, "inactive.activity_scope", "project")
	}
	if f.listKey != nil && f.criteria.set() && !c.Has(CriterionList) {
		p.errorf(f.listKey, "list", "names a list file, but criteria does not list list")
	}
	if c.Has(CriterionList) {
		if !f.listFile.set() {
			p.errorf(f.criteria.n, "criteria", "list needs the file of usernames: list: {file: offboarding.txt}")
		} else {
			c.List = f.compileList(p)
		}
	}
	f.compilePolicyKeys(p, c)
	// Disabled accounts cannot log in to read a task: they are announced
	// on one task for the team, which there must be.
	if c.Has(CriterionDisabled) && c.Team == "" && !f.team.set() {
		p.errorf(f.criteria.n, "criteria", "disabled needs a team: disabled members are announced on a task for the campaign's team project, not to the disabled users")
	}
}

var spacePattern = regexp.MustCompile(`^PHID-SPCE-[a-z0-9]{20}$`)

// compilePolicyKeys checks the policy key against the criteria: its
// findings go on a task for the team, which there must be.
func (f *campaignFile) compilePolicyKeys(p *parser, c *Campaign) {
	if f.policyKey != nil && f.criteria.set() && !c.Has(CriterionPolicy) {
		p.errorf(f.policyKey, "policy", "configures the policy criterion, but criteria does not list policy")
	}
	if f.policyScope.set() {
		c.Policy.Scope = uniqueGroups(p, f.policyScope, "policy.scope", "project")
	}
	for _, it := range f.policySpaces.v {
		s := strings.TrimSpace(it.s)
		if !spacePattern.MatchString(s) {
			p.errorf(it.n, "policy.spaces", "%q is not a Space's PHID (want PHID-SPCE-…, as spaces.search shows it)", it.s)
			continue
		}
		if !slices.Contains(c.Policy.Spaces, s) {
			c.Policy.Spaces = append(c.Policy.Spaces, s)
		}
	}
	if c.Has(CriterionPolicy) && c.Team == "" && !f.team.set() {
		p.errorf(f.criteria.n, "criteria", "policy needs a team: policy findings are listed on a task for the campaign's team project")
	}
}

// compileList reads the list criterion's file, relative to the campaign
// file's directory. Problems name the list file and its line, never the
// line's text: the file may not be a list at all (see ResolveListFile).
func (f *campaignFile) compileList(p *parser) *UserList {
	name := strings.TrimSpace(f.listFile.v)
	if name == "" {
		p.errorf(f.listFile.n, "list.file", "is empty")
		return nil
	}
	path, real, err := ResolveListFile(p.file, name)
	if err != nil {
		p.errorf(f.listFile.n, "list.file", "%v", err)
		return nil
	}
	// The resolved path is read: the one that was checked.
	data, err := readFile(real)
	if err != nil {
		var le *LineError
		if errors.As(err, &le) {
			p.errs = append(p.errs, le)
		} else {
			p.errorf(f.listFile.n, "list.file", "cannot read the list: %v", err)
		}
		return nil
	}
	entries, errs := ParseUserList(path, data)
	p.errs = append(p.errs, errs...)
	if len(errs) == 0 && len(entries) == 0 {
		p.errorf(f.listFile.n, "list.file", "%s names nobody", path)
	}
	return &UserList{File: path, Entries: entries}
}

// ResolveListFile resolves a list file named in the campaign file at
// campaignFile: relative to its directory, symbolic links followed, and
// inside that directory. The list is read with the bot's rights and each
// of its lines is sent to Phabricator and may be journaled, so a campaign
// must not be able to name any file the bot can read (the token file,
// /etc/...): a list lives next to the campaign files, or below them.
// It returns the path as named (for messages) and as resolved (to read).
func ResolveListFile(campaignFile, name string) (path, real string, err error) {
	dir, err := filepath.Abs(filepath.Dir(campaignFile))
	if err != nil {
		return "", "", fmt.Errorf("cannot resolve the campaign's directory: %w", err)
	}
	path = name
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", "", fmt.Errorf("cannot resolve the campaign's directory: %w", err)
	}
	real, err = filepath.EvalSymlinks(path)
	if err != nil {
		return "", "", fmt.Errorf("cannot read the list: %w", err)
	}
	if rel, err := filepath.Rel(realDir, real); err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", "", fmt.Errorf("%s is outside the campaign file's directory %s (symbolic links followed); a list must be in that directory or below it", path, dir)
	}
	return path, real, nil
}

// CheckListFile refuses a list that is the token file (tokenFile, if
// set): the same file under any name, hard links included. The parse
// already refuses token-shaped entries; this also covers a token file
// with something else in it.
func (l *UserList) CheckListFile(tokenFile string) error {
	if l == nil || tokenFile == "" {
		return nil
	}
	li, err := os.Stat(l.File)
	if err != nil {
		return fmt.Errorf("list.file: %w", err)
	}
	ti, err := os.Stat(tokenFile)
	if err != nil {
		// No token file to compare with: nothing the list could be.
		return nil
	}
	if os.SameFile(li, ti) {
		return fmt.Errorf("list.file %s is conduit.token_file; a list names usernames", l.File)
	}
	return nil
}

// usernamePattern is what Phabricator accepts as a username
// (PhabricatorUser::validateUsername).
var usernamePattern = regexp.MustCompile(`^[a-zA-Z0-9._-]*[a-zA-Z0-9_-]$`)

// listTokenPattern finds a Conduit API token (api-, cli- or clr- and 28
// letters and digits) anywhere in a list's line, whatever surrounds it.
var listTokenPattern = regexp.MustCompile(`(?i)(api|cli|clr)-[a-z0-9]{28}`)

// ParseUserList parses a list of usernames: one a line, a leading @
// ignored, # starting a comment, blank lines skipped. A line that is not
// one username, or repeats one, is a *LineError naming file and line.
// Errors never quote the line: a list file named by mistake (or on
// purpose) may hold a secret, and errors reach logs and terminals. An
// entry shaped like a Conduit API token is refused too: it is one (a
// token is a valid username), and would be sent to Phabricator and
// journaled as an unknown username.
func ParseUserList(file string, data []byte) ([]ListEntry, []*LineError) {
	var out []ListEntry
	var errs []*LineError
	first := map[string]int{}
	n := 0
	for line := range strings.Lines(string(data)) {
		n++
		if listTokenPattern.MatchString(line) {
			// Anywhere in the line, comments included: a token with a
			// suffix is a valid username and would be sent to
			// Phabricator; in a comment it says the file is not a list.
			errs = append(errs, &LineError{File: file, Line: n, Msg: "holds what looks like a Conduit API token; is this the right file?"})
			continue
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		u := strings.TrimPrefix(strings.TrimSpace(line), "@")
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case !usernamePattern.MatchString(u):
			errs = append(errs, &LineError{File: file, Line: n, Msg: "is not a username (want one username a line; # starts a comment)"})
		case first[normUser(u)] != 0:
			errs = append(errs, &LineError{File: file, Line: n, Msg: fmt.Sprintf("repeats the username of line %d", first[normUser(u)])})
		default:
			first[normUser(u)] = n
			out = append(out, ListEntry{Username: u, Line: n})
		}
	}
	return out, errs
}

func (f *campaignFile) compileCriteria(p *parser) []Criterion {
	out := []Criterion{}
	seen := make(map[Criterion]*yaml.Node)
	valid := make([]string, 0, len(Criteria()))
	for _, c := range Criteria() {
		valid = append(valid, string(c))
	}
	for _, it := range f.criteria.v {
		cr := Criterion(strings.ToLower(it.s))
		switch {
		case !slices.Contains(Criteria(), cr):
			p.errorf(it.n, "criteria", "unknown criterion %q (want %s)", it.s, oneOf(valid))
		case seen[cr] != nil:
			p.errorf(it.n, "criteria", "%q is listed twice", it.s)
		default:
			seen[cr] = it.n
			out = append(out, cr)
		}
	}
	if len(f.criteria.v) == 0 {
		p.errorf(f.criteria.n, "criteria", "is empty; want at least one of %s", oneOf(valid))
	}
	return out
}

// uniqueGroups checks a list of project names for blanks and for repeats
// under GroupKey, returning the names as written.
func uniqueGroups(p *parser, items val[[]item], key, what string) []string {
	out := []string{}
	first := make(map[string]item)
	for _, it := range items.v {
		k := GroupKey(it.s)
		if k == "" {
			p.errorf(it.n, key, "empty %s name", what)
			continue
		}
		if prev, dup := first[k]; dup {
			where := ""
			if prev.n.Line != it.n.Line {
				where = fmt.Sprintf(" (line %d)", prev.n.Line)
			}
			p.errorf(it.n, key, "%q is the same %s as %q%s", it.s, what, prev.s, where)
			continue
		}
		first[k] = it
		out = append(out, it.s)
	}
	return out
}

func (f *campaignFile) compileUsers(p *parser) []string {
	out := []string{}
	seen := make(map[string]bool)
	for _, it := range f.excludeUsers.v {
		u := strings.TrimPrefix(it.s, "@")
		switch {
		case u == "":
			p.errorf(it.n, "exclude.users", "empty username")
		case seen[normUser(u)]:
			p.errorf(it.n, "exclude.users", "%q is listed twice", it.s)
		default:
			seen[normUser(u)] = true
			out = append(out, u)
		}
	}
	return out
}

func (f *campaignFile) compileReminders(p *parser) []time.Duration {
	out := []time.Duration{}
	first := make(map[time.Duration]item)
	for _, it := range f.reminders.v {
		d, err := ParseOffset(it.s)
		switch {
		case err != nil:
			p.errorf(it.n, "reminders", "%v", err)
		case d <= 0:
			p.errorf(it.n, "reminders", "%q must be greater than zero", it.s)
		case first[d].n != nil:
			p.errorf(it.n, "reminders", "%q is the same offset as %q", it.s, first[d].s)
		default:
			first[d] = it
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b time.Duration) int { return cmp.Compare(b, a) })
	return out
}

func (f *campaignFile) compilePolicy(p *parser, v val[string], key, team string, def PolicyKind) PolicyChoice {
	if !v.set() {
		return PolicyChoice{Kind: def}
	}
	pc, err := ParsePolicy(v.v)
	if err != nil {
		p.errorf(v.n, key, "%v", err)
		return PolicyChoice{}
	}
	if pc.Kind == PolicyProject {
		if team == "" {
			p.errorf(v.n, key, "project means the members of the team's project, but team is not set")
		}
		pc.Value = team
	}
	return pc
}

// checkHelpURL accepts an absolute http(s) URL or a path on the instance.
func checkHelpURL(s string) error {
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http(s) URL or a path on Phabricator starting with /")
	}
	return nil
}
