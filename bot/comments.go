package bot

import (
	"context"
	"fmt"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// comment posts text on a batch's task exactly once for key. record, if
// set, updates the state in the same transaction that marks it posted.
func (b *Bot) comment(ctx context.Context, r *run, bt state.Batch, key, text string, entry state.Entry, record func(*state.CampaignTx) error) (bool, error) {
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
		campaign: campaign, key: key, kind: "comment",
		find: func(ctx context.Context) (string, bool, error) {
			txs, err := b.phab.TaskTransactions(ctx, bt.TaskPHID, 0)
			if err != nil {
				return "", false, err
			}
			// Only the bot's own comment counts, and only a version the
			// bot wrote: a comment keeps every version (NOTES fact 45);
			// only its author may edit it, but an administrator may
			// remove it, which adds an empty version by the remover.
			for _, t := range txs {
				if t.AuthorPHID != r.rec.BotPHID {
					continue
				}
				for _, cm := range t.Comments {
					if cm.AuthorPHID == r.rec.BotPHID && hasMarker(cm.Raw, campaign, key) {
						return t.PHID, true, nil
					}
				}
			}
			return "", false, nil
		},
		do: func(ctx context.Context) (string, error) {
			res, err := b.phab.EditTask(ctx, bt.TaskPHID, conduit.CommentEdit(body))
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
	})
}
