package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/auditbot/auditbot/state"
)

// posts are the comments a decider posts on batches' tasks (reminders,
// announcements, summaries), in order, with what the tick says of each
// one posted. A batch whose task is not filed yet gets no comment but an
// error: the chore fails for this tick, so nothing that waits on the
// comments is marked done, and they are decided again next tick.
type posts struct {
	ins    []intent
	noTask []error
	// keys are the op keys of every comment decided, posted or not.
	keys map[OpKey]bool
}

// post adds the comment text on bt's task, once for key (commentIntent).
func (p *posts) post(rec *state.Campaign, bt state.Batch, key OpKey, text string, entry state.Entry, s said) {
	if p.keys == nil {
		p.keys = map[OpKey]bool{}
	}
	p.keys[key] = true
	if bt.TaskPHID == "" {
		p.noTask = append(p.noTask, fmt.Errorf("batch %d has no task yet", bt.Index))
		return
	}
	in := commentIntent(rec, bt, key, text, entry, nil)
	in.said = s
	p.ins = append(p.ins, in)
}

// postAll posts p's comments, each exactly once (applyAll), and fails
// for the batches without a task; one failure does not stop the others.
func (b *Bot) postAll(ctx context.Context, r *run, p posts) error {
	return errors.Join(b.exec.applyAll(ctx, r, p.ins), errors.Join(p.noTask...))
}
