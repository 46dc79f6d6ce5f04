package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// removalsWith returns the removal batches in one of the statuses, by id.
func removalsWith(rs []state.Removal, statuses ...state.RemovalStatus) []state.Removal {
	var out []state.Removal
	for _, r := range rs {
		if slices.Contains(statuses, r.Status) {
			out = append(out, r)
		}
	}
	return out
}

// choreProposeRemovals proposes a removal batch once users are past their
// cutoff: every (user, group) pair where a pending or voluntary user is
// still a member. Users with an undecided exemption request are held back,
// and pairs a removal batch was rejected for are not proposed again.
func (b *Bot) choreProposeRemovals(ctx context.Context, r *run) error {
	now := b.now()
	// Users on the team's task have no deadline (they cannot act); the
	// others wait for the cutoff, which dueForRemoval checks per user.
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	if now.Before(r.rec.Cutoff) && !slices.ContainsFunc(snap.Findings, func(f state.Finding) bool { return f.TeamTask }) {
		return nil
	}
	if !now.Before(r.rec.Cutoff) {
		// A keep taken back by editing its comment no longer keeps.
		if err := b.checkKeeps(ctx, r); err != nil {
			return err
		}
		if snap, err = b.store.Snapshot(r.c.Name); err != nil {
			return err
		}
	}
	// Nobody is removed who was never told: their task (or the team's)
	// must exist.
	filed := map[int]bool{}
	for _, bt := range snap.Batches {
		filed[bt.Index] = bt.TaskPHID != ""
	}
	members, err := b.liveMembers(ctx, r)
	if err != nil {
		return err
	}
	// A pair already in an open batch waits for it; a pair a batch was
	// rejected for is not proposed again. Everyone else who is due goes
	// into a new round, so one batch nobody approves blocks no one else.
	skip := map[[2]string]bool{}
	for _, rm := range removalsWith(snap.Removals, state.RemovalProposed, state.RemovalApproved, state.RemovalRejected) {
		for _, it := range rm.Items {
			skip[[2]string{it.UserPHID, it.GroupPHID}] = true
		}
	}
	var manual, auto []state.RemovalItem
	for _, f := range snap.Findings {
		if now.Before(r.rec.Cutoff) && !f.TeamTask {
			continue
		}
		for _, gp := range f.Groups {
			g, ok := snap.Campaign.GroupByPHID(gp)
			if !ok || !filed[f.Batch] || !dueForRemoval(f, gp, &snap.Campaign, now) || !slices.Contains(members[gp], f.UserPHID) || skip[[2]string{f.UserPHID, gp}] {
				continue
			}
			it := state.RemovalItem{UserPHID: f.UserPHID, Username: f.Username, GroupPHID: gp, GroupName: g.Name,
				Risk: g.Risk, Voluntary: f.Status == state.StatusVoluntary, Batch: f.Batch}
			// An unknown risk parses as the zero Risk, which never
			// auto-approves.
			if risk, err := campaigns.ParseRisk(g.Risk); err == nil && r.c.AutoApproveNotRisky && risk.MayAutoApprove() {
				auto = append(auto, it)
			} else {
				manual = append(manual, it)
			}
		}
	}
	// Both rounds are recorded in one transaction: a crash between them
	// would leave users whose not-risky removal ran marked removed, and
	// their riskier groups never proposed.
	var proposed []state.Removal
	err = b.store.Update(r.c.Name, func(tx *state.CampaignTx) error {
		proposed = nil
		// The guard-rail's baseline: each group's size when the campaign
		// first proposes removing from it (see guardRail).
		rec := tx.Campaign()
		changed := false
		for i, g := range rec.Groups {
			if g.RemovalBaseline == 0 && slices.ContainsFunc(append(slices.Clone(auto), manual...), func(it state.RemovalItem) bool { return it.GroupPHID == g.PHID }) {
				rec.Groups[i].RemovalBaseline, changed = len(members[g.PHID]), true
			}
		}
		if changed {
			if err := tx.PutCampaign(rec); err != nil {
				return err
			}
		}
		for i, items := range [][]state.RemovalItem{auto, manual} {
			if len(items) == 0 {
				continue
			}
			sortItems(items)
			rm := state.Removal{ProposedAt: now.UTC(), Items: items, Status: state.RemovalProposed, RequiredApprovals: requiredApprovals(items)}
			if i == 0 {
				rm.Status, rm.AutoApproved, rm.RequiredApprovals = state.RemovalApproved, true, 0
			}
			if err := tx.PutRemoval(&rm); err != nil {
				return err
			}
			if err := tx.Append(state.Entry{At: now.UTC(), Kind: state.EntryRemovalProposed, Detail: fmt.Sprintf("%s: %d removal(s), %d approval(s) needed, auto-approved=%v", rm.Label(), len(items), rm.RequiredApprovals, rm.AutoApproved)}); err != nil {
				return err
			}
			proposed = append(proposed, rm)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, rm := range proposed {
		r.eventOf(ev{kind: "removal-proposed"}, "proposed removal batch %s: %d membership(s), needs %d approval(s)%s", rm.Label(), len(rm.Items), rm.RequiredApprovals, map[bool]string{true: " (auto-approved: not-risky groups)"}[rm.AutoApproved])
	}
	return nil
}

// dueForRemoval reports whether a user may be removed from group now: they
// are pending or asked to go (or were removed from other groups only),
// their own deadline has passed, and no exemption request waits for a
// decision. Proposal and execution both ask, so an extension or an
// exemption request made after a batch was proposed still protects them.
func dueForRemoval(f state.Finding, group string, c *state.Campaign, now time.Time) bool {
	removable := f.Status.Removable() || (f.Status == state.StatusRemoved && !slices.Contains(f.RemovedFrom, group))
	if !removable {
		return false
	}
	switch {
	case f.TeamTask:
		// Listed on the team's task: they cannot act, so there is no
		// deadline to wait for; approvers decide.
	case f.Status == state.StatusVoluntary:
		// Someone who asked to go does not wait for a deadline extended
		// for them (proposals start at the campaign's cutoff).
	default:
		if now.Before(f.EffectiveCutoff(c)) {
			return false
		}
	}
	return f.Exemption == nil || f.Exemption.Decision != state.ExemptionPending
}

// sortItems orders removal items riskiest group first, then by user.
func sortItems(items []state.RemovalItem) {
	slices.SortStableFunc(items, func(a, b state.RemovalItem) int {
		ra, rb := riskRank(a.Risk), riskRank(b.Risk)
		if c := cmp.Compare(rb, ra); c != 0 {
			return c
		}
		if c := cmp.Compare(a.GroupName, b.GroupName); c != 0 {
			return c
		}
		return cmp.Compare(a.Username, b.Username)
	})
}

// requiredApprovals is the most any item's group risk level asks for.
func requiredApprovals(items []state.RemovalItem) int {
	var risks []string
	for _, it := range items {
		risks = append(risks, it.Risk)
	}
	return approvalsFor(risks)
}

// riskRank orders risk strings from state for display: an unknown or
// unparsable one (a hand-edited or newer state file) ranks above internal,
// as the riskiest.
func riskRank(s string) campaigns.Risk {
	r, err := campaigns.ParseRisk(s)
	if err != nil {
		return campaigns.RiskInternal + 1
	}
	return r
}

// approvalsFor is how many distinct approvers a decision about groups of
// these risk levels needs: the most any of them asks for, at least one. An
// unknown or unparsable risk counts as the riskiest: ParseRisk's zero Risk
// asks for the most approvers, never fewer.
func approvalsFor(risks []string) int {
	n := 1
	for _, r := range risks {
		risk, _ := campaigns.ParseRisk(r)
		n = max(n, risk.RequiredApprovals())
	}
	return n
}

// choreAnnounceRemovals tells every task with users in an open removal
// batch what is proposed and who may approve it.
func (b *Bot) choreAnnounceRemovals(ctx context.Context, r *run) error {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	var errs []error
	for _, rm := range removalsWith(snap.Removals, state.RemovalProposed) {
		errs = append(errs, b.announceRemoval(ctx, r, &snap, rm))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// An announcement left pending by a crash, of a batch decided since,
	// is not posted any more: settle it.
	open := map[string]bool{}
	for _, rm := range removalsWith(snap.Removals, state.RemovalProposed) {
		open[rm.Label()] = true
	}
	return b.closeStaleComments(ctx, &r.rec, removalPrefix, func(key OpKey) bool {
		label, step, ok := parseRemovalKey(key)
		return !ok || step != stepProposal || open[label]
	}, "the removal batch was decided before its announcement was confirmed")
}

func (b *Bot) announceRemoval(ctx context.Context, r *run, snap *state.Snapshot, rm state.Removal) error {
	var errs []error
	for _, bt := range snap.Batches {
		items := itemsOfBatch(rm.Items, bt.Index)
		if len(items) == 0 {
			continue
		}
		data := templates.RemovalProposalData{Campaign: b.batchCampaignData(r.c, &snap.Campaign, bt), BatchID: rm.Label(),
			Items: removalItems(snap, items), RequiredApprovals: rm.RequiredApprovals}
		text, err := b.render("removal-proposal", data)
		if err != nil {
			return err
		}
		key := proposalKey(rm.Label(), bt.Index)
		if r.rec.ApproversPHID != "" && !bt.ApproversSubscribed {
			// Recorded before the edit that subscribes them.
			if err := b.store.Update(r.rec.Name, func(tx *state.CampaignTx) error { return markApproversSubscribed(tx, bt.Index) }); err != nil {
				return err
			}
		}
		posted, err := b.commentWith(ctx, r, bt, key, text, state.Entry{Kind: state.EntryRemovalAnnounced, Detail: rm.Label()}, nil, approversEdits(&r.rec)...)
		if err != nil {
			errs = append(errs, err)
		} else if posted {
			r.eventOf(ev{kind: "removal-announced", task: bt.Monogram()}, "announced %s on %s (%d membership(s))", rm.Label(), bt.Monogram(), len(items))
		}
	}
	return errors.Join(errs...)
}

func itemsOfBatch(items []state.RemovalItem, batch int) []state.RemovalItem {
	var out []state.RemovalItem
	for _, it := range items {
		if it.Batch == batch {
			out = append(out, it)
		}
	}
	return out
}

func removalItems(snap *state.Snapshot, items []state.RemovalItem) []templates.RemovalItem {
	names := map[string]state.Finding{}
	for _, f := range snap.Findings {
		names[f.UserPHID] = f
	}
	var out []templates.RemovalItem
	for _, it := range items {
		f := names[it.UserPHID]
		out = append(out, templates.RemovalItem{Person: person(&f), Group: it.GroupName, Voluntary: it.Voluntary})
	}
	return out
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

// executeRemoval carries out one approved removal batch.
func (b *Bot) executeRemoval(ctx context.Context, r *run, id int) error {
	// A "remove me" edited away since it was read no longer counts.
	if err := b.checkVoluntary(ctx, r, id); err != nil {
		return err
	}
	// Each batch starts from the state the previous one left.
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	rm, err := removalByID(snap.Removals, id)
	if err != nil {
		return err
	}
	ops := map[OpKey]state.Op{}
	for _, op := range snap.Ops {
		ops[OpKey(op.Key)] = op
	}
	members, err := b.liveMembers(ctx, r)
	if err != nil {
		return err
	}
	// Approvals are re-checked only before anything is removed: once a
	// removal is under way it is finished and reconciled, never reset.
	// Under way means a membership is gone: an item is done, or a write
	// whose outcome was lost is found to have landed (reconcile first,
	// then decide). A write Phabricator refused removed nothing, so the
	// batch is as new and its approvals and guard-rail count again.
	started := removalStarted(&snap, rm, members)
	if !rm.AutoApproved && !started {
		ok, err := b.approvalsStillValid(ctx, r, rm)
		if err != nil || !ok {
			return err
		}
	}
	findings := map[string]state.Finding{}
	for _, f := range snap.Findings {
		findings[f.UserPHID] = f
	}
	now := b.now()
	var due []state.Finding
	for _, it := range rm.Items {
		if f := findings[it.UserPHID]; !it.Done && dueForRemoval(f, it.GroupPHID, &snap.Campaign, now) {
			due = append(due, f)
		}
	}
	// Ask Phabricator once more, right before removing: a user removed
	// from one group earlier is not watched by drift, and anyone may have
	// enabled MFA since the tick began.
	nonCompliant, err := b.stillNonCompliant(ctx, r, due)
	if err != nil {
		return err
	}
	// A task whose answer could not be posted (the replies chore ran
	// before this one) reads none of its later replies: a "!deny", an
	// exemption request or "I enabled MFA" there would go unseen. Its
	// users are not removed until the answer is posted (fail closed);
	// status says a human is needed.
	unanswered := pendingAnswers(snap.Ops)
	freshOf := func(g state.Group) []string {
		var fresh []string
		for _, it := range rm.Items {
			if len(unanswered[findings[it.UserPHID].Batch]) > 0 {
				continue
			}
			if it.GroupPHID == g.PHID && !it.Done && nonCompliant[it.UserPHID] &&
				dueForRemoval(findings[it.UserPHID], g.PHID, &snap.Campaign, now) && slices.Contains(members[g.PHID], it.UserPHID) {
				fresh = append(fresh, it.UserPHID)
			}
		}
		return fresh
	}
	// The guard-rail, like the approvals, is checked before anything is
	// sent: a batch over it is not executed at all, and a started one is
	// finished.
	if !started {
		limit := r.c.RemovalLimit.Apply(b.cfg.RemovalLimit)
		var over []templates.HeldGroup
		for _, g := range snap.Campaign.Groups {
			n := len(freshOf(g))
			if n == 0 {
				continue
			}
			// Cumulative per group: what the campaign already removed
			// from it plus this batch, against its size before the first
			// removal, so that rounds (per-user deadlines, "remove me",
			// an extension that splits a batch) add up to no more than
			// one batch may remove.
			done := removedFrom(snap.Removals, g.PHID)
			base := g.RemovalBaseline
			if base == 0 {
				base = len(members[g.PHID]) + done // recorded before baselines were
			}
			if !limit.Allows(done+n, base) {
				over = append(over, templates.HeldGroup{Group: g.Name, Remove: done + n, Members: base})
			}
		}
		if err := b.holdRemoval(ctx, r, &snap, rm, over, limit); err != nil || len(over) > 0 {
			return err
		}
	}
	var errs []error
	for _, g := range snap.Campaign.Groups {
		key := removeKey(rm.Label(), g.PHID)
		// sent is what an earlier run sent without learning the outcome.
		var sent []string
		if op, ok := ops[key]; ok && op.State == state.OpPending {
			sent = op.Subjects
		}
		fresh := freshOf(g)
		if len(sent) == 0 && len(fresh) == 0 {
			continue
		}
		var removed []string
		_, err := b.once(ctx, effect{
			campaign: r.c.Name, key: key, kind: state.OpMembersRemoved,
			// The earlier write landed if none of what it sent is still a
			// member; then record exactly that, whatever changed since.
			find: func(ctx context.Context) (string, bool, error) {
				if len(sent) == 0 {
					return "", false, nil
				}
				ps, err := b.phab.ProjectsByPHID(ctx, []string{g.PHID}, true)
				if err != nil || len(ps) != 1 {
					return "", false, err
				}
				if !removalLanded(sent, ps[0].MemberPHIDs) {
					return "", false, nil
				}
				removed = sent
				return "", true, nil
			},
			// Otherwise it did not land: remove who is due now.
			do: func(ctx context.Context) (string, error) {
				removed = fresh
				if len(fresh) == 0 {
					return "", nil
				}
				res, err := b.phab.EditProjectMembers(ctx, g.PHID, nil, fresh)
				if errors.Is(err, conduit.ErrPermissionDenied) {
					return "", fmt.Errorf("the bot may not edit %s's membership (%s); a member of that project's editors must remove: %v", g.Name, policyHint(err), fresh)
				}
				if len(res.TransactionPHIDs) > 0 {
					return res.TransactionPHIDs[0], err
				}
				return "", err
			},
			record: func(tx *state.CampaignTx, _ string) error {
				return markRemoved(tx, rm.ID, g.PHID, removed, b.now().UTC())
			},
			entry:    state.Entry{Actor: snap.Campaign.BotUsername, Group: g.Name, Detail: rm.Label() + ": removed member(s)"},
			amend:    func(e *state.Entry) { *e = removedEntry(*e, rm, g.Name, removed) },
			subjects: fresh,
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(removed) > 0 {
			r.eventOf(ev{kind: "removed"}, "removed %d member(s) from %s (%s)", len(removed), g.Name, rm.Label())
		}
		// The cache is now stale for this group.
		members[g.PHID] = slices.DeleteFunc(slices.Clone(members[g.PHID]), func(u string) bool { return slices.Contains(removed, u) })
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return b.finishRemoval(ctx, r, rm.ID)
}

// removedFrom counts the memberships of group the campaign's removal
// batches removed so far.
func removedFrom(rs []state.Removal, group string) int {
	n := 0
	for _, rm := range rs {
		for _, it := range rm.Items {
			if it.Done && it.GroupPHID == group {
				n++
			}
		}
	}
	return n
}

// removalStarted reports whether removal batch rm is under way: a
// membership of it is recorded removed, or a membership write whose
// outcome was lost landed (judged by the groups' live members). A write
// Phabricator refused, or one never sent, removed nothing: the batch can
// still be re-checked, held or rejected as if nothing had been sent.
func removalStarted(snap *state.Snapshot, rm state.Removal, members map[string][]string) bool {
	if slices.ContainsFunc(rm.Items, func(it state.RemovalItem) bool { return it.Done }) {
		return true
	}
	for _, g := range snap.Campaign.Groups {
		key := string(removeKey(rm.Label(), g.PHID))
		for _, op := range snap.Ops {
			if op.Key == key && op.State == state.OpPending && removalLanded(op.Subjects, members[g.PHID]) {
				return true
			}
		}
	}
	return false
}

// removalLanded reports whether a membership write that sent the removal
// of users landed: none of them is still among members (one project.edit
// applies all of its transactions or none).
func removalLanded(sent, members []string) bool {
	return len(sent) > 0 && !slices.ContainsFunc(sent, func(u string) bool { return slices.Contains(members, u) })
}

// holdRemoval records whether the removal guard-rail holds rm (over lists
// the groups it would remove too much of; none releases it), journals each
// change, and tells each affected task once that a person must decide.
func (b *Bot) holdRemoval(ctx context.Context, r *run, snap *state.Snapshot, rm state.Removal, over []templates.HeldGroup, limit campaigns.RemovalLimit) error {
	var why string
	if len(over) > 0 {
		var parts []string
		for _, g := range over {
			parts = append(parts, fmt.Sprintf("%d of the %d members of %s", g.Remove, g.Members, g.Group))
		}
		why = fmt.Sprintf("it would remove %s; the guard-rail allows %s", strings.Join(parts, ", "), limit)
	}
	if why != rm.Held {
		kind, detail := state.EntryRemovalHeld, rm.Label()+": "+why
		if why == "" {
			kind, detail = state.EntryRemovalReleased, rm.Label()+": within the guard-rail now ("+limit.String()+")"
		}
		if err := b.store.Update(r.c.Name, func(tx *state.CampaignTx) error {
			cur, err := tx.Removal(rm.ID)
			if err != nil {
				return err
			}
			cur.Held = why
			if err := tx.PutRemoval(&cur); err != nil {
				return err
			}
			return tx.Append(state.Entry{At: b.now().UTC(), Kind: kind, Detail: detail})
		}); err != nil {
			return err
		}
		if why != "" {
			r.eventOf(ev{kind: "removal-held"}, "held removal batch %s: %s", rm.Label(), why)
		}
	}
	if why == "" {
		// A note on the hold that a crash left unconfirmed is settled, not
		// posted late: the batch is no longer held.
		return b.closeStaleComments(ctx, &snap.Campaign, removalKey(rm.Label(), stepHeld, ""), func(OpKey) bool { return false },
			"the guard-rail no longer holds the batch")
	}
	var errs []error
	for _, bt := range snap.Batches {
		items := itemsOfBatch(rm.Items, bt.Index)
		if len(items) == 0 || bt.TaskPHID == "" {
			continue
		}
		text, err := b.render(templates.RemovalHeld, templates.RemovalHeldData{Campaign: b.batchCampaignData(r.c, &snap.Campaign, bt), BatchID: rm.Label(),
			Over: over, Limit: limit.String(), Items: removalItems(snap, items)})
		if err != nil {
			return err
		}
		_, err = b.comment(ctx, r, bt, heldKey(rm.Label(), bt.Index), text, state.Entry{Kind: state.EntryRemovalHeld, Detail: rm.Label()}, nil)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stillNonCompliant asks which of these users still fail any of their
// criteria, keeps applied: each criterion at its own cost (one
// user.search per 100 users for MFA and disabled accounts, the activity
// source for inactivity).
func (b *Bot) stillNonCompliant(ctx context.Context, r *run, fs []state.Finding) (map[string]bool, error) {
	live, err := b.liveFailures(ctx, r.c, fs, nil)
	if err != nil {
		return nil, fmt.Errorf("re-check before removal: %w", err)
	}
	out := map[string]bool{}
	for _, f := range fs {
		if failsAny(f, live) {
			out[f.UserPHID] = true
		}
	}
	return out, nil
}

// pendingOps returns the keys of the ops whose intent is recorded but whose
// outcome is not.
func pendingOps(snap *state.Snapshot) map[OpKey]bool {
	out := map[OpKey]bool{}
	for _, op := range snap.Ops {
		if op.State == state.OpPending {
			out[OpKey(op.Key)] = true
		}
	}
	return out
}

// removalsInFlight returns the users of the open removal batch whose
// project.edit was sent but not confirmed (a crash or a lost answer). If
// they are no longer members, it is most likely the bot's own write, which
// execute-removals reconciles: drift must not call them left-group.
func removalsInFlight(snap *state.Snapshot) map[string]bool {
	out := map[string]bool{}
	pending := pendingOps(snap)
	for _, rm := range snap.Removals {
		for _, it := range rm.Items {
			if !it.Done && pending[removeKey(rm.Label(), it.GroupPHID)] {
				out[it.UserPHID] = true
			}
		}
	}
	return out
}

func removalByID(rs []state.Removal, id int) (state.Removal, error) {
	for _, r := range rs {
		if r.ID == id {
			return r, nil
		}
	}
	return state.Removal{}, fmt.Errorf("no removal batch R%d", id)
}

// markRemoved records the outcome of one group's removal.
func markRemoved(tx *state.CampaignTx, removalID int, group string, users []string, now time.Time) error {
	rm, err := tx.Removal(removalID)
	if err != nil {
		return err
	}
	for i := range rm.Items {
		if rm.Items[i].GroupPHID == group && slices.Contains(users, rm.Items[i].UserPHID) {
			rm.Items[i].Done = true
		}
	}
	if err := tx.PutRemoval(&rm); err != nil {
		return err
	}
	for _, u := range users {
		f, err := tx.Finding(u)
		if err != nil {
			return err
		}
		f.Status, f.UpdatedAt = state.StatusRemoved, now
		if !slices.Contains(f.RemovedFrom, group) {
			f.RemovedFrom = append(f.RemovedFrom, group)
		}
		if err := tx.PutFinding(f); err != nil {
			return err
		}
	}
	return nil
}

// finishRemoval posts the removal notices and closes the batch.
func (b *Bot) finishRemoval(ctx context.Context, r *run, id int) error {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	rm, err := removalByID(snap.Removals, id)
	if err != nil {
		return err
	}
	var errs []error
	for _, bt := range snap.Batches {
		var done []state.RemovalItem
		for _, it := range itemsOfBatch(rm.Items, bt.Index) {
			if it.Done {
				done = append(done, it)
			}
		}
		if len(done) == 0 {
			continue
		}
		text, err := b.render("removal-notice", templates.RemovalNoticeData{Campaign: b.batchCampaignData(r.c, &snap.Campaign, bt), Removed: removalItems(&snap, done)})
		if err != nil {
			return err
		}
		key := noticeKey(rm.Label(), bt.Index)
		if _, err := b.comment(ctx, r, bt, key, text, state.Entry{Kind: state.EntryRemovalNotice, Detail: fmt.Sprintf("%s: %d membership(s)", rm.Label(), len(done))}, nil); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return b.store.Update(r.c.Name, func(tx *state.CampaignTx) error {
		cur, err := tx.Removal(id)
		if err != nil {
			return err
		}
		cur.Status = state.RemovalDone
		if err := tx.PutRemoval(&cur); err != nil {
			return err
		}
		return tx.Append(state.Entry{At: b.now().UTC(), Kind: state.EntryRemovalDone, Detail: cur.Label()})
	})
}

// removedEntry completes a members-removed journal entry: who was removed
// from which group, and who approved it.
func removedEntry(e state.Entry, rm state.Removal, group string, removed []string) state.Entry {
	names := map[string]string{}
	for _, it := range rm.Items {
		names[it.UserPHID] = it.Username
	}
	for _, u := range removed {
		n := names[u]
		if n == "" {
			n = u
		}
		e.Users = append(e.Users, n)
	}
	// One approver may hold several approvals of a batch (one per task
	// and one on the command line): name each person once.
	for _, a := range rm.Approvals {
		if !slices.Contains(e.Approvers, a.Username) {
			e.Approvers = append(e.Approvers, a.Username)
		}
	}
	if rm.AutoApproved {
		e.Verified = "auto-approved by the campaign's policy"
	}
	e.Detail = fmt.Sprintf("%s: removed %d member(s) from %s", rm.Label(), len(removed), group)
	e.Outcome = fmt.Sprintf("removed %d", len(removed))
	return e
}
