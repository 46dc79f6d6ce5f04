package bot

// The conversation: every tick reads each task's new transactions and
// answers them, all the answers of one task in one comment (answers.go).
// Each transaction is decided on its own view, in order: what it says
// (replies.Parse) picks its rule, from the table of approvers' commands
// (commands.go) or of the users' own replies (userReplies, below). The
// cursor moves past a transaction only in the bbolt transaction that
// records its outcome and adds its answer to the task's combined answer,
// so a crash loses no reply and repeats no answer.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/bot/replies"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// choreReplies answers every task's new transactions. It reads the
// transactions of the tasks that changed since it last answered them, or
// where it has something to finish (an answer to post, a flood to
// report), concurrently (seen.go); the others cost nothing. A task's
// cursor moves only once its every reply is recorded and answered.
func (b *Bot) choreReplies(ctx context.Context, r *run) error {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	pending := pendingAnswers(snap.Ops)
	var phids []string
	for _, bt := range snap.Batches {
		if bt.TaskPHID != "" {
			phids = append(phids, bt.TaskPHID)
		}
	}
	tasks, err := b.read.campaignTasks(ctx, r, phids)
	if err != nil {
		// Nothing is known to be unchanged: read every task.
		b.log.Warn().Str("campaign", r.c.Name).Err(err).Msg("reading the tasks failed: reading every task's transactions")
		tasks = nil
	}
	var due []state.Batch
	var prefetch []int // indexes of due batches whose history is read at once
	cursor := map[int]state.Batch{}
	for _, bt := range snap.Batches {
		t, ok := tasks[bt.TaskPHID]
		switch {
		case bt.TaskPHID == "":
		case len(pending[bt.Index]) > 0:
			// Its earlier answers go out first, then its history is read.
			due = append(due, bt)
		case !ok || !unchangedSince(t, bt.Seen.RepliesAsOf, bt.Seen.RepliesModified) || len(bt.Flooded) > 0:
			due = append(due, bt)
			prefetch = append(prefetch, bt.Index)
			cursor[bt.Index] = bt
		}
	}
	read, readErrs := readEach(ctx, prefetch, func(ctx context.Context, i int) ([]conduit.Transaction, error) {
		return b.read.history(ctx, cursor[i].TaskPHID, cursor[i].TxCursor)
	})
	var errs []error
	var seen []seenUpdate
	for _, bt := range due {
		_, pre := cursor[bt.Index]
		txs, err := read[bt.Index], readErrs[bt.Index]
		if err != nil {
			err = fmt.Errorf("read transactions: %w", err)
		} else {
			err = b.answerTask(ctx, r, bt, pending[bt.Index], txs, pre)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", bt.Monogram(), err))
			continue
		}
		if t, ok := tasks[bt.TaskPHID]; ok {
			seen = append(seen, seenUpdate{bt: bt, task: t, replies: true})
		}
	}
	if err := b.recordSeen(r.c.Name, seen); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// answerTask handles one task's new transactions: txs if read is set
// (read after the batch's cursor this tick), else read here. A combined
// answer an earlier run recorded and did not confirm goes out first,
// exactly as recorded: its replies were decided then and are never
// decided again.
func (b *Bot) answerTask(ctx context.Context, r *run, bt state.Batch, earlier []state.Op, txs []conduit.Transaction, read bool) error {
	for _, op := range earlier {
		if err := b.postAnswer(ctx, r, bt, op); err != nil {
			// Its replies are behind the cursor already; the newer ones
			// wait so that the answers stay in order.
			return err
		}
	}
	if !read {
		var err error
		if txs, err = b.read.history(ctx, bt.TaskPHID, bt.TxCursor); err != nil {
			return fmt.Errorf("read transactions: %w", err)
		}
	}
	var key OpKey // the answer this tick's replies go into, once one has one
	var herr error
	fl := &flood{sent: map[string]int{}}
	for _, t := range txs {
		if err := b.handleTransaction(ctx, r, bt, t, &key, fl); err != nil {
			// Stop this task here: the cursor stays before t, so the
			// next tick retries it.
			herr = fmt.Errorf("transaction %d: %w", t.ID, err)
			break
		}
	}
	if herr == nil && len(fl.pending) > 0 {
		herr = b.exec.record(r, []intent{fl.recorded(bt.Index, 0)})
	}
	if herr == nil && (fl.counted || len(bt.Flooded) > 0) {
		herr = b.reportFloods(r, bt, &key)
	}
	if key == "" {
		return herr
	}
	// What was decided before a failure is answered now all the same.
	op, err := b.read.opByKey(r.rec.Name, key)
	if err != nil {
		return errors.Join(herr, err)
	}
	return errors.Join(herr, b.postAnswer(ctx, r, bt, op))
}

// turn is one transaction being decided: the task it is on, the
// transaction, and what it says (zero for a transaction that is no
// comment).
type turn struct {
	bt  state.Batch
	t   conduit.Transaction
	rep replies.Reply
}

// comment reports whether the turn is a comment with text.
func (tn *turn) comment() bool { return tn.t.Type == xactComment && commentText(tn.t) != "" }

// outcome is what the bot decided about one transaction: a state change
// and, optionally, an answer on the task.
type outcome struct {
	kind   state.EntryKind // journal kind, "" for none
	user   string
	detail string
	// change mutates the state; it runs in the transaction that moves the
	// cursor.
	change func(tx *state.CampaignTx) error
	// answer is the rendered comment, "" for none.
	answer string
	// actor is the approver whose command this is, verified as said;
	// approvers are everyone whose approval the decision rests on.
	actor, verified string
	approvers       []string
	// asksApprovers reports whether the answer asks the approvers for a
	// decision: the comment then subscribes their project.
	asksApprovers bool
	// restore, if set, is a restore the command asks for: carried out
	// before the outcome is recorded (restoreOutcome).
	restore *restoreAsk
	// sayLater, if set, reports what the change did, after it is
	// recorded and before the outcome's own line.
	sayLater func() said
}

// handleTransaction decides what one transaction means and records it:
// its outcome's state change, its journal entry and its answer, added to
// the task's combined answer *key (created here at the first answer), in
// the bbolt transaction that moves the cursor past it.
func (b *Bot) handleTransaction(ctx context.Context, r *run, bt state.Batch, t conduit.Transaction, key *OpKey, fl *flood) error {
	if legacy, err := b.read.opByKey(r.c.Name, replyKey(t.PHID)); err == nil && legacy.State == state.OpPending {
		// Answered one by one by an older auditbot that stopped before
		// recording it: finish it that way, so it is not answered twice.
		return b.handleLegacyReply(ctx, r, bt, t)
	} else if err != nil && !errors.Is(err, state.ErrNotFound) {
		return err
	}
	// Only comments count: commenting also subscribes the author, and an
	// unsubscribe is flagged once whatever its number.
	over := t.AuthorPHID != r.rec.BotPHID && t.Type == xactComment && fl.over(t.AuthorPHID)
	if over && (!isCommand(t) || r.refusesCommands(t.AuthorPHID)) {
		fl.count(t)
		return nil
	}
	o, err := b.decideTurn(ctx, r, bt, t)
	if err != nil {
		return err
	}
	if over && o.kind == state.EntryCommandRefused {
		fl.count(t)
		return nil
	}
	k := *key
	if k == "" {
		k = repliesKey(bt.Index, t.ID)
	}
	record := outcomeIntent(r, bt, t, o, k, b.now().UTC())
	if err := b.exec.record(r, []intent{record, fl.recorded(bt.Index, t.ID)}); err != nil {
		return err
	}
	if o.sayLater != nil {
		r.say(o.sayLater())
	}
	if o.kind != "" {
		who := ""
		if o.user != "" {
			who = " @" + o.user
		}
		r.eventOf(ev{kind: string(o.kind), task: bt.Monogram(), user: o.user}, "%s:%s %s (%s)", bt.Monogram(), who, o.kind, truncate(o.detail, 80))
	}
	if o.answer != "" {
		*key = k
	}
	return nil
}

// outcomeIntent records outcome o of transaction t: its journal entry,
// its state change, its answer added to combined answer k, and the
// task's cursor moved past t, all in one state change.
func outcomeIntent(r *run, bt state.Batch, t conduit.Transaction, o outcome, k OpKey, now time.Time) intent {
	rec := r.rec
	return intent{change: func(tx *state.CampaignTx, _ outcomeOf) error {
		if o.kind != "" {
			e := state.Entry{At: now, Kind: o.kind, Task: bt.Monogram(), User: o.user, Detail: o.detail,
				Actor: o.actor, Verified: o.verified, Approvers: o.approvers}
			if e.Actor == "" && o.answer != "" {
				e.Actor = rec.BotUsername
			}
			if err := tx.Append(e); err != nil {
				return err
			}
		}
		if o.change != nil {
			if err := o.change(tx); err != nil {
				return err
			}
		}
		if o.answer != "" {
			if err := addAnswer(tx, k, bt, t.ID, o.answer, o.asksApprovers, rec.ApproversPHID, now); err != nil {
				return err
			}
		}
		return advance(tx, bt.Index, t.ID)
	}}
}

// decideTurn observes what transaction t needs and decides it; a restore
// its command asks for is carried out first.
func (b *Bot) decideTurn(ctx context.Context, r *run, bt state.Batch, t conduit.Transaction) (outcome, error) {
	tn := &turn{bt: bt, t: t}
	if tn.comment() {
		tn.rep = replies.Parse(commentText(t))
	}
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return outcome{}, err
	}
	if cur, ok := batchIn(&snap, bt.Index); ok {
		// The batch as recorded now: earlier transactions of this tick
		// may have changed it (an announcement seen).
		tn.bt = cur
	}
	v, err := b.read.observe(ctx, r, snap, turnNeeds(&snap, tn))
	if err != nil {
		return outcome{}, err
	}
	o, err := decideReply(v, tn)
	if err != nil || o.restore == nil {
		return o, err
	}
	return b.restoreOutcome(ctx, r, v, tn, o)
}

