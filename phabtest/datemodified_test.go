package phabtest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/internal/testkit/phorgecheck"
)

// TestDateModified runs phorgetest's TestPhorgeDateModified sequence
// (checked on a real Phorge) against phabtest: which changes move a
// task's dateModified (NOTES facts 47 and 48), and the Date header.
func TestDateModified(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	s := New(Options{Now: now})
	defer s.Close()
	admin := s.AddUser(UserSpec{Username: "admin", Admin: true, MFA: true})
	bot := s.AddUser(UserSpec{Username: "auditbot", Admin: true, Bot: true, MFA: true})
	user := s.AddUser(UserSpec{Username: "user01"})
	outsider := s.AddUser(UserSpec{Username: "user02"})
	member := s.AddUser(UserSpec{Username: "user03"})
	project := s.AddProject(ProjectSpec{Name: "acl*sre-team", EditPolicy: PolicyAdmin, Members: []string{admin.PHID}})
	dial := func(u User) *conduit.Client {
		c, err := conduit.Dial(context.Background(), s.URL(), conduit.Token(s.NewToken(u.PHID)), conduit.Options{HTTPClient: s.Client(), RequestsPerSecond: -1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	w := phorgecheck.World{Bot: dial(bot), Admin: dial(admin), User: dial(user),
		UserPHID: user.PHID, OutsiderPHID: outsider.PHID, OutsiderName: outsider.Username,
		ProjectPHID: project.PHID, MemberPHID: member.PHID,
		NextSecond: func() { mu.Lock(); defer mu.Unlock(); clock = clock.Add(time.Second) }}
	res, err := w.Bot.CreateTask(context.Background(), conduit.TaskSpec{Title: "dateModified", SubscriberPHIDs: []string{bot.PHID, user.PHID},
		ViewPolicy: PolicyUsers, EditPolicy: PolicyAdmin})
	if err != nil {
		t.Fatal(err)
	}
	w.Task = conduit.Task{ID: res.ObjectID, PHID: res.ObjectPHID}
	w.EditComment = func(t *testing.T, match, text string) {
		cs := s.Comments(res.ObjectID)
		for i := len(cs) - 1; i >= 0; i-- {
			if cs[i].AuthorPHID == user.PHID && strings.Contains(cs[i].Text, match) {
				s.EditComment(cs[i].TransactionPHID, text)
				return
			}
		}
		t.Fatalf("no comment of user01 with %q", match)
	}
	phorgecheck.CheckDateModified(t, w)
}
