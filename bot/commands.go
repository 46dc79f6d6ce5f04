package bot

// The approvers' commands, given in comments on a campaign's tasks:
// "!approve" and "!deny" (a removal batch), "!approve @user" and "!deny
// @user" (an exemption, or a restore the user asked for), "!restore
// @user", "!keep @user". Each is a rule in the commands table: what it
// reads, and what it decides. A command counts only from a current,
// enabled member of the approvers' project, checked over Conduit.

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/bot/replies"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// A command is the rule for one approvers' command: what it reads beyond
// the commenter and the approvers' project, and what it decides once the
// commenter is known to be an approver.
type command struct {
	needs  func(snap *state.Snapshot, tn *turn) needs
	decide func(v *view, c *order) (outcome, error)
}

// commandKey picks a command: its kind, and whether it names a user.
type commandKey struct {
	kind   replies.Kind
	target bool
}

// commands is the table of the approvers' commands. "!restore" and
// "!keep" without a user are no commands at all (replies.Parse reads them
// as free text), so they have no entry.
var commands = map[commandKey]command{
	{replies.KindApprove, false}: {decide: decideBatchApprove},
	{replies.KindDeny, false}:    {needs: func(*state.Snapshot, *turn) needs { return needs{members: true} }, decide: decideBatchDeny},
	{replies.KindApprove, true}:  {needs: userCommandNeeds, decide: decideUserCommand},
	{replies.KindDeny, true}:     {needs: userCommandNeeds, decide: decideUserCommand},
	{replies.KindRestore, true}:  {needs: userCommandNeeds, decide: decideUserCommand},
	{replies.KindKeepUser, true}: {needs: keepCommandNeeds, decide: decideKeepCommand},
	// "!fix P1" counts on the policy task only (policyfix.go), where the
	// finding it names is listed: on a member's task it is refused.
	{replies.KindFix, true}: {decide: decideFixElsewhere},
}

// commandFor returns the command a reply gives, if it is one.
func commandFor(rep replies.Reply) (command, bool) {
	cmd, ok := commands[commandKey{rep.Kind, rep.Target != ""}]
	return cmd, ok
}

// order is one command being decided: the turn, the approver who gave it
// (verified), and the user it names, if any.
type order struct {
	*turn
	approver conduit.User
	target   state.Finding
}

// decideCommand checks that the commenter may give commands, then
// decides the command by its rule.
func decideCommand(v *view, tn *turn, cmd command) (outcome, error) {
	approver, ok := v.users[tn.t.AuthorPHID]
	if !ok {
		return outcome{kind: state.EntryCommandRefused, detail: "unknown commenter " + tn.t.AuthorPHID}, nil
	}
	c := &order{turn: tn, approver: approver}
	if !v.isApprover(approver.PHID) || approver.IsDisabled() {
		return c.refuse(v, fmt.Sprintf("only members of #%s may give commands", v.rec().ApproversSlug))
	}
	if tn.rep.Target != "" && tn.rep.Kind != replies.KindFix {
		target, ok := v.finding(tn.rep.Target)
		if !ok {
			return c.refuse(v, fmt.Sprintf("@%s is not part of this campaign", tn.rep.Target))
		}
		c.target = target
	}
	return cmd.decide(v, c)
}

// refuse answers a command with why it was not carried out.
func (c *order) refuse(v *view, why string) (outcome, error) {
	text, err := v.words.render(templates.CommandRefused, templates.ReplyData{Campaign: v.words.campaignData(v.c, v.rec()),
		Person: templates.Person{Username: c.approver.Username, RealName: c.approver.RealName}, Reason: why})
	return outcome{kind: state.EntryCommandRefused, user: c.approver.Username, detail: c.rep.Kind.String() + ": " + why, answer: text}, err
}

// refusal refuses tn's command from its author, as known to v.
func refusal(v *view, tn *turn, why string) (outcome, error) {
	c := &order{turn: tn, approver: v.users[tn.t.AuthorPHID]}
	return c.refuse(v, why)
}

