package bot

// Closing a campaign: once nobody is left to decide about and a quiet
// period has passed, every task gets a summary and is resolved, and the
// campaign stops ticking.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// taskStatusResolved is the status the bot closes its tasks with: one of
// Phorge's default closed statuses (maniphest.edit.close.json). The
// server accepts any string (NOTES fact 26), so it is named once here.
const taskStatusResolved = "resolved"

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
	idx := indexFindings(snap.Findings)
	for _, rm := range snap.Removals {
		if rm.Status != state.RemovalDone && rm.Status != state.RemovalRejected && !moot(rm, idx) {
			return fmt.Sprintf("removal batch %s is %s", rm.Label(), rm.Status)
		}
	}
	if why := openPolicyReason(&snap.Campaign); why != "" {
		return why
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
// idx indexes the campaign's findings.
func moot(rm state.Removal, idx *findingIndex) bool {
	for _, it := range rm.Items {
		if it.Done {
			continue
		}
		if f, ok := idx.finding(it.UserPHID); !ok || f.Status.Removable() {
			return false
		}
	}
	return true
}

// choreClose closes a campaign that is done (see openReason), once a
// quiet period (approval_reminder) has passed since its last change: each
// of its tasks gets a summary comment and is resolved in one edit (once
// per task, by op key and marker), then the campaign is marked closed and
// no longer ticks. A recurring campaign does not close while it recurs.
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
	if now := b.now(); now.Before(lastChange(&snap).Add(approvalPeriod(b.cfg, r.c))) {
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
	v, err := b.read.observe(ctx, r, snap, needs{})
	if err != nil {
		return err
	}
	if openReason(&v.snap, v.now) != "" {
		return nil
	}
	ins, err := decideClose(v)
	if err != nil {
		return err
	}
	if err := b.exec.applyAll(ctx, r, ins); err != nil {
		return err
	}
	if err := b.postTracking(ctx, r); err != nil {
		return err
	}
	return b.exec.record(r, []intent{campaignClosed(&v.snap, len(ins), b.now().UTC())})
}

// decideClose is, for every task of a campaign that can close (the
// batches' and a recurring campaign's standing task), a summary of what
// became of its users, posted and resolving the task in one
// maniphest.edit, exactly once: after a crash the comment's marker says
// it landed (both transactions apply together or not at all).
func decideClose(v *view) ([]intent, error) {
	rec := v.rec()
	tasks := slices.Clone(v.snap.Batches)
	if rec.StandingTaskPHID != "" {
		tasks = append(tasks, standingBatch(rec))
	}
	var ins []intent
	for _, bt := range tasks {
		fs := v.snap.Findings
		if bt.Index != 0 {
			fs = v.findingsOf(bt)
		}
		data := templates.CampaignClosedData{Campaign: v.words.campaignData(v.c, rec), Counts: statusCounts(fs), Standing: bt.Index == 0}
		text, err := v.words.render(templates.CampaignClosed, data)
		if err != nil {
			return nil, err
		}
		ins = append(ins, intent{key: closeKey(bt.Index), kind: state.OpTaskClosed,
			write: editTask{task: bt.TaskPHID, edits: []conduit.Edit{conduit.StatusEdit(taskStatusResolved), conduit.CommentEdit(text)}},
			entry: state.Entry{Actor: rec.BotUsername, ActorKind: state.ActorBot, Task: bt.Monogram(), Outcome: taskStatusResolved},
			args:  map[string]string{argTask: bt.TaskPHID},
		})
	}
	return ins, nil
}

// campaignClosed marks the campaign closed at now, once its tasks (n of
// them) are: it no longer ticks.
func campaignClosed(snap *state.Snapshot, tasks int, now time.Time) intent {
	counts := countsText(statusCounts(snap.Findings))
	return intent{
		change: func(tx *state.CampaignTx, _ outcomeOf) error {
			rec := tx.Campaign()
			if rec.Closed() {
				return nil
			}
			rec.ClosedAt = now
			if err := tx.PutCampaign(rec); err != nil {
				return err
			}
			return tx.Append(state.Entry{At: now, Kind: state.EntryCampaignClosed, Actor: rec.BotUsername, ActorKind: state.ActorBot,
				Outcome: "closed", Detail: fmt.Sprintf("%d task(s) closed; %s", tasks, counts)})
		},
		said: said{text: fmt.Sprintf("campaign closed: %d task(s) resolved", tasks)},
	}
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

// openPolicyReason says which policy finding keeps the campaign open.
func openPolicyReason(rec *state.Campaign) string {
	for _, f := range rec.Policies {
		if f.Open() {
			return fmt.Sprintf("policy finding %s (%s %s policy) is open", f.Label(), f.Object, f.Check)
		}
	}
	return ""
}
