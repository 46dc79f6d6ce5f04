package bot

// The guard of the audit tasks (the policies chore): every tick it reads
// each task and takes back what someone else changed about who may read
// it: its view and edit policies (here), its subscribers and assignee
// (access.go). It reads each task's history at most once a tick, for
// both, and only when one of them needs it.

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

// policyPair is a task's view and edit policy.
type policyPair struct{ view, edit string }

// on reports whether t carries the policies.
func (p policyPair) on(t conduit.Task) bool { return t.ViewPolicy == p.view && t.EditPolicy == p.edit }

// gatekeeperErrors checks, every tick, who may join the campaign's team
// and approvers' projects (checkGatekeeper). Anyone may join the
// approvers: an error until a person closes it (the bot cannot tell who
// joined meanwhile; removals still need approvals, each re-read right
// before). Anyone may join the team: a warning in the log.
func (b *Bot) gatekeeperErrors(v *view) []error {
	var errs []error
	for _, p := range v.gatekeepers {
		role := "team"
		if p.PHID == v.rec().ApproversPHID {
			role = "approvers"
		}
		why := openToJoin(p, role)
		switch {
		case why == "":
		case role == "approvers":
			errs = append(errs, errors.New("needs a human: "+why))
		default:
			b.log.Warn().Str("campaign", v.rec().Name).Str("project", p.Name).Msg(why)
		}
	}
	return errs
}

// chorePolicies reads every task of the campaign (one maniphest.search)
// and puts back a view or edit policy someone changed. Whoever may edit an
// audit task may make it public and expose the list of non-compliant
// members of security groups (NOTES fact 46); the edit policy keeps the
// users it names out, but an administrator or the assignee still can. Each
// restore is journaled with who made the change and stays in status as
// needing a human: someone may have read the task meanwhile. Who can see
// the task depends on its subscribers and assignee too, not only on its
// policies: checkAccess takes back access someone else gave.
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
	guarded := guardedTasks(&snap)
	if len(guarded) == 0 {
		return nil
	}
	var phids []string
	for _, bt := range guarded {
		phids = append(phids, bt.TaskPHID)
	}
	v, err := b.read.observe(ctx, r, snap, needs{tasks: phids, gatekeepers: true})
	if err != nil {
		return fmt.Errorf("read the tasks' policies: %w", err)
	}
	errs := b.gatekeeperErrors(v)
	subs := b.read.subscribersOf(ctx, &snap.Campaign, guarded, v.tasks)
	var seen []seenUpdate
	for _, bt := range guarded {
		t, ok := v.tasks[bt.TaskPHID]
		if !ok {
			// Restricted tasks are silently omitted (NOTES fact 23): the
			// view policy now shuts the bot out, and only a person can see
			// who else it lets in.
			errs = append(errs, fmt.Errorf("%s is no longer visible to the bot: someone changed its view policy; a human must restore it", bt.Monogram()))
			continue
		}
		// Each task is guarded on a view of its own: what is read for
		// one task is never taken for another's.
		tv := *v
		sr := subs[bt.TaskPHID]
		accessErr, policyErr := b.guardTask(ctx, r, &taskView{view: &tv, bt: bt, task: t, subscribers: sr.list, subscribersErr: sr.err}, policyPair{view, edit})
		for _, err := range SplitErrors(errors.Join(accessErr, policyErr)) {
			errs = append(errs, fmt.Errorf("%s: %w", bt.Monogram(), err))
		}
		if accessErr == nil && policyErr == nil && sr.read {
			// Guarded on what was read: the next tick may take the
			// list as recorded, unless the task changes.
			seen = append(seen, seenUpdate{bt: bt, task: t, subscribers: sr.list, subscribersRead: true})
		}
	}
	if err := b.recordSeen(r.c.Name, seen); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// subsRead is a task's complete subscriber list for the guard: read
// this tick (read), or as recorded when the task has not changed since.
type subsRead struct {
	list []string
	read bool
	err  error
}

