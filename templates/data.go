package templates

import (
	"cmp"
	"slices"
	"time"
)

// Reasons an Affected user is listed, as the texts show them.
const (
	ReasonNoMFA     = "no MFA"
	ReasonDisabled  = "account disabled"
	ReasonInactive  = "no recent activity"
	ReasonReconfirm = "reconfirmation"
	ReasonList      = "on the removal list"
)

// Criterion names as Campaign.Criteria lists them (the campaign file's
// words).
const (
	CriterionMFA       = "mfa"
	CriterionDisabled  = "disabled"
	CriterionInactive  = "inactive"
	CriterionReconfirm = "reconfirm"
	CriterionList      = "list"
)

// Exemption decisions, as ReplyData.Decision carries them (the same words as
// the state package's exemption decisions).
const (
	DecisionGranted = "granted"
	DecisionDenied  = "denied"
	// DecisionRejected is the Decision of an approval-recorded text for a
	// removal proposal rejected with !deny.
	DecisionRejected = "rejected"
)

// Group is one access group covered by a campaign. Its values come from the
// bot's configuration and are printed as written.
type Group struct {
	Name      string // "acl*security"
	Risk      string // "internal", "security", "vandalism" or "not-risky"
	RiskLabel string // for people to read, such as "internal (highest)"
}

// Person is a Phabricator user. Username comes from Phabricator; RealName is
// chosen by the user and is only ever printed through name.
type Person struct {
	Username string
	RealName string
}

// Affected is one user a campaign task is about.
type Affected struct {
	Person
	Groups  []string // names of the groups the user would lose
	Reasons []string // ReasonNoMFA, ReasonDisabled
}

// Campaign is what every text knows about the campaign. Name, Title, Team,
// Approvers and HelpURL come from the bot's configuration and are printed as
// written.
type Campaign struct {
	Name  string // campaign identifier, such as "mfa-2027"
	Title string // human title, such as "Multi-factor authentication for private groups"
	// Cutoff is the instant access is lost: the start of the day after
	// CutoffDate. Texts show CutoffDate, the last day users have.
	Cutoff     time.Time
	CutoffDate string // "2027-02-28"
	HelpURL    string // page explaining how to enable MFA; may be ""
	Team       string // who runs the campaign, for questions
	Approvers  string // the approvers' project hashtag, such as "#acl_phabricator-admins"
	Groups     []Group
	// Criteria are the campaign's criteria (CriterionMFA, ...), in the
	// order texts list them; texts say what each requires and how to meet
	// it (see Has).
	Criteria []string
	// InactiveDays is the inactive criterion's window in days.
	InactiveDays int
	// TeamTask is set for texts on the team's task: the users it lists
	// are named, never mentioned (a mention would subscribe them).
	TeamTask bool
	// Disable is set when the campaign (or, in texts about a removal
	// batch, the batch) disables accounts rather than removing
	// memberships (action: disable): texts say the account will be, or
	// was, disabled.
	Disable bool
}

// Has reports whether the campaign audits criterion (CriterionMFA, ...).
// Texts rendered without Criteria (older callers, overrides' samples)
// are about MFA, as every text was before criteria existed.
func (c Campaign) Has(criterion string) bool {
	if len(c.Criteria) == 0 {
		return criterion == CriterionMFA
	}
	return slices.Contains(c.Criteria, criterion)
}

// Only reports whether criterion is the campaign's only criterion a user
// acts on (everything but disabled, which is handled on the team's task).
func (c Campaign) Only(criterion string) bool {
	if len(c.Criteria) == 0 {
		return criterion == CriterionMFA
	}
	for _, x := range c.Criteria {
		if x != criterion && x != CriterionDisabled {
			return false
		}
	}
	return c.Has(criterion)
}

// GroupNames returns the campaign's group names, in the campaign's order
// (riskiest first).
func (c Campaign) GroupNames() []string {
	out := make([]string, len(c.Groups))
	for i, g := range c.Groups {
		out[i] = g.Name
	}
	return out
}

// RiskLabel returns the risk label of the named group, or "" if the campaign
// does not cover it.
func (c Campaign) RiskLabel(group string) string {
	for _, g := range c.Groups {
		if g.Name == group {
			return g.RiskLabel
		}
	}
	return ""
}

