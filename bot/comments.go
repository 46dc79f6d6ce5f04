package bot

import (
	"context"
	"fmt"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// comment posts text on a batch's task exactly once for key. record, if
// set, updates the state in the same transaction that marks it posted.
func (b *Bot) comment(ctx context.Context, r *run, bt state.Batch, key OpKey, text string, entry state.Entry, record func(*state.CampaignTx) error) (bool, error) {
	return b.commentWith(ctx, r, bt, key, text, entry, record)
}

// commentWith is comment with more edits in the same maniphest.edit, such
// as subscribing the approvers' project when the comment asks them for a
// decision. Only the comment's marker is looked for after a crash: the
// edit is one transaction group, so the rest landed with it.
func (b *Bot) commentWith(ctx context.Context, r *run, bt state.Batch, key OpKey, text string, entry state.Entry, record func(*state.CampaignTx) error, extra ...conduit.Edit) (bool, error) {
	if bt.TaskPHID == "" {
		return false, fmt.Errorf("batch %d has no task yet", bt.Index)
	}
	campaign := r.rec.Name
	body := withMarker(text, campaign, key)
	entry.Task = bt.Monogram()
	if entry.Actor == "" {
		entry.Actor = r.rec.BotUsername
	}
	return b.once(ctx, effect{
		campaign: campaign, key: key, kind: state.OpComment,
		find: func(ctx context.Context) (string, bool, error) {
			return b.findComment(ctx, &r.rec, bt.TaskPHID, key)
		},
		do: func(ctx context.Context) (string, error) {
			res, err := b.phab.EditTask(ctx, bt.TaskPHID, append([]conduit.Edit{conduit.CommentEdit(body)}, extra...)...)
			if err != nil {
				return "", err
			}
			if len(res.TransactionPHIDs) > 0 {
				return res.TransactionPHIDs[0], nil
			}
			return "", nil
		},
		record: func(tx *state.CampaignTx, _ string) error {
			if record != nil {
				return record(tx)
			}
			return nil
		},
		entry: entry,
		// The task, so that a reminder superseded before its outcome
		// was recorded can still be looked for (closeStaleComments).
		args: map[string]string{argTask: bt.TaskPHID},
	})
}
