package state

import (
	"errors"
	"slices"
	"time"
)

// Campaign is what the bot recorded when it launched a campaign: the
// resolved groups and projects, so later ticks never re-resolve names, and
// the cutoff, which `extend` may move.
type Campaign struct {
	Name           string    `json:"name"`
	Title          string    `json:"title"`
	LaunchedAt     time.Time `json:"launched_at"`
	Cutoff         time.Time `json:"cutoff"`
	OriginalCutoff time.Time `json:"original_cutoff"`
	Groups         []Group   `json:"groups"`
	TeamPHID       string    `json:"team_phid,omitempty"`
	ApproversPHID  string    `json:"approvers_phid"`
	ApproversName  string    `json:"approvers_name"`
	ApproversSlug  string    `json:"approvers_slug"`
	TeamName       string    `json:"team_name,omitempty"`
	TagPHIDs       []string  `json:"tag_phids,omitempty"`
	BotPHID        string    `json:"bot_phid"`
	BotUsername    string    `json:"bot_username,omitempty"`
	// ViewPolicy and EditPolicy are the Conduit policies the campaign's
	// tasks carry, frozen at launch: every tick puts them back if someone
	// changed them. Empty in campaigns launched before they were recorded.
	ViewPolicy string `json:"view_policy,omitempty"`
	EditPolicy string `json:"edit_policy,omitempty"`
	// Source is the campaign file launched, used when campaigns_dir has none.
	Source string `json:"source,omitempty"`
	// RemindersDone lists the reminder offsets (as Go durations) already
	// handled, so a reminder is planned once per offset.
	RemindersDone []string `json:"reminders_done,omitempty"`
	// Runs are the recurring scans after launch, oldest first; each run
	// is compared with the one before it (the first with the launch).
	Runs []Run `json:"runs,omitempty"`
	// StandingTaskPHID and StandingTaskID are the recurring campaign's
	// task for the team, where each run's summary is posted.
	StandingTaskPHID string `json:"standing_task_phid,omitempty"`
	StandingTaskID   int    `json:"standing_task_id,omitempty"`
	// StandingSeen is what the bot last read of the standing task, and
	// as of when (see TaskSeen).
	StandingSeen TaskSeen `json:"standing_seen,omitzero"`
	// InstanceOf names the recurring campaign whose run started this
	// campaign instance (recurring mode "instance"); "" otherwise.
	InstanceOf string `json:"instance_of,omitempty"`
	// RunRefused says why the recurring campaign's runs are refused until
	// a person acts (a campaign launched by hand holds the name of the
	// instance the next run would start); "" while runs go ahead.
	RunRefused string `json:"run_refused,omitempty"`
	// ChainFrom is the sequence number of the campaign's first hashed
	// journal entry (1 for campaigns created since it is recorded; set at
	// the first append for older ones): an entry without a hash at or
	// after it is refused by VerifyJournal, so stripping every hash does
	// not pass for a journal written before the chain existed. 0 while
	// the journal has no hashed entry. The store sets it; PutCampaign
	// keeps it.
	ChainFrom uint64 `json:"chain_from,omitempty"`
	// ClosedAt is when the campaign closed: nobody pending, every removal
	// batch decided and executed, its tasks closed. A closed campaign no
	// longer ticks.
	ClosedAt time.Time `json:"closed_at,omitzero"`

	// Policies is what the policy criterion found, open and closed, and
	// PolicyTask the team's task that lists them (nil until filed).
	Policies   []PolicyFinding `json:"policies,omitempty"`
	PolicyTask *PolicyTask     `json:"policy_task,omitempty"`
}

// Closed reports whether the campaign has closed.
func (c Campaign) Closed() bool { return !c.ClosedAt.IsZero() }

// LastRun returns the latest recurring run, or nil before the first.
func (c *Campaign) LastRun() *Run {
	if len(c.Runs) == 0 {
		return nil
	}
	return &c.Runs[len(c.Runs)-1]
}