// reply answers a command with text name and journals kind; the two are
// named alike but are not the same thing (a text may be renamed, a kind
// not).
func (c *order) reply(v *view, name templates.Name, kind state.EntryKind, user, detail string, data templates.ReplyData, change func(*state.CampaignTx) error) (outcome, error) {
	text, err := v.words.render(name, data)
	return outcome{kind: kind, user: user, detail: detail, answer: text, change: change,
		actor: c.approver.Username, verified: "member of #" + v.rec().ApproversSlug + " checked over Conduit", approvers: []string{c.approver.Username}}, err
}

// data is what every answer to the command shows: the campaign, the
// approver and, for a command about a user, that user.
func (c *order) data(v *view) templates.ReplyData {
	d := templates.ReplyData{Campaign: v.words.campaignData(v.c, v.rec()), Approver: templates.Person{Username: c.approver.Username, RealName: c.approver.RealName}}
	if c.rep.Target != "" {
		t := &c.target
		d.Campaign = v.words.userCampaignData(v.c, v.rec(), t)
		d.Person, d.Groups, d.Reasons = person(t), groupNames(v.rec(), t.Groups), t.Reasons
	}
	return d
}

// approval is the approval the command gives, as recorded.
func (c *order) approval(v *view) state.Approval {
	return state.Approval{ApproverPHID: c.approver.PHID, Username: c.approver.Username, At: v.now, Via: c.bt.Monogram(),
		Verified: taskVerified(c.bt, c.t), Source: sourceOf(c.bt, c.t)}
}

// announcedBatch is the removal batch that the bot announced on this
// task last before the command, if it is among open: one announced after
// it (and read late) was not what the approver saw.
//
// A bare command answers the announcement right above it, so it is
// about the batch announced last before it, open or not: when that one
// was decided meanwhile, the command is refused (why says so), never
// moved to an older batch the approver did not answer.
func announcedBatch(c *order, all, open []state.Removal, decided string) (rm state.Removal, found bool, why string) {
	at := 0
	for _, w := range all {
		if id, ok := c.bt.Announced[w.Label()]; ok && id < c.t.ID && id >= at {
			rm, found, at = w, true, id
		}
	}
	if found && !slices.ContainsFunc(open, func(o state.Removal) bool { return o.ID == rm.ID }) {
		return rm, false, fmt.Sprintf("%s, the removal batch announced last on this task before your comment, %s; your comment is not counted for another batch", rm.Label(), decided)
	}
	return rm, found, ""
}

// decideFixElsewhere refuses "!fix" given on a task that does not list
// policy findings: an approval covers only what its approver was shown.
func decideFixElsewhere(v *view, c *order) (outcome, error) {
	where := "the campaign's policy task"
	if pt := v.rec().PolicyTask; pt != nil {
		where = pt.Monogram()
	}
	return c.refuse(v, fmt.Sprintf("!fix %s counts only on %s, which lists the policy findings", c.rep.Target, where))
}

// decideBatchApprove records "!approve" for the removal batch announced
// on this task: it covers what that task's announcement showed, the
// batch's items of this task only.
func decideBatchApprove(v *view, c *order) (outcome, error) {
	rm, ok, why := announcedBatch(c, v.snap.Removals, removalsWith(v.snap.Removals, state.RemovalProposed), "waits for no approval any more")
	switch {
	case why != "":
		return c.refuse(v, why)
	case !ok:
		return c.refuse(v, "no removal batch waiting for approval was announced on this task before your comment")
	}
	scope := []int{c.bt.Index}
	switch err := rm.MayApprove(c.approver.PHID, scope); {
	case err == state.ErrApproverInBatch:
		return c.refuse(v, fmt.Sprintf("you are in %s yourself, so another approver must decide on it", rm.Label()))
	case err == state.ErrAlreadyApproved:
		return c.refuse(v, fmt.Sprintf("you already approved %s on this task; it needs %d distinct approvers", rm.Label(), rm.RequiredApprovals))
	case err != nil:
		return c.refuse(v, fmt.Sprintf("%s is %s, not waiting for approval", rm.Label(), rm.Status))
	}
	data := c.data(v)
	data.Decision = fmt.Sprintf("%s (the memberships listed on this task): approval %d of %d recorded", rm.Label(), rm.ApprovalsFor(c.bt.Index)+1, rm.RequiredApprovals)
	a := c.approval(v)
	a.Scope = scope
	var recorded *state.Removal
	o, err := c.reply(v, templates.ApprovalRecorded, state.EntryApprovalRecorded, c.approver.Username, data.Decision, data, func(tx *state.CampaignTx) error {
		cur, err := tx.Removal(rm.ID)
		if err != nil {
			return err
		}
		if cur.MayApprove(a.ApproverPHID, scope) != nil {
			return nil
		}
		cur.Approve(a)
		recorded = &cur
		return tx.PutRemoval(&cur)
	})
	o.sayLater = func() said {
		if recorded == nil {
			return said{}
		}
		return said{ev{kind: "approval-recorded", task: a.Via, user: a.Username}, fmt.Sprintf("%s approved by @%s on %s for its memberships there (%d of %d)",
			recorded.Label(), a.Username, a.Via, recorded.ApprovalsFor(c.bt.Index), recorded.RequiredApprovals)}
	}
	return o, err
}

