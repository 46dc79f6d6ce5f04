package bot

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// The last line of every text the bot writes is a marker naming the
// campaign and the op key, so that after a crash the bot can find its own
// earlier writes in Phabricator and never write them twice.
//
// Remarkup has no comment syntax, so the marker is an anchor,
// {anchor #auditbot-HEX}, HEX being "CAMPAIGN/KEY" in lower-case hex. Of
// all Remarkup rules it is the one that renders nothing: an empty <a
// name> on the web, and nothing at all in text or HTML mail
// (PhutilRemarkupAnchorRule). Anchor names may hold only lower-case
// letters, digits and single dashes, hence the hex; an invalid name would
// be shown as typed. The raw text keeps the line exactly, which is where
// the bot looks for it, and only in versions the bot wrote itself.
//
// Up to issue 9 the marker was a visible line, "auditbot-marker:
// CAMPAIGN/KEY" (legacyMarkerPrefix); it is still recognised, for tasks
// and comments written before.
const (
	markerAnchorPrefix = "{anchor #auditbot-"
	legacyMarkerPrefix = "auditbot-marker:"
)

// marker is the line appended to a text written for op key.
func marker(campaign string, key OpKey) string {
	return markerAnchorPrefix + hex.EncodeToString([]byte(campaign+"/"+string(key))) + "}"
}

// Marker is the marker line the bot ends a text written for op key with,
// for tests and tools outside this package that look for the bot's writes.
func Marker(campaign, key string) string { return marker(campaign, OpKey(key)) }

// parseMarker returns the op key of line if it is a marker line of
// campaign, in either form.
func parseMarker(line, campaign string) (OpKey, bool) {
	key, ok := MarkerKey(line, campaign)
	return OpKey(key), ok
}

// MarkerKey returns the op key of a marker line of campaign, in either
// form; ok is false when line is no marker of campaign.
func MarkerKey(line, campaign string) (key string, ok bool) {
	line = strings.TrimSpace(line)
	var full string
	if h, found := strings.CutPrefix(line, markerAnchorPrefix); found {
		h, found = strings.CutSuffix(h, "}")
		raw, err := hex.DecodeString(h)
		if !found || err != nil {
			return "", false
		}
		full = string(raw)
	} else if rest, found := strings.CutPrefix(line, legacyMarkerPrefix); found {
		full = strings.TrimSpace(rest)
	} else {
		return "", false
	}
	return strings.CutPrefix(full, campaign+"/")
}

// withMarker appends the marker line to a rendered text.
func withMarker(text, campaign string, key OpKey) string {
	return strings.TrimRight(text, "\n") + "\n\n" + marker(campaign, key)
}

// hasMarker reports whether text carries the marker for key.
func hasMarker(text, campaign string, key OpKey) bool {
	for line := range strings.Lines(text) {
		if k, ok := parseMarker(line, campaign); ok && k == key {
			return true
		}
	}
	return false
}

// effect is one side effect done exactly once.
type effect struct {
	campaign string
	key      OpKey
	kind     state.OpKind
	// find asks Phabricator whether the effect already happened (used when
	// an earlier run recorded the intent but not the outcome). It returns
	// the result and true if so.
	find func(ctx context.Context) (string, bool, error)
	// do performs the effect and returns a result to record (e.g. a PHID).
	do func(ctx context.Context) (string, error)
	// record updates the state once the effect is known to have happened,
	// in the same transaction that marks the op done.
	record func(tx *state.CampaignTx, result string) error
	// entry is the journal line written with the outcome.
	entry state.Entry
	// amend, if set, completes the entry with what is known only after
	// the effect (the task monogram, who was removed); it runs after record.
	amend func(e *state.Entry)
	// subjects are recorded with the intent (see state.Op.Subjects).
	subjects []string
	// args are recorded with the intent (see state.Op.Args).
	args map[string]string
}

