package state

// EntryKind names what a journal entry records. Kinds are stored in the
// state file and read back by status, the journal command and tests, so
// their strings never change once released (TestEntryKindStrings pins
// them). A journal kind is not a template name, even where the words are
// the same: the bot/templates packages name texts, these name events.
type EntryKind string

// Journal kinds, grouped by the chore that writes them.
const (
	// Launch and tasks.
	EntryLaunch         EntryKind = "launch"
	EntryTaskCreated    EntryKind = "task-created" // also OpTaskCreated's outcome
	EntryPolicyMismatch EntryKind = "policy-mismatch"
	EntryPolicyRestored EntryKind = "policy-restored" // also OpPolicyRestored's outcome
	// EntryAccessRevoked: someone else gave access to a task (subscribed
	// a user or project, or assigned it) and the bot took it back.
	EntryAccessRevoked EntryKind = "access-revoked" // also OpAccessRevoked's outcome
	EntryDrift         EntryKind = "drift"

	// Reminders and deadlines.
	EntryReminder           EntryKind = "reminder"
	EntryDeadlineExtended   EntryKind = "deadline-extended"
	EntryExtensionAnnounced EntryKind = "extension-announced"

	// Replies on the tasks.
	EntryIgnored EntryKind = "ignored"
	// EntryReplyFlood: one person wrote more comments on a task in one
	// tick than the bot answers one by one; the rest were counted,
	// acknowledged once and flagged for a human.
	EntryReplyFlood         EntryKind = "reply-flood"
	EntryUnsubscribed       EntryKind = "unsubscribed"
	EntryClaimRejected      EntryKind = "claim-rejected"
	EntryClaimVerified      EntryKind = "claim-verified"
	EntryRestoreRequested   EntryKind = "restore-requested"
	EntryVoluntary          EntryKind = "voluntary"
	EntryNeedsHuman         EntryKind = "needs-human"
	EntryExemptionRequested EntryKind = "exemption-requested"
	EntryExemptionDecision  EntryKind = "exemption-decision"
	EntryApprovalRecorded   EntryKind = "approval-recorded"
	EntryCommandRefused     EntryKind = "command-refused"
	EntryRestoreCommand     EntryKind = "restore-command"
	// EntryApprovalWithdrawn: an approval's comment no longer says the
	// same approve command (edited or deleted after the bot read it).
	// EntryVoluntaryWithdrawn: a "remove me" was edited into something else.
	EntryApprovalWithdrawn  EntryKind = "approval-withdrawn"
	EntryVoluntaryWithdrawn EntryKind = "voluntary-withdrawn"
	// EntryKept: a user's reply ("still here", "still need it") or an
	// approver's !keep keeps their access under a criterion a reply can
	// meet. EntryKeepWithdrawn: its comment was edited into something else.
	EntryKept          EntryKind = "kept"
	EntryKeepWithdrawn EntryKind = "keep-withdrawn"
	// EntryListUnmatched: launch found names in a list criterion's file
	// that are unknown or not members (plan shows them too).
	EntryListUnmatched EntryKind = "list-unmatched"

	// Approvals given on the command line.
	EntryApprovalRefused EntryKind = "approval-refused"
	EntryRemovalApproval EntryKind = "removal-approval"
	EntryApprovalLapsed  EntryKind = "approval-lapsed"

	// Removals.
	EntryRemovalProposed  EntryKind = "removal-proposed"
	EntryRemovalAnnounced EntryKind = "removal-announced"
	EntryMembersRemoved   EntryKind = "members-removed" // also OpMembersRemoved's outcome
	EntryRemovalHeld      EntryKind = "removal-held"
	EntryRemovalReleased  EntryKind = "removal-released"
	EntryRemovalNotice    EntryKind = "removal-notice"
	EntryRemovalDone      EntryKind = "removal-done"

	// Restores.
	EntryMemberRestored EntryKind = "member-restored" // also OpMemberRestored's outcome
	EntryRestored       EntryKind = "restored"

	// Recurring runs and the campaign's lifecycle.
	EntryRun             EntryKind = "recurring-run"
	EntryRunSummary      EntryKind = "run-summary"
	EntryInstanceStarted EntryKind = "instance-started"
	// EntryRunRefused journals that recurring runs stopped (or started
	// again, with an empty detail) for a reason a person must resolve.
	EntryRunRefused       EntryKind = "run-refused"
	EntryApprovalReminder EntryKind = "approval-reminder"
	EntryApprovalOverdue  EntryKind = "approval-overdue"
	EntryTaskClosed       EntryKind = "task-closed" // also OpTaskClosed's outcome
	EntryCampaignClosed   EntryKind = "campaign-closed"
	// EntryTrackingSummary: the campaign's summary was posted on its
	// tracking task (also OpTrackingSummary's outcome).
	EntryTrackingSummary EntryKind = "tracking-summary"

	// The policy audit. EntryPolicyFound: a risky policy was found (a
	// finding opened); EntryPolicyCleared: it is no longer there (closed);
	// EntryPolicyFixed: the bot set the safe value after !fix (also
	// OpPolicyFixed's outcome).
	EntryPolicyFound   EntryKind = "policy-found"
	EntryPolicyCleared EntryKind = "policy-cleared"
	EntryPolicyFixed   EntryKind = "policy-fixed"

	// Accounts disabled (a campaign with action disable) and enabled
	// again by a restore. EntryDisableRefused: the bot would not disable
	// an account it found, right before, to be a bot, an administrator or
	// an approver of the campaign.
	EntryAccountDisabled EntryKind = "account-disabled" // also OpAccountDisabled's outcome
	EntryAccountEnabled  EntryKind = "account-enabled"  // also OpAccountEnabled's outcome
	EntryDisableRefused  EntryKind = "disable-refused"

	// Ops settled without their chore.
	// EntryComment journals a stale comment op found posted (its own
	// kind, OpComment, stands in for the chore's kind it no longer knows).
	EntryComment EntryKind = "comment"
	// EntryWriteDropped journals a pending write found not to have landed
	// and no longer wanted (a reminder a later one superseded).
	EntryWriteDropped EntryKind = "write-dropped"
)

