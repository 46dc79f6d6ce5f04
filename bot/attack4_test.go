package bot_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// Fourth round of attack tests (see attack_test.go, attack2_test.go and
// attack3_test.go for the earlier ones): each breaks a promise README.md
// makes and fails until the hole is closed.

// TestAttack4ListFileReadsTheToken: a list campaign's list.file may be
// any path (absolute, or relative with ../), read with the bot's rights,
// and every line that looks like a username becomes a list entry. A
// Conduit API token ("api-" and 28 lowercase letters and digits) is a
// valid Phabricator username. So a campaign file that names the bot's
// own token file (conduit.token_file, e.g. /etc/auditbot/token, which the
// daemon can read by design; or "list: {file: ../secrets/token}") makes
// the bot send the token to Phabricator as a username to look up
// (user.search constraints), then, since no account has that name, write
// it into the journal ("unknown username(s) [api-...]") and the launch
// plan: the state file, `auditbot journal`, the dashboard. Whoever may
// add a campaign file (a reviewed repository of campaigns, a campaigns
// dir the security team writes) reads the token back from the dashboard,
// and the README's "the API token never reaches a log, task, error or
// the state file" is broken. A non-username line is quoted in the parse
// error instead, so any file the bot can read leaks line by line through
// `auditbot check` errors as well.
//
// Sequence: the token file lies next to the config (0600, as README
// asks); a list campaign names it: list: {file: token}; launch.
//
// Fix: refuse a list file that is the token file (os.SameFile against
// conduit.token_file) and one outside the campaign's directory unless
// the config allows it; refuse entries shaped like a Conduit token
// (api-/cli- and 28 [a-z0-9]); do not quote lines of a list file in
// errors beyond the line number.
//
// The parse refuses the token-shaped line (naming file:line only); a
// list that is conduit.token_file, whatever it holds, is refused before
// any name is looked up or journaled.
func TestAttack4ListFileReadsTheToken(t *testing.T) {
	t.Run("the token file's contents", func(t *testing.T) {
		h := newHarness(t, fixture{criteria: "[list]", groups: "[acl*security]",
			campaignExtra: "list: {file: token}\n", files: map[string]string{"token": "nomfa1\n"}})
		tok := h.botU.Token
		if err := os.WriteFile(filepath.Join(h.dir, "token"), []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		src := "name: " + campaignName + "\ncriteria: [list]\nlist: {file: token}\ngroups: [acl*security]\ncutoff: 2027-02-28\nteam: Security-Team\napprovers: acl*phabricator-admins\n"
		_, err := campaigns.ParseCampaign(filepath.Join(h.dir, campaignName+".yaml"), []byte(src))
		if err == nil || !strings.Contains(err.Error(), filepath.Join(h.dir, "token")+":1: ") {
			t.Errorf("a list holding the token parses, or the error does not name token:1: %v", err)
		}
		if err != nil && strings.Contains(err.Error(), tok) {
			t.Errorf("the parse error holds the API token: %v", err)
		}
		assertNoToken(t, h, tok)
	})
	t.Run("the list is conduit.token_file", func(t *testing.T) {
		h := newHarness(t, fixture{criteria: "[list]", groups: "[acl*security]",
			campaignExtra: "list: {file: token}\n", files: map[string]string{"token": "nomfa1\nsecretish\n"}})
		h.cfg.Conduit.TokenFile = filepath.Join(h.dir, "token")
		_, err := h.bot.Launch(h.ctx, h.camp)
		if !errors.Is(err, bot.ErrInput) {
			t.Errorf("Launch of a list campaign reading the token file = %v, want ErrInput", err)
		}
		if err != nil && strings.Contains(err.Error(), "secretish") {
			t.Errorf("Launch's error quotes the token file: %v", err)
		}
		if len(h.srv.Tasks()) != 0 {
			t.Errorf("Launch filed %d task(s)", len(h.srv.Tasks()))
		}
		assertNoToken(t, h, "secretish")
	})
}

// assertNoToken fails if secret is in the state file or the bot's log.
func assertNoToken(t *testing.T, h *harness, secret string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(h.dir, "state.db"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if strings.Contains(string(data), secret) {
		t.Errorf("the secret reached the state file")
	}
	if strings.Contains(h.logs.String(), secret) {
		t.Errorf("the secret reached the bot's log")
	}
}

// TestAttack4StandingTaskUnguarded: a recurring campaign's standing task
// carries each run's summary, which names every new non-compliant member
// with the reason and the security groups ("@newbie: no MFA; in
// WMF-NDA"), the very list the audit tasks keep private. But the
// policies chore (view/edit policy restore) and the access check
// (unexpected subscribers, assignee) iterate snap.Batches only, and the
// standing task is no batch (Campaign.StandingTaskPHID). So a change
// that the bot undoes within a tick on any audit task stays on the
// standing task for good, unseen: nothing restored, no policy-restored
// or access-revoked entry, nothing in status. Real Phorge lets anyone who
// can see the task (every member of the team project) add subscribers
// (CAN_INTERACT only, see TestAttackOutsiderGainsAccessToAuditTask); an
// administrator among the approvers may also set its view policy to
// "users". README ("every tick reads every task of the campaign ... puts
// it back"; the standing task is "naming nobody") says otherwise.
//
// Sequence: recurring campaign (every 7d); a week later the run files the
// standing task and posts the summary naming @newbie; alice (team member
// and admin) subscribes @outsider / sets the view policy to "users"; two
// ticks.
//
// Fix: run the policies and access checks over the standing task too
// (its audience: the bot, the team and the approvers' projects and their
// members), and correct the README.
func TestAttack4StandingTaskUnguarded(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(h *harness) conduit.Edit
	}{
		{name: "team member subscribes an outsider", edit: func(h *harness) conduit.Edit {
			return conduit.Edit{Type: "subscribers.add", Value: []string{h.phid("outsider")}}
		}},
		{name: "administrator makes it visible to all users", edit: func(h *harness) conduit.Edit {
			return conduit.Edit{Type: "view", Value: "users"}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, recurringFixture)
			h.launch()
			newcomer(h)
			h.clock.Set(launchTime.Add(week))
			h.tick()
			id := h.standingTask()
			st, _ := h.srv.Task(id)
			named := false
			for _, c := range h.botComments(id) {
				named = named || strings.Contains(c.Text, "newbie")
			}
			if !named {
				t.Fatal("fixture: the run summary on the standing task does not name @newbie")
			}
			if outsiderSees(h, st.PHID) {
				t.Fatal("fixture: the outsider sees the standing task before the attack")
			}
			h.editAs("alice", "T"+itoa(id), tt.edit(h))
			if !outsiderSees(h, st.PHID) {
				t.Fatal("fixture: the outsider still cannot see the standing task after the attack")
			}
			h.tick()
			h.clock.Advance(time.Hour)
			h.tick()
			status, err := h.bot.Status(campaignName)
			if err != nil {
				t.Fatal(err)
			}
			flagged := slices.ContainsFunc(status.Attention, func(a string) bool { return strings.Contains(a, "T"+itoa(id)) })
			if outsiderSees(h, st.PHID) && !flagged {
				t.Errorf("after two ticks @outsider still reads the standing task T%d (the run summary naming new non-compliant members of WMF-NDA), and status does not flag it; journal: %v",
					id, h.journalKinds())
			}
		})
	}
}

