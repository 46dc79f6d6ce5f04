package cli

import (
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/internal/safetext"
	"github.com/auditbot/auditbot/state"
)

func (a *app) journalCommand() *cobra.Command {
	var asJSON, asCSV bool
	cmd := &cobra.Command{
		Use:   "journal CAMPAIGN",
		Short: "Print a campaign's journal: every action, when, by whom, verified how, on which task",
		Long: `Print a campaign's journal. TIME is the real time each entry was written;
CLOCK is the campaign clock when it differs (a tick run with --now).`,
		Args: exactArgs(1, "a campaign name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON && asCSV {
				return &usageError{"journal: --json and --csv exclude each other"}
			}
			e, err := a.open(cmd.Context(), envOptions{store: true, readOnly: true})
			if err != nil {
				return err
			}
			defer e.close()
			entries, err := e.store.Journal(args[0])
			if err != nil {
				return fmt.Errorf("%w: %w", bot.ErrUnknownCampaign, err)
			}
			switch {
			case asJSON:
				if entries == nil {
					entries = []state.Entry{}
				}
				return writeJSON(a.stdout, "journal", entries)
			case asCSV:
				cw := csv.NewWriter(a.stdout)
				// Actors, details and task names carry what others wrote:
				// no cell may run as a spreadsheet formula.
				cw.Write([]string{"seq", "recorded", "campaign_clock", "kind", "actor", "actor_kind", "verified", "operator", "task", "users", "groups", "approvers", "outcome", "detail", "hash"})
				for _, en := range entries {
					cw.Write(safetext.CSVRow([]string{strconv.FormatUint(en.Seq, 10), stamp(en.Recorded), stamp(en.At), string(en.Kind), en.Actor, en.ActorKind, en.Verified, en.Operator,
						en.Task, strings.Join(en.Users, ";"), strings.Join(en.Groups, ";"), strings.Join(en.Approvers, ";"), en.Outcome, en.Detail, en.Hash}))
				}
				cw.Flush()
				return cw.Error()
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME\tCLOCK\tKIND\tACTOR\tTASK\tUSERS\tGROUP\tAPPROVERS\tDETAIL")
			for _, en := range entries {
				when, clock := en.Recorded, ""
				if when.IsZero() {
					when = en.At // written before entries had a real time
				} else if en.At.Sub(en.Recorded).Abs() > time.Minute {
					clock = en.At.Format("2006-01-02 15:04")
				}
				actor := en.Actor
				if en.Operator != "" {
					actor += " (by " + en.Operator + ")"
				}
				// Every text field may hold what others wrote (usernames,
				// comment excerpts): one line each, with terminal
				// controls escaped.
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", en.Seq, when.Format("2006-01-02 15:04"), clock, escapeText(string(en.Kind)), escapeText(actor), escapeText(en.Task),
					escapeText(strings.Join(en.Users, ",")), escapeText(strings.Join(en.Groups, ",")), escapeText(strings.Join(en.Approvers, ",")), escapeText(en.Detail))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the entries as JSON")
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print the entries as CSV")
	return cmd
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// verifyJournalCommand checks every campaign's (or one campaign's) journal
// hash chain and names the first bad entry.
func (a *app) verifyJournalCommand() *cobra.Command {
	var (
		statePath string
		headFlags []string
	)
	cmd := &cobra.Command{
		Use:   "verify-journal [CAMPAIGN]",
		Short: "Verify the journals' hash chains: detect an edited, inserted or deleted entry (exit 8)",
		Long: `Verify the journals' hash chains: detect an edited, inserted or deleted entry (exit 8).

Each journal's head (its last entry's SEQ:HASH) is printed. The chain
detects edits by anyone who does not redo it; whoever can write the state
file can re-seal it. Keep the printed heads outside the state file (a task,
a ticket) and pass them back with --head CAMPAIGN=SEQ:HASH: the journal must
still hold that entry with that hash.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			heads, err := parseHeads(headFlags)
			if err != nil {
				return err
			}
			st, _, closeFn, err := a.readStore(cmd.Context(), statePath)
			if err != nil {
				return err
			}
			defer closeFn()
			names := args
			if len(names) == 0 {
				if names, err = st.CampaignNames(); err != nil {
					return err
				}
			}
			for c := range heads {
				if !slices.Contains(names, c) {
					return &usageError{fmt.Sprintf("--head %s=...: %s is not among the journals verified (%s)", c, c, strings.Join(names, ", "))}
				}
			}
			var broken []string
			for _, n := range names {
				res, err := st.VerifyJournal(n, heads[n]...)
				if errors.Is(err, state.ErrNoCampaign) {
					return fmt.Errorf("%w: %q has not been launched", bot.ErrUnknownCampaign, n)
				}
				if err != nil {
					return err
				}
				if !res.OK {
					fmt.Fprintf(a.stdout, "%s: BROKEN at entry %d: %s\n", n, res.BadSeq, res.Problem)
					broken = append(broken, fmt.Sprintf("%s at entry %d", n, res.BadSeq))
					continue
				}
				fmt.Fprintf(a.stdout, "%s: ok, %d entries", n, res.Entries)
				if res.Legacy > 0 {
					fmt.Fprintf(a.stdout, " (the first %d predate the chain and are not covered)", res.Legacy)
				}
				if len(heads[n]) > 0 {
					fmt.Fprintf(a.stdout, ", holds the %d head(s) given", len(heads[n]))
				}
				if res.Head.Seq != 0 {
					fmt.Fprintf(a.stdout, "; head %s", res.Head)
				}
				fmt.Fprintln(a.stdout)
			}
			if len(broken) > 0 {
				return fmt.Errorf("%w: %s", state.ErrJournalBroken, strings.Join(broken, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&statePath, "state", "", "read this state file instead of the config's (no config needed)")
	cmd.Flags().StringArrayVar(&headFlags, "head", nil, "CAMPAIGN=SEQ:HASH, a head printed earlier and kept outside the state file: the journal must still hold it (repeatable)")
	return cmd
}

// parseHeads parses --head CAMPAIGN=SEQ:HASH flags by campaign.
func parseHeads(flags []string) (map[string][]state.Anchor, error) {
	out := map[string][]state.Anchor{}
	for _, f := range flags {
		campaign, head, ok := strings.Cut(f, "=")
		if !ok || campaign == "" {
			return nil, &usageError{fmt.Sprintf("--head %q: want CAMPAIGN=SEQ:HASH", f)}
		}
		a, err := state.ParseAnchor(head)
		if err != nil {
			return nil, &usageError{"--head " + campaign + ": " + err.Error()}
		}
		out[campaign] = append(out[campaign], a)
	}
	return out, nil
}
