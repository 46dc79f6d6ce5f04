package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/rs/zerolog"
)

// executor is the engine's one way to write to Phabricator: it carries
// out intents exactly once (apply), recording each in the state file
// before and after its write, and reconciling with Phabricator (through
// the reader) what an earlier run left unconfirmed.
type executor struct {
	conn  *conn
	store *state.Store
	read  *reader
	now   func() time.Time
	log   zerolog.Logger
}

// apply carries out one intent exactly once across crashes: check,
// record the intent, write, record the outcome. It reports whether this
// call sent the write (false when it was done before, or an earlier
// attempt is found landed). It is the only code that calls a Conduit
// write method (send).
func (b *executor) apply(ctx context.Context, campaign string, in intent) (bool, error) {
	if in.write == nil {
		return true, b.applyChange(campaign, in)
	}
	// Nothing is started, not even a reconciliation, once the command is
	// interrupted or Phabricator is away for this tick.
	if err := b.conn.unavailable(ctx); err != nil {
		return false, fmt.Errorf("%s: %w", in.key, err)
	}
	op, recorded, settled, err := b.earlier(ctx, campaign, in)
	if err != nil || settled {
		return false, err
	}
	w := in.write
	if in.recheck != nil {
		if w, err = in.recheck(ctx); err != nil {
			return false, fmt.Errorf("%s: %w", in.key, err)
		}
	}
	if recorded {
		op.Attempts++
	} else {
		op = state.Op{Key: string(in.key), Kind: in.kind, CreatedAt: b.now().UTC(), Attempts: 1}
	}
	op.State = state.OpPending
	op.Subjects = in.subjects
	op.ReconcileError = "" // asked, and it had not landed
	if in.args != nil {
		op.Args = in.args
	}
	// Checked again: the reconciliation above may have run into the end.
	if err := b.conn.unavailable(ctx); err != nil {
		return false, fmt.Errorf("%s: %w", in.key, err)
	}
	if err := b.store.Update(campaign, func(tx *state.CampaignTx) error {
		if in.prepare != nil {
			if err := in.prepare(tx); err != nil {
				return err
			}
		}
		return tx.PutOp(op)
	}); err != nil {
		return false, fmt.Errorf("record intent %s: %w", in.key, err)
	}
	res := outcomeOf{sent: w, subjects: op.Subjects}
	if w != nil {
		if res, err = b.send(ctx, campaign, in.key, w); err != nil {
			if in.failed != nil {
				err = in.failed(err)
			}
			// The op stays pending; the next run reconciles before retrying.
			return false, fmt.Errorf("%s: %w", in.key, err)
		}
		res.subjects = op.Subjects
	}
	return true, b.finish(campaign, in, op, res, "")
}

// earlier settles what an earlier run did for in's key: recorded reports
// whether it recorded the intent (op), settled whether nothing is left to
// do: the op is done, or its write is found landed and now recorded.
func (b *executor) earlier(ctx context.Context, campaign string, in intent) (op state.Op, recorded, settled bool, err error) {
	op, err = b.read.opByKey(campaign, in.key)
	switch {
	case errors.Is(err, state.ErrNotFound):
		return op, false, false, nil
	case err != nil:
		return op, false, false, err
	case op.State == state.OpDone:
		return op, true, true, nil
	case op.State != state.OpPending || neverSent(op):
		return op, true, false, nil
	}
	// An earlier run recorded the intent and then stopped: ask
	// Phabricator whether the write landed before writing again.
	res, found, err := b.reconcileWrite(ctx, campaign, in, op)
	if err != nil {
		return op, true, false, b.reconcileFailed(ctx, campaign, op, err)
	}
	if !found {
		return op, true, false, nil
	}
	b.log.Info().Str("campaign", campaign).Str("op", string(in.key)).Msg("reconciled: earlier write found in Phabricator")
	return op, true, true, b.finish(campaign, in, op, res, "reconciled")
}

