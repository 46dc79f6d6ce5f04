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
	var asJSON bool
	cmd := &cobra.Command{
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
			res := ValidateResult{Config: cfg.Source, Campaigns: []ValidatedCampaign{}}
			launched, known := launchedCampaigns(cfg.StateFile)
			now := time.Now()
			var errs []error
			for _, arg := range args {
				v := ValidatedCampaign{Arg: arg}
				c, err := loadCampaign(cfg, arg)
				if err == nil && !launched[c.Name] {
					// Would launch accept the cutoff now? Not asked of a
					// launched campaign: its cutoff was accepted then.
					if nerr := c.CheckNotice(now, cfg.MinNotice, false); nerr != nil {
						if known {
							err = nerr
						} else {
							v.Warning = fmt.Sprintf("the state file could not be read to tell whether it is launched: %v", nerr)
						}
					}
				}
				if c != nil {
					v.Name, v.Groups, v.Cutoff = c.Name, len(c.Groups), c.CutoffDate
				}
				if err != nil {
					v.Error = err.Error()
					errs = append(errs, err)
				} else {
					v.OK = true
				}
				res.Campaigns = append(res.Campaigns, v)
			}
			err = errors.Join(errs...)
			res.OK = err == nil
			if asJSON {
				if jerr := a.writeJSON("validate", res); jerr != nil {
					return jerr
				}
				return err
			}
			for _, v := range res.Campaigns {
				switch {
				case v.Error != "":
					// Said once, on stderr, with the exit code.
				case v.Warning != "":
					fmt.Fprintf(a.stdout, "campaign %s: warning (%s)\n", v.Name, v.Warning)
					fallthrough
				default:
					fmt.Fprintf(a.stdout, "campaign %s: ok (%d group(s), cutoff %s)\n", v.Name, v.Groups, v.Cutoff)
				}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "config %s: ok\ntemplates: ok\n", cfg.Source)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// ValidateResult is `validate --json`'s data. Config and templates are
// valid when it is printed at all (otherwise the error envelope says why).
type ValidateResult struct {
	Config    string              `json:"config"`
	OK        bool                `json:"ok"` // every campaign is valid
	Campaigns []ValidatedCampaign `json:"campaigns"`
}

// ValidatedCampaign is one campaign file's verdict.
type ValidatedCampaign struct {
	Arg     string `json:"arg"`            // as given, or as found in campaigns_dir
	Name    string `json:"name,omitempty"` // "" when the file did not parse
	OK      bool   `json:"ok"`
	Groups  int    `json:"groups,omitempty"`
	Cutoff  string `json:"cutoff,omitempty"`
	Warning string `json:"warning,omitempty"`
	Error   string `json:"error,omitempty"`
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