// restoreOutcome carries out the restore a command asked for (a write:
// it has its own ops), then answers the command: restored, or why not.
func (b *Bot) restoreOutcome(ctx context.Context, r *run, v *view, tn *turn, o outcome) (outcome, error) {
	f, _ := v.finding(o.user)
	err := b.restore(ctx, r, f, *o.restore)
	switch {
	case err == nil:
		return o, nil
	case errors.Is(err, ErrRefused), errors.Is(err, ErrInput):
		return refusal(v, tn, err.Error())
	case errors.Is(err, conduit.ErrPermissionDenied):
		// Not transient: answering moves the cursor on, so one
		// impossible restore does not hold up every later reply.
		return refusal(v, tn, "the bot may not edit that group's membership ("+policyHint(err)+"); a person must re-add the user")
	}
	return outcome{}, err
}

// turnNeeds is what deciding tn reads: for a command, the commenter and
// the approvers' project, and what its rule needs; for a reply of a
// batch user, what its rule needs.
func turnNeeds(snap *state.Snapshot, tn *turn) needs {
	if !tn.comment() {
		return needs{}
	}
	if cmd, ok := commandFor(tn.rep); ok {
		n := needs{approvers: true, users: []string{tn.t.AuthorPHID}}
		if cmd.needs != nil {
			n = n.and(cmd.needs(snap, tn))
		}
		return n
	}
	f, ok := findingIn(snap, tn.t.AuthorPHID)
	if !ok || !tn.bt.Has(tn.t.AuthorPHID) {
		return needs{}
	}
	return userReplyFor(f, tn.rep).needs(snap, f)
}

