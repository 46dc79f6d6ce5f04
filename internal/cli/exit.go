package cli

import (
	"context"
	"errors"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// Exit codes. Scripts and the daemon's supervisor can tell bad input from a
// refused token from a partial tick.
const (
	ExitOK        = 0
	ExitFailure   = 1 // unexpected failure: Conduit down, I/O error
	ExitUsage     = 2 // bad input: flags, config, campaign file, template, unknown group, a redirecting conduit.url
	ExitAuth      = 3 // the Conduit token is missing or rejected
	ExitRefused   = 4 // a check failed, not an approver, permission denied, refused
	ExitState     = 5 // another writer past --wait, a stuck transaction, or a newer auditbot
	ExitTickError = 6 // a tick ran but some campaign or chore failed
	ExitDamaged   = 7 // the state file is empty, not auditbot's, or fails its check
	ExitJournal   = 8 // verify-journal: a journal's hash chain is broken
	// ExitInterrupted: SIGINT or SIGTERM stopped the command before it
	// finished; what was done is recorded, rerunning finishes it. 130 as a
	// shell reports a command ended by Ctrl-C.
	ExitInterrupted = 130
)

// exitCode maps an error to the exit code.
func exitCode(err error) int {
	var usage *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, state.ErrJournalBroken):
		return ExitJournal
	case isInterrupted(err):
		return ExitInterrupted
	case errors.Is(err, errTickFailed):
		// The tick itself ran: whatever failed inside one campaign, the
		// others were done. The token was checked before.
		return ExitTickError
	case errors.As(err, &usage), errors.Is(err, bot.ErrInput), errors.Is(err, bot.ErrUnknownCampaign), isConfigError(err), errors.Is(err, conduit.ErrRedirected):
		return ExitUsage
	case errors.Is(err, conduit.ErrInvalidAuth), errors.Is(err, conduit.ErrNoSession), errors.Is(err, errNoToken):
		return ExitAuth
	case errors.Is(err, bot.ErrCheckFailed), errors.Is(err, bot.ErrNotApprover), errors.Is(err, bot.ErrRefused), errors.Is(err, conduit.ErrPermissionDenied):
		return ExitRefused
	case errors.Is(err, state.ErrLocked), errors.Is(err, state.ErrBusy), errors.Is(err, state.ErrSchema):
		return ExitState
	case errors.Is(err, state.ErrDamaged):
		return ExitDamaged
	}
	return ExitFailure
}

// isInterrupted reports whether err says the command was interrupted.
func isInterrupted(err error) bool {
	var ie *bot.InterruptedError
	return errors.As(err, &ie) || errors.Is(err, context.Canceled)
}

func isConfigError(err error) bool {
	var le *campaigns.LineError
	return errors.As(err, &le)
}

// usageError is a mistake in how the command was called.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

var (
	errNoToken    = errors.New("no Conduit API token: set " + campaigns.TokenEnv + " or conduit.token_file in the config")
	errTickFailed = errors.New("tick finished with errors")
)
