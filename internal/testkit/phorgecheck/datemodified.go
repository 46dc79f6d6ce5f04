// Package phorgecheck holds checks of Conduit behaviour that run, as the
// same sequence, against the real Phorge (phorgetest, build tag phorge)
// and against phabtest: where they differ, the real one wins.
package phorgecheck

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/auditbot/auditbot/conduit"
)

// World is what CheckDateModified needs of a Phorge, real or phabtest.
type World struct {
	// Bot reads (an administrator, subscribed to Task); Admin changes
	// the task's policies and subscribers; User is subscribed to the task
	// and comments on it.
	Bot, Admin, User *conduit.Client
	// Task is a task all three may see and that User may comment on:
	// view "users", edit "admin" (so the policy edits are Admin's).
	Task conduit.Task
	// UserPHID is User's; OutsiderPHID and OutsiderName (for an
	// @mention) are an enabled user not subscribed to Task;
	// ProjectPHID a project whose membership Admin may edit, and
	// MemberPHID a user who is not in it.
	UserPHID, OutsiderPHID, OutsiderName, ProjectPHID, MemberPHID string
	// EditComment edits User's newest comment on Task that contains
	// match to text, as the web UI's "Edit Comment" does (a real Phorge
	// has no Conduit method for it).
	EditComment func(t *testing.T, match, text string)
	// NextSecond returns once the server's clock has moved on by at
	// least a second (dateModified has whole seconds).
	NextSecond func()
}

// CheckDateModified checks which changes to a task move its dateModified
// (NOTES facts 47 and 48) and that maniphest.search's answer carries the
// server's clock (its Date header): a change made after a read has a
// dateModified at or after the read's Date.
func CheckDateModified(t *testing.T, w World) {
	ctx := context.Background()
	read := func() conduit.Task {
		t.Helper()
		ts, err := w.Bot.SearchTasks(ctx, conduit.TaskQuery{PHIDs: []string{w.Task.PHID}})
		if err != nil || len(ts) != 1 {
			t.Fatalf("read T%d: %v (%d tasks)", w.Task.ID, err, len(ts))
		}
		if ts[0].ReadAt.IsZero() {
			t.Fatalf("maniphest.search answered without a Date header")
		}
		if ts[0].DateModified.After(ts[0].ReadAt) {
			t.Fatalf("dateModified %v is after the answer's Date %v", ts[0].DateModified, ts[0].ReadAt)
		}
		return ts[0]
	}
	edit := func(c *conduit.Client, edits ...conduit.Edit) {
		t.Helper()
		if _, err := c.EditTask(ctx, w.Task.PHID, edits...); err != nil {
			t.Fatalf("edit T%d: %v", w.Task.ID, err)
		}
	}
	for _, step := range []struct {
		name   string
		change func()
		bumps  bool
		check  func(before, after conduit.Task) error
	}{
		{name: "a comment", bumps: true, change: func() { edit(w.User, conduit.CommentEdit("fact 47: a comment")) }},
		{name: "a comment edited", bumps: false, change: func() { w.EditComment(t, "fact 47: a comment", "fact 48: edited") },
			check: func(_, _ conduit.Task) error { return commentReads(ctx, w, "fact 48: edited") }},
		{name: "a comment edited to @mention someone new", bumps: true,
			change: func() { w.EditComment(t, "fact 48: edited", "fact 48: edited again, @"+w.OutsiderName) },
			check: func(_, after conduit.Task) error {
				subs, err := w.Bot.TaskSubscribers(ctx, after.ID)
				if err == nil && !slices.Contains(subs, w.OutsiderPHID) {
					err = fmt.Errorf("the @mentioned user is not subscribed: %v", subs)
				}
				return err
			}},
		{name: "an unsubscribe", bumps: true, change: func() { edit(w.User, conduit.Edit{Type: "subscribers.remove", Value: []string{w.UserPHID}}) }},
		{name: "a subscriber added", bumps: true, change: func() { edit(w.Admin, conduit.AddSubscribersEdit(w.UserPHID)) }},
		// Phorge saves the task even when the edit had no effect.
		{name: "a no-op subscriber edit", bumps: true, change: func() { edit(w.Admin, conduit.AddSubscribersEdit(w.UserPHID)) }},
		{name: "the view policy", bumps: true, change: func() { edit(w.Admin, conduit.Edit{Type: "view", Value: conduit.PolicyAdmin}) }},
		{name: "the view policy back", bumps: true, change: func() { edit(w.Admin, conduit.Edit{Type: "view", Value: conduit.PolicyUsers}) }},
		{name: "the edit policy", bumps: true, change: func() { edit(w.Admin, conduit.Edit{Type: "edit", Value: conduit.PolicyUsers}) }},
		{name: "an assignee", bumps: true, change: func() { edit(w.Admin, conduit.Edit{Type: "owner", Value: w.UserPHID}) }},
		{name: "a project's members", bumps: false, change: func() {
			if _, err := w.Admin.EditProjectMembers(ctx, w.ProjectPHID, []string{w.MemberPHID}, nil); err != nil {
				t.Fatalf("add a member to the project: %v", err)
			}
		}},
	} {
		before := read()
		w.NextSecond()
		step.change()
		after := read()
		bumped := after.DateModified.After(before.DateModified)
		if bumped != step.bumps {
			t.Errorf("%s: dateModified %v -> %v, want it moved: %t", step.name, before.DateModified, after.DateModified, step.bumps)
		}
		if bumped && after.DateModified.Before(before.ReadAt) {
			t.Errorf("%s: made after a read answered at %v, its dateModified is %v, before it", step.name, before.ReadAt, after.DateModified)
		}
		if step.check != nil {
			if err := step.check(before, after); err != nil {
				t.Errorf("%s: %v", step.name, err)
			}
		}
		t.Logf("%s: dateModified moved %t (%s)", step.name, bumped, after.DateModified.Sub(before.DateModified))
	}
}

// commentReads checks that User's newest comment on the task reads text
// now (the edit landed, fact 45).
func commentReads(ctx context.Context, w World, text string) error {
	txs, err := w.Bot.TaskTransactions(ctx, w.Task.PHID, 0)
	if err != nil {
		return err
	}
	for _, x := range slices.Backward(txs) {
		if x.AuthorPHID != w.UserPHID || len(x.Comments) == 0 {
			continue
		}
		cur := slices.MaxFunc(x.Comments, func(a, b conduit.Comment) int { return a.Version - b.Version })
		if cur.Raw != text {
			return fmt.Errorf("the newest comment reads %q, want %q", cur.Raw, text)
		}
		return nil
	}
	return fmt.Errorf("no comment by the user")
}

// Settle is a NextSecond for a real server: it waits until the wall
// clock has moved on to the next second, and then some.
func Settle() {
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
}
