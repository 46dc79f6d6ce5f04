package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/auditbot/auditbot/state"
)

// markerPrefix starts the last line of every text the bot writes. The line
// names the campaign and the op key, so after a crash the bot can find its
// own earlier writes in Phabricator and never write them twice.
const markerPrefix = "auditbot-marker:"

// marker is the line appended to a text written for op key.
func marker(campaign, key string) string {
	return markerPrefix + " " + campaign + "/" + key
}

// withMarker appends the marker line to a rendered text.
func withMarker(text, campaign, key string) string {
	return strings.TrimRight(text, "\n") + "\n\n" + marker(campaign, key)
}

// hasMarker reports whether text carries the marker for key.
func hasMarker(text, campaign, key string) bool {
	m := marker(campaign, key)
	for line := range strings.Lines(text) {
		if strings.TrimSpace(line) == m {
			return true
		}
	}
	return false
}

// effect is one side effect done exactly once.
type effect struct {
	campaign string
	key      string
	kind     string
	// find asks Phabricator whether the effect already happened (used when
	// an earlier run recorded the intent but not the outcome). It returns
	// the result and true if so.
	find func(ctx context.Context) (string, bool, error)
	// do performs the effect and returns a result to record (e.g. a PHID).
	do func(ctx context.Context) (string, error)
	// record updates the state once the effect is known to have happened,
	// in the same transaction that marks the op done.
	record func(tx *state.CampaignTx, result string) error
	// entry is the journal line written with the outcome.
	entry state.Entry
	// amend, if set, completes the entry with what is known only after
	// the effect (the task monogram, who was removed); it runs after record.
	amend func(e *state.Entry)
	// subjects are recorded with the intent (see state.Op.Subjects).
	subjects []string
}

// once performs e exactly once across crashes: check, record intent, act,
// record outcome. It reports whether the effect was performed by this call
// (false when it had happened before).
func (b *Bot) once(ctx context.Context, e effect) (bool, error) {
	var op state.Op
	err := b.store.View(e.campaign, func(tx *state.CampaignTx) error {
		var err error
		op, err = tx.Op(e.key)
		return err
	})
	switch {
	case err == nil && op.State == state.OpDone:
		return false, nil
	case err == nil && op.State == state.OpPending && e.find != nil:
		// An earlier run recorded the intent and then stopped: ask
		// Phabricator whether the write landed before writing again.
		result, found, ferr := e.find(ctx)
		if ferr != nil {
			return false, fmt.Errorf("reconcile %s: %w", e.key, ferr)
		}
		if found {
			b.log.Info().Str("campaign", e.campaign).Str("op", e.key).Msg("reconciled: earlier write found in Phabricator")
			return false, b.finish(e, op, result, "reconciled")
		}
	case err != nil && !errors.Is(err, state.ErrNotFound):
		return false, err
	}

	if err == nil {
		op.Attempts++
	} else {
		op = state.Op{Key: e.key, Kind: e.kind, CreatedAt: b.now().UTC(), Attempts: 1}
	}
	op.State = state.OpPending
	op.Subjects = e.subjects
	if err := b.store.Update(e.campaign, func(tx *state.CampaignTx) error { return tx.PutOp(op) }); err != nil {
		return false, fmt.Errorf("record intent %s: %w", e.key, err)
	}
	result, err := e.do(ctx)
	if err != nil {
		// The op stays pending; the next run reconciles before retrying.
		return false, fmt.Errorf("%s: %w", e.key, err)
	}
	return true, b.finish(e, op, result, "")
}

func (b *Bot) finish(e effect, op state.Op, result, how string) error {
	op.State = state.OpDone
	op.DoneAt = b.now().UTC()
	op.Result = result
	entry := e.entry
	entry.At = op.DoneAt
	if entry.Kind == "" {
		entry.Kind = e.kind
	}
	if how != "" {
		entry.Detail = strings.TrimSpace(entry.Detail + " (" + how + ")")
	}
	err := b.store.Update(e.campaign, func(tx *state.CampaignTx) error {
		if e.record != nil {
			if err := e.record(tx, result); err != nil {
				return err
			}
		}
		if err := tx.PutOp(op); err != nil {
			return err
		}
		if e.amend != nil {
			e.amend(&entry)
		}
		return tx.Append(entry)
	})
	if err != nil {
		return fmt.Errorf("record outcome %s: %w", e.key, err)
	}
	return nil
}

// journal appends one entry outside any op.
func (b *Bot) journal(campaign string, e state.Entry) error {
	if e.At.IsZero() {
		e.At = b.now().UTC()
	}
	return b.store.Update(campaign, func(tx *state.CampaignTx) error { return tx.Append(e) })
}
