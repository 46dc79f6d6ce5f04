package cli

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
)

// approveCommand records a removal approval from the command line. Who
// approves is decided by the approver's own Conduit token (user.whoami),
// never by $USER or a flag; the bot's token proves nothing about who typed
// the command. The first run shows every membership of the batch and
// records nothing; the approval counts only when the approver runs it again
// with --confirm and the digest of what they were shown.
func (a *app) approveCommand() *cobra.Command {
	var as, tokenFile, confirm string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "approve CAMPAIGN BATCH --token-file FILE [--confirm DIGEST]",
		Short: "Approve a removal batch with your own Conduit token, after seeing every membership it removes",
		Args:  exactArgs(2, "CAMPAIGN BATCH (e.g. R1)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tokenFile == "" {
				return &usageError{"approve: --token-file FILE is required: the approver's own Conduit API token (Settings → Conduit API Tokens) proves who approves"}
			}
			tok, err := readApproverToken(tokenFile)
			if err != nil {
				return err
			}
			// Who typed the command, for the record (the approver is
			// who the token says).
			operator, err := a.operator(as)
			if err != nil {
				return err
			}
			e, err := a.open(cmd.Context(), envOptions{conduit: true, store: true, operator: operator})
			if err != nil {
				return err
			}
			defer e.close()
			session, err := conduit.Dial(cmd.Context(), e.cfg.Conduit.URL, tok, conduit.Options{
				HTTPClient: &http.Client{Timeout: e.cfg.Conduit.Timeout + 5*time.Second}, CallTimeout: e.cfg.Conduit.Timeout,
				RequestsPerSecond: e.cfg.Conduit.RequestsPerSecond, Logger: e.log, UserAgent: userAgent(),
			})
			if err != nil {
				return fmt.Errorf("connect to %s as the approver: %w", conduit.RedactURL(e.cfg.Conduit.URL), err)
			}
			res, err := e.bot.Approve(cmd.Context(), args[0], args[1], session, bot.ApproveOptions{As: as, Confirm: confirm})
			if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON("approve", res)
			}
			if !res.Recorded {
				if res.Action == "disable" {
					fmt.Fprintf(a.stdout, "%s DISABLES THE ACCOUNTS of the users of these %d membership(s) (their memberships stay; %d of %d approval(s) so far):\n", res.Removal, len(res.Items), res.Approvals, res.Required)
				} else {
					fmt.Fprintf(a.stdout, "%s removes %d membership(s) (%d of %d approval(s) so far):\n", res.Removal, len(res.Items), res.Approvals, res.Required)
				}
				for _, it := range res.Items {
					fmt.Fprintf(a.stdout, "  %s\n", it)
				}
				fmt.Fprintf(a.stdout, "Nothing recorded. To approve exactly these as @%s, run again with --confirm %s\n", res.Approver, res.Digest)
				return nil
			}
			fmt.Fprintf(a.stdout, "%s: approval %d of %d recorded for @%s (verified: user.whoami with @%s's own token; %d membership(s), digest %s)",
				res.Removal, res.Approvals, res.Required, res.Approver, res.Approver, len(res.Items), res.Digest)
			if res.Approved && res.Action == "disable" {
				fmt.Fprint(a.stdout, "; approved, the next tick disables the accounts")
			} else if res.Approved {
				fmt.Fprint(a.stdout, "; approved, the next tick removes the members")
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding the approver's own Conduit API token (user.whoami with it decides who approves)")
	cmd.Flags().StringVar(&confirm, "confirm", "", "the digest printed by a first run without it: approve exactly the memberships shown")
	cmd.Flags().StringVar(&as, "as", "", "optional: must name the token's own account (a guard against the wrong token file)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// readApproverToken reads an approver's token file. Errors name the file,
// never its contents.
func readApproverToken(path string) (conduit.Token, error) {
	text, err := campaigns.ReadSecretFile(path, campaigns.ApproverTokenSecret, nil)
	if err != nil {
		return "", &usageError{"approve: " + err.Error()}
	}
	tok := conduit.Token(text)
	if !tok.ValidFormat() {
		return "", &usageError{fmt.Sprintf("approve: the token in %s is not 32 characters starting with api-, cli- or clr-", path)}
	}
	return tok, nil
}
