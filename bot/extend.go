package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// Extend moves the deadline to the end of day `to` (UTC), for the whole
// campaign or, with username, for one user, and announces it on the
// affected tasks. Reminders then count from the new date.
//
// The move is recorded as an op, with the old and the new deadline, in the
// transaction that moves it; the announcements follow. If they stop
// halfway, rerunning the same extend (or the next tick's reminders chore)
// posts the missing ones from what the op recorded, so they still say
// "moved from OLD to NEW".
func (b *Bot) Extend(ctx context.Context, campaign string, to time.Time, username, actor string) error {
	r, err := b.runFor(campaign)
	if err != nil {
		return err
	}
	cutoff := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
	if !cutoff.After(b.now()) {
		return fmt.Errorf("%w: the new deadline %s is in the past", ErrInput, to.Format("2006-01-02"))
	}
	old := cutoffDate(r.rec.Cutoff)
	newDate := cutoffDate(cutoff)
	var target *state.Finding
	if username != "" {
		f, err := b.findingByUsername(campaign, username)
		if err != nil {
			return err
		}
		target = &f
		old = cutoffDate(f.EffectiveCutoff(&r.rec))
		// From here on the finding's own name: the operator may have typed
		// "@Name" or another case, which findingByUsername accepts but the
		// announcement filter and the op key must not see.
		username = f.Username
	}
	key := extensionKey(newDate, username)
	op, err := b.opByKey(campaign, key)
	switch {
	case err == nil && op.State == state.OpDone:
		// An earlier extend to this date finished. Say so rather than
		// report a move that did not happen now.
		if old != newDate {
			return fmt.Errorf("%w: an earlier extend to %s already ran; the deadline now is %s; extend only moves deadlines later", ErrInput, newDate, old)
		}
		return fmt.Errorf("%w: the deadline already is %s and was announced", ErrUnchanged, newDate)
	case err == nil:
		// The deadline moved before a crash: finish the announcements.
		return b.announceExtension(ctx, r, op)
	case !errors.Is(err, state.ErrNotFound):
		return err
	}
	current := r.rec.Cutoff
	if target != nil {
		current = target.EffectiveCutoff(&r.rec)
	}
	// The same date again is allowed: it announces the date to tasks that
	// were not told yet, and nothing twice.
	if cutoff.Before(current) {
		return fmt.Errorf("%w: %s is earlier than the current deadline %s; extend only moves deadlines later", ErrInput, newDate, old)
	}
	now := b.now().UTC()
	op = state.Op{Key: string(key), Kind: state.OpDeadlineExtended, State: state.OpPending, CreatedAt: now, Attempts: 1,
		Args: map[string]string{argOld: old, argNew: newDate, argUser: username, argActor: actor}}
	if err := b.store.Update(campaign, func(tx *state.CampaignTx) error {
		if target != nil {
			if err := updateFinding(target.UserPHID, func(f *state.Finding) { f.Cutoff, f.UpdatedAt = cutoff, now })(tx); err != nil {
				return err
			}
		} else {
			rec := tx.Campaign()
			rec.Cutoff = cutoff
			if err := tx.PutCampaign(rec); err != nil {
				return err
			}
		}
		if err := tx.PutOp(op); err != nil {
			return err
		}
		return tx.Append(state.Entry{At: now, Kind: state.EntryDeadlineExtended, Actor: actor, User: username, Detail: old + " -> " + newDate})
	}); err != nil {
		return err
	}
	if target == nil {
		r.rec.Cutoff = cutoff
	}
	return b.announceExtension(ctx, r, op)
}

// finishExtensions posts the announcements of every extend that stopped
// before posting them all.
func (b *Bot) finishExtensions(ctx context.Context, r *run) error {
	snap, err := b.store.Snapshot(r.rec.Name)
	if err != nil {
		return err
	}
	var errs []error
	for _, op := range snap.Ops {
		if op.Kind == state.OpDeadlineExtended && op.State == state.OpPending {
			errs = append(errs, b.announceExtension(ctx, r, op))
		}
	}
	return errors.Join(errs...)
}

// announceExtension posts an extension recorded in op on the tasks with
// users it concerns, then marks op done. The dates come from op, never
// from the deadline now recorded, which already is the new one.
func (b *Bot) announceExtension(ctx context.Context, r *run, op state.Op) error {
	old, newDate, username, actor := op.Args[argOld], op.Args[argNew], op.Args[argUser], op.Args[argActor]
	snap, err := b.store.Snapshot(r.rec.Name)
	if err != nil {
		return err
	}
	var errs []error
	for _, bt := range snap.Batches {
		var users []templates.Person
		for _, f := range findingsOf(snap.Findings, bt) {
			if f.Status == state.StatusPending && (username == "" || f.Username == username) {
				users = append(users, person(&f))
			}
		}
		if len(users) == 0 {
			continue
		}
		data := templates.ExtensionData{Campaign: b.words.campaignData(r.c, &snap.Campaign), OldCutoff: old, NewCutoff: newDate}
		if username != "" {
			data.Users = users
		}
		text, err := b.words.render("deadline-extended", data)
		if err != nil {
			return err
		}
		key := extendKey(newDate, bt.Index)
		if username != "" {
			key = userExtendKey(newDate, username)
		}
		if _, err := b.comment(ctx, r, bt, key, text, state.Entry{Kind: state.EntryExtensionAnnounced, Actor: actor, Detail: newDate}, nil); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return b.store.Update(r.rec.Name, func(tx *state.CampaignTx) error {
		op.State, op.DoneAt = state.OpDone, b.now().UTC()
		return tx.PutOp(op)
	})
}
