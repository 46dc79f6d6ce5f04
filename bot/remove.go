package bot

// Removal, in three chores: propose a batch once users are past their
// cutoff, announce it on every task it concerns, and carry it out once it
// is approved (ARCHITECTURE.md follows one !approve through them). Each
// chore observes, decides on the view, and applies what it decided.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/bot/replies"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// choreProposeRemovals proposes a removal batch once users are past their
// cutoff: every (user, group) pair where a pending or voluntary user is
// still a member. Users with an undecided exemption request are held back,
// and pairs a removal batch was rejected for are not proposed again.
func (b *Bot) choreProposeRemovals(ctx context.Context, r *run) error {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	// Users on the team's task have no deadline (they cannot act); the
	// others wait for the cutoff, which dueForRemoval checks per user.
	now := b.now()
	pastCutoff := !now.Before(r.rec.Cutoff)
	if !pastCutoff && !slices.ContainsFunc(snap.Findings, func(f state.Finding) bool { return f.TeamTask }) {
		return nil
	}
	if pastCutoff {
		// A keep taken back by editing its comment no longer keeps.
		if err := b.checkKeeps(ctx, r); err != nil {
			return err
		}
		if snap, err = b.store.Snapshot(r.c.Name); err != nil {
			return err
		}
	}
	n := needs{members: true}
	if r.c.Disables() {
		// Who is never disabled is read live: bots, administrators and
		// approvers are not proposed at all.
		n = n.and(disableNeeds(proposable(&snap)))
	}
	v, err := b.read.observe(ctx, r, snap, n)
	if err != nil {
		return err
	}
	return b.exec.record(r, decideProposals(v))
}

// decideProposals is the removal batches to propose now: a pair already
// in an open batch waits for it; a pair a batch was rejected for is not
// proposed again; everyone else who is due goes into a new round, so one
// batch nobody approves blocks no one else. Not-risky groups go into a
// batch of their own, approved by the campaign's policy, when it says so.
// Both rounds are one state change: a crash between them would leave
// users whose not-risky removal ran marked removed, and their riskier
// groups never proposed.
func decideProposals(v *view) []intent {
	auto, manual := removalCandidates(v)
	if len(auto)+len(manual) == 0 {
		return nil
	}
	now := v.now
	members := v.members
	var ins []intent
	// The guard-rail's baseline: each group's size when the campaign
	// first proposes removing from it (see decideExecution).
	ins = append(ins, intent{change: func(tx *state.CampaignTx, _ outcomeOf) error {
		rec := tx.Campaign()
		changed := false
		for i, g := range rec.Groups {
			if g.RemovalBaseline == 0 && slices.ContainsFunc(append(slices.Clone(auto), manual...), func(it state.RemovalItem) bool { return it.GroupPHID == g.PHID }) {
				rec.Groups[i].RemovalBaseline, changed = len(members[g.PHID]), true
			}
		}
		if !changed {
			return nil
		}
		return tx.PutCampaign(rec)
	}})
	for i, items := range [][]state.RemovalItem{auto, manual} {
		if len(items) == 0 {
			continue
		}
		sortItems(items)
		rm := state.Removal{ProposedAt: now.UTC(), Items: items, Status: state.RemovalProposed, RequiredApprovals: requiredApprovals(items)}
		if v.c.Disables() {
			rm.Action = state.ActionDisable
		}
		if i == 0 {
			rm.Status, rm.AutoApproved, rm.RequiredApprovals = state.RemovalApproved, true, 0
		}
		ins = append(ins, proposalIntent(rm, now))
	}
	return ins
}

