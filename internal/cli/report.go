package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/report"
	"github.com/auditbot/auditbot/state"
)

// reportCommand writes a campaign's evidence for an auditor.
func (a *app) reportCommand() *cobra.Command {
	var format, statePath, phabURL string
	cmd := &cobra.Command{
		Use:   "report CAMPAIGN",
		Short: "Write a campaign's evidence: findings, every action with who, when and how verified, removals with approvers",
		Long: `Write a campaign's evidence from the state file: every finding with its
criteria, every journaled notice, reminder, reply, exemption, approval,
removal and restore (who, when, verified how), every removed membership
with its approvers and times, and the journal chain's verification.
--format md writes Remarkup tables to paste into a Phabricator task.`,
		Args: exactArgs(1, "a campaign name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(report.Formats, format) {
				return &usageError{fmt.Sprintf("report: --format %q: want %s", format, strings.Join(report.Formats, ", "))}
			}
			st, cfgURL, closeFn, err := a.readStore(cmd.Context(), statePath)
			if errors.Is(err, errNoStateFile) {
				return fmt.Errorf("%w: %q has not been launched (%w)", bot.ErrUnknownCampaign, args[0], err)
			}
			if err != nil {
				return err
			}
			defer closeFn()
			ev, err := report.Build(st, args[0], linkBase(or(phabURL, cfgURL)), time.Now())
			if errors.Is(err, state.ErrNoCampaign) {
				return fmt.Errorf("%w: %q has not been launched", bot.ErrUnknownCampaign, args[0])
			}
			if err != nil {
				return err
			}
			return ev.Write(a.stdout, format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "csv, json or md (Remarkup)")
	cmd.Flags().StringVar(&statePath, "state", "", "read this state file instead of the config's (no config needed)")
	cmd.Flags().StringVar(&phabURL, "phab-url", "", "Phabricator base URL for task links (default: the config's conduit.url)")
	return cmd
}