// decideReply is the outcome of one transaction, on a view observed
// with turnNeeds.
func decideReply(v *view, tn *turn) (outcome, error) {
	switch {
	case tn.t.AuthorPHID == v.rec().BotPHID:
		// Never answer ourselves; but note where our removal
		// announcements stand in the stream.
		return announcementSeen(v.rec().Name, tn.bt.Index, tn.t), nil
	case tn.t.Type == xactSubscribers:
		return unsubscribeOutcome(v, tn), nil
	case !tn.comment():
		return outcome{}, nil
	}
	if cmd, ok := commandFor(tn.rep); ok {
		return decideCommand(v, tn, cmd)
	}
	if !tn.bt.Has(tn.t.AuthorPHID) {
		return outcome{kind: state.EntryIgnored, detail: "comment by someone outside the batch: " + tn.t.AuthorPHID}, nil
	}
	f, ok := v.findingOf(tn.t.AuthorPHID)
	if !ok {
		return outcome{}, fmt.Errorf("no finding for %s: %w", tn.t.AuthorPHID, state.ErrNotFound)
	}
	return userReplyFor(f, tn.rep).decide(v, tn, f)
}

// handleLegacyReply finishes a reply an older auditbot answered with its
// own comment (key reply/<transaction PHID>) and had not confirmed.
func (b *Bot) handleLegacyReply(ctx context.Context, r *run, bt state.Batch, t conduit.Transaction) error {
	o, err := b.decideTurn(ctx, r, bt, t)
	if err != nil {
		return err
	}
	finish := func(tx *state.CampaignTx) error {
		if o.change != nil {
			if err := o.change(tx); err != nil {
				return err
			}
		}
		return advance(tx, bt.Index, t.ID)
	}
	_, err = b.comment(ctx, r, bt, replyKey(t.PHID), o.answer, state.Entry{Kind: o.kind, User: o.user, Detail: o.detail,
		Actor: o.actor, Verified: o.verified, Approvers: o.approvers}, finish)
	return err
}