// removalCandidates are the memberships due for removal and in no open
// or rejected batch, split into those the campaign's policy approves
// (not-risky groups, with auto_approve_not_risky) and the rest.
func removalCandidates(v *view) (auto, manual []state.RemovalItem) {
	snap := &v.snap
	// Nobody is removed who was never told: their task (or the team's)
	// must exist.
	filed := map[int]bool{}
	for _, bt := range snap.Batches {
		filed[bt.Index] = bt.TaskPHID != ""
	}
	skip := map[[2]string]bool{}
	for _, rm := range removalsWith(snap.Removals, state.RemovalProposed, state.RemovalApproved, state.RemovalRejected) {
		for _, it := range rm.Items {
			skip[[2]string{it.UserPHID, it.GroupPHID}] = true
		}
	}

	disables := v.c.Disables()
	for _, f := range snap.Findings {
		if v.now.Before(snap.Campaign.Cutoff) && !f.TeamTask {
			continue
		}
		// A campaign that disables accounts proposes each account once,
		// and never one of those disableExemption protects.
		if disables && (f.Disabled || disableExemption(v, f.UserPHID) != "") {
			continue
		}
		for _, gp := range f.Groups {
			g, ok := snap.Campaign.GroupByPHID(gp)
			if !ok || !filed[f.Batch] || !dueForRemoval(f, gp, &snap.Campaign, v.now) || !v.member(gp, f.UserPHID) || skip[[2]string{f.UserPHID, gp}] {
				continue
			}
			it := state.RemovalItem{UserPHID: f.UserPHID, Username: f.Username, GroupPHID: gp, GroupName: g.Name,
				Risk: g.Risk, Voluntary: f.Status == state.StatusVoluntary, Batch: f.Batch}
			// An unknown risk parses as the zero Risk, which never
			// auto-approves.
			// Disabling an account is never auto-approved: it reaches
			// beyond the group.
			if risk, err := campaigns.ParseRisk(g.Risk); err == nil && v.c.AutoApproveNotRisky && risk.MayAutoApprove() && !disables {
				auto = append(auto, it)
			} else {
				manual = append(manual, it)
			}
		}
	}
	return auto, manual
}

// proposalIntent records a new removal batch: the store numbers it, so
// the label in its journal entry and report is known only inside the
// transaction.
func proposalIntent(rm state.Removal, now time.Time) intent {
	in := intent{}
	in.change = func(tx *state.CampaignTx, _ outcomeOf) error {
		if err := tx.PutRemoval(&rm); err != nil {
			return err
		}
		detail := fmt.Sprintf("%s: %d removal(s), %d approval(s) needed, auto-approved=%v", rm.Label(), len(rm.Items), rm.RequiredApprovals, rm.AutoApproved)
		if rm.Disables() {
			detail = fmt.Sprintf("%s: disable %d account(s) (%d membership(s)), %d approval(s) needed", rm.Label(), len(rm.Accounts()), len(rm.Items), rm.RequiredApprovals)
		}
		return tx.Append(state.Entry{At: now.UTC(), Kind: state.EntryRemovalProposed, Detail: detail})
	}
	in.sayLater = func() said {
		if rm.Disables() {
			return said{ev{kind: "removal-proposed"}, fmt.Sprintf("proposed batch %s: disable %d account(s), needs %d approval(s)", rm.Label(), len(rm.Accounts()), rm.RequiredApprovals)}
		}
		auto := ""
		if rm.AutoApproved {
			auto = " (auto-approved: not-risky groups)"
		}
		return said{ev{kind: "removal-proposed"}, fmt.Sprintf("proposed removal batch %s: %d membership(s), needs %d approval(s)%s", rm.Label(), len(rm.Items), rm.RequiredApprovals, auto)}
	}
	return in
}

// choreAnnounceRemovals tells every task with users in an open removal
// batch what is proposed and who may approve it.
func (b *Bot) choreAnnounceRemovals(ctx context.Context, r *run) error {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	v, err := b.read.observe(ctx, r, snap, needs{})
	if err != nil {
		return err
	}
	ins, err := decideAnnouncements(v)
	if err != nil {
		return err
	}
	if err := b.exec.applyAll(ctx, r, ins); err != nil {
		return err
	}
	// An announcement left pending by a crash, of a batch decided since,
	// is not posted any more: settle it.
	open := map[string]bool{}
	for _, rm := range removalsWith(snap.Removals, state.RemovalProposed) {
		open[rm.Label()] = true
	}
	return b.exec.closeStaleComments(ctx, &r.rec, removalPrefix, func(key OpKey) bool {
		label, step, ok := parseRemovalKey(key)
		return !ok || step != stepProposal || open[label]
	}, "the removal batch was decided before its announcement was confirmed")
}

