package cli

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/internal/safetext"
	"github.com/auditbot/auditbot/report"
	"github.com/auditbot/auditbot/state"
)

// Dynamic completion ("auditbot completion bash|zsh|fish" installs it;
// the shell then runs the hidden "auditbot __complete ARGS"). Completion
// reads the campaign files and the state file read-only, waits at most a
// moment for a daemon's lock, and never fails loudly: whatever it cannot
// read, it does not offer.

// completionLockWait is how long completion waits for the state file: a
// shell waiting on a tab is worse than an incomplete list.
const completionLockWait = 200 * time.Millisecond

// campaignArgCommands take a campaign name as their first argument.
var campaignArgCommands = []string{"check", "plan", "launch", "status", "journal", "verify-journal", "report", "approve", "restore", "extend"}

// logLevels are --log-level's values.
var logLevels = []string{"trace", "debug", "info", "warn", "error"}

// addCompletions registers the dynamic completions on the commands under
// root.
func (a *app) addCompletions(root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("log-level", fixedValues(logLevels...))
	walkCommands(root, func(cmd *cobra.Command) {
		key := commandKey(cmd)
		if slices.Contains(campaignArgCommands, key) {
			cmd.ValidArgsFunction = a.completeArgs(key)
		}
		if key == "report" {
			_ = cmd.RegisterFlagCompletionFunc("format", fixedValues(report.Formats...))
		}
		if key == "tick" {
			_ = cmd.RegisterFlagCompletionFunc("only", completeChores)
			_ = cmd.RegisterFlagCompletionFunc("campaign", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
				return a.completeList(a.launchedCampaigns())
			})
		}
	})
}

// completeArgs completes a command's positional arguments: the campaign
// first, then for approve the removal batches waiting for approval.
func (a *app) completeArgs(key string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		switch {
		case len(args) == 0:
			return a.completeList(a.campaignNames())
		case len(args) == 1 && key == "approve":
			return a.completeList(a.pendingRemovals(args[0]))
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeList offers names, leaving out any the shell could not take
// as one inert word: a campaign name comes from a file name or the state
// file, and a control or bidirectional character in it would reach the
// terminal, or the command line, as it is.
func (a *app) completeList(names []string) ([]string, cobra.ShellCompDirective) {
	return inertWords(names), cobra.ShellCompDirectiveNoFileComp
}

// inertWords keeps the names that are one word with nothing a terminal
// or a shell would act on.
func inertWords(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n != "" && safetext.Line(n) == n && !strings.ContainsFunc(n, func(r rune) bool {
			return unicode.IsSpace(r) || strings.ContainsRune("'\"\\$`;&|<>(){}*?[]!#~", r)
		}) {
			out = append(out, n)
		}
	}
	return out
}

// fixedValues completes a flag that takes one of values.
func fixedValues(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeChores completes --only's comma-separated chore names, leaving
// out those already listed.
func completeChores(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	prefix := ""
	if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
		prefix = toComplete[:i+1]
	}
	given := strings.Split(prefix, ",")
	var out []string
	for _, n := range bot.ChoreNames() {
		if !slices.Contains(given, n) {
			out = append(out, prefix+n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// campaignNames are the campaign files in campaigns_dir and the campaigns
// recorded in the state file, sorted.
func (a *app) campaignNames() []string {
	cfg, err := campaigns.LoadConfig(a.configPath)
	if err != nil {
		return nil
	}
	names, _ := campaigns.ListCampaigns(cfg.CampaignsDir)
	names = append(names, a.launchedCampaigns()...)
	slices.Sort(names)
	return slices.Compact(names)
}

// launchedCampaigns are the campaigns recorded in the state file.
func (a *app) launchedCampaigns() []string {
	var names []string
	_ = a.completionStore(func(st *state.Store) error {
		var err error
		names, err = st.CampaignNames()
		return err
	})
	return names
}

// pendingRemovals are the labels (R1, …) of campaign's removal batches
// waiting for approval.
func (a *app) pendingRemovals(campaign string) []string {
	var labels []string
	_ = a.completionStore(func(st *state.Store) error {
		snap, err := st.Snapshot(campaign)
		if err != nil {
			return err
		}
		for _, rm := range snap.Removals {
			if rm.Status == state.RemovalProposed {
				labels = append(labels, rm.Label())
			}
		}
		return nil
	})
	return labels
}

// completionStore runs f on the config's state file opened read-only, if
// there is one; it never creates it.
func (a *app) completionStore(f func(*state.Store) error) error {
	cfg, err := campaigns.LoadConfig(a.configPath)
	if err != nil {
		return err
	}
	if _, err := os.Stat(cfg.StateFile); errors.Is(err, fs.ErrNotExist) {
		return err
	}
	st, err := state.Open(cfg.StateFile, state.Options{ReadOnly: true, LockTimeout: completionLockWait})
	if err != nil {
		return err
	}
	defer st.Close()
	return f(st)
}
