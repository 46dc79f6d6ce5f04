package bot_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
func TestAttack4ListFileReadsTheToken(t *testing.T) {
	h := newHarness(t, fixture{criteria: "[list]", groups: "[acl*security]",
		campaignExtra: "list: {file: token}\n", files: map[string]string{"token": "nomfa1\n"}})
	tok := h.botU.Token
	if err := os.WriteFile(filepath.Join(h.dir, "token"), []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.camp = h.parseCampaign(fixture{criteria: "[list]", groups: "[acl*security]", campaignExtra: "list: {file: token}\n"})
	_, err := h.bot.Launch(h.ctx, h.camp)
	if err != nil && strings.Contains(err.Error(), tok) {
		t.Errorf("Launch's error holds the API token: %v", err)
	}
	data, rerr := os.ReadFile(filepath.Join(h.dir, "state.db"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	if strings.Contains(string(data), tok) {
		t.Errorf("a list campaign whose list.file is the token file wrote the Conduit API token into the state file (launch error: %v)", err)
	}
	if strings.Contains(h.logs.String(), tok) {
		t.Errorf("the API token reached the bot's log")
	}
}