// maxRepliesPerAuthor bounds how many of one person's comments on one
// task the bot decides and answers one by one in one tick. A reply
// storm (thousands of comments) must not become one huge answer mailed to
// every subscriber, a tick of minutes and a journal of thousands of
// entries: past the bound, comments are counted, journaled once,
// acknowledged once and flagged for a human (reportFloods). Commands are
// still read one by one, so an approver's !deny is never lost in a flood;
// a command refused past the bound is counted, not answered.
const maxRepliesPerAuthor = 5

// flood is one task's tick as the bound sees it: how many transactions
// each author sent, and those counted past the bound whose count is not
// recorded yet (it is, with the next outcome recorded, or at the end).
type flood struct {
	sent    map[string]int
	pending map[string]int
	last    int  // the newest counted transaction not recorded yet
	counted bool // whether anything was counted this tick
}

// over reports whether author's next transaction is past the bound.
func (fl *flood) over(author string) bool {
	fl.sent[author]++
	return fl.sent[author] > maxRepliesPerAuthor
}

// count counts transaction t past the bound.
func (fl *flood) count(t conduit.Transaction) {
	if fl.pending == nil {
		fl.pending = map[string]int{}
	}
	fl.pending[t.AuthorPHID]++
	fl.last = max(fl.last, t.ID)
	fl.counted = true
}

// recorded is the state change that records the counts not recorded yet
// on batch, and moves its cursor past them (and to upTo, if later): it
// goes in the transaction that records the next outcome, or alone. It is
// empty when nothing was counted since.
func (fl *flood) recorded(batch, upTo int) intent {
	counted, last := fl.pending, fl.last
	fl.pending, fl.last = nil, 0
	if len(counted) == 0 {
		return intent{}
	}
	return intent{change: func(tx *state.CampaignTx, _ outcomeOf) error {
		bt, err := tx.Batch(batch)
		if err != nil {
			return err
		}
		if bt.Flooded == nil {
			bt.Flooded = map[string]int{}
		}
		for author, n := range counted {
			bt.Flooded[author] += n
		}
		bt.TxCursor = max(bt.TxCursor, last, upTo)
		return tx.PutBatch(bt)
	}}
}

