package phabtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// contractCase replays one recording against the lab fixture and compares
// the answer with what the real server said.
type contractCase struct {
	file string
	// setup recordings are replayed first and must succeed, to bring the
	// fixture to the state the recording was made in.
	setup []string
	// prepare adjusts the fixture after setup.
	prepare func(l *lab)
	// token overrides the account chosen from the recording's "as".
	token func(l *lab) string
	// rewrite adjusts the JSON params after PHID mapping.
	rewrite func(l *lab, params map[string]any)
	// looseLen: lists may differ in length (the lab had more history).
	looseLen bool
	// exactCursor also compares result.cursor values: the fixture has the
	// lab's ids, so paging must stop at the same rows.
	exactCursor bool
}

// t10History replays the life of T10 in the lab, in order.
var t10History = []string{
	"maniphest.edit.create.view-subscribers.json",
	"maniphest.edit.comment.json",
	"maniphest.edit.subscribers-remove.json",
	"maniphest.edit.close.json",
	"quirk.maniphest.edit.unknown-status-accepted.json",
	"maniphest.edit.status-back-to-resolved.json",
}

// lockedTask files T15 as in the lab: view subscribers (user03 among
// them), edit administrators only (fact 46). Tasks T10-T14 stand in for
// the lab's other tasks so that the ids, which the errors name, match.
func lockedTask(l *lab) {
	beforeLockedTask(l)
	l.replay("maniphest.edit.create.view-subscribers-edit-admin.json")
}

// beforeLockedTask brings the fixture to where T15 was filed. The lab had
// been rebuilt (fact 46), so user03's recorded PHID is a new one.
func beforeLockedTask(l *lab) {
	l.recorded["PHID-USER-jcgsyv3o4jeyaahqxv7o"] = l.users["user03"].PHID
	for id := len(l.s.Tasks()) + 1; id < 15; id++ {
		l.s.AddTask(TaskSpec{Title: fmt.Sprintf("Lab filler T%d", id), AuthorPHID: l.users["admin"].PHID})
	}
}

// restrictedActivity stands in for the lab's fact-43 setup: a member of
// acl*security files a task only that group may see. The
// lab used user03, who has visible activity in this fixture, so the
// recorded PHID is mapped to user04, who has none.
func restrictedActivity(l *lab) {
	author := l.users["user04"]
	l.recorded["PHID-USER-jcgsyv3o4jeyaahqxv7o"] = author.PHID
	sec := l.projects["acl*security"].PHID
	// One edit, one story (the lab's story groups four transactions).
	l.s.AddTask(TaskSpec{Title: "Lab: restricted security work", Description: "Investigating.", AuthorPHID: author.PHID, ViewPolicy: sec, EditPolicy: sec})
}

var restrictedTasks = []string{
	"maniphest.edit.create.view-subscribers.json",
	"maniphest.edit.create.view-admin.json",
	"maniphest.edit.create.view-project.json",
}

// user03 is the lab's "USER03": a subscriber of T15, not an admin.
func user03(l *lab) string { return l.users["user03"].Token }

func rawToken(tok string) func(*lab) string { return func(*lab) string { return tok } }

func removeMember(project, username string) func(l *lab) {
	return func(l *lab) { l.s.RemoveMembers(l.projects[project].PHID, l.users[username].PHID) }
}

// feedCursor points a recorded feed cursor at the fixture's n-th newest
// story (recorded chronological keys do not exist here, fact 39).
func feedCursor(key string, n int) func(l *lab, p map[string]any) {
	return func(l *lab, p map[string]any) {
		l.s.mu.Lock()
		defer l.s.mu.Unlock()
		keys := make([]uint64, 0, len(l.s.stories))
		for _, st := range l.s.stories {
			keys = append(keys, st.key)
		}
		for i := range keys {
			for j := i + 1; j < len(keys); j++ {
				if keys[j] > keys[i] {
					keys[i], keys[j] = keys[j], keys[i]
				}
			}
		}
		if _, isString := p[key].(string); isString {
			p[key] = jsonUint(keys[n])
		} else {
			p[key] = json.Number(jsonUint(keys[n]))
		}
	}
}

