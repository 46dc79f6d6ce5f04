package dashboard

import (
	"cmp"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/state"
)

// countStatuses are the statuses the overview counts, in order.
var countStatuses = []state.Status{state.StatusPending, state.StatusCompliant, state.StatusExempt, state.StatusVoluntary, state.StatusRemoved, state.StatusRestored}

var funcs = template.FuncMap{
	"join": strings.Join,
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04")
	},
}

// riskOrder ranks a group's risk; an unknown level counts as the riskiest,
// as everywhere else in auditbot.
func riskOrder(risk string) int {
	r, err := campaigns.ParseRisk(risk)
	if err != nil {
		return int(campaigns.RiskInternal) + 1
	}
	return int(r)
}

// riskClass is the CSS class of a risk level: one per level.
func riskClass(risk string) string {
	r, err := campaigns.ParseRisk(risk)
	if err != nil {
		return "risk-unknown"
	}
	return "risk-" + r.String()
}

type groupView struct {
	Name, Slug, Risk, Class string
	Users                   []userView
	Pending                 int
}

func groupsByRisk(gs []state.Group) []groupView {
	out := make([]groupView, 0, len(gs))
	for _, g := range gs {
		out = append(out, groupView{Name: g.Name, Slug: g.Slug, Risk: g.Risk, Class: riskClass(g.Risk)})
	}
	slices.SortStableFunc(out, func(a, b groupView) int {
		return cmp.Or(cmp.Compare(riskOrder(b.Risk), riskOrder(a.Risk)), cmp.Compare(a.Name, b.Name))
	})
	return out
}

type countView struct {
	Status string
	N      int
}

type campaignSummary struct {
	Name, Title      string
	Cutoff           time.Time
	Countdown        string
	Overdue          bool
	Total            int
	Counts           []countView
	Groups           []groupView
	WaitingApproval  []string // "R1: 1 of 2 approvals"
	Attention        int
	ChainOK          bool
	ChainBadEntry    uint64
	ChainLegacyCount int
}

type overviewPage struct {
	Now       time.Time
	Campaigns []campaignSummary
}

func countdown(now, cutoff time.Time) (string, bool) {
	d := cutoff.Sub(now)
	over := d < 0
	d = d.Abs()
	days, hours := int(d.Hours())/24, int(d.Hours())%24
	s := fmt.Sprintf("%dd %dh", days, hours)
	if over {
		return s + " past the cutoff", true
	}
	return s + " to the cutoff", false
}

func summarize(st *state.Store, snap *state.Snapshot, now time.Time) (campaignSummary, error) {
	c := snap.Campaign
	sum := campaignSummary{Name: c.Name, Title: c.Title, Cutoff: c.Cutoff, Total: len(snap.Findings), Groups: groupsByRisk(c.Groups)}
	sum.Countdown, sum.Overdue = countdown(now, c.Cutoff)
	n := map[state.Status]int{}
	for _, f := range snap.Findings {
		n[f.Status]++
	}
	for _, s := range countStatuses {
		sum.Counts = append(sum.Counts, countView{string(s), n[s]})
	}
	for _, rm := range snap.Removals {
		if rm.Status == state.RemovalProposed {
			sum.WaitingApproval = append(sum.WaitingApproval, fmt.Sprintf("%s: %d of %d approvals, %d membership(s)", rm.Label(), len(rm.Approvals), rm.RequiredApprovals, len(rm.Items)))
		}
	}
	sum.Attention = len(attention(snap))
	check, err := st.VerifyJournal(c.Name)
	if err != nil {
		return sum, err
	}
	sum.ChainOK, sum.ChainBadEntry, sum.ChainLegacyCount = check.OK, check.BadSeq, check.Legacy
	return sum, nil
}

func buildOverview(st *state.Store, now time.Time) (overviewPage, error) {
	page := overviewPage{Now: now}
	names, err := st.CampaignNames()
	if err != nil {
		return page, err
	}
	for _, name := range names {
		snap, err := st.Snapshot(name)
		if err != nil {
			return page, err
		}
		sum, err := summarize(st, &snap, now)
		if err != nil {
			return page, err
		}
		page.Campaigns = append(page.Campaigns, sum)
	}
	return page, nil
}

// attention lists what needs a human, as `auditbot status` does.
func attention(snap *state.Snapshot) []string {
	var out []string
	tasks := map[int]string{}
	for _, b := range snap.Batches {
		tasks[b.Index] = b.Monogram()
	}
	for _, f := range snap.Findings {
		if f.Exemption != nil && f.Exemption.Decision == "pending" {
			out = append(out, fmt.Sprintf("@%s asks for an exemption on %s: %s", f.Username, tasks[f.Batch], f.Exemption.Reason))
		}
		if f.RestoreRequested {
			out = append(out, fmt.Sprintf("@%s is compliant again and asks to be restored (%s)", f.Username, tasks[f.Batch]))
		}
		if f.Unsubscribed && f.Status == state.StatusPending {
			out = append(out, fmt.Sprintf("@%s unsubscribed from %s and is still pending", f.Username, tasks[f.Batch]))
		}
		for _, n := range f.NeedsHuman {
			out = append(out, fmt.Sprintf("needs a human answer: @%s on %s", f.Username, n))
		}
	}
	for _, op := range snap.Ops {
		if op.State == state.OpPending {
			out = append(out, fmt.Sprintf("write %s was started and not confirmed; the next tick reconciles it", op.Key))
		}
	}
	for _, rm := range snap.Removals {
		switch rm.Status {
		case state.RemovalProposed:
			out = append(out, fmt.Sprintf("removal batch %s waits for approval: %d of %d", rm.Label(), len(rm.Approvals), rm.RequiredApprovals))
		case state.RemovalRejected:
			out = append(out, fmt.Sprintf("removal batch %s was rejected by @%s: %s", rm.Label(), rm.RejectedBy, rm.RejectReason))
		}
	}
	return out
}

