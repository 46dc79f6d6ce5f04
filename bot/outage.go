package bot

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/auditbot/auditbot/conduit"
)

// InterruptedError is a command stopped by its context (SIGINT, SIGTERM)
// before it did all its work. Nothing was recorded for the work not done;
// running the command again finishes it.
type InterruptedError struct {
	Done, Total int
	Unit        string // what Done counts: "batch(es)", "campaign(s)"
	Err         error  // the context's error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted, %d of %d %s done, rerun to finish", e.Done, e.Total, e.Unit)
}

// Unwrap returns the context's error.
func (e *InterruptedError) Unwrap() error { return e.Err }

// breaker stands between a tick and Phabricator. The first call that
// finds Phabricator unavailable (conduit.ErrUnavailable: refused, reset,
// timed out, 5xx) trips it, and every later call of the tick fails at once
// with that cause, without the network: the remaining writes wait for the
// next tick instead of each stalling on a server that is away. So a tick
// stalls at most as long as one call can (see the README).
type breaker struct {
	Phabricator
	mu    sync.Mutex
	cause error // the first unavailability; nil while closed
}

// errSkipped marks a call the breaker refused without sending it.
var errSkipped = errors.New("not sent: Phabricator was unavailable earlier in this tick")

// tripped returns the unavailability that opened the breaker, or nil.
func (k *breaker) tripped() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cause
}

func (k *breaker) guard(err error) error {
	if err != nil && errors.Is(err, conduit.ErrUnavailable) {
		k.mu.Lock()
		if k.cause == nil {
			k.cause = err
		}
		k.mu.Unlock()
	}
	return err
}

// refuse returns the error for a call not sent, or nil while closed.
func (k *breaker) refuse() error {
	if cause := k.tripped(); cause != nil {
		return fmt.Errorf("%w (%w)", errSkipped, cause)
	}
	return nil
}

func guarded[T any](k *breaker, fn func() (T, error)) (T, error) {
	var zero T
	if err := k.refuse(); err != nil {
		return zero, err
	}
	v, err := fn()
	return v, k.guard(err)
}

func (k *breaker) Whoami(ctx context.Context) (conduit.Whoami, error) {
	return guarded(k, func() (conduit.Whoami, error) { return k.Phabricator.Whoami(ctx) })
}

func (k *breaker) ResolveProjects(ctx context.Context, names []string, withMembers bool) (map[string]conduit.Project, error) {
	return guarded(k, func() (map[string]conduit.Project, error) {
		return k.Phabricator.ResolveProjects(ctx, names, withMembers)
	})
}

func (k *breaker) ProjectsByPHID(ctx context.Context, phids []string, withMembers bool) ([]conduit.Project, error) {
	return guarded(k, func() ([]conduit.Project, error) { return k.Phabricator.ProjectsByPHID(ctx, phids, withMembers) })
}

func (k *breaker) SearchUsers(ctx context.Context, q conduit.UserQuery) ([]conduit.User, error) {
	return guarded(k, func() ([]conduit.User, error) { return k.Phabricator.SearchUsers(ctx, q) })
}

func (k *breaker) SearchTasks(ctx context.Context, q conduit.TaskQuery) ([]conduit.Task, error) {
	return guarded(k, func() ([]conduit.Task, error) { return k.Phabricator.SearchTasks(ctx, q) })
}

func (k *breaker) TaskTransactions(ctx context.Context, objectPHID string, afterID int) ([]conduit.Transaction, error) {
	return guarded(k, func() ([]conduit.Transaction, error) { return k.Phabricator.TaskTransactions(ctx, objectPHID, afterID) })
}

func (k *breaker) TransactionsByPHID(ctx context.Context, objectPHID string, txPHIDs []string) ([]conduit.Transaction, error) {
	return guarded(k, func() ([]conduit.Transaction, error) {
		return k.Phabricator.TransactionsByPHID(ctx, objectPHID, txPHIDs)
	})
}

func (k *breaker) CreateTask(ctx context.Context, spec conduit.TaskSpec) (conduit.EditResult, error) {
	return guarded(k, func() (conduit.EditResult, error) { return k.Phabricator.CreateTask(ctx, spec) })
}

func (k *breaker) EditTask(ctx context.Context, identifier string, edits ...conduit.Edit) (conduit.EditResult, error) {
	return guarded(k, func() (conduit.EditResult, error) { return k.Phabricator.EditTask(ctx, identifier, edits...) })
}

func (k *breaker) EditProjectMembers(ctx context.Context, projectPHID string, add, remove []string) (conduit.EditResult, error) {
	return guarded(k, func() (conduit.EditResult, error) {
		return k.Phabricator.EditProjectMembers(ctx, projectPHID, add, remove)
	})
}

func (k *breaker) EditProjectPolicy(ctx context.Context, projectPHID, which, policy string) (conduit.EditResult, error) {
	return guarded(k, func() (conduit.EditResult, error) {
		return k.Phabricator.EditProjectPolicy(ctx, projectPHID, which, policy)
	})
}

func (k *breaker) SetUserDisabled(ctx context.Context, userPHID string, disabled bool) (conduit.EditResult, error) {
	return guarded(k, func() (conduit.EditResult, error) { return k.Phabricator.SetUserDisabled(ctx, userPHID, disabled) })
}

// unavailable returns why the bot must not start a write now: its context
// ended, or Phabricator was found unavailable earlier in this tick. once
// checks it before recording an intent, so no intent is recorded for a
// write that is not attempted.
func (c *conn) unavailable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if k, ok := c.Phabricator.(*breaker); ok {
		return k.refuse()
	}
	return nil
}

// conn is the bot's connection to Phabricator, shared by its reader and
// its executor, so that a tick's breaker (withBreaker) stands in front of
// both.
type conn struct{ Phabricator }

// joinType is the type of errors.Join's result.
var joinType = reflect.TypeOf(errors.Join(errors.New("a")))

// SplitErrors returns the errors an errors.Join holds (recursively), or
// err alone: each is logged as its own record, never as one joined blob.
func SplitErrors(err error) []error {
	if err == nil {
		return nil
	}
	if reflect.TypeOf(err) == joinType {
		var out []error
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			out = append(out, SplitErrors(e)...)
		}
		return out
	}
	return []error{err}
}
