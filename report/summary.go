package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/state"
)

// Summary is the part of a campaign's evidence the bot posts on the task
// that tracks the audit (campaign key tracking_task) when the campaign
// closes. That task is often readable by everyone, unlike the audit's own
// tasks, so a summary holds only what the audit's outcome needs an auditor
// to see: how many members ended in each status per group, every
// consequence the journal records (a removal, a restore) with who
// approved it, and the journal's head so that the state file can be
// checked against it later. It names no criterion a user failed, no real
// name, no reply, no exemption reason and no audit task.
type Summary struct {
	Campaign   string
	Title      string
	LaunchedAt time.Time
	CutoffDate string
	// Counts are the findings per group, each group's statuses in a fixed
	// order; a finding in two groups counts in each.
	Counts []GroupCounts
	// Consequences are the journal's entries of the kinds in
	// consequenceKinds, in journal order.
	Consequences []Consequence
	// Head is the journal's last entry (its sequence number and hash)
	// when the summary was made; Chain is the chain's verification then.
	Head  state.Anchor
	Chain ChainState
}

// GroupCounts is how many of a group's audited members ended in each
// status.
type GroupCounts struct {
	Group  string
	Counts []StatusCount
}

// StatusCount is one status and how many findings have it.
type StatusCount struct {
	Status string
	N      int
}

// Consequence is one journaled change to someone's access.
type Consequence struct {
	Seq   uint64
	At    time.Time
	What  string
	Users []string
	Group string
	// By are the approvers whose approvals made the decision, or who
	// asked for it (a restore); Verified notes an automatic approval.
	By       []string
	Verified string
}

// consequenceKind says how the summary words one journal kind of
// consequence, and who decided it: the entry's approvers, or (by actor)
// the one who asked.
type consequenceKind struct {
	kind    state.EntryKind
	what    string
	byActor bool
}

// consequenceKinds are the journal kinds that record a change to someone's
// access: every entry of these kinds is listed in a summary. A new
// consequence (disabling an account) adds its kind here.
var consequenceKinds = []consequenceKind{
	{kind: state.EntryMembersRemoved, what: "removed from"},
	{kind: state.EntryMemberRestored, what: "restored to", byActor: true},
	{kind: state.EntryAccountDisabled, what: "account disabled"},
	{kind: state.EntryAccountEnabled, what: "account enabled", byActor: true},
}

// summaryStatuses is the order statuses are counted in.
var summaryStatuses = []state.Status{state.StatusCompliant, state.StatusExempt, state.StatusRemoved, state.StatusRestored,
	state.StatusLeft, state.StatusDisabled, state.StatusVoluntary, state.StatusPending}

// Summarize makes a campaign's summary from its state and its journal
// (as state.Store.CheckedJournal reads them, with the check). It reads
// nothing itself.
func Summarize(snap *state.Snapshot, journal []state.Entry, check state.JournalCheck) *Summary {
	c := &snap.Campaign
	s := &Summary{Campaign: c.Name, Title: c.Title, LaunchedAt: c.LaunchedAt, CutoffDate: state.LastDay(c.Cutoff), Head: check.Head,
		Chain: ChainState{OK: check.OK, Legacy: check.Legacy, BadSeq: check.BadSeq, Problem: check.Problem}}
	for _, g := range c.Groups {
		n := map[state.Status]int{}
		for _, f := range snap.Findings {
			if slices.Contains(f.Groups, g.PHID) {
				n[f.Status]++
			}
		}
		gc := GroupCounts{Group: g.Name}
		for _, st := range summaryStatuses {
			if n[st] > 0 {
				gc.Counts = append(gc.Counts, StatusCount{Status: string(st), N: n[st]})
			}
		}
		s.Counts = append(s.Counts, gc)
	}
	for _, e := range journal {
		i := slices.IndexFunc(consequenceKinds, func(k consequenceKind) bool { return k.kind == e.Kind })
		if i < 0 {
			continue
		}
		k := consequenceKinds[i]
		if e.Kind == state.EntryAccountDisabled && e.Outcome != "disabled" {
			continue // settled with nothing disabled (no longer due)
		}
		cq := Consequence{Seq: e.Seq, At: e.At, What: k.what, Users: e.Users, Group: e.Group, By: e.Approvers, Verified: e.Verified}
		if cq.Group == "" && len(e.Groups) > 0 {
			cq.Group = strings.Join(e.Groups, ", ")
		}
		if len(cq.Users) == 0 && e.User != "" {
			cq.Users = []string{e.User}
		}
		if k.byActor && len(cq.By) == 0 && e.Actor != "" {
			cq.By = []string{e.Actor}
		}
		s.Consequences = append(s.Consequences, cq)
	}
	return s
}