// once performs e exactly once across crashes: check, record intent, act,
// record outcome. It reports whether the effect was performed by this call
// (false when it had happened before).
func (b *Bot) once(ctx context.Context, e effect) (bool, error) {
	// Nothing is started, not even a reconciliation, once the command is
	// interrupted or Phabricator is away for this tick.
	if err := b.unavailable(ctx); err != nil {
		return false, fmt.Errorf("%s: %w", e.key, err)
	}
	var op state.Op
	err := b.store.View(e.campaign, func(tx *state.CampaignTx) error {
		var err error
		op, err = tx.Op(string(e.key))
		return err
	})
	switch {
	case err == nil && op.State == state.OpDone:
		return false, nil
	case err == nil && op.State == state.OpPending && e.find != nil:
		// An earlier run recorded the intent and then stopped: ask
		// Phabricator whether the write landed before writing again.
		result, found, ferr := e.find(ctx)
		if ferr != nil {
			return false, b.reconcileFailed(ctx, e.campaign, op, ferr)
		}
		if found {
			b.log.Info().Str("campaign", e.campaign).Str("op", string(e.key)).Msg("reconciled: earlier write found in Phabricator")
			return false, b.finish(e, op, result, "reconciled")
		}
	case err != nil && !errors.Is(err, state.ErrNotFound):
		return false, err
	}

	if err == nil {
		op.Attempts++
	} else {
		op = state.Op{Key: string(e.key), Kind: e.kind, CreatedAt: b.now().UTC(), Attempts: 1}
	}
	op.State = state.OpPending
	op.Subjects = e.subjects
	op.ReconcileError = "" // asked, and it had not landed
	if e.args != nil {
		op.Args = e.args
	}
	// Checked again: the reconciliation above may have run into the end.
	if err := b.unavailable(ctx); err != nil {
		return false, fmt.Errorf("%s: %w", e.key, err)
	}
	if err := b.store.Update(e.campaign, func(tx *state.CampaignTx) error { return tx.PutOp(op) }); err != nil {
		return false, fmt.Errorf("record intent %s: %w", e.key, err)
	}
	result, err := e.do(ctx)
	if err != nil {
		// The op stays pending; the next run reconciles before retrying.
		return false, fmt.Errorf("%s: %w", e.key, err)
	}
	return true, b.finish(e, op, result, "")
}

func (b *Bot) finish(e effect, op state.Op, result, how string) error {
	op.State = state.OpDone
	op.DoneAt = b.now().UTC()
	op.Result = result
	op.ReconcileError = ""
	entry := e.entry
	entry.At = op.DoneAt
	if entry.Kind == "" {
		entry.Kind = e.kind.Entry()
	}
	if how != "" {
		entry.Detail = strings.TrimSpace(entry.Detail + " (" + how + ")")
	}
	err := b.store.Update(e.campaign, func(tx *state.CampaignTx) error {
		if e.record != nil {
			if err := e.record(tx, result); err != nil {
				return err
			}
		}
		if err := tx.PutOp(op); err != nil {
			return err
		}
		if e.amend != nil {
			e.amend(&entry)
		}
		return tx.Append(entry)
	})
	if err != nil {
		return fmt.Errorf("record outcome %s: %w", e.key, err)
	}
	return nil
}

// journal appends one entry outside any op.
func (b *Bot) journal(campaign string, e state.Entry) error {
	if e.At.IsZero() {
		e.At = b.now().UTC()
	}
	return b.store.Update(campaign, func(tx *state.CampaignTx) error { return tx.Append(e) })
}

// Keys of what an op records in state.Op.Args.
const (
	argTask    = "task"    // the PHID of the task a comment goes on
	argOld     = "old"     // an extension's deadline before, "YYYY-MM-DD"
	argNew     = "new"     // an extension's new deadline, "YYYY-MM-DD"
	argUser    = "user"    // the username an op is about
	argActor   = "actor"   // who asked for it
	argForce   = "force"   // "true" for a forced restore
	argCommand = "command" // the PHID of the transaction whose command started it
	argBy      = "by"      // the approver whose !restore started it
	// argText is the full text of a combined answer (repliesKey), without
	// its marker: what is posted, and posted again if it did not land.
	argText = "text"
	// argXacts lists the IDs of the transactions a combined answer covers,
	// comma-separated, in order.
	argXacts = "xacts"
	// argSubscribe is a PHID the comment subscribes in the same edit: the
	// approvers' project, when the answer asks them for a decision.
	argSubscribe = "subscribe"
)

// resultNotSent is the Result of an op closed by state.EntryWriteDropped.
const resultNotSent = "not-sent"

// reconcileFailed records on a pending op why asking Phabricator about it
// failed, for status, and returns the error.
func (b *Bot) reconcileFailed(ctx context.Context, campaign string, op state.Op, err error) error {
	err = fmt.Errorf("reconcile %s: %w", op.Key, err)
	if ctx.Err() != nil || errors.Is(err, conduit.ErrUnavailable) {
		// Not an answer about the write (an outage, an interrupted
		// command): ask again next time, and tell nobody to check by hand.
		return err
	}
	op.ReconcileError = err.Error()
	if uerr := b.store.Update(campaign, func(tx *state.CampaignTx) error { return tx.PutOp(op) }); uerr != nil {
		return errors.Join(err, uerr)
	}
	return err
}