// Run is one recurring scan of a campaign's groups and what it found
// compared with the run before it.
type Run struct {
	N  int       `json:"n"` // 1 for the first run after launch
	At time.Time `json:"at"`
	// Found are the user PHIDs found non-compliant by this run: the next
	// run compares with them.
	Found []string `json:"found"`
	// New are the members found now and not by the run before; Fixed
	// were found before and are compliant members now; Gone were found
	// before and are members of no audited group now (removed or left).
	New   []RunUser `json:"new,omitempty"`
	Fixed []string  `json:"fixed,omitempty"` // usernames
	Gone  []string  `json:"gone,omitempty"`  // usernames
	// Batches are the batches the run added for new members (mode join).
	Batches []int `json:"batches,omitempty"`
	// Instance is the campaign instance the run started (mode instance).
	Instance string `json:"instance,omitempty"`
	// Cutoff is the deadline of the members the run added.
	Cutoff time.Time `json:"cutoff,omitzero"`
}

// RunUser is a member a recurring run found newly non-compliant.
type RunUser struct {
	PHID     string   `json:"phid"`
	Username string   `json:"username"`
	Reasons  []string `json:"reasons"`
	Groups   []string `json:"groups,omitempty"` // group names
	// Joined says whether the run added them (false: they had a finding
	// already, which drift watches).
	Joined bool `json:"joined,omitempty"`
}

// Group is an audited access group as resolved at launch.
type Group struct {
	PHID string `json:"phid"`
	Name string `json:"name"`
	Slug string `json:"slug"`
	Risk string `json:"risk"`
	// RemovalBaseline is how many members the group had when the campaign
	// first proposed removing any of them: the removal guard-rail measures
	// everything the campaign removes from the group against it, so that
	// rounds cannot add up to more than one batch may remove. 0 until
	// then (and in state files written before it was recorded).
	RemovalBaseline int `json:"removal_baseline,omitempty"`
}

// GroupByPHID returns the campaign's group with that PHID.
func (c *Campaign) GroupByPHID(phid string) (Group, bool) {
	for _, g := range c.Groups {
		if g.PHID == phid {
			return g, true
		}
	}
	return Group{}, false
}

// Status is where an affected user stands in a campaign.
type Status string

// Finding statuses. Pending is the only one that still leads to removal
// (together with Voluntary); the others end the user's part in the campaign
// unless they change again.
const (
	StatusPending   Status = "pending"    // non-compliant, deadline not reached or removal not yet done
	StatusCompliant Status = "compliant"  // became compliant (verified over Conduit)
	StatusLeft      Status = "left-group" // no longer a member of any audited group, on their own
	StatusDisabled  Status = "disabled"   // account disabled since (for an MFA finding)
	StatusExempt    Status = "exempt"     // exemption granted by approvers
	StatusVoluntary Status = "voluntary"  // asked to be removed
	StatusRemoved   Status = "removed"    // the bot removed them from RemovedFrom
	StatusRestored  Status = "restored"   // re-added after removal
)

// Removable reports whether a user in this status goes into a removal batch.
func (s Status) Removable() bool { return s == StatusPending || s == StatusVoluntary }

