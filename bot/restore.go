package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

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
			write:  editMembers{project: gp, add: []string{f.UserPHID}},
			landed: landedCheck{project: gp, members: func(members []string) bool { return slices.Contains(members, f.UserPHID) }},
			entry:  state.Entry{Actor: actor, User: f.Username, Group: g.Name, Detail: fmt.Sprintf("restore #%d, force=%v", seq, force)},
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
	text, err := b.words.render("restored", templates.ReplyData{Campaign: b.words.campaignData(r.c, &r.rec), Person: person(&f),
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
