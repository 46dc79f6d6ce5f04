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

// keepOutcome records that f keeps access under reasons (said by the user,
// or by approver), checks the user's other reasons live, and answers. The
// user becomes compliant once nothing else is unmet.
func (b *Bot) keepOutcome(ctx context.Context, r *run, bt state.Batch, t conduit.Transaction, f state.Finding, reasons []string, approver *conduit.User) (outcome, error) {
	now := b.now().UTC()
	k := state.Keep{At: now, By: f.Username, Source: sourceOf(bt, t)}
	if approver != nil {
		k.By, k.Approver = approver.Username, true
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
	data := templates.ReplyData{Campaign: b.userCampaignData(r.c, &r.rec, &f), Person: person(&f), Groups: groupNames(&r.rec, f.Groups),
		Reasons: f.Reasons, Kept: reasonsText(reasons), Remaining: reasonsText(left)}
	if approver != nil {
		data.Approver = templates.Person{Username: approver.Username, RealName: approver.RealName}
	}
	text, err := b.render(templates.Kept, data)
	detail := fmt.Sprintf("keeps access (%s), said by @%s", strings.Join(reasons, ", "), k.By)
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
			if ok && cur.Status == state.StatusPending {
				cur.Status = state.StatusCompliant
			}
			cur.UpdatedAt = now
		})}
	if approver != nil {
		o.actor, o.verified, o.approvers = approver.Username, taskVerified(bt, t), []string{approver.Username}
	}
	return o, err
}

// checkKeeps re-reads, before a removal round, the comment behind every
// recorded keep. A comment edited since the bot read it (fact 45) into
// something that no longer keeps, or deleted, no longer counts: the keep
// is dropped, journaled, and a compliant user is pending again (drift
// then decides from what Phabricator says). Comments that cannot be read
// stop the round (fail closed).
func (b *Bot) checkKeeps(ctx context.Context, r *run) error {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	var sources []*state.Source
	for _, f := range snap.Findings {
		for _, k := range f.Kept {
			sources = append(sources, k.Source)
		}
	}
	if len(sources) == 0 {
		return nil
	}
	texts, err := b.currentTexts(ctx, sources)
	if err != nil {
		return fmt.Errorf("re-read keep comments: %w", err)
	}
	type gone struct {
		user   string
		reason string
		k      state.Keep
	}
	var drop []gone
	for _, f := range snap.Findings {
		for _, rs := range slices.Sorted(maps.Keys(f.Kept)) {
			k := f.Kept[rs]
			if k.Source == nil {
				continue
			}
			text, ok := texts[k.Source.TxPHID]
			if !ok || !keepStands(text, rs, k, f.Username) {
				drop = append(drop, gone{f.UserPHID, rs, k})
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
				Detail: fmt.Sprintf("comment %s by @%s no longer keeps access (%s); %s -> %s", g.k.Source.TxPHID, g.k.By, g.reason, was, f.Status)}); err != nil {
				return err
			}
			r.event("@%s: the keep (%s) by @%s was edited away; %s", f.Username, g.reason, g.k.By, f.Status)
		}
		return nil
	})
}

// keepStands reports whether a keep's comment, as it reads now, still
// says the same: "!keep @user" for an approver, a reply that keeps reason
// for the user.
func keepStands(text, reason string, k state.Keep, username string) bool {
	rep := replies.Parse(text)
	if k.Approver {
		return rep.Kind == replies.KindKeepUser && strings.EqualFold(rep.Target, username)
	}
	return strings.TrimSpace(text) != "" && stillKeeps(reason, rep.Kind)
}
