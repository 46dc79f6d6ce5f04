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
// the other arg* keys in apply.go).
const argDetail = "detail"

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

// access is who may read a task that the bot did not let in, as far as
// its subscribers and assignee tell (observeAccess).
type access struct {
	// extra are the subscribers the bot did not set.
	extra []string
	// owner is the task's assignee, unless it is the bot.
	owner string
	// approvers: the approvers' project is subscribed; whether the bot
	// did that decides whether they may stay (allowApprovers).
	approvers bool
}

// needsHistory reports whether the task's history must be read: to say
// who gave access, or whether the bot subscribed the approvers.
func (a access) needsHistory() bool { return len(a.extra) > 0 || a.owner != "" || a.approvers }

// observeAccess takes the task's complete subscriber list (read by
// subscribersOf) and reads the team's members (once per tick), and finds
// who the bot did not let in.
func (b *Bot) observeAccess(ctx context.Context, r *run, tv *taskView) (access, error) {
	if err := tv.subscribersErr; err != nil {
		return access{}, fmt.Errorf("read the subscribers: %w", err)
	}
	if rec := tv.rec(); rec.TeamPHID != "" {
		if r.team == nil {
			team, _, err := b.read.projectMembers(ctx, rec.TeamPHID)
			if err != nil {
				return access{}, fmt.Errorf("read the team: %w", err)
			}
			r.team = append([]string{}, team...)
		}
		tv.team = r.team
	}
	return outsiders(tv), nil
}

// outsiders finds the subscribers and the assignee of the task that the
// bot did not let in (its audience, see taskAudience). The bot as
// assignee lets nobody in that the bot does not: closing an unassigned
// task assigns it to the closer (NOTES fact 27), and the ticks between the
// first task closed and the campaign marked closed must not undo that as
// someone else's doing.
func outsiders(tv *taskView) access {
	rec := tv.rec()
	allowed := taskAudience(rec, tv.bt, tv.team)
	var a access
	for _, s := range tv.subscribers {
		switch {
		case allowed[s]:
		case s == rec.ApproversPHID && rec.ApproversPHID != "":
			a.approvers = true
		default:
			a.extra = append(a.extra, s)
		}
	}
	if tv.task.OwnerPHID != rec.BotPHID {
		a.owner = tv.task.OwnerPHID
	}
	return a
}

// taskAudience is who the bot lets see bt's task, by PHID, apart from
// the approvers: the batch's users, the bot, and the team project and its
// members.
func taskAudience(rec *state.Campaign, bt state.Batch, team []string) map[string]bool {
	out := map[string]bool{rec.BotPHID: true}
	for _, u := range bt.UserPHIDs {
		out[u] = true
	}
	if rec.TeamPHID != "" {
		out[rec.TeamPHID] = true
		for _, u := range team {
			out[u] = true
		}
	}
	return out
}

// revokeAccess takes back the access a found, exactly once per change:
// it reads the approvers (when subscribed) and names the people, then
// decides and applies. With nobody to take back, it confirms a revoke
// whose answer was lost.
func (b *Bot) revokeAccess(ctx context.Context, r *run, tv *taskView, a access) error {
	if a.approvers {
		members, err := b.read.approverMembers(ctx, r)
		if err != nil {
			return err
		}
		tv.approvers = members
		a = allowApprovers(tv, a)
	}
	if len(a.extra) == 0 && a.owner == "" {
		return b.exec.applyAll(ctx, r, revokesLanded(tv))
	}
	changes, _ := accessChanges(tv, a)
	var phids []string
	for _, c := range changes {
		phids = append(phids, c.by, c.whom)
	}
	phids = append(append(phids, a.extra...), a.owner)
	names, err := b.read.phidNames(ctx, phids)
	if err != nil {
		return err
	}
	tv.names = names
	in := decideRevoke(tv, a)
	b.log.Warn().Str("campaign", tv.c.Name).Str("task", tv.bt.Monogram()).Strs("changed_by", in.subjects).Str("revoke", in.args[argDetail]).Msg("someone else gave access to an audit task")
	return b.exec.applyAll(ctx, r, []intent{in})
}

// allowApprovers decides whether the subscribed approvers' project and
// its members may read the task: when the bot asked them for a decision.
// That is known from the state (the history's last "add" may be an
// admin's re-adding them), and from the history for states from before.
// Otherwise the project is unsubscribed too.
func allowApprovers(tv *taskView, a access) access {
	rec := tv.rec()
	if tv.bt.ApproversSubscribed || approversAtLaunch(tv.c) || subscribedBy(tv.history, rec.ApproversPHID) == rec.BotPHID {
		a.extra = slices.DeleteFunc(slices.Clone(a.extra), func(p string) bool { return slices.Contains(tv.approvers, p) })
	} else {
		a.extra = append(slices.Clone(a.extra), rec.ApproversPHID)
	}
	return a
}

