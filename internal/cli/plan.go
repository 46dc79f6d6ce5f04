package cli

import (
	"github.com/spf13/cobra"
)

func (a *app) planCommand() *cobra.Command {
	var asJSON, full bool
	cmd := &cobra.Command{
		Use:   "plan CAMPAIGN",
		Short: "Show who is affected and exactly which tasks launch would file; writes nothing",
		Long: `plan discovers the campaign's findings as launch would, and writes nothing.
By default it prints a summary: the groups with their members and affected
users, the members left alone and why, each task with its user count, the
cutoff and the reminders. --full adds every user and the full text and
policies of every task; --json prints all of it for a script.`,
		Args: exactArgs(1, "a campaign name or file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, c, err := a.openCampaign(cmd.Context(), envOptions{conduit: true, store: true, dryRun: true}, args[0])
			if err != nil {
				return err
			}
			defer e.close()
			p, err := e.bot.Plan(cmd.Context(), c)
			if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON("plan", p)
			}
			// Task texts hold names the audited people wrote.
			if full {
				return p.WriteText(textWriter{a.stdout})
			}
			return p.WriteSummary(textWriter{a.stdout})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (always complete: every user and task text)")
	cmd.Flags().BoolVarP(&full, "full", "f", false, "print every user and the full text of every task")
	return cmd
}
