package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// The answers to the replies read on a task in one tick go into one
// comment, so that a busy task mails its subscribers once per tick rather
// than once per reply. The comment is one exactly-once op (repliesKey)
// whose args hold the covered transactions and the full text. Each
// transaction's outcome is recorded, its answer added to that text and the
// cursor moved past it in one bbolt transaction, before anything is
// posted; the text is then posted as recorded. After a crash the op is
// reconciled by its marker and, if it had not landed, the recorded text is
// posted: a reply is never decided twice, and never answered twice.
//
// The op's Attempts count the posts tried: 0 means it was never sent, so
// Phabricator need not be asked about it.

// answerSeparator sits between two answers in one comment: a Remarkup
// horizontal rule.
const answerSeparator = "\n\n---\n\n"

// addAnswer adds the answer to transaction txID to the combined answer key
// inside tx, creating it at the first answer. approvers reports whether the
// answer asks the approvers' project (approversPHID) for a decision: the
// comment then subscribes it, so that its members can read the task.
func addAnswer(tx *state.CampaignTx, key OpKey, bt state.Batch, txID int, text string, approvers bool, approversPHID string, now time.Time) error {
	op, err := tx.Op(string(key))
	switch {
	case errors.Is(err, state.ErrNotFound):
		op = state.Op{Key: string(key), Kind: state.OpComment, State: state.OpPending, CreatedAt: now, Args: map[string]string{argTask: bt.TaskPHID}}
	case err != nil:
		return err
	case op.State != state.OpPending || op.Attempts > 0:
		// Never add to a text that may already be on the task.
		return fmt.Errorf("answer %s was already sent; not adding transaction %d", key, txID)
	}
	if op.Args == nil {
		op.Args = map[string]string{argTask: bt.TaskPHID}
	}
	text = strings.TrimSpace(text)
	if prev := op.Args[argText]; prev != "" {
		text = prev + answerSeparator + text
	}
	op.Args[argText] = text
	ids := strconv.Itoa(txID)
	if prev := op.Args[argXacts]; prev != "" {
		ids = prev + "," + ids
	}
	op.Args[argXacts] = ids
	if approvers && approversPHID != "" {
		op.Args[argSubscribe] = approversPHID
		if err := markApproversSubscribed(tx, bt.Index); err != nil {
			return err
		}
	}
	return tx.PutOp(op)
}

// pendingAnswers groups the combined answers not yet confirmed by batch,
// oldest first.
func pendingAnswers(ops []state.Op) map[int][]state.Op {
	out := map[int][]state.Op{}
	for _, op := range ops {
		batch, _, ok := parseRepliesKey(OpKey(op.Key))
		if ok && op.State == state.OpPending {
			out[batch] = append(out[batch], op)
		}
	}
	for _, list := range out {
		slices.SortFunc(list, func(a, b state.Op) int {
			_, x, _ := parseRepliesKey(OpKey(a.Key))
			_, y, _ := parseRepliesKey(OpKey(b.Key))
			return x - y
		})
	}
	return out
}

// postAnswer posts a recorded combined answer exactly as recorded, unless
// an earlier attempt landed, and marks it done. Its replies' outcomes were
// journaled when they were decided.
func (b *Bot) postAnswer(ctx context.Context, r *run, bt state.Batch, op state.Op) error {
	if _, err := b.exec.apply(ctx, r.rec.Name, answerIntent(bt, op)); err != nil {
		return err
	}
	n := len(strings.Split(op.Args[argXacts], ","))
	r.eventOf(ev{kind: "answered", task: bt.Monogram()}, "%s: answered %d %s in one comment", bt.Monogram(), n, plural(n, "reply", "replies"))
	return nil
}

// answerIntent is the intent to post the combined answer recorded in op.
func answerIntent(bt state.Batch, op state.Op) intent {
	task := op.Args[argTask]
	if task == "" {
		task = bt.TaskPHID
	}
	var extra []conduit.Edit
	if p := op.Args[argSubscribe]; p != "" {
		// In the same edit: the approvers see the task from the moment
		// it asks them for something (approversEdits).
		extra = append(extra, conduit.AddSubscribersEdit(p))
	}
	return intent{key: OpKey(op.Key), kind: state.OpComment, write: comment(task, op.Args[argText], extra...),
		unjournaled: true, args: op.Args}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// markApproversSubscribed records, with the intent of an edit that
// subscribes the approvers' project to batch index's task, that the bot
// subscribes them there (checkAccess allows them from then on).
func markApproversSubscribed(tx *state.CampaignTx, index int) error {
	cur, err := tx.Batch(index)
	if err != nil || cur.ApproversSubscribed {
		return err
	}
	cur.ApproversSubscribed = true
	return tx.PutBatch(cur)
}

// approversEdits subscribes the approvers' project, in the edit of a
// comment that asks them for a decision.
func approversEdits(rec *state.Campaign) []conduit.Edit {
	if rec.ApproversPHID == "" {
		return nil
	}
	return []conduit.Edit{conduit.AddSubscribersEdit(rec.ApproversPHID)}
}