// Finding is one affected user in one campaign.
type Finding struct {
	UserPHID string   `json:"user_phid"`
	Username string   `json:"username"`
	RealName string   `json:"real_name"`
	Groups   []string `json:"groups"`  // group PHIDs where the user is non-compliant
	Reasons  []string `json:"reasons"` // criteria: "mfa", "disabled"
	Status   Status   `json:"status"`
	Batch    int      `json:"batch"` // index of the batch (task) the user is in
	// Cutoff, when set, is a per-user extension of the campaign's cutoff.
	Cutoff       time.Time `json:"cutoff,omitzero"`
	Unsubscribed bool      `json:"unsubscribed,omitempty"`
	// Exemption is the latest exemption request and its decision.
	Exemption *Exemption `json:"exemption,omitempty"`
	// ExemptionHistory holds the earlier requests, oldest first: a new
	// request (such as asking to extend a dated exemption) never erases a
	// granted one, so denying it leaves the grant as it was, ending on its
	// date (see ExemptionInForce).
	ExemptionHistory []Exemption `json:"exemption_history,omitempty"`
	// VoluntarySource is the comment in which the user asked to be
	// removed; before a removal runs the bot reads it again, and an edit
	// that takes the request back ends the voluntary removal.
	VoluntarySource *Source `json:"voluntary_source,omitempty"`
	// RestoreRequested is set when a removed user asks to come back.
	RestoreRequested bool `json:"restore_requested,omitempty"`
	// ForcedRestore is set when the last restore was forced past a failed
	// compliance check: a person decided, so drift does not undo it.
	ForcedRestore bool `json:"forced_restore,omitempty"`
	// Restores counts completed restores, naming the next restore's ops.
	Restores int `json:"restores,omitempty"`
	// RemovedFrom lists the group PHIDs the bot removed the user from;
	// restore re-adds exactly these.
	RemovedFrom []string `json:"removed_from,omitempty"`
	// Disabled reports that the bot disabled the user's account (a
	// campaign with action disable): RemovedFrom then lists the groups
	// the disabling was for, whose memberships are left as they are, and a
	// restore enables the account instead of adding memberships back.
	Disabled bool `json:"disabled,omitempty"`
	// NeedsHuman holds replies the bot could not classify.
	NeedsHuman []string `json:"needs_human,omitempty"`
	// TeamTask is set for a user listed on the team's task instead of a
	// task of their own (a disabled account cannot log in to read one):
	// they are never subscribed or mentioned, and have no deadline to wait
	// for; approvers decide.
	TeamTask bool `json:"team_task,omitempty"`
	// Kept records, per criterion (Reasons entry), who said the user keeps
	// access and where: the user's own reply ("still here", "still need
	// it") or an approver's "!keep @user". It meets the criteria a reply
	// can meet (inactive, reconfirm; list only by an approver).
	Kept map[string]Keep `json:"kept,omitempty"`
	// KeepApprovals are approvers' "!keep @user" counted so far while
	// fewer than the user's groups require (an approver's keep is an
	// exemption without end date: as many distinct approvers as an
	// exemption). Once enough, they move into the Keep they make.
	KeepApprovals []Approval `json:"keep_approvals,omitempty"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// Keep is one "keeps access" statement about a finding.
type Keep struct {
	At time.Time `json:"at"`
	// By is the username who said so: the user, or the approver.
	By string `json:"by"`
	// Approver is set when By is an approver (a verified !keep).
	Approver bool `json:"approver,omitempty"`
	// Source is the comment; before a removal round the bot reads it again,
	// and an edit that takes it back ends the keep.
	Source *Source `json:"source,omitempty"`
	// Approvals are, for an approver's keep, every approver's "!keep
	// @user" it rests on (By and Source are the last one). Re-read like
	// exemption approvals: once fewer than required still stand (edited
	// away, or the approver lapsed), the keep ends.
	Approvals []Approval `json:"approvals,omitempty"`
}

// EffectiveCutoff is the later of the user's own extended cutoff and the
// campaign's: extending the campaign never shortens a user's extension, and
// vice versa.
func (f *Finding) EffectiveCutoff(c *Campaign) time.Time {
	if f.Cutoff.After(c.Cutoff) {
		return f.Cutoff
	}
	return c.Cutoff
}

// Extended reports whether the user has a deadline later than the
// campaign's.
func (f *Finding) Extended(c *Campaign) bool { return f.Cutoff.After(c.Cutoff) }

// ExemptionInForce returns the granted exemption that protects the user
// now: the latest request if it was granted, else, while a newer request
// waits or after it was denied, the grant it would have replaced. Nil if
// none.
func (f *Finding) ExemptionInForce() *Exemption {
	if f.Exemption == nil {
		return nil
	}
	if f.Exemption.Decision == ExemptionGranted {
		return f.Exemption
	}
	if n := len(f.ExemptionHistory); n > 0 && f.ExemptionHistory[n-1].Decision == ExemptionGranted {
		return &f.ExemptionHistory[n-1]
	}
	return nil
}

// RequestExemption records a new exemption request. The one it follows
// goes to the history, so a grant stays on record and in force until the
// new request is decided.
func (f *Finding) RequestExemption(e Exemption) {
	if f.Exemption != nil {
		// A request still pending is superseded by the new one; a
		// decided one is history.
		f.ExemptionHistory = append(f.ExemptionHistory, *f.Exemption)
	}
	f.Exemption = &e
}

// Exemption decisions.
const (
	ExemptionPending Decision = "pending"
	ExemptionGranted Decision = "granted"
	ExemptionDenied  Decision = "denied"
)

// Exemption is a user's request not to be removed, and its decision.
type Exemption struct {
	Reason      string    `json:"reason"`
	Until       time.Time `json:"until,omitzero"`
	RequestedAt time.Time `json:"requested_at"`
	Decision    Decision  `json:"decision"` // ExemptionPending, ExemptionGranted, ExemptionDenied
	DecidedBy   string    `json:"decided_by,omitempty"`
	// ApprovedBy are the distinct approvers (PHIDs) who approved it; it is
	// granted once as many approve as the user's riskiest group needs.
	ApprovedBy []string `json:"approved_by,omitempty"`
	// Approvals are the approvals in ApprovedBy with where each was given,
	// so the bot can read the approving comment again before the
	// exemption counts (absent in files written before they were kept).
	Approvals []Approval `json:"approvals,omitempty"`
	Note      string     `json:"note,omitempty"`
}

// Source is the comment a decision was read from: the task and the
// transaction, which keeps its PHID when the comment is edited.
type Source struct {
	TaskPHID string `json:"task_phid"`
	Task     string `json:"task"` // monogram, for people
	TxPHID   string `json:"tx_phid"`
	TxID     int    `json:"tx_id"`
}

// Batch is one task: the users it subscribes and what the bot has read of it.
type Batch struct {
	Index     int       `json:"index"`
	UserPHIDs []string  `json:"user_phids"`
	TaskID    int       `json:"task_id,omitempty"`
	TaskPHID  string    `json:"task_phid,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	// TxCursor is the id of the last task transaction the bot has processed.
	TxCursor int `json:"tx_cursor"`
	// Announced maps a removal batch's label to the transaction id of the
	// bot's announcement of it on this task: an approver's command counts
	// only if it comes after the announcement it answers.
	Announced map[string]int `json:"announced,omitempty"`
	// Run is the recurring run that added the batch (0: the launch), and
	// Cutoff its users' deadline, which its task states.
	Run    int       `json:"run,omitempty"`
	Cutoff time.Time `json:"cutoff,omitzero"`
	// Team is set for the campaign's task for its team: it lists users who
	// are not told themselves (disabled accounts) and subscribes none of
	// them.
	Team bool `json:"team,omitempty"`
	// ApproversSubscribed is set when the bot records its intent to
	// subscribe the approvers' project to the task (it asks them for a
	// decision). From then on the project is an allowed subscriber, even
	// if an administrator removes and re-adds it: the task's history
	// then no longer shows the bot as the one who added it.
	ApproversSubscribed bool `json:"approvers_subscribed,omitempty"`
	// Flooded counts, per author PHID, the comments read past the cursor
	// without being answered one by one (more than one person may send
	// in one tick, see bot's maxRepliesPerAuthor) and not yet reported:
	// the bot journals and acknowledges them once, then clears the count.
	Flooded map[string]int `json:"flooded,omitempty"`
	// Seen is what the bot last read of the task, and as of when: a tick
	// reads a task's subscribers and transactions again only if it
	// changed since (see TaskSeen).
	Seen TaskSeen `json:"seen,omitzero"`
}