// refusesCommands reports whether this tick already knows that author
// may not give commands (not an enabled approver): their commands past
// the bound are counted without being decided again.
func (r *run) refusesCommands(author string) bool {
	acct, read := r.users[author]
	if r.approvers == nil || !read {
		return false
	}
	return acct == nil || acct.IsDisabled() || !slices.Contains(r.approvers, author)
}

// isCommand reports whether t is a comment that gives a command.
func isCommand(t conduit.Transaction) bool {
	if t.Type != xactComment {
		return false
	}
	_, ok := commandFor(replies.Parse(commentText(t)))
	return ok
}

// reportFloods journals each flood recorded on bt's task once, and
// clears it: a user of the batch is flagged for a human and acknowledged
// once in the task's combined answer (*key); anyone else is journaled
// only, as an outsider's comment is.
func (b *Bot) reportFloods(r *run, bt state.Batch, key *OpKey) error {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	cur, ok := batchIn(&snap, bt.Index)
	if !ok || len(cur.Flooded) == 0 {
		return nil
	}
	v := &view{now: b.now().UTC(), c: r.c, snap: snap, words: b.words, cfg: b.cfg}
	for _, author := range slices.Sorted(maps.Keys(cur.Flooded)) {
		o, err := decideFlood(v, cur, author, cur.Flooded[author])
		if err != nil {
			return err
		}
		k := *key
		if k == "" {
			k = repliesKey(bt.Index, cur.TxCursor)
		}
		t := conduit.Transaction{ID: cur.TxCursor}
		if err := b.exec.record(r, []intent{outcomeIntent(r, bt, t, o, k, v.now)}); err != nil {
			return err
		}
		r.eventOf(ev{kind: string(o.kind), task: bt.Monogram(), user: o.user}, "%s: %s", bt.Monogram(), o.detail)
		if o.answer != "" {
			*key = k
		}
	}
	return nil
}

// decideFlood is the one outcome of n comments author wrote on bt's task
// past the bound: journaled, the count cleared, and for a user of the
// batch a flag for a human and one acknowledgement.
func decideFlood(v *view, bt state.Batch, author string, n int) (outcome, error) {
	detail := fmt.Sprintf("%d more comment(s) in one tick than the %d the bot answers from one person; counted, not read one by one", n, maxRepliesPerAuthor)
	clear := func(tx *state.CampaignTx) error {
		cur, err := tx.Batch(bt.Index)
		if err != nil {
			return err
		}
		delete(cur.Flooded, author)
		return tx.PutBatch(cur)
	}
	f, ok := v.findingOf(author)
	if !ok || !bt.Has(author) {
		return outcome{kind: state.EntryReplyFlood, detail: "comments by " + author + ": " + detail, change: clear}, nil
	}
	data := replyData(v, &f)
	data.Reason = fmt.Sprintf("you wrote %d more comments than the bot reads from one person at a time; please write one comment with what you need", n)
	text, err := v.words.render(templates.NeedsHuman, data)
	now, task := v.now, bt.Monogram()
	return outcome{kind: state.EntryReplyFlood, user: f.Username, detail: detail, answer: text,
		change: func(tx *state.CampaignTx) error {
			if err := clear(tx); err != nil {
				return err
			}
			return updateFinding(f.UserPHID, func(f *state.Finding) {
				f.NeedsHuman = append(f.NeedsHuman, fmt.Sprintf("%s: %s", task, detail))
				f.UpdatedAt = now
			})(tx)
		}}, err
}

// advance moves a batch's cursor to txID inside tx.
func advance(tx *state.CampaignTx, batch, txID int) error {
	bt, err := tx.Batch(batch)
	if err != nil {
		return err
	}
	if txID > bt.TxCursor {
		bt.TxCursor = txID
	}
	return tx.PutBatch(bt)
}

