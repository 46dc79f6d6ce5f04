package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/auditbot/auditbot/bot/replies"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// choreReplies reads each task's new transactions from the stored cursor
// and answers them, all the answers of one task in one comment (answers.go).
// The cursor moves past a transaction only in the same bbolt transaction
// that records its outcome and adds its answer to that comment's recorded
// text, so a crash loses no reply and repeats no answer.
func (b *Bot) choreReplies(ctx context.Context, r *run) error {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	pending := pendingAnswers(snap.Ops)
	var errs []error
	for _, bt := range snap.Batches {
		if bt.TaskPHID == "" {
			continue
		}
		if err := b.answerTask(ctx, r, bt, pending[bt.Index]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", bt.Monogram(), err))
		}
	}
	return errors.Join(errs...)
}

// answerTask handles one task's new transactions. A combined answer an
// earlier run recorded and did not confirm goes out first, exactly as
// recorded: its replies were decided then and are never decided again.
func (b *Bot) answerTask(ctx context.Context, r *run, bt state.Batch, earlier []state.Op) error {
	for _, op := range earlier {
		if err := b.postAnswer(ctx, r, bt, op); err != nil {
			// Its replies are behind the cursor already; the newer ones
			// wait so that the answers stay in order.
			return err
		}
	}
	txs, err := b.history(ctx, bt.TaskPHID, bt.TxCursor)
	if err != nil {
		return fmt.Errorf("read transactions: %w", err)
	}
	var key OpKey // the answer this tick's replies go into, once one has one
	var herr error
	for _, t := range txs {
		if err := b.handleTransaction(ctx, r, bt, t, &key); err != nil {
			// Stop this task here: the cursor stays before t, so the
			// next tick retries it.
			herr = fmt.Errorf("transaction %d: %w", t.ID, err)
			break
		}
	}
	if key == "" {
		return herr
	}
	// What was decided before a failure is answered now all the same.
	op, err := b.opByKey(r.rec.Name, key)
	if err != nil {
		return errors.Join(herr, err)
	}
	return errors.Join(herr, b.postAnswer(ctx, r, bt, op))
}

// advance moves a batch's cursor to txID inside tx.
func advance(tx *state.CampaignTx, batch, txID int) error {
	bt, err := tx.Batch(batch)
	if err != nil {
		return err
	}
	if txID > bt.TxCursor {
		bt.TxCursor = txID
	}
	return tx.PutBatch(bt)
}

// outcome is what the bot decided about one transaction: a state change
// and, optionally, an answer on the task.
type outcome struct {
	kind   state.EntryKind // journal kind, "" for none
	user   string
	detail string
	// change mutates the state; it runs in the transaction that moves the
	// cursor.
	change func(tx *state.CampaignTx) error
	// answer is the rendered comment, "" for none.
	answer string
	// actor is the approver whose command this is, verified as said;
	// approvers are everyone whose approval the decision rests on.
	actor, verified string
	approvers       []string
	// asksApprovers reports whether the answer asks the approvers for a
	// decision: the comment then subscribes their project.
	asksApprovers bool
}

// handleTransaction decides what one transaction means and records it:
// its outcome's state change, its journal entry and its answer, added to
// the task's combined answer *key (created here at the first answer), in
// the bbolt transaction that moves the cursor past it.
func (b *Bot) handleTransaction(ctx context.Context, r *run, bt state.Batch, t conduit.Transaction, key *OpKey) error {
	if legacy, err := b.opByKey(r.c.Name, replyKey(t.PHID)); err == nil && legacy.State == state.OpPending {
		// Answered one by one by an older auditbot that stopped before
		// recording it: finish it that way, so it is not answered twice.
		return b.handleLegacyReply(ctx, r, bt, t)
	} else if err != nil && !errors.Is(err, state.ErrNotFound) {
		return err
	}
	o, err := b.decide(ctx, r, bt, t)
	if err != nil {
		return err
	}
	k := *key
	if k == "" {
		k = repliesKey(bt.Index, t.ID)
	}
	now := b.now().UTC()
	err = b.store.Update(r.c.Name, func(tx *state.CampaignTx) error {
		if o.kind != "" {
			e := state.Entry{At: now, Kind: o.kind, Task: bt.Monogram(), User: o.user, Detail: o.detail,
				Actor: o.actor, Verified: o.verified, Approvers: o.approvers}
			if e.Actor == "" && o.answer != "" {
				e.Actor = r.rec.BotUsername
			}
			if err := tx.Append(e); err != nil {
				return err
			}
		}
		if o.change != nil {
			if err := o.change(tx); err != nil {
				return err
			}
		}
		if o.answer != "" {
			if err := addAnswer(tx, k, bt, t.ID, o.answer, o.asksApprovers, r.rec.ApproversPHID, now); err != nil {
				return err
			}
		}
		return advance(tx, bt.Index, t.ID)
	})
	if err != nil {
		return err
	}
	if o.kind != "" {
		who := ""
		if o.user != "" {
			who = " @" + o.user
		}
		r.eventOf(ev{kind: string(o.kind), task: bt.Monogram(), user: o.user}, "%s:%s %s (%s)", bt.Monogram(), who, o.kind, truncate(o.detail, 80))
	}
	if o.answer != "" {
		*key = k
	}
	return nil
}

