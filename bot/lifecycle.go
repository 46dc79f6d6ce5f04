package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// taskStatusResolved is the status the bot closes its tasks with: one of
// Phorge's default closed statuses (maniphest.edit.close.json). The
// server accepts any string (NOTES fact 26), so it is named once here.
const taskStatusResolved = "resolved"

// approvalPeriod is how long a removal batch waits undecided before the
// approvers are reminded: the campaign's approval_reminder, else the
// config's, else the default.
func (b *Bot) approvalPeriod(c *campaigns.Campaign) time.Duration {
	switch {
	case c.ApprovalReminder > 0:
		return c.ApprovalReminder
	case b.cfg.ApprovalReminder > 0:
		return b.cfg.ApprovalReminder
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
	period := b.approvalPeriod(r.c)
	now := b.now()
	snap, err := b.store.Snapshot(r.rec.Name)
	if err != nil {
		return err
	}
	sent := map[OpKey]bool{}
	done := map[OpKey]bool{}
	for _, op := range snap.Ops {
		if op.State == state.OpDone {
			done[OpKey(op.Key)] = true
		}
	}
	teamTag := ""
	var errs []error
	for _, rm := range removalsWith(snap.Removals, state.RemovalProposed) {
		waited := now.Sub(rm.ProposedAt)
		k := int(waited / period)
		if k < 1 || moot(rm, &snap) {
			continue
		}
		label := rm.Label()
		var tasks []state.Batch
		for _, bt := range snap.Batches {
			// Only tasks the batch was announced on: a reminder of a
			// proposal nobody was shown would be meaningless.
			if bt.TaskPHID != "" && slices.ContainsFunc(rm.Items, func(it state.RemovalItem) bool { return it.Batch == bt.Index }) && done[proposalKey(label, bt.Index)] {
				tasks = append(tasks, bt)
			}
		}
		days := int(waited / (24 * time.Hour))
		base := templates.ApprovalReminderData{Campaign: b.words.campaignData(r.c, &snap.Campaign), BatchID: label, Days: days, Required: rm.RequiredApprovals}
		for _, bt := range tasks {
			data := base
			data.Approvals = rm.ApprovalsFor(bt.Index)
			text, err := b.words.render(templates.ApprovalReminder, data)
			if err != nil {
				return err
			}
			key := approvalReminderKey(label, bt.Index, k)
			sent[key] = true
			posted, err := b.comment(ctx, r, bt, key, text, state.Entry{Kind: state.EntryApprovalReminder,
				Detail: fmt.Sprintf("%s undecided for %d day(s), %d of %d approval(s)", label, days, data.Approvals, rm.RequiredApprovals)}, nil)
			if err != nil {
				errs = append(errs, err)
			} else if posted {
				r.event("reminded the approvers of %s on %s (%d days undecided)", label, bt.Monogram(), days)
			}
		}
		if k < 2 || r.rec.TeamPHID == "" || len(tasks) == 0 {
			continue
		}
		if teamTag == "" {
			if teamTag, err = b.teamTag(ctx, &r.rec); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		data := base
		data.Overdue, data.TeamTag, data.Approvals = true, teamTag, rm.ApprovalCount()
		where := tasks
		batchOf := func(bt state.Batch) int { return bt.Index }
		if r.rec.StandingTaskPHID != "" {
			for _, bt := range tasks {
				data.Tasks = append(data.Tasks, bt.Monogram())
			}
			where = []state.Batch{standingBatch(&r.rec)}
		}
		text, err := b.words.render(templates.ApprovalReminder, data)
		if err != nil {
			return err
		}
		for _, bt := range where {
			key := overdueKey(label, batchOf(bt))
			sent[key] = true
			posted, err := b.comment(ctx, r, bt, key, text, state.Entry{Kind: state.EntryApprovalOverdue,
				Detail: fmt.Sprintf("%s undecided for %d day(s): team told", label, days)}, nil)
			if err != nil {
				errs = append(errs, err)
			} else if posted {
				r.event("told the team that %s waits undecided, on %s", label, bt.Monogram())
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// A reminder a crash left pending whose period has passed, or whose
	// batch was decided since, is settled, never posted late.
	return b.closeStaleComments(ctx, &r.rec, removalPrefix, func(key OpKey) bool {
		_, step, _ := parseRemovalKey(key)
		return (step != stepApprovalReminder && step != stepOverdue) || sent[key]
	}, "a later period superseded it or the batch was decided")
}

// openReason says why a campaign cannot close yet, or "" when it can:
// nobody is pending (or asked to be removed and waits for it), no restore
// is asked for, every removal batch is decided and executed (done or
// rejected), every batch has its task, no write other than closing
// is unconfirmed, and no exemption with an end date is still in force: a
// closed campaign no longer ticks, so it could not lapse the exemption
// and the user would keep their access for good. It stays open until
// the day after the end date, when drift checks the user again.
func openReason(snap *state.Snapshot, now time.Time) string {
	for _, f := range snap.Findings {
		switch e := f.ExemptionInForce(); {
		case f.Status == state.StatusExempt && e != nil && !e.Until.IsZero() && now.Before(e.Until.AddDate(0, 0, 1)):
			return fmt.Sprintf("@%s is exempt until %s; the campaign stays open to check them again after that", f.Username, e.Until.Format("2006-01-02"))
		case f.Status.Removable():
			return fmt.Sprintf("@%s is %s", f.Username, f.Status)
		case f.RestoreRequested:
			return fmt.Sprintf("@%s asks to be restored", f.Username)
		case f.Exemption != nil && f.Exemption.Decision == state.ExemptionPending:
			return fmt.Sprintf("@%s's exemption request waits for a decision", f.Username)
		}
	}
	for _, rm := range snap.Removals {
		if rm.Status != state.RemovalDone && rm.Status != state.RemovalRejected && !moot(rm, snap) {
			return fmt.Sprintf("removal batch %s is %s", rm.Label(), rm.Status)
		}
	}
	for _, bt := range snap.Batches {
		if bt.TaskPHID == "" {
			return fmt.Sprintf("batch %d has no task yet", bt.Index)
		}
	}
	for _, op := range snap.Ops {
		if op.State == state.OpPending && !OpKey(op.Key).hasPrefix(closePrefix) {
			return "write " + op.Key + " is not confirmed"
		}
	}
	return ""
}

// lastChange is when anything last happened to the campaign's users or
// removal batches (the launch if nothing did).
func lastChange(snap *state.Snapshot) time.Time {
	last := snap.Campaign.LaunchedAt
	for _, f := range snap.Findings {
		if f.UpdatedAt.After(last) {
			last = f.UpdatedAt
		}
	}
	for _, rm := range snap.Removals {
		if rm.ProposedAt.After(last) {
			last = rm.ProposedAt
		}
		for _, a := range rm.Approvals {
			if a.At.After(last) {
				last = a.At
			}
		}
	}
	return last
}

// moot reports whether removal batch rm would remove nobody any more:
// every user of an item not yet removed has since complied, been
// exempted or left. Such a batch needs no decision: execution would skip
// them all, so it neither keeps the campaign open nor is reminded.
func moot(rm state.Removal, snap *state.Snapshot) bool {
	for _, it := range rm.Items {
		if it.Done {
			continue
		}
		if f, ok := findingOf(snap, it.UserPHID); !ok || f.Status.Removable() {
			return false
		}
	}
	return true
}

// choreClose closes a campaign that is done (see openReason), once a
// quiet period (approval_reminder) has passed since its last change: each of its tasks gets a
// summary comment and is resolved in one edit (once per task, by op key
// and marker), then the campaign is marked closed and no longer ticks. A
// recurring campaign does not close while it recurs.
func (b *Bot) choreClose(ctx context.Context, r *run) error {
	if r.c.Recurring != nil && r.rec.InstanceOf == "" {
		return nil
	}
	snap, err := b.store.Snapshot(r.rec.Name)
	if err != nil {
		return err
	}
	if openReason(&snap, b.now()) != "" {
		return nil
	}
	// Wait a quiet period after the last change: a user just removed may
	// still ask on the task to be restored, which the bot reads only
	// while the campaign ticks (after that, `auditbot restore`).
	if now := b.now(); now.Before(lastChange(&snap).Add(b.approvalPeriod(r.c))) {
		return nil
	}
	// Last reads before the campaign stops reading: keeps (an approver's
	// or a user's) may have been edited away or their approvers lapsed
	// since they were counted, which otherwise is checked only at the
	// cutoff, possibly weeks later. One that no longer holds makes its
	// user pending again, and the campaign stays open.
	if err := b.checkKeeps(ctx, r); err != nil {
		return err
	}
	if snap, err = b.store.Snapshot(r.rec.Name); err != nil {
		return err
	}
	if openReason(&snap, b.now()) != "" {
		return nil
	}
	tasks := slices.Clone(snap.Batches)
	if r.rec.StandingTaskPHID != "" {
		tasks = append(tasks, standingBatch(&r.rec))
	}
	var errs []error
	for _, bt := range tasks {
		fs := snap.Findings
		if bt.Index != 0 {
			fs = findingsOf(snap.Findings, bt)
		}
		data := templates.CampaignClosedData{Campaign: b.words.campaignData(r.c, &snap.Campaign), Counts: statusCounts(fs), Standing: bt.Index == 0}
		text, err := b.words.render(templates.CampaignClosed, data)
		if err != nil {
			return err
		}
		if err := b.closeTask(ctx, r, bt, text); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	now := b.now().UTC()
	err = b.store.Update(r.rec.Name, func(tx *state.CampaignTx) error {
		rec := tx.Campaign()
		if rec.Closed() {
			return nil
		}
		rec.ClosedAt = now
		if err := tx.PutCampaign(rec); err != nil {
			return err
		}
		return tx.Append(state.Entry{At: now, Kind: state.EntryCampaignClosed, Actor: rec.BotUsername, ActorKind: state.ActorBot,
			Outcome: "closed", Detail: fmt.Sprintf("%d task(s) closed; %s", len(tasks), countsText(statusCounts(snap.Findings)))})
	})
	if err != nil {
		return err
	}
	r.event("campaign closed: %d task(s) resolved", len(tasks))
	return nil
}

// closeTask posts text on bt's task and resolves it in one maniphest.edit,
// exactly once: after a crash the comment's marker says it landed (both
// transactions apply together or not at all).
func (b *Bot) closeTask(ctx context.Context, r *run, bt state.Batch, text string) error {
	key := closeKey(bt.Index)
	_, err := b.apply(ctx, r.rec.Name, intent{key: key, kind: state.OpTaskClosed,
		write: editTask{task: bt.TaskPHID, edits: []conduit.Edit{conduit.StatusEdit(taskStatusResolved), conduit.CommentEdit(text)}},
		entry: state.Entry{Actor: r.rec.BotUsername, ActorKind: state.ActorBot, Task: bt.Monogram(), Outcome: taskStatusResolved},
		args:  map[string]string{argTask: bt.TaskPHID},
	})
	return err
}

// statusCounts counts findings per status, in a fixed order.
func statusCounts(fs []state.Finding) []templates.Count {
	order := []state.Status{state.StatusCompliant, state.StatusExempt, state.StatusRemoved, state.StatusRestored,
		state.StatusLeft, state.StatusDisabled, state.StatusVoluntary, state.StatusPending}
	n := map[state.Status]int{}
	for _, f := range fs {
		n[f.Status]++
	}
	var out []templates.Count
	for _, s := range order {
		if n[s] > 0 {
			out = append(out, templates.Count{Status: string(s), N: n[s]})
		}
	}
	return out
}

func countsText(cs []templates.Count) string {
	if len(cs) == 0 {
		return "nobody was affected"
	}
	s := ""
	for i, c := range cs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d %s", c.N, c.Status)
	}
	return s
}