// decideAnnouncements is one comment per task and open removal batch:
// the memberships of that task's users it would remove, and how many
// approvals it needs. The comment subscribes the approvers' project, who
// are asked to decide; that they are is recorded with its intent.
func decideAnnouncements(v *view) ([]intent, error) {
	rec := v.rec()
	var ins []intent
	for _, rm := range removalsWith(v.snap.Removals, state.RemovalProposed) {
		for _, bt := range v.snap.Batches {
			items := itemsOfBatch(rm.Items, bt.Index)
			if len(items) == 0 {
				continue
			}
			data := templates.RemovalProposalData{Campaign: removalCampaignData(v, rm, bt), BatchID: rm.Label(),
				Items: removalItems(&v.snap, items), RequiredApprovals: rm.RequiredApprovals}
			text, err := v.words.render(templates.RemovalProposal, data)
			if err != nil {
				return nil, err
			}
			in := commentIntent(rec, bt, proposalKey(rm.Label(), bt.Index), text, state.Entry{Kind: state.EntryRemovalAnnounced, Detail: rm.Label()}, nil, approversEdits(rec)...)
			if rec.ApproversPHID != "" && !bt.ApproversSubscribed {
				index := bt.Index
				in.prepare = func(tx *state.CampaignTx) error { return markApproversSubscribed(tx, index) }
			}
			in.said = said{ev{kind: "removal-announced", task: bt.Monogram()}, fmt.Sprintf("announced %s on %s (%d membership(s))", rm.Label(), bt.Monogram(), len(items))}
			if rm.Disables() {
				in.said.text = fmt.Sprintf("announced %s on %s (%d account(s) to disable)", rm.Label(), bt.Monogram(), len(data.Accounts()))
			}
			ins = append(ins, in)
		}
	}
	return ins, nil
}

// choreExecuteRemovals carries out approved removal batches: per group one
// project.edit removing exactly the approved users still in it, then a
// notice on each task. Users who became compliant since are skipped.
func (b *Bot) choreExecuteRemovals(ctx context.Context, r *run) error {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	var errs []error
	for _, rm := range removalsWith(snap.Removals, state.RemovalApproved) {
		if now := b.now(); now.Before(rm.ProposedAt) {
			// The batch's members were found past their deadline at
			// ProposedAt; a tick on an earlier clock (the daemon on the
			// wall clock beside a `tick --now` in the future, or a clock
			// set back) would find none of them due and close the
			// approved batch having removed nobody. It waits for a tick
			// at or after that time instead.
			b.log.Warn().Str("campaign", r.c.Name).Str("removal", rm.Label()).Time("proposed_at", rm.ProposedAt).Time("now", now).
				Msg("approved removal batch left for a later tick: this tick's clock is earlier than its proposal")
			continue
		}
		errs = append(errs, b.executeRemoval(ctx, r, rm.ID))
	}
	return errors.Join(errs...)
}

