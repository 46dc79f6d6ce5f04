package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples are the Examples sections of the commands, by command path
// without "auditbot ". They live in one place so that a test can check
// every command has one, and they read as a tour of the tool.
var examples = map[string]string{
	"validate": `  # the config and every campaign in campaigns_dir, offline
  auditbot validate
  # one campaign file, before committing it
  auditbot validate campaigns/mfa-2027q1.yaml`,
	"check": `  # the bot's token, admin role, and every group of every campaign
  auditbot check
  auditbot check mfa-2027q1 --json`,
	"suggest": `  # projects that look like access groups (acl*, lock icon, guarding tasks) no campaign audits
  auditbot suggest
  # read the newest 5000 tasks for the projects that guard them
  auditbot suggest --tasks 5000
  auditbot suggest --json | jq '.data.suggestions[] | select(.with_mfa < .enabled)'`,
	"plan": `  # a summary: groups, affected users, batches, the cutoff
  auditbot plan mfa-2027q1
  # the full text of every task launch would file
  auditbot plan mfa-2027q1 --full | less
  # everything, for a script
  auditbot plan mfa-2027q1 --json | jq '.data.findings[].username'`,
	"launch": `  # what would be filed and recorded, changing nothing
  auditbot launch mfa-2027q1 --dry-run
  auditbot launch mfa-2027q1
  # after a crash or an outage: files only the missing tasks
  auditbot launch mfa-2027q1`,
	"tick": `  # all due work, once
  auditbot tick
  # only read replies and re-check users, for one campaign
  auditbot tick --only replies,drift --campaign mfa-2027q1
  # what a tick a week from now would do, changing nothing
  auditbot tick --now 2027-02-01 --dry-run
  # on a test Phabricator only: really act at a future time
  auditbot tick --now 2027-03-01 --allow-future`,
	"rescan": `  # a recurring campaign's scan now: new non-compliant members join in new batches
  auditbot rescan mfa-weekly
  # what it would do, changing nothing
  auditbot rescan mfa-weekly --dry-run --json`,
	"run": `  # the daemon, in the foreground (systemd, Kubernetes)
  AUDITBOT_CONFIG=/etc/auditbot/config.yaml auditbot run`,
	"status": `  auditbot status
  auditbot status mfa-2027q1 --json | jq '.data'`,
	"journal": `  auditbot journal mfa-2027q1
  auditbot journal mfa-2027q1 --csv > journal.csv
  auditbot journal mfa-2027q1 --json | jq '.data[] | select(.kind == "removal")'`,
	"verify-journal": `  auditbot verify-journal
  # a head printed earlier and kept outside the state file must still be there
  auditbot verify-journal --head mfa-2027q1=45:3f2a…
  # a backup, without a config
  auditbot verify-journal mfa-2027q1 --state backup.db`,
	"report": `  auditbot report mfa-2027q1 --format md > evidence.txt
  auditbot report mfa-2027q1 --format csv --state backup.db`,
	"serve": `  auditbot serve --state demo-state/demo.db
  auditbot serve --listen 127.0.0.1:8090`,
	"approve": `  # see every membership R1 removes, and its digest; records nothing
  auditbot approve mfa-2027q1 R1 --token-file ~/.config/phab-token
  # approve exactly what was shown
  auditbot approve mfa-2027q1 R1 --token-file ~/.config/phab-token --confirm 3f9a…`,
	"restore": `  auditbot restore mfa-2027q1 dave
  # re-add even though dave still has no MFA, asked by carol
  auditbot restore mfa-2027q1 dave --force --as carol`,
	"extend": `  # everyone's deadline
  auditbot extend mfa-2027q1 --to 2027-03-15
  # one user's, decided by carol (kubectl exec and systemd have no $USER)
  auditbot extend mfa-2027q1 --to 2027-03-15 --user dave --as carol`,
	"state": `  auditbot state check
  auditbot state backup /var/backups/auditbot-$(date +%F).db`,
	"state check": `  auditbot state check
  # a backup
  auditbot state check --file /var/backups/auditbot-2027-01-31.db`,
	"state backup": `  auditbot state backup /var/backups/auditbot-$(date +%F).db`,
	"version": `  auditbot version
  auditbot version --json`,
	"completion": `  # bash, for this shell
  source <(auditbot completion bash)
  # zsh, for good
  auditbot completion zsh > "${fpath[1]}/_auditbot"
  auditbot completion fish > ~/.config/fish/completions/auditbot.fish`,
	"completion bash": `  source <(auditbot completion bash)
  auditbot completion bash > /etc/bash_completion.d/auditbot`,
	"completion zsh":        `  auditbot completion zsh > "${fpath[1]}/_auditbot"`,
	"completion fish":       `  auditbot completion fish > ~/.config/fish/completions/auditbot.fish`,
	"completion powershell": `  auditbot completion powershell | Out-String | Invoke-Expression`,
}

// commandKey is a command's key in examples: its path without the root.
func commandKey(cmd *cobra.Command) string {
	return strings.TrimPrefix(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()), " ")
}

// addExamples sets the Examples section of every command that has one in
// examples.
func addExamples(root *cobra.Command) {
	walkCommands(root, func(cmd *cobra.Command) {
		if ex, ok := examples[commandKey(cmd)]; ok && cmd.Example == "" {
			cmd.Example = ex
		}
	})
}

// walkCommands calls f for every command under root, root excluded.
func walkCommands(root *cobra.Command, f func(*cobra.Command)) {
	for _, cmd := range root.Commands() {
		f(cmd)
		walkCommands(cmd, f)
	}
}