// TaskSeen is the bot's cursor on one task beside TxCursor: what it read
// of the task and as of when, on the server's clock. Every change to a
// task (a comment, a subscriber or policy edit) moves its dateModified to
// the server's clock at that moment (NOTES fact 47), so a task whose
// dateModified is before an "As of" time has not changed since the bot
// read it. Each time is set only once the tick's work that rests on that
// read is recorded: a crash before leaves it where it was, and the task
// is read again.
type TaskSeen struct {
	// Modified is the task's dateModified when it was last read.
	Modified time.Time `json:"modified,omitzero"`
	// Subscribers is the task's complete subscriber list, read at a
	// time after SubscribersAsOf and checked by the guard.
	Subscribers     []string  `json:"subscribers,omitempty"`
	SubscribersAsOf time.Time `json:"subscribers_as_of,omitzero"`
	// RepliesAsOf: every transaction made before it is at or behind
	// TxCursor, and was answered.
	RepliesAsOf time.Time `json:"replies_as_of,omitzero"`
	// SubscribersModified and RepliesModified are the task's
	// dateModified when its subscribers, and its transactions, were last
	// read: a task whose dateModified differs has changed since, whatever
	// the Date header said (its clock may not be the one dateModified
	// is stamped with).
	SubscribersModified time.Time `json:"subscribers_modified,omitzero"`
	RepliesModified     time.Time `json:"replies_modified,omitzero"`
}

// Monogram returns "T123", or "" before the task exists.
func (b *Batch) Monogram() string {
	if b.TaskID == 0 {
		return ""
	}
	return "T" + itoa(b.TaskID)
}

