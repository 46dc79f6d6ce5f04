package bot

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/auditbot/auditbot/state"
)

// OpKey is the idempotency key of one side effect: the key of its
// state.Op and the tail of the marker line (see marker) written into
// Phabricator with it. Tasks and comments already filed carry these
// strings, so the format of every key is frozen: TestOpKeyGolden pins
// each constructor's output, and every key is built and parsed here only.
type OpKey string

// Key prefixes; each names a family of keys built below.
const (
	taskPrefix          OpKey = "task/"
	replyPrefix         OpKey = "reply/"
	repliesPrefix       OpKey = "replies/"
	reminderPrefix      OpKey = "reminder/"
	extensionPrefix     OpKey = "extension/"
	extendPrefix        OpKey = "extend/"
	removalPrefix       OpKey = "removal/"
	restorePrefix       OpKey = "restore/"
	policyRestoreFamily OpKey = "policy-restore/"
	recurringPrefix     OpKey = "recurring/"
	closePrefix         OpKey = "close/"
	accessRevokeFamily  OpKey = "access-revoke/"
	policyPrefix        OpKey = "policy-audit/"
)

// hasPrefix reports whether k starts with prefix.
func (k OpKey) hasPrefix(prefix OpKey) bool { return strings.HasPrefix(string(k), string(prefix)) }

// under reports whether k is parent or one of the keys of the writes
// made under it (parent + "/" + ...), as a restore's writes are.
func (k OpKey) under(parent OpKey) bool {
	return k == parent || strings.HasPrefix(string(k), string(parent)+"/")
}

// taskKey is the op key of filing batch's task.
func taskKey(batch int) OpKey { return OpKey(fmt.Sprintf("task/batch-%d", batch)) }

// repliesKey is the op key of the one comment that answers the replies
// read on batch's task in one tick, the first of them being transaction
// first (the op's args list them all). Each transaction is covered once,
// since the cursor moves past it as its answer is recorded, so the key is
// unique.
func repliesKey(batch, first int) OpKey {
	return OpKey(fmt.Sprintf("replies/batch-%d/%d", batch, first))
}

// parseRepliesKey is the inverse of repliesKey.
func parseRepliesKey(key OpKey) (batch, first int, ok bool) {
	rest, ok := strings.CutPrefix(string(key), "replies/batch-")
	if !ok {
		return 0, 0, false
	}
	b, f, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, false
	}
	var err1, err2 error
	batch, err1 = strconv.Atoi(b)
	first, err2 = strconv.Atoi(f)
	return batch, first, err1 == nil && err2 == nil
}

// replyKey is the op key of answering the task transaction xactPHID: how
// auditbot answered each reply with its own comment before answers were
// combined (repliesKey). A pending one is still finished that way, so it
// is not answered twice.
func replyKey(xactPHID string) OpKey { return OpKey(fmt.Sprintf("reply/%s", xactPHID)) }

// reminderKey is the op key of the reminder sent offset (e.g. "7d") before
// the campaign deadline date ("YYYY-MM-DD") on batch's task.
func reminderKey(date, offset string, batch int) OpKey {
	return OpKey(fmt.Sprintf("reminder/%s/%s/batch-%d", date, offset, batch))
}

// userReminderKey is the op key of the reminder sent offset before a
// user's own (extended) deadline date.
func userReminderKey(date, offset, username string) OpKey {
	return OpKey(fmt.Sprintf("reminder/%s/%s/user-%s", date, offset, username))
}

// extensionKey is the op key of moving the deadline to newDate, for the
// whole campaign or (username set) for one user. It is not a prefix of
// the announcements' keys (extend/...).
func extensionKey(newDate, username string) OpKey {
	if username == "" {
		return OpKey("extension/" + newDate)
	}
	return OpKey("extension/" + newDate + "/" + username)
}

// extendKey is the op key of announcing the campaign's new deadline
// newDate on batch's task.
func extendKey(newDate string, batch int) OpKey {
	return OpKey(fmt.Sprintf("extend/%s/batch-%d", newDate, batch))
}

// userExtendKey is the op key of announcing a user's new deadline newDate
// on their task.
func userExtendKey(newDate, username string) OpKey {
	return OpKey(fmt.Sprintf("extend/%s/%s", newDate, username))
}

// removalStep names what a removal batch's op does; it is the third part
// of its key (removal/<label>/<step>/...).
type removalStep string

const (
	stepProposal removalStep = "proposal" // the announcement on a task
	stepHeld     removalStep = "held"     // the guard-rail's note on a task
	stepRemove   removalStep = "remove"   // the membership write on a group
	stepDisable  removalStep = "disable"  // the account write on a user (action disable)
	stepNotice   removalStep = "notice"   // the notice once removed
	// stepApprovalReminder reminds the approvers of a batch left
	// undecided; stepOverdue tells the team after a second period.
	stepApprovalReminder removalStep = "approval-reminder"
	stepOverdue          removalStep = "overdue"
)