// subscribersOf is the complete subscriber list of each guarded task the
// bot can see (tasks): as recorded (state.TaskSeen) if the task has not
// changed since it was read, else from the search's attachment when it
// holds them all, else read with maniphest.info (the attachment stops at
// 10, NOTES fact 24), concurrently.
func (b *reader) subscribersOf(ctx context.Context, rec *state.Campaign, guarded []state.Batch, tasks map[string]conduit.Task) map[string]subsRead {
	out := map[string]subsRead{}
	var ask []string
	for _, bt := range guarded {
		t, ok := tasks[bt.TaskPHID]
		if !ok {
			continue
		}
		seen := seenOf(rec, bt)
		switch {
		case unchangedSince(t, seen.SubscribersAsOf, seen.SubscribersModified):
			out[t.PHID] = subsRead{list: seen.Subscribers}
		case t.SubscriberCount <= len(t.SubscriberPHIDs):
			out[t.PHID] = subsRead{list: t.SubscriberPHIDs, read: true}
		default:
			ask = append(ask, t.PHID)
		}
	}
	lists, errs := readEach(ctx, ask, func(ctx context.Context, p string) ([]string, error) { return b.subscribers(ctx, tasks[p]) })
	for _, p := range ask {
		out[p] = subsRead{list: lists[p], read: true, err: errs[p]}
	}
	return out
}

// guardedTasks are the campaign's filed tasks: its batches' and its
// standing task.
func guardedTasks(snap *state.Snapshot) []state.Batch {
	all := snap.Batches
	if rec := &snap.Campaign; rec.StandingTaskPHID != "" {
		st := standingBatch(rec)
		st.ApproversSubscribed = true
		all = append(slices.Clone(all), st)
	}
	if pt := snap.Campaign.PolicyTask; pt != nil {
		all = append(slices.Clone(all), policyTaskBatch(pt))
	}
	var out []state.Batch
	for _, bt := range all {
		if bt.TaskPHID != "" {
			out = append(out, bt)
		}
	}
	return out
}

// taskView is what guarding one task decides on: the tick's view, and
// the task as Phabricator shows it now (observeAccess, readHistory).
type taskView struct {
	*view
	bt   state.Batch
	task conduit.Task
	// subscribers is the task's complete subscriber list (or why it
	// could not be read: subscribersErr); team the team project's
	// members.
	subscribers    []string
	subscribersErr error
	team           []string
	// history is the task's every transaction, oldest first, read once
	// for both checks and only when one needs it (nil: not read).
	history []conduit.Transaction
	// names name the PHIDs of the people the journal names (@user,
	// #project, or the PHID).
	names map[string]string
}

// guardTask takes back access to one task that someone else gave, then
// puts back its policies. Each check fails on its own: a read the access
// check needs (say the approvers' project, hidden from the bot) never
// keeps the policies from being put back.
func (b *Bot) guardTask(ctx context.Context, r *run, tv *taskView, want policyPair) (accessErr, policyErr error) {
	acc, accessErr := b.observeAccess(ctx, r, tv)
	accessHistory := accessErr == nil && acc.needsHistory()
	restore := !want.on(tv.task)
	if accessHistory || restore {
		txs, err := b.read.history(ctx, tv.task.PHID, 0)
		if err != nil && accessHistory {
			accessErr = fmt.Errorf("read who changed the subscribers: %w", err)
		}
		if err != nil && restore {
			policyErr = fmt.Errorf("read who changed the policies: %w", err)
		}
		tv.history = txs
	}
	if accessErr == nil {
		accessErr = b.revokeAccess(ctx, r, tv, acc)
	}
	if policyErr == nil {
		policyErr = b.restorePolicies(ctx, r, tv, want)
	}
	return accessErr, policyErr
}

// restorePolicies puts back the task's view and edit policies exactly
// once per change, and journals who changed them; with the policies in
// place, it confirms a restore whose answer was lost.
func (b *Bot) restorePolicies(ctx context.Context, r *run, tv *taskView, want policyPair) error {
	if want.on(tv.task) {
		return b.exec.applyAll(ctx, r, restoresLanded(tv, want))
	}
	_, changers := policyChangers(tv.history, tv.rec().BotPHID)
	names, err := b.read.usernames(ctx, changers)
	if err != nil {
		return err
	}
	in := decidePolicyRestore(tv, want, names)
	b.log.Warn().Str("campaign", tv.c.Name).Str("task", tv.bt.Monogram()).Strs("changed_by", names).Str("restore", in.args[argDetail]).Msg("task policy was changed")
	return b.exec.applyAll(ctx, r, []intent{in})
}