// announcementSeen records, for one of the bot's own comments that
// announces a removal batch, where it stands in this task's stream.
func announcementSeen(campaign string, batch int, t conduit.Transaction) outcome {
	for line := range strings.Lines(commentText(t)) {
		key, ok := parseMarker(line, campaign)
		if !ok {
			continue
		}
		label, step, ok := parseRemovalKey(key)
		if !ok || step != stepProposal {
			continue
		}
		return outcome{change: func(tx *state.CampaignTx) error {
			bt, err := tx.Batch(batch)
			if err != nil {
				return err
			}
			if bt.Announced == nil {
				bt.Announced = map[string]int{}
			}
			if _, ok := bt.Announced[label]; !ok {
				bt.Announced[label] = t.ID
			}
			return tx.PutBatch(bt)
		}}
	}
	return outcome{}
}

// commentText is the current text of a comment transaction: its highest
// version (Phorge lists versions newest first, fact 45), or "" once the
// comment was deleted. An older version never stands in for a deleted or
// edited one: "!approve" edited into "I withdraw my approval" is a
// withdrawal.
func commentText(t conduit.Transaction) string {
	c, ok := t.CurrentComment()
	if !ok || c.Removed {
		return ""
	}
	return c.Raw
}

// unsubscribeOutcome flags a batch user who removed themself from the task.
// Their finding stays pending: unsubscribing does not stop the process.
func unsubscribeOutcome(v *view, tn *turn) outcome {
	t := tn.t
	self := slices.ContainsFunc(t.Operations, func(op conduit.Operation) bool {
		return op.Operation == "remove" && op.PHID == t.AuthorPHID
	})
	if !self || !tn.bt.Has(t.AuthorPHID) {
		return outcome{}
	}
	var flagged *state.Finding
	now, task := v.now, tn.bt.Monogram()
	// No kind: change journals the entry itself, with the username, and
	// only the first time; a kind here would add a second, nameless one.
	return outcome{
		change: func(tx *state.CampaignTx) error {
			f, err := tx.Finding(t.AuthorPHID)
			if err != nil || f.Unsubscribed {
				return err
			}
			f.Unsubscribed, f.UpdatedAt = true, now
			flagged = &f
			if err := tx.PutFinding(f); err != nil {
				return err
			}
			return tx.Append(state.Entry{At: now, Kind: state.EntryUnsubscribed, Task: task, User: f.Username, Detail: "flagged; the finding stays " + string(f.Status)})
		},
		sayLater: func() said {
			if flagged == nil {
				return said{}
			}
			return said{ev{kind: "unsubscribed", task: task, user: flagged.Username}, fmt.Sprintf("@%s unsubscribed from %s (flagged; still %s)", flagged.Username, task, flagged.Status)}
		},
	}
}

// A userReply is the rule for one kind of reply from a batch's own user:
// what it reads, and what it decides.
type userReply struct {
	needs  func(snap *state.Snapshot, f state.Finding) needs
	decide func(v *view, tn *turn, f state.Finding) (outcome, error)
}

// userReplies are the rules for the replies of a batch's users, by kind;
// any other kind needs a human.
var userReplies = map[replies.Kind]userReply{
	replies.KindClaimCompliance: {needs: claimNeeds, decide: decideClaim},
	replies.KindRestoreRequest:  {needs: claimNeeds, decide: decideClaim},
	replies.KindRemoveMe:        {decide: decideRemoveMe},
	replies.KindExemption:       {decide: decideExemptionRequest},
}

