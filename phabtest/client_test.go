package phabtest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
)

// world is a small fixture built with the exported API only.
type world struct {
	s               *phabtest.Server
	bot, alice, bob phabtest.User
	approvers, acl  phabtest.Project
}

func newWorld(t *testing.T) *world {
	t.Helper()
	s := phabtest.New(phabtest.Options{Now: func() time.Time { return time.Unix(1795386276, 0) }})
	t.Cleanup(s.Close)
	w := &world{s: s}
	w.bot = s.AddUser(phabtest.UserSpec{Username: "auditbot", RealName: "Audit Bot", Admin: true, Bot: true})
	w.alice = s.AddUser(phabtest.UserSpec{Username: "alice", MFA: true})
	w.bob = s.AddUser(phabtest.UserSpec{Username: "bob"})
	for i := range 12 {
		s.AddUser(phabtest.UserSpec{Username: fmt.Sprintf("user%02d", i), MFA: i%2 == 0})
	}
	w.approvers = s.AddProject(phabtest.ProjectSpec{Name: "acl*approvers", EditPolicy: phabtest.PolicyMembers, Members: []string{w.alice.PHID}})
	w.acl = s.AddProject(phabtest.ProjectSpec{
		Name: "acl*security", EditPolicy: w.approvers.PHID, JoinPolicy: w.approvers.PHID,
		Members: []string{w.alice.PHID, w.bob.PHID},
	})
	return w
}

func (w *world) dial(t *testing.T, u phabtest.User) *conduit.Client {
	t.Helper()
	c, err := conduit.Dial(context.Background(), w.s.URL(), conduit.Token(u.Token), conduit.Options{
		HTTPClient: w.s.Client(),
		Sleep:      func(context.Context, time.Duration) error { return nil },
	})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return c
}

func TestClientReadPath(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bot := w.dial(t, w.bot)

	me, err := bot.Whoami(ctx)
	if err != nil || me.PHID != w.bot.PHID || !me.IsAdmin() {
		t.Fatalf("Whoami = %+v, %v", me, err)
	}
	host, err := bot.Ping(ctx)
	if err != nil || host != "phabtest" {
		t.Errorf("Ping = %q, %v", host, err)
	}
	projects, err := bot.ResolveProjects(ctx, []string{"acl*security", "#acl_approvers", "nosuch"}, true)
	if err != nil {
		t.Fatalf("ResolveProjects: %v", err)
	}
	if len(projects) != 2 || !slices.Contains(projects["acl*security"].MemberPHIDs, w.bob.PHID) {
		t.Errorf("ResolveProjects = %+v", projects)
	}
	yes := true
	mfa, err := bot.SearchUsers(ctx, conduit.UserQuery{MFA: &yes})
	if err != nil || len(mfa) != 7 { // alice + 6 of 12
		t.Errorf("SearchUsers(mfa) = %d users, %v", len(mfa), err)
	}
	// mfa is an admin-only constraint (fact 15).
	if _, err := w.dial(t, w.bob).SearchUsers(ctx, conduit.UserQuery{MFA: &yes}); !errors.Is(err, conduit.ErrInvalidConstraint) {
		t.Errorf("SearchUsers(mfa) as non-admin: %v, want ErrInvalidConstraint", err)
	}
	// The bot is not an approver: a no-op removal probes edit permission.
	if _, err := bot.EditProjectMembers(ctx, w.acl.PHID, nil, []string{w.alice.PHID}); !errors.Is(err, conduit.ErrPermissionDenied) {
		t.Errorf("EditProjectMembers as bot: %v, want ErrPermissionDenied", err)
	}
	if _, err := w.dial(t, w.alice).EditProjectMembers(ctx, w.acl.PHID, nil, []string{w.bob.PHID}); err != nil {
		t.Errorf("EditProjectMembers as approver: %v", err)
	}
	if got := w.s.Members(w.acl.PHID); !slices.Equal(got, []string{w.alice.PHID}) {
		t.Errorf("members = %v", got)
	}
}