// decide is the outcome of one transaction.
func (b *Bot) decide(ctx context.Context, r *run, bt state.Batch, t conduit.Transaction) (outcome, error) {
	switch {
	case t.AuthorPHID == r.rec.BotPHID:
		// Never answer ourselves; but note where our removal
		// announcements stand in the stream.
		return announcementSeen(r.rec.Name, bt.Index, t), nil
	case t.Type == "subscribers":
		return b.unsubscribeOutcome(r, bt, t), nil
	case t.Type == "comment":
		text := commentText(t)
		if text == "" {
			return outcome{}, nil
		}
		return b.commentOutcome(ctx, r, bt, t, replies.Parse(text))
	}
	return outcome{}, nil
}

// handleLegacyReply finishes a reply an older auditbot answered with its
// own comment (key reply/<transaction PHID>) and had not confirmed.
func (b *Bot) handleLegacyReply(ctx context.Context, r *run, bt state.Batch, t conduit.Transaction) error {
	o, err := b.decide(ctx, r, bt, t)
	if err != nil {
		return err
	}
	finish := func(tx *state.CampaignTx) error {
		if o.change != nil {
			if err := o.change(tx); err != nil {
				return err
			}
		}
		return advance(tx, bt.Index, t.ID)
	}
	_, err = b.comment(ctx, r, bt, replyKey(t.PHID), o.answer, state.Entry{Kind: o.kind, User: o.user, Detail: o.detail,
		Actor: o.actor, Verified: o.verified, Approvers: o.approvers}, finish)
	return err
}

// announcementSeen records, for one of the bot's own comments that
// announces a removal batch, where it stands in this task's stream.
func announcementSeen(campaign string, batch int, t conduit.Transaction) outcome {
	for line := range strings.Lines(commentText(t)) {
		key, ok := parseMarker(line, campaign)
		if !ok {
			continue
		}
		label, step, ok := parseRemovalKey(key)
		if !ok || step != stepProposal {
			continue
		}
		return outcome{change: func(tx *state.CampaignTx) error {
			bt, err := tx.Batch(batch)
			if err != nil {
				return err
			}
			if bt.Announced == nil {
				bt.Announced = map[string]int{}
			}
			if _, ok := bt.Announced[label]; !ok {
				bt.Announced[label] = t.ID
			}
			return tx.PutBatch(bt)
		}}
	}
	return outcome{}
}

// commentText is the current text of a comment transaction: its highest
// version (Phorge lists versions newest first, fact 45), or "" once the
// comment was deleted. An older version never stands in for a deleted or
// edited one: "!approve" edited into "I withdraw my approval" is a
// withdrawal.
func commentText(t conduit.Transaction) string {
	c, ok := t.CurrentComment()
	if !ok || c.Removed {
		return ""
	}
	return c.Raw
}

