// Package report is a campaign's evidence for an auditor: every finding
// with its criteria, every journaled action (notices, reminders, replies,
// exemptions, approvals, removals, restores) with who did it, when and how
// it was verified, and every removed membership with its approvers. It
// reads the state file only.
package report

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/auditbot/auditbot/internal/safetext"
	"github.com/auditbot/auditbot/state"
)

// Formats report can write.
var Formats = []string{"csv", "json", "md"}

// Evidence is one campaign's report.
type Evidence struct {
	Campaign   string    `json:"campaign"`
	Title      string    `json:"title"`
	LaunchedAt time.Time `json:"launched_at"`
	// CutoffDate is the cutoff's last day, as the campaign file and
	// every other output name it; Cutoff is the instant it passes, the
	// end of that day in UTC (midnight of the day after).
	CutoffDate string        `json:"cutoff_date"`
	Cutoff     time.Time     `json:"cutoff"`
	Groups     []state.Group `json:"groups"`
	Findings   []Finding     `json:"findings"`
	Removals   []Removed     `json:"removals"`
	// Policies are the policy audit's findings, open and closed.
	Policies    []Policy   `json:"policies,omitempty"`
	Events      []Event    `json:"events"`
	Chain       ChainState `json:"chain"`
	GeneratedAt time.Time  `json:"generated_at"`
}

// Finding is one affected user.
type Finding struct {
	Username  string   `json:"username"`
	RealName  string   `json:"real_name"`
	Groups    []string `json:"groups"`
	Criteria  []string `json:"criteria"`
	Status    string   `json:"status"`
	Task      string   `json:"task,omitempty"`
	TaskURL   string   `json:"task_url,omitempty"`
	Exemption string   `json:"exemption,omitempty"`
}

// Policy is one policy finding: what was risky, how it was graded, and
// how it ended (fixed by the bot after !fix, with its approvers; closed
// because it was found no longer; still open).
type Policy struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	Check     string    `json:"check"`
	Value     string    `json:"value"`
	Safe      string    `json:"safe,omitempty"`
	Why       string    `json:"why"`
	Risk      string    `json:"risk"`
	ByHand    bool      `json:"review_by_hand,omitempty"`
	OpenedAt  time.Time `json:"opened_at"`
	ClosedAt  time.Time `json:"closed_at,omitzero"`
	FixedBy   []string  `json:"fixed_by,omitempty"`
	Approvals []string  `json:"approvals,omitempty"`
	Required  int       `json:"required_approvals"`
}

// State is how the finding stands: open, fixed or closed.
func (p Policy) State() string {
	switch {
	case len(p.FixedBy) > 0:
		return "fixed"
	case !p.ClosedAt.IsZero():
		return "closed"
	}
	return "open"
}

func policies(rec *state.Campaign) []Policy {
	var out []Policy
	for _, f := range rec.Policies {
		p := Policy{ID: f.Label(), Object: f.Object, Check: string(f.Check), Value: f.Value, Safe: f.Safe, Why: f.Why, Risk: f.Risk,
			ByHand: f.ByHand, OpenedAt: f.OpenedAt, ClosedAt: f.ClosedAt, FixedBy: f.FixedBy, Required: f.RequiredApprovals}
		for _, a := range f.Approvals {
			p.Approvals = append(p.Approvals, a.Username)
		}
		out = append(out, p)
	}
	return out
}

// Removed is one membership the bot removed.
type Removed struct {
	Removal   string `json:"removal"`
	Username  string `json:"username"`
	Group     string `json:"group"`
	Risk      string `json:"risk"`
	Voluntary bool   `json:"voluntary,omitempty"`
	// RemovedAt is when the membership went on the campaign clock, the
	// clock approvals are dated by (the two differ only for a campaign run
	// on a simulated clock, as the demo is); Recorded is the real time the
	// removal was journaled.
	RemovedAt time.Time  `json:"removed_at,omitzero"`
	Recorded  time.Time  `json:"recorded,omitzero"`
	Task      string     `json:"task,omitempty"`
	TaskURL   string     `json:"task_url,omitempty"`
	Approvals []Approval `json:"approvals"`
	// Approvers counts the distinct approvers whose approvals cover the
	// membership (one who approved on the task and on the command line
	// counts once), of Required.
	Approvers int  `json:"approvers"`
	Required  int  `json:"required_approvals"`
	Auto      bool `json:"auto_approved,omitempty"`
	// Action is "disable" when the batch disabled the user's account
	// (its memberships were kept) rather than removing the membership.
	Action string `json:"action,omitempty"`
}