// TestAttack4ExtendUserNeverAnnounced: `auditbot extend --user` finds the
// finding case-insensitively and with a leading @ (findingByUsername, as
// every other command does), moves that user's deadline and journals it,
// but announceExtension then picks the users to tell with
// f.Username == username, the name as typed. "--user @nomfa2" or
// "--user NoMFA2" matches nobody: no comment is posted, the op is marked
// done (so no later tick retries), and the CLI prints "deadline moved".
// The user is never told their deadline moved (the README: extend
// "announces it on the tasks"), so they may drop out of the conversation
// believing the old date, and the journal says it was done.
//
// Fix: announce with the finding's own username (target.Username), and
// key the op by it too.
func TestAttack4ExtendUserNeverAnnounced(t *testing.T) {
	for _, typed := range []string{"@nomfa2", "NOMFA2"} {
		t.Run(typed, func(t *testing.T) {
			h := newHarness(t, fixture{})
			h.launch()
			_, id := h.taskOf("nomfa2")
			before := len(h.botComments(id))
			if err := h.bot.Extend(h.ctx, campaignName, cutoff.AddDate(0, 0, 20), typed, "alice"); err != nil {
				t.Fatalf("Extend --user %s: %v", typed, err)
			}
			if f := h.finding("nomfa2"); f.Cutoff.IsZero() {
				t.Fatalf("fixture: nomfa2's deadline did not move")
			}
			h.tick()
			if after := len(h.botComments(id)); after == before {
				t.Errorf("extend --user %s moved @nomfa2's deadline but nothing was posted on their task T%d; pending ops: %v", typed, id, h.pendingOps())
			}
		})
	}
}

