package bot

// "!fix P1" on the policy task: an approver asks the bot to set a policy
// finding's safe value. It counts like an approval of a removal: from an
// enabled member of the approvers' project, checked over Conduit when it
// is given and again right before the write (and its comment must still
// say "!fix P1" then); as many distinct approvers as the group's risk
// needs; the write is an op (intent recorded before, outcome after, a
// landed check that reads the object's policy after a crash).

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/bot/replies"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// fixCommand is one "!fix" read on the policy task.
type fixCommand struct {
	tx    conduit.Transaction
	label string
}

// readFixCommands reads the policy task's comments after its cursor and
// records each "!fix": an approval, or why it is refused. Other comments
// are the team's discussion and are passed over.
func (b *Bot) readFixCommands(ctx context.Context, r *run) error {
	pt := r.rec.PolicyTask
	txs, err := b.read.history(ctx, pt.TaskPHID, pt.TxCursor)
	if err != nil {
		return fmt.Errorf("read the policy task %s: %w", pt.Monogram(), err)
	}
	var cmds []fixCommand
	var authors []string
	last := pt.TxCursor
	shown := maps.Clone(pt.Shown)
	for _, t := range txs {
		last = max(last, t.ID)
		c, ok := t.CurrentComment()
		if ok && t.AuthorPHID == r.rec.BotPHID {
			if err := b.read.policyUpdateShown(r.rec.Name, t, c.Raw, &shown); err != nil {
				return err
			}
		}
		if !ok || t.AuthorPHID == r.rec.BotPHID {
			continue
		}
		if rep := replies.Parse(c.Raw); rep.Kind == replies.KindFix {
			cmds = append(cmds, fixCommand{tx: t, label: rep.Target})
			authors = append(authors, t.AuthorPHID)
		}
	}
	if last == pt.TxCursor {
		return nil
	}
	snap, err := b.store.Snapshot(r.rec.Name)
	if err != nil {
		return err
	}
	n := needs{}
	if len(cmds) > 0 {
		n = needs{approvers: true, users: uniq(authors)}
	}
	v, err := b.read.observe(ctx, r, snap, n)
	if err != nil {
		return fmt.Errorf("read the approvers: %w", err)
	}
	for _, in := range decideFixCommands(v, cmds, last, shown) {
		if _, err := b.exec.apply(ctx, r.rec.Name, in); err != nil {
			return err
		}
		r.say(in.said)
	}
	r.rec, err = b.read.campaignRecord(r.rec.Name)
	return err
}

