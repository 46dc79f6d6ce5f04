package bot

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/auditbot/auditbot/bot/replies"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// replyKeeps returns the reasons of f that a reply of this kind from the
// user meets: for inactivity any reply that is not leaving or asking for
// something else is activity ("I am still here", "done", a question); for
// reconfirmation only a keep ("still need it"). Pure, so tested alone.
func replyKeeps(f state.Finding, kind replies.Kind) []string {
	if f.Status != state.StatusPending && f.Status != state.StatusCompliant {
		return nil
	}
	var out []string
	for _, r := range f.Reasons {
		if keptFor(f, r) {
			continue
		}
		if cr, ok := criterionOf(r); !ok || !cr.keptByReply {
			continue
		}
		if stillKeeps(r, kind) {
			out = append(out, r)
		}
	}
	return out
}

// stillKeeps reports whether a user's reply of this kind keeps reason r.
func stillKeeps(r string, kind replies.Kind) bool {
	switch r {
	case reasonInactive:
		return kind == replies.KindKeep || kind == replies.KindClaimCompliance || kind == replies.KindOther
	case reasonReconfirm:
		return kind == replies.KindKeep
	}
	return false
}

// approverKeeps returns the reasons of f an approver's !keep meets.
func approverKeeps(f state.Finding) []string {
	var out []string
	for _, r := range f.Reasons {
		if cr, ok := criterionOf(r); ok && cr.keptByApprover {
			out = append(out, r)
		}
	}
	return out
}

// approverKept reports whether approver already made every one of
// reasons kept on f (a keep in force that rests on their approval).
func approverKept(f state.Finding, reasons []string, approver string) bool {
	for _, rs := range reasons {
		k, ok := f.Kept[rs]
		if !ok || !k.Approver || !slices.ContainsFunc(keepApprovals(k), func(a state.Approval) bool { return a.ApproverPHID == approver }) {
			return false
		}
	}
	return true
}

// keepApprovals returns the approvals an approver's keep rests on. A keep
// recorded before keeps needed several approvers has only its By and
// Source: one approval, whose approver (no PHID) cannot be re-checked.
func keepApprovals(k state.Keep) []state.Approval {
	if len(k.Approvals) > 0 || !k.Approver {
		return k.Approvals
	}
	return []state.Approval{{Username: k.By, At: k.At, Source: k.Source}}
}

// withKeeps returns f with k recorded as the keep of each of reasons.
func withKeeps(f state.Finding, reasons []string, k state.Keep) state.Finding {
	kept := f
	kept.Kept = maps.Clone(f.Kept)
	if kept.Kept == nil {
		kept.Kept = map[string]state.Keep{}
	}
	for _, rs := range reasons {
		kept.Kept[rs] = k
	}
	return kept
}

// keepOutcome records that f keeps access under reasons (said by the user,
// or by approver on the strength of approvals, enough of them), checks
// the user's other reasons live (v observed with unmetNeeds of the kept
// finding), and answers. The user becomes compliant once nothing else is
// unmet.
func keepOutcome(v *view, tn *turn, f state.Finding, reasons []string, approver *conduit.User, approvals []state.Approval) (outcome, error) {
	now := v.now
	k := state.Keep{At: now, By: f.Username, Source: sourceOf(tn.bt, tn.t)}
	if approver != nil {
		k.By, k.Approver, k.Approvals = approver.Username, true, approvals
	}
	ok, left := v.unmet(withKeeps(f, reasons, k))
	data := replyData(v, &f)
	data.Kept, data.Remaining = reasonsText(reasons), reasonsText(left)
	if approver != nil {
		data.Approver = templates.Person{Username: approver.Username, RealName: approver.RealName}
	}
	text, err := v.words.render(templates.Kept, data)
	detail := fmt.Sprintf("keeps access (%s), said by @%s", strings.Join(reasons, ", "), k.By)
	var names []string
	for _, a := range approvals {
		names = append(names, a.Username)
	}
	if len(names) > 1 {
		detail = fmt.Sprintf("keeps access (%s), said by @%s", strings.Join(reasons, ", "), strings.Join(names, ", @"))
	}
	if len(left) > 0 {
		detail += "; still unmet: " + strings.Join(left, ", ")
	}
	o := outcome{kind: state.EntryKept, user: f.Username, detail: detail, answer: text,
		change: updateFinding(f.UserPHID, func(cur *state.Finding) {
			if cur.Kept == nil {
				cur.Kept = map[string]state.Keep{}
			}
			for _, rs := range reasons {
				cur.Kept[rs] = k
			}
			if approver != nil {
				cur.KeepApprovals = nil // now in the keep
			}
			if ok && cur.Status == state.StatusPending {
				cur.Status = state.StatusCompliant
			}
			cur.UpdatedAt = now
		})}
	if approver != nil {
		o.actor, o.verified, o.approvers = approver.Username, taskVerified(tn.bt, tn.t), names
	}
	return o, err
}