// Remarkup renders the summary as inert Remarkup: every name and every
// word someone else chose is in a monospace span (safetext.Remarkup), so
// posting it mentions (and so notifies or subscribes) nobody, links and
// embeds nothing and renders no markup of theirs.
func (s *Summary) Remarkup() string {
	var b strings.Builder
	fmt.Fprintf(&b, "= Audit summary: %s =\n\n", text(s.Title))
	fmt.Fprintf(&b, "Campaign %s, launched %s, cutoff %s, is closed.\n", text(s.Campaign), ts(s.LaunchedAt), cell(s.CutoffDate))
	s.writeCounts(&b)
	s.writeConsequences(&b)
	b.WriteString("\n== Journal ==\n\n")
	switch {
	case !s.Chain.OK:
		fmt.Fprintf(&b, "**The journal's hash chain is BROKEN at entry %d: %s**\n", s.Chain.BadSeq, text(s.Chain.Problem))
	case s.Head.Seq == 0:
		b.WriteString("The journal has no hashed entry to name.\n")
	default:
		fmt.Fprintf(&b, "Head of the journal when this was posted: entry %d, hash %s (chain verified).\n", s.Head.Seq, text(s.Head.Hash))
		b.WriteString("To check later that the state file still holds this journal, unchanged up to here:\n\n")
		fmt.Fprintf(&b, "```\nauditbot verify-journal %s --head %s=%s\n```\n", cell(s.Campaign), cell(s.Campaign), cell(s.Head.String()))
	}
	return b.String()
}

// writeCounts writes the counts per group and status, one row a group.
func (s *Summary) writeCounts(b *strings.Builder) {
	b.WriteString("\n== Outcome per group ==\n\n")
	var cols []string
	for _, st := range summaryStatuses {
		for _, g := range s.Counts {
			if slices.ContainsFunc(g.Counts, func(c StatusCount) bool { return c.Status == string(st) }) && !slices.Contains(cols, string(st)) {
				cols = append(cols, string(st))
			}
		}
	}
	if len(cols) == 0 {
		b.WriteString("No member of the audited groups was found failing the audit.\n")
		return
	}
	fmt.Fprintf(b, "| Group | %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat(" --- |", len(cols)+1))
	for _, g := range s.Counts {
		row := []string{text(g.Group)}
		for _, col := range cols {
			n := 0
			for _, c := range g.Counts {
				if c.Status == col {
					n = c.N
				}
			}
			row = append(row, fmt.Sprint(n))
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(row, " | "))
	}
}

// writeConsequences lists every consequence with who decided it.
func (s *Summary) writeConsequences(b *strings.Builder) {
	b.WriteString("\n== Removals and other consequences ==\n\n")
	if len(s.Consequences) == 0 {
		b.WriteString("None: the campaign changed nobody's access.\n")
		return
	}
	b.WriteString("| Journal entry | When | Users | Change | Group | Approved by |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, c := range s.Consequences {
		by := users(c.By)
		if c.Verified != "" {
			by = strings.TrimPrefix(by+"; "+text(c.Verified), "; ")
		}
		if by == "" {
			by = "(nobody recorded)"
		}
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s |\n", c.Seq, ts(c.At), users(c.Users), cell(c.What), text(c.Group), by)
	}
}