// removalKey is the op key of step of removal batch label (e.g. "R1") for
// what: "batch-N" for a task, a group PHID for stepRemove.
func removalKey(label string, step removalStep, what string) OpKey {
	return OpKey(fmt.Sprintf("removal/%s/%s/%s", label, step, what))
}

// proposalKey is the op key of announcing removal batch label on batch's task.
func proposalKey(label string, batch int) OpKey {
	return removalKey(label, stepProposal, "batch-"+strconv.Itoa(batch))
}

// heldKey is the op key of telling batch's task that the guard-rail holds
// removal batch label.
func heldKey(label string, batch int) OpKey {
	return removalKey(label, stepHeld, "batch-"+strconv.Itoa(batch))
}

// removeKey is the op key of removing removal batch label's users from group.
func removeKey(label, group string) OpKey { return removalKey(label, stepRemove, group) }

// disableKey is the op key of disabling user's account for removal batch
// label (a campaign with action disable): one user.edit per account.
func disableKey(label, user string) OpKey { return removalKey(label, stepDisable, user) }

// noticeKey is the op key of telling batch's task that removal batch
// label's memberships were removed.
func noticeKey(label string, batch int) OpKey {
	return removalKey(label, stepNotice, "batch-"+strconv.Itoa(batch))
}

// parseRemovalKey returns the label and step of a removal batch's op key;
// ok is false for any other key.
func parseRemovalKey(k OpKey) (label string, step removalStep, ok bool) {
	rest, ok := strings.CutPrefix(string(k), string(removalPrefix))
	if !ok {
		return "", "", false
	}
	label, rest, ok1 := strings.Cut(rest, "/")
	s, _, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 {
		return "", "", false
	}
	return label, removalStep(s), true
}

// restoreKey is the op key of a user's seq-th restore; the ops of its
// membership writes and its comment are keyed under it.
func restoreKey(username string, seq int) OpKey {
	return OpKey(fmt.Sprintf("restore/%s/%d", username, seq))
}

// restoreMemberKey is the op key of re-adding the user of restore to group.
func restoreMemberKey(restore OpKey, group string) OpKey { return restore + "/" + OpKey(group) }

// restoreCommentKey is the op key of the comment that ends restore.
func restoreCommentKey(restore OpKey) OpKey { return restore + "/comment" }

// restoreEnableKey is the op key of enabling again the account a campaign
// with action disable disabled, for restore.
func restoreEnableKey(restore OpKey) OpKey { return restore + "/enable" }

// policyRestoreKey is the op key of putting back batch's task policies
// (batch 0: the standing task) after the change made by transaction
// xactID: the same change is undone once, a later change gets its own key.
func policyRestoreKey(batch, xactID int) OpKey {
	return policyRestorePrefix(batch) + OpKey(strconv.Itoa(xactID))
}

// policyRestorePrefix starts the op key of every restore on batch's task
// (batch 0: the standing task).
func policyRestorePrefix(batch int) OpKey {
	return policyRestoreFamily + taskPart(batch) + "/"
}

// taskPart names batch's task in the keys of the policies chore: batch-N,
// or standing for batch 0, the recurring campaign's standing task (as in
// closeKey and overdueKey).
func taskPart(batch int) OpKey {
	if batch == 0 {
		return "standing"
	}
	if batch == policyBatch {
		return "policy"
	}
	return OpKey("batch-" + strconv.Itoa(batch))
}

// approvalReminderKey is the op key of reminding the approvers, on
// batch's task, of removal batch label still undecided in its period-th
// reminder period: once per task per period.
func approvalReminderKey(label string, batch, period int) OpKey {
	return removalKey(label, stepApprovalReminder, fmt.Sprintf("batch-%d/%d", batch, period))
}

// overdueKey is the op key of telling the team that removal batch label
// waits undecided: on the standing task (batch 0) or on batch's task.
func overdueKey(label string, batch int) OpKey {
	if batch == 0 {
		return removalKey(label, stepOverdue, "standing")
	}
	return removalKey(label, stepOverdue, "batch-"+strconv.Itoa(batch))
}

// standingTaskKey is the op key of filing a recurring campaign's standing
// task for the team.
func standingTaskKey() OpKey { return recurringPrefix + "standing-task" }

// runSummaryKey is the op key of posting recurring run n's summary on the
// standing task.
func runSummaryKey(n int) OpKey { return recurringPrefix + OpKey(fmt.Sprintf("run-%d/summary", n)) }

// instanceName names the campaign instance recurring run n of campaign
// starts (mode instance); it is a campaign name, not an op key.
func instanceName(campaign string, n int) string { return fmt.Sprintf("%s-r%d", campaign, n) }

// closeKey is the op key of closing batch's task with the campaign's
// summary (batch 0: the standing task).
func closeKey(batch int) OpKey {
	if batch == 0 {
		return closePrefix + "standing"
	}
	return closePrefix + OpKey("batch-"+strconv.Itoa(batch))
}

// trackingKey is the op key of posting the campaign's summary on its
// tracking task when it closes: once per campaign (an instance of a
// recurring campaign is a campaign of its own, with its own marker).
func trackingKey() OpKey { return closePrefix + "tracking" }

