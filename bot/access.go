package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// Conduit's transaction types for who a task is shown to.
const (
	xactSubscribers = "subscribers"
	xactOwner       = "owner"
)

// argDetail is what an access revoke found and undid, for status (see
// the other arg* keys in once.go).
const argDetail = "detail"

// checkAccess takes back access to bt's task that the bot did not give.
// With view policy "subscribers", who can read a task depends on who is
// subscribed (members of a subscribed project count too) and on the
// assignee ("The assignee of a task can always view and edit it"), not
// only on the policies: and in Phorge anyone who can see a task may
// subscribe others (adding subscribers needs CAN_INTERACT, which for a
// task is its view policy). So every subscriber must be one the bot set:
// the batch's users, the bot, the team project and its members, and the
// approvers' project and its members once the bot subscribed it for a
// decision. Anyone else is unsubscribed, an assignee unassigned, exactly
// once per change; the journal names who added whom, and status flags it
// for a human, since they may have read the task meanwhile.
func (b *Bot) checkAccess(ctx context.Context, r *run, snap *state.Snapshot, bt state.Batch, t conduit.Task) error {
	subs, err := b.subscribers(ctx, t)
	if err != nil {
		return fmt.Errorf("read the subscribers: %w", err)
	}
	allowed, err := b.taskAudience(ctx, r, bt)
	if err != nil {
		return err
	}
	var extra []string
	needApprovers := false
	for _, s := range subs {
		switch {
		case allowed[s]:
		case s == r.rec.ApproversPHID && r.rec.ApproversPHID != "":
			needApprovers = true
		default:
			extra = append(extra, s)
		}
	}
	// The bot as assignee lets nobody in that the bot does not: closing
	// an unassigned task assigns it to the closer (NOTES fact 27), and
	// the ticks between the first task closed and the campaign marked
	// closed must not undo that as someone else's doing.
	if t.OwnerPHID == r.rec.BotPHID {
		t.OwnerPHID = ""
	}
	var txs []conduit.Transaction
	if len(extra) > 0 || t.OwnerPHID != "" || needApprovers {
		if txs, err = b.history(ctx, t.PHID, 0); err != nil {
			return fmt.Errorf("read who changed the subscribers: %w", err)
		}
	}
	if needApprovers {
		members, err := b.approverMembers(ctx, r)
		if err != nil {
			return err
		}
		if bt.ApproversSubscribed || approversAtLaunch(r.c) || subscribedBy(txs, r.rec.ApproversPHID) == r.rec.BotPHID {
			// The bot asked them for a decision: they may read it. Known
			// from the state (the history's last "add" may be an admin's
			// re-adding them); the history for states from before.
			extra = slices.DeleteFunc(extra, func(p string) bool { return slices.Contains(members, p) })
		} else {
			extra = append(extra, r.rec.ApproversPHID)
		}
	}
	if len(extra) == 0 && t.OwnerPHID == "" {
		// A revoke whose answer was lost landed: record it.
		for _, op := range snap.Ops {
			if op.Kind == state.OpAccessRevoked && op.State == state.OpPending && OpKey(op.Key).hasPrefix(accessRevokePrefix(bt.Index)) {
				if err := b.revokeOnce(ctx, r, bt, OpKey(op.Key), nil, "", false, op.Args[argDetail], op.Subjects); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// Who added whom, from the task's history; the newest such change
	// names the op.
	last := 0
	type change struct{ by, whom, how string }
	var changes []change
	for _, x := range txs {
		switch x.Type {
		case xactSubscribers:
			for _, op := range x.Operations {
				if op.Operation == "add" && slices.Contains(extra, op.PHID) && x.AuthorPHID != r.rec.BotPHID {
					last = x.ID
					changes = append(changes, change{x.AuthorPHID, op.PHID, "subscribed"})
				}
			}
		case xactOwner:
			var owner string
			if json.Unmarshal(x.New, &owner) == nil && owner != "" && owner == t.OwnerPHID {
				last = x.ID
				changes = append(changes, change{x.AuthorPHID, owner, "assigned the task to"})
			}
		}
	}
	if last == 0 {
		// No transaction names the change: key the revoke by the newest
		// transaction instead, so that a later untraceable change gets a
		// key of its own and is never taken for this one, already done.
		last = newestID(txs)
	}
	var phids []string
	for _, c := range changes {
		phids = append(phids, c.by, c.whom)
	}
	phids = append(phids, extra...)
	phids = append(phids, t.OwnerPHID)
	names, err := b.phidNames(ctx, phids)
	if err != nil {
		return err
	}
	var what, by []string
	for _, c := range changes {
		what = append(what, fmt.Sprintf("%s %s %s", names[c.by], c.how, names[c.whom]))
		if !slices.Contains(by, names[c.by]) {
			by = append(by, names[c.by])
		}
	}
	var undo []string
	for _, p := range extra {
		undo = append(undo, "unsubscribed "+names[p])
	}
	if t.OwnerPHID != "" {
		undo = append(undo, "unassigned "+names[t.OwnerPHID])
	}
	if len(what) == 0 {
		what = []string{"access given by someone unknown"}
	}
	detail := fmt.Sprintf("%s; %s", strings.Join(what, ", "), strings.Join(undo, ", "))
	b.log.Warn().Str("campaign", r.c.Name).Str("task", bt.Monogram()).Strs("changed_by", by).Str("revoke", strings.Join(undo, ", ")).Msg("someone else gave access to an audit task")
	// Phorge subscribes a task's previous owner when it is reassigned
	// (seen on the lab: the unassignment's own transactions subscribe
	// them): an owner who may not read the task is unsubscribed too.
	ownerOutsider := t.OwnerPHID != "" && !allowed[t.OwnerPHID]
	return b.revokeOnce(ctx, r, bt, accessRevokeKey(bt.Index, last), extra, t.OwnerPHID, ownerOutsider, detail, by)
}

// subscribedBy returns who last subscribed phid to the task, by its
// transactions; "" when no transaction adds it.
func subscribedBy(txs []conduit.Transaction, phid string) string {
	by := ""
	for _, x := range txs {
		if x.Type != xactSubscribers {
			continue
		}
		for _, op := range x.Operations {
			if op.PHID == phid {
				if op.Operation == "add" {
					by = x.AuthorPHID
				} else {
					by = ""
				}
			}
		}
	}
	return by
}

// taskAudience is who the bot lets see bt's task, by PHID, apart from
// the approvers (see checkAccess): the batch's users, the bot, and the
// team project and its members.
func (b *Bot) taskAudience(ctx context.Context, r *run, bt state.Batch) (map[string]bool, error) {
	out := map[string]bool{r.rec.BotPHID: true}
	for _, u := range bt.UserPHIDs {
		out[u] = true
	}
	if r.rec.TeamPHID != "" {
		out[r.rec.TeamPHID] = true
		if r.team == nil {
			team, _, err := b.projectMembers(ctx, r.rec.TeamPHID)
			if err != nil {
				return nil, fmt.Errorf("read the team: %w", err)
			}
			r.team = append([]string{}, team...)
		}
		for _, u := range r.team {
			out[u] = true
		}
	}
	return out, nil
}

// revokeOnce unsubscribes extra and unassigns owner on bt's task, exactly
// once for key. After a crash the revoke landed if the task has neither
// any more.
func (b *Bot) revokeOnce(ctx context.Context, r *run, bt state.Batch, key OpKey, extra []string, owner string, ownerOutsider bool, detail string, by []string) error {
	t := bt.TaskPHID
	var edits, then []conduit.Edit
	if len(extra) > 0 {
		edits = append(edits, conduit.Edit{Type: "subscribers.remove", Value: extra})
	}
	if owner != "" {
		edits = append(edits, conduit.Edit{Type: "owner", Value: nil})
	}
	if ownerOutsider {
		// A second edit: the unassignment above is what subscribes the
		// previous owner. Both edits are safe to repeat, and reconcile
		// checks both, so a crash between them is finished by the next
		// run.
		then = []conduit.Edit{{Type: "subscribers.remove", Value: []string{owner}}}
	}
	done, err := b.apply(ctx, r.c.Name, intent{key: key, kind: state.OpAccessRevoked,
		write: editTask{task: t, edits: edits, then: then},
		landed: landedCheck{task: t, subscribers: true, taskIs: func(got conduit.Task, subs []string) bool {
			return (owner == "" || got.OwnerPHID != owner) && !slices.ContainsFunc(extra, func(p string) bool { return slices.Contains(subs, p) }) &&
				!(ownerOutsider && slices.Contains(subs, owner))
		}},
		failed:   func(err error) error { return fmt.Errorf("take back access (%s): %w", detail, err) },
		result:   bt.Monogram(),
		entry:    state.Entry{Actor: r.rec.BotUsername, Task: bt.Monogram(), Detail: detail},
		subjects: by,
		args:     map[string]string{argDetail: detail},
	})
	if done {
		r.eventOf(ev{kind: "access-revoked", task: bt.Monogram()}, "%s: %s", bt.Monogram(), detail)
	}
	return err
}

// newestID is the id of the newest transaction in txs (0 for none).
func newestID(txs []conduit.Transaction) int {
	n := 0
	for _, x := range txs {
		n = max(n, x.ID)
	}
	return n
}