// unsubscribeOutcome flags a batch user who removed themself from the task.
// Their finding stays pending: unsubscribing does not stop the process.
func (b *Bot) unsubscribeOutcome(r *run, bt state.Batch, t conduit.Transaction) outcome {
	self := slices.ContainsFunc(t.Operations, func(op conduit.Operation) bool {
		return op.Operation == "remove" && op.PHID == t.AuthorPHID
	})
	if !self || !bt.Has(t.AuthorPHID) {
		return outcome{}
	}
	var name string
	// No kind: change journals the entry itself, with the username, and
	// only the first time; a kind here would add a second, nameless one.
	return outcome{
		change: func(tx *state.CampaignTx) error {
			f, err := tx.Finding(t.AuthorPHID)
			if err != nil {
				return err
			}
			name = f.Username
			if f.Unsubscribed {
				return nil
			}
			f.Unsubscribed, f.UpdatedAt = true, b.now().UTC()
			r.eventOf(ev{kind: "unsubscribed", task: bt.Monogram(), user: f.Username}, "@%s unsubscribed from %s (flagged; still %s)", f.Username, bt.Monogram(), f.Status)
			if err := tx.PutFinding(f); err != nil {
				return err
			}
			return tx.Append(state.Entry{At: b.now().UTC(), Kind: state.EntryUnsubscribed, Task: bt.Monogram(), User: name, Detail: "flagged; the finding stays " + string(f.Status)})
		},
	}
}

// commentOutcome decides what a comment means. Commands are honoured only
// from current members of the approvers' project; free text only from the
// users of this task's batch.
func (b *Bot) commentOutcome(ctx context.Context, r *run, bt state.Batch, t conduit.Transaction, rep replies.Reply) (outcome, error) {
	switch rep.Kind {
	case replies.KindApprove, replies.KindDeny, replies.KindRestore, replies.KindKeepUser:
		return b.commandOutcome(ctx, r, bt, t, rep)
	}
	if !bt.Has(t.AuthorPHID) {
		return outcome{kind: state.EntryIgnored, detail: "comment by someone outside the batch: " + t.AuthorPHID}, nil
	}
	var f state.Finding
	if err := b.store.View(r.c.Name, func(tx *state.CampaignTx) error {
		var err error
		f, err = tx.Finding(t.AuthorPHID)
		return err
	}); err != nil {
		return outcome{}, err
	}
	// On inactivity and reconfirmation a reply is itself what keeps access.
	if keeps := replyKeeps(f, rep.Kind); len(keeps) > 0 {
		return b.keepOutcome(ctx, r, bt, t, f, keeps, nil, nil)
	}
	data := templates.ReplyData{Campaign: b.userCampaignData(r.c, &r.rec, &f), Person: person(&f), Groups: groupNames(&r.rec, f.Groups), Reasons: f.Reasons}
	now := b.now().UTC()
	setStatus := func(s state.Status) func(tx *state.CampaignTx) error {
		return updateFinding(f.UserPHID, func(f *state.Finding) { f.Status, f.UpdatedAt = s, now })
	}

	kind := rep.Kind
	if kind == replies.KindClaimCompliance && f.Status == state.StatusRemoved {
		kind = replies.KindRestoreRequest
	}
	if kind == replies.KindRestoreRequest && f.Status != state.StatusRemoved {
		kind = replies.KindClaimCompliance
	}
	switch kind {
	case replies.KindClaimCompliance, replies.KindRestoreRequest:
		// Never trust the claim: ask Phabricator.
		ok, left, err := b.unmet(ctx, r, f)
		if err != nil {
			return outcome{}, err
		}
		data.Remaining = reasonsText(left)
		switch {
		case !ok:
			text, err := b.render("claim-rejected", data)
			return outcome{kind: state.EntryClaimRejected, user: f.Username, detail: "claimed compliance; still non-compliant", answer: text}, err
		case kind == replies.KindRestoreRequest:
			text, err := b.render("restore-requested", data)
			return outcome{kind: state.EntryRestoreRequested, user: f.Username, detail: "verified compliant; waiting for an approver's !restore",
				change: updateFinding(f.UserPHID, func(f *state.Finding) { f.RestoreRequested, f.UpdatedAt = true, now }), answer: text, asksApprovers: true}, err
		default:
			text, err := b.render("compliance-thanks", data)
			o := outcome{kind: state.EntryClaimVerified, user: f.Username, detail: "verified compliant", answer: text}
			if f.Status == state.StatusPending || f.Status == state.StatusVoluntary {
				o.change = setStatus(state.StatusCompliant)
			}
			return o, err
		}
	case replies.KindRemoveMe:
		text, err := b.render("voluntary-ack", data)
		o := outcome{kind: state.EntryVoluntary, user: f.Username, detail: "asked to be removed", answer: text}
		if f.Status == state.StatusPending || f.Status == state.StatusCompliant || f.Status == state.StatusExempt {
			// The comment is kept so that an edit taking the request back
			// before the removal runs is seen (checkVoluntary).
			o.change = updateFinding(f.UserPHID, func(f *state.Finding) {
				f.Status, f.UpdatedAt, f.VoluntarySource = state.StatusVoluntary, now, sourceOf(bt, t)
			})
		}
		return o, err
	case replies.KindExemption:
		if e := f.Exemption; e != nil && e.Decision == state.ExemptionDenied {
			// A denied request is not reopened by asking again, which
			// would hold the user back from removal indefinitely.
			data.Reason = fmt.Sprintf("your exemption request was already denied by @%s; a person will look at this new one", e.DecidedBy)
			text, err := b.render("needs-human", data)
			return outcome{kind: state.EntryNeedsHuman, user: f.Username, detail: "exemption asked again after a denial: " + truncate(rep.Reason, 200), answer: text,
				change: updateFinding(f.UserPHID, func(f *state.Finding) {
					f.NeedsHuman = append(f.NeedsHuman, fmt.Sprintf("%s: exemption asked again after a denial: %s", bt.Monogram(), truncate(rep.Reason, 300)))
					f.UpdatedAt = now
				})}, err
		}
		data.Reason = rep.Reason
		data.Required = r.requiredFor(f.Groups)
		if !rep.Until.IsZero() {
			data.Until = rep.Until.Format("2006-01-02")
		}
		text, err := b.render("exemption-requested", data)
		return outcome{kind: state.EntryExemptionRequested, user: f.Username, detail: rep.Reason, answer: text, asksApprovers: true,
			change: updateFinding(f.UserPHID, func(f *state.Finding) {
				// A granted exemption stays on record and in force until
				// this request is decided; denying it leaves the grant.
				f.RequestExemption(state.Exemption{Reason: rep.Reason, Until: rep.Until, RequestedAt: now, Decision: state.ExemptionPending})
				f.UpdatedAt = now
			})}, err
	default:
		text, err := b.render("needs-human", data)
		return outcome{kind: state.EntryNeedsHuman, user: f.Username, detail: truncate(rep.Text, 300), answer: text,
			change: updateFinding(f.UserPHID, func(f *state.Finding) {
				f.NeedsHuman = append(f.NeedsHuman, fmt.Sprintf("%s: %s", bt.Monogram(), truncate(rep.Text, 300)))
				f.UpdatedAt = now
			})}, err
	}
}

