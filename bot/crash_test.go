package bot_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// The tests in this file make Phabricator apply a write and then drop the
// connection (FailAfterWrite), so the bot sees an error although the write
// landed, and check that the next run finds its own write by marker (or by
// membership) and never writes twice.

func TestCrashDuringLaunch(t *testing.T) {
	h := newHarness(t, fixture{})
	h.srv.FailAfterWrite("maniphest.edit", 1)
	if _, err := h.bot.Launch(h.ctx, h.camp); err == nil {
		t.Fatal("Launch succeeded although the first task's answer was lost")
	}
	// The write landed. A lost answer is a transport failure: the
	// breaker stops the remaining writes, with no intent recorded for them.
	if n := len(h.srv.Tasks()); n != 1 {
		t.Fatalf("server has %d tasks after the failed launch, want 1 (batch 1's, its answer lost; then the launch stops)", n)
	}
	if got := h.pendingOps(); !slices.Equal(got, []string{"task/batch-1"}) {
		t.Errorf("pending ops after the failed launch = %v, want [task/batch-1]", got)
	}

	res := h.launch()
	if n := len(h.srv.Tasks()); n != 3 {
		t.Errorf("server has %d tasks after the second launch, want 3 (no duplicate)", n)
	}
	for _, lt := range res.Tasks {
		if lt.New != (lt.Batch != 1) {
			t.Errorf("second launch reported %+v; want batch 1 reconciled, batches 2 and 3 filed now", lt)
		}
	}
	snap := h.snapshot()
	for _, bt := range snap.Batches {
		if bt.TaskPHID != h.srv.Tasks()[bt.Index-1].PHID {
			t.Errorf("batch %d recorded task %s, server task T%d is %s", bt.Index, bt.TaskPHID, bt.Index, h.srv.Tasks()[bt.Index-1].PHID)
		}
	}
	if got := h.pendingOps(); len(got) != 0 {
		t.Errorf("pending ops after reconciling: %v", got)
	}
	if got := h.journalKinds()["task-created"]; got != 3 {
		t.Errorf("journal has %d task-created entries, want 3", got)
	}
}

func TestCrashDuringReminder(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	h.clock.Set(cutoff.Add(-30*24*time.Hour + time.Hour))
	h.srv.FailAfterWrite("maniphest.edit", 1)
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
		t.Fatal("tick succeeded although a reminder's answer was lost")
	}
	h.clock.Advance(time.Minute)
	h.tick()
	h.tick()
	for _, task := range h.srv.Tasks() {
		if got := len(h.botCommentsWith(task.ID, "reminder/")); got != 1 {
			t.Errorf("T%d has %d reminders, want exactly 1", task.ID, got)
		}
	}
	if got := h.pendingOps(); len(got) != 0 {
		t.Errorf("pending ops: %v", got)
	}
	if got := h.journalKinds()["reminder"]; got != 3 {
		t.Errorf("journal has %d reminder entries, want 3", got)
	}
}

func TestCrashDuringReply(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	task, id := h.taskOf("nomfa1")
	h.comment("nomfa1", task, "done")
	h.srv.FailAfterWrite("maniphest.edit", 1)
	if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
		t.Fatal("tick succeeded although the answer was lost")
	}
	h.tick()
	h.tick()
	if got := len(h.botCommentsWith(id, "replies/")); got != 1 {
		t.Errorf("%s has %d answers, want exactly 1", task, got)
	}
}

func TestCrashDuringRemoval(t *testing.T) {
	// Groups are edited riskiest first: acl*sre-team, acl*security,
	// WMF-NDA. nomfa1 and nomfa2 are in two groups each, so losing the
	// second or third answer finds them already removed from one group.
	for _, lost := range []struct {
		name string
		n    int
	}{{"first group", 1}, {"second group", 2}, {"third group", 3}} {
		t.Run(lost.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launchAndPropose()
			approveR1(t, h, "alice", "bob")

			h.srv.FailAfterWrite("project.edit", lost.n)
			if _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); err == nil {
				t.Fatal("tick succeeded although a removal's answer was lost")
			}
			h.clock.Advance(time.Minute)
			h.tick()
			h.tick()

			checkRemovedOnce(t, h, map[string][]string{
				"erin": {groupSecurity}, "nomfa1": {groupSecurity, groupNDA}, "nomfa2": {groupSRE, groupNDA},
				"nomfa3": {groupSecurity}, "nomfa4": {groupSRE},
			})
			if got := h.pendingOps(); len(got) != 0 {
				t.Errorf("pending ops: %v", got)
			}
			snap := h.snapshot()
			if len(snap.Removals) != 1 || snap.Removals[0].Status != state.RemovalDone {
				t.Fatalf("removals = %+v, want R1 done", snap.Removals)
			}
			for _, it := range snap.Removals[0].Items {
				if !it.Done {
					t.Errorf("R1 item %s/%s not marked done", it.Username, it.GroupName)
				}
			}
			if got := h.journalKinds()["drift"]; got != 0 {
				t.Errorf("journal has %d drift entries: the bot took its own removal for users leaving", got)
			}
			if got := h.journalKinds()["members-removed"]; got != 3 {
				t.Errorf("journal has %d members-removed entries, want 3 (one per group)", got)
			}
			for _, task := range h.srv.Tasks() {
				if got := len(h.botCommentsWith(task.ID, "removal/R1/notice/")); got != 1 {
					t.Errorf("T%d has %d removal notices, want 1", task.ID, got)
				}
			}
		})
	}
}

