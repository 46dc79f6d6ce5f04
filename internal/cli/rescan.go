package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) rescanCommand() *cobra.Command {
	var (
		nowFlag string
		dryRun  bool
		asJSON  bool
		// allowFuture lets --now be ahead of the real clock without
		// --dry-run.
		allowFuture bool
	)
	cmd := &cobra.Command{
		Use:   "rescan CAMPAIGN",
		Short: "Run a recurring campaign's scan now: add new members, post the summary on the standing task",
		Long: `rescan scans a recurring campaign's groups now, whether or not its period has
passed, compares with the last run and handles only the difference: new
non-compliant members join the campaign in new batches (or a new instance),
and a summary is posted on the team's standing task. It also finishes what an
earlier run left undone. Run twice at the same time, it does nothing new.`,
		Args: exactArgs(1, "CAMPAIGN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := envOptions{conduit: true, store: true, dryRun: dryRun}.at(nowFlag, allowFuture)
			if err != nil {
				return err
			}
			e, err := a.open(cmd.Context(), o)
			if err != nil {
				return err
			}
			defer e.close()
			res, err := e.bot.Rescan(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON("rescan", res)
			}
			if res.Run == 0 {
				fmt.Fprintf(a.stdout, "%s: no new run (run %d is the latest)\n", res.Campaign, res.Last)
			} else {
				fmt.Fprintf(a.stdout, "%s: run %d: %d new, %d fixed, %d gone\n", res.Campaign, res.Run, len(res.New), len(res.Fixed), len(res.Gone))
				if len(res.New) > 0 {
					fmt.Fprintf(a.stdout, "  new: %s\n", strings.Join(res.New, ", "))
				}
				if len(res.Batches) > 0 {
					fmt.Fprintf(a.stdout, "  added in batch(es) %v\n", res.Batches)
				}
				if res.Instance != "" {
					fmt.Fprintf(a.stdout, "  started the campaign instance %s\n", res.Instance)
				}
			}
			if res.Summary != "" {
				fmt.Fprintf(a.stdout, "  summary on %s\n", res.Summary)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&nowFlag, "now", "", "act as if it were this time (YYYY-MM-DD or RFC 3339); ahead of the clock only with --dry-run or --allow-future")
	cmd.Flags().BoolVar(&allowFuture, "allow-future", false, "let --now be ahead of the real clock without --dry-run: its writes are real and cannot be undone (for a test Phabricator)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "log every write instead of sending it; the state file is not changed")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