// groupRank orders group names as the campaign lists them; unknown groups
// come last.
func (c Campaign) groupRank(group string) int {
	for i, g := range c.Groups {
		if g.Name == group {
			return i
		}
	}
	return len(c.Groups)
}

// TaskData is the data of the task-title and task-description templates.
type TaskData struct {
	Campaign
	Batch, Batches int // this task is batch Batch (1-based) of Batches
	Affected       []Affected
}

// HasReason reports whether any affected user is listed for reason.
func (d TaskData) HasReason(reason string) bool {
	for _, a := range d.Affected {
		if slices.Contains(a.Reasons, reason) {
			return true
		}
	}
	return false
}

// ReminderData is the data of the reminder template.
type ReminderData struct {
	Campaign
	Pending      []Person // mentioned: still to act and still subscribed
	DaysLeft     int      // whole days until Cutoff, rounded up
	Unsubscribed []Person // listed without a mention: still to act, but unsubscribed
}

// RemovalItem is one membership to remove.
type RemovalItem struct {
	Person
	Group     string
	Voluntary bool // the user asked to be removed
}

// RemovalProposalData is the data of the removal-proposal template. Who may
// approve is Campaign.Approvers.
type RemovalProposalData struct {
	Campaign
	BatchID           string // "R1"
	Items             []RemovalItem
	RequiredApprovals int // distinct approvers needed
}

// SortedItems returns Items with the riskiest groups first (in the order of
// Campaign.Groups), then by username.
func (d RemovalProposalData) SortedItems() []RemovalItem {
	return sortItems(d.Campaign, d.Items)
}

// RemovalNoticeData is the data of the removal-notice template.
type RemovalNoticeData struct {
	Campaign
	Removed []RemovalItem
}

// SortedRemoved returns Removed ordered like RemovalProposalData.SortedItems.
func (d RemovalNoticeData) SortedRemoved() []RemovalItem {
	return sortItems(d.Campaign, d.Removed)
}

func sortItems(c Campaign, items []RemovalItem) []RemovalItem {
	out := slices.Clone(items)
	slices.SortStableFunc(out, func(a, b RemovalItem) int {
		return cmp.Or(
			cmp.Compare(c.groupRank(a.Group), c.groupRank(b.Group)),
			cmp.Compare(a.Username, b.Username),
		)
	})
	return out
}

// ReplyData is the data of the templates that answer one user: the
// compliance-thanks, claim-rejected, voluntary-ack, exemption-requested,
// exemption-decision, restore-requested, restored and
// needs-human templates.
type ReplyData struct {
	Campaign
	Person // the user the comment is about
	// Reason is user-supplied text, always printed through literal: the
	// user's reason for an exemption, the approver's reason for a denial, or
	// what the bot could not handle (needs-human).
	Reason   string
	Until    string   // "YYYY-MM-DD" end of an exemption or leave; may be ""
	Decision string   // DecisionGranted or DecisionDenied (exemption-decision); see ApprovalRecorded
	Approver Person   // who decided (exemption-decision) or restored (restored)
	Groups   []string // the user's groups concerned
	// Required is how many distinct approvers the decision needs
	// (exemption-requested); 0 when it does not apply.
	Required int
	// Reasons are the criteria (CriterionMFA, ...) the user was found by.
	Reasons []string
	// Kept are the criteria a keep met (kept); Remaining the user's
	// criteria still unmet, as reason texts (ReasonNoMFA, ...).
	Kept, Remaining []string
}

// HasReason reports whether the user was found by criterion.
// Without Reasons, the campaign's criteria stand in.
func (d ReplyData) HasReason(criterion string) bool {
	if len(d.Reasons) == 0 {
		return d.Has(criterion)
	}
	return slices.Contains(d.Reasons, criterion)
}

// RemovalHeldData is the data of the removal-held template.
type RemovalHeldData struct {
	Campaign
	BatchID string      // "R1"
	Over    []HeldGroup // the groups over the limit
	Limit   string      // the limit in words: "at most 25% of a group's members"
	Items   []RemovalItem
}

// HeldGroup is one group a held removal batch would remove too much of.
type HeldGroup struct {
	Group           string
	Remove, Members int
}

