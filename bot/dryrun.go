package bot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditbot/auditbot/conduit"
)

// DryRun wraps a Phabricator so that its four writes are logged with their
// full payload and not sent. It is the one place dry-run is enforced: no
// write path in the bot checks a flag. Tasks it pretends to create are
// remembered so that reading them back (policy verification, replies)
// behaves as if they existed.
func DryRun(p Phabricator, log zerolog.Logger) Phabricator {
	return &dryRun{Phabricator: p, log: log, tasks: map[string]conduit.Task{}}
}

type dryRun struct {
	Phabricator
	log zerolog.Logger

	mu    sync.Mutex
	next  int
	tasks map[string]conduit.Task
}

// Unwrap returns the Phabricator behind the dry-run, for reads that must
// look like writes (the pre-flight edit probe, a no-op by construction).
func (d *dryRun) Unwrap() Phabricator { return d.Phabricator }

func (d *dryRun) CreateTask(ctx context.Context, spec conduit.TaskSpec) (conduit.EditResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.next++
	phid := fmt.Sprintf("PHID-TASK-dryrun%014d", d.next)
	d.tasks[phid] = conduit.Task{ID: -d.next, PHID: phid, Title: spec.Title, Description: spec.Description,
		ViewPolicy: spec.ViewPolicy, EditPolicy: spec.EditPolicy, DateCreated: time.Now()}
	d.log.Info().Str("write", "maniphest.edit").Str("title", spec.Title).Strs("subscribers", spec.SubscriberPHIDs).
		Strs("projects", spec.ProjectPHIDs).Str("view", spec.ViewPolicy).Str("edit", spec.EditPolicy).
		Str("description", spec.Description).Msg("dry-run: would create task")
	return conduit.EditResult{ObjectID: -d.next, ObjectPHID: phid}, nil
}

func (d *dryRun) EditTask(ctx context.Context, identifier string, edits ...conduit.Edit) (conduit.EditResult, error) {
	for _, e := range edits {
		d.log.Info().Str("write", "maniphest.edit").Str("task", identifier).Str("type", e.Type).Interface("value", e.Value).Msg("dry-run: would edit task")
	}
	return conduit.EditResult{ObjectPHID: identifier}, nil
}

func (d *dryRun) EditProjectMembers(ctx context.Context, projectPHID string, add, remove []string) (conduit.EditResult, error) {
	d.log.Info().Str("write", "project.edit").Str("project", projectPHID).Strs("add", add).Strs("remove", remove).Msg("dry-run: would edit members")
	return conduit.EditResult{ObjectPHID: projectPHID}, nil
}

func (d *dryRun) EditProjectPolicy(ctx context.Context, projectPHID, which, policy string) (conduit.EditResult, error) {
	d.log.Info().Str("write", "project.edit").Str("project", projectPHID).Str("type", which).Str("value", policy).Msg("dry-run: would set policy")
	return conduit.EditResult{ObjectPHID: projectPHID}, nil
}

func (d *dryRun) SetUserDisabled(ctx context.Context, userPHID string, disabled bool) (conduit.EditResult, error) {
	d.log.Info().Str("write", "user.edit").Str("user", userPHID).Bool("disabled", disabled).Msg("dry-run: would disable or enable account")
	return conduit.EditResult{ObjectPHID: userPHID}, nil
}

func (d *dryRun) SearchTasks(ctx context.Context, q conduit.TaskQuery) ([]conduit.Task, error) {
	var fake []conduit.Task
	var real []string
	d.mu.Lock()
	for _, p := range q.PHIDs {
		if t, ok := d.tasks[p]; ok {
			fake = append(fake, t)
		} else {
			real = append(real, p)
		}
	}
	d.mu.Unlock()
	if len(q.PHIDs) > 0 && len(real) == 0 {
		return fake, nil
	}
	q.PHIDs = real
	got, err := d.Phabricator.SearchTasks(ctx, q)
	return append(fake, got...), err
}

func (d *dryRun) TaskTransactions(ctx context.Context, objectPHID string, afterID int) ([]conduit.Transaction, error) {
	d.mu.Lock()
	_, fake := d.tasks[objectPHID]
	d.mu.Unlock()
	if fake {
		return nil, nil
	}
	return d.Phabricator.TaskTransactions(ctx, objectPHID, afterID)
}

func (d *dryRun) TaskSubscribers(ctx context.Context, taskID int) ([]string, error) {
	d.mu.Lock()
	for _, t := range d.tasks {
		if t.ID == taskID {
			d.mu.Unlock()
			return t.SubscriberPHIDs, nil
		}
	}
	d.mu.Unlock()
	return d.Phabricator.TaskSubscribers(ctx, taskID)
}
