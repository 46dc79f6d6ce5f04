package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
)

func (a *app) extendCommand() *cobra.Command {
	var (
		to   string
		user string
		as   string
	)
	cmd := &cobra.Command{
		Use:   "extend CAMPAIGN --to DATE [--user USER] [--as NAME]",
		Short: "Move the deadline for a campaign or one user, and announce it on the tasks",
		Args:  exactArgs(1, "CAMPAIGN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return &usageError{"extend: --to DATE is required"}
			}
			t, err := parseTime(to)
			if err != nil {
				return err
			}
			actor, err := a.operator(as)
			if err != nil {
				return err
			}
			e, err := a.open(cmd.Context(), envOptions{conduit: true, store: true, operator: actor})
			if err != nil {
				return err
			}
			defer e.close()
			err = e.bot.Extend(cmd.Context(), args[0], t, user, actor)
			if errors.Is(err, bot.ErrUnchanged) {
				fmt.Fprintf(a.stdout, "%v\n", err)
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "deadline moved to %s\n", t.Format("2006-01-02"))
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the new last day (YYYY-MM-DD, UTC)")
	cmd.Flags().StringVar(&user, "user", "", "extend only this user's deadline")
	cmd.Flags().StringVar(&as, "as", "", "who decided the extension, for the journal (default: $USER, $LOGNAME, then the OS account's name)")
	return cmd
}