// approveR1 approves removal batch R1 as each approver in turn.
func approveR1(t *testing.T, h *harness, approvers ...string) {
	t.Helper()
	for _, a := range approvers {
		if _, err := h.approve(h.bot, "R1", a); err != nil {
			t.Fatalf("Approve R1 as %s: %v", a, err)
		}
	}
}

// checkRemovedOnce checks that exactly the users in want were removed,
// each from exactly its groups, by one effective project.edit per group,
// and that their findings say so.
func checkRemovedOnce(t *testing.T, h *harness, want map[string][]string) {
	t.Helper()
	removedBy := map[string]int{} // "user/group" -> times removed
	for _, w := range h.writesOf("project.edit") {
		group := ""
		for name, g := range h.groups {
			if g.PHID == w.ObjectPHID {
				group = name
			}
		}
		for _, tx := range w.Transactions {
			if tx.Type != "members.remove" {
				continue
			}
			for _, p := range tx.Value.([]string) {
				for name, u := range h.users {
					if u.PHID == p {
						removedBy[name+"/"+group]++
					}
				}
			}
		}
	}
	wantRemoved := map[string]int{}
	for user, groups := range want {
		for _, g := range groups {
			wantRemoved[user+"/"+g] = 1
			if slices.Contains(h.srv.Members(h.group(g).PHID), h.phid(user)) {
				t.Errorf("@%s is still a member of %s", user, g)
			}
		}
		f := h.finding(user)
		if f.Status != state.StatusRemoved {
			t.Errorf("@%s status %s, want removed", user, f.Status)
		}
		var from []string
		for _, p := range f.RemovedFrom {
			from = append(from, h.groupName(p))
		}
		if diff := cmp.Diff(sorted(groups), sorted(from)); diff != "" {
			t.Errorf("@%s RemovedFrom (-want +got):\n%s", user, diff)
		}
	}
	if diff := cmp.Diff(wantRemoved, removedBy); diff != "" {
		t.Errorf("membership removals sent to Phabricator, user/group -> times (-want +got):\n%s", diff)
	}
}

func (h *harness) groupName(phid string) string {
	for name, g := range h.groups {
		if g.PHID == phid {
			return name
		}
	}
	return phid
}

func TestMarkerFindsOnlyOwnWrites(t *testing.T) {
	// A task by someone else carrying the bot's marker text must not be
	// taken for the bot's own: reconciliation looks at the bot's tasks.
	h := newHarness(t, fixture{})
	if _, err := h.as("dave").CreateTask(h.ctx, conduitSpec(bot.Marker(campaignName, "task/batch-1"))); err != nil {
		t.Fatalf("dave files a task: %v", err)
	}
	h.srv.FailAfterWrite("maniphest.edit", 1)
	h.bot.Launch(h.ctx, h.camp) // batch 1's answer is lost
	h.launch()
	var botTasks int
	for _, task := range h.srv.Tasks() {
		if task.AuthorPHID == h.botU.PHID {
			botTasks++
		}
	}
	if botTasks != 3 {
		t.Errorf("bot filed %d tasks, want 3", botTasks)
	}
	for _, bt := range h.snapshot().Batches {
		for _, task := range h.srv.Tasks() {
			if task.PHID == bt.TaskPHID && task.AuthorPHID != h.botU.PHID {
				t.Errorf("batch %d recorded dave's task T%d", bt.Index, task.ID)
			}
		}
	}
	if !strings.Contains(h.srv.Tasks()[0].Description, bot.Marker(campaignName, "task/batch-1")) {
		t.Fatal("fixture: dave's task lacks the marker")
	}
}

