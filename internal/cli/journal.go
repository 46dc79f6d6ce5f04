package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
)

func (a *app) journalCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "journal CAMPAIGN",
		Short: "Print a campaign's journal: every action, when, by whom, on which task",
		Args:  exactArgs(1, "a campaign name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.open(cmd.Context(), envOptions{store: true, readOnly: true})
			if err != nil {
				return err
			}
			defer e.close()
			entries, err := e.store.Journal(args[0])
			if err != nil {
				return fmt.Errorf("%w: %w", bot.ErrUnknownCampaign, err)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tAT\tKIND\tACTOR\tTASK\tUSER\tGROUP\tDETAIL")
			for _, en := range entries {
				// Every text field may hold what others wrote
				// (usernames, comment excerpts): one line each, with
				// terminal controls escaped.
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", en.Seq, en.At.Format("2006-01-02 15:04"), escapeText(string(en.Kind)),
					escapeText(en.Actor), escapeText(en.Task), escapeText(en.User), escapeText(en.Group), escapeText(en.Detail))
			}
			return tw.Flush()
		},
	}
}
