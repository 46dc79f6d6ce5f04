package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	return b.restore(ctx, r, f, force, actor, "")
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
	return &run{c: c, rec: rec, report: &CampaignTick{Campaign: campaign}}, nil
}

// restore re-adds f's user. actor is who asked, for the journal; approver,
// if set, is the Phabricator user whose !restore the bot verified, and the
// comment on the task credits them.
func (b *Bot) restore(ctx context.Context, r *run, f state.Finding, force bool, actor, approver string) error {
	if f.Status != state.StatusRemoved || len(f.RemovedFrom) == 0 {
		return fmt.Errorf("%w: @%s was not removed by this campaign (status %s)", ErrRefused, f.Username, f.Status)
	}
	if !force {
		ok, err := b.verifyCompliant(ctx, f)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: Phabricator still shows @%s as non-compliant (no MFA or disabled); use --force to restore anyway", ErrRefused, f.Username)
		}
	}
	seq := f.Restores + 1
	var errs []error
	for _, gp := range f.RemovedFrom {
		g, _ := r.rec.GroupByPHID(gp)
		key := fmt.Sprintf("restore/%s/%d/%s", f.Username, seq, gp)
		_, err := b.once(ctx, effect{
			campaign: r.rec.Name, key: key, kind: "member-restored",
			find: func(ctx context.Context) (string, bool, error) {
				ps, err := b.phab.ProjectsByPHID(ctx, []string{gp}, true)
				if err != nil || len(ps) != 1 {
					return "", false, err
				}
				return "", slices.Contains(ps[0].MemberPHIDs, f.UserPHID), nil
			},
			do: func(ctx context.Context) (string, error) {
				res, err := b.phab.EditProjectMembers(ctx, gp, []string{f.UserPHID}, nil)
				if len(res.TransactionPHIDs) > 0 {
					return res.TransactionPHIDs[0], err
				}
				return "", err
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
	_, err = b.comment(ctx, r, bt, fmt.Sprintf("restore/%s/%d/comment", f.Username, seq), text,
		state.Entry{Kind: "restored", Actor: actor, User: f.Username}, updateFinding(f.UserPHID, func(f *state.Finding) {
			f.Status, f.RestoreRequested, f.Restores, f.UpdatedAt = state.StatusRestored, false, seq, now
			f.ForcedRestore = force
		}))
	if err == nil {
		r.event("restored @%s to %v", f.Username, groupNames(&r.rec, f.RemovedFrom))
	}
	return err
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
	snap, err := b.store.Snapshot(campaign)
	if err != nil {
		return err
	}
	var target *state.Finding
	if username != "" {
		f, err := b.findingByUsername(campaign, username)
		if err != nil {
			return err
		}
		target = &f
		old = cutoffDate(f.EffectiveCutoff(&r.rec))
	}
	current := r.rec.Cutoff
	if target != nil {
		current = target.EffectiveCutoff(&r.rec)
	}
	// The same date again is allowed: rerunning an extend that stopped
	// halfway posts the announcements still missing, and nothing twice.
	if cutoff.Before(current) {
		return fmt.Errorf("%w: %s is earlier than the current deadline %s; extend only moves deadlines later", ErrInput, newDate, old)
	}
	now := b.now().UTC()
	change := func(tx *state.CampaignTx) error {
		if target != nil {
			return updateFinding(target.UserPHID, func(f *state.Finding) { f.Cutoff, f.UpdatedAt = cutoff, now })(tx)
		}
		rec := tx.Campaign()
		rec.Cutoff = cutoff
		return tx.PutCampaign(rec)
	}
	if err := b.store.Update(campaign, func(tx *state.CampaignTx) error {
		if err := change(tx); err != nil {
			return err
		}
		return tx.Append(state.Entry{At: now, Kind: "deadline-extended", Actor: actor, User: username, Detail: old + " -> " + newDate})
	}); err != nil {
		return err
	}
	if target == nil {
		r.rec.Cutoff = cutoff
	}
	var errs []error
	for _, bt := range snap.Batches {
		var users []templates.Person
		for _, f := range findingsOf(snap.Findings, bt) {
			if f.Status == state.StatusPending && (target == nil || f.UserPHID == target.UserPHID) {
				users = append(users, person(&f))
			}
		}
		if len(users) == 0 {
			continue
		}
		data := templates.ExtensionData{Campaign: b.campaignData(r.c, &r.rec), OldCutoff: old, NewCutoff: newDate}
		if target != nil {
			data.Users = users
		}
		text, err := b.render("deadline-extended", data)
		if err != nil {
			return err
		}
		key := fmt.Sprintf("extend/%s/batch-%d", newDate, bt.Index)
		if target != nil {
			key = fmt.Sprintf("extend/%s/%s", newDate, target.Username)
		}
		if _, err := b.comment(ctx, r, bt, key, text, state.Entry{Kind: "extension-announced", Actor: actor, Detail: newDate}, nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
