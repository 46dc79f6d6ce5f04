package cli

import (
	"github.com/spf13/cobra"
)

func (a *app) planCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan CAMPAIGN",
		Short: "Show who is affected and exactly which tasks launch would file; writes nothing",
		Args:  exactArgs(1, "a campaign name or file"),
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
				return writeJSON(a.stdout, "plan", p)
			}
			return p.WriteText(a.stdout)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