// executeRemoval carries out one approved removal batch, in steps that
// each observe, decide and apply: "remove me" comments read again; the
// approvals read again (before anything is removed); who is still due,
// asked of Phabricator right before removing; the guard-rail; the
// removals; the notices.
func (b *Bot) executeRemoval(ctx context.Context, r *run, id int) error {
	// A "remove me" edited away since it was read no longer counts.
	snap, rm, err := b.removalNow(r, id)
	if err != nil {
		return err
	}
	v, err := b.read.observe(ctx, r, snap, needs{texts: voluntarySources(&snap, rm)})
	if err != nil {
		return fmt.Errorf("%s: re-read \"remove me\" comments: %w", rm.Label(), err)
	}
	if err := b.exec.record(r, decideVoluntaryWithdrawn(v, rm)); err != nil {
		return err
	}
	// Approvals are re-checked only before anything is removed: once a
	// removal is under way it is finished and reconciled, never reset.
	if snap, rm, err = b.removalNow(r, id); err != nil {
		return err
	}
	if v, err = b.read.observe(ctx, r, snap, needs{members: true, users: sentDisables(&snap, rm)}); err != nil {
		return err
	}
	started := removalStarted(&snap, rm, v.members, v.users)
	if !rm.AutoApproved && !started {
		n := approvalNeeds(rm.Approvals)
		n.fresh = true
		if v, err = b.read.observe(ctx, r, snap, n); err != nil {
			return fmt.Errorf("%s: %w", rm.Label(), err)
		}
		if back := decideApprovalsStand(v, rm); back != nil {
			return b.exec.record(r, back)
		}
	}
	// Ask Phabricator once more, right before removing: a user removed
	// from one group earlier is not watched by drift, and anyone may have
	// enabled MFA since the tick began.
	n := needs{members: true, live: dueFindings(&snap, rm, b.now())}
	if rm.Disables() {
		// Who may be disabled is asked of Phabricator right before:
		// the accounts' roles and the approvers, as they are now.
		n = n.and(disableNeeds(rm.Accounts()))
	}
	if v, err = b.read.observe(ctx, r, snap, n); err != nil {
		return fmt.Errorf("re-check before removal: %w", err)
	}
	ex, err := decideExecution(v, rm, started, r.c.RemovalLimit.Apply(b.cfg.RemovalLimit))
	if err != nil {
		return err
	}
	if !started {
		if err := b.exec.record(r, ex.hold); err != nil {
			return err
		}
		if ex.over {
			return b.exec.applyAll(ctx, r, ex.held)
		}
		// A note on the hold that a crash left unconfirmed is settled, not
		// posted late: the batch is no longer held.
		if err := b.exec.closeStaleComments(ctx, &snap.Campaign, removalKey(rm.Label(), stepHeld, ""), func(OpKey) bool { return false },
			"the guard-rail no longer holds the batch"); err != nil {
			return err
		}
	}
	err = b.exec.applyAll(ctx, r, ex.removals)
	// The members read this tick are stale for the groups written.
	if ferr := b.forgetRemoved(r, rm.ID); ferr != nil {
		return errors.Join(err, ferr)
	}
	if err != nil {
		return err
	}
	return b.finishRemoval(ctx, r, id)
}

// removalNow reads the state and removal batch id as they are now.
func (b *Bot) removalNow(r *run, id int) (state.Snapshot, state.Removal, error) {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return snap, state.Removal{}, err
	}
	rm, err := removalByID(snap.Removals, id)
	return snap, rm, err
}

// forgetRemoved drops from the tick's members the users removal batch id
// has removed, so that later chores do not see them as members.
func (b *Bot) forgetRemoved(r *run, id int) error {
	_, rm, err := b.removalNow(r, id)
	if err != nil || r.members == nil || rm.Disables() {
		// A disabled account keeps its memberships.
		return err
	}
	for _, it := range rm.Items {
		if it.Done {
			r.members[it.GroupPHID] = slices.DeleteFunc(slices.Clone(r.members[it.GroupPHID]), func(u string) bool { return u == it.UserPHID })
		}
	}
	return nil
}

// voluntarySources are the "remove me" comments of the users of rm who
// asked to go: read again before it runs.
func voluntarySources(snap *state.Snapshot, rm state.Removal) []*state.Source {
	var out []*state.Source
	for _, f := range snap.Findings {
		if f.Status == state.StatusVoluntary && f.VoluntarySource != nil && rm.Removes(f.UserPHID) {
			out = append(out, f.VoluntarySource)
		}
	}
	return out
}