// SortedItems returns Items ordered like RemovalProposalData.SortedItems.
func (d RemovalHeldData) SortedItems() []RemovalItem { return sortItems(d.Campaign, d.Items) }

// ExtensionData is the data of the deadline-extended template.
type ExtensionData struct {
	Campaign
	OldCutoff, NewCutoff string   // "YYYY-MM-DD", last days as in CutoffDate
	Users                []Person // whose deadline moved; empty means everyone on the task
}

// Sample returns realistic data for the named template, of the type it
// expects; Validate renders each template with it. It returns nil for an
// unknown name.
func Sample(n Name) any {
	if d := taskSample(n); d != nil {
		return d
	}
	return replySample(n)
}

// samplePeople are the users of the samples: two without MFA, a disabled
// account and an approver.
func samplePeople() (ada, jose, grace, approver Person) {
	return Person{Username: "ada", RealName: "Ada Lovelace"},
		Person{Username: "jnunez", RealName: "José Núñez"},
		Person{Username: "ghopper-old", RealName: "Grace Hopper"},
		Person{Username: "mkeita", RealName: "Mariam Keita"}
}

// taskSample is Sample for the task texts and the bot's own comments.
func taskSample(n Name) any {
	c := sampleCampaign()
	ada, jose, grace, _ := samplePeople()
	switch n {
	case TeamTaskTitle, TeamTaskDescription:
		c.TeamTask = true
		return TaskData{Campaign: c, Batch: 3, Batches: 3, Affected: []Affected{
			{Person: grace, Groups: []string{"acl*security"}, Reasons: []string{ReasonDisabled}},
			{Person: Person{Username: "old-intern", RealName: "Old Intern"}, Groups: []string{"WMF-NDA", "acl*sre-team"}, Reasons: []string{ReasonDisabled}},
		}}
	case TaskTitle, TaskDescription:
		return TaskData{Campaign: c, Batch: 2, Batches: 3, Affected: []Affected{
			{Person: ada, Groups: []string{"acl*sre-team", "WMF-NDA"}, Reasons: []string{ReasonNoMFA}},
			{Person: jose, Groups: []string{"WMF-NDA"}, Reasons: []string{ReasonNoMFA}},
			{Person: grace, Groups: []string{"acl*security"}, Reasons: []string{ReasonDisabled}},
		}}
	case Reminder:
		return ReminderData{Campaign: c, Pending: []Person{ada, jose}, DaysLeft: 7, Unsubscribed: []Person{grace}}
	case RemovalProposal:
		return RemovalProposalData{Campaign: c, BatchID: "R1", RequiredApprovals: 2, Items: []RemovalItem{
			{Person: jose, Group: "WMF-NDA"},
			{Person: ada, Group: "WMF-NDA", Voluntary: true},
			{Person: ada, Group: "acl*sre-team", Voluntary: true},
			{Person: grace, Group: "acl*security"},
		}}
	case RemovalNotice:
		return RemovalNoticeData{Campaign: c, Removed: []RemovalItem{
			{Person: jose, Group: "WMF-NDA"},
			{Person: grace, Group: "acl*security"},
		}}
	case DeadlineExtended:
		return ExtensionData{Campaign: c, OldCutoff: "2027-02-28", NewCutoff: "2027-03-14", Users: []Person{jose}}
	case RemovalHeld:
		return RemovalHeldData{Campaign: c, BatchID: "R2", Limit: "at most 25% of a group's members",
			Over:  []HeldGroup{{Group: "WMF-NDA", Remove: 3, Members: 8}},
			Items: []RemovalItem{{Person: jose, Group: "WMF-NDA"}, {Person: ada, Group: "WMF-NDA"}, {Person: grace, Group: "WMF-NDA"}}}
	case StandingTask:
		return StandingTaskData{Campaign: c, Every: "7d"}
	case RunSummary:
		return RunSummaryData{Campaign: c, Run: 2, Since: "2027-01-08",
			New: []Affected{
				{Person: ada, Groups: []string{"WMF-NDA"}, Reasons: []string{ReasonNoMFA}},
				{Person: grace, Groups: []string{"acl*security"}, Reasons: []string{ReasonDisabled}},
			},
			ReasonCounts: []Count{{ReasonNoMFA, 1}, {ReasonDisabled, 1}},
			Fixed:        []Person{jose}, Tasks: []string{"T14"}, NewCutoffDate: "2027-02-14", Pending: 4}
	case ApprovalReminder:
		return ApprovalReminderData{Campaign: c, BatchID: "R1", Days: 7, Approvals: 1, Required: 2}
	case CampaignClosed:
		return CampaignClosedData{Campaign: c, Counts: []Count{{"compliant", 2}, {"removed", 1}}}
	}
	return nil
}