// keepQuorum reports whether "!keep @user" by one more approver may
// complete the keep of f: the earlier approvals plus this one reach the
// approvers f's groups require.
func keepQuorum(rec *state.Campaign, f state.Finding) bool {
	return len(f.KeepApprovals)+1 >= requiredFor(rec, f.Groups)
}

// keepCommandNeeds is what "!keep @user" reads beyond the commenter: when
// it may complete the keep, the earlier keeps (approvalNeeds) and the
// user's other criteria, live, with the keep applied.
func keepCommandNeeds(snap *state.Snapshot, tn *turn) needs {
	f, ok := findingNamed(snap, tn.rep.Target)
	if !ok || !keepQuorum(&snap.Campaign, f) {
		return needs{}
	}
	return approvalNeeds(f.KeepApprovals).and(unmetNeeds(withKeeps(f, approverKeeps(f), state.Keep{Approver: true})))
}

// decideKeepCommand decides "!keep @user". An approver's keep is an
// exemption without end date: it needs as many distinct approvers as an
// exemption (requiredFor), each on the task that lists the user (what
// they were shown). As for an exemption, before the keep counts the
// earlier approvers must still be enabled approvers and their comments
// must still say "!keep @user".
func decideKeepCommand(v *view, c *order) (outcome, error) {
	target := c.target
	keeps := approverKeeps(target)
	need := requiredFor(v.rec(), target.Groups)
	mine := func(a state.Approval) bool { return a.ApproverPHID == c.approver.PHID }
	switch {
	case len(keeps) == 0:
		return c.refuse(v, fmt.Sprintf("@%s was not found by a criterion an approver can waive (inactive, reconfirm, list)", target.Username))
	case target.UserPHID == c.approver.PHID:
		return c.refuse(v, "nobody keeps their own access by command; reply on the task instead")
	case target.Status != state.StatusPending && target.Status != state.StatusCompliant:
		return c.refuse(v, fmt.Sprintf("@%s is %s, not pending", target.Username, target.Status))
	case target.Batch != c.bt.Index:
		// The task that lists the finding as it stands: an older task of
		// a user audited again (a recurring run) showed other groups.
		return c.refuse(v, fmt.Sprintf("@%s is not listed on this task; keep them on the task that lists them", target.Username))
	case slices.ContainsFunc(target.KeepApprovals, mine) || approverKept(target, keeps, c.approver.PHID):
		return c.refuse(v, fmt.Sprintf("you already kept @%s; it needs %d distinct approvers", target.Username, need))
	}
	approval := c.approval(v)
	earlier := target.KeepApprovals
	var dropped []string // approvers whose earlier keep was edited away or lapsed
	if keepQuorum(v.rec(), target) {
		active, lapsed := v.splitLapsed(earlier)
		standing, gone := v.standing(active, func(text string, ok bool) bool { return ok && keepCommandStands(text, target.Username) })
		for _, a := range append(lapsed, gone...) {
			dropped = append(dropped, a.ApproverPHID)
		}
		earlier = standing
	}
	if got := len(earlier) + 1; got < need {
		data := c.data(v)
		data.Decision = fmt.Sprintf("keep for @%s: approval %d of %d recorded", target.Username, got, need)
		detail := data.Decision
		if len(dropped) > 0 {
			detail += fmt.Sprintf("; %d earlier keep(s) withdrawn or lapsed", len(dropped))
		}
		now := v.now
		return c.reply(v, templates.ApprovalRecorded, state.EntryApprovalRecorded, target.Username, detail, data,
			updateFinding(target.UserPHID, func(f *state.Finding) {
				f.KeepApprovals = slices.DeleteFunc(f.KeepApprovals, func(a state.Approval) bool {
					return mine(a) || slices.Contains(dropped, a.ApproverPHID)
				})
				f.KeepApprovals = append(f.KeepApprovals, approval)
				f.UpdatedAt = now
			}))
	}
	approver := c.approver
	return keepOutcome(v, c.turn, target, keeps, &approver, append(slices.Clone(earlier), approval))
}

// checkKeeps re-reads the comment behind every recorded keep (before a
// removal round, and before the campaign closes) and drops the keeps that
// no longer hold (decideKeepsStand). Comments or approvers that cannot be
// read stop the caller (fail closed).
func (b *Bot) checkKeeps(ctx context.Context, r *run) error {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	n := keepsNeeds(&snap)
	if len(n.texts) == 0 {
		return nil
	}
	n.fresh = true
	v, err := b.read.observe(ctx, r, snap, n)
	if err != nil {
		return fmt.Errorf("re-read keep comments: %w", err)
	}
	return b.exec.record(r, decideKeepsStand(v))
}