// accessRevokeKey is the op key of taking back access to batch's task
// (batch 0: the standing task) that someone else gave (a subscriber or an assignee the bot did not
// set), the newest such change being transaction xactID: the same change
// is undone once, a later change gets its own key. xactID is 0 when no
// transaction names the change.
func accessRevokeKey(batch, xactID int) OpKey {
	return accessRevokePrefix(batch) + OpKey(strconv.Itoa(xactID))
}

// accessRevokePrefix starts the op key of every access revoke on batch's
// task (batch 0: the standing task).
func accessRevokePrefix(batch int) OpKey {
	return accessRevokeFamily + taskPart(batch) + "/"
}

// policyTaskKey is the op key of filing the policy audit's task.
func policyTaskKey() OpKey { return policyPrefix + "task" }

// policyUpdateKey is the op key of the n-th comment on the policy task.
func policyUpdateKey(n int) OpKey { return policyPrefix + OpKey(fmt.Sprintf("update-%d", n)) }

// policyFixKey is the op key of setting finding label's safe value.
func policyFixKey(label string) OpKey { return policyPrefix + OpKey("fix/"+label) }

// finishers says which chore finishes a pending op, by its key: the one
// that reconciles it on every tick. A removal step's comment (argTask)
// is finished only if it knows its task.
var finishers = []struct {
	chore string
	owns  func(key OpKey, step removalStep, removal bool, op state.Op) bool
}{
	{"tasks", func(k OpKey, _ removalStep, _ bool, _ state.Op) bool { return k.hasPrefix(taskPrefix) }},
	// The task's cursor stays before the transaction until its answer is
	// recorded.
	{"replies", func(k OpKey, _ removalStep, _ bool, _ state.Op) bool {
		return k.hasPrefix(replyPrefix) || k.hasPrefix(repliesPrefix)
	}},
	{"reminders", func(k OpKey, _ removalStep, _ bool, op state.Op) bool {
		return (k.hasPrefix(reminderPrefix) && op.Args[argTask] != "") || k.hasPrefix(extensionPrefix) || (k.hasPrefix(extendPrefix) && op.Args[argTask] != "")
	}},
	{"announce-removals", func(_ OpKey, step removalStep, removal bool, op state.Op) bool {
		return removal && step == stepProposal && op.Args[argTask] != ""
	}},
	{"policies", func(k OpKey, _ removalStep, _ bool, _ state.Op) bool { return k.hasPrefix(accessRevokeFamily) }},
	{"execute-removals", func(_ OpKey, step removalStep, removal bool, _ state.Op) bool {
		return removal && (step == stepRemove || step == stepDisable || step == stepNotice || step == stepHeld)
	}},
	{"approval-reminders", func(_ OpKey, step removalStep, removal bool, op state.Op) bool {
		return removal && (step == stepApprovalReminder || step == stepOverdue) && op.Args[argTask] != ""
	}},
	{"rescan", func(k OpKey, _ removalStep, _ bool, _ state.Op) bool { return k.hasPrefix(recurringPrefix) }},
	{"close", func(k OpKey, _ removalStep, _ bool, _ state.Op) bool { return k.hasPrefix(closePrefix) }},
	{"policy-audit", func(k OpKey, _ removalStep, _ bool, _ state.Op) bool { return k.hasPrefix(policyPrefix) }},
}

// pendingOpOwner says who finishes a pending op: the chore that
// reconciles it on every tick, or, when no chore does, what a person must
// do (human is then set).
func pendingOpOwner(op state.Op, snap *state.Snapshot) (chore, human string) {
	if op.ReconcileError != "" {
		return "", "asking Phabricator whether it landed failed (" + op.ReconcileError + "); if the next tick fails too, check it by hand"
	}
	key := OpKey(op.Key)
	_, step, removal := parseRemovalKey(key)
	for _, f := range finishers {
		if f.owns(key, step, removal, op) {
			return f.chore, ""
		}
	}
	if key.hasPrefix(restorePrefix) {
		if chore, human, ok := restoreOwner(key, snap); ok {
			return chore, human
		}
	}
	return "", "no chore finishes this write: check on Phabricator whether it happened (the bot's marker line names its key)"
}

// restoreOwner says who finishes a restore's own intent, or a write under
// it: the replies chore for one a command asked for, else the operator,
// by running the same restore again.
func restoreOwner(key OpKey, snap *state.Snapshot) (chore, human string, ok bool) {
	for _, o := range snap.Ops {
		if o.Kind != state.OpRestore || !key.under(OpKey(o.Key)) {
			continue
		}
		if o.Args[argCommand] != "" {
			return "replies", "", true
		}
		return "", fmt.Sprintf("the restore of @%s asked by %s was interrupted: run `auditbot restore %s %s` again to finish it", o.Args[argUser], o.Args[argActor], snap.Campaign.Name, o.Args[argUser]), true
	}
	return "", "", false
}
