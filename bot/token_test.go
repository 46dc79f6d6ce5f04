package bot_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
)

func TestRevokedTokenNeverLeaks(t *testing.T) {
	h := newHarness(t, fixture{})
	h.launch()
	task, _ := h.taskOf("nomfa1")
	h.comment("nomfa1", task, "done")
	h.srv.RevokeToken(h.botU.Token)
	h.clock.Advance(time.Hour)

	type attempt struct {
		name string
		run  func() error
	}
	attempts := []attempt{
		{"plan", func() error { _, err := h.bot.Plan(h.ctx, h.camp); return err }},
		{"tick", func() error { _, err := h.bot.Tick(h.ctx, bot.TickOptions{}); return err }},
		{"approve", func() error { _, err := h.approve(h.bot, "R1", "alice"); return err }},
		{"restore", func() error { return h.bot.Restore(h.ctx, campaignName, "nomfa1", false, "alice") }},
		{"fresh bot plan", func() error {
			// A new bot asks user.whoami first.
			_, err := h.newBot(h.client, h.log).Plan(h.ctx, h.camp)
			return err
		}},
	}
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			err := a.run()
			if a.name == "restore" {
				// nomfa1 was never removed: refused before any call.
				if !errors.Is(err, bot.ErrRefused) {
					t.Errorf("Restore: %v, want ErrRefused", err)
				}
				return
			}
			if !errors.Is(err, conduit.ErrInvalidAuth) {
				t.Fatalf("error %v, want ErrInvalidAuth", err)
			}
			if strings.Contains(err.Error(), h.botU.Token) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}

	// Launch reports the rejected token as a failed check.
	_, err := h.newBot(h.client, h.log).Launch(h.ctx, h.camp)
	if err == nil || strings.Contains(err.Error(), h.botU.Token) {
		t.Errorf("Launch with a revoked token: %v", err)
	}
	// Dialling again with the revoked token fails without leaking it.
	if _, err := conduit.Dial(h.ctx, h.srv.URL(), conduit.Token(h.botU.Token), h.clientOptions(h.log)); err != nil && strings.Contains(err.Error(), h.botU.Token) {
		t.Errorf("Dial error leaks the token: %v", err)
	}

	logs := h.logs.String()
	if !strings.Contains(logs, "ERR-INVALID-AUTH") && !strings.Contains(logs, "rejected") {
		t.Errorf("the log does not record the failure at all:\n%s", logs)
	}
	if strings.Contains(logs, h.botU.Token) {
		t.Errorf("the log leaks the token")
	}
	if strings.Contains(logs, h.botU.Token[4:]) {
		t.Errorf("the log leaks the token's secret part")
	}
	db := mustReadFile(t, filepath.Join(h.dir, "state.db"))
	if strings.Contains(string(db), h.botU.Token[4:]) {
		t.Errorf("the state file holds the token")
	}
	// The users' tokens never reach the bot's log either.
	if strings.Contains(logs, h.users["nomfa1"].Token) {
		t.Errorf("the log holds a user's token")
	}
}