// policyChangers reads a task's history for its policy changes: the
// newest one (its transaction id, which names the restore), and everyone
// who changed a policy since the bot last set one.
func policyChangers(txs []conduit.Transaction, botPHID string) (last int, changers []string) {
	for _, x := range txs {
		if x.Type != xactViewPolicy && x.Type != xactEditPolicy {
			continue
		}
		last = x.ID
		if x.AuthorPHID == botPHID {
			changers = nil
		} else if !slices.Contains(changers, x.AuthorPHID) {
			changers = append(changers, x.AuthorPHID)
		}
	}
	if last == 0 {
		last = newestID(txs) // as for access revokes: never reuse a done key
	}
	return last, changers
}

// decidePolicyRestore is the edit that puts back the task's policies
// (want), once for the newest change; names are who changed them.
func decidePolicyRestore(tv *taskView, want policyPair, names []string) intent {
	t := tv.task
	last, _ := policyChangers(tv.history, tv.rec().BotPHID)
	var what []string
	var edits []conduit.Edit
	if t.ViewPolicy != want.view {
		what = append(what, fmt.Sprintf("view %s -> %s", t.ViewPolicy, want.view))
		edits = append(edits, conduit.Edit{Type: "view", Value: want.view})
	}
	if t.EditPolicy != want.edit {
		what = append(what, fmt.Sprintf("edit %s -> %s", t.EditPolicy, want.edit))
		edits = append(edits, conduit.Edit{Type: "edit", Value: want.edit})
	}
	by := cmp.Or(strings.Join(names, ", "), "unknown")
	detail := fmt.Sprintf("policy changed by %s; restored %s", by, strings.Join(what, ", "))
	return restoreIntent(tv, policyRestoreKey(tv.bt.Index, last), want, edits, detail, names)
}

// restoresLanded confirms the restores of the task's policies whose
// answer was lost, now that the task carries them: each landed.
func restoresLanded(tv *taskView, want policyPair) []intent {
	var ins []intent
	for _, op := range tv.snap.Ops {
		if op.Kind == state.OpPolicyRestored && op.State == state.OpPending && OpKey(op.Key).hasPrefix(policyRestorePrefix(tv.bt.Index)) {
			// The detail recorded with the intent says what was restored;
			// intents from before it was recorded have none.
			detail := cmp.Or(op.Args[argDetail], "policy changed by "+cmp.Or(strings.Join(op.Subjects, ", "), "unknown")+"; restored")
			edits := []conduit.Edit{{Type: "view", Value: want.view}, {Type: "edit", Value: want.edit}}
			ins = append(ins, restoreIntent(tv, OpKey(op.Key), want, edits, detail, op.Subjects))
		}
	}
	return ins
}

// restoreIntent sends edits to put back the task's policies (want),
// exactly once for key. After a crash the restore landed if the task
// carries the policies again.
func restoreIntent(tv *taskView, key OpKey, want policyPair, edits []conduit.Edit, detail string, names []string) intent {
	bt := tv.bt
	return intent{key: key, kind: state.OpPolicyRestored,
		write:    editTask{task: bt.TaskPHID, edits: edits},
		landed:   landedCheck{task: bt.TaskPHID, taskIs: func(got conduit.Task, _ []string) bool { return want.on(got) }},
		failed:   func(err error) error { return fmt.Errorf("restore the policies (%s): %w", detail, err) },
		result:   bt.Monogram(),
		entry:    state.Entry{Actor: tv.rec().BotUsername, Task: bt.Monogram(), Detail: detail},
		subjects: names,
		args:     map[string]string{argDetail: detail},
		said:     said{ev{kind: "policy-restored", task: bt.Monogram()}, fmt.Sprintf("%s: %s", bt.Monogram(), detail)},
	}
}