// policyUpdateShown records in shown, for one of the bot's own comments
// on the policy task (raw, transaction t), the findings it listed if it
// is a policy update: its marker names the op, whose intent recorded the
// labels before it was posted. shown stays nil for a record that has no
// Shown yet (PolicyTask.ShownBefore then uses Said).
func (b *reader) policyUpdateShown(campaign string, t conduit.Transaction, raw string, shown *map[string]int) error {
	if *shown == nil {
		return nil
	}
	for line := range strings.Lines(raw) {
		key, ok := parseMarker(line, campaign)
		if !ok || !key.hasPrefix(policyPrefix+"update-") {
			continue
		}
		op, err := b.opByKey(campaign, key)
		if errors.Is(err, state.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		for l := range strings.SplitSeq(op.Args[argLabels], ",") {
			if _, ok := (*shown)[l]; l != "" && !ok {
				(*shown)[l] = t.ID
			}
		}
	}
	return nil
}

// recordShown merges shown into the policy task's record.
func recordShown(pt *state.PolicyTask, shown map[string]int) {
	if shown == nil {
		return
	}
	if pt.Shown == nil {
		pt.Shown = map[string]int{}
	}
	for l, id := range shown {
		if _, ok := pt.Shown[l]; !ok {
			pt.Shown[l] = id
		}
	}
}

// decideFixCommands decides each "!fix" read, in order, and moves the
// cursor past the last transaction read (in the last intent); shown is
// where each finding was first listed on the task, as read up to last.
// Pure.
func decideFixCommands(v *view, cmds []fixCommand, last int, shown map[string]int) []intent {
	rec := v.rec()
	var out []intent
	counted := map[string][]string{} // label: approvers counted in this batch
	pt := *rec.PolicyTask
	pt.Shown = shown
	for _, c := range cmds {
		approval, answer, kind, why := decideFix(v, &pt, c, counted)
		who := v.users[c.tx.AuthorPHID].Username
		label := c.label
		e := state.Entry{Kind: kind, Actor: who, Task: rec.PolicyTask.Monogram(), Group: label, Detail: "!fix " + label + ": " + why}
		if approval != nil {
			e.ActorKind, e.Verified = state.ActorUser, "member of #"+rec.ApproversSlug+" checked over Conduit"
			e.Approvers = []string{who}
		}
		text := fmt.Sprintf("`%s`: !fix %s: %s", who, label, answer)
		out = append(out, intent{entry: e, change: func(tx *state.CampaignTx, _ outcomeOf) error {
			cur := tx.Campaign()
			if cur.PolicyTask == nil || cur.PolicyTask.TxCursor >= c.tx.ID {
				return nil // recorded before a crash
			}
			cur.PolicyTask.TxCursor = c.tx.ID
			cur.PolicyTask.Answers = append(cur.PolicyTask.Answers, text)
			recordShown(cur.PolicyTask, shown)
			if approval != nil {
				for i := range cur.Policies {
					if f := &cur.Policies[i]; f.Label() == label && f.Open() && !f.ApprovedBy(approval.ApproverPHID) {
						f.Approvals = append(f.Approvals, *approval)
					}
				}
			}
			return tx.PutCampaign(cur)
		}, said: said{ev{kind: string(kind), task: rec.PolicyTask.Monogram(), user: who}, "!fix " + label + " by @" + who + ": " + why}})
	}
	out = append(out, intent{unjournaled: true, change: func(tx *state.CampaignTx, _ outcomeOf) error {
		cur := tx.Campaign()
		if cur.PolicyTask == nil || cur.PolicyTask.TxCursor >= last {
			return nil
		}
		cur.PolicyTask.TxCursor = last
		recordShown(cur.PolicyTask, shown)
		return tx.PutCampaign(cur)
	}})
	return out
}

// decideFix decides one "!fix": the approval it records (nil when
// refused), the answer, the journal kind and why.
func decideFix(v *view, pt *state.PolicyTask, c fixCommand, counted map[string][]string) (*state.Approval, string, state.EntryKind, string) {
	rec := v.rec()
	refuse := func(why string) (*state.Approval, string, state.EntryKind, string) {
		return nil, "not counted: " + why, state.EntryCommandRefused, why
	}
	if !v.mayDecide(c.tx.AuthorPHID) {
		return refuse("only enabled members of #" + rec.ApproversSlug + " may give commands")
	}
	f, ok := rec.PolicyByLabel(c.label)
	switch {
	case !ok:
		return refuse(c.label + " is no policy finding of this campaign")
	case !f.Open():
		return refuse(c.label + " is closed")
	case !pt.ShownBefore(c.label, c.tx.ID):
		return refuse(c.label + " was not listed on this task before your comment; read what it is, then ask again")
	case !policyFixable(f):
		return refuse(c.label + " is not something the bot can fix itself; fix it by hand")
	case f.ApprovedBy(c.tx.AuthorPHID) || slices.Contains(counted[c.label], c.tx.AuthorPHID):
		return refuse(fmt.Sprintf("you already asked to fix %s; it needs %d distinct approvers", c.label, f.RequiredApprovals))
	}
	counted[c.label] = append(counted[c.label], c.tx.AuthorPHID)
	u := v.users[c.tx.AuthorPHID]
	bt := state.Batch{TaskPHID: rec.PolicyTask.TaskPHID, TaskID: rec.PolicyTask.TaskID}
	a := &state.Approval{ApproverPHID: u.PHID, Username: u.Username, At: v.now, Via: bt.Monogram(),
		Verified: taskVerified(bt, c.tx), Source: sourceOf(bt, c.tx)}
	got := len(f.Approvals) + len(counted[c.label])
	why := fmt.Sprintf("approval %d of %d recorded to set the %s policy of %s to %s", got, f.RequiredApprovals, f.Check, f.Object, f.Safe)
	return a, why, state.EntryApprovalRecorded, why
}

// policyFixable reports whether the bot may set f's safe value itself: a
// group's join or edit policy, a task's view policy. Custom policies,
// members, a group's view and a task's edit policy are for people.
func policyFixable(f state.PolicyFinding) bool {
	switch f.Check {
	case state.PolicyJoin, state.PolicyEdit, state.PolicyTaskView:
		return f.Fixable()
	}
	return false
}

// stillFixes reports whether a comment's current text still says "!fix
// label".
func stillFixes(text string, ok bool, label string) bool {
	if !ok {
		return false
	}
	rep := replies.Parse(text)
	return rep.Kind == replies.KindFix && rep.Target == label
}

// carryOutFixes sets the safe value of each open finding whose approvals
// reach its quorum, once they are verified again now: the approvers
// still enabled members of the approvers' project, their comments still
// "!fix" the finding.
func (b *Bot) carryOutFixes(ctx context.Context, r *run) error {
	for _, f := range openPolicies(&r.rec) {
		if !policyFixable(f) || len(f.Approvals) < f.RequiredApprovals || f.RequiredApprovals == 0 {
			continue
		}
		snap, err := b.store.Snapshot(r.rec.Name)
		if err != nil {
			return err
		}
		n := approvalNeeds(f.Approvals)
		n.fresh = true
		v, err := b.read.observe(ctx, r, snap, n)
		if err != nil {
			return fmt.Errorf("verify the approvals of %s: %w", f.Label(), err)
		}
		in := decidePolicyFix(v, f)
		if _, err := b.exec.apply(ctx, r.rec.Name, in); err != nil {
			return err
		}
		r.say(in.said)
		if r.rec, err = b.read.campaignRecord(r.rec.Name); err != nil {
			return err
		}
	}
	return nil
}

// decidePolicyFix is the fix of f once its approvals are verified again:
// the write that sets the safe value, or, when approvals lapsed or were
// edited away, a state change that drops them. Pure.
func decidePolicyFix(v *view, f state.PolicyFinding) intent {
	rec := v.rec()
	active, lapsed := v.splitLapsed(f.Approvals)
	kept, gone := v.standing(active, func(text string, ok bool) bool { return stillFixes(text, ok, f.Label()) })
	if dropped := append(lapsed, gone...); len(dropped) > 0 {
		var who []string
		for _, a := range dropped {
			who = append(who, a.ApproverPHID)
		}
		note := fmt.Sprintf("%s: %s no longer count (not an enabled approver any more, or the comment no longer says !fix %s)", f.Label(), approverNames(dropped), f.Label())
		return intent{entry: state.Entry{Kind: state.EntryApprovalWithdrawn, Actor: rec.BotUsername, Group: f.Label(), Detail: note},
			change: updatePolicy(f.Key, f.Value, func(p *state.PolicyFinding) {
				p.Approvals = slices.DeleteFunc(p.Approvals, func(a state.Approval) bool { return slices.Contains(who, a.ApproverPHID) })
			}),
			said: said{ev{kind: string(state.EntryApprovalWithdrawn)}, note}}
	}
	return fixIntent(rec, f, approvalNames(kept), v.now)
}

// fixIntent sets f's safe value, approved by names. Pure.
func fixIntent(rec *state.Campaign, f state.PolicyFinding, names []string, now time.Time) intent {
	w, landed := policyWrite(f)
	return intent{key: policyFixKey(f.Label()), kind: state.OpPolicyFixed, write: w, landed: landed,
		failed: func(err error) error {
			// Phorge refuses a policy the bot may not set (it cannot
			// edit the object, or the value would shut it out, NOTES
			// facts 58 and 59): the next tick tries again, and a person
			// may set it meanwhile, which closes the finding.
			return fmt.Errorf("%s: Phabricator refused to set the %s policy of %s to %s; someone who may edit it must set it by hand: %w", f.Label(), f.Check, f.Object, f.Safe, err)
		},
		subjects: []string{f.ObjectPHID},
		entry: state.Entry{Actor: rec.BotUsername, Group: f.Object, Approvers: names,
			Detail: fmt.Sprintf("%s: %s policy of %s set from %s to %s", f.Label(), f.Check, f.Object, f.Value, f.Safe)},
		change: updatePolicy(f.Key, f.Value, func(p *state.PolicyFinding) {
			p.ClosedAt, p.FixedBy = now, names
		}),
		said: said{ev{kind: string(state.EntryPolicyFixed)}, fmt.Sprintf("fixed %s: %s policy of %s set to %s, approved by @%s", f.Label(), f.Check, f.Object, f.Safe, strings.Join(names, ", @"))},
	}
}

// policyWrite is the write that sets f's safe value, and how to tell
// after a crash that it landed: the object's policy is the safe value.
func policyWrite(f state.PolicyFinding) (write, landedCheck) {
	if f.Check == state.PolicyTaskView {
		return editTask{task: f.ObjectPHID, edits: []conduit.Edit{{Type: "view", Value: f.Safe}}},
			landedCheck{task: f.ObjectPHID, taskIs: func(t conduit.Task, _ []string) bool { return t.ViewPolicy == f.Safe }}
	}
	which := string(f.Check)
	return editPolicy{project: f.ObjectPHID, which: which, value: f.Safe},
		landedCheck{project: f.ObjectPHID, projectIs: func(p conduit.Project) bool {
			if which == "join" {
				return p.Policy.Join == f.Safe
			}
			return p.Policy.Edit == f.Safe
		}}
}

// settleFixes finishes the fixes started by an earlier tick, before the
// policies are read again (else a fix that landed and lost its answer
// would look like a policy someone else fixed). The fix of an open
// finding is finished as it was recorded, its approvals verified then:
// found landed it is recorded, else sent again. The pending fix of a
// finding that closed meanwhile is never sent again.
func (b *Bot) settleFixes(ctx context.Context, r *run) error {
	snap, err := b.store.Snapshot(r.rec.Name)
	if err != nil {
		return err
	}
	for _, f := range r.rec.Policies {
		if !slices.ContainsFunc(snap.Ops, func(op state.Op) bool {
			return op.Key == string(policyFixKey(f.Label())) && op.State == state.OpPending
		}) {
			continue
		}
		in := decideDropFix(&r.rec, f)
		if f.Open() {
			var send bool
			if in, send, err = b.settleOpenFix(ctx, r, f); err != nil {
				return err
			} else if !send {
				continue
			}
		}
		sent, err := b.exec.apply(ctx, r.rec.Name, in)
		if err != nil {
			return err
		}
		if sent && in.write != nil {
			// The groups as read earlier in the tick are from before
			// this write: the policy audit reads them again.
			r.members = nil
		}
		r.say(in.said)
	}
	if len(snap.Ops) > 0 {
		r.rec, err = b.read.campaignRecord(r.rec.Name)
	}
	return err
}

// settleOpenFix is how the pending fix of open finding f is settled: as
// landed if the policy is the safe value now; sent again if it is still
// the value the approvers were shown and their approvals, verified again
// now, still stand (send false otherwise: the op stays pending, and
// carryOutFixes drops the lapsed approvals and waits for the quorum);
// else dropped: a value a person set meanwhile (asked to when
// Phabricator refused the bot) is theirs, and is not overwritten.
func (b *Bot) settleOpenFix(ctx context.Context, r *run, f state.PolicyFinding) (in intent, send bool, err error) {
	cur, err := b.read.policyValue(ctx, f)
	if err != nil {
		return in, false, fmt.Errorf("read the %s policy of %s: %w", f.Check, f.Object, err)
	}
	switch cur {
	case f.Safe:
		return fixIntent(&r.rec, f, approvalNames(f.Approvals), b.read.now().UTC()), true, nil
	case f.Value:
		if len(f.Approvals) < f.RequiredApprovals || f.RequiredApprovals == 0 {
			return in, false, nil
		}
		snap, err := b.store.Snapshot(r.rec.Name)
		if err != nil {
			return in, false, err
		}
		n := approvalNeeds(f.Approvals)
		n.fresh = true
		v, err := b.read.observe(ctx, r, snap, n)
		if err != nil {
			return in, false, fmt.Errorf("verify the approvals of %s: %w", f.Label(), err)
		}
		in = decidePolicyFix(v, f)
		return in, in.key != "", nil
	}
	in = decideDropFix(&r.rec, f)
	in.entry.Detail = fmt.Sprintf("%s: the fix is no longer wanted: the %s policy of %s was set to %s meanwhile, not by the bot", f.Label(), f.Check, f.Object, cur)
	return in, true, nil
}

// approvalNames are the approvers' usernames.
func approvalNames(as []state.Approval) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Username)
	}
	return out
}