// userReplyFor picks the rule for a reply of f's user. On inactivity and
// reconfirmation a reply is itself what keeps access.
func userReplyFor(f state.Finding, rep replies.Reply) userReply {
	if keeps := replyKeeps(f, rep.Kind); len(keeps) > 0 {
		return userReply{
			needs: func(_ *state.Snapshot, f state.Finding) needs { return unmetNeeds(withKeeps(f, keeps, state.Keep{})) },
			decide: func(v *view, tn *turn, f state.Finding) (outcome, error) {
				return keepOutcome(v, tn, f, keeps, nil, nil)
			},
		}
	}
	if ur, ok := userReplies[rep.Kind]; ok {
		if ur.needs == nil {
			ur.needs = func(*state.Snapshot, state.Finding) needs { return needs{} }
		}
		return ur
	}
	return userReply{needs: func(*state.Snapshot, state.Finding) needs { return needs{} }, decide: decideNeedsHuman}
}

// replyData is what every answer to f's user shows.
func replyData(v *view, f *state.Finding) templates.ReplyData {
	return templates.ReplyData{Campaign: v.words.userCampaignData(v.c, v.rec(), f), Person: person(f), Groups: groupNames(v.rec(), f.Groups), Reasons: f.Reasons}
}

// claimNeeds is what re-verifying a claim reads: the account and its
// criteria, live.
func claimNeeds(_ *state.Snapshot, f state.Finding) needs { return unmetNeeds(f) }

// decideClaim answers "done" (or, from a removed user, "please restore
// me"): never trusted, checked against Phabricator. A removed user who
// complies now asks the approvers to restore them.
func decideClaim(v *view, tn *turn, f state.Finding) (outcome, error) {
	kind := tn.rep.Kind
	if kind == replies.KindClaimCompliance && f.Status == state.StatusRemoved {
		kind = replies.KindRestoreRequest
	}
	if kind == replies.KindRestoreRequest && f.Status != state.StatusRemoved {
		kind = replies.KindClaimCompliance
	}
	data := replyData(v, &f)
	ok, left := v.unmet(f)
	data.Remaining = reasonsText(left)
	now := v.now
	switch {
	case !ok:
		text, err := v.words.render(templates.ClaimRejected, data)
		return outcome{kind: state.EntryClaimRejected, user: f.Username, detail: "claimed compliance; still non-compliant", answer: text}, err
	case kind == replies.KindRestoreRequest:
		text, err := v.words.render(templates.RestoreRequested, data)
		return outcome{kind: state.EntryRestoreRequested, user: f.Username, detail: "verified compliant; waiting for an approver's !restore",
			change: updateFinding(f.UserPHID, func(f *state.Finding) { f.RestoreRequested, f.UpdatedAt = true, now }), answer: text, asksApprovers: true}, err
	}
	text, err := v.words.render(templates.ComplianceThanks, data)
	o := outcome{kind: state.EntryClaimVerified, user: f.Username, detail: "verified compliant", answer: text}
	if f.Status == state.StatusPending || f.Status == state.StatusVoluntary {
		o.change = updateFinding(f.UserPHID, func(f *state.Finding) { f.Status, f.UpdatedAt = state.StatusCompliant, now })
	}
	return o, err
}

// decideRemoveMe answers "please remove me". The comment is kept so that
// an edit taking the request back before the removal runs is seen
// (decideVoluntaryWithdrawn).
func decideRemoveMe(v *view, tn *turn, f state.Finding) (outcome, error) {
	text, err := v.words.render(templates.VoluntaryAck, replyData(v, &f))
	o := outcome{kind: state.EntryVoluntary, user: f.Username, detail: "asked to be removed", answer: text}
	if f.Status == state.StatusPending || f.Status == state.StatusCompliant || f.Status == state.StatusExempt {
		now, src := v.now, sourceOf(tn.bt, tn.t)
		o.change = updateFinding(f.UserPHID, func(f *state.Finding) {
			f.Status, f.UpdatedAt, f.VoluntarySource = state.StatusVoluntary, now, src
		})
	}
	return o, err
}

