package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// LaunchResult lists the tasks of a launched campaign.
type LaunchResult struct {
	Campaign string       `json:"campaign"`
	Resumed  bool         `json:"resumed"`
	Tasks    []LaunchTask `json:"tasks"`
}

// LaunchTask is one task and whether this run filed it.
type LaunchTask struct {
	Batch int    `json:"batch"`
	Task  string `json:"task"`
	Users int    `json:"users"`
	New   bool   `json:"new"`
}

// Launch runs the pre-flight checks, records the campaign, its findings
// and batches, then files one restricted task per batch. A second launch of
// the same campaign only files tasks that are still missing (after a crash)
// and never discovers again: the campaign is what was recorded.
func (b *Bot) Launch(ctx context.Context, c *campaigns.Campaign) (*LaunchResult, error) {
	report, snap, err := b.check(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := report.Err(); err != nil {
		return nil, fmt.Errorf("launch %s: nothing was written: %w", c.Name, err)
	}
	exists, err := b.store.HasCampaign(c.Name)
	if err != nil {
		return nil, err
	}
	res := &LaunchResult{Campaign: c.Name, Resumed: exists}
	if !exists && campaigns.ReservedName(c.Name) {
		// The file's parser refuses the name too; this holds for a
		// campaign built otherwise. A campaign launched before the
		// suffix was reserved still resumes.
		return nil, fmt.Errorf("%w: launch %s: a name ending in -rN names an instance of a recurring campaign; choose another name", ErrInput, c.Name)
	}
	if !exists {
		// The check resolved the groups and found the non-compliant
		// members a moment ago: use those, without asking again.
		lr, err := decideLaunch(b.words, c, snap, b.now())
		if err != nil {
			return nil, err
		}
		// The launch's journal entries in the same transaction: a crash
		// cannot leave a campaign recorded without them (a resumed
		// launch does not journal again).
		if err := b.store.CreateCampaign(lr.rec, lr.findings, lr.batches, lr.entries...); err != nil {
			return nil, err
		}
		b.log.Info().Str("campaign", c.Name).Int("findings", len(lr.findings)).Int("batches", len(lr.batches)).Msg("campaign recorded")
	}
	defer b.withBreaker()()
	tasks, err := b.ensureTasks(ctx, c)
	res.Tasks = tasks
	return res, err
}

// launchRecord is what a first launch records: the campaign, its
// findings and batches, and the journal entries that say so.
type launchRecord struct {
	rec      state.Campaign
	findings []state.Finding
	batches  []state.Batch
	entries  []state.Entry
}

// decideLaunch is what launching c records, from what the pre-flight
// check discovered. Every task is rendered first, so that a template
// failure leaves no half-launched campaign.
func decideLaunch(w *wording, c *campaigns.Campaign, snap *snapshot, now time.Time) (launchRecord, error) {
	rec := newCampaignRecord(c, snap)
	rec.LaunchedAt = now.UTC()
	// The tasks' policies are frozen here: the policies chore puts them
	// back if anyone changes them.
	var err error
	if rec.ViewPolicy, err = policyValue(c.ViewPolicy, &rec); err != nil {
		return launchRecord{}, err
	}
	if rec.EditPolicy, err = policyValue(c.EditPolicy, &rec); err != nil {
		return launchRecord{}, err
	}
	findings, list := newFindings(c, snap, now)
	idx := indexFindings(findings)
	for _, bt := range list {
		if _, err := taskSpec(w, c, &rec, bt, idx.of(bt), len(list)); err != nil {
			return launchRecord{}, err
		}
	}
	lr := launchRecord{rec: rec, findings: findings, batches: list}
	lr.entries = append(lr.entries, state.Entry{At: now.UTC(), Kind: state.EntryLaunch, Actor: snap.self.Username,
		Detail: fmt.Sprintf("%d finding(s) in %d batch(es), cutoff %s", len(findings), len(list), c.CutoffDate)})
	if l := snap.listReport; !l.Empty() {
		// The names come from a file: redacted again here, although the
		// parse refuses token-shaped entries, as this goes into the
		// state file.
		users := append(slices.Clone(l.Unknown), l.NotMembers...)
		for i := range users {
			users[i] = conduit.Redact(users[i], "")
		}
		lr.entries = append(lr.entries, state.Entry{At: now.UTC(), Kind: state.EntryListUnmatched, Actor: snap.self.Username, Users: users,
			Detail: conduit.Redact(fmt.Sprintf("%s: unknown username(s) [%s]; not a member of any audited group [%s]",
				l.File, strings.Join(l.Unknown, ", "), strings.Join(l.NotMembers, ", ")), "")})
	}
	return lr, nil
}

// ensureTasks files the task of every batch that has none yet, one at a
// time, each read back once filed (verifyTask).
func (b *Bot) ensureTasks(ctx context.Context, c *campaigns.Campaign) ([]LaunchTask, error) {
	snap, err := b.store.Snapshot(c.Name)
	if err != nil {
		return nil, err
	}
	v, err := b.read.observe(ctx, &run{c: c, rec: snap.Campaign}, snap, needs{})
	if err != nil {
		return nil, err
	}
	var out []LaunchTask
	var errs []error
	b.progress.Start(len(snap.Batches), "filing tasks")
	defer b.progress.Done()
	for i, bt := range snap.Batches {
		if err := ctx.Err(); err != nil {
			// Stop here: nothing is recorded for the batches left.
			return out, &InterruptedError{Done: i, Total: len(snap.Batches), Unit: "batch(es)", Err: err}
		}
		lt, err := b.ensureTask(ctx, v, bt)
		b.progress.Add(1)
		if err != nil {
			errs = append(errs, fmt.Errorf("batch %d: %w", bt.Index, err))
			continue
		}
		out = append(out, lt)
	}
	return out, errors.Join(errs...)
}

// ensureTask files bt's task unless it has one, and reads it back.
func (b *Bot) ensureTask(ctx context.Context, v *view, bt state.Batch) (LaunchTask, error) {
	lt := LaunchTask{Batch: bt.Index, Task: bt.Monogram(), Users: len(bt.UserPHIDs)}
	if bt.TaskPHID != "" {
		return lt, nil
	}
	in, spec, err := decideTask(v, bt)
	if err != nil {
		return lt, err
	}
	// The batch as filed is read in the transaction that records it: one
	// state file opening less per task than reading it afterwards.
	change := in.change
	in.change = func(tx *state.CampaignTx, res outcomeOf) error {
		if err := change(tx, res); err != nil {
			return err
		}
		var err error
		bt, err = tx.Batch(bt.Index)
		return err
	}
	name := v.c.Name
	if lt.New, err = b.exec.apply(ctx, name, in); err != nil {
		return lt, err
	}
	lt.Task = bt.Monogram()
	if err := b.verifyTask(ctx, name, bt, spec); err != nil {
		return lt, err
	}
	b.log.Info().Str("campaign", name).Str("task", bt.Monogram()).Int("batch", bt.Index).Bool("new", lt.New).Msg("task filed")
	return lt, nil
}

// decideTask is the intent to file batch bt's task, and the task it asks
// for (which the read-back compares).
func decideTask(v *view, bt state.Batch) (intent, conduit.TaskSpec, error) {
	rec := v.rec()
	spec, err := taskSpec(v.words, v.c, rec, bt, v.findingsOf(bt), len(v.snap.Batches))
	if err != nil {
		return intent{}, spec, err
	}
	index := bt.Index
	in := fileTaskIntent(taskKey(index), spec,
		state.Entry{Actor: rec.BotUsername, Detail: fmt.Sprintf("batch %d: %d user(s)", index, len(bt.UserPHIDs))},
		func(tx *state.CampaignTx, t conduit.Task, at time.Time) error {
			cur, err := tx.Batch(index)
			if err != nil {
				return err
			}
			cur.TaskPHID, cur.TaskID, cur.CreatedAt = t.PHID, t.ID, at
			return tx.PutBatch(cur)
		})
	return in, spec, nil
}

// fileTaskIntent is the intent to file the task spec exactly once for op
// key: after a crash the executor looks for the task the bot filed
// (findOwnTask) before filing again. change stores the task in the same
// bbolt transaction that marks the op done, at the outcome's time; entry
// is journaled with the task's monogram.
func fileTaskIntent(key OpKey, spec conduit.TaskSpec, entry state.Entry, change func(*state.CampaignTx, conduit.Task, time.Time) error) intent {
	return intent{key: key, kind: state.OpTaskCreated, write: fileTask{spec: spec}, entry: entry,
		change: func(tx *state.CampaignTx, res outcomeOf) error {
			t := res.task
			t.PHID = res.result
			return change(tx, t, res.at)
		},
		// The task's monogram is known once the task is filed (or, after
		// a crash, found).
		amend: func(e *state.Entry, res outcomeOf) {
			if res.task.ID != 0 {
				e.Task = "T" + strconv.Itoa(res.task.ID)
			}
			e.Outcome = "created"
		},
	}
}

// verifyTask reads a filed task back and fails loudly if the bot cannot see
// it or its policies are not the restricted ones asked for.
func (b *Bot) verifyTask(ctx context.Context, campaign string, bt state.Batch, spec conduit.TaskSpec) error {
	tasks, err := b.read.tasksByPHID(ctx, []string{bt.TaskPHID})
	if err != nil {
		return fmt.Errorf("read back %s: %w", bt.Monogram(), err)
	}
	if len(tasks) != 1 {
		return fmt.Errorf("read back %s: the bot cannot see the task it filed", bt.Monogram())
	}
	problems := taskProblems(tasks[0], spec)
	if len(problems) == 0 {
		return nil
	}
	err = fmt.Errorf("task %s policy check failed: %s", bt.Monogram(), strings.Join(problems, "; "))
	_ = b.exec.journal(campaign, state.Entry{Kind: state.EntryPolicyMismatch, Task: bt.Monogram(), Detail: err.Error()})
	return err
}

// taskProblems says how a task as read back differs from the restricted
// task asked for (spec).
func taskProblems(t conduit.Task, spec conduit.TaskSpec) []string {
	var problems []string
	if t.ViewPolicy != spec.ViewPolicy {
		problems = append(problems, fmt.Sprintf("view policy is %q, asked for %q", t.ViewPolicy, spec.ViewPolicy))
	}
	if t.EditPolicy != spec.EditPolicy {
		problems = append(problems, fmt.Sprintf("edit policy is %q, asked for %q", t.EditPolicy, spec.EditPolicy))
	}
	if t.ViewPolicy == conduit.PolicyPublic || t.ViewPolicy == conduit.PolicyUsers {
		problems = append(problems, "the task is not restricted")
	}
	return problems
}
