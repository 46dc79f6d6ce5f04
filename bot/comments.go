package bot

import (
	"context"
	"fmt"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// commentIntent is the intent to post text on bt's task once for key,
// with extra edits in the same maniphest.edit (such as subscribing the
// approvers' project when the comment asks them for a decision: only the
// comment's marker is looked for after a crash, and the edit is one
// transaction group, so the rest landed with it). change, if set, updates
// the state in the transaction that marks it posted.
func commentIntent(rec *state.Campaign, bt state.Batch, key OpKey, text string, entry state.Entry, change func(*state.CampaignTx) error, extra ...conduit.Edit) intent {
	entry.Task = bt.Monogram()
	if entry.Actor == "" {
		entry.Actor = rec.BotUsername
	}
	in := intent{key: key, kind: state.OpComment, write: comment(bt.TaskPHID, text, extra...), entry: entry,
		// The task, so that a reminder superseded before its outcome
		// was recorded can still be looked for (closeStaleComments).
		args: map[string]string{argTask: bt.TaskPHID}}
	if change != nil {
		in.change = func(tx *state.CampaignTx, _ outcomeOf) error { return change(tx) }
	}
	return in
}

// comment posts text on a batch's task exactly once for key (see
// commentIntent).
func (b *Bot) comment(ctx context.Context, r *run, bt state.Batch, key OpKey, text string, entry state.Entry, change func(*state.CampaignTx) error, extra ...conduit.Edit) (bool, error) {
	if bt.TaskPHID == "" {
		return false, fmt.Errorf("batch %d has no task yet", bt.Index)
	}
	return b.exec.apply(ctx, r.rec.Name, commentIntent(&r.rec, bt, key, text, entry, change, extra...))
}