type userView struct {
	Username, RealName, Status string
	Criteria                   string
	Task, TaskURL              string
	Updated                    time.Time
	LastEvent                  string
	LastEventAt                time.Time
}

type taskView struct {
	Task, URL      string
	Users, Pending int
}

type campaignPage struct {
	Summary   campaignSummary
	Groups    []groupView
	Tasks     []taskView
	Attention []string
	Removals  []state.Removal
	Chart     template.HTML
}

func taskURL(base, task string) string {
	if base == "" || task == "" {
		return ""
	}
	return base + "/" + task
}

func buildCampaign(st *state.Store, name, phabURL string, now time.Time) (campaignPage, error) {
	var page campaignPage
	snap, err := st.Snapshot(name)
	if err != nil {
		return page, err
	}
	journal, err := st.Journal(name)
	if err != nil {
		return page, err
	}
	if page.Summary, err = summarize(st, &snap, now); err != nil {
		return page, err
	}
	last := map[string]state.Entry{} // username -> last entry naming them
	for _, e := range journal {
		for _, u := range e.Users {
			last[u] = e
		}
		if e.User != "" {
			last[e.User] = e
		}
	}
	tasks := map[int]string{}
	for _, b := range snap.Batches {
		tasks[b.Index] = b.Monogram()
		page.Tasks = append(page.Tasks, taskView{Task: cmp.Or(b.Monogram(), "(not filed)"), URL: taskURL(phabURL, b.Monogram()), Users: len(b.UserPHIDs)})
	}
	taskIdx := map[int]int{}
	for i, b := range snap.Batches {
		taskIdx[b.Index] = i
	}
	groups := groupsByRisk(snap.Campaign.Groups)
	gi := map[string]int{}
	for i, g := range groups {
		for _, cg := range snap.Campaign.Groups {
			if cg.Name == g.Name {
				gi[cg.PHID] = i
			}
		}
	}
	for _, f := range snap.Findings {
		if i, ok := taskIdx[f.Batch]; ok && f.Status == state.StatusPending {
			page.Tasks[i].Pending++
		}
		u := userView{Username: f.Username, RealName: f.RealName, Status: string(f.Status), Criteria: strings.Join(f.Reasons, ", "),
			Task: tasks[f.Batch], TaskURL: taskURL(phabURL, tasks[f.Batch]), Updated: f.UpdatedAt}
		if e, ok := last[f.Username]; ok {
			u.LastEvent, u.LastEventAt = string(e.Kind), cmp.Or(e.Recorded, e.At)
		}
		// A user is shown under each group they are non-compliant in, and
		// under the groups they were removed from.
		seen := map[int]bool{}
		for _, gp := range slices.Concat(f.Groups, f.RemovedFrom) {
			if i, ok := gi[gp]; ok && !seen[i] {
				seen[i] = true
				groups[i].Users = append(groups[i].Users, u)
				if f.Status == state.StatusPending {
					groups[i].Pending++
				}
			}
		}
	}
	page.Groups = groups
	page.Attention = attention(&snap)
	page.Removals = snap.Removals
	page.Chart = complianceChart(&snap, now)
	return page, nil
}

type journalFilter struct{ User, Task, Kind string }

type journalPage struct {
	Campaign string
	Filter   journalFilter
	Kinds    []string
	Entries  []entryView
	Total    int
	Check    state.JournalCheck
}

type entryView struct {
	state.Entry
	When, Clock string
	TaskURL     string
}

func buildJournal(st *state.Store, name string, f journalFilter, phabURL string) (journalPage, error) {
	page := journalPage{Campaign: name, Filter: f}
	journal, err := st.Journal(name)
	if err != nil {
		return page, err
	}
	if page.Check, err = st.VerifyJournal(name); err != nil {
		return page, err
	}
	page.Total = len(journal)
	kinds := map[string]bool{}
	for _, e := range journal {
		kinds[string(e.Kind)] = true
		if (f.User != "" && !e.HasUser(f.User) && e.Actor != f.User && !slices.Contains(e.Approvers, f.User)) ||
			(f.Task != "" && !strings.EqualFold(e.Task, f.Task)) || (f.Kind != "" && string(e.Kind) != f.Kind) {
			continue
		}
		v := entryView{Entry: e, TaskURL: taskURL(phabURL, e.Task)}
		when := cmp.Or(e.Recorded, e.At)
		v.When = when.UTC().Format("2006-01-02 15:04:05")
		if !e.Recorded.IsZero() && e.At.Sub(e.Recorded).Abs() > time.Minute {
			v.Clock = e.At.UTC().Format("2006-01-02 15:04")
		}
		page.Entries = append(page.Entries, v)
	}
	for k := range kinds {
		page.Kinds = append(page.Kinds, k)
	}
	slices.Sort(page.Kinds)
	return page, nil
}
