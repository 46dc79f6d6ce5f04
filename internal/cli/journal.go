package cli

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
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
			if errors.Is(err, errNoStateFile) {
				return fmt.Errorf("%w: %q has not been launched (%w)", bot.ErrUnknownCampaign, args[0], err)
			}
			if err != nil {
				return err
			}
			defer e.close()
			entries, err := e.store.Journal(args[0])
			if errors.Is(err, state.ErrNoCampaign) {
				return fmt.Errorf("%w: %w", bot.ErrUnknownCampaign, err)
			}
			if err != nil {
				return err
			}
			switch {
			case asJSON:
				if entries == nil {
					entries = []state.Entry{}
				}
				return a.writeJSON("journal", entries)
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
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "verify-journal [CAMPAIGN]",
		Short: "Verify the journals' hash chains: detect an edited, inserted or deleted entry (exit 8)",
		Long: `Verify the journals' hash chains: detect an edited, inserted or deleted entry (exit 8).

Each journal's head (its last entry's SEQ:HASH) is printed. The chain
detects edits by anyone who does not redo it; whoever can write the state
file can re-seal it. Keep the printed heads outside the state file (a task,
a ticket) and pass them back with --head CAMPAIGN=SEQ:HASH: the journal must
still hold that entry with that hash. A head of a campaign the state file
no longer holds at all is a broken journal too (exit 8).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			heads, err := parseHeads(headFlags)
			if err != nil {
				return err
			}
			for c := range heads {
				if len(args) > 0 && c != args[0] {
					return &usageError{fmt.Sprintf("--head %s=...: only %s's journal is verified; drop the argument to verify every journal", c, args[0])}
				}
			}
			res, none, err := a.verifyJournals(cmd.Context(), statePath, args, heads)
			if err != nil {
				return err
			}
			return a.printVerification(res, none, asJSON)
		},
	}
	cmd.Flags().StringVar(&statePath, "state", "", "read this state file instead of the config's (no config needed)")
	cmd.Flags().StringArrayVar(&headFlags, "head", nil, "CAMPAIGN=SEQ:HASH, a head printed earlier and kept outside the state file: the journal must still hold it (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// verifyJournals verifies the journals of names (all the state file
// holds when none), and of every campaign a head was kept for. none is
// what to print when there is no journal at all.
func (a *app) verifyJournals(ctx context.Context, statePath string, names []string, heads map[string][]state.Anchor) (res VerifyJournalResult, none string, err error) {
	st, _, closeFn, err := a.readStore(ctx, statePath)
	var recorded []string
	none = "no journals to verify"
	switch {
	case errors.Is(err, errNoStateFile) && statePath == "":
		// Nothing launched with this config yet: no journal to verify,
		// and a head kept for one is not held.
		none = fmt.Sprintf("no journals to verify (%v)", err)
	case err != nil:
		return res, "", err
	default:
		defer closeFn()
		if recorded, err = st.CampaignNames(); err != nil {
			return res, "", err
		}
	}
	names = slices.Clone(names)
	if len(names) == 0 {
		names = slices.Clone(recorded)
	}
	// A head kept for a journal the file no longer holds: the campaign was
	// deleted from it (or the name is mistyped).
	for c := range heads {
		if !slices.Contains(names, c) {
			names = append(names, c)
		}
	}
	slices.Sort(names)
	res = VerifyJournalResult{OK: true, Journals: []JournalVerdict{}}
	for _, n := range names {
		v, err := verifyOne(st, n, heads[n], slices.Contains(recorded, n))
		if err != nil {
			return res, "", err
		}
		res.OK = res.OK && v.OK
		res.Journals = append(res.Journals, v)
	}
	return res, none, nil
}

// printVerification prints res (none when it holds no journal) and
// returns ErrJournalBroken naming each broken journal.
func (a *app) printVerification(res VerifyJournalResult, none string, asJSON bool) error {
	if asJSON {
		if err := a.writeJSON("verify-journal", res); err != nil {
			return err
		}
	} else {
		if len(res.Journals) == 0 {
			fmt.Fprintln(a.stdout, none)
		}
		for _, v := range res.Journals {
			printVerdict(a.stdout, v)
		}
	}
	var broken []string
	for _, v := range res.Journals {
		switch {
		case v.OK:
		case v.BadSeq == 0:
			broken = append(broken, v.Campaign+" (no journal)")
		default:
			broken = append(broken, fmt.Sprintf("%s at entry %d", v.Campaign, v.BadSeq))
		}
	}
	if len(broken) > 0 {
		return fmt.Errorf("%w: %s", state.ErrJournalBroken, strings.Join(broken, ", "))
	}
	return nil
}

// VerifyJournalResult is `verify-journal --json`'s data.
type VerifyJournalResult struct {
	OK       bool             `json:"ok"` // every journal verified
	Journals []JournalVerdict `json:"journals"`
}

// JournalVerdict is one journal's verification.
type JournalVerdict struct {
	Campaign string `json:"campaign"`
	OK       bool   `json:"ok"`
	Entries  int    `json:"entries"`
	// Legacy counts the first entries, written before the chain, that it
	// does not cover.
	Legacy int `json:"legacy,omitempty"`
	// Head is the last entry's SEQ:HASH, to keep outside the state file.
	Head string `json:"head,omitempty"`
	// HeadsHeld counts the --head values given that the journal holds.
	HeadsHeld int `json:"heads_held,omitempty"`
	// BadSeq is the first bad entry (0: none, or the journal is gone);
	// Problem says what is wrong.
	BadSeq  uint64 `json:"bad_seq,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// verifyOne verifies campaign's journal against heads; recorded says
// whether the state file holds the campaign.
func verifyOne(st *state.Store, campaign string, heads []state.Anchor, recorded bool) (JournalVerdict, error) {
	if !recorded {
		if len(heads) == 0 {
			return JournalVerdict{}, fmt.Errorf("%w: %q has not been launched", bot.ErrUnknownCampaign, campaign)
		}
		return JournalVerdict{Campaign: campaign, Problem: fmt.Sprintf("the state file holds no journal for %s, yet a head was kept for it (%s): the campaign was deleted from the file, or the name is mistyped", campaign, heads[0])}, nil
	}
	res, err := st.VerifyJournal(campaign, heads...)
	if errors.Is(err, state.ErrNoCampaign) {
		return verifyOne(st, campaign, heads, false)
	}
	if err != nil {
		return JournalVerdict{}, err
	}
	v := JournalVerdict{Campaign: campaign, OK: res.OK, Entries: res.Entries, Legacy: res.Legacy, BadSeq: res.BadSeq, Problem: res.Problem}
	if res.OK {
		v.HeadsHeld = len(heads)
	}
	if res.Head.Seq != 0 {
		v.Head = res.Head.String()
	}
	return v, nil
}

// printVerdict prints one journal's verification as a line.
func printVerdict(w io.Writer, v JournalVerdict) {
	if !v.OK {
		if v.BadSeq == 0 {
			fmt.Fprintf(w, "%s: BROKEN: %s\n", escapeText(v.Campaign), escapeText(v.Problem))
			return
		}
		fmt.Fprintf(w, "%s: BROKEN at entry %d: %s\n", escapeText(v.Campaign), v.BadSeq, escapeText(v.Problem))
		return
	}
	fmt.Fprintf(w, "%s: ok, %d entries", escapeText(v.Campaign), v.Entries)
	if v.Legacy > 0 {
		fmt.Fprintf(w, " (the first %d predate the chain and are not covered)", v.Legacy)
	}
	if v.HeadsHeld > 0 {
		fmt.Fprintf(w, ", holds the %d head(s) given", v.HeadsHeld)
	}
	if v.Head != "" {
		fmt.Fprintf(w, "; head %s", v.Head)
	}
	fmt.Fprintln(w)
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