// decideBatchDeny records "!deny" for the removal batch announced on this
// task last before it. A !deny rejects any announced batch that has not
// started removing: one waiting for approval, and one approved that has
// not run yet (held by the guard-rail, or refused by Phabricator).
// Refusing is always safe; an objection raised before anything is
// removed must not be outrun by the approvals.
func decideBatchDeny(v *view, c *order) (outcome, error) {
	open := removalsWith(v.snap.Removals, state.RemovalProposed)
	for _, w := range removalsWith(v.snap.Removals, state.RemovalApproved) {
		if !removalStarted(&v.snap, w, v.members, v.users) {
			open = append(open, w)
		}
	}
	rm, ok, why := announcedBatch(c, v.snap.Removals, open, "was decided and has started or ended")
	switch {
	case why != "":
		return c.refuse(v, why)
	case !ok:
		return c.refuse(v, "no removal batch that has not started was announced on this task before your comment")
	}
	if rm.Removes(c.approver.PHID) {
		return c.refuse(v, fmt.Sprintf("you are in %s yourself, so another approver must decide on it", rm.Label()))
	}
	data := c.data(v)
	data.Reason, data.Decision = c.rep.Reason, templates.DecisionRejected
	who, reason := c.approver.Username, c.rep.Reason
	return c.reply(v, templates.ApprovalRecorded, state.EntryApprovalRecorded, who, rm.Label()+" rejected: "+reason, data, func(tx *state.CampaignTx) error {
		cur, err := tx.Removal(rm.ID)
		if err != nil || cur.Status != rm.Status || slices.ContainsFunc(cur.Items, func(it state.RemovalItem) bool { return it.Done }) {
			return err
		}
		cur.Status, cur.RejectedBy, cur.RejectReason = state.RemovalRejected, who, reason
		return tx.PutRemoval(&cur)
	})
}

// asksRestore reports whether a command about a user asks to restore
// them: "!restore @user", or "!approve @user" of a user who asked to be
// restored.
func asksRestore(rep replies.Reply, target state.Finding) bool {
	return rep.Kind == replies.KindRestore || (rep.Kind == replies.KindApprove && target.RestoreRequested)
}

// userCommandNeeds is what "!approve @user", "!deny @user" and "!restore
// @user" read beyond the commenter: for an approval that may complete
// an exemption, the earlier approvals (approvalNeeds) and the earlier
// approvers' names. A restore reads what it needs itself, once decided.
func userCommandNeeds(snap *state.Snapshot, tn *turn) needs {
	f, ok := findingNamed(snap, tn.rep.Target)
	if !ok || asksRestore(tn.rep, f) || tn.rep.Kind != replies.KindApprove || f.Exemption == nil {
		return needs{}
	}
	if len(f.Exemption.ApprovedBy)+1 < requiredFor(&snap.Campaign, f.Groups) {
		return needs{}
	}
	return approvalNeeds(exemptionApprovals(f.Exemption))
}

