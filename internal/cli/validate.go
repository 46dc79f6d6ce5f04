package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/templates"
)

// validateCommand checks the config, campaign files and templates without
// talking to Phabricator: what CI runs on a config change.
func (a *app) validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [CAMPAIGN_FILE...]",
		Short: "Validate the config, campaign files and templates offline",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			tmpl, err := templates.Load(cfg.TemplatesDir)
			if err != nil {
				return fmt.Errorf("%w: templates: %w", bot.ErrInput, err)
			}
			if err := tmpl.Validate(); err != nil {
				return fmt.Errorf("%w: templates: %w", bot.ErrInput, err)
			}
			if len(args) == 0 && cfg.CampaignsDir != "" {
				names, err := campaigns.ListCampaigns(cfg.CampaignsDir)
				if err != nil {
					return fmt.Errorf("%w: %w", bot.ErrInput, err)
				}
				args = append(args, names...)
			}
			var errs []error
			for _, arg := range args {
				c, err := loadCampaign(cfg, arg)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(a.stdout, "campaign %s: ok (%d group(s), cutoff %s)\n", c.Name, len(c.Groups), c.CutoffDate)
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "config %s: ok\ntemplates: ok\n", cfg.Source)
			return nil
		},
	}
}
