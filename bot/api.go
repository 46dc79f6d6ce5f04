// Package bot runs audit campaigns: it discovers non-compliant members of
// access groups (the read model), decides what to do from that snapshot and
// the recorded state, and performs the writes last, each journaled in the
// state file before it happens and reconciled with Phabricator after a
// crash.
package bot

import (
	"context"
	"errors"

	"github.com/auditbot/auditbot/conduit"
)

// Phabricator is everything the bot asks of Phabricator. *conduit.Client is
// the real implementation; tests and the demo point that client at the
// in-process phabtest server.
type Phabricator interface {
	Whoami(ctx context.Context) (conduit.Whoami, error)
	ResolveProjects(ctx context.Context, names []string, withMembers bool) (map[string]conduit.Project, error)
	ProjectsByPHID(ctx context.Context, phids []string, withMembers bool) ([]conduit.Project, error)
	SearchUsers(ctx context.Context, q conduit.UserQuery) ([]conduit.User, error)
	SearchTasks(ctx context.Context, q conduit.TaskQuery) ([]conduit.Task, error)
	TaskTransactions(ctx context.Context, objectPHID string, afterID int) ([]conduit.Transaction, error)
	// TaskSubscribers is a task's complete subscriber list: the search
	// attachment stops at 10 (NOTES fact 24).
	TaskSubscribers(ctx context.Context, taskID int) ([]string, error)
	// TransactionsByPHID re-reads comments the bot acted on: an edit
	// keeps the transaction but changes its current text (fact 45).
	TransactionsByPHID(ctx context.Context, objectPHID string, txPHIDs []string) ([]conduit.Transaction, error)

	// The four writes. Dry-run replaces exactly these (see DryRun).
	CreateTask(ctx context.Context, spec conduit.TaskSpec) (conduit.EditResult, error)
	EditTask(ctx context.Context, identifier string, edits ...conduit.Edit) (conduit.EditResult, error)
	EditProjectMembers(ctx context.Context, projectPHID string, add, remove []string) (conduit.EditResult, error)
	// EditProjectPolicy sets a project's join, edit or view policy (a
	// policy finding fixed after !fix).
	EditProjectPolicy(ctx context.Context, projectPHID, which, policy string) (conduit.EditResult, error)
	// SetUserDisabled disables or enables an account (user.edit, admin
	// only): a campaign with action disable, and its restores.
	SetUserDisabled(ctx context.Context, userPHID string, disabled bool) (conduit.EditResult, error)
}

// Errors callers map to exit codes.
var (
	// ErrCheckFailed: a pre-flight check failed; nothing was written.
	ErrCheckFailed = errors.New("pre-flight check failed")
	// ErrNotApprover: the named user is not a member of the approvers' project.
	ErrNotApprover = errors.New("not an approver")
	// ErrRefused: the request is valid but the bot will not do it (e.g.
	// restoring a user who still has no MFA without --force).
	ErrRefused = errors.New("refused")
	// ErrUnknownCampaign: no such campaign in the state file.
	ErrUnknownCampaign = errors.New("unknown campaign")
	// ErrInput: bad input from the operator (unknown group, user, batch).
	ErrInput = errors.New("invalid input")
	// ErrUnchanged: the request was already carried out earlier (e.g. an
	// extend to the date the deadline already is); nothing changed now.
	// Not a failure: the CLI reports it and exits 0.
	ErrUnchanged = errors.New("nothing changed")
)