// replySample is Sample for the answers to what users and approvers
// write (ReplyData).
func replySample(n Name) any {
	c := sampleCampaign()
	ada, jose, _, approver := samplePeople()
	switch n {
	case Kept:
		return ReplyData{Campaign: inactivityCampaign(), Person: ada, Groups: []string{"acl*security"},
			Reasons: []string{CriterionInactive}, Kept: []string{ReasonInactive}}
	case ComplianceThanks, ClaimRejected, VoluntaryAck:
		return ReplyData{Campaign: c, Person: ada, Groups: []string{"acl*sre-team", "WMF-NDA"}, Reasons: []string{CriterionMFA}}
	case ExemptionRequested:
		return ReplyData{Campaign: c, Person: jose, Groups: []string{"WMF-NDA"}, Reasons: []string{CriterionMFA},
			Reason: "My only phone is a shared work phone until the replacement arrives.", Until: "2027-04-15", Required: 2}
	case ExemptionDecision:
		return ReplyData{Campaign: c, Person: jose, Groups: []string{"WMF-NDA"},
			Decision: DecisionGranted, Approver: approver, Until: "2027-04-15"}
	case RestoreRequested:
		return ReplyData{Campaign: c, Person: jose, Groups: []string{"WMF-NDA"}, Reasons: []string{CriterionMFA}}
	case Restored:
		return ReplyData{Campaign: c, Person: jose, Groups: []string{"WMF-NDA"}, Approver: approver, Reasons: []string{CriterionMFA}}
	case ApprovalRecorded:
		return ReplyData{Campaign: c, Approver: approver, Decision: "R1: approval 1 of 2 recorded"}
	case CommandRefused:
		return ReplyData{Campaign: c, Person: jose, Reason: "only members of #acl_phabricator-admins may give commands"}
	case NeedsHuman:
		return ReplyData{Campaign: c, Person: ada, Groups: []string{"acl*sre-team", "WMF-NDA"},
			Reason: "I use a hardware key, does that count?"}
	}
	return nil
}

// inactivityCampaign is the sample of a yearly inactivity review.
func inactivityCampaign() Campaign {
	c := sampleCampaign()
	c.Name, c.Title = "acl-security-2027-inactivity", "Yearly review of acl*security"
	c.Criteria, c.InactiveDays, c.HelpURL = []string{CriterionInactive}, 365, ""
	c.Groups = c.Groups[1:2]
	return c
}

func sampleCampaign() Campaign {
	return Campaign{
		Name:       "mfa-2027",
		Title:      "Multi-factor authentication for private groups",
		Cutoff:     time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
		CutoffDate: "2027-02-28",
		HelpURL:    "https://www.mediawiki.org/wiki/Phabricator/Help/Two-factor_authentication",
		Team:       "Security-Team",
		Approvers:  "#acl_phabricator-admins",
		Criteria:   []string{CriterionMFA, CriterionDisabled},
		Groups: []Group{
			{Name: "acl*sre-team", Risk: "internal", RiskLabel: "internal (highest)"},
			{Name: "acl*security", Risk: "security", RiskLabel: "security"},
			{Name: "WMF-NDA", Risk: "security", RiskLabel: "security"},
		},
	}
}

// Accounts returns the distinct users of Items, for texts about disabling
// accounts (one account, however many groups it is listed for).
func (d RemovalProposalData) Accounts() []Person { return accountsOf(d.Items) }

// Accounts returns the distinct users of Removed.
func (d RemovalNoticeData) Accounts() []Person { return accountsOf(d.Removed) }

func accountsOf(items []RemovalItem) []Person {
	var out []Person
	for _, it := range items {
		if !slices.ContainsFunc(out, func(p Person) bool { return p.Username == it.Person.Username }) {
			out = append(out, it.Person)
		}
	}
	return out
}