// decideVoluntaryWithdrawn: a "remove me" comment edited into anything
// else (or deleted) is not a request any more. The user is pending again,
// flagged for a human, and from then on waits for their deadline like
// everyone else.
func decideVoluntaryWithdrawn(v *view, rm state.Removal) []intent {
	var ins []intent
	for _, f := range v.snap.Findings {
		if f.Status != state.StatusVoluntary || f.VoluntarySource == nil || !rm.Removes(f.UserPHID) {
			continue
		}
		if text, ok := v.texts[f.VoluntarySource.TxPHID]; ok && replies.Parse(text).Kind == replies.KindRemoveMe {
			continue
		}
		src, now, user := f.VoluntarySource, v.now, f.UserPHID
		ins = append(ins, intent{
			change: func(tx *state.CampaignTx, _ outcomeOf) error {
				f, err := tx.Finding(user)
				if err != nil || f.Status != state.StatusVoluntary {
					return err
				}
				f.Status, f.VoluntarySource, f.UpdatedAt = state.StatusPending, nil, now
				f.NeedsHuman = append(f.NeedsHuman, fmt.Sprintf("%s: edited their \"remove me\" comment (%s) before the removal; no longer removed as voluntary", src.Task, src.TxPHID))
				return tx.PutFinding(f)
			},
			entry: state.Entry{At: now, Kind: state.EntryVoluntaryWithdrawn, Task: src.Task, User: f.Username,
				Detail: fmt.Sprintf("%s: comment %s no longer asks to be removed; pending again, needs a human", rm.Label(), src.TxPHID)},
			said: said{ev{kind: "voluntary-withdrawn", task: src.Task, user: f.Username},
				fmt.Sprintf("@%s took back \"remove me\" on %s by editing the comment: pending again (needs a human)", f.Username, src.Task)},
		})
	}
	return ins
}

// decideApprovalsStand re-checks, just before a removal batch is carried
// out, that its approvers may still decide and that every approval given
// on a task still says "!approve" there: a comment edited (or deleted)
// after the bot counted it withdraws the approval, and an edit cannot
// re-appear past the read cursor (fact 45), so the comment was read
// again. It returns nil when enough approvals still stand for every
// membership; otherwise the state change that sends the batch back to
// waiting for approval with only those that stand.
func decideApprovalsStand(v *view, rm state.Removal) []intent {
	active, lapsed := v.splitLapsed(rm.Approvals)
	valid, withdrawn := v.standing(active, func(text string, ok bool) bool { return stillApproves(text, ok, "") })
	check := rm
	check.Approvals = valid
	if check.FullyApproved() {
		return nil
	}
	now := v.now
	in := intent{change: func(tx *state.CampaignTx, _ outcomeOf) error {
		cur, err := tx.Removal(rm.ID)
		if err != nil {
			return err
		}
		cur.Approvals, cur.Status = valid, state.RemovalProposed
		if err := tx.PutRemoval(&cur); err != nil {
			return err
		}
		if len(lapsed) > 0 {
			if err := tx.Append(state.Entry{At: now, Kind: state.EntryApprovalLapsed,
				Detail: fmt.Sprintf("%s: %s no longer enabled approvers; %d approval(s) remain, %d needed for each membership", rm.Label(), approverNames(lapsed), len(valid), rm.RequiredApprovals)}); err != nil {
				return err
			}
		}
		for _, a := range withdrawn {
			if err := tx.Append(state.Entry{At: now, Kind: state.EntryApprovalWithdrawn, Actor: a.Username, Task: a.Source.Task,
				Detail: fmt.Sprintf("%s: comment %s no longer says !approve (edited or deleted); %d approval(s) remain", rm.Label(), a.Source.TxPHID, len(valid))}); err != nil {
				return err
			}
		}
		return nil
	}}
	ins := []intent{in}
	if len(lapsed) > 0 {
		ins = append(ins, intent{said: said{ev{kind: "approval-lapsed"}, fmt.Sprintf("%s not carried out: approval by %s lapsed (no longer an enabled approver); waiting for approval again", rm.Label(), approverNames(lapsed))}})
	}
	if len(withdrawn) > 0 {
		ins = append(ins, intent{said: said{ev{kind: "approval-withdrawn"}, fmt.Sprintf("%s not carried out: approval by %s withdrawn (the comment was edited); waiting for approval again", rm.Label(), approverNames(withdrawn))}})
	}
	return ins
}