// Has reports whether the user is in this batch.
func (b *Batch) Has(userPHID string) bool { return slices.Contains(b.UserPHIDs, userPHID) }

// RemovalStatus is where a removal batch stands.
type RemovalStatus string

// Removal batch statuses.
const (
	RemovalProposed RemovalStatus = "proposed"
	RemovalApproved RemovalStatus = "approved"
	RemovalDone     RemovalStatus = "done"
	RemovalRejected RemovalStatus = "rejected"
)

// Removal is a proposed set of (user, group) removals and its approvals.
type Removal struct {
	ID         int           `json:"id"`
	ProposedAt time.Time     `json:"proposed_at"`
	Items      []RemovalItem `json:"items"`
	// RequiredApprovals is the number of distinct approvers needed: the
	// maximum over the items' groups' risk levels.
	RequiredApprovals int           `json:"required_approvals"`
	Approvals         []Approval    `json:"approvals,omitempty"`
	Status            RemovalStatus `json:"status"`
	AutoApproved      bool          `json:"auto_approved,omitempty"`
	RejectedBy        string        `json:"rejected_by,omitempty"`
	RejectReason      string        `json:"reject_reason,omitempty"`
	// Held says why the removal guard-rail keeps an approved batch from
	// being executed; "" when it does not.
	Held string `json:"held,omitempty"`
	// Action is what the batch does once approved, fixed when it is
	// proposed so that approvals cover what was announced: "" removes
	// the memberships, "disable" disables the accounts of its users
	// (campaigns.ActionDisable).
	Action string `json:"action,omitempty"`
}

// ActionDisable is Removal.Action for a batch that disables accounts.
const ActionDisable = "disable"

// Disables reports whether the batch disables accounts rather than
// removing memberships.
func (r *Removal) Disables() bool { return r.Action == ActionDisable }

// Accounts lists the distinct users of the batch, in item order.
func (r *Removal) Accounts() []string {
	var out []string
	for _, it := range r.Items {
		if !slices.Contains(out, it.UserPHID) {
			out = append(out, it.UserPHID)
		}
	}
	return out
}

// Label is the removal batch's name in texts and commands: "R1".
func (r *Removal) Label() string { return "R" + itoa(r.ID) }

// ApprovedBy reports whether userPHID has already given an approval that
// covers task batch idx; idx < 0 asks about any approval at all.
func (r *Removal) ApprovedBy(userPHID string, idx int) bool {
	return slices.ContainsFunc(r.Approvals, func(a Approval) bool {
		return a.ApproverPHID == userPHID && (idx < 0 || a.Covers(idx))
	})
}

// ApprovalsFor counts the distinct approvers whose approvals cover the
// items of task batch idx.
func (r *Removal) ApprovalsFor(idx int) int {
	var who []string
	for _, a := range r.Approvals {
		if a.Covers(idx) && !slices.Contains(who, a.ApproverPHID) {
			who = append(who, a.ApproverPHID)
		}
	}
	return len(who)
}

// ApprovalCount is how many approvals the batch has, as its
// RequiredApprovals counts them: distinct approvers (an approver who
// approved on a task and again on the command line counts once), and
// since an approval counts only for the items its approver was shown,
// the fewest that cover any one item. A batch without items counts every
// distinct approver. Every "N of M approvals" shown anywhere is this N.
func (r *Removal) ApprovalCount() int {
	if len(r.Items) == 0 {
		return len(r.Approvers())
	}
	n := -1
	for _, it := range r.Items {
		if c := r.ApprovalsFor(it.Batch); n < 0 || c < n {
			n = c
		}
	}
	return n
}

// FullyApproved reports whether every item is covered by as many
// distinct approvers as the batch needs: an approval counts only for the
// items its approver was shown.
func (r *Removal) FullyApproved() bool { return r.ApprovalCount() >= r.RequiredApprovals }

// Approver is one person who approved a removal batch, with every
// approval they gave: on a task, on the command line, or both.
type Approver struct {
	PHID, Username string
	Approvals      []Approval
}

// ApprovalsByApprover returns the batch's distinct approvers in the
// order they first approved, each with their approvals.
func (r *Removal) ApprovalsByApprover() []Approver {
	var out []Approver
	for _, a := range r.Approvals {
		i := slices.IndexFunc(out, func(p Approver) bool { return p.PHID == a.ApproverPHID })
		if i < 0 {
			out = append(out, Approver{PHID: a.ApproverPHID, Username: a.Username})
			i = len(out) - 1
		}
		out[i].Approvals = append(out[i].Approvals, a)
	}
	return out
}

