package bot

// Reminders, in two chores: the users are reminded of their deadline
// (reminders), the approvers of a removal batch they leave undecided
// (approval-reminders). Each observes, decides on the view, and posts
// what it decided; a reminder is posted once, by its op key, and one a
// crash left pending that is no longer due is settled, never posted late.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/auditbot/auditbot/campaigns"
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
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return errors.Join(extErr, err)
	}
	v, err := b.read.observe(ctx, r, snap, needs{})
	if err != nil {
		return errors.Join(extErr, err)
	}
	sent := map[OpKey]bool{}
	if err := errors.Join(b.remindCampaign(ctx, r, v, sent), b.remindExtended(ctx, r, v, sent)); err != nil {
		// What failed may be due again next tick: settle nothing now.
		return errors.Join(extErr, err)
	}
	return errors.Join(extErr, b.exec.closeStaleComments(ctx, &r.rec, reminderPrefix, func(key OpKey) bool { return sent[key] },
		"a later reminder or the deadline superseded it"))
}

// remindCampaign posts the campaign-wide reminder that is due, and once
// every task has it, marks the due reminders done. sent collects the keys
// of the reminders it posts.
func (b *Bot) remindCampaign(ctx context.Context, r *run, v *view, sent map[OpKey]bool) error {
	p, done, err := decideCampaignReminders(v)
	if err != nil || done == nil {
		return err
	}
	for k := range p.keys {
		sent[k] = true
	}
	if err := b.postAll(ctx, r, p); err != nil {
		return err
	}
	return b.exec.record(r, []intent{*done})
}

// remindExtended posts the reminders of users with a deadline of their
// own. sent collects their keys.
func (b *Bot) remindExtended(ctx context.Context, r *run, v *view, sent map[OpKey]bool) error {
	p, err := decideExtendedReminders(v)
	if err != nil {
		return err
	}
	for k := range p.keys {
		sent[k] = true
	}
	return b.postAll(ctx, r, p)
}

// decideCampaignReminders is the reminder of the users whose deadline is
// the campaign's, on each of their tasks: the most recent one due only,
// listing who is pending (by name only those who unsubscribed). done
// marks every due reminder handled; nil when none is due.
func decideCampaignReminders(v *view) (p posts, done *intent, err error) {
	rec := v.rec()
	if !v.now.Before(rec.Cutoff) {
		return p, nil, nil
	}
	date := cutoffDate(rec.Cutoff)
	var due []time.Duration
	for _, off := range v.c.Reminders {
		if !v.now.Before(rec.Cutoff.Add(-off)) && !slices.Contains(rec.RemindersDone, reminderID(date, off)) {
			due = append(due, off)
		}
	}
	if len(due) == 0 {
		return p, nil, nil
	}
	send := slices.Min(due)
	for _, bt := range v.snap.Batches {
		if bt.Team {
			// Nobody on the team's task can act: no deadline to remind of.
			continue
		}
		var pending, unsubscribed []templates.Person
		for _, f := range v.findingsOf(bt) {
			// Users with their own deadline get their own reminders.
			switch {
			case f.Status != state.StatusPending || f.Extended(rec):
			case f.Unsubscribed:
				unsubscribed = append(unsubscribed, person(&f))
			default:
				pending = append(pending, person(&f))
			}
		}
		if len(pending)+len(unsubscribed) == 0 && v.c.QuietReminders {
			continue
		}
		data := templates.ReminderData{Campaign: v.words.campaignData(v.c, rec), Pending: pending, DaysLeft: daysLeft(v.now, rec.Cutoff), Unsubscribed: unsubscribed}
		text, err := v.words.render("reminder", data)
		if err != nil {
			return posts{}, nil, err
		}
		p.post(rec, bt, reminderKey(date, offsetName(send), bt.Index), text,
			state.Entry{Kind: state.EntryReminder, Detail: fmt.Sprintf("%s before the cutoff, %d pending", offsetName(send), len(pending))},
			said{ev{kind: "reminder", task: bt.Monogram()}, fmt.Sprintf("reminded %d pending user(s) on %s (%s before the cutoff)", len(pending), bt.Monogram(), offsetName(send))})
	}
	return p, &intent{change: func(tx *state.CampaignTx, _ outcomeOf) error {
		cur := tx.Campaign()
		for _, off := range due {
			cur.RemindersDone = append(cur.RemindersDone, reminderID(date, off))
		}
		return tx.PutCampaign(cur)
	}}, nil
}