// dueFindings are the findings of rm's users still due for one of its
// items not yet done: whom Phabricator is asked about right before the
// removal.
func dueFindings(snap *state.Snapshot, rm state.Removal, now time.Time) []state.Finding {
	findings := findingsByUser(snap)
	var due []state.Finding
	for _, it := range rm.Items {
		if f := findings[it.UserPHID]; !it.Done && dueForRemoval(f, it.GroupPHID, &snap.Campaign, now) {
			due = append(due, f)
		}
	}
	return due
}

// findingsByUser indexes a snapshot's findings by user PHID.
func findingsByUser(snap *state.Snapshot) map[string]state.Finding {
	out := make(map[string]state.Finding, len(snap.Findings))
	for _, f := range snap.Findings {
		out[f.UserPHID] = f
	}
	return out
}

// execution is what carrying out one removal batch comes to: over the
// guard-rail (hold records it, held are the notes on its tasks), or the
// removals, one project.edit per group. hold is also the change that
// releases a batch the guard-rail no longer holds.
type execution struct {
	over     bool
	hold     []intent
	held     []intent
	removals []intent
}

// decideExecution decides how removal batch rm is carried out, from the
// view observed right before: who is still a member, still due, and
// still non-compliant. The guard-rail, like the approvals, is checked
// only before anything is sent (started false): a batch over it is not
// executed at all, and a started one is finished.
func decideExecution(v *view, rm state.Removal, started bool, limit campaigns.RemovalLimit) (execution, error) {
	snap := &v.snap
	findings := findingsByUser(snap)
	// A task whose answer could not be posted (the replies chore ran
	// before this one) reads none of its later replies: a "!deny", an
	// exemption request or "I enabled MFA" there would go unseen. Its
	// users are not removed until the answer is posted (fail closed);
	// status says a human is needed.
	unanswered := pendingAnswers(snap.Ops)
	pending := map[OpKey]state.Op{}
	for _, op := range snap.Ops {
		if op.State == state.OpPending {
			pending[OpKey(op.Key)] = op
		}
	}
	var exempt map[string]string
	if rm.Disables() {
		exempt = disableExemptions(v, rm, pending)
	}
	freshOf := func(g state.Group) []string {
		var fresh []string
		for _, it := range rm.Items {
			f := findings[it.UserPHID]
			if _, ok := exempt[it.UserPHID]; ok || len(unanswered[f.Batch]) > 0 {
				continue
			}
			if it.GroupPHID == g.PHID && !it.Done && v.failsNow(f) &&
				dueForRemoval(f, g.PHID, &snap.Campaign, v.now) && v.member(g.PHID, it.UserPHID) {
				fresh = append(fresh, it.UserPHID)
			}
		}
		return fresh
	}
	var ex execution
	if !started {
		over := overLimit(v, freshOf, limit)
		if rm.Disables() {
			over = append(over, accountsOver(snap, freshAccounts(snap, freshOf), limit)...)
		}
		ex.hold = decideHold(v, rm, over, limit)
		if len(over) > 0 {
			var err error
			ex.over = true
			ex.held, err = heldNotes(v, rm, over, limit)
			return ex, err
		}
	}
	if rm.Disables() {
		ex.removals = append(disableRefusals(v, rm, exempt), disableIntents(v, rm, groupsByAccount(snap, freshOf), pending)...)
		return ex, nil
	}
	for _, g := range snap.Campaign.Groups {
		key := removeKey(rm.Label(), g.PHID)
		// sent is what an earlier run sent without learning the outcome.
		sent := pending[key].Subjects
		fresh := freshOf(g)
		if len(sent) == 0 && len(fresh) == 0 {
			continue
		}
		ex.removals = append(ex.removals, removalIntent(v, rm, g, sent, fresh))
	}
	return ex, nil
}

