package bot

import (
	"context"
	"fmt"

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