// OpKind names what kind of side effect an op records. Like EntryKind it is
// stored and never renamed (TestOpKindStrings).
type OpKind string

// Op kinds.
const (
	OpTaskCreated    OpKind = "task-created"
	OpComment        OpKind = "comment"
	OpMembersRemoved OpKind = "members-removed"
	OpMemberRestored OpKind = "member-restored"
	OpPolicyRestored OpKind = "policy-restored"
	OpAccessRevoked  OpKind = "access-revoked"
	// OpDeadlineExtended is the intent of an extend: the deadline moved in
	// the transaction that recorded it, its announcements follow.
	OpDeadlineExtended OpKind = "deadline-extended"
	// OpRestore is the intent of a restore, recorded once its checks
	// passed and before any membership is written.
	OpRestore OpKind = "restore"
	// OpTaskClosed closes a task with a summary comment, in one edit.
	OpTaskClosed OpKind = "task-closed"
	// OpTrackingSummary posts a closing campaign's summary on its
	// tracking task (campaign key tracking_task), a task the bot did not
	// file: one comment, found again by its marker.
	OpTrackingSummary OpKind = "tracking-summary"
	// OpPolicyFixed sets a policy finding's safe value (project.edit or
	// maniphest.edit), approved by !fix.
	OpPolicyFixed OpKind = "policy-fixed"
	// OpAccountDisabled disables one account (user.edit), for a removal
	// batch of a campaign with action disable; OpAccountEnabled enables it
	// again, for a restore.
	OpAccountDisabled OpKind = "account-disabled"
	OpAccountEnabled  OpKind = "account-enabled"
)

// Entry is the journal kind an op's outcome is recorded under when the
// effect gives none of its own: the op kind's own name.
func (k OpKind) Entry() EntryKind { return EntryKind(k) }

// Decision is where an exemption request stands. It is stored in the state
// file (TestDecisionStrings pins the words).
type Decision string