// unmet asks Phabricator (and the activity source) whether a user now
// meets every criterion they were found by, keeps applied, and has an
// enabled account, also returning the reasons still unmet.
func (b *Bot) unmet(ctx context.Context, r *run, f state.Finding) (bool, []string, error) {
	users, err := b.usersByPHID(ctx, []string{f.UserPHID})
	if err != nil {
		return false, nil, fmt.Errorf("re-verify @%s: %w", f.Username, err)
	}
	if len(users) != 1 || users[0].IsDisabled() {
		return false, []string{reasonDisabled}, nil
	}
	live, err := b.liveFailures(ctx, r.c, []state.Finding{f}, nil)
	if err != nil {
		return false, nil, fmt.Errorf("re-verify @%s: %w", f.Username, err)
	}
	var left []string
	for _, rs := range f.Reasons {
		if _, bad := live[rs][f.UserPHID]; bad && !keptFor(f, rs) {
			left = append(left, rs)
		}
	}
	return len(left) == 0, left, nil
}

// commandOutcome handles !approve, !deny and !restore.
func (b *Bot) commandOutcome(ctx context.Context, r *run, bt state.Batch, t conduit.Transaction, rep replies.Reply) (outcome, error) {
	members, err := b.approverMembers(ctx, r)
	if err != nil {
		return outcome{}, err
	}
	users, err := b.usersByPHID(ctx, []string{t.AuthorPHID})
	if err != nil {
		return outcome{}, fmt.Errorf("look up commenter: %w", err)
	}
	if len(users) != 1 {
		return outcome{kind: state.EntryCommandRefused, detail: "unknown commenter " + t.AuthorPHID}, nil
	}
	approver := users[0]
	refuse := func(why string) (outcome, error) {
		text, err := b.render("command-refused", templates.ReplyData{Campaign: b.campaignData(r.c, &r.rec), Person: templates.Person{Username: approver.Username, RealName: approver.RealName}, Reason: why})
		return outcome{kind: state.EntryCommandRefused, user: approver.Username, detail: rep.Kind.String() + ": " + why, answer: text}, err
	}
	if !slices.Contains(members, approver.PHID) || approver.IsDisabled() {
		return refuse(fmt.Sprintf("only members of #%s may give commands", r.rec.ApproversSlug))
	}
	via := bt.Monogram()
	now := b.now().UTC()
	// reply answers with text name and journals kind; the two are named
	// alike but are not the same thing (a text may be renamed, a kind not).
	reply := func(name templates.Name, kind state.EntryKind, user, detail string, data templates.ReplyData, change func(*state.CampaignTx) error) (outcome, error) {
		text, err := b.render(name, data)
		return outcome{kind: kind, user: user, detail: detail, answer: text, change: change,
			actor: approver.Username, verified: "member of #" + r.rec.ApproversSlug + " checked over Conduit", approvers: []string{approver.Username}}, err
	}
	base := templates.ReplyData{Campaign: b.campaignData(r.c, &r.rec), Approver: templates.Person{Username: approver.Username, RealName: approver.RealName}}

	if rep.Target == "" {
		snap, err := b.store.Snapshot(r.c.Name)
		if err != nil {
			return outcome{}, err
		}
		// The command answers the latest batch the bot announced on this
		// task before it: one written earlier (and read late) was not
		// about a batch proposed since.
		cur, err := b.batchOf(r.rec.Name, bt.Index)
		if err != nil {
			return outcome{}, err
		}
		//
		// A !deny rejects any announced batch that has not started
		// removing: one waiting for approval, and one approved that has
		// not run yet (held by the guard-rail, or refused by
		// Phabricator). Refusing is always safe; an objection raised
		// before anything is removed must not be outrun by the approvals.
		open := removalsWith(snap.Removals, state.RemovalProposed)
		if rep.Kind == replies.KindDeny {
			members, err := b.liveMembers(ctx, r)
			if err != nil {
				return outcome{}, err
			}
			for _, w := range removalsWith(snap.Removals, state.RemovalApproved) {
				if !removalStarted(&snap, w, members) {
					open = append(open, w)
				}
			}
		}
		var rm state.Removal
		found, at := false, 0
		for _, w := range open {
			if id, ok := cur.Announced[w.Label()]; ok && id < t.ID && id >= at {
				rm, found, at = w, true, id
			}
		}
		if !found && rep.Kind == replies.KindDeny {
			return refuse("no removal batch that has not started was announced on this task before your comment")
		}
		if !found {
			return refuse("no removal batch waiting for approval was announced on this task before your comment")
		}
		if inBatch(rm, approver.PHID) {
			return refuse(fmt.Sprintf("you are in %s yourself, so another approver must decide on it", rm.Label()))
		}
		if rep.Kind == replies.KindDeny {
			data := base
			data.Reason, data.Decision = rep.Reason, templates.DecisionRejected
			return reply(templates.ApprovalRecorded, state.EntryApprovalRecorded, approver.Username, rm.Label()+" rejected: "+rep.Reason, data, func(tx *state.CampaignTx) error {
				cur, err := tx.Removal(rm.ID)
				if err != nil || cur.Status != rm.Status || slices.ContainsFunc(cur.Items, func(it state.RemovalItem) bool { return it.Done }) {
					return err
				}
				cur.Status, cur.RejectedBy, cur.RejectReason = state.RemovalRejected, approver.Username, rep.Reason
				return tx.PutRemoval(&cur)
			})
		}
		if rep.Kind != replies.KindApprove {
			return refuse("!restore needs a user: !restore @username")
		}
		// An approval on a task covers what that task's announcement
		// showed: the removal batch's items of this task only.
		if rm.ApprovedBy(approver.PHID, bt.Index) {
			return refuse(fmt.Sprintf("you already approved %s on this task; it needs %d distinct approvers", rm.Label(), rm.RequiredApprovals))
		}
		data := base
		data.Decision = fmt.Sprintf("%s (the memberships listed on this task): approval %d of %d recorded", rm.Label(), rm.ApprovalsFor(bt.Index)+1, rm.RequiredApprovals)
		return reply(templates.ApprovalRecorded, state.EntryApprovalRecorded, approver.Username, data.Decision, data, func(tx *state.CampaignTx) error {
			cur, err := tx.Removal(rm.ID)
			if err != nil {
				return err
			}
			if cur.Status != state.RemovalProposed || cur.ApprovedBy(approver.PHID, bt.Index) {
				return nil
			}
			cur.Approvals = append(cur.Approvals, state.Approval{ApproverPHID: approver.PHID, Username: approver.Username, At: now, Via: via,
				Verified: taskVerified(bt, t), Source: sourceOf(bt, t), Scope: []int{bt.Index}})
			if cur.FullyApproved() {
				cur.Status = state.RemovalApproved
			}
			r.eventOf(ev{kind: "approval-recorded", task: via, user: approver.Username}, "%s approved by @%s on %s for its memberships there (%d of %d)", cur.Label(), approver.Username, via, cur.ApprovalsFor(bt.Index), cur.RequiredApprovals)
			return tx.PutRemoval(&cur)
		})
	}

	target, err := b.findingByUsername(r.c.Name, rep.Target)
	if err != nil {
		return refuse(fmt.Sprintf("@%s is not part of this campaign", rep.Target))
	}
	data := base
	data.Campaign = b.userCampaignData(r.c, &r.rec, &target)
	data.Person = person(&target)
	data.Groups = groupNames(&r.rec, target.Groups)
	data.Reasons = target.Reasons
	if rep.Kind == replies.KindKeepUser {
		// An approver's keep is an exemption without end date: it needs
		// as many distinct approvers as an exemption (requiredFor), each
		// on the task that lists the user (what they were shown).
		keeps := approverKeeps(target)
		need := r.requiredFor(target.Groups)
		mine := func(a state.Approval) bool { return a.ApproverPHID == approver.PHID }
		switch {
		case len(keeps) == 0:
			return refuse(fmt.Sprintf("@%s was not found by a criterion an approver can waive (inactive, reconfirm, list)", target.Username))
		case target.UserPHID == approver.PHID:
			return refuse("nobody keeps their own access by command; reply on the task instead")
		case target.Status != state.StatusPending && target.Status != state.StatusCompliant:
			return refuse(fmt.Sprintf("@%s is %s, not pending", target.Username, target.Status))
		case !slices.Contains(bt.UserPHIDs, target.UserPHID):
			return refuse(fmt.Sprintf("@%s is not listed on this task; keep them on the task that lists them", target.Username))
		case slices.ContainsFunc(target.KeepApprovals, mine) || approverKept(target, keeps, approver.PHID):
			return refuse(fmt.Sprintf("you already kept @%s; it needs %d distinct approvers", target.Username, need))
		}
		approval := state.Approval{ApproverPHID: approver.PHID, Username: approver.Username, At: now, Via: via,
			Verified: taskVerified(bt, t), Source: sourceOf(bt, t)}
		earlier := target.KeepApprovals
		var dropped []string // approvers whose earlier keep was edited away or lapsed
		if len(earlier)+1 >= need {
			// As for an exemption: before the keep counts, the earlier
			// approvers must still be enabled approvers and their
			// comments must still say "!keep @user".
			active, lapsed, err := b.splitLapsed(ctx, r, earlier)
			if err != nil {
				return outcome{}, err
			}
			standing, gone, err := b.standingApprovals(ctx, active, func(text string, ok bool) bool {
				return ok && keepCommandStands(text, target.Username)
			})
			if err != nil {
				return outcome{}, err
			}
			for _, a := range append(lapsed, gone...) {
				dropped = append(dropped, a.ApproverPHID)
			}
			earlier = standing
		}
		if got := len(earlier) + 1; got < need {
			data.Decision = fmt.Sprintf("keep for @%s: approval %d of %d recorded", target.Username, got, need)
			detail := data.Decision
			if len(dropped) > 0 {
				detail += fmt.Sprintf("; %d earlier keep(s) withdrawn or lapsed", len(dropped))
			}
			return reply(templates.ApprovalRecorded, state.EntryApprovalRecorded, target.Username, detail, data,
				updateFinding(target.UserPHID, func(f *state.Finding) {
					f.KeepApprovals = slices.DeleteFunc(f.KeepApprovals, func(a state.Approval) bool {
						return mine(a) || slices.Contains(dropped, a.ApproverPHID)
					})
					f.KeepApprovals = append(f.KeepApprovals, approval)
					f.UpdatedAt = now
				}))
		}
		return b.keepOutcome(ctx, r, bt, t, target, keeps, &approver, append(slices.Clone(earlier), approval))
	}
	done, err := b.restoredByCommand(r.c.Name, target, t.PHID)
	if err != nil {
		return outcome{}, err
	}
	switch {
	case done:
		// Read again after a crash: it was answered by the restore.
		return outcome{kind: state.EntryRestoreCommand, user: target.Username, detail: "restored by @" + approver.Username}, nil
	case (rep.Kind == replies.KindRestore || (rep.Kind == replies.KindApprove && target.RestoreRequested)) && target.UserPHID == approver.PHID:
		// As for exemptions, keeps and removal batches: nobody decides
		// about their own access. With the inactive criterion the
		// command itself would even be the activity that makes them
		// compliant again.
		return refuse(fmt.Sprintf("nobody restores their own access; another approver must decide (!restore @%s)", target.Username))
	case rep.Kind == replies.KindRestore || (rep.Kind == replies.KindApprove && target.RestoreRequested):
		// Restoring writes memberships; do it now, then answer.
		if err := b.restore(ctx, r, target, restoreAsk{actor: approver.Username, approver: approver.Username, command: t.PHID}); err != nil {
			switch {
			case errors.Is(err, ErrRefused), errors.Is(err, ErrInput):
				return refuse(err.Error())
			case errors.Is(err, conduit.ErrPermissionDenied):
				// Not transient: answering moves the cursor on, so one
				// impossible restore does not hold up every later reply.
				return refuse("the bot may not edit that group's membership (" + policyHint(err) + "); a person must re-add the user")
			}
			return outcome{}, err
		}
		return outcome{kind: state.EntryRestoreCommand, user: target.Username, detail: "restored by @" + approver.Username}, nil
	case target.Exemption == nil || target.Exemption.Decision != state.ExemptionPending:
		return refuse(fmt.Sprintf("@%s has no exemption request waiting for a decision", target.Username))
	case target.UserPHID == approver.PHID:
		return refuse("nobody approves their own exemption")
	}
	approval := state.Approval{ApproverPHID: approver.PHID, Username: approver.Username, At: now, Via: via,
		Verified: taskVerified(bt, t), Source: sourceOf(bt, t)}
	addApproval := func(f *state.Finding) {
		if f.Exemption != nil && !slices.Contains(f.Exemption.ApprovedBy, approver.PHID) {
			f.Exemption.ApprovedBy = append(f.Exemption.ApprovedBy, approver.PHID)
			f.Exemption.Approvals = append(f.Exemption.Approvals, approval)
			f.UpdatedAt = now
		}
	}
	var withdrawn []string // approvers whose earlier approval was edited away or lapsed
	var lapsedNote string  // names the lapsed ones, for the journal
	edited := 0            // how many of withdrawn were edited away
	if rep.Kind == replies.KindApprove {
		// An exemption keeps a user in every group of theirs, so it needs
		// as many distinct approvers as removing them would.
		need := r.requiredFor(target.Groups)
		if slices.Contains(target.Exemption.ApprovedBy, approver.PHID) {
			return refuse(fmt.Sprintf("you already approved @%s's exemption; it needs %d distinct approvers", target.Username, need))
		}
		got := len(target.Exemption.ApprovedBy) + 1
		if got >= need {
			// Before the exemption counts, the earlier approvers must
			// still be enabled members of the approvers' project (as for
			// a removal, approvalsStillValid), and their approvals must
			// still say "!approve @user": one edited since is withdrawn.
			// If they cannot be read, this fails and the comment is
			// retried next tick.
			active, lapsed, err := b.splitLapsed(ctx, r, target.Exemption.Approvals)
			if err != nil {
				return outcome{}, err
			}
			_, gone, err := b.withdrawnApprovals(ctx, active, target.Username)
			if err != nil {
				return outcome{}, err
			}
			for _, a := range append(lapsed, gone...) {
				withdrawn = append(withdrawn, a.ApproverPHID)
			}
			got -= len(lapsed) + len(gone)
			edited = len(gone)
			if len(lapsed) > 0 {
				lapsedNote = fmt.Sprintf("; %s no longer enabled approvers, their approval dropped", approverNames(lapsed))
			}
		}
		if got < need {
			data.Decision = fmt.Sprintf("exemption for @%s: approval %d of %d recorded", target.Username, got, need)
			detail := data.Decision
			if edited > 0 {
				detail += fmt.Sprintf("; %d earlier approval(s) withdrawn by editing their comment", edited)
			}
			detail += lapsedNote
			return reply(templates.ApprovalRecorded, state.EntryApprovalRecorded, target.Username, detail, data,
				updateFinding(target.UserPHID, func(f *state.Finding) {
					if f.Exemption == nil {
						return
					}
					dropApprovers(f.Exemption, withdrawn)
					addApproval(f)
				}))
		}
	}
	decision := state.ExemptionGranted
	if rep.Kind == replies.KindDeny {
		decision = state.ExemptionDenied
	}
	// A grant rests on every approval so far, not only the last one.
	approvers := []string{approver.Username}
	if decision == state.ExemptionGranted && len(target.Exemption.ApprovedBy) > 0 {
		earlier, err := b.usersByPHID(ctx, target.Exemption.ApprovedBy)
		if err != nil {
			return outcome{}, fmt.Errorf("look up earlier approvers: %w", err)
		}
		names := map[string]string{}
		for _, u := range earlier {
			names[u.PHID] = u.Username
		}
		approvers = approvers[:0]
		for _, p := range target.Exemption.ApprovedBy {
			if !slices.Contains(withdrawn, p) { // edited away or lapsed: not counted
				approvers = append(approvers, cmp.Or(names[p], p))
			}
		}
		approvers = append(approvers, approver.Username)
	}
	data.Decision, data.Reason = decisionText(decision), rep.Reason
	if !target.Exemption.Until.IsZero() {
		data.Until = target.Exemption.Until.Format("2006-01-02")
	}
	o, err := reply(templates.ExemptionDecision, state.EntryExemptionDecision, target.Username, "exemption "+string(decision)+" by @"+strings.Join(approvers, ", @"), data,
		updateFinding(target.UserPHID, func(f *state.Finding) {
			if f.Exemption == nil || f.Exemption.Decision != state.ExemptionPending {
				return
			}
			// A denial changes only this request: a grant it would have
			// replaced stays in the history, in force until its date.
			if decision == state.ExemptionGranted {
				dropApprovers(f.Exemption, withdrawn)
				addApproval(f)
				f.Status = state.StatusExempt
			}
			f.Exemption.Decision, f.Exemption.DecidedBy, f.Exemption.Note = decision, approver.Username, rep.Reason
			f.UpdatedAt = now
		}))
	o.approvers = approvers
	return o, err
}

// dropApprovers removes withdrawn approvers from an exemption's approvals.
func dropApprovers(e *state.Exemption, phids []string) {
	if len(phids) == 0 {
		return
	}
	e.ApprovedBy = slices.DeleteFunc(e.ApprovedBy, func(p string) bool { return slices.Contains(phids, p) })
	e.Approvals = slices.DeleteFunc(e.Approvals, func(a state.Approval) bool { return slices.Contains(phids, a.ApproverPHID) })
}

// requiredFor is how many distinct approvers a decision about these groups
// needs: the most any of their risk levels asks for.
func (r *run) requiredFor(groups []string) int {
	var risks []string
	for _, gp := range groups {
		if g, ok := r.rec.GroupByPHID(gp); ok {
			risks = append(risks, g.Risk)
		}
	}
	return approvalsFor(risks)
}

// updateFinding returns a change that edits one finding.
func updateFinding(userPHID string, edit func(*state.Finding)) func(*state.CampaignTx) error {
	return func(tx *state.CampaignTx) error {
		f, err := tx.Finding(userPHID)
		if err != nil {
			return err
		}
		edit(&f)
		return tx.PutFinding(f)
	}
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
