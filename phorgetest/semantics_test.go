//go:build phorge

package phorgetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"

	"github.com/google/go-cmp/cmp"
)

// Phorge behaviours the bot's features rely on, checked with raw Conduit
// calls (no bot): what phabtest models must be what the real one does.
// phabtest/semantics_test.go (TestPhorgeSemantics there) runs the same
// sequence against phabtest.

// labXact is one row of transaction.search, as these checks read it.
type labXact struct {
	PHID       string  `json:"phid"`
	Type       *string `json:"type"`
	AuthorPHID string  `json:"authorPHID"`
	Comments   []struct {
		Version int  `json:"version"`
		Removed bool `json:"removed"`
		Content struct {
			Raw string `json:"raw"`
		} `json:"content"`
	} `json:"comments"`
	Fields struct {
		Operations []struct {
			Operation string `json:"operation"`
			PHID      string `json:"phid"`
		} `json:"operations"`
		Old any `json:"old"`
		New any `json:"new"`
	} `json:"fields"`
}

func (x labXact) typ() string {
	if x.Type == nil {
		return "<null>"
	}
	return *x.Type
}

// xacts lists a task's transactions, newest first, with extra params
// (constraints) as tokenVar.
func (e labSettings) xacts(t *testing.T, tokenVar, task string, extra map[string]any) []labXact {
	t.Helper()
	p := map[string]any{"objectIdentifier": task}
	for k, v := range extra {
		p[k] = v
	}
	var out []labXact
	for _, raw := range e.searchAll(t, tokenVar, "transaction.search", p) {
		var x labXact
		if err := json.Unmarshal(raw, &x); err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

// edit sends one maniphest.edit and returns the types of the transactions
// it made (read back by PHID), in the order Phorge lists them.
func (e labSettings) editTypes(t *testing.T, tokenVar, task string, txs ...map[string]any) []string {
	t.Helper()
	var res struct {
		Transactions []struct {
			PHID string `json:"phid"`
		} `json:"transactions"`
	}
	e.must(t, tokenVar, "maniphest.edit", map[string]any{"objectIdentifier": task, "transactions": txs}, &res)
	var phids []string
	for _, x := range res.Transactions {
		phids = append(phids, x.PHID)
	}
	if len(phids) == 0 {
		return nil
	}
	var types []string
	for _, x := range e.xacts(t, "AUDITBOT_TOKEN", task, map[string]any{"constraints": map[string]any{"phids": phids}}) {
		types = append(types, x.typ())
	}
	slices.Sort(types)
	return types
}

// ccPHIDs is maniphest.info's complete subscriber list.
func (e labSettings) ccPHIDs(t *testing.T, tokenVar string, id int) []string {
	t.Helper()
	var info struct {
		CCPHIDs []string `json:"ccPHIDs"`
	}
	e.must(t, tokenVar, "maniphest.info", map[string]any{"task_id": id}, &info)
	return info.CCPHIDs
}

func TestPhorgeSemantics(t *testing.T) {
	env := labEnv(t)
	env.reset(t)
	t.Cleanup(func() { env.reset(t) })
	bot := env.userPHID(t, "auditbot")
	admin := env.userPHID(t, "admin")
	user01 := env.userPHID(t, "user01")
	user03 := env.userPHID(t, "user03")
	approvers := env.project(t, "acl_phabricator-admins").PHID
	sre := env.project(t, slugSRE)
	const marker = "{anchor #auditbot-6c61622f746573742f6d61726b6572}"
	description := "Audit task.\n\n" + marker

	create := func(view string) labTask {
		t.Helper()
		var res struct {
			Object struct {
				ID   int    `json:"id"`
				PHID string `json:"phid"`
			} `json:"object"`
		}
		env.must(t, "AUDITBOT_TOKEN", "maniphest.edit", map[string]any{"transactions": []map[string]any{
			{"type": "title", "value": "Semantics check (" + view + ")"},
			{"type": "description", "value": description},
			{"type": "view", "value": view},
			{"type": "edit", "value": "admin"},
			// Without a subscribers transaction Phorge judges the view
			// policy before subscribing the author, and refuses.
			{"type": "subscribers.add", "value": []string{bot}},
		}}, &res)
		return labTask{ID: res.Object.ID, PHID: res.Object.PHID}
	}
	t.Run("0 a subscribers-only task needs a subscribers transaction", func(t *testing.T) {
		err := env.call(t.Context(), "AUDITBOT_TOKEN", "maniphest.edit", map[string]any{"transactions": []map[string]any{
			{"type": "title", "value": "No subscribers"},
			{"type": "view", "value": "obj.subscriptions.subscribers"},
		}}, nil)
		const want = "ERR-CONDUIT-CORE: Validation errors:\n  - The view policy of this object would no longer allow you to view the object."
		if err == nil || err.Error() != want {
			t.Errorf("creating a subscribers-only task with no subscribers transaction: %v, want %s", err, want)
		}
	})
	private := create("obj.subscriptions.subscribers")
	public := create("users")

	t.Run("6 the anchor marker comes back exact", func(t *testing.T) {
		ts := env.tasks(t, "AUDITBOT_TOKEN", map[string]any{"phids": []string{private.PHID}})
		if len(ts) != 1 || ts[0].Description != description {
			t.Errorf("maniphest.search description = %+v, want %q", ts, description)
		}
		text := "A note.\n" + marker
		env.commentAs(t, "AUDITBOT_TOKEN", private.PHID, text)
		if c := env.comments(t, "AUDITBOT_TOKEN", private.PHID); len(c) == 0 || c[len(c)-1].Text != text {
			t.Errorf("transaction.search raw = %+v, want %q", c, text)
		}
	})

	t.Run("3 mentions and hashtags", func(t *testing.T) {
		text := "@user01 and @user03 please look; see #acl_sre-team"
		env.commentAs(t, "AUDITBOT_TOKEN", private.PHID, text)
		cc := env.ccPHIDs(t, "AUDITBOT_TOKEN", private.ID)
		t.Logf("subscribers-only task after the mention: %v", cc)
		for _, p := range append([]string{user01, user03, sre.PHID}, sre.Members...) {
			if slices.Contains(cc, p) {
				t.Errorf("on a subscribers-only task the comment %q subscribed %s", text, p)
			}
		}
		env.commentAs(t, "AUDITBOT_TOKEN", public.PHID, text)
		cc = env.ccPHIDs(t, "AUDITBOT_TOKEN", public.ID)
		t.Logf("public task after the mention: %v", cc)
		if !slices.Contains(cc, user01) || !slices.Contains(cc, user03) {
			t.Errorf("on a task they can see, the mentioned users are not subscribed: %v", cc)
		}
		for _, p := range append([]string{sre.PHID}, sre.Members...) {
			if p != user03 && slices.Contains(cc, p) {
				t.Errorf("a #hashtag subscribed %s", p)
			}
		}
	})

	t.Run("4 commenting subscribes the author", func(t *testing.T) {
		got := env.editTypes(t, "ADMIN_TOKEN", public.PHID, map[string]any{"type": "comment", "value": "A comment by admin."})
		if diff := cmp.Diff([]string{"comment", "subscribers"}, got); diff != "" {
			t.Errorf("transactions of admin's first comment (-want +got):\n%s", diff)
		}
		if !slices.Contains(env.ccPHIDs(t, "AUDITBOT_TOKEN", public.ID), admin) {
			t.Error("admin commented but is not subscribed")
		}
	})

	t.Run("5 a member of a subscribed project sees the task and may comment", func(t *testing.T) {
		if n := len(env.tasks(t, "TOKEN_USER03", map[string]any{"phids": []string{private.PHID}})); n != 0 {
			t.Fatal("user03 sees the subscribers-only task before its project is subscribed")
		}
		got := env.editTypes(t, "AUDITBOT_TOKEN", private.PHID,
			map[string]any{"type": "comment", "value": "Approvers, please decide."},
			map[string]any{"type": "subscribers.add", "value": []string{approvers}})
		if diff := cmp.Diff([]string{"comment", "subscribers"}, got); diff != "" {
			t.Errorf("transactions of the bot's comment + subscribers.add (-want +got):\n%s", diff)
		}
		if n := len(env.tasks(t, "TOKEN_USER03", map[string]any{"phids": []string{private.PHID}})); n != 1 {
			t.Fatal("user03, a member of the subscribed approvers' project, does not see the task")
		}
		got = env.editTypes(t, "TOKEN_USER03", private.PHID, map[string]any{"type": "comment", "value": "!approve"})
		t.Logf("user03's comment made %v", got)
		if !slices.Contains(got, "comment") {
			t.Errorf("user03's comment made %v", got)
		}
	})

	t.Run("2 ccPHIDs lists projects; the attachment stops at 10", func(t *testing.T) {
		cc := env.ccPHIDs(t, "AUDITBOT_TOKEN", private.ID)
		if !slices.Contains(cc, approvers) {
			t.Errorf("ccPHIDs %v lacks the subscribed project %s", cc, approvers)
		}
		var page struct {
			Data []struct {
				Attachments struct {
					Subscribers struct {
						SubscriberPHIDs []string `json:"subscriberPHIDs"`
						SubscriberCount int      `json:"subscriberCount"`
					} `json:"subscribers"`
				} `json:"attachments"`
			} `json:"data"`
		}
		env.must(t, "AUDITBOT_TOKEN", "maniphest.search", map[string]any{
			"constraints": map[string]any{"ids": []int{10}},
			"attachments": map[string]any{"subscribers": true},
		}, &page)
		if len(page.Data) != 1 {
			t.Fatalf("T10: %d rows", len(page.Data))
		}
		s := page.Data[0].Attachments.Subscribers
		all := env.ccPHIDs(t, "AUDITBOT_TOKEN", 10)
		if len(s.SubscriberPHIDs) != 10 || s.SubscriberCount != len(all) || len(all) != 21 {
			t.Errorf("T10: attachment lists %d of subscriberCount %d; ccPHIDs %d (want 10 of 21, 21)", len(s.SubscriberPHIDs), s.SubscriberCount, len(all))
		}
	})

	t.Run("7 an admin removes and re-adds a project subscriber", func(t *testing.T) {
		for _, tk := range []labTask{public, private} {
			before := len(env.xacts(t, "AUDITBOT_TOKEN", tk.PHID, nil))
			if tk.ID == public.ID {
				env.must(t, "AUDITBOT_TOKEN", "maniphest.edit", map[string]any{"objectIdentifier": tk.PHID,
					"transactions": []map[string]any{{"type": "subscribers.add", "value": []string{approvers}}}}, nil)
				before++
			}
			env.must(t, "ADMIN_TOKEN", "maniphest.edit", map[string]any{"objectIdentifier": tk.PHID,
				"transactions": []map[string]any{{"type": "subscribers.remove", "value": []string{approvers}}}}, nil)
			err := env.call(t.Context(), "ADMIN_TOKEN", "maniphest.edit", map[string]any{"objectIdentifier": tk.PHID,
				"transactions": []map[string]any{{"type": "subscribers.add", "value": []string{approvers}}}}, nil)
			t.Logf("T%d: admin re-adds the project after removing it: %v", tk.ID, err)
			all := env.xacts(t, "AUDITBOT_TOKEN", tk.PHID, nil)
			var got []string
			for _, x := range all[:len(all)-before] {
				for _, op := range x.Fields.Operations {
					who := "admin"
					if x.AuthorPHID != admin {
						who = x.AuthorPHID
					}
					got = append(got, fmt.Sprintf("%s %s %s by %s", x.typ(), op.Operation, op.PHID, who))
				}
			}
			want := []string{"subscribers add " + approvers + " by admin", "subscribers remove " + approvers + " by admin"}
			if tk.ID == private.ID {
				// Without the project admin no longer sees the task, so
				// the re-add is refused (a subscribers-only task).
				want = want[1:]
				if err == nil {
					t.Errorf("T%d: admin re-added a project to a task they could no longer see", tk.ID)
				}
			} else if err != nil {
				t.Errorf("T%d: re-add: %v", tk.ID, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("T%d: new transactions, newest first (-want +got):\n%s", tk.ID, diff)
			}
		}
	})

	t.Run("8 transaction.search by phids gives the current comment", func(t *testing.T) {
		phids := env.commentXacts(t, "ADMIN_TOKEN", public.PHID, "Original text 8")
		env.labCommand(t, "LAB_EDIT_COMMENT", fmt.Sprintf("T%d", public.ID), "admin", "Original text 8", "Edited text 8")
		got := env.xacts(t, "AUDITBOT_TOKEN", public.PHID, map[string]any{"constraints": map[string]any{"phids": phids}})
		if len(got) != len(phids) {
			t.Fatalf("%d rows for %d phids", len(got), len(phids))
		}
		comments := 0
		for _, x := range got {
			if !slices.Contains(phids, x.PHID) {
				t.Errorf("row %s was not asked for", x.PHID)
			}
			if x.typ() == "comment" {
				comments++
				// The bot takes the highest version (conduit.CurrentComment),
				// not a position: check both.
				if len(x.Comments) != 2 || x.Comments[0].Content.Raw != "Edited text 8" || x.Comments[0].Version != 2 ||
					x.Comments[1].Content.Raw != "Original text 8" || x.Comments[1].Version != 1 {
					t.Errorf("comment versions = %+v, want version 2 (the edit) first, then version 1", x.Comments)
				}
			}
		}
		if comments != 1 {
			t.Errorf("%d comment rows, want 1", comments)
		}
	})

	t.Run("1 closing an unassigned task assigns it to the closer", func(t *testing.T) {
		for _, tk := range []labTask{private, public} {
			got := env.editTypes(t, "AUDITBOT_TOKEN", tk.PHID,
				map[string]any{"type": "status", "value": "resolved"},
				map[string]any{"type": "comment", "value": "Closing."})
			if diff := cmp.Diff([]string{"comment", "owner", "status"}, got); diff != "" {
				t.Errorf("T%d: transactions of status+comment (-want +got):\n%s", tk.ID, diff)
			}
			var info struct {
				OwnerPHID *string `json:"ownerPHID"`
				Status    string  `json:"status"`
			}
			env.must(t, "AUDITBOT_TOKEN", "maniphest.info", map[string]any{"task_id": tk.ID}, &info)
			if info.OwnerPHID == nil || *info.OwnerPHID != bot || info.Status != "resolved" {
				t.Errorf("T%d after closing: owner %v status %s, want the bot, resolved", tk.ID, info.OwnerPHID, info.Status)
			}
		}
	})
}

// markedTask returns the bot's task whose description carries the marker
// key of campaign, as the bot.
func (e labSettings) markedTask(t *testing.T, campaign, key string) labTask {
	t.Helper()
	for _, tk := range e.botTasks(t, "AUDITBOT_TOKEN") {
		for _, line := range strings.Split(tk.Description, "\n") {
			if k, ok := bot.MarkerKey(line, campaign); ok && k == key {
				return tk
			}
		}
	}
	t.Fatalf("no task of %s carries %s", campaign, key)
	return labTask{}
}

// TestCloseAndRescan: closing an unassigned task makes the bot its owner
// (item 1), which the next tick does not take for an intruder; and a
// recurring rescan files a new batch for a member added after launch and
// posts its summary once on the standing task (item 9).
func TestCloseAndRescan(t *testing.T) {
	env := labEnv(t)
	t.Run("closing", func(t *testing.T) {
		env.reset(t)
		const name = "lab-close"
		b := newBot(t, env, "  acl*sre-team: {risk: vandalism}")
		b.campaign(name, fmt.Sprintf("criteria: [mfa]\ngroups: [acl*sre-team]\ncutoff: %s\nreminders: []\napprovers: acl*phabricator-admins\n", day(30).Format(time.DateOnly)))
		affected := env.expectedMFA(t, nil, slugSRE)
		b.ok("launch", name)
		tk := env.campaignTasks(t, name)[1]
		env.labCommand(t, "LAB_ENROLL_MFA", affected...)
		// The first tick finds them compliant; the close waits a quiet
		// period (the approval period) after that change.
		b.ok("tick", "--allow-future", "--now", day(60).Format(time.RFC3339))
		b.ok("tick", "--allow-future", "--now", day(120).Format(time.RFC3339))
		var info struct {
			OwnerPHID *string `json:"ownerPHID"`
			Status    string  `json:"status"`
		}
		env.must(t, "AUDITBOT_TOKEN", "maniphest.info", map[string]any{"task_id": tk.ID}, &info)
		botPHID := env.userPHID(t, "auditbot")
		if info.Status != "resolved" || info.OwnerPHID == nil || *info.OwnerPHID != botPHID {
			t.Fatalf("T%d after the close: status %s owner %v, want resolved, the bot\n%s", tk.ID, info.Status, info.OwnerPHID, b.ok("status", name))
		}
		before := env.xacts(t, "AUDITBOT_TOKEN", tk.PHID, nil)
		b.ok("tick", "--allow-future", "--now", day(180).Format(time.RFC3339))
		after := env.xacts(t, "AUDITBOT_TOKEN", tk.PHID, nil)
		for _, x := range after[:len(after)-len(before)] {
			t.Errorf("T%d: a tick after the close wrote %s by %s %+v", tk.ID, x.typ(), x.AuthorPHID, x.Fields)
		}
	})
	t.Run("recurring rescan", func(t *testing.T) {
		env.reset(t)
		const name = "lab-recur"
		b := newBot(t, env, "  acl*sre-team: {risk: vandalism}")
		b.campaign(name, fmt.Sprintf("criteria: [mfa]\ngroups: [acl*sre-team]\ncutoff: %s\nreminders: []\napprovers: acl*phabricator-admins\nteam: Security-Team\nevery: 7d\n", day(30).Format(time.DateOnly)))
		b.ok("launch", name)
		if n := len(env.campaignTasks(t, name)); n != 1 {
			t.Fatalf("%d tasks after launch, want 1", n)
		}
		env.must(t, "ADMIN_TOKEN", "project.edit", map[string]any{"objectIdentifier": "#" + slugSRE,
			"transactions": []map[string]any{{"type": "members.add", "value": []string{env.userPHID(t, "user40")}}}}, nil)
		now := day(1).Format(time.RFC3339)
		b.ok("rescan", name, "--allow-future", "--now", now)
		b.ok("rescan", name, "--allow-future", "--now", now)
		tasks := env.campaignTasks(t, name)
		if len(tasks) != 2 {
			t.Fatalf("%d tasks after the rescan, want 2", len(tasks))
		}
		if got := env.subscriberNames(t, tasks[2]); !slices.Contains(got, "user40") || slices.Contains(got, "user02") {
			t.Errorf("batch 2's subscribers %v: want user40, not the launch's users", got)
		}
		standing := env.markedTask(t, name, "recurring/standing-task")
		if n := env.countMarked(t, standing.PHID, name, "recurring/run-"); n != 1 {
			t.Errorf("run summaries on the standing task: %d, want 1", n)
		}
		for _, c := range env.comments(t, "AUDITBOT_TOKEN", standing.PHID) {
			t.Logf("standing task comment: %.300q", c.Text)
		}
	})
	env.reset(t)
}
