package dashboard

import (
	"cmp"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/state"
)

// countStatuses are the statuses the overview counts, in order.
var countStatuses = []state.Status{state.StatusPending, state.StatusCompliant, state.StatusExempt, state.StatusVoluntary, state.StatusRemoved, state.StatusRestored}

var funcs = template.FuncMap{
	"join": strings.Join,
	"date": date,
}

// date is how pages show a time: to the minute, in UTC.
func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04")
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
	Name, Title string
	Cutoff      time.Time
	// Clock is the campaign's now (see campaignClock); Simulated reports
	// whether it is ahead of the real time.
	Clock            time.Time
	Simulated        bool
	ClosedAt         time.Time
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

// campaignClock is the time a campaign's page is shown at: the real time,
// or the campaign's own clock when that is ahead of it. A campaign run on a
// simulated clock (tick --now, the demo) lives in the future: the latest
// time its journal and its findings were written at says where it is, and
// a countdown on the real time would read "89d to the cutoff" for a
// campaign whose members were removed long after it. For a campaign on
// the real clock the two agree.
func campaignClock(snap *state.Snapshot, journal []state.Entry, wall time.Time) time.Time {
	now := wall
	for _, e := range journal {
		if e.At.After(now) {
			now = e.At
		}
	}
	for _, f := range snap.Findings {
		if f.UpdatedAt.After(now) {
			now = f.UpdatedAt
		}
	}
	return now
}

// countdown says where a campaign stands against its cutoff at now, and
// whether it is overdue: past the cutoff with users still pending or a
// removal batch not yet decided or executed. Past the cutoff with nothing
// left, it only says when the cutoff passed.
func countdown(snap *state.Snapshot, now time.Time) (string, bool) {
	c := snap.Campaign
	if c.Closed() {
		return "closed " + c.ClosedAt.UTC().Format("2006-01-02 15:04"), false
	}
	d := c.Cutoff.Sub(now)
	span := func(d time.Duration) string {
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	}
	if d >= 0 {
		return span(d) + " to the cutoff", false
	}
	open := slices.ContainsFunc(snap.Findings, func(f state.Finding) bool { return f.Status == state.StatusPending }) ||
		slices.ContainsFunc(snap.Removals, func(r state.Removal) bool {
			return r.Status == state.RemovalProposed || r.Status == state.RemovalApproved
		})
	if !open {
		return "cutoff passed " + span(-d) + " ago; nobody pending, every removal executed", false
	}
	return span(-d) + " past the cutoff", true
}

// summarize is a campaign's overview. journal is its journal; wall the
// real time.
func summarize(st *state.Store, snap *state.Snapshot, journal []state.Entry, wall time.Time) (campaignSummary, *bot.Status, error) {
	c := snap.Campaign
	now := campaignClock(snap, journal, wall)
	sum := campaignSummary{Name: c.Name, Title: c.Title, Cutoff: c.Cutoff, Clock: now, Simulated: now.Sub(wall) > time.Minute, ClosedAt: c.ClosedAt,
		Total: len(snap.Findings), Groups: groupsByRisk(c.Groups)}
	sum.Countdown, sum.Overdue = countdown(snap, now)
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
	// What needs a human is what `auditbot status` lists, from the same
	// code.
	status := bot.StatusOfSnapshot(snap, now)
	sum.Attention = len(status.Attention)
	check, err := st.VerifyJournal(c.Name)
	if err != nil {
		return sum, nil, err
	}
	sum.ChainOK, sum.ChainBadEntry, sum.ChainLegacyCount = check.OK, check.BadSeq, check.Legacy
	return sum, status, nil
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
		journal, err := st.Journal(name)
		if err != nil {
			return page, err
		}
		sum, _, err := summarize(st, &snap, journal, now)
		if err != nil {
			return page, err
		}
		page.Campaigns = append(page.Campaigns, sum)
	}
	return page, nil
}

type userView struct {
	Username, RealName, Status string
	Criteria                   string
	Task, TaskURL              string
	// Updated and LastEventAt are on the campaign's clock, formatted
	// here: a template function called per row was a third of a
	// 10,000-user page's render time.
	Updated     string
	LastEvent   string
	LastEventAt string
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
	Removals  []removalView
	Chart     template.HTML
}

type removalView struct {
	state.Removal
	// HeldNow says why the guard-rail holds the approved batch; "" when
	// it does not.
	HeldNow string
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
	var status *bot.Status
	if page.Summary, status, err = summarize(st, &snap, journal, now); err != nil {
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
			Task: tasks[f.Batch], TaskURL: taskURL(phabURL, tasks[f.Batch]), Updated: date(f.UpdatedAt)}
		if e, ok := last[f.Username]; ok {
			u.LastEvent, u.LastEventAt = string(e.Kind), date(e.At)
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
	page.Attention = status.Attention
	for _, rm := range snap.Removals {
		v := removalView{Removal: rm}
		if rm.Status == state.RemovalApproved {
			v.HeldNow = rm.Held
		}
		page.Removals = append(page.Removals, v)
	}
	page.Chart = complianceChart(&snap, page.Summary.Clock)
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
	journal, check, err := st.CheckedJournal(name)
	if err != nil {
		return page, err
	}
	page.Check = check
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