// decideExtendedReminders reminds, one by one, the pending users whose
// deadline was extended past the campaign's, counting from their own
// date: the most recent reminder due only (op keys make each one once).
func decideExtendedReminders(v *view) (posts, error) {
	var p posts
	rec := v.rec()
	batch := map[int]state.Batch{}
	for _, bt := range v.snap.Batches {
		batch[bt.Index] = bt
	}
	for _, f := range v.snap.Findings {
		if f.Status != state.StatusPending || !f.Extended(rec) || !v.now.Before(f.Cutoff) {
			continue
		}
		var due []time.Duration
		for _, off := range v.c.Reminders {
			if !v.now.Before(f.Cutoff.Add(-off)) {
				due = append(due, off)
			}
		}
		if len(due) == 0 {
			continue
		}
		send := slices.Min(due)
		bt, ok := batch[f.Batch]
		if !ok {
			return posts{}, fmt.Errorf("@%s: batch %d: %w", f.Username, f.Batch, state.ErrNotFound)
		}
		data := templates.ReminderData{Campaign: v.words.campaignData(v.c, rec), DaysLeft: daysLeft(v.now, f.Cutoff)}
		data.Cutoff, data.CutoffDate = f.Cutoff, cutoffDate(f.Cutoff)
		// A personal reminder mentions its user even if they unsubscribed:
		// the campaign reminders list such users only by name.
		data.Pending = []templates.Person{person(&f)}
		text, err := v.words.render("reminder", data)
		if err != nil {
			return posts{}, err
		}
		p.post(rec, bt, userReminderKey(cutoffDate(f.Cutoff), offsetName(send), f.Username), text,
			state.Entry{Kind: state.EntryReminder, User: f.Username, Detail: fmt.Sprintf("%s before the extended deadline %s", offsetName(send), cutoffDate(f.Cutoff))},
			said{ev{kind: "reminder", task: bt.Monogram(), user: f.Username}, fmt.Sprintf("reminded @%s on %s (%s before the extended deadline)", f.Username, bt.Monogram(), offsetName(send))})
	}
	return p, nil
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

// approvalPeriod is how long a removal batch waits undecided before the
// approvers are reminded: the campaign's approval_reminder, else the
// config's, else the default.
func approvalPeriod(cfg *campaigns.Config, c *campaigns.Campaign) time.Duration {
	switch {
	case c.ApprovalReminder > 0:
		return c.ApprovalReminder
	case cfg.ApprovalReminder > 0:
		return cfg.ApprovalReminder
	}
	return campaigns.DefaultApprovalReminder
}

// choreApprovalReminders reminds the approvers of every removal batch
// left undecided for a period: one comment per task of the batch and per
// period, mentioning the approvers' project, posted once (only the
// current period's: missed ones are not sent late). From the second
// period on, the team is told once: on the standing task of a recurring
// campaign, else on each of the batch's tasks, mentioning the team.
func (b *Bot) choreApprovalReminders(ctx context.Context, r *run) error {
	snap, err := b.store.Snapshot(r.rec.Name)
	if err != nil {
		return err
	}
	period := approvalPeriod(b.cfg, r.c)
	v, tagErr := b.read.observe(ctx, r, snap, needs{teamTag: needsTeamTag(&snap, b.now(), period)})
	if tagErr != nil {
		// Without the team's tag the team is not told this tick; the
		// approvers still are.
		if v, err = b.read.observe(ctx, r, snap, needs{}); err != nil {
			return err
		}
	}
	p, err := decideApprovalReminders(v, period)
	if err != nil {
		return err
	}
	if err := errors.Join(tagErr, b.postAll(ctx, r, p)); err != nil {
		return err
	}
	// A reminder a crash left pending whose period has passed, or whose
	// batch was decided since, is settled, never posted late.
	return b.exec.closeStaleComments(ctx, &r.rec, removalPrefix, func(key OpKey) bool {
		_, step, _ := parseRemovalKey(key)
		return (step != stepApprovalReminder && step != stepOverdue) || p.keys[key]
	}, "a later period superseded it or the batch was decided")
}

// undecided is a removal batch left undecided for k periods, and the
// tasks it was announced on.
type undecided struct {
	rm     state.Removal
	k      int
	waited time.Duration
	tasks  []state.Batch
}

// undecidedRemovals are the proposed removal batches undecided for at
// least one period that still would remove someone, with the tasks they
// were announced on: a reminder of a proposal nobody was shown would be
// meaningless.
func undecidedRemovals(snap *state.Snapshot, now time.Time, period time.Duration) []undecided {
	done := map[OpKey]bool{}
	for _, op := range snap.Ops {
		if op.State == state.OpDone {
			done[OpKey(op.Key)] = true
		}
	}
	idx := indexFindings(snap.Findings)
	var out []undecided
	for _, rm := range removalsWith(snap.Removals, state.RemovalProposed) {
		u := undecided{rm: rm, waited: now.Sub(rm.ProposedAt)}
		u.k = int(u.waited / period)
		if u.k < 1 || moot(rm, idx) {
			continue
		}
		in := map[int]bool{}
		for _, it := range rm.Items {
			in[it.Batch] = true
		}
		for _, bt := range snap.Batches {
			if bt.TaskPHID != "" && in[bt.Index] && done[proposalKey(rm.Label(), bt.Index)] {
				u.tasks = append(u.tasks, bt)
			}
		}
		out = append(out, u)
	}
	return out
}

// overdue reports whether the team is told of u: from the second period
// on, when the campaign has a team and u was announced somewhere.
func (u undecided) overdue(rec *state.Campaign) bool {
	return u.k >= 2 && rec.TeamPHID != "" && len(u.tasks) > 0
}

// needsTeamTag reports whether the approval reminders tell the team of a
// removal batch now, and so need the team's hashtag.
func needsTeamTag(snap *state.Snapshot, now time.Time, period time.Duration) bool {
	return slices.ContainsFunc(undecidedRemovals(snap, now, period), func(u undecided) bool { return u.overdue(&snap.Campaign) })
}

// decideApprovalReminders is, for each removal batch undecided for a
// period, the reminder of this period on each task it was announced on,
// and from the second period the note to the team (when v.teamTag was
// read: see choreApprovalReminders).
func decideApprovalReminders(v *view, period time.Duration) (posts, error) {
	var p posts
	rec := v.rec()
	for _, u := range undecidedRemovals(&v.snap, v.now, period) {
		label := u.rm.Label()
		days := int(u.waited / (24 * time.Hour))
		base := templates.ApprovalReminderData{Campaign: v.words.campaignData(v.c, rec), BatchID: label, Days: days, Required: u.rm.RequiredApprovals}
		base.Disable = u.rm.Disables()
		for _, bt := range u.tasks {
			data := base
			data.Approvals = u.rm.ApprovalsFor(bt.Index)
			text, err := v.words.render(templates.ApprovalReminder, data)
			if err != nil {
				return posts{}, err
			}
			p.post(rec, bt, approvalReminderKey(label, bt.Index, u.k), text, state.Entry{Kind: state.EntryApprovalReminder,
				Detail: fmt.Sprintf("%s undecided for %d day(s), %d of %d approval(s)", label, days, data.Approvals, u.rm.RequiredApprovals)},
				said{text: fmt.Sprintf("reminded the approvers of %s on %s (%d days undecided)", label, bt.Monogram(), days)})
		}
		if !u.overdue(rec) || v.teamTag == "" {
			continue
		}
		if err := overdueNotes(v, &p, u, base); err != nil {
			return posts{}, err
		}
	}
	return p, nil
}

// overdueNotes tells the team that removal batch u waits undecided: on
// the standing task of a recurring campaign (naming the batch's tasks),
// else on each of the batch's tasks.
func overdueNotes(v *view, p *posts, u undecided, data templates.ApprovalReminderData) error {
	rec := v.rec()
	label := u.rm.Label()
	data.Overdue, data.TeamTag, data.Approvals = true, v.teamTag, u.rm.ApprovalCount()
	where := u.tasks
	if rec.StandingTaskPHID != "" {
		for _, bt := range u.tasks {
			data.Tasks = append(data.Tasks, bt.Monogram())
		}
		where = []state.Batch{standingBatch(rec)}
	}
	text, err := v.words.render(templates.ApprovalReminder, data)
	if err != nil {
		return err
	}
	for _, bt := range where {
		p.post(rec, bt, overdueKey(label, bt.Index), text, state.Entry{Kind: state.EntryApprovalOverdue,
			Detail: fmt.Sprintf("%s undecided for %d day(s): team told", label, int(u.waited/(24*time.Hour)))},
			said{text: fmt.Sprintf("told the team that %s waits undecided, on %s", label, bt.Monogram())})
	}
	return nil
}