// Why an approver may not approve a removal batch (Removal.MayApprove).
var (
	ErrNotWaiting      = errors.New("not waiting for approval")
	ErrApproverInBatch = errors.New("the approver is in the batch")
	ErrAlreadyApproved = errors.New("already approved")
)

// MayApprove says whether approverPHID may approve the batch's items of
// the task batches in scope (empty: every item, as the command line shows
// them all): the batch must wait for approval, nobody decides on a batch
// that removes them, and one person counts once for what they were shown.
// Approvals on a task and on the command line both ask it.
func (r *Removal) MayApprove(approverPHID string, scope []int) error {
	switch {
	case r.Status != RemovalProposed:
		return ErrNotWaiting
	case r.Removes(approverPHID):
		return ErrApproverInBatch
	case r.approvedScope(approverPHID, scope):
		return ErrAlreadyApproved
	}
	return nil
}

// approvedScope reports whether user's approvals already cover every
// item of the task batches in scope (empty: every item).
func (r *Removal) approvedScope(user string, scope []int) bool {
	if len(scope) > 0 {
		return !slices.ContainsFunc(scope, func(idx int) bool { return !r.ApprovedBy(user, idx) })
	}
	for _, it := range r.Items {
		if !r.ApprovedBy(user, it.Batch) {
			return false
		}
	}
	return r.ApprovedBy(user, -1)
}

// Approve adds an approval MayApprove allowed, and marks the batch
// approved once every item is covered (FullyApproved).
func (r *Removal) Approve(a Approval) {
	r.Approvals = append(r.Approvals, a)
	if r.FullyApproved() {
		r.Status = RemovalApproved
	}
}

// Removes reports whether the batch would remove user from a group: they
// may not decide on it.
func (r *Removal) Removes(userPHID string) bool {
	return slices.ContainsFunc(r.Items, func(it RemovalItem) bool { return it.UserPHID == userPHID })
}

// Approvers lists the distinct people who approved the batch, by PHID, in
// the order of their first approval: one person may hold several
// approvals (one per task and one on the command line) and counts once.
func (r *Removal) Approvers() []string {
	var out []string
	for _, a := range r.Approvals {
		if !slices.Contains(out, a.ApproverPHID) {
			out = append(out, a.ApproverPHID)
		}
	}
	return out
}

// RemovalItem is one (user, group) pair to remove.
type RemovalItem struct {
	UserPHID  string `json:"user_phid"`
	Username  string `json:"username"`
	GroupPHID string `json:"group_phid"`
	GroupName string `json:"group_name"`
	Risk      string `json:"risk"`
	Voluntary bool   `json:"voluntary,omitempty"`
	Batch     int    `json:"batch"`
	Done      bool   `json:"done,omitempty"`
}

// Approval is one approver's verified approval.
type Approval struct {
	ApproverPHID string    `json:"approver_phid"`
	Username     string    `json:"username"`
	At           time.Time `json:"at"`
	Via          string    `json:"via"` // "cli" or a task monogram
	// Operator is who ran the command, for approvals made with the CLI.
	Operator string `json:"operator,omitempty"`
	// Verified says how the approver's identity was established, for
	// the journal and status: "task T12 comment PHID-XACT-…" or "cli:
	// user.whoami with the approver's token".
	Verified string `json:"verified,omitempty"`
	// Source is the approving comment, for approvals given on a task;
	// nil for the CLI.
	Source *Source `json:"source,omitempty"`
	// Scope lists the task batches (Batch.Index) whose items the approver
	// was shown and so approves: a task's announcement shows only that
	// task's items. Empty means every item of the removal batch (the CLI
	// shows them all, and approvals recorded before scopes existed).
	Scope []int `json:"scope,omitempty"`
}

// Where says where the approval was given, for people: "task T12
// comment" or "command line" (with the operator who ran it).
func (a *Approval) Where() string {
	if a.Via == "cli" {
		if a.Operator != "" {
			return "command line, operator " + a.Operator
		}
		return "command line"
	}
	return "task " + a.Via + " comment"
}