func TestClientTaskLifecycle(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bot := w.dial(t, w.bot)

	var subs []string
	for i := range 12 {
		u, _ := w.s.User(fmt.Sprintf("user%02d", i))
		subs = append(subs, u.PHID)
	}
	subs = append(subs, w.alice.PHID)
	res, err := bot.CreateTask(ctx, conduit.TaskSpec{
		Title: "ACL audit", Description: "marker", SubscriberPHIDs: subs,
		ViewPolicy: conduit.PolicySubscribers, EditPolicy: conduit.PolicySubscribers,
	})
	if err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	// Alice comments with her own token, through the real client.
	if _, err := w.dial(t, w.alice).EditTask(ctx, fmt.Sprintf("T%d", res.ObjectID), conduit.CommentEdit("done")); err != nil {
		t.Fatalf("EditTask as alice: %v", err)
	}
	// Bob is not subscribed: the task does not exist for him (fact 23).
	if tasks, err := w.dial(t, w.bob).SearchTasks(ctx, conduit.TaskQuery{IDs: []int{res.ObjectID}}); err != nil || len(tasks) != 0 {
		t.Errorf("SearchTasks as bob = %d tasks, %v", len(tasks), err)
	}
	tasks, err := bot.SearchTasks(ctx, conduit.TaskQuery{IDs: []int{res.ObjectID}})
	if err != nil || len(tasks) != 1 {
		t.Fatalf("SearchTasks = %+v, %v", tasks, err)
	}
	if n := tasks[0].SubscriberCount; n != 14 || len(tasks[0].SubscriberPHIDs) != 10 {
		t.Errorf("subscribers: count %d, listed %d; want 14 and 10", n, len(tasks[0].SubscriberPHIDs))
	}
	all, err := bot.TaskSubscribers(ctx, res.ObjectID)
	if err != nil || len(all) != 14 {
		t.Errorf("TaskSubscribers = %d, %v", len(all), err)
	}
	xs, err := bot.TaskTransactions(ctx, res.ObjectPHID, 0)
	if err != nil {
		t.Fatalf("TaskTransactions: %v", err)
	}
	last := xs[len(xs)-1]
	if last.Type != "comment" || len(last.Comments) != 1 || last.Comments[0].Raw != "done" || last.AuthorPHID != w.alice.PHID {
		t.Errorf("last transaction = %+v", last)
	}
	writes := w.s.Writes()
	if len(writes) != 2 || !writes[0].Created || writes[1].ActorPHID != w.alice.PHID {
		t.Errorf("writes = %+v", writes)
	}
}

func TestClientSeesDroppedWriteAsError(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	task := w.s.AddTask(phabtest.TaskSpec{Title: "t", AuthorPHID: w.bot.PHID})
	bot := w.dial(t, w.bot)
	w.s.FailAfterWrite("maniphest.edit", 1)
	if _, err := bot.EditTask(ctx, fmt.Sprintf("T%d", task.ID), conduit.CommentEdit("hello")); err == nil {
		t.Fatal("EditTask: no error although the answer was lost")
	}
	// The write landed, exactly once: "did my write land?" must be asked.
	if got := w.s.Comments(task.ID); len(got) != 1 || got[0].Text != "hello" {
		t.Errorf("comments = %+v", got)
	}
}

func TestClientBacksOffOn429(t *testing.T) {
	w := newWorld(t)
	bot := w.dial(t, w.bot)
	w.s.ResetCalls()
	w.s.SetRateLimit(0)
	if _, err := bot.Whoami(context.Background()); err != nil {
		t.Fatalf("Whoami after one 429: %v", err)
	}
	if n := w.s.Calls()["user.whoami"]; n != 2 {
		t.Errorf("user.whoami calls = %d, want 2 (429, then the retry)", n)
	}
}

// Example shows a test seeding the in-process Phorge and talking to it
// through the real client.
func Example() {
	s := phabtest.New(phabtest.Options{})
	defer s.Close()
	bot := s.AddUser(phabtest.UserSpec{Username: "auditbot", Admin: true, Bot: true})
	u := s.AddUser(phabtest.UserSpec{Username: "user01"})
	s.AddProject(phabtest.ProjectSpec{Name: "acl*security", Members: []string{u.PHID}})

	ctx := context.Background()
	c, err := conduit.Dial(ctx, s.URL(), conduit.Token(bot.Token), conduit.Options{HTTPClient: s.Client()})
	if err != nil {
		fmt.Println(err)
		return
	}
	projects, err := c.ResolveProjects(ctx, []string{"acl*security"}, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := projects["acl*security"]
	fmt.Println(p.Slug, len(p.MemberPHIDs), s.Calls()["project.search"])
	// Output: acl_security 1 1
}
