package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/auditbot/auditbot/bot/replies"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// sourceOf names the comment transaction t on task bt.
func sourceOf(bt state.Batch, t conduit.Transaction) *state.Source {
	return &state.Source{TaskPHID: bt.TaskPHID, Task: bt.Monogram(), TxPHID: t.PHID, TxID: t.ID}
}

// taskVerified is how an approval given on a task was verified.
func taskVerified(bt state.Batch, t conduit.Transaction) string {
	return fmt.Sprintf("task %s comment %s by the approver's own account", bt.Monogram(), t.PHID)
}

// stillApproves reports whether a comment's current text is still the
// approve command it was counted as: "!approve" for a removal batch
// (target ""), "!approve @user" for an exemption.
func stillApproves(text string, ok bool, target string) bool {
	if !ok {
		return false
	}
	rep := replies.Parse(text)
	return rep.Kind == replies.KindApprove && strings.EqualFold(rep.Target, target)
}

// withdrawnApprovals splits approvals into those whose comment still says
// the same approve command and those taken back since. Approvals without a
// source (the command line, or recorded before sources were kept) stand.
func (b *Bot) withdrawnApprovals(ctx context.Context, as []state.Approval, target string) (kept, withdrawn []state.Approval, err error) {
	return b.standingApprovals(ctx, as, func(text string, ok bool) bool { return stillApproves(text, ok, target) })
}

// standingApprovals splits approvals into those whose comment, read
// again now, still stands (stands: its current text, and whether the
// server returned it) and those taken back since. Approvals without a
// source stand.
func (b *Bot) standingApprovals(ctx context.Context, as []state.Approval, stands func(text string, ok bool) bool) (kept, withdrawn []state.Approval, err error) {
	var sources []*state.Source
	for _, a := range as {
		sources = append(sources, a.Source)
	}
	texts, err := b.currentTexts(ctx, sources)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range as {
		if a.Source == nil {
			kept = append(kept, a)
			continue
		}
		text, ok := texts[a.Source.TxPHID]
		if stands(text, ok) {
			kept = append(kept, a)
		} else {
			withdrawn = append(withdrawn, a)
		}
	}
	return kept, withdrawn, nil
}

func approverNames(as []state.Approval) string {
	var names []string
	for _, a := range as {
		names = append(names, "@"+a.Username)
	}
	return strings.Join(names, ", ")
}

// checkVoluntary re-reads, before removal batch id runs, the "remove me"
// comment of each of its users who asked to go. One edited into anything
// else (or deleted) is not a request any more: the user is pending again,
// flagged for a human, and from then on waits for their deadline like
// everyone else. A comment that cannot be read stops the removal (fail
// closed).
func (b *Bot) checkVoluntary(ctx context.Context, r *run, id int) error {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	rm, err := removalByID(snap.Removals, id)
	if err != nil {
		return err
	}
	var asked []state.Finding
	var sources []*state.Source
	for _, f := range snap.Findings {
		if f.Status == state.StatusVoluntary && f.VoluntarySource != nil && inBatch(rm, f.UserPHID) {
			asked = append(asked, f)
			sources = append(sources, f.VoluntarySource)
		}
	}
	if len(asked) == 0 {
		return nil
	}
	texts, err := b.currentTexts(ctx, sources)
	if err != nil {
		return fmt.Errorf("%s: re-read \"remove me\" comments: %w", rm.Label(), err)
	}
	var gone []state.Finding
	for _, f := range asked {
		text, ok := texts[f.VoluntarySource.TxPHID]
		if !ok || replies.Parse(text).Kind != replies.KindRemoveMe {
			gone = append(gone, f)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	now := b.now().UTC()
	err = b.store.Update(r.c.Name, func(tx *state.CampaignTx) error {
		for _, g := range gone {
			f, err := tx.Finding(g.UserPHID)
			if err != nil {
				return err
			}
			if f.Status != state.StatusVoluntary {
				continue
			}
			src := f.VoluntarySource
			f.Status, f.VoluntarySource, f.UpdatedAt = state.StatusPending, nil, now
			f.NeedsHuman = append(f.NeedsHuman, fmt.Sprintf("%s: edited their \"remove me\" comment (%s) before the removal; no longer removed as voluntary", src.Task, src.TxPHID))
			if err := tx.PutFinding(f); err != nil {
				return err
			}
			if err := tx.Append(state.Entry{At: now, Kind: state.EntryVoluntaryWithdrawn, Task: src.Task, User: f.Username,
				Detail: fmt.Sprintf("%s: comment %s no longer asks to be removed; pending again, needs a human", rm.Label(), src.TxPHID)}); err != nil {
				return err
			}
			r.eventOf(ev{kind: "voluntary-withdrawn", task: src.Task, user: f.Username}, "@%s took back \"remove me\" on %s by editing the comment: pending again (needs a human)", f.Username, src.Task)
		}
		return nil
	})
	return err
}
