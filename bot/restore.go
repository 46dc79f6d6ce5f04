package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// Restore re-adds a removed user to exactly the groups the bot removed them
// from, if Phabricator says they are compliant now (or force is set),
// comments on their task and journals it.
func (b *Bot) Restore(ctx context.Context, campaign, username string, force bool, actor string) error {
	r, err := b.runFor(campaign)
	if err != nil {
		return err
	}
	f, err := b.findingByUsername(campaign, username)
	if err != nil {
		return err
	}
	return b.restore(ctx, r, f, restoreAsk{force: force, actor: actor})
}

// runFor prepares a run for a command outside a tick.
func (b *Bot) runFor(campaign string) (*run, error) {
	rec, err := b.campaignRecord(campaign)
	if err != nil {
		return nil, err
	}
	c, err := b.load(campaign)
	if err != nil {
		return nil, fmt.Errorf("load campaign file: %w", err)
	}
	return &run{c: c, rec: rec, report: &CampaignTick{Campaign: campaign}, log: &b.log}, nil
}

// restoreAsk is who asked for a restore, and how.
type restoreAsk struct {
	force bool
	// actor is who asked, for the journal.
	actor string
	// approver, if set, is the Phabricator user whose !restore the bot
	// verified; the comment on the task credits them.
	approver string
	// command is the PHID of the transaction holding that !restore.
	command string
}

// restore re-adds f's user. Once its checks pass it records the restore as
// an op, with who asked and the command it answers, before writing any
// membership; the comment that ends it marks the op done in the
// transaction that marks the user restored. A restore found started is
// finished without asking again whether the user is compliant: its
// approver decided that, and half a restore helps nobody.
func (b *Bot) restore(ctx context.Context, r *run, f state.Finding, ask restoreAsk) error {
	if f.Status != state.StatusRemoved || len(f.RemovedFrom) == 0 {
		return fmt.Errorf("%w: @%s was not removed by this campaign (status %s)", ErrRefused, f.Username, f.Status)
	}
	seq := f.Restores + 1
	intentKey := restoreKey(f.Username, seq)
	restoreOp, err := b.opByKey(r.rec.Name, intentKey)
	switch {
	case err == nil:
		// Started before a crash: finish it as it was asked. A command
		// that finishes it is the one it then answers.
		if ask.command != "" && restoreOp.Args != nil {
			restoreOp.Args[argCommand] = ask.command
		}
		ask = restoreAsk{force: restoreOp.Args[argForce] == "true", actor: restoreOp.Args[argActor], approver: restoreOp.Args[argBy], command: restoreOp.Args[argCommand]}
	case !errors.Is(err, state.ErrNotFound):
		return err
	default:
		// Nobody restores their own access (the command path checks the
		// approver's PHID; this also holds for `auditbot restore --as`).
		for _, who := range []string{ask.approver, ask.actor} {
			if strings.EqualFold(strings.TrimPrefix(who, "@"), f.Username) {
				return fmt.Errorf("%w: @%s may not restore their own access; another person must decide", ErrRefused, f.Username)
			}
		}
		if !ask.force {
			ok, left, err := b.unmet(ctx, r, f)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: Phabricator still shows @%s as non-compliant (%s); use --force to restore anyway", ErrRefused, f.Username, strings.Join(reasonsText(left), ", "))
			}
		}
		restoreOp = state.Op{Key: string(intentKey), Kind: state.OpRestore, State: state.OpPending, CreatedAt: b.now().UTC(), Attempts: 1,
			Args: map[string]string{argUser: f.Username, argActor: ask.actor, argBy: ask.approver, argCommand: ask.command, argForce: strconv.FormatBool(ask.force)}}
		if err := b.store.Update(r.rec.Name, func(tx *state.CampaignTx) error { return tx.PutOp(restoreOp) }); err != nil {
			return fmt.Errorf("record restoreOp %s: %w", intentKey, err)
		}
	}
	force, actor, approver := ask.force, ask.actor, ask.approver
	var errs []error
	for _, gp := range f.RemovedFrom {
		g, _ := r.rec.GroupByPHID(gp)
		key := restoreMemberKey(intentKey, gp)
		_, err := b.apply(ctx, r.rec.Name, intent{key: key, kind: state.OpMemberRestored,
			write: editMembers{project: gp, add: []string{f.UserPHID}},
			reconcile: func(ctx context.Context) (bool, error) {
				members, ok, err := b.projectMembers(ctx, gp)
				if err != nil || !ok {
					return false, err
				}
				return slices.Contains(members, f.UserPHID), nil
			},
			entry: state.Entry{Actor: actor, User: f.Username, Group: g.Name, Detail: fmt.Sprintf("restore #%d, force=%v", seq, force)},
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	bt, err := b.batchOf(r.rec.Name, f.Batch)
	if err != nil {
		return err
	}
	text, err := b.render("restored", templates.ReplyData{Campaign: b.campaignData(r.c, &r.rec), Person: person(&f),
		Groups: groupNames(&r.rec, f.RemovedFrom), Approver: templates.Person{Username: approver}})
	if err != nil {
		return err
	}
	now := b.now().UTC()
	restored := updateFinding(f.UserPHID, func(f *state.Finding) {
		f.Status, f.RestoreRequested, f.Restores, f.UpdatedAt = state.StatusRestored, false, seq, now
		f.ForcedRestore = force
	})
	_, err = b.comment(ctx, r, bt, restoreCommentKey(intentKey), text,
		state.Entry{Kind: state.EntryRestored, Actor: actor, User: f.Username}, func(tx *state.CampaignTx) error {
			if err := restored(tx); err != nil {
				return err
			}
			restoreOp.State, restoreOp.DoneAt = state.OpDone, now
			return tx.PutOp(restoreOp)
		})
	if err == nil {
		r.eventOf(ev{kind: "restored", user: f.Username}, "restored @%s to %v", f.Username, groupNames(&r.rec, f.RemovedFrom))
	}
	return err
}

// restoredByCommand reports whether the !restore (or !approve @user) in
// transaction command already restored f: a crash after the restore and
// before the task's cursor moved past the command reads it again, and it
// must be answered as done, not refused because the user is no longer
// removed.
func (b *Bot) restoredByCommand(campaign string, f state.Finding, command string) (bool, error) {
	if f.Restores == 0 {
		return false, nil
	}
	op, err := b.opByKey(campaign, restoreKey(f.Username, f.Restores))
	if errors.Is(err, state.ErrNotFound) {
		return false, nil
	}
	return err == nil && op.State == state.OpDone && op.Args[argCommand] == command, err
}

func (b *Bot) batchOf(campaign string, index int) (state.Batch, error) {
	var bt state.Batch
	err := b.store.View(campaign, func(tx *state.CampaignTx) error {
		var err error
		bt, err = tx.Batch(index)
		return err
	})
	return bt, err
}

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
		data := templates.ExtensionData{Campaign: b.campaignData(r.c, &snap.Campaign), OldCutoff: old, NewCutoff: newDate}
		if username != "" {
			data.Users = users
		}
		text, err := b.render("deadline-extended", data)
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

// opByKey reads one op; state.ErrNotFound if there is none.
func (b *Bot) opByKey(campaign string, key OpKey) (state.Op, error) {
	var op state.Op
	err := b.store.View(campaign, func(tx *state.CampaignTx) error {
		var err error
		op, err = tx.Op(string(key))
		return err
	})
	return op, err
}
