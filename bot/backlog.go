package bot

import (
	"strings"
	"time"

	"github.com/auditbot/auditbot/state"
)

// Backlog is what waits on someone in one campaign, read from the state
// file alone: the daemon's gauges, so that an on-call person can alert on
// a batch nobody approves or a write nobody confirms.
type Backlog struct {
	// AwaitingApproval are the removal batches proposed and neither
	// approved nor rejected yet, since they were proposed.
	AwaitingApproval Waiting
	// ExemptionRequests are replies asking for an exemption that the
	// approvers have not decided, since they were asked.
	ExemptionRequests Waiting
	// Answers are the bot's answers to replies, recorded and not posted
	// yet (later replies on that task wait for them), since recorded.
	Answers Waiting
	// PendingWrites are every write whose intent is recorded and whose
	// outcome is not (Answers among them), since the intent.
	PendingWrites Waiting
}

// Waiting counts things that wait and says since when the oldest does.
type Waiting struct {
	Count  int
	Oldest time.Time // zero when Count is 0
}

func (w *Waiting) add(since time.Time) {
	w.Count++
	if w.Oldest.IsZero() || since.Before(w.Oldest) {
		w.Oldest = since
	}
}

// BacklogOf reads a campaign's backlog from a snapshot.
func BacklogOf(snap *state.Snapshot) Backlog {
	var b Backlog
	for _, rm := range snap.Removals {
		if rm.Status == state.RemovalProposed {
			b.AwaitingApproval.add(rm.ProposedAt)
		}
	}
	for _, f := range snap.Findings {
		if e := f.Exemption; e != nil && e.Decision == state.ExemptionPending {
			b.ExemptionRequests.add(e.RequestedAt)
		}
	}
	for _, op := range snap.Ops {
		if op.State != state.OpPending {
			continue
		}
		b.PendingWrites.add(op.CreatedAt)
		if isAnswerKey(OpKey(op.Key)) {
			b.Answers.add(op.CreatedAt)
		}
	}
	return b
}

// isAnswerKey reports whether key is the op key of the bot's answer to
// replies: the combined answer, or one reply's own answer from before
// answers were combined.
func isAnswerKey(key OpKey) bool {
	_, _, ok := parseRepliesKey(key)
	return ok || strings.HasPrefix(string(key), string(replyKey("")))
}
