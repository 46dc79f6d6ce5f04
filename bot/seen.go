package bot

// A tick that costs what changed. Every tick reads the campaign's tasks
// in one maniphest.search per 100 (campaignTasks): their policies and
// assignee, and their dateModified. A task's subscribers (the guard) and
// its transactions (the replies) are read again only if the task changed
// since the bot last read them, or the bot expects something there (an
// answer to post, a flood to report): state.TaskSeen is the cursor.
//
// Every change that matters moves the task's dateModified to the
// server's clock (NOTES fact 47): a comment, a subscriber, policy or
// assignee edit, the bot's own writes. An edited comment does not (fact
// 48): the bot never relies on text others can edit, and reads again by
// their PHIDs the comments it counts (currentTexts) right before acting.
// Membership of the team or the approvers' project is no task change
// either: it is read every tick (liveMembers) and the guard checks the
// recorded subscribers against it.
//
// The clock a read is "as of" is the server's own: the HTTP Date header
// of the maniphest.search page that carried the task (conduit.Task's
// ReadAt), less clockSlack. A read made after that page sees every change
// made before it, and a change made after it has a dateModified at or
// after ReadAt. The bot's clock is never compared with the server's.
// The Date header may come from another clock than dateModified (a front
// proxy, a web node running ahead): a task is unchanged only if its
// dateModified is also still the one the last read saw
// (TaskSeen.SubscribersModified, RepliesModified), so a cursor set
// ahead by such a header never hides a change.

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// clockSlack is how much earlier than the server's Date header a read is
// taken to be "as of". It covers a write whose dateModified PHP took
// (time(), on whichever web node wrote) before its database transaction
// committed, and web nodes whose clocks disagree a little. A task changed
// within it before a read is read once more on the next tick.
const clockSlack = time.Minute

// readConcurrency bounds how many independent reads of a chore (one per
// changed task) are in flight at once; the Conduit client's rate limiter
// still spaces every request.
const readConcurrency = conduit.DefaultConcurrency

// asOf is the time a read of t's subscribers or transactions, made after
// t was read, counts as of: every change made after it has a dateModified
// at or after it. Zero when the server's clock is unknown (an answer
// without a Date header): then nothing is known to be unchanged.
func asOf(t conduit.Task) time.Time {
	if t.ReadAt.IsZero() {
		return time.Time{}
	}
	return t.ReadAt.Add(-clockSlack)
}

// unchangedSince reports whether t, as read this tick, is known not to
// have changed since a read as of at, when its dateModified was
// modified: its dateModified is still modified, and before at. The
// first holds whatever clock the Date header came from (a front whose
// clock runs ahead would put at in the future); the second catches a
// change made in the same second as the one before. A zero time on
// either side means unknown: changed.
func unchangedSince(t conduit.Task, at, modified time.Time) bool {
	return !at.IsZero() && !t.ReadAt.IsZero() && !t.DateModified.IsZero() && t.DateModified.Equal(modified) && t.DateModified.Before(at)
}

// seenOf is the cursor of the task of bt (the standing task: its batch 0
// stand-in, standingBatch, carries the campaign's; the policy task: its
// stand-in, policyTaskBatch, carries the PolicyTask's).
func seenOf(rec *state.Campaign, bt state.Batch) state.TaskSeen {
	switch {
	case bt.TaskPHID != "" && bt.TaskPHID == rec.StandingTaskPHID && bt.Index == 0:
		return rec.StandingSeen
	case isPolicyTask(rec, bt):
		return rec.PolicyTask.Seen
	}
	return bt.Seen
}

// isPolicyTask says whether bt stands for the campaign's policy task.
func isPolicyTask(rec *state.Campaign, bt state.Batch) bool {
	return bt.Index == policyBatch && rec.PolicyTask != nil && bt.TaskPHID == rec.PolicyTask.TaskPHID
}

// seenUpdate is one task's cursor moved forward, once the tick's work
// that rests on the read is recorded.
type seenUpdate struct {
	bt   state.Batch
	task conduit.Task
	// subscribers, if subscribersRead, is the complete list read.
	subscribers     []string
	subscribersRead bool
	replies         bool
}

// recordSeen moves the cursors of ups forward in one bbolt transaction.
// A cursor only moves forward: a later time never gives way to an
// earlier one.
func (b *Bot) recordSeen(campaign string, ups []seenUpdate) error {
	ups = slices.DeleteFunc(slices.Clone(ups), func(u seenUpdate) bool { return asOf(u.task).IsZero() })
	if len(ups) == 0 {
		return nil
	}
	return b.store.Update(campaign, func(tx *state.CampaignTx) error {
		rec := tx.Campaign()
		for _, u := range ups {
			if u.bt.Index == 0 && u.bt.TaskPHID == rec.StandingTaskPHID {
				rec.StandingSeen = u.moved(rec.StandingSeen)
				if err := tx.PutCampaign(rec); err != nil {
					return err
				}
				continue
			}
			if u.bt.Index == policyBatch {
				if isPolicyTask(&rec, u.bt) {
					rec.PolicyTask.Seen = u.moved(rec.PolicyTask.Seen)
					if err := tx.PutCampaign(rec); err != nil {
						return err
					}
				}
				continue
			}
			cur, err := tx.Batch(u.bt.Index)
			if err != nil {
				return err
			}
			if cur.TaskPHID != u.task.PHID {
				continue
			}
			cur.Seen = u.moved(cur.Seen)
			if err := tx.PutBatch(cur); err != nil {
				return err
			}
		}
		return nil
	})
}

// moved is s with u's reads recorded.
func (u seenUpdate) moved(s state.TaskSeen) state.TaskSeen {
	at := asOf(u.task)
	if u.task.DateModified.After(s.Modified) {
		s.Modified = u.task.DateModified
	}
	// A read counts if it is later by the Date header or by the task's
	// dateModified (a Date header that ran ahead once must not keep
	// later reads from being recorded).
	newer := func(asOf, modified time.Time) bool {
		return at.After(asOf) || u.task.DateModified.After(modified)
	}
	if u.subscribersRead && newer(s.SubscribersAsOf, s.SubscribersModified) {
		s.Subscribers, s.SubscribersAsOf, s.SubscribersModified = slices.Clone(u.subscribers), at, u.task.DateModified
	}
	if u.replies && newer(s.RepliesAsOf, s.RepliesModified) {
		s.RepliesAsOf, s.RepliesModified = at, u.task.DateModified
	}
	return s
}

// readEach calls read for each of keys, at most readConcurrency at once,
// and returns each one's result or error: one failing read does not keep
// the others from being made.
func readEach[K comparable, T any](ctx context.Context, keys []K, read func(ctx context.Context, k K) (T, error)) (map[K]T, map[K]error) {
	out, errs := make(map[K]T, len(keys)), map[K]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, readConcurrency)
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			v, err := read(ctx, k)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[k] = err
			} else {
				out[k] = v
			}
		}()
	}
	wg.Wait()
	return out, errs
}
