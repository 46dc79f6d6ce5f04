//go:build phorge

package phorgetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/internal/testkit/phorgecheck"
)

// TestPhorgeDateModified checks on the real Phorge which changes move a
// task's dateModified, and that maniphest.search's Date header is the
// server's clock (NOTES facts 47 and 48): what the bot's per-task cursor
// rests on (bot/seen.go). phabtest's TestDateModified runs the same
// sequence against phabtest.
func TestPhorgeDateModified(t *testing.T) {
	env := labEnv(t)
	env.reset(t)
	t.Cleanup(func() { env.reset(t) })
	dial := func(tokenVar string) *conduit.Client {
		c, err := conduit.Dial(context.Background(), env["PHAB_URL"], conduit.Token(env[tokenVar]), conduit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	w := phorgecheck.World{Bot: dial("AUDITBOT_TOKEN"), Admin: dial("ADMIN_TOKEN"), User: dial("TOKEN_USER02"),
		UserPHID: env.userPHID(t, "user02"), OutsiderPHID: env.userPHID(t, "user01"), OutsiderName: "user01",
		ProjectPHID: env.project(t, "acl_phabricator-admins").PHID, MemberPHID: env.userPHID(t, "user01"),
		NextSecond: phorgecheck.Settle}
	res, err := w.Bot.CreateTask(context.Background(), conduit.TaskSpec{Title: "dateModified check",
		SubscriberPHIDs: []string{env.userPHID(t, "auditbot"), w.UserPHID},
		ViewPolicy:      conduit.PolicyUsers, EditPolicy: conduit.PolicyAdmin})
	if err != nil {
		t.Fatal(err)
	}
	w.Task = conduit.Task{ID: res.ObjectID, PHID: res.ObjectPHID}
	w.EditComment = func(t *testing.T, match, text string) {
		env.labCommand(t, "LAB_EDIT_COMMENT", fmt.Sprintf("T%d", res.ObjectID), "user02", match, text)
	}
	phorgecheck.CheckDateModified(t, w)
}
