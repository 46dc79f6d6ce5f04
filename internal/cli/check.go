package cli

import (
	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/campaigns"
)

func (a *app) checkCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check [CAMPAIGN]",
		Short: "Check the token, admin rights, group visibility and membership edit rights",
		Long: `check verifies the config and the API token, that the bot account is an admin
(user.search's mfa constraint is admin-only), and for a campaign that every audited
group, the approvers' and the team's project are visible and that the bot may edit
each group's membership (probed with a no-op removal of a non-member).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := envOptions{conduit: true, store: true, dryRun: true}
			var (
				e   *env
				c   *campaigns.Campaign
				err error
			)
			if len(args) == 1 {
				e, c, err = a.openCampaign(cmd.Context(), o, args[0])
			} else {
				e, err = a.open(cmd.Context(), o)
			}
			if err != nil {
				return err
			}
			defer e.close()
			report, err := e.bot.Check(cmd.Context(), c)
			if err != nil {
				return err
			}
			if asJSON {
				err = a.writeJSON("check", report)
			} else {
				err = report.WriteText(a.stdout)
			}
			if err != nil {
				return err
			}
			if report.Failed() {
				return report.Err()
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
