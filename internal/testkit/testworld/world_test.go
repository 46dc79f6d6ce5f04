package testworld

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/phabtest"
)

// TestNew: the bot, the people, the approvers, the team and the groups
// with their members and edit policies, a config that parses and points
// at the server, clients acting as anyone, and a state file.
func TestNew(t *testing.T) {
	w := New(t, Options{
		Users:     []phabtest.UserSpec{{Username: "alice", Admin: true, MFA: true}, {Username: "dave"}},
		Approvers: []string{"alice"},
		Team:      []string{"alice", "dave"},
		Groups: []Group{
			{Name: GroupNDA, Members: []string{"dave"}},
			{Name: "acl*locked", Members: []string{"dave"}, EditPolicy: PolicyApprovers},
		},
	})
	if w.Bot.Username != BotUsername || w.User(BotUsername).PHID != w.Bot.PHID {
		t.Errorf("bot = %+v", w.Bot)
	}
	for group, members := range map[string][]string{
		GroupApprovers: {"alice"}, GroupTeam: {"alice", "dave"}, GroupNDA: {"dave"}, "acl*locked": {"dave"},
	} {
		if got := w.Srv.Members(w.Group(group).PHID); !slices.Equal(got, w.PHIDs(members...)) {
			t.Errorf("%s members = %v, want %v", group, got, members)
		}
		if w.Names[w.Group(group).PHID] != group {
			t.Errorf("Names lacks %s", group)
		}
	}

	// The bot is an administrator: it may edit the groups whose edit
	// policy is the default (administrators), not the one the approvers
	// hold.
	bot := w.Dial(t.Context(), BotUsername, zerolog.Nop())
	if _, err := bot.EditProjectMembers(t.Context(), w.Group(GroupNDA).PHID, nil, w.PHIDs("dave")); err != nil {
		t.Errorf("the bot may not edit %s: %v", GroupNDA, err)
	}
	if _, err := bot.EditProjectMembers(t.Context(), w.Group("acl*locked").PHID, nil, w.PHIDs("dave")); err == nil {
		t.Error("the bot edited acl*locked, whose edit policy is the approvers'")
	}
	if who, err := w.Dial(t.Context(), "dave", zerolog.Nop()).Whoami(t.Context()); err != nil || who.Username != "dave" {
		t.Errorf("Dial as dave: whoami %+v, %v", who, err)
	}

	path := w.Write("config.yaml", w.ConfigYAML("removal_limit: {max_share: 100%}\n"))
	cfg, err := campaigns.ParseConfig(path, []byte(w.ConfigYAML("")))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Conduit.URL != w.Srv.URL() || cfg.StateFile != filepath.Join(w.Dir, "state.db") {
		t.Errorf("config points at %q and %q", cfg.Conduit.URL, cfg.StateFile)
	}
	if names, err := w.Store().CampaignNames(); err != nil || len(names) != 0 {
		t.Errorf("a fresh state file: campaigns %v, %v", names, err)
	}
}