// decideExemptionRequest records an exemption request for the approvers
// to decide. A denied request is not reopened by asking again, which
// would hold the user back from removal indefinitely: a person looks at
// it.
func decideExemptionRequest(v *view, tn *turn, f state.Finding) (outcome, error) {
	rep, now, data := tn.rep, v.now, replyData(v, &f)
	if e := f.Exemption; e != nil && e.Decision == state.ExemptionDenied {
		data.Reason = fmt.Sprintf("your exemption request was already denied by @%s; a person will look at this new one", e.DecidedBy)
		text, err := v.words.render(templates.NeedsHuman, data)
		return outcome{kind: state.EntryNeedsHuman, user: f.Username, detail: "exemption asked again after a denial: " + truncate(rep.Reason, 200), answer: text,
			change: updateFinding(f.UserPHID, func(f *state.Finding) {
				f.NeedsHuman = append(f.NeedsHuman, fmt.Sprintf("%s: exemption asked again after a denial: %s", tn.bt.Monogram(), truncate(rep.Reason, 300)))
				f.UpdatedAt = now
			})}, err
	}
	data.Reason = rep.Reason
	data.Required = requiredFor(v.rec(), f.Groups)
	if !rep.Until.IsZero() {
		data.Until = rep.Until.Format("2006-01-02")
	}
	text, err := v.words.render(templates.ExemptionRequested, data)
	return outcome{kind: state.EntryExemptionRequested, user: f.Username, detail: rep.Reason, answer: text, asksApprovers: true,
		change: updateFinding(f.UserPHID, func(f *state.Finding) {
			// A granted exemption stays on record and in force until
			// this request is decided; denying it leaves the grant.
			f.RequestExemption(state.Exemption{Reason: rep.Reason, Until: rep.Until, RequestedAt: now, Decision: state.ExemptionPending})
			f.UpdatedAt = now
		})}, err
}

// decideNeedsHuman answers what the bot cannot decide: a person will.
func decideNeedsHuman(v *view, tn *turn, f state.Finding) (outcome, error) {
	text, err := v.words.render(templates.NeedsHuman, replyData(v, &f))
	now, task, said := v.now, tn.bt.Monogram(), truncate(tn.rep.Text, 300)
	return outcome{kind: state.EntryNeedsHuman, user: f.Username, detail: said, answer: text,
		change: updateFinding(f.UserPHID, func(f *state.Finding) {
			f.NeedsHuman = append(f.NeedsHuman, fmt.Sprintf("%s: %s", task, said))
			f.UpdatedAt = now
		})}, err
}

// unmetNeeds is what unmet reads: f's account, and f's criteria, live.
func unmetNeeds(f state.Finding) needs {
	return needs{users: []string{f.UserPHID}, live: []state.Finding{f}}
}

// unmet reports whether f's user now meets every criterion they were
// found by, keeps applied, and has an enabled account, also returning the
// reasons still unmet (v observed with unmetNeeds).
func (v *view) unmet(f state.Finding) (bool, []string) {
	u, ok := v.users[f.UserPHID]
	// An account the campaign disabled itself (action disable) is
	// expected to be disabled: restoring it is what enables it again.
	byUs := f.Disabled && !slices.Contains(f.Reasons, reasonDisabled)
	if !ok || (u.IsDisabled() && !byUs) {
		return false, []string{reasonDisabled}
	}
	var left []string
	for _, rs := range f.Reasons {
		if _, bad := v.live[rs][f.UserPHID]; bad && !keptFor(f, rs) {
			left = append(left, rs)
		}
	}
	return len(left) == 0, left
}

// requiredFor is how many distinct approvers a decision about these groups
// needs: the most any of their risk levels asks for.
func requiredFor(rec *state.Campaign, groups []string) int {
	var risks []string
	for _, gp := range groups {
		if g, ok := rec.GroupByPHID(gp); ok {
			risks = append(risks, g.Risk)
		}
	}
	return approvalsFor(risks)
}

// updateFinding returns a change that edits one finding.
func updateFinding(userPHID string, edit func(*state.Finding)) func(*state.CampaignTx) error {
	return func(tx *state.CampaignTx) error {
		f, err := tx.Finding(userPHID)
		if err != nil {
			return err
		}
		edit(&f)
		return tx.PutFinding(f)
	}
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
