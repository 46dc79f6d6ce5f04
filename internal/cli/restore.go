package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) restoreCommand() *cobra.Command {
	var (
		force  bool
		as     string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "restore CAMPAIGN USER",
		Short: "Re-add a removed user to exactly the groups the bot removed them from (or enable again an account a disable campaign disabled)",
		Args:  exactArgs(2, "CAMPAIGN USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			actor, err := a.operator(as)
			if err != nil {
				return err
			}
			e, err := a.open(cmd.Context(), envOptions{conduit: true, store: true, operator: actor})
			if err != nil {
				return err
			}
			defer e.close()
			if err := e.bot.Restore(cmd.Context(), args[0], args[1], force, actor); err != nil {
				return err
			}
			user := strings.TrimPrefix(args[1], "@")
			if asJSON {
				return a.writeJSON("restore", RestoreResult{Campaign: args[0], User: user, Restored: true, Forced: force, Actor: actor})
			}
			fmt.Fprintf(a.stdout, "restored @%s\n", user)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "restore even if Phabricator still shows the user as non-compliant")
	cmd.Flags().StringVar(&as, "as", "", "who asked for the restore, for the journal (default: $USER, $LOGNAME, then the OS account's name)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// RestoreResult is `restore --json`'s data.
type RestoreResult struct {
	Campaign string `json:"campaign"`
	User     string `json:"user"`
	Restored bool   `json:"restored"`
	Forced   bool   `json:"forced"`
	// Actor is who asked, as journaled (--as, $USER, ...).
	Actor string `json:"actor"`
}
