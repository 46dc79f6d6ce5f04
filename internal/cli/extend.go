package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
)

func (a *app) extendCommand() *cobra.Command {
	var (
		to     string
		user   string
		as     string
		asJSON bool
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
			res := ExtendResult{Campaign: args[0], User: user, To: t.Format(time.DateOnly), Changed: err == nil, Actor: actor}
			if errors.Is(err, bot.ErrUnchanged) {
				res.Note = err.Error()
			} else if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON("extend", res)
			}
			if !res.Changed {
				fmt.Fprintln(a.stdout, res.Note)
				return nil
			}
			fmt.Fprintf(a.stdout, "deadline moved to %s\n", res.To)
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the new last day (YYYY-MM-DD, UTC)")
	cmd.Flags().StringVar(&user, "user", "", "extend only this user's deadline")
	cmd.Flags().StringVar(&as, "as", "", "who decided the extension, for the journal (default: $USER, $LOGNAME, then the OS account's name)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// ExtendResult is `extend --json`'s data.
type ExtendResult struct {
	Campaign string `json:"campaign"`
	User     string `json:"user,omitempty"` // "": the whole campaign
	To       string `json:"to"`             // the new last day, YYYY-MM-DD
	// Changed is false when an earlier extend already set and announced
	// this date (Note says so).
	Changed bool   `json:"changed"`
	Note    string `json:"note,omitempty"`
	Actor   string `json:"actor"`
}
