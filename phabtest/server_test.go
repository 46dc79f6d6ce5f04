package phabtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type searchPage struct {
	Data []struct {
		ID     int
		PHID   string
		Fields map[string]any
	}
	Cursor struct {
		After  *string
		Before *string
	}
}

func TestCompareShape(t *testing.T) {
	tests := []struct {
		name      string
		want, got string
		loose     bool
		ndiff     int
	}{
		{"same", `{"a":"x","b":[1,2]}`, `{"a":"y","b":[3,4]}`, false, 0},
		{"string vs number", `{"after":"41"}`, `{"after":41}`, false, 1},
		{"empty list vs object", `{"result":[]}`, `{"result":{}}`, false, 1},
		{"missing key", `{"a":1,"b":2}`, `{"a":1}`, false, 1},
		{"extra key", `{"a":1}`, `{"a":1,"b":2}`, false, 1},
		{"length", `[1,2]`, `[1]`, false, 1},
		{"loose length", `[1,2]`, `[1]`, true, 0},
		{"loose still needs non-empty", `[1,2]`, `[]`, true, 1},
		{"phid keys", `{"PHID-STRY-a":{"x":1}}`, `{"PHID-STRY-b":{"x":2}}`, false, 0},
		{"null vs string", `{"owner":null}`, `{"owner":"PHID-USER-x"}`, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w, g any
			json.Unmarshal([]byte(tc.want), &w)
			json.Unmarshal([]byte(tc.got), &g)
			if d := compareShape(w, g, shapeOptions{looseLen: tc.loose}); len(d) != tc.ndiff {
				t.Errorf("got %d diffs %q, want %d", len(d), d, tc.ndiff)
			}
		})
	}
}

func TestAdminIsNotOmnipotent(t *testing.T) {
	l := newLab(t)
	for _, f := range restrictedTasks {
		l.replay(f)
	}
	tests := []struct {
		who       string
		wantTasks []int
		seesTS    bool // trust-and-safety, view = members
	}{
		{"admin", []int{12, 11}, false},    // not subscribed to T10 (fact 23)
		{"auditbot", []int{11, 10}, false}, // not in Security-Team
		{"user01", nil, false},
		{"user03", []int{12}, false},
		{"user25", []int{10}, false},
		{"user02", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.who, func(t *testing.T) {
			tok := l.users[tc.who].Token
			var tasks searchPage
			l.callJSON("maniphest.search", tok, map[string]any{"constraints": map[string]any{"ids": []int{10, 11, 12}}}).must(t, &tasks)
			var got []int
			for _, d := range tasks.Data {
				got = append(got, d.ID)
			}
			if diff := cmp.Diff(tc.wantTasks, got); diff != "" {
				t.Errorf("visible tasks (-want +got):\n%s", diff)
			}
			var projects searchPage
			l.callJSON("project.search", tok, map[string]any{"constraints": map[string]any{"slugs": []string{"trust-and-safety"}}}).must(t, &projects)
			if sees := len(projects.Data) == 1; sees != tc.seesTS {
				t.Errorf("sees trust-and-safety = %v, want %v", sees, tc.seesTS)
			}
		})
	}
}

func TestTaskOwnerCanAlwaysView(t *testing.T) {
	l := newLab(t)
	l.replay("maniphest.edit.create.view-subscribers.json") // T10
	bot, user01 := l.users["auditbot"], l.users["user01"]
	info := l.callJSON("maniphest.info", user01.Token, map[string]any{"task_id": 10})
	if info.code() != codeCore || !strings.HasPrefix(*info.ErrorInfo, "[You Shall Not Pass: Restricted Maniphest Task] (Can View)") {
		t.Fatalf("before assignment: %s %v", info.code(), info.ErrorInfo)
	}
	l.callJSON("maniphest.edit", bot.Token, map[string]any{
		"objectIdentifier": "T10",
		"transactions":     []map[string]any{{"type": "owner", "value": user01.PHID}},
	}).must(t, nil)
	l.callJSON("maniphest.info", user01.Token, map[string]any{"task_id": 10}).must(t, nil)
}

