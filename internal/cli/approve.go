package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) approveCommand() *cobra.Command {
	var as string
	cmd := &cobra.Command{
		Use:   "approve CAMPAIGN BATCH --as USER",
		Short: "Approve a removal batch as USER, after checking USER is in the approvers' project",
		Args:  exactArgs(2, "CAMPAIGN BATCH (e.g. R1)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if as == "" {
				return &usageError{"approve: --as USER is required"}
			}
			e, err := a.open(cmd.Context(), envOptions{conduit: true, store: true})
			if err != nil {
				return err
			}
			defer e.close()
			res, err := e.bot.Approve(cmd.Context(), args[0], args[1], as)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: approval %d of %d recorded for @%s", res.Removal, res.Approvals, res.Required, strings.TrimPrefix(as, "@"))
			if res.Approved {
				fmt.Fprint(a.stdout, "; approved, the next tick removes the members")
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
	cmd.Flags().StringVar(&as, "as", "", "the approving Phabricator user (verified over Conduit)")
	return cmd
}