// decideDropFix is the pending fix of closed finding f, settled without
// sending it again. Pure.
func decideDropFix(rec *state.Campaign, f state.PolicyFinding) intent {
	w, landed := policyWrite(f)
	return intent{key: policyFixKey(f.Label()), kind: state.OpPolicyFixed, write: w, landed: landed,
		recheck: func(context.Context) (write, error) { return nil, nil },
		entry: state.Entry{Kind: state.EntryWriteDropped, Actor: rec.BotUsername, Group: f.Object,
			Detail: fmt.Sprintf("%s: the fix is no longer wanted: the finding closed (the %s policy of %s changed meanwhile)", f.Label(), f.Check, f.Object)}}
}

// policyValue reads the current value of finding f's policy; "" when the
// bot can no longer see the object (nothing is then sent).
func (b *reader) policyValue(ctx context.Context, f state.PolicyFinding) (string, error) {
	if f.Check == state.PolicyTaskView {
		ts, err := b.conn.SearchTasks(ctx, conduit.TaskQuery{PHIDs: []string{f.ObjectPHID}})
		if err != nil || len(ts) != 1 {
			return "", err
		}
		return ts[0].ViewPolicy, nil
	}
	ps, err := b.conn.ProjectsByPHID(ctx, []string{f.ObjectPHID}, false)
	if err != nil || len(ps) != 1 {
		return "", err
	}
	if f.Check == state.PolicyJoin {
		return ps[0].Policy.Join, nil
	}
	return ps[0].Policy.Edit, nil
}
