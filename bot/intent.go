package bot

import (
	"context"
	"time"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// An intent is one thing the engine decided to do, as data: the deciders
// (the chores and the comment commands) return intents and never act; the
// executor (apply.go) carries them out, exactly once each. See
// ARCHITECTURE.md for the whole path.
//
// An intent with a write is an op: its intent is recorded in bbolt before
// the write is sent, its outcome after, and a run that finds the intent
// without the outcome reconciles with Phabricator first. An intent without
// a write is a state change alone (change and entry in one bbolt
// transaction), such as a finding that drift found compliant.
type intent struct {
	// key is the op's durable key (keys.go); empty for a state change
	// alone.
	key  OpKey
	kind state.OpKind
	// write is what is sent to Phabricator; nil for a state change alone.
	write write
	// entry is journaled with the outcome. Its At is the outcome's time;
	// an empty Kind is the op kind's entry kind. unjournaled suppresses it
	// (a combined answer: its replies were journaled when decided).
	entry       state.Entry
	unjournaled bool
	// prepare, if set, changes the state in the transaction that records
	// the intent, before anything is sent (the approvers marked as
	// subscribed before the edit that subscribes them).
	prepare func(tx *state.CampaignTx) error
	// change, if set, changes the state in the transaction that records
	// the outcome (or, without a write, in the only one).
	change func(tx *state.CampaignTx, res outcomeOf) error
	// amend, if set, completes the entry with what is known only after
	// the write (the task's monogram); it runs after change.
	amend func(e *state.Entry, res outcomeOf)
	// recheck, if set, runs right before the write, after the intent is
	// recorded: the last look at Phabricator that may cancel or narrow the
	// write (who is still a member, still non-compliant). It returns the
	// write to send, or nil to send nothing and record the outcome as is.
	recheck func(ctx context.Context) (write, error)
	// landed, if set, replaces the write's own way of asking Phabricator
	// whether an earlier attempt landed (by the bot's marker on a comment
	// or a task): a write without a marker, such as a membership or a
	// policy, is judged by the state of the object it changes.
	landed landedCheck
	// result, if set, is recorded as the op's result instead of the
	// write's first transaction PHID.
	result string
	// failed, if set, wraps an error the write returned (to name what it
	// was doing, or say what a person must do).
	failed func(err error) error
	// subjects and args are recorded with the intent (state.Op).
	subjects []string
	args     map[string]string
	// said is what the tick reports once the intent is carried out: sent
	// now, or, for a state change alone, recorded. sayLater, if set, says
	// it instead from what is known only then (a new batch's label, who
	// was removed), whenever the intent ends without error.
	said     said
	sayLater func() said
}

// landedCheck says how to tell whether an earlier attempt at a write
// without a marker landed: the executor reads the project's members, or
// the task (with its whole subscriber list if subscribers is set), and
// asks the predicate.
type landedCheck struct {
	project     string
	members     func(members []string) bool
	projectIs   func(p conduit.Project) bool
	task        string
	subscribers bool
	taskIs      func(t conduit.Task, subscribers []string) bool
	// user and userIs judge an account write by the account as read now
	// (its roles: "disabled").
	user   string
	userIs func(u conduit.User) bool
}

// set reports whether the check names anything to read.
func (c landedCheck) set() bool {
	return c.members != nil || c.taskIs != nil || c.projectIs != nil || c.userIs != nil
}

// said is one line of a tick's report, with the fields its structured log
// record carries.
type said struct {
	ev
	text string
}

// outcomeOf is what became of an intent's write: the PHID recorded as the
// op's result, the task a file-task write filed (or found), and how it
// ended.
type outcomeOf struct {
	result string
	task   conduit.Task
	// reconciled reports whether an earlier attempt was found landed
	// rather than sent now.
	reconciled bool
	// sent is the write as sent now (after recheck), nil when reconciled.
	sent write
	// subjects are those the op recorded with its intent: when reconciled,
	// those of the attempt that landed.
	subjects []string
	// args, when reconciled, are those the op recorded with the attempt
	// that landed (state.Op.Args).
	args map[string]string
	// at is when the outcome was recorded.
	at time.Time
}

// xactComment is the edit type of a comment (conduit.CommentEdit).
const xactComment = "comment"

// write is one Conduit write, as data. The executor alone sends it.
type write interface{ isWrite() }

// fileTask files a task (maniphest.edit without an object). The executor
// appends the marker of the intent's key to its description: that is how
// a run after a crash finds the task it filed (findOwnTask).
type fileTask struct {
	spec conduit.TaskSpec
}

// editTask sends edits to a task in one maniphest.edit. The executor
// appends the marker to the text of its comment edit, if it has one, and
// then finds an earlier attempt by that marker. then, if set, is a second
// maniphest.edit on the same task, sent after the first: unassigning a
// task subscribes its former owner, who must then be unsubscribed.
type editTask struct {
	task  string
	edits []conduit.Edit
	then  []conduit.Edit
}

// editMembers adds and removes members of a project in one project.edit.
type editMembers struct {
	project     string
	add, remove []string
}

// editPolicy sets one policy of a project (project.edit, transaction
// which: join, edit or view).
type editPolicy struct {
	project, which, value string
}

// setDisabled disables (or enables) one account in one user.edit. It
// carries no marker: whether it landed is judged by the account's roles.
type setDisabled struct {
	user     string
	disabled bool
}

func (fileTask) isWrite()    {}
func (editTask) isWrite()    {}
func (editMembers) isWrite() {}
func (setDisabled) isWrite() {}
func (editPolicy) isWrite()  {}

// comment returns an editTask that posts text on task, with extra edits in
// the same maniphest.edit (subscribing the approvers' project when the
// comment asks them for a decision).
func comment(task, text string, extra ...conduit.Edit) editTask {
	return editTask{task: task, edits: append([]conduit.Edit{conduit.CommentEdit(text)}, extra...)}
}