// Outcome is what happened to the membership: "removed", or "account
// disabled".
func (r Removed) Outcome() string {
	if r.Action == state.ActionDisable {
		return "account disabled"
	}
	return "removed"
}

// Approval is one approver's approval of a removal batch.
type Approval struct {
	Approver string    `json:"approver"`
	At       time.Time `json:"at"`
	Via      string    `json:"via"`
	// Where says where it was given: "task T12 comment" or "command
	// line, operator root" (state.Approval.Where).
	Where    string `json:"where"`
	Operator string `json:"operator,omitempty"`
	Verified string `json:"verified"`
}

// Event is one journal entry.
type Event struct {
	Seq       uint64    `json:"seq"`
	Recorded  time.Time `json:"recorded,omitzero"`
	At        time.Time `json:"campaign_clock"`
	Kind      string    `json:"kind"`
	Actor     string    `json:"actor"`
	ActorKind string    `json:"actor_kind,omitempty"`
	Verified  string    `json:"verified,omitempty"`
	Operator  string    `json:"operator,omitempty"`
	Task      string    `json:"task,omitempty"`
	TaskURL   string    `json:"task_url,omitempty"`
	Users     []string  `json:"users,omitempty"`
	Groups    []string  `json:"groups,omitempty"`
	Approvers []string  `json:"approvers,omitempty"`
	Outcome   string    `json:"outcome,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	Hash      string    `json:"hash,omitempty"`
}

// ChainState is the journal chain's verification at report time.
type ChainState struct {
	OK      bool   `json:"ok"`
	Legacy  int    `json:"legacy_entries,omitempty"`
	BadSeq  uint64 `json:"first_bad_entry,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// Build reads a campaign's evidence. phabURL (the Phabricator base URL,
// no trailing slash) makes task links; "" leaves them out.
func Build(st *state.Store, campaign, phabURL string, now time.Time) (*Evidence, error) {
	snap, err := st.Snapshot(campaign)
	if err != nil {
		return nil, err
	}
	journal, check, err := st.CheckedJournal(campaign)
	if err != nil {
		return nil, err
	}
	c := snap.Campaign
	ev := &Evidence{Campaign: c.Name, Title: c.Title, LaunchedAt: c.LaunchedAt, CutoffDate: state.LastDay(c.Cutoff), Cutoff: c.Cutoff, Groups: c.Groups, GeneratedAt: now.UTC(),
		Chain: ChainState{OK: check.OK, Legacy: check.Legacy, BadSeq: check.BadSeq, Problem: check.Problem}}
	b := builder{snap: &snap, phabURL: phabURL, tasks: map[int]string{}}
	for _, bt := range snap.Batches {
		b.tasks[bt.Index] = bt.Monogram()
	}
	ev.Findings = b.findings()
	ev.Removals = b.removals(journal)
	ev.Policies = policies(&snap.Campaign)
	for _, e := range journal {
		ev.Events = append(ev.Events, Event{Seq: e.Seq, Recorded: e.Recorded, At: e.At, Kind: string(e.Kind), Actor: e.Actor, ActorKind: e.ActorKind,
			Verified: e.Verified, Operator: e.Operator, Task: e.Task, TaskURL: b.link(e.Task), Users: e.Users, Groups: e.Groups,
			Approvers: e.Approvers, Outcome: e.Outcome, Detail: e.Detail, Hash: e.Hash})
	}
	return ev, nil
}

// builder builds the parts of a campaign's evidence.
type builder struct {
	snap    *state.Snapshot
	phabURL string
	tasks   map[int]string // batch index -> monogram
}

// link is a task's address on Phabricator, or "" without a base URL.
func (b *builder) link(task string) string {
	if b.phabURL == "" || task == "" || task == "cli" {
		return ""
	}
	return b.phabURL + "/" + task
}

func (b *builder) findings() []Finding {
	c := &b.snap.Campaign
	var out []Finding
	for _, f := range b.snap.Findings {
		fo := Finding{Username: f.Username, RealName: f.RealName, Criteria: f.Reasons, Status: string(f.Status), Task: b.tasks[f.Batch], TaskURL: b.link(b.tasks[f.Batch])}
		for _, phid := range f.Groups {
			name := phid
			if g, ok := c.GroupByPHID(phid); ok {
				name = g.Name
			}
			fo.Groups = append(fo.Groups, name)
		}
		if x := f.Exemption; x != nil {
			fo.Exemption = string(x.Decision) + ": " + x.Reason
			if x.DecidedBy != "" {
				fo.Exemption += " (decided by @" + x.DecidedBy + ")"
			}
		}
		out = append(out, fo)
	}
	return out
}

// removals are the memberships removed, each with the approvals that
// cover it and when it went (the members-removed entry naming it).
func (b *builder) removals(journal []state.Entry) []Removed {
	removedBy := map[string]state.Entry{}
	for _, e := range journal {
		if e.Kind == state.EntryMembersRemoved {
			for _, u := range e.Users {
				removedBy[e.Group+"\x00"+u] = e
			}
		}
		if e.Kind == state.EntryAccountDisabled {
			for _, g := range e.Groups {
				removedBy[g+"\x00"+e.User] = e
			}
		}
	}
	var out []Removed
	for _, rm := range b.snap.Removals {
		for _, it := range rm.Items {
			if !it.Done {
				continue
			}
			// An approval counts only for the items its approver was
			// shown (a task's announcement shows that task's items):
			// the evidence for a membership names exactly those.
			apps := []Approval{}
			for _, a := range rm.Approvals {
				if a.Covers(it.Batch) {
					apps = append(apps, approvalOf(a, b.snap.Campaign.ApproversName))
				}
			}
			task := b.tasks[it.Batch]
			e := removedBy[it.GroupName+"\x00"+it.Username]
			out = append(out, Removed{Removal: rm.Label(), Username: it.Username, Group: it.GroupName, Risk: it.Risk, Voluntary: it.Voluntary,
				RemovedAt: e.At, Recorded: e.Recorded, Task: task, TaskURL: b.link(task), Approvals: apps,
				Approvers: rm.ApprovalsFor(it.Batch), Required: rm.RequiredApprovals, Auto: rm.AutoApproved, Action: rm.Action})
		}
	}
	return out
}

// approvalOf is the evidence of one approval: how the bot established the
// approver's identity, as recorded when it counted the approval.
func approvalOf(a state.Approval, approvers string) Approval {
	ap := Approval{Approver: a.Username, At: a.At, Via: a.Via, Where: a.Where(), Operator: a.Operator, Verified: a.Verified}
	if ap.Verified == "" { // recorded before approvals said how
		ap.Verified = "member of " + approvers + " checked over Conduit when the approval was given"
		if a.Via == "cli" {
			ap.Verified = "named on the command line by operator " + cmp.Or(a.Operator, "(unknown)") + "; " + ap.Verified
		}
	}
	return ap
}

// Write writes the evidence in format (csv, json or md).
func (ev *Evidence) Write(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(ev)
	case "csv":
		return ev.writeCSV(w)
	case "md":
		return ev.writeRemarkup(w)
	}
	return fmt.Errorf("report: unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (a Approval) String() string {
	return a.Approver + " at " + ts(a.At) + " (" + a.Where + ")"
}

func approvalList(as []Approval, auto bool) string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	if auto {
		out = append(out, "auto-approved by the campaign's policy")
	}
	return strings.Join(out, "; ")
}

