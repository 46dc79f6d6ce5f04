package bot

// The tracking task: a campaign may name the task that tracks the audit
// (tracking_task, often the audit's own, readable by everyone). When the
// campaign closes, the bot posts its summary there once (report.Summary):
// counts per group and status, every consequence with its approvers, and
// the journal's head, so that whoever reads the task can later check the
// state file against it (verify-journal --head).

import (
	"context"
	"errors"
	"fmt"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/report"
	"github.com/auditbot/auditbot/state"
)

// trackingTask reads the campaign's tracking task by its ID; ok is false
// when there is no such task or the bot may not see it (maniphest.search
// leaves it out, NOTES fact 23).
func (b *reader) trackingTask(ctx context.Context, c *campaigns.Campaign) (t conduit.Task, ok bool, err error) {
	got, err := b.conn.SearchTasks(ctx, conduit.TaskQuery{IDs: []int{c.TrackingTask}})
	if err != nil || len(got) != 1 {
		return t, false, err
	}
	return got[0], true, nil
}

// checkedJournal reads a campaign's whole journal and verifies its chain.
func (b *reader) checkedJournal(campaign string) ([]state.Entry, state.JournalCheck, error) {
	return b.store.CheckedJournal(campaign)
}

// errTrackingTask says that the tracking task cannot be used, and how to
// fix it.
func errTrackingTask(c *campaigns.Campaign) error {
	return fmt.Errorf("%w: tracking_task %s: no such task, or the bot may not see it; the summary is posted there when the campaign closes: "+
		"give the bot's account view access to the task, or name another task (or drop the key) in %s",
		ErrInput, c.TrackingMonogram(), c.Source)
}

// checkTracking is the pre-flight check of the tracking task: it exists
// and the bot can see it (and so comment on it, unless it is locked).
// It says who may read the task, which is who will read the summary.
func (b *Bot) checkTracking(ctx context.Context, c *campaigns.Campaign, r *CheckReport) error {
	if c.TrackingTask == 0 {
		return nil
	}
	t, ok, err := b.read.trackingTask(ctx, c)
	if err != nil {
		return fmt.Errorf("check tracking_task %s: %w", c.TrackingMonogram(), err)
	}
	if !ok {
		r.fail(c.TrackingMonogram(), "tracking task visible", errTrackingTask(c).Error(), ErrInput)
		return nil
	}
	r.add(c.TrackingMonogram(), "tracking task visible", true, fmt.Sprintf(
		"the campaign's summary is posted there when it closes (counts, removals with approvers, journal head); readable by: %s", t.ViewPolicy))
	return nil
}

// postTracking posts the campaign's summary on its tracking task, once:
// after its own tasks are closed (their entries are in the journal whose
// head it names) and before it is marked closed, so that a failure keeps
// it ticking until the summary is posted.
func (b *Bot) postTracking(ctx context.Context, r *run) error {
	if r.c == nil || r.c.TrackingTask == 0 {
		return nil
	}
	if op, err := b.read.opByKey(r.rec.Name, trackingKey()); err == nil && op.State == state.OpDone {
		return nil
	} else if err != nil && !errors.Is(err, state.ErrNotFound) {
		return err
	}
	t, ok, err := b.read.trackingTask(ctx, r.c)
	if err != nil {
		return err
	}
	if !ok {
		return errTrackingTask(r.c)
	}
	snap, err := b.store.Snapshot(r.rec.Name)
	if err != nil {
		return err
	}
	journal, check, err := b.read.checkedJournal(r.rec.Name)
	if err != nil {
		return err
	}
	return b.exec.applyAll(ctx, r, []intent{decideTracking(&snap, journal, check, r.c.TrackingMonogram(), t.PHID)})
}

// decideTracking is the comment that posts the campaign's summary on its
// tracking task (monogram, PHID task): one comment, found again after a
// crash by its marker among the bot's own comments (findComment).
func decideTracking(snap *state.Snapshot, journal []state.Entry, check state.JournalCheck, monogram, task string) intent {
	rec := &snap.Campaign
	s := report.Summarize(snap, journal, check)
	return intent{key: trackingKey(), kind: state.OpTrackingSummary,
		write: comment(task, s.Remarkup()),
		entry: state.Entry{Actor: rec.BotUsername, ActorKind: state.ActorBot, Task: monogram, Outcome: "posted",
			Detail: "campaign summary posted, naming the journal's head"},
		args: map[string]string{argTask: task},
		said: said{ev{kind: "tracking-summary", task: monogram}, "campaign summary posted on " + monogram},
	}
}
