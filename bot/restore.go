package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/auditbot/auditbot/conduit"
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
	rec, err := b.read.campaignRecord(campaign)
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
	key := restoreKey(f.Username, f.Restores+1)
	op, err := b.read.opByKey(r.rec.Name, key)
	switch {
	case err == nil:
		// Started before a crash: finish it as it was asked. A command
		// that finishes it is the one it then answers.
		if ask.command != "" && op.Args != nil {
			op.Args[argCommand] = ask.command
		}
	case !errors.Is(err, state.ErrNotFound):
		return err
	default:
		snap, err := b.store.Snapshot(r.rec.Name)
		if err != nil {
			return err
		}
		var n needs
		if !ask.force {
			n = unmetNeeds(f)
		}
		v, err := b.read.observe(ctx, r, snap, n)
		if err != nil {
			return err
		}
		start, err := decideRestoreStart(v, f, ask)
		if err != nil {
			return err
		}
		if err := b.exec.record(r, []intent{start}); err != nil {
			return fmt.Errorf("record intent %s: %w", key, err)
		}
		if op, err = b.read.opByKey(r.rec.Name, key); err != nil {
			return err
		}
	}
	snap, err := b.store.Snapshot(r.rec.Name)
	if err != nil {
		return err
	}
	v, err := b.read.observe(ctx, r, snap, needs{})
	if err != nil {
		return err
	}
	members, done, err := decideRestore(v, f, op)
	if err != nil {
		return err
	}
	if err := b.exec.applyAll(ctx, r, members); err != nil {
		return err
	}
	return b.exec.applyAll(ctx, r, []intent{done})
}

// decideRestoreStart decides whether a restore asked for may start, and
// if so returns the state change that records it as an op (OpRestore)
// before any membership is written: nobody restores their own access (the
// command path checks the approver's PHID; this also holds for `auditbot
// restore --as`), and without force Phabricator must show the user
// compliant (v observed with unmetNeeds).
func decideRestoreStart(v *view, f state.Finding, ask restoreAsk) (intent, error) {
	for _, who := range []string{ask.approver, ask.actor} {
		if strings.EqualFold(strings.TrimPrefix(who, "@"), f.Username) {
			return intent{}, fmt.Errorf("%w: @%s may not restore their own access; another person must decide", ErrRefused, f.Username)
		}
	}
	if !ask.force {
		if ok, left := v.unmet(f); !ok {
			return intent{}, fmt.Errorf("%w: Phabricator still shows @%s as non-compliant (%s); use --force to restore anyway", ErrRefused, f.Username, strings.Join(reasonsText(left), ", "))
		}
	}
	op := state.Op{Key: string(restoreKey(f.Username, f.Restores+1)), Kind: state.OpRestore, State: state.OpPending, CreatedAt: v.now, Attempts: 1,
		Args: map[string]string{argUser: f.Username, argActor: ask.actor, argBy: ask.approver, argCommand: ask.command, argForce: strconv.FormatBool(ask.force)}}
	return intent{change: func(tx *state.CampaignTx, _ outcomeOf) error { return tx.PutOp(op) }}, nil
}

// decideRestore is a started restore (op, as recorded): one project.edit
// per group the campaign removed the user from, then the comment on their
// task that marks them restored and the restore done, in one transaction.
func decideRestore(v *view, f state.Finding, op state.Op) (members []intent, done intent, err error) {
	seq := f.Restores + 1
	force, actor, approver := op.Args[argForce] == "true", op.Args[argActor], op.Args[argBy]
	rec := v.rec()
	readd := f.RemovedFrom
	if f.Disabled {
		// The account was disabled, not removed: it is enabled again,
		// and its memberships, never touched, are not re-added.
		members, readd = []intent{enableIntent(f, op, actor, seq, force)}, nil
	}
	for _, gp := range readd {
		g, _ := rec.GroupByPHID(gp)
		members = append(members, intent{key: restoreMemberKey(OpKey(op.Key), gp), kind: state.OpMemberRestored,
			write:  editMembers{project: gp, add: []string{f.UserPHID}},
			landed: landedCheck{project: gp, members: func(members []string) bool { return slices.Contains(members, f.UserPHID) }},
			entry:  state.Entry{Actor: actor, User: f.Username, Group: g.Name, Detail: fmt.Sprintf("restore #%d, force=%v", seq, force)},
		})
	}
	bt, ok := v.batch(f.Batch)
	if !ok {
		return nil, intent{}, fmt.Errorf("batch %d: %w", f.Batch, state.ErrNotFound)
	}
	cd := v.words.campaignData(v.c, rec)
	cd.Disable = f.Disabled
	text, err := v.words.render(templates.Restored, templates.ReplyData{Campaign: cd, Person: person(&f),
		Groups: groupNames(rec, f.RemovedFrom), Approver: templates.Person{Username: approver}})
	if err != nil {
		return nil, intent{}, err
	}
	now := v.now
	done = commentIntent(rec, bt, restoreCommentKey(OpKey(op.Key)), text,
		state.Entry{Kind: state.EntryRestored, Actor: actor, User: f.Username}, func(tx *state.CampaignTx) error {
			if err := updateFinding(f.UserPHID, func(f *state.Finding) {
				f.Status, f.RestoreRequested, f.Restores, f.UpdatedAt = state.StatusRestored, false, seq, now
				f.ForcedRestore, f.Disabled = force, false
			})(tx); err != nil {
				return err
			}
			op.State, op.DoneAt = state.OpDone, now
			return tx.PutOp(op)
		})
	done.sayLater = func() said {
		if f.Disabled {
			return said{ev{kind: "restored", user: f.Username}, fmt.Sprintf("restored @%s: account enabled again", f.Username)}
		}
		return said{ev{kind: "restored", user: f.Username}, fmt.Sprintf("restored @%s to %v", f.Username, groupNames(rec, f.RemovedFrom))}
	}
	return members, done, nil
}

// enableIntent enables again the account a campaign with action disable
// disabled (f.Disabled), for the restore op: one user.edit, judged landed
// by the account's roles (no "disabled").
func enableIntent(f state.Finding, op state.Op, actor string, seq int, force bool) intent {
	return intent{key: restoreEnableKey(OpKey(op.Key)), kind: state.OpAccountEnabled,
		write:  setDisabled{user: f.UserPHID, disabled: false},
		landed: landedCheck{user: f.UserPHID, userIs: func(u conduit.User) bool { return !u.IsDisabled() }},
		failed: func(err error) error {
			if errors.Is(err, conduit.ErrPermissionDenied) {
				return fmt.Errorf("the bot may not enable accounts (%s): it must be an administrator; @%s is still disabled", policyHint(err), f.Username)
			}
			return err
		},
		entry: state.Entry{Actor: actor, User: f.Username, Outcome: "enabled", Detail: fmt.Sprintf("restore #%d, force=%v: account enabled again", seq, force)},
	}
}