// csvHeader is one table for every record: the section column says which.
var csvHeader = []string{"section", "seq", "time", "campaign_clock", "kind", "user", "real_name", "groups", "criteria", "status",
	"task", "task_url", "actor", "actor_kind", "verified", "operator", "approvers", "outcome", "detail"}

func (ev *Evidence) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	var groups []string
	for _, g := range ev.Groups {
		groups = append(groups, g.Name)
	}
	rows := [][]string{csvHeader, {"campaign", "", ts(ev.LaunchedAt), "", "launch", "", "", strings.Join(groups, ";"), "", "",
		"", "", "", "", "", "", "", "", ev.Campaign + ": " + ev.Title + "; cutoff " + state.CutoffText(ev.Cutoff)}}
	for _, f := range ev.Findings {
		rows = append(rows, []string{"finding", "", "", "", "", f.Username, f.RealName, strings.Join(f.Groups, ";"), strings.Join(f.Criteria, ";"), f.Status,
			f.Task, f.TaskURL, "", "", "", "", "", "", f.Exemption})
	}
	for _, r := range ev.Removals {
		// Like an event's: time is when it was journaled, campaign_clock
		// the clock the approvals are dated by.
		var verified []string
		for _, a := range r.Approvals {
			verified = append(verified, a.Approver+": "+a.Verified)
		}
		rows = append(rows, []string{"removal", "", ts(r.Recorded), ts(r.RemovedAt), r.Removal, r.Username, "", r.Group, "", r.Outcome(),
			r.Task, r.TaskURL, "", "", strings.Join(verified, "; "), "", approvalList(r.Approvals, r.Auto), r.Outcome(),
			fmt.Sprintf("risk %s; %d of %d approver(s)", r.Risk, r.Approvers, r.Required)})
	}
	for _, pf := range ev.Policies {
		rows = append(rows, []string{"policy", "", ts(pf.ClosedAt), ts(pf.OpenedAt), pf.ID, "", "", pf.Object, pf.Check, pf.State(),
			"", "", "", "", "", "", strings.Join(pf.FixedBy, ";"), pf.State(),
			fmt.Sprintf("%s policy %s; safe %s; risk %s; %s", pf.Check, pf.Value, pf.Safe, pf.Risk, pf.Why)})
	}
	for _, e := range ev.Events {
		rows = append(rows, []string{"event", strconv.FormatUint(e.Seq, 10), ts(e.Recorded), ts(e.At), e.Kind, strings.Join(e.Users, ";"), "", strings.Join(e.Groups, ";"), "", "",
			e.Task, e.TaskURL, e.Actor, e.ActorKind, e.Verified, e.Operator, strings.Join(e.Approvers, ";"), e.Outcome, e.Detail})
	}
	for _, r := range rows {
		// Inert in a spreadsheet (no formula) and on a terminal (control
		// and bidirectional characters as visible escapes, as status and
		// the journal print them): names and details are written by the
		// people being audited.
		for i := range r {
			r[i] = safetext.Line(r[i])
		}
		if err := cw.Write(safetext.CSVRow(r)); err != nil {
			return fmt.Errorf("report: csv: %w", err)
		}
	}
	cw.Flush()
	return cw.Error()
}

