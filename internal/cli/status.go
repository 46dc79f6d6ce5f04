package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/state"
)

func (a *app) statusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [CAMPAIGN]",
		Short: "Show campaigns' users, tasks, removals and what needs a human",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.open(cmd.Context(), envOptions{store: true, readOnly: true})
			if errors.Is(err, errNoStateFile) {
				if len(args) > 0 {
					return fmt.Errorf("%w: %q has not been launched (%w)", bot.ErrUnknownCampaign, args[0], err)
				}
				// Before the first launch: nothing to show is not an
				// error (as kubectl's "No resources found").
				if asJSON {
					return a.writeJSON("status", []*bot.Status{})
				}
				fmt.Fprintf(a.stdout, "no campaigns launched yet (%v)\n", err)
				return nil
			}
			if err != nil {
				return err
			}
			defer e.close()
			names := args
			if len(names) == 0 {
				if names, err = e.store.CampaignNames(); err != nil {
					return err
				}
			}
			all := []*bot.Status{}
			for _, n := range names {
				st, err := bot.StatusOf(e.store, n, time.Now())
				if errors.Is(err, state.ErrNoCampaign) {
					return fmt.Errorf("%w: %q has not been launched", bot.ErrUnknownCampaign, n)
				}
				if err != nil {
					return err
				}
				all = append(all, st)
			}
			if asJSON {
				return a.writeJSON("status", all)
			}
			if len(all) == 0 {
				fmt.Fprintln(a.stdout, "no campaigns launched yet")
			}
			for i, st := range all {
				if i > 0 {
					fmt.Fprintln(a.stdout)
				}
				// Names, notes and comments in it come from others:
				// escape terminal controls (JSON output is escaped
				// by encoding/json already).
				if err := st.WriteText(textWriter{a.stdout}); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