func jsonUint(k uint64) string {
	b, _ := json.Marshal(k)
	return string(b)
}

var contractCases = []contractCase{
	// Transport, tokens and parameter errors (facts 1-10, 14).
	{file: "conduit.ping.json"},
	{file: "conduit.ping.with-token.json"},
	{file: "user.whoami.json"},
	{file: "user.whoami.form-mode.json"},
	{file: "user.whoami.non-admin.json"},
	{file: "error.user.whoami.no-token.json"},
	{file: "quirk.api-token-plus-params-json.json"},
	{file: "error.json-content-type.json"},
	{file: "error.bad-token-length.json", token: rawToken("api-REDACTED")},
	{file: "error.bad-token-prefix.json", token: rawToken("xyz-abcdefghijklmnopqrstuvwxyz23")},
	{file: "error.bad-token.json", token: rawToken("api-abcdefghijklmnopqrstuvwxyz23")},
	{file: "error.disabled-user-token.json"},
	{file: "error.unknown-method.json"},
	{file: "error.bad-params.invalid-json.json"},
	{file: "error.bad-params.limit-too-large.json"},
	{file: "error.bad-params.phids-not-list.json"},
	{file: "error.bad-params.unknown-constraint.json"},
	{file: "error.bad-params.unknown-top-level-key.json"},
	{file: "error.user.search.form-mode.isDisabled-yes.json"},
	{file: "error.user.search.json-mode.isDisabled-string-true.json"},
	{file: "error.user.search.phids-empty-list.json"},
	{file: "ratelimit.user.whoami.429.json", prepare: func(l *lab) { l.s.SetRateLimit(0) }},

	// user.search (facts 11-17).
	{file: "user.search.form-mode.isDisabled-0.json", exactCursor: true},
	{file: "user.search.form-mode.isDisabled-1.json", exactCursor: true},
	{file: "user.search.form-mode.isDisabled-false.json", exactCursor: true},
	{file: "user.search.form-mode.isDisabled-true.json", exactCursor: true},
	{file: "user.search.form-mode.mfa-true.json", exactCursor: true},
	{file: "user.search.isBot-true.json", exactCursor: true},
	{file: "user.search.isDisabled-true.json", exactCursor: true},
	{file: "user.search.isDisabled-true.non-admin.json", exactCursor: true},
	{file: "user.search.isMailingList-true.json", exactCursor: true},
	{file: "user.search.mfa-false.json", exactCursor: true},
	{file: "user.search.mfa-true.json", exactCursor: true},
	{file: "user.search.mfa-true.non-admin.json"},
	{file: "user.search.mfa-true.non-admin-bot.json"},
	{file: "user.search.mfa-true.paging.page1.json", exactCursor: true},
	{file: "user.search.mfa-true.paging.page2.json", exactCursor: true},
	{file: "user.search.mfa-true.phids.json", exactCursor: true},
	{file: "user.search.paging.page1.json", exactCursor: true},
	{file: "user.search.paging.page2.json", exactCursor: true},
	{file: "user.search.paging.page3.json", exactCursor: true},
	{file: "user.search.paging.before.json", exactCursor: true},
	{file: "user.search.phids.json", exactCursor: true},
	{file: "user.search.usernames.json", exactCursor: true},

	// user.edit (fact 60): an admin disables an account; a non-admin is refused.
	// The lab disabled user07 (id 9) with it: the fixture has them disabled.
	{file: "user.edit.disable.json", prepare: func(l *lab) { l.s.SetDisabled(l.users["user07"].PHID, false) }},
	{file: "error.user.edit.disable-as-non-admin.json"},

	// project.search (facts 13, 18-20, 22).
	{file: "project.search.auditbot.all.json", exactCursor: true},
	{file: "project.search.non-admin.all.json", exactCursor: true},
	{file: "project.search.slugs.json", exactCursor: true},
	{file: "project.search.phids.members.json", exactCursor: true},
	{file: "project.search.members-constraint.json", exactCursor: true},
	{file: "project.search.name-token.acl.json", exactCursor: true},
	{file: "project.search.name-token.acl-star-sre-team.json", exactCursor: true},
	{file: "project.search.name-token.nda.json", exactCursor: true},
	{file: "project.search.name-token.security.json", exactCursor: true},
	{file: "project.search.name-token.team.json", exactCursor: true},
	{file: "project.search.name.acl-star-security.json", exactCursor: true},
	{file: "project.search.name.wmf-nda.json", exactCursor: true},
	{file: "project.search.order-newest.json", exactCursor: true},
	{file: "project.search.paging.exact-full-page.json", exactCursor: true},
	{file: "project.search.paging.page1.json", exactCursor: true, prepare: removeMember("acl*sre-team", "user14")},
	{file: "project.search.paging.page2.json", exactCursor: true, looseLen: true},
	{file: "project.search.paging.page3.json", exactCursor: true},
	{file: "project.search.after-int.json", exactCursor: true},
	{file: "error.project.search.bad-after-cursor.json"},
	{file: "error.project.search.memberPHIDs-is-not-the-conduit-key.json"},
	{file: "error.project.search.names-constraint-does-not-exist.json"},

	// phid.lookup (facts 8, 21).
	{file: "phid.lookup.no-match-returns-empty-list.json"},
	{file: "phid.lookup.non-admin.json"},
	{file: "phid.lookup.project-names.json"},
	{file: "phid.lookup.tasks.as-non-subscriber.json", setup: restrictedTasks},

	// maniphest.edit (facts 25-29).
	{file: "maniphest.edit.create.view-subscribers.json"},
	{file: "maniphest.edit.create.view-admin.json", setup: restrictedTasks[:1]},
	{file: "maniphest.edit.create.view-project.json", setup: restrictedTasks[:2]},
	{file: "maniphest.edit.comment.json", setup: t10History[:1]},
	{file: "maniphest.edit.subscribers-remove.json", setup: t10History[:2]},
	{file: "maniphest.edit.subscribers-remove.noop.json", setup: t10History[:3]},
	{file: "maniphest.edit.close.json", setup: t10History[:3]},
	{file: "quirk.maniphest.edit.unknown-status-accepted.json", setup: t10History[:4]},
	{file: "maniphest.edit.status-back-to-resolved.json", setup: t10History[:5]},
	{file: "maniphest.edit.parents-add.json", setup: t10History},
	{file: "error.maniphest.edit.bad-policy.json"},
	{file: "error.maniphest.edit.view-no-one.json"},
	{file: "error.maniphest.edit.create.view-project-creator-not-member.json"},
	{file: "error.maniphest.edit.bad-transaction-type.json", setup: t10History[:1]},
	{file: "error.maniphest.edit.restricted-as-non-subscriber.json", setup: t10History[:1]},
	{file: "error.maniphest.edit.view-admin-task-as-non-admin.json", setup: restrictedTasks[:2]},
	// fact 46: with edit = administrators, a subscriber comments but may
	// neither publish the task nor rewrite it.
	{file: "maniphest.edit.create.view-subscribers-edit-admin.json", prepare: beforeLockedTask},
	{file: "maniphest.edit.comment.as-subscriber-edit-admin.json", prepare: lockedTask, token: user03},
	{file: "error.maniphest.edit.view-public.as-subscriber-edit-admin.json", prepare: lockedTask, token: user03},
	{file: "error.maniphest.edit.description.as-subscriber-edit-admin.json", prepare: lockedTask, token: user03},

	// maniphest.search, maniphest.info (facts 23, 24).
	{file: "maniphest.search.restricted.as-admin.json", setup: restrictedTasks, exactCursor: true},
	{file: "maniphest.search.restricted.as-auditbot.json", setup: restrictedTasks, exactCursor: true},
	{file: "maniphest.search.restricted.as-user01.json", setup: restrictedTasks, exactCursor: true},
	{file: "maniphest.search.restricted.as-user03.json", setup: restrictedTasks, exactCursor: true},
	{file: "maniphest.search.restricted.as-user25.json", setup: restrictedTasks, exactCursor: true},
	{file: "maniphest.search.after-close.json", setup: t10History[:5], exactCursor: true},
	{file: "maniphest.info.restricted.full-ccPHIDs.json", setup: t10History[:1]},
	{file: "error.maniphest.info.no-such-task.json"},
	{file: "error.maniphest.info.restricted-as-non-subscriber.json", setup: t10History[:1]},
	{file: "maniphest.status.search.json"},

	// transaction.search (facts 11, 13, 33).
	{file: "transaction.search.T10.all.json", setup: t10History},
	{file: "transaction.search.T10.paging.page1.json", setup: t10History},
	{file: "transaction.search.T10.paging.page2.json", setup: t10History,
		rewrite: func(l *lab, p map[string]any) { p["after"] = xactCursor(l, 10, 3) }},
	{file: "transaction.search.T10.paging.page3.json", setup: t10History,
		rewrite: func(l *lab, p map[string]any) { p["after"] = xactCursor(l, 10, 6) }},
	{file: "transaction.search.T10.paging.page4.json", setup: t10History,
		rewrite: func(l *lab, p map[string]any) { p["after"] = xactCursor(l, 10, 9) }},
	{file: "transaction.search.T10.paging.page5.json", setup: t10History,
		rewrite: func(l *lab, p map[string]any) { p["after"] = xactCursor(l, 10, 12) }},
	{file: "transaction.search.T4.authorPHIDs.json"},
	{file: "transaction.search.T1.backdated.json"},
	// An edited comment lists every version, newest first (fact 45).
	{file: "transaction.search.edited-comment.json", prepare: func(l *lab) {
		c := l.s.AddComment(CommentSpec{TaskID: 1, AuthorPHID: l.users["admin"].PHID, Text: "!approve original"})
		l.clock.Advance(8 * time.Second)
		l.s.EditComment(c.TransactionPHID, "I withdraw my approval")
	}},
	{file: "transaction.search.project.acl-security.json"},
	{file: "error.transaction.search.restricted-as-non-subscriber.json", setup: t10History[:1]},
	{file: "error.transaction.search.unknown-constraint.json"},

	// project.edit (facts 22, 28, 30-32).
	{file: "project.edit.members-add.acl-security.as-admin-approver.json", prepare: removeMember("acl*security", "user07")},
	{file: "project.edit.members-remove.acl-security.as-admin-approver.json"},
	{file: "project.edit.members-add.acl-sre-team.as-auditbot.json", prepare: removeMember("acl*sre-team", "user14")},
	{file: "project.edit.members-remove.acl-sre-team.as-auditbot.json"},
	{file: "project.edit.members-add.open-project.as-user01.json"},
	{file: "project.edit.members-remove.open-project.as-user01.json", setup: []string{"project.edit.members-add.open-project.as-user01.json"}},
	{file: "project.edit.members-remove.not-a-member.noop.json"},
	{file: "project.edit.members-remove.cleanup-bogus-phid.json", setup: []string{"quirk.project.edit.members-add.nonexistent-phid-accepted.json"}},
	{file: "quirk.project.edit.members-add.nonexistent-phid-accepted.json"},
	{file: "quirk.project.edit.members-add.task-phid-accepted.json"},
	{file: "quirk.project.edit.members-add.username-instead-of-phid.json"},
	{file: "quirk.project.edit.members-add.username-already-member-noop.json"},
	{file: "quirk.project.edit.remove-and-add-same-user-in-one-call-removes.json"},
	{file: "error.project.edit.invisible-project.as-auditbot.json"},
	{file: "error.project.edit.join-restricted.as-user01.json"},
	{file: "error.project.edit.members-add.approvers.as-auditbot.json"},
	{file: "error.project.edit.members-remove.acl-security.as-auditbot.json"},
	{file: "error.project.edit.members-remove.wmf-nda.as-auditbot.json"},

	// feed.query (facts 8, 34, 35, 39).
	{file: "feed.query.user01.limit1.json"},
	{file: "feed.query.user13.as-non-admin.json"},
	{file: "feed.query.user13.limit1.text.json"},
	{file: "feed.query.user16.limit1.text.json"},
	{file: "feed.query.user17.all.text.json"},
	{file: "feed.query.user17.limit1.text.json"},
	{file: "feed.query.user07.limit1.text.json"},
	{file: "feed.query.admin.limit1.text.json"},
	{file: "feed.query.two-users.json"},
	{file: "feed.query.no-activity.user20.json"},
	{file: "feed.query.user21.limit1.text.json"},
	{file: "feed.query.user01.html-summary.json"},
	{file: "feed.query.global.page1.json"},
	{file: "feed.query.global.page2-after.json", rewrite: feedCursor("after", 2)},
	{file: "feed.query.global.after-as-int.json", rewrite: feedCursor("after", 2)},
	{file: "feed.query.global.before.json", rewrite: feedCursor("before", 3)},
	{file: "feed.query.auditbot-activity.as-auditbot.json", setup: append(t10History, "maniphest.edit.parents-add.json"), looseLen: true},
	{file: "feed.query.auditbot-activity.as-user01.json", setup: append(t10History, "maniphest.edit.parents-add.json"), looseLen: true},
	{file: "error.feed.query.bad-view.json"},
	// Activity on a task only acl*security may see (fact 43).
	{file: "feed.query.restricted-task-activity.as-auditbot.json", prepare: restrictedActivity},
	{file: "feed.query.restricted-task-activity.as-admin.json", prepare: restrictedActivity},
	{file: "feed.query.restricted-task-activity.as-author.json", prepare: restrictedActivity,
		token: func(l *lab) string { return l.users["user04"].Token }, looseLen: true},

	// edge.search (fact 37).
	{file: "edge.search.task-parent.json", setup: append(t10History, "maniphest.edit.parents-add.json")},
	{file: "edge.search.restricted-source.as-non-subscriber.json", setup: t10History[:1]},
	{file: "error.edge.search.no-types.json"},
	{file: "error.edge.search.unsupported-type.json"},
}

