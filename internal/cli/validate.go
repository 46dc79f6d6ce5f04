package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/state"
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
			launched, known := launchedCampaigns(cfg.StateFile)
			now := time.Now()
			var errs []error
			for _, arg := range args {
				c, err := loadCampaign(cfg, arg)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				// Would launch accept the cutoff now? Not asked of a
				// launched campaign: its cutoff was accepted then.
				if !launched[c.Name] {
					if err := c.CheckNotice(now, cfg.MinNotice, false); err != nil {
						if known {
							errs = append(errs, err)
							continue
						}
						fmt.Fprintf(a.stdout, "campaign %s: warning (the state file could not be read to tell whether it is launched): %v\n", c.Name, err)
					}
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

// launchedCampaigns returns the campaigns recorded in the state file, and
// whether it knows: no state file means none is launched; a file it
// cannot read (the daemon holds it, or it is damaged) means it cannot
// tell. validate stays offline and never fails on the state file itself.
func launchedCampaigns(path string) (map[string]bool, bool) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, true
	}
	st, err := state.Open(path, state.Options{ReadOnly: true, LockTimeout: 200 * time.Millisecond})
	if err != nil {
		return nil, false
	}
	defer st.Close()
	names, err := st.CampaignNames()
	if err != nil {
		return nil, false
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out, true
}