// overLimit is the groups the guard-rail holds a batch for: per group,
// cumulative, what the campaign already removed from it plus this batch
// (freshOf), against its size before the first removal, so that rounds
// (per-user deadlines, "remove me", an extension that splits a batch) add
// up to no more than one batch may remove. For a batch that disables
// accounts, each account counts once per group it is in.
func overLimit(v *view, freshOf func(state.Group) []string, limit campaigns.RemovalLimit) []templates.HeldGroup {
	var over []templates.HeldGroup
	for _, g := range v.snap.Campaign.Groups {
		n := len(freshOf(g))
		if n == 0 {
			continue
		}
		done := removedFrom(v.snap.Removals, g.PHID)
		base := g.RemovalBaseline
		if base == 0 {
			base = len(v.members[g.PHID]) + done // recorded before baselines were
		}
		if !limit.Allows(done+n, base) {
			over = append(over, templates.HeldGroup{Group: g.Name, Remove: done + n, Members: base})
		}
	}
	return over
}

// removalIntent removes fresh from group g in one project.edit, for
// removal batch rm. If an earlier attempt sent the removal of sent and
// its outcome was lost, it landed if none of them is still a member (one
// project.edit applies all of its transactions or none); then exactly
// that is recorded, whatever changed since.
func removalIntent(v *view, rm state.Removal, g state.Group, sent, fresh []string) intent {
	rec := v.rec()
	var removed []string
	in := intent{key: removeKey(rm.Label(), g.PHID), kind: state.OpMembersRemoved,
		write: editMembers{project: g.PHID, remove: fresh},
		failed: func(err error) error {
			if errors.Is(err, conduit.ErrPermissionDenied) {
				return fmt.Errorf("the bot may not edit %s's membership (%s); a member of that project's editors must remove: %v", g.Name, policyHint(err), fresh)
			}
			return err
		},
		change: func(tx *state.CampaignTx, res outcomeOf) error {
			removed = fresh
			if res.reconciled {
				removed = res.subjects
			}
			return markRemoved(tx, rm.ID, g.PHID, removed, res.at)
		},
		entry:    state.Entry{Actor: rec.BotUsername, Group: g.Name, Detail: rm.Label() + ": removed member(s)"},
		amend:    func(e *state.Entry, _ outcomeOf) { *e = removedEntry(*e, rm, g.Name, removed) },
		subjects: fresh,
	}
	in.sayLater = func() said {
		if len(removed) == 0 {
			return said{}
		}
		return said{ev{kind: "removed"}, fmt.Sprintf("removed %d member(s) from %s (%s)", len(removed), g.Name, rm.Label())}
	}
	if len(sent) > 0 {
		in.landed = landedCheck{project: g.PHID, members: func(members []string) bool { return removalLanded(sent, members) }}
	}
	return in
}

// decideHold is the state change that records whether the guard-rail
// holds rm (over lists the groups it would remove too much of; none
// releases it), with its journal entry; nil when that does not change.
func decideHold(v *view, rm state.Removal, over []templates.HeldGroup, limit campaigns.RemovalLimit) []intent {
	why := heldWhy(over, limit)
	if why == rm.Held {
		return nil
	}
	kind, detail := state.EntryRemovalHeld, rm.Label()+": "+why
	if why == "" {
		kind, detail = state.EntryRemovalReleased, rm.Label()+": within the guard-rail now ("+limit.String()+")"
	}
	in := intent{
		change: func(tx *state.CampaignTx, _ outcomeOf) error {
			cur, err := tx.Removal(rm.ID)
			if err != nil {
				return err
			}
			cur.Held = why
			return tx.PutRemoval(&cur)
		},
		entry: state.Entry{At: v.now, Kind: kind, Detail: detail},
	}
	if why != "" {
		in.said = said{ev{kind: "removal-held"}, fmt.Sprintf("held removal batch %s: %s", rm.Label(), why)}
	}
	return []intent{in}
}