// keepsNeeds is what checking the recorded keeps reads: the comment
// behind each, and for approvers' keeps, the approvers.
func keepsNeeds(snap *state.Snapshot) needs {
	var n needs
	var approvals []state.Approval // of approvers' keeps, to re-check the approvers
	for _, f := range snap.Findings {
		for _, k := range f.Kept {
			n.texts = append(n.texts, k.Source)
			for _, a := range keepApprovals(k) {
				n.texts = append(n.texts, a.Source)
				if a.ApproverPHID != "" && !slices.ContainsFunc(approvals, func(x state.Approval) bool { return x.ApproverPHID == a.ApproverPHID }) {
					approvals = append(approvals, a)
				}
			}
		}
	}
	if len(approvals) > 0 {
		n.approvers = true
		for _, a := range approvals {
			n.users = append(n.users, a.ApproverPHID)
		}
	}
	return n
}

// decideKeepsStand drops the keeps that no longer hold. A comment edited
// since the bot read it (fact 45) into something that no longer keeps, or
// deleted, no longer counts; nor does the approval of an approver who is
// no longer an enabled member of the approvers' project. A user's keep
// then ends; an approver's keep ends once fewer approvals stand than the
// user's groups require (requiredFor). An ended keep is dropped and
// journaled, and a compliant user is pending again (drift then decides
// from what Phabricator says).
func decideKeepsStand(v *view) []intent {
	var ins []intent
	for _, f := range v.snap.Findings {
		for _, rs := range slices.Sorted(maps.Keys(f.Kept)) {
			k := f.Kept[rs]
			if k.Source == nil {
				continue
			}
			if why, ok := keepFallen(v, f, rs, k); ok {
				ins = append(ins, keepDropped(v, f, rs, k, why))
			}
		}
	}
	return ins
}

// keepFallen says why f's keep k of reason rs no longer holds; ok is
// false while it holds.
func keepFallen(v *view, f state.Finding, rs string, k state.Keep) (why string, ok bool) {
	if !k.Approver {
		if text, ok := v.texts[k.Source.TxPHID]; !ok || !keepStands(text, rs, k, f.Username) {
			return fmt.Sprintf("comment %s by @%s no longer keeps access", k.Source.TxPHID, k.By), true
		}
		return "", false
	}
	var standing int
	var out []string
	for _, a := range keepApprovals(k) {
		text, ok := "", a.Source == nil
		if a.Source != nil {
			text, ok = v.texts[a.Source.TxPHID]
		}
		switch {
		case a.ApproverPHID != "" && !v.mayDecide(a.ApproverPHID):
			out = append(out, "@"+a.Username+" is no longer an enabled approver")
		case a.Source != nil && (!ok || !keepCommandStands(text, f.Username)):
			out = append(out, fmt.Sprintf("@%s's comment %s no longer says !keep", a.Username, a.Source.TxPHID))
		default:
			standing++
		}
	}
	if need := requiredFor(v.rec(), f.Groups); standing < need {
		return fmt.Sprintf("%d of %d approvers' keeps stand (%s)", standing, need, strings.Join(out, "; ")), true
	}
	return "", false
}

// keepDropped drops f's keep of reason rs, which no longer holds (why).
func keepDropped(v *view, f state.Finding, rs string, k state.Keep, why string) intent {
	now := v.now
	var was, is state.Status
	dropped := false
	return intent{
		change: func(tx *state.CampaignTx, _ outcomeOf) error {
			cur, err := tx.Finding(f.UserPHID)
			if err != nil {
				return err
			}
			if _, ok := cur.Kept[rs]; !ok {
				return nil
			}
			delete(cur.Kept, rs)
			was = cur.Status
			if cur.Status == state.StatusCompliant {
				cur.Status = state.StatusPending
			}
			is, dropped = cur.Status, true
			cur.UpdatedAt = now
			if err := tx.PutFinding(cur); err != nil {
				return err
			}
			return tx.Append(state.Entry{At: now, Kind: state.EntryKeepWithdrawn, Task: k.Source.Task, User: cur.Username,
				Detail: fmt.Sprintf("%s (%s); %s -> %s", why, rs, was, is)})
		},
		sayLater: func() said {
			if !dropped {
				return said{}
			}
			return said{text: fmt.Sprintf("@%s: the keep (%s) by @%s no longer holds: %s; %s", f.Username, rs, k.By, why, is)}
		},
	}
}

// keepCommandStands reports whether an approver's comment still says
// "!keep @username".
func keepCommandStands(text, username string) bool {
	rep := replies.Parse(text)
	return rep.Kind == replies.KindKeepUser && strings.EqualFold(rep.Target, username)
}

// keepStands reports whether a keep's comment, as it reads now, still
// says the same: "!keep @user" for an approver, a reply that keeps reason
// for the user.
func keepStands(text, reason string, k state.Keep, username string) bool {
	rep := replies.Parse(text)
	if k.Approver {
		return keepCommandStands(text, username)
	}
	return strings.TrimSpace(text) != "" && stillKeeps(reason, rep.Kind)
}
