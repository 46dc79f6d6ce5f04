package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

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
	ExitUsage     = 2 // bad input: flags, config, campaign file, template, unknown group, a conduit.url that redirects or is not Conduit
	ExitAuth      = 3 // the Conduit token is missing or rejected
	ExitRefused   = 4 // a check failed, not an approver, permission denied, refused
	ExitState     = 5 // another writer past --wait, a stuck transaction, a newer auditbot, a lock file not exclusively ours
	ExitTickError = 6 // a tick ran but some campaign or chore failed
	ExitDamaged   = 7 // the state file is empty, not auditbot's, or fails its check
	ExitJournal   = 8 // verify-journal: a journal's hash chain is broken
	// ExitInterrupted: SIGINT or SIGTERM stopped the command before it
	// finished; what was done is recorded, rerunning finishes it. 130 as a
	// shell reports a command ended by Ctrl-C.
	ExitInterrupted = 130
)

// ExitCodeInfo documents one exit code.
type ExitCodeInfo struct {
	Code    int
	Name    string // a short name, for scripts and the help topic
	Meaning string
}

// ExitCodes is the one list of exit codes and what they mean. It prints
// as "auditbot help exit-codes", and a test keeps README's table the
// same, so the three never drift apart.
var ExitCodes = []ExitCodeInfo{
	{ExitOK, "ok", "ok"},
	{ExitFailure, "failure", "unexpected failure (Conduit unreachable, I/O); the daemon `run` never exits for an unreachable Conduit: it waits, unready, and tries again"},
	{ExitUsage, "usage", "bad input: flags, config or campaign file (the error names file:line), unknown group, template, a `conduit.url` that redirects (the bot never follows redirects: they would drop the request or resend the token elsewhere) or that is not a Conduit API, a campaign not launched, a `--now` ahead of the clock without `--dry-run` or `--allow-future`, no operator name for the journal (pass `--as`)"},
	{ExitAuth, "auth", "the Conduit token is missing, malformed or rejected (the daemon `run`: missing or malformed at start, or rejected `schedule.max_auth_failures` ticks in a row)"},
	{ExitRefused, "refused", "refused: a check failed, not an approver (or the approver's own token was rejected), an approval of something other than what was shown, permission denied, restore of a non-compliant user"},
	{ExitState, "state", "another auditbot kept writing longer than `--wait` (default 10m; nothing was done), another process held the state file through a transaction longer than 10 s (stuck), the file was written by a newer auditbot, or the writer lock file (`STATE.writer.lock`) is not exclusively this user's (a symlink, not a regular file, another user's, with other hard links, writable by others): the message says who holds it, if anyone (then leave it, and run the command as the service's user), or that nobody does (then remove it)"},
	{ExitTickError, "tick-error", "a tick ran, but some campaign or chore failed; the others still ran (the token is checked before the tick, so a rejected token is 3)"},
	{ExitDamaged, "damaged", "the state file is not an intact auditbot state file: empty, not bbolt, another program's, truncated, or failing its consistency check, or a campaign in it missing its record or one of its buckets (also `state check` finding a bad record, and the daemon `run` finding it so at start or at a tick); it was left unchanged"},
	{ExitJournal, "journal", "`verify-journal`: a journal's hash chain is broken (an entry was edited, inserted or deleted), or it no longer holds a head given with `--head`"},
	{ExitInterrupted, "interrupted", "interrupted (SIGINT or SIGTERM) before the command finished: it says \"interrupted, N of M done, rerun to finish\"; what was done is recorded, and no intent was recorded for a write it did not try. The daemon `run` exits 0 on SIGTERM instead."},
}

// exitCodesHelp is the text of "auditbot help exit-codes".
func exitCodesHelp() string {
	var b strings.Builder
	b.WriteString("Exit codes of every auditbot command:\n\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, e := range ExitCodes {
		fmt.Fprintf(tw, "  %d\t%s\t%s\n", e.Code, e.Name, e.Meaning)
	}
	tw.Flush()
	return b.String()
}

// exitCodesTopic is the help topic "auditbot help exit-codes": a command
// that runs nothing, which cobra lists under "Additional help topics".
func exitCodesTopic() *cobra.Command {
	return &cobra.Command{
		Use:   "exit-codes",
		Short: "What each exit code means",
		Long:  exitCodesHelp(),
	}
}

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
	case errors.As(err, &usage), errors.Is(err, errNoStateFile), errors.Is(err, bot.ErrInput), errors.Is(err, bot.ErrUnknownCampaign), isConfigError(err), errors.Is(err, conduit.ErrRedirected), errors.Is(err, conduit.ErrNotConduit):
		return ExitUsage
	case errors.Is(err, conduit.ErrInvalidAuth), errors.Is(err, conduit.ErrNoSession), errors.Is(err, errNoToken):
		return ExitAuth
	case errors.Is(err, bot.ErrCheckFailed), errors.Is(err, bot.ErrNotApprover), errors.Is(err, bot.ErrRefused), errors.Is(err, conduit.ErrPermissionDenied):
		return ExitRefused
	case errors.Is(err, state.ErrLocked), errors.Is(err, state.ErrBusy), errors.Is(err, state.ErrSchema), errors.Is(err, state.ErrLockFile):
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
	// errNoStateFile: a command that only reads found no state file:
	// nothing has been launched with this config yet. status says so and
	// exits 0; journal and report name the campaign as not launched (2).
	errNoStateFile = errors.New("no state file")
)

// noStateFile is errNoStateFile for the state file at path.
func noStateFile(path string) error {
	return fmt.Errorf("%w at %s: no campaign has been launched with it yet", errNoStateFile, path)
}