// findComment asks Phabricator whether the bot's comment for key is on
// task: by its marker, among the bot's own comments only, and only in a
// version the bot wrote: a comment keeps every version (NOTES fact 45);
// only its author may edit it, but an administrator may remove it, which
// adds an empty version by the remover.
func (b *Bot) findComment(ctx context.Context, rec *state.Campaign, task string, key OpKey) (string, bool, error) {
	txs, err := b.phab.TaskTransactions(ctx, task, 0)
	if err != nil {
		return "", false, err
	}
	for _, t := range txs {
		if t.AuthorPHID != rec.BotPHID {
			continue
		}
		for _, cm := range t.Comments {
			if cm.AuthorPHID == rec.BotPHID && hasMarker(cm.Raw, rec.Name, key) {
				return t.PHID, true, nil
			}
		}
	}
	return "", false, nil
}

// closeStaleComments settles the pending comment ops whose key starts with
// prefix and that their chore no longer posts (keep lists what it posts):
// a reminder superseded by a later one, the announcement of a removal batch
// decided since. Each is marked done, as reconciled if its comment is on
// the task, else as not sent: posting it late would be wrong, and leaving
// it pending would leave it pending forever.
func (b *Bot) closeStaleComments(ctx context.Context, rec *state.Campaign, prefix OpKey, keep func(key OpKey) bool, why string) error {
	var ops []state.Op
	if err := b.store.View(rec.Name, func(tx *state.CampaignTx) error {
		all, err := tx.Ops()
		for _, op := range all {
			if op.State == state.OpPending && op.Kind == state.OpComment && OpKey(op.Key).hasPrefix(prefix) && op.Args[argTask] != "" && !keep(OpKey(op.Key)) {
				ops = append(ops, op)
			}
		}
		return err
	}); err != nil {
		return err
	}
	var errs []error
	for _, op := range ops {
		result, found, err := b.findComment(ctx, rec, op.Args[argTask], OpKey(op.Key))
		if err != nil {
			errs = append(errs, b.reconcileFailed(ctx, rec.Name, op, err))
			continue
		}
		e := effect{campaign: rec.Name, key: OpKey(op.Key), kind: op.Kind, entry: state.Entry{Kind: op.Kind.Entry(), Actor: rec.BotUsername, Detail: op.Key}}
		how := "reconciled"
		if !found {
			result, how = resultNotSent, "not sent: "+why
			e.entry.Kind = state.EntryWriteDropped
		}
		b.log.Info().Str("campaign", rec.Name).Str("op", op.Key).Bool("found", found).Msg("closed a stale pending comment")
		errs = append(errs, b.finish(e, op, result, how))
	}
	return errors.Join(errs...)
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
	switch {
	case key.hasPrefix(taskPrefix):
		return "tasks", ""
	case key.hasPrefix(replyPrefix), key.hasPrefix(repliesPrefix):
		// The task's cursor stays before the transaction until its
		// answer is recorded.
		return "replies", ""
	case key.hasPrefix(reminderPrefix) && op.Args[argTask] != "":
		return "reminders", ""
	case key.hasPrefix(extensionPrefix), key.hasPrefix(extendPrefix) && op.Args[argTask] != "":
		return "reminders", ""
	case removal && step == stepProposal && op.Args[argTask] != "":
		return "announce-removals", ""
	case key.hasPrefix(accessRevokeFamily):
		return "policies", ""
	case removal && (step == stepRemove || step == stepNotice || step == stepHeld):
		return "execute-removals", ""
	case removal && (step == stepApprovalReminder || step == stepOverdue) && op.Args[argTask] != "":
		return "approval-reminders", ""
	case key.hasPrefix(recurringPrefix):
		return "rescan", ""
	case key.hasPrefix(closePrefix):
		return "close", ""
	case key.hasPrefix(restorePrefix):
		// The restore's own intent, or a write under it.
		for _, o := range snap.Ops {
			if o.Kind != state.OpRestore || !key.under(OpKey(o.Key)) {
				continue
			}
			if o.Args[argCommand] != "" {
				return "replies", ""
			}
			return "", fmt.Sprintf("the restore of @%s asked by %s was interrupted: run `auditbot restore %s %s` again to finish it", o.Args[argUser], o.Args[argActor], snap.Campaign.Name, o.Args[argUser])
		}
	}
	return "", "no chore finishes this write: check on Phabricator whether it happened (the bot's marker line names its key)"
}
