package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
)

func (a *app) launchCommand() *cobra.Command {
	var dryRun, allowShortNotice, asJSON bool
	cmd := &cobra.Command{
		Use:   "launch CAMPAIGN",
		Short: "Run the checks, record the campaign and file its restricted tasks",
		Long: `launch runs the same checks as 'check' and writes nothing if one fails. It then
records the campaign's findings and batches and files one restricted task per batch.
Running it again files only tasks that are still missing.

A campaign whose cutoff is closer than min_notice (config, default 14d) or in
the past is refused, unless --allow-short-notice or allow_short_notice: true.`,
		Args: exactArgs(1, "a campaign name or file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, c, err := a.openCampaign(cmd.Context(), envOptions{conduit: true, store: true, dryRun: dryRun}, args[0])
			if err != nil {
				return err
			}
			defer e.close()
			// A campaign already recorded keeps the cutoff it launched
			// with: running launch again only files missing tasks.
			launched, err := e.store.HasCampaign(c.Name)
			if err != nil {
				return err
			}
			if !launched {
				if err := c.CheckNotice(time.Now(), e.cfg.MinNotice, allowShortNotice); err != nil {
					return err
				}
			}
			res, err := e.bot.Launch(cmd.Context(), c)
			if asJSON {
				if err != nil {
					// The error envelope says what stopped it; rerunning
					// launch files what is missing.
					return err
				}
				return a.writeJSON("launch", res)
			}
			if res != nil {
				verb := "launched"
				var ie *bot.InterruptedError
				if errors.As(err, &ie) {
					verb = "launch " + ie.Error()
				} else if res.Resumed {
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
	cmd.Flags().BoolVar(&allowShortNotice, "allow-short-notice", false, "launch even if the cutoff is closer than the config's min_notice, or past")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "log every write instead of sending it; the state file is not changed")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