// neverSent reports whether a pending op's write was certainly never
// sent. A combined answer (repliesKey) is recorded with its text as its
// replies are decided, before any post, and its Attempts count the posts
// tried: 0 means Phabricator need not be asked about it. Every other op
// is recorded right before its write, with Attempts 1.
func neverSent(op state.Op) bool {
	_, _, answer := parseRepliesKey(OpKey(op.Key))
	return answer && op.Attempts == 0
}

// send makes one write: the only calls of Conduit's write methods in the
// engine. The marker of key goes on what the write says (a comment, a
// task's description), so that a run after a crash finds it.
func (b *executor) send(ctx context.Context, campaign string, key OpKey, w write) (outcomeOf, error) {
	res := outcomeOf{sent: w}
	switch w := w.(type) {
	case fileTask:
		spec := w.spec
		spec.Description = withMarker(spec.Description, campaign, key)
		got, err := b.conn.CreateTask(ctx, spec)
		if err != nil {
			return res, err
		}
		res.task = conduit.Task{ID: got.ObjectID, PHID: got.ObjectPHID}
		res.result = got.ObjectPHID
	case editTask:
		got, err := b.conn.EditTask(ctx, w.task, markComment(w.edits, campaign, key)...)
		if len(got.TransactionPHIDs) > 0 {
			res.result = got.TransactionPHIDs[0]
		}
		if err != nil {
			return res, err
		}
		if len(w.then) > 0 {
			if _, err := b.conn.EditTask(ctx, w.task, markComment(w.then, campaign, key)...); err != nil {
				return res, err
			}
		}
	case editMembers:
		if len(w.add)+len(w.remove) == 0 {
			// Nothing left to change (everyone an earlier, lost attempt
			// would have removed has left or complied since).
			return res, nil
		}
		got, err := b.conn.EditProjectMembers(ctx, w.project, w.add, w.remove)
		if len(got.TransactionPHIDs) > 0 {
			res.result = got.TransactionPHIDs[0]
		}
		if err != nil {
			return res, err
		}
	case editPolicy:
		got, err := b.conn.EditProjectPolicy(ctx, w.project, w.which, w.value)
		if len(got.TransactionPHIDs) > 0 {
			res.result = got.TransactionPHIDs[0]
		}
		if err != nil {
			return res, err
		}
	case setDisabled:
		got, err := b.conn.SetUserDisabled(ctx, w.user, w.disabled)
		if len(got.TransactionPHIDs) > 0 {
			res.result = got.TransactionPHIDs[0]
		}
		if err != nil {
			return res, err
		}
	default:
		return res, fmt.Errorf("bot: unknown write %T", w)
	}
	return res, nil
}

// markComment returns edits with the marker of key appended to the text
// of its comment edit.
func markComment(edits []conduit.Edit, campaign string, key OpKey) []conduit.Edit {
	out := slices.Clone(edits)
	for i, e := range out {
		if text, ok := e.Value.(string); ok && e.Type == xactComment {
			out[i].Value = withMarker(text, campaign, key)
		}
	}
	return out
}

// commentOf returns the text of an edit list's comment edit, if any.
func commentOf(edits []conduit.Edit) (string, bool) {
	for _, e := range edits {
		if text, ok := e.Value.(string); ok && e.Type == xactComment {
			return text, true
		}
	}
	return "", false
}

// reconcileWrite asks Phabricator whether an earlier attempt at in's
// write landed: by the intent's own reconcile when it has one, else by
// what the bot wrote: the marker in its comment, or in the description
// of the task it filed.
func (b *executor) reconcileWrite(ctx context.Context, campaign string, in intent, op state.Op) (outcomeOf, bool, error) {
	res := outcomeOf{reconciled: true, subjects: op.Subjects, args: op.Args}
	if in.landed.set() {
		found, err := b.hasLanded(ctx, in.landed)
		return res, found, err
	}
	rec, err := b.read.campaignRecord(campaign)
	if err != nil {
		return res, false, err
	}
	switch w := in.write.(type) {
	case fileTask:
		t, found, err := b.read.findOwnTask(ctx, campaign, in.key, rec.BotPHID)
		res.task, res.result = t, t.PHID
		return res, found, err
	case editTask:
		if _, ok := commentOf(w.edits); ok {
			phid, found, err := b.read.findComment(ctx, &rec, w.task, in.key)
			res.result = phid
			return res, found, err
		}
	}
	// Nothing to look for: the write is sent again.
	return res, false, nil
}