// decideUserCommand decides "!approve @user", "!deny @user" and
// "!restore @user": a restore (asked for by the command, or by the user),
// else a decision on the user's exemption request.
func decideUserCommand(v *view, c *order) (outcome, error) {
	target := c.target
	switch {
	case restoredBy(&v.snap, target, c.t.PHID):
		// Read again after a crash: it was answered by the restore.
		return c.restored(v, target), nil
	case asksRestore(c.rep, target) && target.UserPHID == c.approver.PHID:
		// As for exemptions, keeps and removal batches: nobody decides
		// about their own access. With the inactive criterion the
		// command itself would even be the activity that makes them
		// compliant again.
		return c.refuse(v, fmt.Sprintf("nobody restores their own access; another approver must decide (!restore @%s)", target.Username))
	case asksRestore(c.rep, target):
		// Restoring writes memberships: the caller does it, then answers.
		o := c.restored(v, target)
		o.restore = &restoreAsk{actor: c.approver.Username, approver: c.approver.Username, command: c.t.PHID}
		return o, nil
	case target.Exemption == nil || target.Exemption.Decision != state.ExemptionPending:
		return c.refuse(v, fmt.Sprintf("@%s has no exemption request waiting for a decision", target.Username))
	case target.UserPHID == c.approver.PHID:
		return c.refuse(v, "nobody approves their own exemption")
	case target.Batch != c.bt.Index:
		// An approval covers what its approver was shown: the request,
		// and the groups, on the task that lists the user.
		return c.refuse(v, fmt.Sprintf("@%s is not listed on this task; decide on their exemption on the task that lists them", target.Username))
	}
	return decideExemption(v, c)
}

// restored is the outcome of a command that restored target: journaled
// as the approver's, verified as their commands are.
func (c *order) restored(v *view, target state.Finding) outcome {
	return outcome{kind: state.EntryRestoreCommand, user: target.Username, detail: "restored by @" + c.approver.Username,
		actor: c.approver.Username, verified: "member of #" + v.rec().ApproversSlug + " checked over Conduit", approvers: []string{c.approver.Username}}
}

// restoredBy reports whether the !restore (or !approve @user) in
// transaction command already restored f: a crash after the restore and
// before the task's cursor moved past the command reads it again, and it
// must be answered as done, not refused because the user is no longer
// removed.
func restoredBy(snap *state.Snapshot, f state.Finding, command string) bool {
	if f.Restores == 0 {
		return false
	}
	key := string(restoreKey(f.Username, f.Restores))
	return slices.ContainsFunc(snap.Ops, func(op state.Op) bool {
		return op.Key == key && op.State == state.OpDone && op.Args[argCommand] == command
	})
}

// decideExemption decides "!approve @user" or "!deny @user" on a pending
// exemption request. An exemption keeps a user in every group of theirs,
// so it needs as many distinct approvers as removing them would. Before
// it counts, the earlier approvers must still be enabled members of the
// approvers' project and their approvals must still say "!approve
// @user": one edited since is withdrawn. A denial is one approver's.
func decideExemption(v *view, c *order) (outcome, error) {
	target, now := c.target, v.now
	approval := c.approval(v)
	var withdrawn []string // approvers whose earlier approval was edited away or lapsed
	if c.rep.Kind == replies.KindApprove {
		need := requiredFor(v.rec(), target.Groups)
		if slices.Contains(target.Exemption.ApprovedBy, c.approver.PHID) {
			return c.refuse(v, fmt.Sprintf("you already approved @%s's exemption; it needs %d distinct approvers", target.Username, need))
		}
		got, note := len(target.Exemption.ApprovedBy)+1, ""
		if got >= need {
			active, lapsed := v.splitLapsed(exemptionApprovals(target.Exemption))
			_, gone := v.standing(active, func(text string, ok bool) bool { return stillApproves(text, ok, target.Username) })
			for _, a := range append(lapsed, gone...) {
				withdrawn = append(withdrawn, a.ApproverPHID)
			}
			got -= len(lapsed) + len(gone)
			if len(gone) > 0 {
				note = fmt.Sprintf("; %d earlier approval(s) withdrawn by editing their comment", len(gone))
			}
			if len(lapsed) > 0 {
				note += fmt.Sprintf("; %s no longer enabled approvers, their approval dropped", approverNames(lapsed))
			}
		}
		if got < need {
			data := c.data(v)
			data.Decision = fmt.Sprintf("exemption for @%s: approval %d of %d recorded", target.Username, got, need)
			return c.reply(v, templates.ApprovalRecorded, state.EntryApprovalRecorded, target.Username, data.Decision+note, data,
				updateFinding(target.UserPHID, func(f *state.Finding) {
					if f.Exemption == nil {
						return
					}
					dropApprovers(f.Exemption, withdrawn)
					addExemptionApproval(f, approval, now)
				}))
		}
	}
	return decideExemptionDecision(v, c, approval, withdrawn)
}

