package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// Durable identifiers of the policies chore (see taskKey for the others).
const (
	// Conduit's transaction types for a task's policies (NOTES fact 33).
	xactViewPolicy = "core:view-policy"
	xactEditPolicy = "core:edit-policy"
)

// taskPolicies are the view and edit policies the campaign's tasks carry:
// those recorded at launch, or for a campaign launched before they were
// recorded, the campaign file's.
func taskPolicies(c *campaigns.Campaign, rec *state.Campaign) (view, edit string, err error) {
	view, edit = rec.ViewPolicy, rec.EditPolicy
	if view == "" {
		if view, err = policyValue(c.ViewPolicy, rec); err != nil {
			return "", "", err
		}
	}
	if edit == "" {
		if edit, err = policyValue(c.EditPolicy, rec); err != nil {
			return "", "", err
		}
	}
	return view, edit, nil
}

// chorePolicies reads every task of the campaign (one maniphest.search)
// and puts back a view or edit policy someone changed. Whoever may edit an
// audit task may make it public and expose the list of non-compliant
// members of security groups (NOTES fact 46); the edit policy keeps the
// users it names out, but an administrator or the assignee still can. Each
// restore is journaled with who made the change and stays in status as
// needing a human: someone may have read the task meanwhile.
//
// A recurring campaign's standing task is guarded the same way: each
// run's summary on it names the new non-compliant members and their
// groups. It is "batch 0" here (no users of its own; the approvers were
// subscribed by the bot when it was filed, see ensureStandingTask).
func (b *Bot) chorePolicies(ctx context.Context, r *run) error {
	view, edit, err := taskPolicies(r.c, &r.rec)
	if err != nil {
		return err
	}
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	guarded := snap.Batches
	if r.rec.StandingTaskPHID != "" {
		st := standingBatch(&r.rec)
		st.ApproversSubscribed = true
		guarded = append(slices.Clone(snap.Batches), st)
	}
	var phids []string
	for _, bt := range guarded {
		if bt.TaskPHID != "" {
			phids = append(phids, bt.TaskPHID)
		}
	}
	if len(phids) == 0 {
		return nil
	}
	tasks, err := b.tasksByPHID(ctx, phids)
	if err != nil {
		return fmt.Errorf("read the tasks' policies: %w", err)
	}
	byPHID := map[string]conduit.Task{}
	for _, t := range tasks {
		byPHID[t.PHID] = t
	}
	var errs []error
	for _, bt := range guarded {
		if bt.TaskPHID == "" {
			continue
		}
		t, ok := byPHID[bt.TaskPHID]
		if !ok {
			// Restricted tasks are silently omitted (NOTES fact 23): the
			// view policy now shuts the bot out, and only a person can see
			// who else it lets in.
			errs = append(errs, fmt.Errorf("%s is no longer visible to the bot: someone changed its view policy; a human must restore it", bt.Monogram()))
			continue
		}
		// Who can see the task depends on its subscribers and assignee
		// too, not only on its policies.
		if err := b.checkAccess(ctx, r, &snap, bt, t); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", bt.Monogram(), err))
		}
		if t.ViewPolicy == view && t.EditPolicy == edit {
			// A restore whose answer was lost landed: record it.
			for _, op := range snap.Ops {
				if op.Kind == state.OpPolicyRestored && op.State == state.OpPending && OpKey(op.Key).hasPrefix(policyRestorePrefix(bt.Index)) {
					// The detail recorded with the intent says what was
					// restored; intents from before it was recorded have
					// none.
					detail := cmp.Or(op.Args[argDetail], "policy changed by "+cmp.Or(strings.Join(op.Subjects, ", "), "unknown")+"; restored")
					edits := []conduit.Edit{{Type: "view", Value: view}, {Type: "edit", Value: edit}}
					if err := b.restoreOnce(ctx, r, bt, OpKey(op.Key), view, edit, edits, detail, op.Subjects); err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", bt.Monogram(), err))
					}
				}
			}
			continue
		}
		if err := b.restorePolicies(ctx, r, bt, t, view, edit); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", bt.Monogram(), err))
		}
	}
	return errors.Join(errs...)
}

// restorePolicies puts back t's view and edit policies exactly once per
// change, and journals who changed them.
func (b *Bot) restorePolicies(ctx context.Context, r *run, bt state.Batch, t conduit.Task, view, edit string) error {
	txs, err := b.history(ctx, t.PHID, 0)
	if err != nil {
		return fmt.Errorf("read who changed the policies: %w", err)
	}
	// The newest policy change names the op; everyone who changed a
	// policy since the bot last set one is named in the journal.
	last := 0
	var changers []string
	for _, x := range txs {
		if x.Type != xactViewPolicy && x.Type != xactEditPolicy {
			continue
		}
		last = x.ID
		if x.AuthorPHID == r.rec.BotPHID {
			changers = nil
		} else if !slices.Contains(changers, x.AuthorPHID) {
			changers = append(changers, x.AuthorPHID)
		}
	}
	if last == 0 {
		last = newestID(txs) // as for access revokes: never reuse a done key
	}
	names, err := b.usernames(ctx, changers)
	if err != nil {
		return err
	}
	var what []string
	var edits []conduit.Edit
	if t.ViewPolicy != view {
		what = append(what, fmt.Sprintf("view %s -> %s", t.ViewPolicy, view))
		edits = append(edits, conduit.Edit{Type: "view", Value: view})
	}
	if t.EditPolicy != edit {
		what = append(what, fmt.Sprintf("edit %s -> %s", t.EditPolicy, edit))
		edits = append(edits, conduit.Edit{Type: "edit", Value: edit})
	}
	by := strings.Join(names, ", ")
	if by == "" {
		by = "unknown"
	}
	detail := fmt.Sprintf("policy changed by %s; restored %s", by, strings.Join(what, ", "))
	b.log.Warn().Str("campaign", r.c.Name).Str("task", bt.Monogram()).Strs("changed_by", names).Str("restore", strings.Join(what, ", ")).Msg("task policy was changed")
	return b.restoreOnce(ctx, r, bt, policyRestoreKey(bt.Index, last), view, edit, edits, detail, names)
}

// restoreOnce sends edits to put back bt's task policies, exactly once for
// key. After a crash the restore landed if the task carries the policies
// again.
func (b *Bot) restoreOnce(ctx context.Context, r *run, bt state.Batch, key OpKey, view, edit string, edits []conduit.Edit, detail string, names []string) error {
	t := bt.TaskPHID
	done, err := b.apply(ctx, r.c.Name, intent{key: key, kind: state.OpPolicyRestored,
		write: editTask{task: t, edits: edits},
		landed: landedCheck{task: t, taskIs: func(got conduit.Task, _ []string) bool {
			return got.ViewPolicy == view && got.EditPolicy == edit
		}},
		failed:   func(err error) error { return fmt.Errorf("restore the policies (%s): %w", detail, err) },
		result:   bt.Monogram(),
		entry:    state.Entry{Actor: r.rec.BotUsername, Task: bt.Monogram(), Detail: detail},
		subjects: names,
		args:     map[string]string{argDetail: detail},
	})
	if done {
		r.eventOf(ev{kind: "policy-restored", task: bt.Monogram()}, "%s: %s", bt.Monogram(), detail)
	}
	return err
}