// cell makes text safe in a Remarkup table cell. Remarkup splits a table
// row into cells before any other rule, at every "|" outside a "[[ … ]]"
// link, so a pipe or an unclosed "[[" in a name would move every cell after
// it; a newline would end the table.
// Only for text the bot itself chose (kinds, monograms, times); anything
// that may carry a name or someone's words goes through text.
func cell(s string) string {
	s = strings.NewReplacer("|", "/", "\n", " ", "\r", " ", "`", "'").Replace(s)
	for strings.Contains(s, "[[") {
		s = strings.ReplaceAll(s, "[[", "[ [")
	}
	for strings.Contains(s, "]]") {
		s = strings.ReplaceAll(s, "]]", "] ]")
	}
	return s
}

// text renders free text inert (safetext.Remarkup): exemption reasons,
// journal details ("said by @bob"), how something was verified, group
// names. Pasting the report into a task so mentions nobody, embeds no
// file and renders no markup the audited user chose.
func text(s string) string { return safetext.Remarkup(s) }

// user renders a username in monospace so pasting the report does not
// mention (and so subscribe) everyone in it.
func user(u string) string { return text(u) }

func users(us []string) string {
	var out []string
	for _, u := range us {
		out = append(out, user(u))
	}
	return strings.Join(out, ", ")
}

