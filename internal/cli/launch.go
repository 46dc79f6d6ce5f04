package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) launchCommand() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "launch CAMPAIGN",
		Short: "Run the checks, record the campaign and file its restricted tasks",
		Long: `launch runs the same checks as 'check' and writes nothing if one fails. It then
records the campaign's findings and batches and files one restricted task per batch.
Running it again files only tasks that are still missing.`,
		Args: exactArgs(1, "a campaign name or file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, c, err := a.openCampaign(cmd.Context(), envOptions{conduit: true, store: true, dryRun: dryRun}, args[0])
			if err != nil {
				return err
			}
			defer e.close()
			res, err := e.bot.Launch(cmd.Context(), c)
			if res != nil {
				verb := "launched"
				if res.Resumed {
					verb = "already launched; checked its tasks"
				}
				fmt.Fprintf(a.stdout, "campaign %s %s\n", res.Campaign, verb)
				for _, t := range res.Tasks {
					state := "exists"
					if t.New {
						state = "filed"
					}
					fmt.Fprintf(a.stdout, "  batch %d: %s (%d users) %s\n", t.Batch, t.Task, t.Users, state)
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "log every write instead of sending it; the state file is not changed")
	return cmd
}
