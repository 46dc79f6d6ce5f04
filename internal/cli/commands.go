package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/templates"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// validateCommand checks the config, campaign files and templates without
// talking to Phabricator: what CI runs on a config change.
func (a *app) validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [CAMPAIGN_FILE...]",
		Short: "Validate the config, campaign files and templates offline",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			tmpl, err := templates.Load(cfg.TemplatesDir)
			if err != nil {
				return fmt.Errorf("%w: templates: %w", bot.ErrInput, err)
			}
			if err := tmpl.Validate(); err != nil {
				return fmt.Errorf("%w: templates: %w", bot.ErrInput, err)
			}
			if len(args) == 0 && cfg.CampaignsDir != "" {
				names, err := campaigns.ListCampaigns(cfg.CampaignsDir)
				if err != nil {
					return fmt.Errorf("%w: %w", bot.ErrInput, err)
				}
				for _, n := range names {
					args = append(args, n)
				}
			}
			var errs []error
			for _, arg := range args {
				c, err := loadCampaign(cfg, arg)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(a.stdout, "campaign %s: ok (%d group(s), cutoff %s)\n", c.Name, len(c.Groups), c.CutoffDate)
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "config %s: ok\ntemplates: ok\n", cfg.Source)
			return nil
		},
	}
}

func (a *app) checkCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check [CAMPAIGN]",
		Short: "Check the token, admin rights, group visibility and membership edit rights",
		Long: `check verifies the config and the API token, that the bot account is an admin
(user.search's mfa constraint is admin-only), and for a campaign that every audited
group, the approvers' and the team's project are visible and that the bot may edit
each group's membership (probed with a no-op removal of a non-member).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.open(cmd.Context(), envOptions{conduit: true, store: true, dryRun: true})
			if err != nil {
				return err
			}
			defer e.close()
			var c *campaigns.Campaign
			if len(args) == 1 {
				if c, err = loadCampaign(e.cfg, args[0]); err != nil {
					return err
				}
			}
			// check probes with the real client, not the dry-run one: the
			// probe is a no-op by construction.
			b, err := bot.New(bot.Options{Phab: e.client, Store: e.store, Templates: e.tmpl, Config: e.cfg, Logger: e.log})
			if err != nil {
				return err
			}
			report, err := b.Check(cmd.Context(), c)
			if err != nil {
				return err
			}
			if asJSON {
				err = writeJSON(a.stdout, report)
			} else {
				err = report.WriteText(a.stdout)
			}
			if err != nil {
				return err
			}
			if report.Failed() {
				return report.Err()
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) planCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan CAMPAIGN",
		Short: "Show who is affected and exactly which tasks launch would file; writes nothing",
		Args:  exactArgs(1, "a campaign name or file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.open(cmd.Context(), envOptions{conduit: true, store: true, dryRun: true})
			if err != nil {
				return err
			}
			defer e.close()
			c, err := loadCampaign(e.cfg, args[0])
			if err != nil {
				return err
			}
			p, err := e.bot.Plan(cmd.Context(), c)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, p)
			}
			return p.WriteText(a.stdout)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) launchCommand() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "launch CAMPAIGN",
		Short: "Run the checks, record the campaign and file its restricted tasks",
		Long: `launch runs the same checks as 'check' and writes nothing if one fails. It then