func TestCrashDuringRestore(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launchAndPropose()
	approveR1(t, h, "alice", "bob")
	h.tick()
	h.srv.SetMFA(h.phid("nomfa2"), true)
	adds := len(h.writesOf("project.edit"))

	h.srv.FailAfterWrite("project.edit", 1)
	if err := h.bot.Restore(h.ctx, campaignName, "nomfa2", false, "alice"); err == nil {
		t.Fatal("Restore succeeded although an answer was lost")
	}
	if err := h.bot.Restore(h.ctx, campaignName, "nomfa2", false, "alice"); err != nil {
		t.Fatalf("second Restore: %v", err)
	}
	if got := len(h.writesOf("project.edit")) - adds; got != 2 {
		t.Errorf("%d membership writes for the restore, want 2 (one per group, none repeated)", got)
	}
	for _, g := range []string{groupSRE, groupNDA} {
		if !slices.Contains(h.srv.Members(h.group(g).PHID), h.phid("nomfa2")) {
			t.Errorf("nomfa2 not back in %s", g)
		}
	}
	_, id := h.taskOf("nomfa2")
	if got := len(h.botCommentsWith(id, "restore/nomfa2/")); got != 1 {
		t.Errorf("%d restore comments, want 1", got)
	}
	if got := h.pendingOps(); len(got) != 0 {
		t.Errorf("pending ops: %v", got)
	}
	if got := h.finding("nomfa2").Status; got != state.StatusRestored {
		t.Errorf("nomfa2 = %s, want restored", got)
	}
}

// failCreate is a Phabricator that refuses to file the task whose
// description carries marker, before anything is written.
type failCreate struct {
	bot.Phabricator
	marker string
}

func (f failCreate) CreateTask(ctx context.Context, spec conduit.TaskSpec) (conduit.EditResult, error) {
	if strings.Contains(markerKeyOf(spec.Description), f.marker) {
		return conduit.EditResult{}, errors.New("injected: create refused")
	}
	return f.Phabricator.CreateTask(ctx, spec)
}

// TestForgedMarkerDoesNotHijackRecovery: someone who may edit a task writes
// batch 2's marker into its description while batch 2's task is still to
// be filed (its intent recorded, its create failed). The next launch must
// not adopt that task for batch 2: batch 2's users would never get a task
// and still be in line for removal. Only what the bot itself wrote when it
// created a task counts, never the current description.
func TestForgedMarkerDoesNotHijackRecovery(t *testing.T) {
	forged := bot.Marker(campaignName, "task/batch-2")
	for _, tt := range []struct {
		name string
		// forge rewrites a bot-authored task's description and returns its id.
		forge func(h *harness) int
	}{
		{"into batch 1's task", func(h *harness) int {
			task, _ := h.srv.Task(1)
			h.editAs("alice", "T1", conduit.Edit{Type: "description", Value: task.Description + "\n\n" + forged})
			return 1
		}},
		{"into another task the bot filed", func(h *harness) int {
			res, err := h.client.CreateTask(h.ctx, conduit.TaskSpec{Title: "Operator's task", Description: "filed with the bot's token",
				ViewPolicy: conduit.PolicySubscribers, EditPolicy: conduit.PolicySubscribers, SubscriberPHIDs: h.phids("alice")})
			if err != nil {
				h.t.Fatalf("the bot files an unrelated task: %v", err)
			}
			h.editAs("alice", "T"+itoa(res.ObjectID), conduit.Edit{Type: "description", Value: forged})
			return res.ObjectID
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			b := h.newBot(failCreate{Phabricator: h.client, marker: "task/batch-2"}, h.log)
			if _, err := b.Launch(h.ctx, h.camp); err == nil {
				t.Fatal("Launch succeeded although batch 2's create failed")
			}
			if got := h.pendingOps(); !slices.Equal(got, []string{"task/batch-2"}) {
				t.Fatalf("pending ops = %v, want [task/batch-2]", got)
			}
			forgedID := tt.forge(h)
			task, _ := h.srv.Task(forgedID)
			if !strings.Contains(task.Description, forged) {
				t.Fatalf("fixture: T%d's description lacks the forged marker", forgedID)
			}

			h.launch()
			snap := h.snapshot()
			owner := map[string]int{}
			for _, bt := range snap.Batches {
				if bt.TaskPHID == task.PHID && bt.Index == 2 {
					t.Errorf("batch 2 adopted T%d, whose marker was forged", forgedID)
				}
				if o, dup := owner[bt.TaskPHID]; dup {
					t.Errorf("batches %d and %d share task %s", o, bt.Index, bt.TaskPHID)
				}
				owner[bt.TaskPHID] = bt.Index
			}
			bt2 := snap.Batches[1]
			filed, ok := h.srv.Task(bt2.TaskID)
			if !ok || filed.PHID != bt2.TaskPHID {
				t.Fatalf("batch 2's recorded task %s (T%d) is not on the server", bt2.TaskPHID, bt2.TaskID)
			}
			for _, u := range bt2.UserPHIDs {
				if !slices.Contains(filed.SubscriberPHIDs, u) {
					t.Errorf("batch 2's user %s is not subscribed to its task T%d", u, filed.ID)
				}
			}
			if got := h.pendingOps(); len(got) != 0 {
				t.Errorf("pending ops after the relaunch: %v", got)
			}
		})
	}
}

// editAs makes username apply edits to task (a monogram) over Conduit.
func (h *harness) editAs(username, task string, edits ...conduit.Edit) {
	h.t.Helper()
	if _, err := h.as(username).EditTask(h.ctx, task, edits...); err != nil {
		h.t.Fatalf("%s edits %s: %v", username, task, err)
	}
}