// TestAttack4ExtendAgainSaysNothingChanged: an extend to a date an
// earlier extend already set and announced returned nil, and the CLI
// printed "deadline moved", also when a later extend had since moved the
// deadline further (so the date printed was not the deadline). Now the
// same date again is ErrUnchanged and a date before a later move is
// refused as bad input; neither changes the deadline or posts anything.
func TestAttack4ExtendAgainSaysNothingChanged(t *testing.T) {
	first, later := cutoff.AddDate(0, 0, 10), cutoff.AddDate(0, 0, 20)
	for _, tt := range []struct {
		name  string
		moves []time.Time
		again time.Time
		want  error
	}{
		{name: "same date again", moves: []time.Time{first}, again: first, want: bot.ErrUnchanged},
		{name: "earlier date after a later move", moves: []time.Time{first, later}, again: first, want: bot.ErrInput},
	} {
		for _, user := range []string{"", "nomfa2"} {
			t.Run(tt.name+"/user="+user, func(t *testing.T) {
				h := newHarness(t, fixture{})
				h.launch()
				for _, to := range tt.moves {
					if err := h.bot.Extend(h.ctx, campaignName, to, user, "alice"); err != nil {
						t.Fatalf("Extend to %s: %v", to.Format("2006-01-02"), err)
					}
				}
				_, id := h.taskOf("nomfa2")
				before, deadline := len(h.botComments(id)), h.finding("nomfa2").Cutoff
				err := h.bot.Extend(h.ctx, campaignName, tt.again, user, "alice")
				if !errors.Is(err, tt.want) {
					t.Errorf("Extend again = %v, want %v", err, tt.want)
				}
				if after := len(h.botComments(id)); after != before {
					t.Errorf("extend again posted %d comment(s)", after-before)
				}
				if got := h.finding("nomfa2").Cutoff; !got.Equal(deadline) {
					t.Errorf("extend again moved the deadline from %v to %v", deadline, got)
				}
			})
		}
	}
}

// TestStandingTaskAudience: on the standing task the approvers' members
// may stay (the bot subscribed their project when it filed the task); an
// outsider subscribed and an assignee set by an administrator are taken off
// exactly once, with the standing task's own op key.
func TestStandingTaskAudience(t *testing.T) {
	h := newHarness(t, recurringFixture)
	h.launch()
	newcomer(h)
	h.clock.Set(launchTime.Add(week))
	h.tick()
	id := h.standingTask()
	mono := "T" + itoa(id)
	h.editAs("alice", mono, conduit.Edit{Type: "subscribers.add", Value: []string{h.phid("carol"), h.phid("outsider")}})
	h.editAs("alice", mono, conduit.Edit{Type: "owner", Value: h.phid("dave")})
	for range 3 {
		h.tick()
		h.clock.Advance(time.Hour)
	}
	st, _ := h.srv.Task(id)
	subs := st.SubscriberPHIDs
	if !slices.Contains(subs, h.phid("carol")) {
		t.Errorf("carol, an approver, was unsubscribed from the standing task")
	}
	if slices.Contains(subs, h.phid("outsider")) {
		t.Errorf("outsider is still subscribed to the standing task")
	}
	if st.OwnerPHID != "" {
		t.Errorf("the standing task is still assigned to %s", st.OwnerPHID)
	}
	var keys []string
	for _, op := range h.snapshot().Ops {
		if op.Kind == state.OpAccessRevoked {
			keys = append(keys, op.Key)
		}
	}
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "access-revoke/standing/") {
		t.Errorf("access-revoked ops = %v, want one access-revoke/standing/...", keys)
	}
	if got := h.journalKinds()["access-revoked"]; got != 1 {
		t.Errorf("%d access-revoked entries, want 1", got)
	}
}
