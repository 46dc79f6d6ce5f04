package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	snap, err := b.store.Snapshot(campaign)
	if err != nil {
		return err
	}
	v, err := b.read.observe(ctx, r, snap, needs{})
	if err != nil {
		return err
	}
	op, move, err := decideExtend(v, to, username, actor)
	if err != nil {
		return err
	}
	if move != nil {
		if err := b.exec.record(r, []intent{*move}); err != nil {
			return err
		}
	}
	return b.announceExtension(ctx, r, op)
}

// decideExtend decides an extend of v's campaign to the end of day to
// (UTC), for the whole campaign or, with username, for one user: the op
// that records it and whose announcements follow, and move, the state
// change that moves the deadline and records op (nil when an earlier
// extend to the same date moved it and stopped before announcing it all).
func decideExtend(v *view, to time.Time, username, actor string) (state.Op, *intent, error) {
	rec := v.rec()
	cutoff := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
	if !cutoff.After(v.now) {
		return state.Op{}, nil, fmt.Errorf("%w: the new deadline %s is in the past", ErrInput, to.Format("2006-01-02"))
	}
	current := rec.Cutoff
	var target *state.Finding
	if username != "" {
		f, ok := v.finding(username)
		if !ok {
			return state.Op{}, nil, fmt.Errorf("%w: @%s is not part of campaign %s", ErrInput, strings.TrimPrefix(username, "@"), rec.Name)
		}
		// From here on the finding's own name: the operator may have
		// typed "@Name" or another case, which v.finding accepts but
		// the announcement filter and the op key must not see.
		target, current, username = &f, f.EffectiveCutoff(rec), f.Username
	}
	old, newDate := cutoffDate(current), cutoffDate(cutoff)
	key := extensionKey(newDate, username)
	if i := slices.IndexFunc(v.snap.Ops, func(op state.Op) bool { return op.Key == string(key) }); i >= 0 {
		op := v.snap.Ops[i]
		if op.State != state.OpDone {
			// The deadline moved before a crash: finish the announcements.
			return op, nil, nil
		}
		// An earlier extend to this date finished. Say so rather than
		// report a move that did not happen now.
		if old != newDate {
			return op, nil, fmt.Errorf("%w: an earlier extend to %s already ran; the deadline now is %s; extend only moves deadlines later", ErrInput, newDate, old)
		}
		return op, nil, fmt.Errorf("%w: the deadline already is %s and was announced", ErrUnchanged, newDate)
	}
	// The same date again is allowed: it announces the date to tasks that
	// were not told yet, and nothing twice.
	if cutoff.Before(current) {
		return state.Op{}, nil, fmt.Errorf("%w: %s is earlier than the current deadline %s; extend only moves deadlines later", ErrInput, newDate, old)
	}
	now := v.now
	op := state.Op{Key: string(key), Kind: state.OpDeadlineExtended, State: state.OpPending, CreatedAt: now, Attempts: 1,
		Args: map[string]string{argOld: old, argNew: newDate, argUser: username, argActor: actor}}
	move := &intent{
		change: func(tx *state.CampaignTx, _ outcomeOf) error {
			if target != nil {
				if err := updateFinding(target.UserPHID, func(f *state.Finding) { f.Cutoff, f.UpdatedAt = cutoff, now })(tx); err != nil {
					return err
				}
			} else {
				cur := tx.Campaign()
				cur.Cutoff = cutoff
				if err := tx.PutCampaign(cur); err != nil {
					return err
				}
			}
			return tx.PutOp(op)
		},
		entry: state.Entry{At: now, Kind: state.EntryDeadlineExtended, Actor: actor, User: username, Detail: old + " -> " + newDate},
	}
	return op, move, nil
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
// users it concerns, then marks op done.
func (b *Bot) announceExtension(ctx context.Context, r *run, op state.Op) error {
	snap, err := b.store.Snapshot(r.rec.Name)
	if err != nil {
		return err
	}
	v, err := b.read.observe(ctx, r, snap, needs{})
	if err != nil {
		return err
	}
	p, err := decideExtensionAnnouncements(v, op)
	if err != nil {
		return err
	}
	if err := b.postAll(ctx, r, p); err != nil {
		return err
	}
	return b.exec.record(r, []intent{extensionAnnounced(op, b.now().UTC())})
}

// decideExtensionAnnouncements is the comment that announces the extension op
// records on each task with pending users it concerns. The dates come
// from op, never from the deadline now recorded, which already is the new
// one.
func decideExtensionAnnouncements(v *view, op state.Op) (posts, error) {
	old, newDate, username, actor := op.Args[argOld], op.Args[argNew], op.Args[argUser], op.Args[argActor]
	var p posts
	for _, bt := range v.snap.Batches {
		var users []templates.Person
		for _, f := range v.findingsOf(bt) {
			if f.Status == state.StatusPending && (username == "" || f.Username == username) {
				users = append(users, person(&f))
			}
		}
		if len(users) == 0 {
			continue
		}
		data := templates.ExtensionData{Campaign: v.words.campaignData(v.c, v.rec()), OldCutoff: old, NewCutoff: newDate}
		if username != "" {
			data.Users = users
		}
		text, err := v.words.render("deadline-extended", data)
		if err != nil {
			return posts{}, err
		}
		key := extendKey(newDate, bt.Index)
		if username != "" {
			key = userExtendKey(newDate, username)
		}
		p.post(v.rec(), bt, key, text, state.Entry{Kind: state.EntryExtensionAnnounced, Actor: actor, Detail: newDate}, said{})
	}
	return p, nil
}

// extensionAnnounced marks the extension op done, at now: every task it
// concerns was told.
func extensionAnnounced(op state.Op, now time.Time) intent {
	return intent{change: func(tx *state.CampaignTx, _ outcomeOf) error {
		op.State, op.DoneAt = state.OpDone, now
		return tx.PutOp(op)
	}}
}
