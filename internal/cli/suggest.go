package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/internal/safetext"
	"github.com/auditbot/auditbot/suggest"
)

// SuggestResult is `suggest --json`'s data.
type SuggestResult struct {
	// Campaigns are the campaign files read: their groups count as
	// audited.
	Campaigns []string `json:"campaigns"`
	*suggest.Result
}

// suggestCommand lists the projects that look like access groups and
// that no campaign of the config audits. It only reads.
func (a *app) suggestCommand() *cobra.Command {
	var (
		asJSON bool
		tasks  int
	)
	cmd := &cobra.Command{
		Use:   "suggest",
		Short: "List projects that look like access groups but that no campaign audits",
		Long: `suggest lists the projects that look like access groups and that no campaign in
campaigns_dir audits: a project whose name starts with acl*, one that guards tasks
(it is the view or edit policy of one of the newest --tasks tasks), or one with the
lock icon. For each it counts the members (enabled people, disabled accounts, bots
and mailing lists) and the share of the enabled people with MFA. It only reads.

What it cannot see: tasks beyond the newest --tasks, tasks and projects the bot
may not see (a project seen only as a task's policy is named by its PHID), and
projects named inside a custom policy (PHID-PLCY-...), which Conduit does not
show. The MFA share needs the admin role (user.search's mfa constraint); without
it the share is "?".

Exit codes: 0 whether or not anything is suggested; 1 Conduit failed; 2 the
config or a campaign file is invalid; 3 the token is missing or rejected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tasks < 0 {
				return &usageError{"--tasks must be 0 or more"}
			}
			e, err := a.open(cmd.Context(), envOptions{conduit: true})
			if err != nil {
				return err
			}
			defer e.close()
			opts, names, err := suggestOptions(e.cfg)
			if err != nil {
				return err
			}
			opts.Tasks = tasks
			if tasks == 0 {
				opts.Tasks = -1
			}
			res, err := suggest.Find(cmd.Context(), e.client, opts)
			if err != nil {
				return err
			}
			out := SuggestResult{Campaigns: names, Result: res}
			if asJSON {
				return a.writeJSON("suggest", out)
			}
			return out.WriteText(a.stdout)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&tasks, "tasks", suggest.DefaultTasks, "how many of the newest tasks to read for the projects that guard them (one call per 100; 0: none)")
	return cmd
}

// suggestOptions reads every campaign of the config: their groups are
// audited, their approvers' and team projects have a role.
func suggestOptions(cfg *campaigns.Config) (suggest.Options, []string, error) {
	o := suggest.Options{Roles: map[string][]string{}}
	var names []string
	if cfg.CampaignsDir == "" {
		return o, names, nil
	}
	files, err := campaigns.ListCampaigns(cfg.CampaignsDir)
	if err != nil {
		return o, nil, fmt.Errorf("%w: %w", bot.ErrInput, err)
	}
	for _, f := range files {
		c, err := loadCampaign(cfg, f)
		if err != nil {
			return o, nil, err
		}
		names = append(names, c.Name)
		o.Audited = append(o.Audited, c.Groups...)
		o.Roles[c.Approvers] = append(o.Roles[c.Approvers], "approvers of "+c.Name)
		if c.Team != "" {
			o.Roles[c.Team] = append(o.Roles[c.Team], "team of "+c.Name)
		}
	}
	return o, names, nil
}

// WriteText prints the suggestions as a table.
func (r SuggestResult) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "Read %d project(s) and the %d newest task(s); groups of %d campaign(s) count as audited.\n", r.ProjectsRead, r.TasksRead, len(r.Campaigns))
	if r.MFAUnknown != "" {
		fmt.Fprintf(w, "MFA share unknown: %s\n", safetext.Line(r.MFAUnknown))
	}
	if len(r.Suggestions) == 0 {
		_, err := fmt.Fprintln(w, "Every project that looks like an access group is audited.")
		return err
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tWHY\tMEMBERS\tENABLED\tDISABLED\tBOTS/LISTS\tMFA\tROLE")
	for _, s := range r.Suggestions {
		why := strings.Join(s.Reasons, ", ")
		if s.GuardsTasks > 0 {
			why += fmt.Sprintf(" (view policy of %d, edit policy of %d)", s.ViewOf, s.EditOf)
		}
		role := strings.Join(s.Roles, ", ")
		if !s.Visible {
			fmt.Fprintf(tw, "%s\t%s\t?\t?\t?\t?\t?\tnot visible to the bot\n", safetext.Line(s.Project), why)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", safetext.Line(s.Project), why, s.Members, s.Enabled, s.Disabled, s.Bots, s.MFAShare(), safetext.Line(role))
	}
	return tw.Flush()
}
