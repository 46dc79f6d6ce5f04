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

// keepOutcome records that f keeps access under reasons (said by the user,
// or by approver on the strength of approvals, enough of them), checks
// the user's other reasons live, and answers. The user becomes compliant
// once nothing else is unmet.
func (b *Bot) keepOutcome(ctx context.Context, r *run, bt state.Batch, t conduit.Transaction, f state.Finding, reasons []string, approver *conduit.User, approvals []state.Approval) (outcome, error) {
	now := b.now().UTC()
	k := state.Keep{At: now, By: f.Username, Source: sourceOf(bt, t)}
	if approver != nil {
		k.By, k.Approver, k.Approvals = approver.Username, true, approvals
	}
	kept := f
	kept.Kept = maps.Clone(f.Kept)
	if kept.Kept == nil {
		kept.Kept = map[string]state.Keep{}
	}
	for _, rs := range reasons {
		kept.Kept[rs] = k
	}
	ok, left, err := b.unmet(ctx, r, kept)
	if err != nil {
		return outcome{}, err
	}
	data := templates.ReplyData{Campaign: b.words.userCampaignData(r.c, &r.rec, &f), Person: person(&f), Groups: groupNames(&r.rec, f.Groups),
		Reasons: f.Reasons, Kept: reasonsText(reasons), Remaining: reasonsText(left)}
	if approver != nil {
		data.Approver = templates.Person{Username: approver.Username, RealName: approver.RealName}
	}
	text, err := b.words.render(templates.Kept, data)
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
		o.actor, o.verified, o.approvers = approver.Username, taskVerified(bt, t), names
	}
	return o, err
}

// checkKeeps re-reads the comment behind every recorded keep (before a
// removal round, and before the campaign closes). A comment edited since
// the bot read it (fact 45) into something that no longer keeps, or
// deleted, no longer counts; nor does the approval of an approver who is
// no longer an enabled member of the approvers' project (splitLapsed). A
// user's keep then ends; an approver's keep ends once fewer approvals
// stand than the user's groups require (requiredFor). An ended keep is
// dropped and journaled, and a compliant user is pending again (drift
// then decides from what Phabricator says). Comments or approvers that
// cannot be read stop the caller (fail closed).
func (b *Bot) checkKeeps(ctx context.Context, r *run) error {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	var sources []*state.Source
	var approvals []state.Approval // of approvers' keeps, to re-check the approvers
	for _, f := range snap.Findings {
		for _, k := range f.Kept {
			sources = append(sources, k.Source)
			for _, a := range keepApprovals(k) {
				sources = append(sources, a.Source)
				if a.ApproverPHID != "" && !slices.ContainsFunc(approvals, func(x state.Approval) bool { return x.ApproverPHID == a.ApproverPHID }) {
					approvals = append(approvals, a)
				}
			}
		}
	}
	if len(sources) == 0 {
		return nil
	}
	texts, err := b.currentTexts(ctx, sources)
	if err != nil {
		return fmt.Errorf("re-read keep comments: %w", err)
	}
	_, lapsed, err := b.splitLapsed(ctx, r, approvals)
	if err != nil {
		return fmt.Errorf("re-check keep approvers: %w", err)
	}
	lapsedBy := map[string]bool{}
	for _, a := range lapsed {
		lapsedBy[a.ApproverPHID] = true
	}
	type gone struct {
		user   string
		reason string
		k      state.Keep
		why    string
	}
	var drop []gone
	for _, f := range snap.Findings {
		for _, rs := range slices.Sorted(maps.Keys(f.Kept)) {
			k := f.Kept[rs]
			if k.Source == nil {
				continue
			}
			if !k.Approver {
				if text, ok := texts[k.Source.TxPHID]; !ok || !keepStands(text, rs, k, f.Username) {
					drop = append(drop, gone{f.UserPHID, rs, k, fmt.Sprintf("comment %s by @%s no longer keeps access", k.Source.TxPHID, k.By)})
				}
				continue
			}
			var standing int
			var out []string
			for _, a := range keepApprovals(k) {
				text, ok := "", a.Source == nil
				if a.Source != nil {
					text, ok = texts[a.Source.TxPHID]
				}
				switch {
				case lapsedBy[a.ApproverPHID]:
					out = append(out, "@"+a.Username+" is no longer an enabled approver")
				case a.Source != nil && (!ok || !keepCommandStands(text, f.Username)):
					out = append(out, fmt.Sprintf("@%s's comment %s no longer says !keep", a.Username, a.Source.TxPHID))
				default:
					standing++
				}
			}
			if need := r.requiredFor(f.Groups); standing < need {
				drop = append(drop, gone{f.UserPHID, rs, k, fmt.Sprintf("%d of %d approvers' keeps stand (%s)", standing, need, strings.Join(out, "; "))})
			}
		}
	}
	if len(drop) == 0 {
		return nil
	}
	now := b.now().UTC()
	return b.store.Update(r.c.Name, func(tx *state.CampaignTx) error {
		for _, g := range drop {
			f, err := tx.Finding(g.user)
			if err != nil {
				return err
			}
			if _, ok := f.Kept[g.reason]; !ok {
				continue
			}
			delete(f.Kept, g.reason)
			was := f.Status
			if f.Status == state.StatusCompliant {
				f.Status = state.StatusPending
			}
			f.UpdatedAt = now
			if err := tx.PutFinding(f); err != nil {
				return err
			}
			if err := tx.Append(state.Entry{At: now, Kind: state.EntryKeepWithdrawn, Task: g.k.Source.Task, User: f.Username,
				Detail: fmt.Sprintf("%s (%s); %s -> %s", g.why, g.reason, was, f.Status)}); err != nil {
				return err
			}
			r.event("@%s: the keep (%s) by @%s no longer holds: %s; %s", f.Username, g.reason, g.k.By, g.why, f.Status)
		}
		return nil
	})
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