// Covers reports whether the approval covers items of task batch idx.
func (a *Approval) Covers(idx int) bool { return len(a.Scope) == 0 || slices.Contains(a.Scope, idx) }

// OpState is where a journaled side effect stands.
type OpState string

// Op states: an op is written Pending before the side effect and Done after
// it; a Pending op found on start means a crash in between, and the bot
// reconciles with Phabricator before acting again.
const (
	OpPending OpState = "pending"
	OpDone    OpState = "done"
)

// Op is the intent record of one side effect, keyed by an idempotency key
// that is also the marker written into Phabricator.
type Op struct {
	Key       string    `json:"key"`
	Kind      OpKind    `json:"kind"`
	State     OpState   `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	DoneAt    time.Time `json:"done_at,omitzero"`
	Result    string    `json:"result,omitempty"` // e.g. the task PHID
	// Subjects are what the write acts on (e.g. the users a project.edit
	// removes), recorded with the intent so that reconciling after a crash
	// checks and records exactly what was sent.
	Subjects []string `json:"subjects,omitempty"`
	Attempts int      `json:"attempts"`
	// Args is what finishing the op after a crash needs and cannot read
	// back from Phabricator or the rest of the state: the task a comment
	// goes on, an extension's old and new deadline, the command a restore
	// answers. It is recorded with the intent, before the side effect.
	Args map[string]string `json:"args,omitempty"`
	// ReconcileError is why the last attempt to find out whether the op's
	// write landed failed; status shows it as needing a human.
	ReconcileError string `json:"reconcile_error,omitempty"`
}

// Entry is one line of a campaign's append-only journal: the audit record.
// Who did what to whom, when, verified how, with what outcome. Entries are
// hash-chained (see CampaignTx.Append and Store.VerifyJournal).
type Entry struct {
	Seq uint64 `json:"seq"`
	// At is the campaign clock: the bot's notion of now, which `tick --now`
	// simulates. Recorded is the real time the entry was written, set by
	// Append; entries before the chain existed have none.
	At       time.Time `json:"at"`
	Recorded time.Time `json:"recorded,omitzero"`
	Kind     EntryKind `json:"kind"`
	// Actor is who acted: the bot's username, a Phabricator user, or for
	// a CLI command the OS operator. ActorKind says which (ActorBot,
	// ActorUser, ActorCLI); Verified says how the actor was verified.
	Actor     string `json:"actor,omitempty"`
	ActorKind string `json:"actor_kind,omitempty"`
	Verified  string `json:"verified,omitempty"`
	// Operator is the OS user who ran a CLI command on someone's behalf.
	Operator string `json:"operator,omitempty"`
	Task     string `json:"task,omitempty"`
	User     string `json:"user,omitempty"`
	Group    string `json:"group,omitempty"`
	// Users and Groups are every subject (usernames, group names) when
	// there are several; Append fills them from User and Group otherwise.
	Users  []string `json:"users,omitempty"`
	Groups []string `json:"groups,omitempty"`
	// Approvers are all the people whose approvals made a decision, in
	// the order they approved.
	Approvers []string `json:"approvers,omitempty"`
	Outcome   string   `json:"outcome,omitempty"`
	Detail    string   `json:"detail,omitempty"`
	// PrevHash is the previous entry's Hash; Hash is the SHA-256 of this
	// entry's canonical encoding with Hash empty.
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`
}

// Actor kinds.
const (
	ActorBot  = "bot"  // the bot itself, on its own schedule
	ActorUser = "user" // a Phabricator user, by a comment on a task
	ActorCLI  = "cli"  // an operator at the command line
)

// HasUser reports whether username is a subject of the entry.
func (e *Entry) HasUser(username string) bool {
	return e.User == username || slices.Contains(e.Users, username)
}

// LastDay is the date a cutoff names ("2027-02-28"): a cutoff is stored as
// the end of that day in UTC, midnight of the day after, so the date is
// that of the second before it.
func LastDay(cutoff time.Time) string {
	return cutoff.UTC().Add(-time.Second).Format(time.DateOnly)
}

// CutoffText is how every output names a cutoff for people: its last day
// and when in it the cutoff passes, "2027-06-30, end of day UTC". The
// instant itself (midnight UTC of the day after) is never shown: read as
// a date it names the wrong day.
func CutoffText(cutoff time.Time) string { return LastDay(cutoff) + ", end of day UTC" }
