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

// choreReminders posts the most recent due reminder on every task that
// still has pending users. Reminders missed while the bot was down are not
// sent late one after another: only the latest due one is, and the earlier
// ones are marked handled.
//
// It first finishes the announcements of an extend that stopped halfway,
// and ends by settling reminders left pending by a crash that it no
// longer sends (a later one is due, or the deadline passed): otherwise
// they would stay pending forever.
func (b *Bot) choreReminders(ctx context.Context, r *run) error {
	extErr := b.finishExtensions(ctx, r)
	sent := map[OpKey]bool{}
	if err := errors.Join(b.campaignReminders(ctx, r, sent), b.extendedReminders(ctx, r, sent)); err != nil {
		// What failed may be due again next tick: settle nothing now.
		return errors.Join(extErr, err)
	}
	return errors.Join(extErr, b.closeStaleComments(ctx, &r.rec, reminderPrefix, func(key OpKey) bool { return sent[key] },
		"a later reminder or the deadline superseded it"))
}

// campaignReminders reminds the users whose deadline is the campaign's.
// sent collects the keys of the reminders it posts (or finds posted).
func (b *Bot) campaignReminders(ctx context.Context, r *run, sent map[OpKey]bool) error {
	now := b.now()
	if !now.Before(r.rec.Cutoff) {
		return nil
	}
	date := cutoffDate(r.rec.Cutoff)
	var due []time.Duration
	for _, off := range r.c.Reminders {
		id := reminderID(date, off)
		if !now.Before(r.rec.Cutoff.Add(-off)) && !slices.Contains(r.rec.RemindersDone, id) {
			due = append(due, off)
		}
	}
	if len(due) == 0 {
		return nil
	}
	send := slices.Min(due)
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	var errs []error
	for _, bt := range snap.Batches {
		if bt.Team {
			// Nobody on the team's task can act: no deadline to remind of.
			continue
		}
		fs := findingsOf(snap.Findings, bt)
		var pending, unsubscribed []templates.Person
		for i := range fs {
			// Users with their own deadline get their own reminders.
			if fs[i].Status != state.StatusPending || fs[i].Extended(&snap.Campaign) {
				continue
			}
			if fs[i].Unsubscribed {
				unsubscribed = append(unsubscribed, person(&fs[i]))
			} else {
				pending = append(pending, person(&fs[i]))
			}
		}
		if len(pending)+len(unsubscribed) == 0 && r.c.QuietReminders {
			continue
		}
		data := templates.ReminderData{Campaign: b.words.campaignData(r.c, &snap.Campaign), Pending: pending, DaysLeft: daysLeft(now, r.rec.Cutoff), Unsubscribed: unsubscribed}
		text, err := b.words.render("reminder", data)
		if err != nil {
			return err
		}
		key := reminderKey(date, offsetName(send), bt.Index)
		sent[key] = true
		posted, err := b.comment(ctx, r, bt, key, text, state.Entry{Kind: state.EntryReminder, Detail: fmt.Sprintf("%s before the cutoff, %d pending", offsetName(send), len(pending))}, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if posted {
			r.eventOf(ev{kind: "reminder", task: bt.Monogram()}, "reminded %d pending user(s) on %s (%s before the cutoff)", len(pending), bt.Monogram(), offsetName(send))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return b.store.Update(r.c.Name, func(tx *state.CampaignTx) error {
		rec := tx.Campaign()
		for _, off := range due {
			rec.RemindersDone = append(rec.RemindersDone, reminderID(date, off))
		}
		return tx.PutCampaign(rec)
	})
}

// extendedReminders reminds, one by one, the pending users whose deadline
// was extended past the campaign's, counting from their own date.
func (b *Bot) extendedReminders(ctx context.Context, r *run, sent map[OpKey]bool) error {
	now := b.now()
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range snap.Findings {
		if f.Status != state.StatusPending || !f.Extended(&snap.Campaign) || !now.Before(f.Cutoff) {
			continue
		}
		var due []time.Duration
		for _, off := range r.c.Reminders {
			if !now.Before(f.Cutoff.Add(-off)) {
				due = append(due, off)
			}
		}
		if len(due) == 0 {
			continue
		}
		// Only the most recent due offset: op keys make each one once.
		send := slices.Min(due)
		bt, err := b.batchOf(r.c.Name, f.Batch)
		if err != nil {
			return err
		}
		data := templates.ReminderData{Campaign: b.words.campaignData(r.c, &snap.Campaign), DaysLeft: daysLeft(now, f.Cutoff)}
		data.Cutoff, data.CutoffDate = f.Cutoff, cutoffDate(f.Cutoff)
		// A personal reminder mentions its user even if they unsubscribed:
		// the campaign reminders list such users only by name.
		data.Pending = []templates.Person{person(&f)}
		text, err := b.words.render("reminder", data)
		if err != nil {
			return err
		}
		key := userReminderKey(cutoffDate(f.Cutoff), offsetName(send), f.Username)
		sent[key] = true
		posted, err := b.comment(ctx, r, bt, key, text, state.Entry{Kind: state.EntryReminder, User: f.Username, Detail: fmt.Sprintf("%s before the extended deadline %s", offsetName(send), cutoffDate(f.Cutoff))}, nil)
		if err != nil {
			errs = append(errs, err)
		} else if posted {
			r.eventOf(ev{kind: "reminder", task: bt.Monogram(), user: f.Username}, "reminded @%s on %s (%s before the extended deadline)", f.Username, bt.Monogram(), offsetName(send))
		}
	}
	return errors.Join(errs...)
}

// reminderID names a reminder by cutoff and offset, so extending the
// deadline makes every reminder due again relative to the new date.
func reminderID(cutoffDate string, off time.Duration) string {
	return cutoffDate + "/" + offsetName(off)
}

// offsetName prints 720h as "30d" and 36h as "36h".
func offsetName(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}