func (ev *Evidence) writeRemarkup(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "= Evidence: %s =\n\n", text(ev.Title))
	fmt.Fprintf(&b, "Campaign %s, launched %s, cutoff %s. Generated %s.\n", text(ev.Campaign), ts(ev.LaunchedAt), state.CutoffText(ev.Cutoff), ts(ev.GeneratedAt))
	if ev.Chain.OK {
		fmt.Fprintf(&b, "Journal hash chain: verified")
		if ev.Chain.Legacy > 0 {
			fmt.Fprintf(&b, " (the first %d entries predate the chain)", ev.Chain.Legacy)
		}
		b.WriteString(".\n")
	} else {
		fmt.Fprintf(&b, "**Journal hash chain: BROKEN at entry %d: %s**\n", ev.Chain.BadSeq, text(ev.Chain.Problem))
	}
	b.WriteString("\n== Findings ==\n\n| User | Real name | Groups | Criteria | Status | Task | Exemption |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, f := range ev.Findings {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", user(f.Username), text(f.RealName), text(strings.Join(f.Groups, ", ")), cell(strings.Join(f.Criteria, ", ")), cell(f.Status), cell(f.Task), text(f.Exemption))
	}
	b.WriteString("\n== Removed memberships ==\n\n| Removal | User | Group | Risk | Removed at | Task | Approvals |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range ev.Removals {
		apps := []string{fmt.Sprintf("%d of %d", r.Approvers, r.Required)}
		for _, a := range r.Approvals {
			apps = append(apps, user(a.Approver)+" "+ts(a.At)+" "+text(a.Where))
		}
		if r.Auto {
			apps = append(apps, "auto-approved")
		}
		group := text(r.Group)
		if r.Action == state.ActionDisable {
			group += " (account disabled)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", cell(r.Removal), user(r.Username), group, cell(r.Risk), ts(r.RemovedAt), cell(r.Task), strings.Join(apps, "; "))
	}
	writePolicies(&b, ev.Policies)
	b.WriteString("\n== Journal ==\n\n| # | Time | Kind | Actor | Verified | Task | Users | Approvers | Outcome | Detail |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, e := range ev.Events {
		when := ts(cmp.Or(e.Recorded, e.At))
		if !e.Recorded.IsZero() && e.At.Sub(e.Recorded).Abs() > time.Minute {
			when += " (campaign clock " + ts(e.At) + ")"
		}
		actor := user(e.Actor)
		if e.Operator != "" {
			actor += " (operator " + user(e.Operator) + ")"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", e.Seq, when, cell(e.Kind), actor, text(e.Verified), cell(e.Task),
			users(e.Users), users(e.Approvers), text(e.Outcome), text(e.Detail))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writePolicies writes the policy findings' table (nothing without any).
func writePolicies(b *strings.Builder, ps []Policy) {
	if len(ps) == 0 {
		return
	}
	b.WriteString("\n== Policy findings ==\n\n| ID | Object | Policy | Value | Risky because | Safe value | Risk | State | Fixed by |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, p := range ps {
		fixed := users(p.FixedBy)
		if len(p.FixedBy) > 0 {
			fixed = fmt.Sprintf("%s (%d of %d)", fixed, len(p.FixedBy), p.Required)
		}
		why := p.Why
		if p.ByHand {
			why += " (review by hand)"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(p.ID), text(p.Object), cell(p.Check), text(p.Value), text(why),
			text(p.Safe), cell(p.Risk), cell(p.State()), fixed)
	}
}
