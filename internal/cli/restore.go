package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) restoreCommand() *cobra.Command {
	var (
		force bool
		as    string
	)
	cmd := &cobra.Command{
		Use:   "restore CAMPAIGN USER",
		Short: "Re-add a removed user to exactly the groups the bot removed them from",
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
			fmt.Fprintf(a.stdout, "restored @%s\n", strings.TrimPrefix(args[1], "@"))
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "restore even if Phabricator still shows the user as non-compliant")
	cmd.Flags().StringVar(&as, "as", "", "who asked for the restore, for the journal (default: $USER, $LOGNAME, then the OS account's name)")
	return cmd
}