// xactCursor is the id, as a string, of the n-th newest transaction of
// task T<id>: the recorded cursors are lab transaction ids.
func xactCursor(l *lab, id, n int) string {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	t := l.s.taskByNumber(id)
	var ids []int
	for _, x := range l.s.xacts {
		if x.objectPHID == t.phid {
			ids = append([]int{x.id}, ids...)
		}
	}
	return jsonUint(uint64(ids[n-1]))
}

func TestContract(t *testing.T) {
	for _, tc := range contractCases {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			for _, f := range tc.setup {
				l.replay(f)
			}
			if tc.prepare != nil {
				tc.prepare(l)
			}
			rec := l.recording(tc.file)
			var tok string
			if tc.token != nil {
				tok = tc.token(l)
			} else {
				tok = l.tokenFor(rec.Request.As)
			}
			var rewrite func(map[string]any)
			if tc.rewrite != nil {
				rewrite = func(p map[string]any) { tc.rewrite(l, p) }
			}
			got := l.send(rec, tok, rewrite)

			if got.status != rec.HTTPStatus || got.ctype != rec.ContentTypeReturned {
				t.Fatalf("HTTP %d %q, want %d %q; body %s", got.status, got.ctype, rec.HTTPStatus, rec.ContentTypeReturned, got.body)
			}
			if rec.HTTPStatus != 200 {
				var want struct {
					NonJSON string `json:"_non_json_body"`
				}
				json.Unmarshal(rec.Response, &want)
				if diff := cmp.Diff(want.NonJSON, string(got.body)); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
				return
			}
			var want, have map[string]any
			if err := json.Unmarshal(rec.Response, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got.body, &have); err != nil {
				t.Fatalf("answer is not JSON: %v: %s", err, got.body)
			}
			wantCode, _ := want["error_code"].(string)
			haveCode, _ := have["error_code"].(string)
			wantInfo, _ := want["error_info"].(string)
			haveInfo, _ := have["error_info"].(string)
			if tok != "" {
				haveInfo = strings.ReplaceAll(haveInfo, tok, "api-REDACTED") // fact 6: echoed
			}
			if diff := cmp.Diff(
				[2]string{wantCode, l.mapText(wantInfo)},
				[2]string{haveCode, haveInfo},
			); diff != "" {
				t.Errorf("error code/info (-want +got):\n%s", diff)
			}
			for _, d := range compareShape(want, have, shapeOptions{looseLen: tc.looseLen}) {
				t.Errorf("shape: %s", d)
			}
			if tc.exactCursor {
				wantCursor := l.mapPHIDs(dig(want, "result", "cursor"))
				if diff := cmp.Diff(wantCursor, dig(have, "result", "cursor")); diff != "" {
					t.Errorf("cursor (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

// TestEditPolicyDecidesWhoPublishes is fact 46 from the other side: with
// edit = subscribers, any subscriber may make the task public or rewrite
// its description, and transaction.search shows who did it, with the old
// and new description in full; with edit = admin, the same subscriber may
// only comment.
func TestEditPolicyDecidesWhoPublishes(t *testing.T) {
	for _, tt := range []struct {
		edit     string
		wantCode string // "" means allowed
	}{
		{PolicySubscribers, ""},
		{PolicyAdmin, "ERR-CONDUIT-CORE"},
	} {
		t.Run(tt.edit, func(t *testing.T) {
			l := newLab(t)
			sub := l.users["user03"]
			task := l.s.AddTask(TaskSpec{Title: "Audit", Description: "created\n\nauditbot-marker: x/task/batch-1",
				AuthorPHID: l.users["auditbot"].PHID, Subscribers: []string{sub.PHID},
				ViewPolicy: PolicySubscribers, EditPolicy: tt.edit})
			ident := task.PHID
			for _, tx := range []map[string]any{
				{"type": "comment", "value": "done"},
				{"type": "description", "value": "auditbot-marker: x/task/batch-2"},
				{"type": "view", "value": PolicyPublic},
			} {
				env := l.callJSON("maniphest.edit", sub.Token, map[string]any{"objectIdentifier": ident, "transactions": []any{tx}})
				code := ""
				if env.ErrorCode != nil {
					code = *env.ErrorCode
				}
				want := tt.wantCode
				if tx["type"] == "comment" {
					want = "" // interact follows view
				}
				if code != want {
					t.Errorf("%v as a subscriber: error %q (%v), want %q", tx["type"], code, env.ErrorInfo, want)
				}
			}
			got, _ := l.s.Task(task.ID)
			wantView, wantDesc := PolicySubscribers, task.Description
			if tt.wantCode == "" {
				wantView, wantDesc = PolicyPublic, "auditbot-marker: x/task/batch-2"
			}
			if diff := cmp.Diff([2]string{wantView, wantDesc}, [2]string{got.ViewPolicy, got.Description}); diff != "" {
				t.Errorf("task view policy and description (-want +got):\n%s", diff)
			}
			env := l.callJSON("transaction.search", l.users["auditbot"].Token, map[string]any{"objectIdentifier": ident})
			var res struct {
				Data []struct {
					Type       *string
					AuthorPHID string
					Fields     map[string]any
				}
			}
			if err := json.Unmarshal(env.Result, &res); err != nil {
				t.Fatal(err)
			}
			type row struct{ Type, Author, Old, New string }
			var descs []row
			for _, d := range res.Data {
				if d.Type != nil && *d.Type == "description" {
					old, _ := d.Fields["old"].(string)
					descs = append(descs, row{*d.Type, d.AuthorPHID, old, d.Fields["new"].(string)})
				}
			}
			want := []row{{"description", l.users["auditbot"].PHID, "", task.Description}}
			if tt.wantCode == "" {
				// Newest first.
				want = append([]row{{"description", sub.PHID, task.Description, "auditbot-marker: x/task/batch-2"}}, want...)
			}
			if diff := cmp.Diff(want, descs); diff != "" {
				t.Errorf("description transactions (-want +got):\n%s", diff)
			}
		})
	}
}