// decideExemptionDecision grants (every approval so far counts, not only
// the last one) or denies a pending exemption request.
func decideExemptionDecision(v *view, c *order, approval state.Approval, withdrawn []string) (outcome, error) {
	target, now := c.target, v.now
	decision := state.ExemptionGranted
	if c.rep.Kind == replies.KindDeny {
		decision = state.ExemptionDenied
	}
	approvers := []string{c.approver.Username}
	if decision == state.ExemptionGranted && len(target.Exemption.ApprovedBy) > 0 {
		approvers = approvers[:0]
		for _, p := range target.Exemption.ApprovedBy {
			if !slices.Contains(withdrawn, p) { // edited away or lapsed: not counted
				name := p
				if u, ok := v.users[p]; ok {
					name = u.Username
				}
				approvers = append(approvers, name)
			}
		}
		approvers = append(approvers, c.approver.Username)
	}
	data := c.data(v)
	data.Decision, data.Reason = decisionText(decision), c.rep.Reason
	if !target.Exemption.Until.IsZero() {
		data.Until = target.Exemption.Until.Format("2006-01-02")
	}
	reason, who := c.rep.Reason, c.approver.Username
	o, err := c.reply(v, templates.ExemptionDecision, state.EntryExemptionDecision, target.Username, "exemption "+string(decision)+" by @"+strings.Join(approvers, ", @"), data,
		updateFinding(target.UserPHID, func(f *state.Finding) {
			if f.Exemption == nil || f.Exemption.Decision != state.ExemptionPending {
				return
			}
			// A denial changes only this request: a grant it would have
			// replaced stays in the history, in force until its date.
			if decision == state.ExemptionGranted {
				dropApprovers(f.Exemption, withdrawn)
				addExemptionApproval(f, approval, now)
				f.Status = state.StatusExempt
			}
			f.Exemption.Decision, f.Exemption.DecidedBy, f.Exemption.Note = decision, who, reason
			f.UpdatedAt = now
		}))
	o.approvers = approvers
	return o, err
}

// exemptionApprovals are the approvals an exemption request holds, one
// per approver: a state file from before approvals were recorded in full
// names an approver in ApprovedBy alone, and that approval is checked as
// one without a comment to read again (it lapses with its approver).
func exemptionApprovals(e *state.Exemption) []state.Approval {
	out := slices.Clone(e.Approvals)
	for _, p := range e.ApprovedBy {
		if !slices.ContainsFunc(out, func(a state.Approval) bool { return a.ApproverPHID == p }) {
			out = append(out, state.Approval{ApproverPHID: p, Username: p})
		}
	}
	return out
}

// addExemptionApproval adds an approver's approval to f's exemption
// request, once.
func addExemptionApproval(f *state.Finding, a state.Approval, now time.Time) {
	if f.Exemption != nil && !slices.Contains(f.Exemption.ApprovedBy, a.ApproverPHID) {
		f.Exemption.ApprovedBy = append(f.Exemption.ApprovedBy, a.ApproverPHID)
		f.Exemption.Approvals = append(f.Exemption.Approvals, a)
		f.UpdatedAt = now
	}
}

// dropApprovers removes withdrawn approvers from an exemption's approvals.
func dropApprovers(e *state.Exemption, phids []string) {
	if len(phids) == 0 {
		return
	}
	e.ApprovedBy = slices.DeleteFunc(e.ApprovedBy, func(p string) bool { return slices.Contains(phids, p) })
	e.Approvals = slices.DeleteFunc(e.Approvals, func(a state.Approval) bool { return slices.Contains(phids, a.ApproverPHID) })
}
