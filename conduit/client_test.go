package conduit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

// TestMethods decodes every method from a real recording and checks the
// params each one sends.
func TestMethods(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		steps []step
		run   func(t *testing.T, c *Client)
	}{
		{
			name:  "Ping",
			steps: []step{{method: "conduit.ping", rec: "conduit.ping.json"}},
			run: func(t *testing.T, c *Client) {
				host, err := c.Ping(ctx)
				if err != nil || host != "vm" {
					t.Fatalf("Ping = %q, %v; want vm", host, err)
				}
			},
		},
		{
			name:  "Whoami",
			steps: []step{{method: "user.whoami", rec: "user.whoami.json"}},
			run: func(t *testing.T, c *Client) {
				got, err := c.Whoami(ctx)
				if err != nil {
					t.Fatal(err)
				}
				want := Whoami{
					PHID:         "PHID-USER-e3p4uunjkeh2vqcbguhw",
					Username:     "auditbot",
					RealName:     "Audit Bot",
					Roles:        []string{"agent", "admin", "verified", "approved", "activated"},
					PrimaryEmail: "auditbot@lab.invalid",
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Whoami (-want +got):\n%s", diff)
				}
				if !got.IsAdmin() {
					t.Error("IsAdmin = false")
				}
			},
		},
		{
			name: "SearchUsers mfa",
			steps: []step{{method: "user.search", rec: "user.search.mfa-true.json",
				params: `{"constraints":{"mfa":true},"limit":100}`}},
			run: func(t *testing.T, c *Client) {
				users, err := c.SearchUsers(ctx, UserQuery{MFA: ptr(true)})
				if err != nil {
					t.Fatal(err)
				}
				if len(users) != 21 {
					t.Fatalf("got %d users, want 21", len(users))
				}
				want := User{ID: 62, PHID: "PHID-USER-dclnxjqzzdbtcbqwctuq", Username: "user60", RealName: "User 60",
					Roles: []string{"verified", "approved", "activated"}, Created: time.Date(2026, 11, 22, 22, 24, 36, 0, time.UTC)}
				if diff := cmp.Diff(want, users[0]); diff != "" {
					t.Errorf("first user (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "SearchUsers phids and roles",
			steps: []step{{method: "user.search", rec: "user.search.phids.json",
				params: `{"constraints":{"phids":["PHID-USER-ejh2winfkmxp2jmhyffx","PHID-USER-h5cutsh7wurbsajcplp7","PHID-USER-j5j3kzr74ej7brma66v3","PHID-USER-sevocsojaarzxbenon6c"]},"limit":100}`}},
			run: func(t *testing.T, c *Client) {
				users, err := c.SearchUsers(ctx, UserQuery{PHIDs: []string{
					"PHID-USER-ejh2winfkmxp2jmhyffx", "PHID-USER-h5cutsh7wurbsajcplp7",
					"PHID-USER-j5j3kzr74ej7brma66v3", "PHID-USER-sevocsojaarzxbenon6c",
					"PHID-USER-ejh2winfkmxp2jmhyffx", // repeated: sent once
				}})
				if err != nil {
					t.Fatal(err)
				}
				got := map[string][]bool{}
				for _, u := range users {
					got[u.Username] = []bool{u.IsBot(), u.IsDisabled(), u.IsAdmin()}
				}
				want := map[string][]bool{
					"ci-bot": {true, false, false},
					"user07": {false, true, false},
					"user03": {false, false, false},
					"admin":  {false, false, true},
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("roles [bot disabled admin] (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "SearchUsers usernames, isDisabled, isBot",
			steps: []step{
				{method: "user.search", rec: "user.search.usernames.json",
					params: `{"constraints":{"usernames":["user01","user07","nosuchuser"]},"limit":100}`},
				{method: "user.search", rec: "user.search.isDisabled-true.json",
					params: `{"constraints":{"isDisabled":true},"limit":100}`},
				{method: "user.search", rec: "user.search.isBot-true.json",
					params: `{"constraints":{"isBot":true},"limit":100}`},
			},
			run: func(t *testing.T, c *Client) {
				for _, q := range []UserQuery{
					{Usernames: []string{"user01", "user07", "nosuchuser"}},
					{IsDisabled: ptr(true)},
					{IsBot: ptr(true)},
				} {
					users, err := c.SearchUsers(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					if len(users) == 0 {
						t.Errorf("SearchUsers(%+v) found nobody", q)
					}
					for _, u := range users {
						if q.IsDisabled != nil && !u.IsDisabled() || q.IsBot != nil && !u.IsBot() {
							t.Errorf("SearchUsers(%+v) returned %s with roles %v", q, u.Username, u.Roles)
						}
					}
				}
			},
		},
		{
			name: "ResolveProjects by slug via slugMap",
			steps: []step{{method: "project.search", rec: "project.search.slugs.json",
				params: `{"constraints":{"slugs":["acl_security","wmf-nda","nosuch"]},"limit":100}`}},
			run: func(t *testing.T, c *Client) {
				got, err := c.ResolveProjects(ctx, []string{"acl*security", "#acl_security", "WMF-NDA", "nosuch"}, false)
				if err != nil {
					t.Fatal(err)
				}
				aclSecurity := Project{ID: 6, PHID: "PHID-PROJ-jdv3ovxnae22okrss2fo", Name: "acl*security", Slug: "acl_security",
					Policy: ProjectPolicy{View: "users", Edit: "PHID-PROJ-3srmewbjmzmmqzjtidcn", Join: "PHID-PROJ-3srmewbjmzmmqzjtidcn"}}
				want := map[string]Project{
					"acl*security":  aclSecurity,
					"#acl_security": aclSecurity,
					"WMF-NDA": {ID: 2, PHID: "PHID-PROJ-5uxxtscinxsl76gvjevn", Name: "WMF-NDA", Slug: "wmf-nda",
						Policy: ProjectPolicy{View: "users", Edit: "PHID-PROJ-3srmewbjmzmmqzjtidcn", Join: "PHID-PROJ-3srmewbjmzmmqzjtidcn"}},
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("ResolveProjects (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "ResolveProjects with members, matched by slug",
			// This answer's slugMap is empty: the name falls back to the slug.
			steps: []step{{method: "project.search", rec: "project.search.name.wmf-nda.json",
				params: `{"constraints":{"slugs":["wmf-nda"]},"attachments":{"members":true},"limit":100}`}},
			run: func(t *testing.T, c *Client) {
				got, err := c.ResolveProjects(ctx, []string{"WMF-NDA"}, true)
				if err != nil {
					t.Fatal(err)
				}
				p, ok := got["WMF-NDA"]
				if !ok {
					t.Fatalf("WMF-NDA not resolved: %v", got)
				}
				if p.PHID != "PHID-PROJ-5uxxtscinxsl76gvjevn" || len(p.MemberPHIDs) != 45 {
					t.Errorf("got %s with %d members, want PHID-PROJ-5uxxtscinxsl76gvjevn with 45", p.PHID, len(p.MemberPHIDs))
				}
				if p.MemberPHIDs[0] != "PHID-USER-xhrgxtclg6ga4mcfkni3" {
					t.Errorf("first member %s", p.MemberPHIDs[0])
				}
			},
		},
		{
			name:  "ProjectsByPHID with members",
			steps: []step{{method: "project.search", rec: "project.search.phids.members.json", params: phidsMembersParams}},
			run: func(t *testing.T, c *Client) {
				got, err := c.ProjectsByPHID(ctx, []string{
					"PHID-PROJ-3srmewbjmzmmqzjtidcn", "PHID-PROJ-jdv3ovxnae22okrss2fo", "PHID-PROJ-nxh4svzrjqwwdqi4xtjd",
					"PHID-PROJ-z2qrtfjiqovuz3xmuv5i", "PHID-PROJ-5uxxtscinxsl76gvjevn",
				}, true)
				if err != nil {
					t.Fatal(err)
				}
				members := map[string]int{}
				for _, p := range got {
					members[p.Name] = len(p.MemberPHIDs)
				}
				want := map[string]int{"acl*phabricator-admins": 2, "acl*security": 15, "acl*sre-team": 8, "Security-Team": 3, "WMF-NDA": 45}
				if diff := cmp.Diff(want, members); diff != "" {
					t.Errorf("member counts (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:  "LookupNames",
			steps: []step{{method: "phid.lookup", rec: "phid.lookup.project-names.json"}},
			run: func(t *testing.T, c *Client) {
				names := []string{"WMF-NDA", "#WMF-NDA", "#wmf-nda", "wmf-nda", "acl*security", "#acl*security", "#acl_security",
					"acl_security", "#acl*sre-team", "#acl_sre-team", "#acl_phabricator-admins", "#security-team", "Security-Team",
					"#trust-and-safety", "@user01", "user01", "T4", "#no-such-project"}
				got, err := c.LookupNames(ctx, names)
				if err != nil {
					t.Fatal(err)
				}
				var keys []string
				for k := range got {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				wantKeys := []string{"#WMF-NDA", "#acl_phabricator-admins", "#acl_security", "#acl_sre-team", "#security-team", "#wmf-nda", "@user01", "T4"}
				if diff := cmp.Diff(wantKeys, keys); diff != "" {
					t.Errorf("resolved names (-want +got):\n%s", diff)
				}
				want := Object{PHID: "PHID-TASK-bz5jrpabzblepmikl6hm", Type: "TASK", TypeName: "Maniphest Task", Name: "T4",
					FullName: "T4: Lab: rotate TLS certificates", URI: "http://127.0.0.1:8080/T4", Status: "open"}
				if diff := cmp.Diff(want, got["T4"]); diff != "" {
					t.Errorf("T4 (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:  "LookupNames no match is []",
			steps: []step{{method: "phid.lookup", rec: "phid.lookup.no-match-returns-empty-list.json"}},
			run: func(t *testing.T, c *Client) {
				got, err := c.LookupNames(ctx, []string{"#nosuch", "@nosuch"})
				if err != nil || got == nil || len(got) != 0 {
					t.Errorf("LookupNames = %v, %v; want an empty map", got, err)
				}
			},
		},
		{
			name: "SearchTasks",
			steps: []step{{method: "maniphest.search", rec: "maniphest.search.restricted.as-auditbot.json",
				params: `{"constraints":{"ids":[10,11,12]},"attachments":{"subscribers":true,"projects":true},"limit":100}`}},
			run: func(t *testing.T, c *Client) {
				got, err := c.SearchTasks(ctx, TaskQuery{IDs: []int{10, 11, 12}})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 2 {
					t.Fatalf("got %d tasks, want 2 (T12 is invisible)", len(got))
				}
				want := Task{
					ID: 10, PHID: "PHID-TASK-ya5ljgulpxbet5jipdxc",
					Title:       "Restricted: ACL audit for acl*security",
					Description: "Lab restricted task. Visible to subscribers only.",
					AuthorPHID:  "PHID-USER-e3p4uunjkeh2vqcbguhw",
					Status:      "open", ViewPolicy: PolicySubscribers, EditPolicy: PolicySubscribers,
					ProjectPHIDs: []string{"PHID-PROJ-jdv3ovxnae22okrss2fo"},
					SubscriberPHIDs: []string{"PHID-USER-yiz2clenuupkdpw775ou", "PHID-USER-c3zemfzfj7ndoo5brd7g",
						"PHID-USER-v7ahpioh7ew2xlkpop63", "PHID-USER-yytv75g3wkwvabebabyt", "PHID-USER-3a6buo2u5bfcauxmdbce",
						"PHID-USER-vm23evlibbn6qk2nnzm7", "PHID-USER-2g4ur3gpm5zlol7rongi", "PHID-USER-qx3vhxrz5cpqtmpv5oo3",
						"PHID-USER-g5nxq2g42ca5ksxwuppd", "PHID-USER-y7xnn4sodgblcf5mgl7m"},
					SubscriberCount:    21,
					ViewerIsSubscribed: true,
					DateCreated:        time.Unix(1795386524, 0).UTC(),
					DateModified:       time.Unix(1795386524, 0).UTC(),
				}
				// ReadAt is the server's Date header: here, the test
				// server's own clock.
				if at := got[1].ReadAt; time.Since(at) > time.Minute || time.Until(at) > time.Minute {
					t.Errorf("ReadAt = %v, want the server's Date (about now)", at)
				}
				got[1].ReadAt = time.Time{}
				if diff := cmp.Diff(want, got[1]); diff != "" {
					t.Errorf("T10 (-want +got):\n%s", diff)
				}
				if got[0].ID != 11 || got[0].ViewPolicy != PolicyAdmin {
					t.Errorf("first task = T%d view %s, want T11 view admin", got[0].ID, got[0].ViewPolicy)
				}
			},
		},
		{
			name: "SearchTasks constraints",
			steps: []step{{method: "maniphest.search", rec: "maniphest.search.after-close.json",
				params: `{"constraints":{"phids":["PHID-TASK-ya5ljgulpxbet5jipdxc"],"authorPHIDs":["PHID-USER-e3p4uunjkeh2vqcbguhw"],
					"projects":["PHID-PROJ-jdv3ovxnae22okrss2fo"],"statuses":["open","resolved"],"createdStart":1795386000},
					"attachments":{"subscribers":true,"projects":true},"limit":100}`}},
			run: func(t *testing.T, c *Client) {
				_, err := c.SearchTasks(ctx, TaskQuery{
					PHIDs:        []string{"PHID-TASK-ya5ljgulpxbet5jipdxc"},
					AuthorPHIDs:  []string{"PHID-USER-e3p4uunjkeh2vqcbguhw"},
					ProjectPHIDs: []string{"PHID-PROJ-jdv3ovxnae22okrss2fo"},
					Statuses:     []string{"open", "resolved"},
					CreatedStart: time.Unix(1795386000, 0),
				})
				if err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:  "TaskSubscribers",
			steps: []step{{method: "maniphest.info", rec: "maniphest.info.restricted.full-ccPHIDs.json"}},
			run: func(t *testing.T, c *Client) {
				got, err := c.TaskSubscribers(ctx, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 21 || got[20] != "PHID-USER-e3p4uunjkeh2vqcbguhw" {
					t.Errorf("got %d subscribers, last %v; want 21 ending with auditbot", len(got), got)
				}
			},
		},
		{
			name: "CreateTask",
			// The params must be exactly what was recorded against Phorge.
			steps: []step{{method: "maniphest.edit", rec: "maniphest.edit.create.view-subscribers.json"}},
			run: func(t *testing.T, c *Client) {
				var rec struct {
					Transactions []struct {
						Type  string          `json:"type"`
						Value json.RawMessage `json:"value"`
					} `json:"transactions"`
				}
				if err := json.Unmarshal(loadRecording(t, "maniphest.edit.create.view-subscribers.json").Params, &rec); err != nil {
					t.Fatal(err)
				}
				var spec TaskSpec
				for _, tx := range rec.Transactions {
					switch tx.Type {
					case "title":
						json.Unmarshal(tx.Value, &spec.Title)
					case "description":
						json.Unmarshal(tx.Value, &spec.Description)
					case "subscribers.add":
						json.Unmarshal(tx.Value, &spec.SubscriberPHIDs)
					case "projects.add":
						json.Unmarshal(tx.Value, &spec.ProjectPHIDs)
					case "view":
						json.Unmarshal(tx.Value, &spec.ViewPolicy)
					case "edit":
						json.Unmarshal(tx.Value, &spec.EditPolicy)
					}
				}
				got, err := c.CreateTask(ctx, spec)
				if err != nil {
					t.Fatal(err)
				}
				want := EditResult{ObjectID: 10, ObjectPHID: "PHID-TASK-ya5ljgulpxbet5jipdxc", TransactionPHIDs: []string{
					"PHID-XACT-TASK-d5lkbrfhuxrwehq", "PHID-XACT-TASK-4wn5ecj22kcbs4f", "PHID-XACT-TASK-xb2upmhxi3t43vz",
					"PHID-XACT-TASK-pxmbxoca5lmvcq2", "PHID-XACT-TASK-s4dyuzustzs6mob", "PHID-XACT-TASK-mf2c5utsvjwp6vv",
					"PHID-XACT-TASK-3lleju3nc6v2y2d"}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("CreateTask (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "CreateTask leaves out empty fields",
			steps: []step{{method: "maniphest.edit", rec: "maniphest.edit.create.view-subscribers.json",
				params: `{"transactions":[{"type":"title","value":"Audit"}]}`}},
			run: func(t *testing.T, c *Client) {
				if _, err := c.CreateTask(ctx, TaskSpec{Title: "Audit", SubscriberPHIDs: []string{}}); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:  "EditTask",
			steps: []step{{method: "maniphest.edit", rec: "maniphest.edit.comment.json"}},
			run: func(t *testing.T, c *Client) {
				got, err := c.EditTask(ctx, "T10", CommentEdit("ACL audit: 5 members will be removed (lab)."))
				if err != nil {
					t.Fatal(err)
				}
				want := EditResult{ObjectID: 10, ObjectPHID: "PHID-TASK-ya5ljgulpxbet5jipdxc", TransactionPHIDs: []string{"PHID-XACT-TASK-jrc4syrubnhz35v"}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("EditTask (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:  "EditTask no-op",
			steps: []step{{method: "maniphest.edit", rec: "maniphest.edit.subscribers-remove.noop.json", params: anyParams}},
			run: func(t *testing.T, c *Client) {
				got, err := c.EditTask(ctx, "T10", Edit{Type: "subscribers.remove", Value: []string{"PHID-USER-3a6buo2u5bfcauxmdbce"}})
				if err != nil {
					t.Fatal(err)
				}
				if got.ObjectID != 10 || got.TransactionPHIDs == nil || len(got.TransactionPHIDs) != 0 {
					t.Errorf("EditTask = %+v, want T10 and no transactions", got)
				}
			},
		},
		{
			name:  "EditProjectMembers remove",
			steps: []step{{method: "project.edit", rec: "project.edit.members-remove.acl-sre-team.as-auditbot.json"}},
			run: func(t *testing.T, c *Client) {
				got, err := c.EditProjectMembers(ctx, "PHID-PROJ-nxh4svzrjqwwdqi4xtjd", nil, []string{"PHID-USER-jt2jbrlzeekz77ulymzh"})
				if err != nil {
					t.Fatal(err)
				}
				want := EditResult{ObjectID: 3, ObjectPHID: "PHID-PROJ-nxh4svzrjqwwdqi4xtjd", TransactionPHIDs: []string{"PHID-XACT-PROJ-mfcay57kaqmlcxx"}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("EditProjectMembers (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:  "EditProjectMembers add",
			steps: []step{{method: "project.edit", rec: "project.edit.members-add.acl-sre-team.as-auditbot.json"}},
			run: func(t *testing.T, c *Client) {
				if _, err := c.EditProjectMembers(ctx, "PHID-PROJ-nxh4svzrjqwwdqi4xtjd", []string{"PHID-USER-jt2jbrlzeekz77ulymzh"}, nil); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "TaskTransactions pages until after is null",
			steps: []step{
				{method: "transaction.search", rec: "transaction.search.T10.paging.page1.json", params: txParams("")},
				{method: "transaction.search", rec: "transaction.search.T10.paging.page2.json", params: txParams("86")},
				{method: "transaction.search", rec: "transaction.search.T10.paging.page3.json", params: txParams("83")},
				{method: "transaction.search", rec: "transaction.search.T10.paging.page4.json", params: txParams("66")},
				{method: "transaction.search", rec: "transaction.search.T10.paging.page5.json", params: txParams("63")},
			},
			run: func(t *testing.T, c *Client) {
				got, err := c.TaskTransactions(ctx, "PHID-TASK-ya5ljgulpxbet5jipdxc", 0)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, tx := range got {
					ids = append(ids, fmt.Sprintf("%d:%s", tx.ID, tx.Type))
				}
				want := []string{"61:create", "62:title", "63:description", "64:subscribers", "65:projects",
					"66:core:view-policy", "67:core:edit-policy", "82:comment", "83:subscribers", "84:status",
					"85:owner", "86:comment", "87:status", "88:status"}
				if diff := cmp.Diff(want, ids); diff != "" {
					t.Fatalf("transactions (-want +got):\n%s", diff)
				}
				byID := map[int]Transaction{}
				for _, tx := range got {
					byID[tx.ID] = tx
				}
				wantComment := []Comment{{ID: 12, PHID: "PHID-XCMT-yojmhuhxnidj5v6qe6xb", Version: 1, AuthorPHID: "PHID-USER-e3p4uunjkeh2vqcbguhw", Raw: "Closing (lab)."}}
				if diff := cmp.Diff(wantComment, byID[86].Comments); diff != "" {
					t.Errorf("comment of 86 (-want +got):\n%s", diff)
				}
				if ops := byID[83].Operations; len(ops) != 5 || ops[0] != (Operation{Operation: "remove", PHID: "PHID-USER-yiz2clenuupkdpw775ou"}) {
					t.Errorf("operations of 83 = %v", ops)
				}
				if string(byID[88].Old) != `"bogus"` || string(byID[88].New) != `"resolved"` {
					t.Errorf("88 old/new = %s/%s, want \"bogus\"/\"resolved\"", byID[88].Old, byID[88].New)
				}
				if want := time.Unix(1795386571, 0).UTC(); !byID[88].DateCreated.Equal(want) || byID[88].AuthorPHID != "PHID-USER-e3p4uunjkeh2vqcbguhw" {
					t.Errorf("88 = %+v", byID[88])
				}
			},
		},
		{
			name: "TaskTransactions stops at afterID",
			steps: []step{
				{method: "transaction.search", rec: "transaction.search.T10.paging.page1.json", params: txParams("")},
				{method: "transaction.search", rec: "transaction.search.T10.paging.page2.json", params: txParams("86")},
			},
			run: func(t *testing.T, c *Client) {
				got, err := c.TaskTransactions(ctx, "PHID-TASK-ya5ljgulpxbet5jipdxc", 84)
				if err != nil {
					t.Fatal(err)
				}
				var ids []int
				for _, tx := range got {
					ids = append(ids, tx.ID)
				}
				if diff := cmp.Diff([]int{85, 86, 87, 88}, ids); diff != "" {
					t.Errorf("ids (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "TaskTransactions null type",
			steps: []step{{method: "transaction.search", rec: "transaction.search.project.acl-security.json",
				params: `{"objectIdentifier":"PHID-PROJ-jdv3ovxnae22okrss2fo","limit":100}`}},
			run: func(t *testing.T, c *Client) {
				got, err := c.TaskTransactions(ctx, "PHID-PROJ-jdv3ovxnae22okrss2fo", 0)
				if err != nil {
					t.Fatal(err)
				}
				byID := map[int]Transaction{}
				for _, tx := range got {
					byID[tx.ID] = tx
				}
				if tx := byID[53]; tx.ID != 53 || tx.Type != "" || tx.Old != nil || tx.Operations != nil {
					t.Errorf("53 = %+v, want a typeless transaction", tx)
				}
				if tx := byID[52]; tx.Type != "core:edit-policy" || string(tx.Old) != "null" || string(tx.New) != `"PHID-PROJ-3srmewbjmzmmqzjtidcn"` {
					t.Errorf("52 = %+v", tx)
				}
				if tx := byID[51]; tx.Type != "core:view-policy" || string(tx.New) != `"users"` {
					t.Errorf("51 = %+v", tx)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakePhab(t, testToken, tt.steps...)
			c, _ := newTestClient(t, f, Options{})
			tt.run(t, c)
		})
	}
}

const phidsMembersParams = `{"constraints":{"phids":["PHID-PROJ-3srmewbjmzmmqzjtidcn","PHID-PROJ-jdv3ovxnae22okrss2fo",
	"PHID-PROJ-nxh4svzrjqwwdqi4xtjd","PHID-PROJ-z2qrtfjiqovuz3xmuv5i","PHID-PROJ-5uxxtscinxsl76gvjevn"]},
	"attachments":{"members":true},"limit":100}`

// txParams is the params TaskTransactions sends for T10's page after after.
func txParams(after string) string {
	if after == "" {
		return `{"objectIdentifier":"PHID-TASK-ya5ljgulpxbet5jipdxc","limit":100}`
	}
	return `{"objectIdentifier":"PHID-TASK-ya5ljgulpxbet5jipdxc","limit":100,"after":"` + after + `"}`
}

// TestPaging checks that paging follows after and stops on null, including
// an exactly full last page (the server already says null there).
func TestPaging(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		steps []step
		run   func(c *Client) (int, error)
		want  int
	}{
		{
			name: "user.search three pages",
			steps: []step{
				{method: "user.search", rec: "user.search.paging.page1.json", params: `{"limit":100}`},
				{method: "user.search", rec: "user.search.paging.page2.json", params: `{"limit":100,"after":"41"}`},
				{method: "user.search", rec: "user.search.paging.page3.json", params: `{"limit":100,"after":"16"}`},
			},
			run: func(c *Client) (int, error) {
				users, err := c.SearchUsers(ctx, UserQuery{})
				return len(users), err
			},
			want: 25 + 25 + 15,
		},
		{
			name: "exactly full last page",
			steps: []step{{method: "project.search", rec: "project.search.paging.exact-full-page.json",
				params: `{"constraints":{"phids":["PHID-PROJ-a","PHID-PROJ-b","PHID-PROJ-c","PHID-PROJ-d","PHID-PROJ-e"]},"limit":100}`}},
			run: func(c *Client) (int, error) {
				ps, err := c.ProjectsByPHID(ctx, []string{"PHID-PROJ-a", "PHID-PROJ-b", "PHID-PROJ-c", "PHID-PROJ-d", "PHID-PROJ-e"}, false)
				return len(ps), err
			},
			want: 5,
		},
		{
			name: "PHIDs in chunks of 100",
			steps: []step{
				{method: "user.search", rec: "user.search.phids.json", params: userPHIDsParams(0, 100)},
				{method: "user.search", rec: "user.search.phids.json", params: userPHIDsParams(100, 200)},
				{method: "user.search", rec: "user.search.phids.json", params: userPHIDsParams(200, 250)},
			},
			run: func(c *Client) (int, error) {
				users, err := c.SearchUsers(ctx, UserQuery{PHIDs: fakeUserPHIDs(0, 250)})
				return len(users), err
			},
			want: 3 * 4,
		},
		{
			name: "empty PHID list sends nothing",
			run: func(c *Client) (int, error) {
				users, err := c.SearchUsers(ctx, UserQuery{PHIDs: []string{}, MFA: ptr(true)})
				if err != nil {
					return 0, err
				}
				ps, err := c.ProjectsByPHID(ctx, nil, true)
				if err != nil {
					return 0, err
				}
				tasks, err := c.SearchTasks(ctx, TaskQuery{IDs: []int{}})
				if err != nil {
					return 0, err
				}
				objs, err := c.LookupNames(ctx, nil)
				if err != nil {
					return 0, err
				}
				projs, err := c.ResolveProjects(ctx, []string{"#", ""}, false)
				return len(users) + len(ps) + len(tasks) + len(objs) + len(projs), err
			},
			want: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakePhab(t, testToken, tt.steps...)
			c, _ := newTestClient(t, f, Options{})
			got, err := tt.run(c)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %d rows, want %d", got, tt.want)
			}
		})
	}
}

func fakeUserPHIDs(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("PHID-USER-%020d", i))
	}
	return out
}

func userPHIDsParams(from, to int) string {
	b, _ := json.Marshal(map[string]any{"constraints": map[string]any{"phids": fakeUserPHIDs(from, to)}, "limit": 100})
	return string(b)
}

// TestCursorMustAdvance guards against a server handing back the cursor it
// was given, which would otherwise page forever.
func TestCursorMustAdvance(t *testing.T) {
	body := `{"result":{"data":[],"cursor":{"limit":100,"after":"7","before":null,"order":null},"maps":{},"query":{}},"error_code":null,"error_info":null}`
	f := newFakePhab(t, testToken,
		step{method: "user.search", params: `{"limit":100}`, status: 200, ctype: "application/json", body: body},
		step{method: "user.search", params: `{"limit":100,"after":"7"}`, status: 200, ctype: "application/json", body: body},
	)
	c, _ := newTestClient(t, f, Options{})
	_, err := c.SearchUsers(context.Background(), UserQuery{})
	if err == nil || !strings.Contains(err.Error(), "did not advance") {
		t.Errorf("err = %v, want a cursor error", err)
	}
}

func TestUserAgent(t *testing.T) {
	for _, tt := range []struct{ set, want string }{
		{"", "auditbot"},
		{"auditbot/v1.2.3", "auditbot/v1.2.3"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			f := newFakePhab(t, "", step{method: "conduit.ping", rec: "conduit.ping.json"})
			c, _ := newTestClient(t, f, Options{UserAgent: tt.set})
			if _, err := c.Ping(context.Background()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.agent != tt.want {
				t.Errorf("User-Agent %q, want %q", f.agent, tt.want)
			}
		})
	}
}
