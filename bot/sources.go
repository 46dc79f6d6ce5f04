package bot

import (
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