// heldWhy says why the guard-rail holds a batch; "" when it does not.
func heldWhy(over []templates.HeldGroup, limit campaigns.RemovalLimit) string {
	if len(over) == 0 {
		return ""
	}
	var parts []string
	for _, g := range over {
		parts = append(parts, fmt.Sprintf("%d of the %d members of %s", g.Remove, g.Members, g.Group))
	}
	return fmt.Sprintf("it would remove %s; the guard-rail allows %s", strings.Join(parts, ", "), limit)
}

// heldNotes tells each task of a held batch, once, that a person must
// decide.
func heldNotes(v *view, rm state.Removal, over []templates.HeldGroup, limit campaigns.RemovalLimit) ([]intent, error) {
	var ins []intent
	for _, bt := range v.snap.Batches {
		items := itemsOfBatch(rm.Items, bt.Index)
		if len(items) == 0 || bt.TaskPHID == "" {
			continue
		}
		text, err := v.words.render(templates.RemovalHeld, templates.RemovalHeldData{Campaign: removalCampaignData(v, rm, bt), BatchID: rm.Label(),
			Over: over, Limit: limit.String(), Items: removalItems(&v.snap, items)})
		if err != nil {
			return nil, err
		}
		ins = append(ins, commentIntent(v.rec(), bt, heldKey(rm.Label(), bt.Index), text, state.Entry{Kind: state.EntryRemovalHeld, Detail: rm.Label()}, nil))
	}
	return ins, nil
}

// finishRemoval posts the removal notices and closes the batch.
func (b *Bot) finishRemoval(ctx context.Context, r *run, id int) error {
	snap, rm, err := b.removalNow(r, id)
	if err != nil {
		return err
	}
	v, err := b.read.observe(ctx, r, snap, needs{})
	if err != nil {
		return err
	}
	notices, err := decideNotices(v, rm)
	if err != nil {
		return err
	}
	if err := b.exec.applyAll(ctx, r, notices); err != nil {
		return err
	}
	return b.exec.record(r, []intent{removalDone(v, rm)})
}

// decideNotices is one comment per task naming the memberships removed
// from its users.
func decideNotices(v *view, rm state.Removal) ([]intent, error) {
	var ins []intent
	for _, bt := range v.snap.Batches {
		var done []state.RemovalItem
		for _, it := range itemsOfBatch(rm.Items, bt.Index) {
			if it.Done {
				done = append(done, it)
			}
		}
		if len(done) == 0 {
			continue
		}
		text, err := v.words.render(templates.RemovalNotice, templates.RemovalNoticeData{Campaign: removalCampaignData(v, rm, bt), Removed: removalItems(&v.snap, done)})
		if err != nil {
			return nil, err
		}
		ins = append(ins, commentIntent(v.rec(), bt, noticeKey(rm.Label(), bt.Index), text,
			state.Entry{Kind: state.EntryRemovalNotice, Detail: fmt.Sprintf("%s: %d membership(s)", rm.Label(), len(done))}, nil))
	}
	return ins, nil
}

// removalDone marks a removal batch done.
func removalDone(v *view, rm state.Removal) intent {
	return intent{
		change: func(tx *state.CampaignTx, _ outcomeOf) error {
			cur, err := tx.Removal(rm.ID)
			if err != nil {
				return err
			}
			cur.Status = state.RemovalDone
			return tx.PutRemoval(&cur)
		},
		entry: state.Entry{At: v.now, Kind: state.EntryRemovalDone, Detail: rm.Label()},
	}
}
