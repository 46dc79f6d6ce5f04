package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
)

func (a *app) tickCommand() *cobra.Command {
	var (
		nowFlag  string
		only     []string
		campaign []string
		dryRun   bool
		asJSON   bool
		// allowFuture lets --now be ahead of the real clock without
		// --dry-run.
		allowFuture bool
	)
	cmd := &cobra.Command{
		Use:   "tick",
		Short: "Do all due work once: tasks, re-checks, replies, reminders, removals",
		Long:  "tick runs every chore once for every launched campaign, in order: " + strings.Join(bot.ChoreNames(), ", ") + ".",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Refuse an unknown chore before opening (and perhaps
			// creating) the state file.
			for _, o := range only {
				if !slices.Contains(bot.ChoreNames(), o) {
					hint := ""
					if s := campaigns.Suggest(o, bot.ChoreNames()); s != "" {
						hint = fmt.Sprintf(" (did you mean %q?)", s)
					}
					return &usageError{fmt.Sprintf("tick: unknown chore %q%s; chores: %s", o, hint, strings.Join(bot.ChoreNames(), ", "))}
				}
			}
			o, err := envOptions{conduit: true, store: true, dryRun: dryRun}.at(nowFlag, allowFuture)
			if err != nil {
				return err
			}
			e, err := a.open(cmd.Context(), o)
			if err != nil {
				return err
			}
			defer e.close()
			report, err := e.bot.Tick(cmd.Context(), bot.TickOptions{Only: only, Campaigns: campaign})
			if report != nil {
				if asJSON {
					if jerr := a.writeJSON("tick", report); jerr != nil {
						return jerr
					}
				} else {
					printTick(a.stdout, report)
				}
			}
			if err != nil {
				return fmt.Errorf("%w: %w", errTickFailed, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&nowFlag, "now", "", "act as if it were this time (YYYY-MM-DD or RFC 3339); ahead of the clock only with --dry-run or --allow-future")
	cmd.Flags().BoolVar(&allowFuture, "allow-future", false, "let --now be ahead of the real clock without --dry-run: its writes are real and cannot be undone (for a test Phabricator)")
	cmd.Flags().StringSliceVar(&only, "only", nil, "run only these chores ("+strings.Join(bot.ChoreNames(), ", ")+")")
	cmd.Flags().StringSliceVar(&campaign, "campaign", nil, "tick only these campaigns")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "log every write instead of sending it; the state file is not changed")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printTick(w io.Writer, r *bot.TickReport) {
	for _, c := range r.Campaigns {
		fmt.Fprintf(w, "%s:\n", c.Campaign)
		if len(c.Events) == 0 && len(c.Errors) == 0 {
			fmt.Fprintln(w, "  nothing due")
		}
		for _, e := range c.Events {
			fmt.Fprintf(w, "  %s\n", e)
		}
		for _, e := range c.Errors {
			fmt.Fprintf(w, "  ERROR %s\n", e)
		}
	}
}
