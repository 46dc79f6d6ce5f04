package cli

import (
	"context"
	"errors"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
)

// offline is the Phabricator of commands that must not touch the network
// (status): any call is a bug, and says so.
type offline struct{}

var errOffline = errors.New("this command works offline and made a Conduit call")

var _ bot.Phabricator = offline{}

func (offline) Whoami(context.Context) (conduit.Whoami, error) { return conduit.Whoami{}, errOffline }
func (offline) ResolveProjects(context.Context, []string, bool) (map[string]conduit.Project, error) {
	return nil, errOffline
}
func (offline) ProjectsByPHID(context.Context, []string, bool) ([]conduit.Project, error) {
	return nil, errOffline
}
func (offline) SearchUsers(context.Context, conduit.UserQuery) ([]conduit.User, error) {
	return nil, errOffline
}
func (offline) SearchTasks(context.Context, conduit.TaskQuery) ([]conduit.Task, error) {
	return nil, errOffline
}
func (offline) TaskTransactions(context.Context, string, int) ([]conduit.Transaction, error) {
	return nil, errOffline
}
func (offline) CreateTask(context.Context, conduit.TaskSpec) (conduit.EditResult, error) {
	return conduit.EditResult{}, errOffline
}
func (offline) EditTask(context.Context, string, ...conduit.Edit) (conduit.EditResult, error) {
	return conduit.EditResult{}, errOffline
}
func (offline) EditProjectMembers(context.Context, string, []string, []string) (conduit.EditResult, error) {
	return conduit.EditResult{}, errOffline
}