func TestPagingEndsOnNullAfter(t *testing.T) {
	l := newLab(t)
	tok := l.users["auditbot"].Token
	for _, limit := range []int{5, 13, 25, 64, 65, 100} {
		var ids []int
		after := any(nil)
		pages := 0
		for {
			var page searchPage
			l.callJSON("user.search", tok, map[string]any{"limit": limit, "after": after}).must(t, &page)
			pages++
			for _, d := range page.Data {
				ids = append(ids, d.ID)
			}
			if page.Cursor.After == nil {
				break
			}
			if pages > 100 {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			after = *page.Cursor.After
		}
		// 65 users: an exactly full last page already ends (fact 12).
		if wantPages := (65 + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
		if len(ids) != 65 || !slices.IsSortedFunc(ids, func(a, b int) int { return b - a }) {
			t.Errorf("limit %d: ids %v, want 65 newest first", limit, ids)
		}
	}
}

func TestNullAfterRestarts(t *testing.T) {
	l := newLab(t)
	tok := l.users["auditbot"].Token
	var first, again searchPage
	l.callJSON("project.search", tok, map[string]any{"limit": 2}).must(t, &first)
	l.callJSON("project.search", tok, map[string]any{"limit": 2, "after": nil}).must(t, &again)
	if first.Data[0].ID != again.Data[0].ID {
		t.Errorf("after null gave page starting at %d, want %d (fact 12)", again.Data[0].ID, first.Data[0].ID)
	}
}

func TestWritesAreRecorded(t *testing.T) {
	l := newLab(t)
	bot := l.users["auditbot"]
	l.replay("maniphest.edit.create.view-subscribers.json")
	l.callJSON("maniphest.edit", bot.Token, map[string]any{
		"objectIdentifier": "T10",
		"transactions":     []map[string]any{{"type": "comment", "value": "hello"}},
	}).must(t, nil)
	// A no-op: removing someone who is not subscribed (fact 28).
	var noop struct{ Transactions []any }
	l.callJSON("maniphest.edit", bot.Token, map[string]any{
		"objectIdentifier": 10,
		"transactions":     []map[string]any{{"type": "subscribers.remove", "value": []string{l.users["user60"].PHID}}},
	}).must(t, &noop)
	if noop.Transactions == nil || len(noop.Transactions) != 0 {
		t.Errorf("no-op edit transactions = %#v, want []", noop.Transactions)
	}
	// A failed write is not recorded.
	if e := l.callJSON("maniphest.edit", l.users["user01"].Token, map[string]any{
		"objectIdentifier": "T10",
		"transactions":     []map[string]any{{"type": "comment", "value": "can I?"}},
	}); e.code() != codeCore {
		t.Fatalf("comment by non-subscriber: %s", e.code())
	}
	task, _ := l.s.Task(10)
	writes := l.s.Writes()
	want := []Write{
		{Method: "maniphest.edit", ActorPHID: bot.PHID, ObjectID: 10, ObjectPHID: task.PHID, Created: true},
		{Method: "maniphest.edit", ActorPHID: bot.PHID, ObjectID: 10, ObjectPHID: task.PHID,
			Transactions: []Transaction{{Type: "comment", Value: "hello"}}},
		{Method: "maniphest.edit", ActorPHID: bot.PHID, ObjectID: 10, ObjectPHID: task.PHID,
			Transactions: []Transaction{{Type: "subscribers.remove", Value: []string{l.users["user60"].PHID}}}},
	}
	opts := cmp.Options{
		cmpopts.IgnoreFields(Write{}, "At", "TransactionPHIDs"),
		cmp.FilterPath(func(p cmp.Path) bool {
			// The create call's transactions are long; checked by count below.
			return p.Last().String() == ".Transactions" && p.Index(-2).(cmp.SliceIndex).Key() == 0
		}, cmp.Ignore()),
	}
	if diff := cmp.Diff(want, writes, opts); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	if len(writes) == 3 {
		if n := len(writes[0].Transactions); n != 6 {
			t.Errorf("create recorded %d transactions, want 6", n)
		}
		if n := len(writes[0].TransactionPHIDs); n != 7 {
			t.Errorf("create applied %d transactions, want 7 (create + 6)", n)
		}
		if n := len(writes[1].TransactionPHIDs); n != 1 {
			t.Errorf("comment applied %d transactions, want 1", n)
		}
		if n := len(writes[2].TransactionPHIDs); n != 0 {
			t.Errorf("no-op applied %d transactions, want 0", n)
		}
	}
	comments := l.s.Comments(10)
	if len(comments) != 1 || comments[0].Text != "hello" || comments[0].AuthorPHID != bot.PHID {
		t.Errorf("comments = %+v", comments)
	}
}

func TestEditSemantics(t *testing.T) {
	l := newLab(t)
	bot, user25 := l.users["auditbot"], l.users["user25"]
	for _, f := range t10History[:4] { // create, comment, remove 5, close
		l.replay(f)
	}
	task, _ := l.s.Task(10)
	// Closing an unassigned task assigns it to the closer (fact 27).
	if task.Status != "resolved" || task.OwnerPHID != bot.PHID || task.CloserPHID != bot.PHID {
		t.Errorf("after close: status %q owner %q closer %q", task.Status, task.OwnerPHID, task.CloserPHID)
	}
	if len(task.SubscriberPHIDs) != 16 {
		t.Errorf("%d subscribers, want 21 - 5 = 16", len(task.SubscriberPHIDs))
	}
	// Unknown statuses are accepted (fact 26).
	l.callJSON("maniphest.edit", bot.Token, map[string]any{
		"objectIdentifier": task.PHID, "transactions": []map[string]any{{"type": "status", "value": "bogus"}},
	}).must(t, nil)
	var page struct {
		Data []struct {
			Fields struct {
				Status map[string]any
			}
			Attachments struct {
				Subscribers struct {
					SubscriberPHIDs    []string
					SubscriberCount    int
					ViewerIsSubscribed bool
				}
			}
		}
	}
	l.callJSON("maniphest.search", user25.Token, map[string]any{
		"constraints": map[string]any{"ids": []int{10}}, "attachments": map[string]any{"subscribers": true},
	}).must(t, &page)
	if len(page.Data) != 1 {
		t.Fatalf("user25 (subscriber) sees %d tasks", len(page.Data))
	}
	got := page.Data[0]
	if diff := cmp.Diff(map[string]any{"value": "bogus", "name": "Unknown Status", "color": nil}, got.Fields.Status); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	sub := got.Attachments.Subscribers
	// Capped at 10, true count beside it (fact 24).
	if len(sub.SubscriberPHIDs) != 10 || sub.SubscriberCount != 16 || !sub.ViewerIsSubscribed {
		t.Errorf("subscribers attachment: %d PHIDs, count %d, viewer %v", len(sub.SubscriberPHIDs), sub.SubscriberCount, sub.ViewerIsSubscribed)
	}
	// Commenting auto-subscribes the commenter (fact 27): user01 on T4.
	before, _ := l.s.Task(4)
	user17 := l.users["user17"]
	if !slices.Contains(before.SubscriberPHIDs, user17.PHID) {
		t.Fatalf("seeded comment did not subscribe user17")
	}
	l.callJSON("maniphest.edit", l.users["user30"].Token, map[string]any{
		"objectIdentifier": "T4", "transactions": []map[string]any{{"type": "comment", "value": "me too"}},
	}).must(t, nil)
	after, _ := l.s.Task(4)
	if !slices.Contains(after.SubscriberPHIDs, l.users["user30"].PHID) {
		t.Errorf("commenter not subscribed: %v", after.SubscriberPHIDs)
	}
}

func TestProjectEditMembership(t *testing.T) {
	l := newLab(t)
	sre := l.projects["acl*sre-team"]
	bot := l.users["auditbot"]
	edit := func(tok string, txs ...map[string]any) envelopeIn {
		return l.callJSON("project.edit", tok, map[string]any{"objectIdentifier": sre.PHID, "transactions": txs})
	}
	user14, user60 := l.users["user14"].PHID, l.users["user60"].PHID
	// remove + add of one user in one call is a net removal (fact 31).
	edit(bot.Token, map[string]any{"type": "members.remove", "value": []string{user14}},
		map[string]any{"type": "members.add", "value": []string{user14}}).must(t, nil)
	// Usernames resolve; bogus PHIDs are taken as they are (fact 30).
	edit(bot.Token, map[string]any{"type": "members.add", "value": []string{"user60", "PHID-USER-doesnotexist"}}).must(t, nil)
	members := l.s.Members(sre.PHID)
	if slices.Contains(members, user14) || !slices.Contains(members, user60) || !slices.Contains(members, "PHID-USER-doesnotexist") {
		t.Errorf("members = %v", members)
	}
	// A non-admin may not touch others on an admin-edited project, and the
	// check runs even when nothing would change.
	if e := edit(l.users["user01"].Token, map[string]any{"type": "members.remove", "value": []string{user14}}); e.code() != codeCore ||
		!strings.Contains(*e.ErrorInfo, "(Can Edit)") {
		t.Errorf("no-op remove by user01: %s %v", e.code(), e.ErrorInfo)
	}
	// Leaving needs no edit permission.
	user02 := l.users["user02"]
	edit(user02.Token, map[string]any{"type": "members.remove", "value": []string{user02.PHID}}).must(t, nil)
	if slices.Contains(l.s.Members(sre.PHID), user02.PHID) {
		t.Error("user02 could not leave")
	}
}

func TestFailAfterWriteAppliesThenDrops(t *testing.T) {
	l := newLab(t)
	bot := l.users["auditbot"]
	l.s.FailAfterWrite("maniphest.edit", 2)
	comment := func(text string) error {
		b, _ := json.Marshal(map[string]any{
			"objectIdentifier": "T4",
			"transactions":     []map[string]any{{"type": "comment", "value": text}},
			"__conduit__":      map[string]any{"token": bot.Token},
		})
		resp, err := http.PostForm(l.s.URL()+"/api/maniphest.edit", url.Values{"params": {string(b)}})
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := comment("first"); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if err := comment("second"); err == nil {
		t.Fatal("second call: no transport error")
	}
	if err := comment("third"); err != nil {
		t.Fatalf("third call: %v", err)
	}
	var texts []string
	for _, c := range l.s.Comments(4) {
		texts = append(texts, c.Text)
	}
	// The dropped call landed.
	if want := []string{"Recent comment by user07", "Recent comment by user17", "first", "second", "third"}; !slices.Equal(texts, want) {
		t.Errorf("comments = %q, want %q", texts, want)
	}
	if got := l.s.Calls()["maniphest.edit"]; got != 3 {
		t.Errorf("Calls = %d, want 3", got)
	}
}

func TestFailBeforeAndRateLimit(t *testing.T) {
	l := newLab(t)
	bot := l.users["auditbot"]
	l.s.FailBefore("maniphest.edit", 1, "ERR-CONDUIT-CORE", "injected")
	e := l.callJSON("maniphest.edit", bot.Token, map[string]any{
		"objectIdentifier": "T4", "transactions": []map[string]any{{"type": "comment", "value": "x"}},
	})
	if e.code() != "ERR-CONDUIT-CORE" || *e.ErrorInfo != "injected" {
		t.Errorf("got %s %v, want injected error", e.code(), e.ErrorInfo)
	}
	if n := len(l.s.Comments(4)); n != 2 {
		t.Errorf("injected failure applied: %d comments", n)
	}
	l.s.ResetCalls()
	l.s.SetRateLimit(1)
	l.callJSON("user.whoami", bot.Token, nil).must(t, nil)
	a := l.post("user.whoami", "application/x-www-form-urlencoded", "params={}")
	if a.status != http.StatusTooManyRequests || !strings.HasPrefix(a.ctype, "text/plain") {
		t.Errorf("second call: %d %s, want 429 text/plain", a.status, a.ctype)
	}
	l.callJSON("user.whoami", bot.Token, nil).must(t, nil)
	if got := l.s.Calls()["user.whoami"]; got != 3 {
		t.Errorf("Calls = %d, want 3", got)
	}
}

func TestTokens(t *testing.T) {
	l := newLab(t)
	u := l.users["user01"]
	if len(u.Token) != 32 || !strings.HasPrefix(u.Token, "api-") {
		t.Fatalf("token %q", u.Token)
	}
	l.callJSON("user.whoami", u.Token, nil).must(t, nil)
	l.s.SetDisabled(u.PHID, true)
	if e := l.callJSON("user.whoami", u.Token, nil); e.code() != codeInvalidAuth || *e.ErrorInfo != "User account is not permitted to use the API." {
		t.Errorf("disabled: %s %v", e.code(), e.ErrorInfo)
	}
	l.s.SetDisabled(u.PHID, false)
	l.s.RevokeToken(u.Token)
	if e := l.callJSON("user.whoami", u.Token, nil); e.code() != codeInvalidAuth || !strings.Contains(*e.ErrorInfo, u.Token) {
		t.Errorf("revoked: %s %v", e.code(), e.ErrorInfo)
	}
	l.callJSON("user.whoami", l.s.NewToken(u.PHID), nil).must(t, nil)
}

func TestFormModeNestedParams(t *testing.T) {
	l := newLab(t)
	form := url.Values{
		"api.token":                 {l.users["user01"].Token},
		"constraints[usernames][0]": {"user02"},
		"constraints[usernames][1]": {"user07"},
		"constraints[isDisabled]":   {"0"},
		"limit":                     {"10"},
	}
	a := l.post("user.search", "application/x-www-form-urlencoded", form.Encode())
	var env struct {
		Result struct {
			Data   []struct{ Fields struct{ Username string } }
			Cursor struct{ Limit any }
		}
	}
	if err := json.Unmarshal(a.body, &env); err != nil {
		t.Fatal(err)
	}
	if len(env.Result.Data) != 1 || env.Result.Data[0].Fields.Username != "user02" {
		t.Errorf("data = %+v", env.Result.Data)
	}
	if env.Result.Cursor.Limit != "10" {
		t.Errorf("cursor.limit = %#v, want the string as sent", env.Result.Cursor.Limit)
	}
}

func TestDeterministicPHIDs(t *testing.T) {
	a, b := newLab(t), newLab(t)
	if diff := cmp.Diff(a.users, b.users); diff != "" {
		t.Errorf("users differ between identical servers:\n%s", diff)
	}
	if diff := cmp.Diff(a.s.Tasks(), b.s.Tasks()); diff != "" {
		t.Errorf("tasks differ between identical servers:\n%s", diff)
	}
	c := New(Options{Seed: 2})
	defer c.Close()
	if u := c.AddUser(UserSpec{Username: "admin"}); u.PHID == a.users["admin"].PHID {
		t.Error("a different seed gave the same PHID")
	}
}

func TestNormalizeSlug(t *testing.T) {
	for in, want := range map[string]string{
		"acl*security": "acl_security", "WMF-NDA": "wmf-nda", "#acl_security": "acl_security",
		"Security Team": "security_team", "acl*sre-team": "acl_sre-team",
	} {
		if got := NormalizeSlug(in); got != want {
			t.Errorf("NormalizeSlug(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUnsubscribeSemantics: a subscriber may remove themself with view
// rights alone, and commenting afterwards does not subscribe them again,
// as on a real Phabricator (the explicit unsubscribe is remembered).
func TestUnsubscribeSemantics(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	author := s.AddUser(UserSpec{Username: "author", Admin: true})
	u := s.AddUser(UserSpec{Username: "reader"})
	task := s.AddTask(TaskSpec{Title: "restricted", AuthorPHID: author.PHID, ViewPolicy: PolicySubscribers, EditPolicy: PolicyAdmin,
		Subscribers: []string{u.PHID}})
	call := func(tok string, params map[string]any) map[string]any {
		t.Helper()
		params["__conduit__"] = map[string]any{"token": tok}
		b, _ := json.Marshal(params)
		resp, err := http.PostForm(s.URL()+"/api/maniphest.edit", url.Values{"params": {string(b)}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	remove := call(u.Token, map[string]any{"objectIdentifier": task.PHID, "transactions": []any{
		map[string]any{"type": "subscribers.remove", "value": []string{u.PHID}}}})
	if remove["error_code"] != nil {
		t.Fatalf("self-unsubscribe with view rights only: %v %v", remove["error_code"], remove["error_info"])
	}
	snap, _ := s.Task(task.ID)
	if slices.Contains(snap.SubscriberPHIDs, u.PHID) {
		t.Fatal("still subscribed")
	}
	// On a task they can still see, an unsubscribed user's comment does
	// not subscribe them again.
	other := s.AddUser(UserSpec{Username: "other"})
	s2 := s.AddTask(TaskSpec{Title: "open", AuthorPHID: author.PHID, ViewPolicy: PolicyUsers, EditPolicy: PolicyAdmin,
		Subscribers: []string{other.PHID}})
	call(other.Token, map[string]any{"objectIdentifier": s2.PHID, "transactions": []any{
		map[string]any{"type": "subscribers.remove", "value": []string{other.PHID}}}})
	comment := call(other.Token, map[string]any{"objectIdentifier": s2.PHID, "transactions": []any{
		map[string]any{"type": "comment", "value": "still reading"}}})
	if comment["error_code"] != nil {
		t.Fatalf("comment: %v %v", comment["error_code"], comment["error_info"])
	}
	snap2, _ := s.Task(s2.ID)
	if slices.Contains(snap2.SubscriberPHIDs, other.PHID) {
		t.Error("commenting re-subscribed a user who had unsubscribed")
	}
	// Removing someone else still needs edit rights.
	denied := call(other.Token, map[string]any{"objectIdentifier": s2.PHID, "transactions": []any{
		map[string]any{"type": "subscribers.remove", "value": []string{author.PHID}}}})
	if denied["error_code"] == nil {
		t.Error("a non-editor removed another subscriber")
	}
}

func TestOnWriteGate(t *testing.T) {
	type seen struct {
		N      int
		Method string
		Phase  WritePhase
	}
	var calls []seen
	// Drop write 2 before it runs and write 3 after it ran.
	s := New(Options{OnWrite: func(n int, method string, phase WritePhase) bool {
		calls = append(calls, seen{n, method, phase})
		return (n == 2 && phase == BeforeWrite) || (n == 3 && phase == AfterWrite)
	}})
	t.Cleanup(s.Close)
	bot := s.AddUser(UserSpec{Username: "auditbot", RealName: "Audit Bot", Admin: true, Bot: true})
	task := s.AddTask(TaskSpec{Title: "T", AuthorPHID: bot.PHID})
	comment := func(text string) error {
		b, _ := json.Marshal(map[string]any{
			"objectIdentifier": task.PHID,
			"transactions":     []map[string]any{{"type": "comment", "value": text}},
			"__conduit__":      map[string]any{"token": bot.Token},
		})
		resp, err := http.PostForm(s.URL()+"/api/maniphest.edit", url.Values{"params": {string(b)}})
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	for _, c := range []struct {
		text    string
		dropped bool
	}{{"first", false}, {"second", true}, {"third", true}, {"fourth", false}} {
		if err := comment(c.text); (err != nil) != c.dropped {
			t.Errorf("comment %q: err = %v, want dropped %v", c.text, err, c.dropped)
		}
	}
	// Reads and seeding do not count.
	b, _ := json.Marshal(map[string]any{"__conduit__": map[string]any{"token": bot.Token}})
	if resp, err := http.PostForm(s.URL()+"/api/user.whoami", url.Values{"params": {string(b)}}); err == nil {
		resp.Body.Close()
	}
	var texts []string
	for _, c := range s.Comments(task.ID) {
		texts = append(texts, c.Text)
	}
	// "second" was dropped before it ran; "third" landed, its answer lost.
	if diff := cmp.Diff([]string{"first", "third", "fourth"}, texts); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
	want := []seen{
		{1, "maniphest.edit", BeforeWrite}, {1, "maniphest.edit", AfterWrite},
		{2, "maniphest.edit", BeforeWrite},
		{3, "maniphest.edit", BeforeWrite}, {3, "maniphest.edit", AfterWrite},
		{4, "maniphest.edit", BeforeWrite}, {4, "maniphest.edit", AfterWrite},
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("OnWrite calls (-want +got):\n%s", diff)
	}
}

// TestEditedComment checks fact 45: an edit keeps the transaction's id and
// PHID, lists the new version first, and moves dateModified only; a
// deletion adds a removed version with no text.
func TestEditedComment(t *testing.T) {
	l := newLab(t)
	admin := l.users["admin"]
	c := l.s.AddComment(CommentSpec{TaskID: 1, AuthorPHID: admin.PHID, Text: "!approve"})
	created := l.clock.Now().Unix()
	l.clock.Advance(8 * time.Second)
	l.s.EditComment(c.TransactionPHID, "I withdraw my approval")
	l.clock.Advance(8 * time.Second)
	l.s.DeleteComment(c.TransactionPHID)

	var page struct {
		Data []xactRow `json:"data"`
	}
	l.callJSON("transaction.search", admin.Token, map[string]any{
		"objectIdentifier": "T1", "constraints": map[string]any{"phids": []string{c.TransactionPHID}},
	}).must(t, &page)
	if len(page.Data) != 1 {
		t.Fatalf("got %d transactions, want 1", len(page.Data))
	}
	x := page.Data[0]
	if x.PHID != c.TransactionPHID || x.DateCreated != created || x.DateModified != created+16 {
		t.Errorf("transaction %s created %d modified %d; want %s, %d, %d", x.PHID, x.DateCreated, x.DateModified, c.TransactionPHID, created, created+16)
	}
	type version struct {
		Version int
		Raw     string
		Removed bool
	}
	var got []version
	for _, v := range x.Comments {
		got = append(got, version{v.Version, v.Content["raw"], v.Removed})
	}
	want := []version{{3, "", true}, {2, "I withdraw my approval", false}, {1, "!approve", false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
}

// TestSubscriberEditCapabilities: who may change a task's subscribers, as
// Phorge's getLegacyRequiredCapabilities decides. Adding others needs
// only CAN_INTERACT (a task's view policy), so anyone who can see a task
// with view policy "subscribers" can let others see it; removing others
// needs CAN_EDIT; the owner field needs CAN_EDIT.
func TestSubscriberEditCapabilities(t *testing.T) {
	for _, tt := range []struct {
		name   string
		edit   func(reader, outsider, author, team string) map[string]any
		denied bool
	}{
		{"add another user", func(_, o, _, _ string) map[string]any {
			return map[string]any{"type": "subscribers.add", "value": []string{o}}
		}, false},
		{"add another user by username", func(_, _, _, _ string) map[string]any {
			return map[string]any{"type": "subscribers.add", "value": []string{"outsider"}}
		}, false},
		{"add a project", func(_, _, _, team string) map[string]any {
			return map[string]any{"type": "subscribers.add", "value": []string{team}}
		}, false},
		{"set: keep everyone, add another", func(r, o, a, _ string) map[string]any {
			return map[string]any{"type": "subscribers.set", "value": []string{r, a, o}}
		}, false},
		{"remove yourself", func(r, _, _, _ string) map[string]any {
			return map[string]any{"type": "subscribers.remove", "value": []string{r}}
		}, false},
		{"remove another", func(_, _, a, _ string) map[string]any {
			return map[string]any{"type": "subscribers.remove", "value": []string{a}}
		}, true},
		{"set: drop another", func(r, _, _, _ string) map[string]any {
			return map[string]any{"type": "subscribers.set", "value": []string{r}}
		}, true},
		{"assign", func(_, o, _, _ string) map[string]any {
			return map[string]any{"type": "owner", "value": o}
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{})
			defer s.Close()
			author := s.AddUser(UserSpec{Username: "author", Admin: true})
			reader := s.AddUser(UserSpec{Username: "reader"})
			outsider := s.AddUser(UserSpec{Username: "outsider"})
			team := s.AddProject(ProjectSpec{Name: "Everyone", Members: []string{outsider.PHID}})
			task := s.AddTask(TaskSpec{Title: "restricted", AuthorPHID: author.PHID, ViewPolicy: PolicySubscribers, EditPolicy: PolicyAdmin,
				Subscribers: []string{reader.PHID, author.PHID}})
			params := map[string]any{"objectIdentifier": task.PHID, "transactions": []any{tt.edit(reader.PHID, outsider.PHID, author.PHID, team.PHID)},
				"__conduit__": map[string]any{"token": reader.Token}}
			b, _ := json.Marshal(params)
			resp, err := http.PostForm(s.URL()+"/api/maniphest.edit", url.Values{"params": {string(b)}})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				ErrorCode *string `json:"error_code"`
				ErrorInfo *string `json:"error_info"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
			if got := out.ErrorCode != nil; got != tt.denied {
				t.Fatalf("denied = %v, want %v (%v)", got, tt.denied, out.ErrorInfo)
			}
			if tt.denied && !strings.Contains(*out.ErrorInfo, "(Can Edit)") {
				t.Errorf("error = %q, want the (Can Edit) policy error", *out.ErrorInfo)
			}
		})
	}
}

// TestReassignSubscribesFormerOwner: reassigning a task, also to nobody,
// subscribes its former owner, under the editor's name (seen on the lab:
// the bot's unassignment left the outsider it unassigned subscribed).
func TestReassignSubscribesFormerOwner(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	admin := s.AddUser(UserSpec{Username: "admin", Admin: true})
	outsider := s.AddUser(UserSpec{Username: "outsider"})
	task := s.AddTask(TaskSpec{Title: "restricted", AuthorPHID: admin.PHID, ViewPolicy: PolicySubscribers, EditPolicy: PolicyAdmin,
		Subscribers: []string{admin.PHID}})
	edit := func(owner any) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"objectIdentifier": task.PHID, "transactions": []any{map[string]any{"type": "owner", "value": owner}},
			"__conduit__": map[string]any{"token": admin.Token}})
		resp, err := http.PostForm(s.URL()+"/api/maniphest.edit", url.Values{"params": {string(b)}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	edit(outsider.PHID)
	if got, _ := s.Task(task.ID); got.OwnerPHID != outsider.PHID || slices.Contains(got.SubscriberPHIDs, outsider.PHID) {
		t.Fatalf("after assigning: owner %q, subscribers %v; want outsider the owner, not subscribed", got.OwnerPHID, got.SubscriberPHIDs)
	}
	edit(nil)
	if got, _ := s.Task(task.ID); got.OwnerPHID != "" || !slices.Contains(got.SubscriberPHIDs, outsider.PHID) {
		t.Errorf("after unassigning: owner %q, subscribers %v; want no owner and the former owner subscribed", got.OwnerPHID, got.SubscriberPHIDs)
	}
}