// accessChange is one change that gave access: who did what to whom.
type accessChange struct{ by, whom, how string }

// accessChanges reads, from the task's history, who gave the access a
// found, and the newest such transaction, which names the revoke.
func accessChanges(tv *taskView, a access) ([]accessChange, int) {
	last := 0
	var changes []accessChange
	for _, x := range tv.history {
		switch x.Type {
		case xactSubscribers:
			for _, op := range x.Operations {
				if op.Operation == "add" && slices.Contains(a.extra, op.PHID) && x.AuthorPHID != tv.rec().BotPHID {
					last = x.ID
					changes = append(changes, accessChange{x.AuthorPHID, op.PHID, "subscribed"})
				}
			}
		case xactOwner:
			var owner string
			if json.Unmarshal(x.New, &owner) == nil && owner != "" && owner == a.owner {
				last = x.ID
				changes = append(changes, accessChange{x.AuthorPHID, owner, "assigned the task to"})
			}
		}
	}
	if last == 0 {
		// No transaction names the change: key the revoke by the newest
		// transaction instead, so that a later untraceable change gets a
		// key of its own and is never taken for this one, already done.
		last = newestID(tv.history)
	}
	return changes, last
}

// decideRevoke is the edit that takes back the access a found, once for
// the newest change that gave it, journaled with who did what (named by
// tv.names).
func decideRevoke(tv *taskView, a access) intent {
	changes, last := accessChanges(tv, a)
	name := func(p string) string { return tv.names[p] }
	var what, by []string
	for _, c := range changes {
		what = append(what, fmt.Sprintf("%s %s %s", name(c.by), c.how, name(c.whom)))
		if !slices.Contains(by, name(c.by)) {
			by = append(by, name(c.by))
		}
	}
	var undo []string
	for _, p := range a.extra {
		undo = append(undo, "unsubscribed "+name(p))
	}
	if a.owner != "" {
		undo = append(undo, "unassigned "+name(a.owner))
	}
	if len(what) == 0 {
		what = []string{"access given by someone unknown"}
	}
	detail := fmt.Sprintf("%s; %s", strings.Join(what, ", "), strings.Join(undo, ", "))
	// Phorge subscribes a task's previous owner when it is reassigned
	// (seen on the lab: the unassignment's own transactions subscribe
	// them): an owner who may not read the task is unsubscribed too.
	ownerOutsider := a.owner != "" && !taskAudience(tv.rec(), tv.bt, tv.team)[a.owner]
	return revokeIntent(tv, accessRevokeKey(tv.bt.Index, last), a.extra, a.owner, ownerOutsider, detail, by)
}

// revokesLanded confirms the revokes of access to the task whose answer
// was lost, now that nobody is left to take back: each landed.
func revokesLanded(tv *taskView) []intent {
	var ins []intent
	for _, op := range tv.snap.Ops {
		if op.Kind == state.OpAccessRevoked && op.State == state.OpPending && OpKey(op.Key).hasPrefix(accessRevokePrefix(tv.bt.Index)) {
			ins = append(ins, revokeIntent(tv, OpKey(op.Key), nil, "", false, op.Args[argDetail], op.Subjects))
		}
	}
	return ins
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

// revokeIntent unsubscribes extra and unassigns owner on the task,
// exactly once for key. After a crash the revoke landed if the task has
// neither any more.
func revokeIntent(tv *taskView, key OpKey, extra []string, owner string, ownerOutsider bool, detail string, by []string) intent {
	bt := tv.bt
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
	return intent{key: key, kind: state.OpAccessRevoked,
		write: editTask{task: t, edits: edits, then: then},
		landed: landedCheck{task: t, subscribers: true, taskIs: func(got conduit.Task, subs []string) bool {
			return (owner == "" || got.OwnerPHID != owner) && !slices.ContainsFunc(extra, func(p string) bool { return slices.Contains(subs, p) }) &&
				!(ownerOutsider && slices.Contains(subs, owner))
		}},
		failed:   func(err error) error { return fmt.Errorf("take back access (%s): %w", detail, err) },
		result:   bt.Monogram(),
		entry:    state.Entry{Actor: tv.rec().BotUsername, Task: bt.Monogram(), Detail: detail},
		subjects: by,
		args:     map[string]string{argDetail: detail},
		said:     said{ev{kind: "access-revoked", task: bt.Monogram()}, fmt.Sprintf("%s: %s", bt.Monogram(), detail)},
	}
}

// newestID is the id of the newest transaction in txs (0 for none).
func newestID(txs []conduit.Transaction) int {
	n := 0
	for _, x := range txs {
		n = max(n, x.ID)
	}
	return n
}