records the campaign's findings and batches and files one restricted task per batch.
Running it again files only tasks that are still missing.`,
		Args: exactArgs(1, "a campaign name or file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.open(cmd.Context(), envOptions{conduit: true, store: true, dryRun: dryRun})
			if err != nil {
				return err
			}
			defer e.close()
			c, err := loadCampaign(e.cfg, args[0])
			if err != nil {
				return err
			}
			res, err := e.bot.Launch(cmd.Context(), c)
			if res != nil {
				verb := "launched"
				if res.Resumed {
					verb = "already launched; checked its tasks"
				}
				fmt.Fprintf(a.stdout, "campaign %s %s\n", res.Campaign, verb)
				for _, t := range res.Tasks {
					state := "exists"
					if t.New {
						state = "filed"
					}
					fmt.Fprintf(a.stdout, "  batch %d: %s (%d users) %s\n", t.Batch, t.Task, t.Users, state)
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "log every write instead of sending it; the state file is not changed")
	return cmd
}

func (a *app) tickCommand() *cobra.Command {
	var (
		nowFlag  string
		only     []string
		campaign []string
		dryRun   bool
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "tick",
		Short: "Do all due work once: tasks, re-checks, replies, reminders, removals",
		Long:  "tick runs every chore once for every launched campaign, in order: " + strings.Join(bot.ChoreNames(), ", ") + ".",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Refuse an unknown chore before opening (and perhaps
			// creating) the state file.
			for _, o := range only {
				if !slices.Contains(bot.ChoreNames(), o) {
					return &usageError{fmt.Sprintf("tick: unknown chore %q (chores: %s)", o, strings.Join(bot.ChoreNames(), ", "))}
				}
			}
			o := envOptions{conduit: true, store: true, dryRun: dryRun}
			if nowFlag != "" {
				t, err := parseTime(nowFlag)
				if err != nil {
					return err
				}
				o.now = t
			}
			e, err := a.open(cmd.Context(), o)
			if err != nil {
				return err
			}
			defer e.close()
			report, err := e.bot.Tick(cmd.Context(), bot.TickOptions{Only: only, Campaigns: campaign})
			if report != nil {
				if asJSON {
					if jerr := writeJSON(a.stdout, report); jerr != nil {
						return jerr
					}
				} else {
					printTick(a.stdout, report)
				}
			}
			if err != nil && !errors.Is(err, bot.ErrInput) {
				return fmt.Errorf("%w: %w", errTickFailed, err)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&nowFlag, "now", "", "act as if it were this time (YYYY-MM-DD or RFC 3339)")
	cmd.Flags().StringSliceVar(&only, "only", nil, "run only these chores ("+strings.Join(bot.ChoreNames(), ", ")+")")
	cmd.Flags().StringSliceVar(&campaign, "campaign", nil, "tick only these campaigns")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "log every write instead of sending it; the state file is not changed")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printTick(w io.Writer, r *bot.TickReport) {
	for _, c := range r.Campaigns {
		fmt.Fprintf(w, "%s:\n", c.Campaign)
		if len(c.Events) == 0 && len(c.Errors) == 0 {
			fmt.Fprintln(w, "  nothing due")
		}
		for _, e := range c.Events {
			fmt.Fprintf(w, "  %s\n", e)
		}
		for _, e := range c.Errors {
			fmt.Fprintf(w, "  ERROR %s\n", e)
		}
	}
}

func (a *app) statusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [CAMPAIGN]",
		Short: "Show campaigns' users, tasks, removals and what needs a human",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.open(cmd.Context(), envOptions{store: true, readOnly: true})
			if err != nil {
				return err
			}
			defer e.close()
			b, err := bot.New(bot.Options{Phab: offline{}, Store: e.store, Templates: e.tmpl, Config: e.cfg, Logger: e.log})
			if err != nil {
				return err
			}
			names := args
			if len(names) == 0 {
				if names, err = e.store.CampaignNames(); err != nil {
					return err
				}
			}
			var all []*bot.Status
			for _, n := range names {
				st, err := b.Status(n)
				if err != nil {
					return err
				}
				all = append(all, st)
			}
			if asJSON {
				return writeJSON(a.stdout, all)
			}
			if len(all) == 0 {
				fmt.Fprintln(a.stdout, "no campaigns launched")
			}
			for i, st := range all {
				if i > 0 {
					fmt.Fprintln(a.stdout)
				}
				if err := st.WriteText(a.stdout); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

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
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", en.Seq, en.At.Format("2006-01-02 15:04"), en.Kind, en.Actor, en.Task, en.User, en.Group, en.Detail)
			}
			return tw.Flush()
		},
	}
}

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
			e, err := a.open(cmd.Context(), envOptions{conduit: true, store: true})
			if err != nil {
				return err
			}
			defer e.close()
			actor := as
			if actor == "" {
				actor = currentUser()
			}
			if err := e.bot.Restore(cmd.Context(), args[0], args[1], force, actor); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "restored @%s\n", strings.TrimPrefix(args[1], "@"))
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "restore even if Phabricator still shows the user as non-compliant")
	cmd.Flags().StringVar(&as, "as", "", "who asked for the restore, for the journal (default: $USER)")
	return cmd
}

func (a *app) extendCommand() *cobra.Command {
	var (
		to   string
		user string
	)
	cmd := &cobra.Command{
		Use:   "extend CAMPAIGN --to DATE [--user USER]",
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
			e, err := a.open(cmd.Context(), envOptions{conduit: true, store: true})
			if err != nil {
				return err
			}
			defer e.close()
			if err := e.bot.Extend(cmd.Context(), args[0], t, user, currentUser()); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "deadline moved to %s\n", t.Format("2006-01-02"))
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the new last day (YYYY-MM-DD, UTC)")
	cmd.Flags().StringVar(&user, "user", "", "extend only this user's deadline")
	return cmd
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "cli"
}
