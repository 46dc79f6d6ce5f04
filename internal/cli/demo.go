package cli

import (
	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/internal/demo"
)

func (a *app) demoCommand() *cobra.Command {
	var opts demo.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a whole campaign against an in-process Phabricator on a simulated clock",
		Long: `demo starts an in-process Phabricator seeded with about 60 users in WMF-NDA,
acl*security and acl*sre-team, then runs plan, launch, reminders, replies, approvals
and removal on a simulated clock, and prints the timeline. It needs no network and
no config file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Out = a.stdout
			_, err := demo.Run(cmd.Context(), opts)
			return err
		},
	}
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "also print the bot's log and the full task texts")
	cmd.Flags().StringVar(&opts.StateDir, "state-dir", "", "keep the demo's state file in this directory (default: a temporary one)")
	return cmd
}