// finish records an intent's outcome: the op done, the state change, and
// the journal entry, in one bbolt transaction.
func (b *executor) finish(campaign string, in intent, op state.Op, res outcomeOf, how string) error {
	if in.result != "" {
		res.result = in.result
	}
	op.State = state.OpDone
	op.DoneAt = b.now().UTC()
	res.at = op.DoneAt
	op.Result = res.result
	op.ReconcileError = ""
	entry := in.entry
	entry.At = op.DoneAt
	if entry.Kind == "" {
		entry.Kind = in.kind.Entry()
	}
	if how != "" {
		entry.Detail = strings.TrimSpace(entry.Detail + " (" + how + ")")
	}
	err := b.store.Update(campaign, func(tx *state.CampaignTx) error {
		if in.change != nil {
			if err := in.change(tx, res); err != nil {
				return err
			}
		}
		if err := tx.PutOp(op); err != nil {
			return err
		}
		if in.unjournaled {
			return nil
		}
		if in.amend != nil {
			in.amend(&entry, res)
		}
		return tx.Append(entry)
	})
	if err != nil {
		return fmt.Errorf("record outcome %s: %w", in.key, err)
	}
	return nil
}

// hasLanded reads the object a landedCheck names and asks its predicate.
func (b *executor) hasLanded(ctx context.Context, c landedCheck) (bool, error) {
	if c.projectIs != nil {
		ps, err := b.read.projectsByPHID(ctx, []string{c.project}, false)
		if err != nil || len(ps) != 1 {
			return false, err
		}
		return c.projectIs(ps[0]), nil
	}
	if c.userIs != nil {
		users, err := b.read.usersByPHID(ctx, []string{c.user})
		if err != nil || len(users) != 1 {
			return false, err
		}
		return c.userIs(users[0]), nil
	}
	if c.members != nil {
		members, ok, err := b.read.projectMembers(ctx, c.project)
		if err != nil || !ok {
			return false, err
		}
		return c.members(members), nil
	}
	got, err := b.read.tasksByPHID(ctx, []string{c.task})
	if err != nil || len(got) != 1 {
		return false, err
	}
	var subs []string
	if c.subscribers {
		if subs, err = b.read.subscribers(ctx, got[0]); err != nil {
			return false, err
		}
	}
	return c.taskIs(got[0], subs), nil
}

// applyChange records an intent without a write: its state change and
// its journal entry, in one bbolt transaction.
func (b *executor) applyChange(campaign string, in intent) error {
	return b.store.Update(campaign, func(tx *state.CampaignTx) error { return b.changeIn(tx, in) })
}

// changeIn makes an intent's state change and journals its entry in tx.
func (b *executor) changeIn(tx *state.CampaignTx, in intent) error {
	if in.change != nil {
		if err := in.change(tx, outcomeOf{}); err != nil {
			return err
		}
	}
	if in.unjournaled || in.entry.Kind == "" {
		return nil
	}
	e := in.entry
	if e.At.IsZero() {
		e.At = b.now().UTC()
	}
	return tx.Append(e)
}

// applyAll applies intents in order and reports each one carried out now
// (its said). A failed one does not stop the others; the errors are
// joined.
func (b *executor) applyAll(ctx context.Context, r *run, ins []intent) error {
	var errs []error
	for _, in := range ins {
		done, err := b.apply(ctx, r.rec.Name, in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case in.sayLater != nil:
			r.say(in.sayLater())
		case done:
			r.say(in.said)
		}
	}
	return errors.Join(errs...)
}

