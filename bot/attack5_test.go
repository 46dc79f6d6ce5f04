package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
	"github.com/auditbot/auditbot/state"
)

// TestAttack5FixBeforeShown: "!fix P2" written on the policy task before
// the bot ever listed a finding P2 (the approvers guessed the next label,
// or P2 was opened in the very tick that read their comments) must not
// count: an approval covers only what its approver was shown. Before the
// fix the bot opened P2 (a join policy widened meanwhile) and, in the same
// tick, counted both comments and set the policy, without the team ever
// having been told what P2 is.
func TestAttack5FixBeforeShown(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[policy]", groups: "[acl*security]", campaignExtra: "policy: {scope: [Security]}\n"})
	h.srv.AddMembers(h.group(groupSecurity).PHID, h.botU.PHID)
	h.srv.AddProject(phabtest.ProjectSpec{Name: "Security"})
	h.launch()
	h.tick()
	pt := h.snapshot().Campaign.PolicyTask
	if pt == nil {
		t.Fatal("no policy task filed (P1, the member list, should be open)")
	}
	// Two approvers "approve" P2, which does not exist yet; then the join
	// policy is widened: the next tick opens it as P2.
	h.comment("alice", pt.Monogram(), "!fix P2")
	h.comment("bob", pt.Monogram(), "!fix P2")
	sc := h.group(groupSecurity).PHID
	if _, err := h.as("alice").EditProjectPolicy(h.ctx, sc, "join", conduit.PolicyUsers); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Hour)
	h.tick()
	h.clock.Advance(time.Hour)
	h.tick()
	if got := len(h.writesOf("project.edit")); got != 1 {
		t.Fatalf("%d project.edit writes, want 1 (alice's): the bot fixed P2 on approvals given before P2 was shown", got)
	}
	snap := h.snapshot()
	f, ok := snap.Campaign.PolicyByLabel("P2")
	if !ok || !f.Open() || len(f.Approvals) != 0 {
		t.Errorf("P2 %+v (found %v), want open with no approval", f, ok)
	}
	// Asked again after P2 was listed, the same approvers do fix it.
	h.comment("alice", pt.Monogram(), "!fix P2")
	h.comment("bob", pt.Monogram(), "!fix P2")
	h.clock.Advance(time.Hour)
	h.tick()
	if ps, err := h.as("alice").ProjectsByPHID(h.ctx, []string{sc}, false); err != nil || len(ps) != 1 || ps[0].Policy.Join != conduit.PolicyNoOne {
		t.Errorf("after two !fix given once P2 was shown: %+v, %v; want the join policy no-one", ps, err)
	}
	if answers := strings.Join(commentsText(h, pt.TaskID), "\n"); !strings.Contains(answers, "not listed") {
		t.Errorf("the answers do not say the early !fix was refused:\n%s", answers)
	}
}

// TestAttack5SkewedDateHeader: the Date header comes from whatever
// answers HTTP (a front proxy, a web node), whose clock may run ahead of
// the one PHP stamps dateModified with by more than clockSlack. One tick
// read through such a front recorded cursors an hour ahead; before the
// fix every change made during that hour (an outsider subscribed to the
// private audit task, a reply) had a dateModified before the cursor and
// was skipped until some later change moved the task past it.
func TestAttack5SkewedDateHeader(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(h *harness, task string)
		want   state.EntryKind
	}{
		{name: "outsider subscribed", want: state.EntryAccessRevoked, change: func(h *harness, task string) {
			if _, err := h.as("nomfa1").EditTask(h.ctx, task, conduit.AddSubscribersEdit(h.phid("outsider"))); err != nil {
				h.t.Fatal(err)
			}
		}},
		{name: "reply", want: state.EntryVoluntary, change: func(h *harness, task string) {
			h.comment("nomfa1", task, "remove me")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launch()
			task, _ := h.taskOf("nomfa1")
			settle(h)
			// A change the skewed tick reads the task for.
			h.comment("bob", task, "we are looking at the list")
			h.srv.SetDateSkew(time.Hour)
			h.tick()
			h.srv.SetDateSkew(0)
			before := h.journalKinds()[string(tt.want)]
			h.clock.Advance(10 * time.Minute)
			tt.change(h, task)
			h.clock.Advance(time.Minute)
			h.tick()
			if got := h.journalKinds()[string(tt.want)]; got != before+1 {
				t.Errorf("journal %s = %d after the change, want %d: the change was skipped behind a cursor set by a skewed Date header", tt.want, got, before+1)
			}
		})
	}
}
