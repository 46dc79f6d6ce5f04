package phabtest

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPhorgeSemantics runs the sequence of phorgetest's TestPhorgeSemantics
// (checked on a real Phorge) against phabtest: both must agree.
func TestPhorgeSemantics(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	admin := s.AddUser(UserSpec{Username: "admin", Admin: true})
	bot := s.AddUser(UserSpec{Username: "auditbot", Admin: true, Bot: true})
	user01 := s.AddUser(UserSpec{Username: "user01"})
	user03 := s.AddUser(UserSpec{Username: "user03"})
	approvers := s.AddProject(ProjectSpec{Name: "acl*phabricator-admins", AuthorPHID: admin.PHID, Members: []string{admin.PHID, user03.PHID}})
	sre := s.AddProject(ProjectSpec{Name: "acl*sre-team", AuthorPHID: admin.PHID, Members: []string{user03.PHID}})

	call := func(tok, method string, params map[string]any) (map[string]any, string) {
		t.Helper()
		return rawCall(t, s, tok, method, params)
	}
	edit := func(tok, task string, txs ...map[string]any) (map[string]any, string) {
		t.Helper()
		p := map[string]any{"transactions": txs}
		if task != "" {
			p["objectIdentifier"] = task
		}
		return call(tok, "maniphest.edit", p)
	}
	// types returns the types of an edit's transactions, sorted.
	types := func(tok, task string, txs ...map[string]any) []string {
		t.Helper()
		res, err := edit(tok, task, txs...)
		if err != "" {
			t.Fatalf("maniphest.edit %s: %s", task, err)
		}
		var phids []string
		for _, x := range res["transactions"].([]any) {
			phids = append(phids, x.(map[string]any)["phid"].(string))
		}
		page, _ := call(bot.Token, "transaction.search", map[string]any{"objectIdentifier": task, "constraints": map[string]any{"phids": phids}})
		var out []string
		for _, x := range page["data"].([]any) {
			out = append(out, x.(map[string]any)["type"].(string))
		}
		slices.Sort(out)
		return out
	}
	cc := func(task string) []string {
		t.Helper()
		snap := s.taskByMonogram(task)
		if snap == nil {
			t.Fatalf("no %s", task)
		}
		return slices.Clone(snap.subscribers)
	}
	create := func(view string) string {
		t.Helper()
		res, err := edit(bot.Token, "", map[string]any{"type": "title", "value": view},
			map[string]any{"type": "view", "value": view}, map[string]any{"type": "edit", "value": "admin"},
			map[string]any{"type": "subscribers.add", "value": []string{bot.PHID}})
		if err != "" {
			t.Fatal(err)
		}
		id := res["object"].(map[string]any)["id"].(float64)
		return "T" + strconv.Itoa(int(id))
	}

	t.Run("0 a subscribers-only task needs a subscribers transaction", func(t *testing.T) {
		_, err := edit(bot.Token, "", map[string]any{"type": "title", "value": "x"}, map[string]any{"type": "view", "value": PolicySubscribers})
		const want = "ERR-CONDUIT-CORE: Validation errors:\n  - The view policy of this object would no longer allow you to view the object."
		if err != want {
			t.Errorf("got %q, want %q", err, want)
		}
	})
	private, public := create(PolicySubscribers), create(PolicyUsers)

	t.Run("3 mentions and hashtags", func(t *testing.T) {
		text := "@user01 and @user03 please look; see #acl_sre-team"
		edit(bot.Token, private, map[string]any{"type": "comment", "value": text})
		if diff := cmp.Diff([]string{bot.PHID}, cc(private)); diff != "" {
			t.Errorf("subscribers-only task (-want +got):\n%s", diff)
		}
		edit(bot.Token, public, map[string]any{"type": "comment", "value": text})
		if diff := cmp.Diff([]string{bot.PHID, user01.PHID, user03.PHID}, cc(public)); diff != "" {
			t.Errorf("public task: mentions subscribe who can see it, hashtags nobody (-want +got):\n%s", diff)
		}
		_ = sre
	})
	t.Run("4 commenting subscribes the author", func(t *testing.T) {
		if diff := cmp.Diff([]string{"comment", "subscribers"}, types(admin.Token, public, map[string]any{"type": "comment", "value": "hi"})); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("5 a member of a subscribed project sees the task and may comment", func(t *testing.T) {
		if _, err := edit(user03.Token, private, map[string]any{"type": "comment", "value": "early"}); err == "" {
			t.Fatal("user03 commented before the project was subscribed")
		}
		got := types(bot.Token, private, map[string]any{"type": "comment", "value": "Approvers?"},
			map[string]any{"type": "subscribers.add", "value": []string{approvers.PHID}})
		if diff := cmp.Diff([]string{"comment", "subscribers"}, got); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff([]string{"comment", "subscribers"}, types(user03.Token, private, map[string]any{"type": "comment", "value": "!approve"})); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("2 ccPHIDs lists projects", func(t *testing.T) {
		info, err := call(bot.Token, "maniphest.info", map[string]any{"task_id": strings.TrimPrefix(private, "T")})
		if err != "" || !slices.Contains(info["ccPHIDs"].([]any), any(approvers.PHID)) {
			t.Errorf("ccPHIDs %v %s lacks %s", info["ccPHIDs"], err, approvers.PHID)
		}
	})
	t.Run("7 an admin removes and re-adds a project subscriber", func(t *testing.T) {
		edit(bot.Token, public, map[string]any{"type": "subscribers.add", "value": []string{approvers.PHID}})
		for _, tk := range []string{public, private} {
			if _, err := edit(admin.Token, tk, map[string]any{"type": "subscribers.remove", "value": []string{approvers.PHID}}); err != "" {
				t.Fatal(err)
			}
			_, err := edit(admin.Token, tk, map[string]any{"type": "subscribers.add", "value": []string{approvers.PHID}})
			if (err == "") != (tk == public) {
				t.Errorf("%s: re-add by admin: %q", tk, err)
			}
		}
	})
	t.Run("1 closing an unassigned task assigns it to the closer", func(t *testing.T) {
		got := types(bot.Token, public, map[string]any{"type": "status", "value": "resolved"}, map[string]any{"type": "comment", "value": "Closing."})
		if diff := cmp.Diff([]string{"comment", "owner", "status"}, got); diff != "" {
			t.Error(diff)
		}
	})
	_ = user01
}