// record records intents without writes (state changes alone) in one
// bbolt transaction: all of them or none, then reports them.
func (b *executor) record(r *run, ins []intent) error {
	if len(ins) == 0 {
		return nil
	}
	err := b.store.Update(r.rec.Name, func(tx *state.CampaignTx) error {
		for _, in := range ins {
			if in.write != nil {
				return fmt.Errorf("bot: record takes state changes only, not %s", in.key)
			}
			if err := b.changeIn(tx, in); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, in := range ins {
		if in.sayLater != nil {
			r.say(in.sayLater())
		} else {
			r.say(in.said)
		}
	}
	return nil
}

// journal appends one entry outside any op.
func (b *executor) journal(campaign string, e state.Entry) error {
	if e.At.IsZero() {
		e.At = b.now().UTC()
	}
	return b.store.Update(campaign, func(tx *state.CampaignTx) error { return tx.Append(e) })
}

// Keys of what an op records in state.Op.Args.
const (
	argTask    = "task"    // the PHID of the task a comment goes on
	argLabels  = "labels"  // the policy findings a policy task update lists, comma-separated
	argAnswers = "answers" // how many answers a policy task update carries
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
func (b *executor) reconcileFailed(ctx context.Context, campaign string, op state.Op, err error) error {
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

// closeStaleComments settles the pending comment ops whose key starts with
// prefix and that their chore no longer posts (keep lists what it posts):
// a reminder superseded by a later one, the announcement of a removal batch
// decided since. Each is marked done, as reconciled if its comment is on
// the task, else as not sent: posting it late would be wrong, and leaving
// it pending would leave it pending forever.
func (b *executor) closeStaleComments(ctx context.Context, rec *state.Campaign, prefix OpKey, keep func(key OpKey) bool, why string) error {
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
		result, found, err := b.read.findComment(ctx, rec, op.Args[argTask], OpKey(op.Key))
		if err != nil {
			errs = append(errs, b.reconcileFailed(ctx, rec.Name, op, err))
			continue
		}
		in := intent{key: OpKey(op.Key), kind: op.Kind, entry: state.Entry{Kind: op.Kind.Entry(), Actor: rec.BotUsername, Detail: op.Key}}
		how := "reconciled"
		if !found {
			result, how = resultNotSent, "not sent: "+why
			in.entry.Kind = state.EntryWriteDropped
		}
		b.log.Info().Str("campaign", rec.Name).Str("op", op.Key).Bool("found", found).Msg("closed a stale pending comment")
		errs = append(errs, b.finish(rec.Name, in, op, outcomeOf{result: result, reconciled: found}, how))
	}
	return errors.Join(errs...)
}

// probeMembership asks Phabricator whether the bot may edit a group's
// membership, by removing a user PHID that exists nowhere: the only
// Conduit write outside the executor (apply.go), as it is no write of a
// campaign's, records nothing and must not be dry-run. Phorge's
// transaction editor runs its capability checks before it filters out
// edits with no effect ("we want to give you a permissions error even if
// the edit would have no effect", applyTransactions in
// PhabricatorApplicationTransactionEditor at the recorded commit), and
// removing a PHID that is not a member is accepted as a no-op (NOTES facts
// 28, 30; recording project.edit.members-remove.cleanup-bogus-phid). So
// the probe learns whether the bot may edit the membership and can never
// remove anybody, even one who joined a moment ago. It goes past dry-run
// for the same reason, so that a dry-run launch fails exactly where the
// real one would.
func (b *executor) probeMembership(ctx context.Context, group string) (conduit.EditResult, error) {
	prober := b.conn.Phabricator
	if u, ok := prober.(interface{ Unwrap() Phabricator }); ok {
		prober = u.Unwrap()
	}
	return prober.EditProjectMembers(ctx, group, nil, []string{ProbePHID})
}
