package dashboard

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/internal/safetext"
	"github.com/auditbot/auditbot/state"
)

// Page sizes: what one page shows of a long list. A campaign page shows
// each group's first groupPreview users (pending first) and links to the
// group's own pages of groupPage users; a journal page shows journalPage
// entries. At 10,000 users the campaign page stays small and fast.
const (
	groupPreview = 100
	groupPage    = 200
	journalPage  = 100
)

// statusOrder lists every finding status in the order pages show them.
var statusOrder = []state.Status{state.StatusPending, state.StatusCompliant, state.StatusExempt, state.StatusVoluntary,
	state.StatusRemoved, state.StatusRestored, state.StatusLeft, state.StatusDisabled}

// text makes what others wrote (usernames, real names, titles, comments
// quoted in details) inert on a page: html/template escapes markup, and
// this shows control and bidirectional characters as visible escapes, as
// `auditbot status` and the journal do, so a name cannot reorder the
// text around it or ring a bell.
var text = safetext.Line

func texts(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = text(s)
	}
	return out
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
	PHID, Name, Risk, Class string
	// Users are the first of the group's users (pending first), Total
	// and Pending count them all; Table shows Users.
	Users          []userView
	Total, Pending int
	Table          usersTable
}

func groupsByRisk(gs []state.Group) []groupView {
	out := make([]groupView, 0, len(gs))
	for _, g := range gs {
		out = append(out, groupView{PHID: g.PHID, Name: text(g.Name), Risk: text(g.Risk), Class: riskClass(g.Risk)})
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
	// Cutoff is state.CutoffText: the one wording of a cutoff.
	Cutoff string
	// Clock is the campaign's now (see campaignClock); Simulated reports
	// whether it is ahead of the real time.
	Clock            time.Time
	Simulated        bool
	Countdown        string
	Overdue          bool
	Total            int
	Counts           []countView
	Groups           []groupView
	WaitingApproval  []string // "R1: 1 of 2 approvals, 6 membership(s)"
	Attention        int
	ChainOK          bool
	ChainBadEntry    uint64
	ChainLegacyCount int
}

type overviewPage struct {
	Campaigns []campaignSummary
}

// campaignClock is the time a campaign's page is shown at: the real time,
// or the campaign's own clock when that is ahead of it. A campaign run on a
// simulated clock (tick --now, the demo) lives in the future: the latest
// time its journal (latest) and its findings were written at says where
// it is, and a countdown on the real time would read "89d to the cutoff"
// for a campaign whose members were removed long after it. For a campaign
// on the real clock the two agree.
func campaignClock(snap *state.Snapshot, latest, wall time.Time) time.Time {
	now := wall
	if latest.After(now) {
		now = latest
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
		return "closed " + date(c.ClosedAt), false
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

// summarize is a campaign's overview, at the real time wall.
func summarize(snap *state.Snapshot, d *digest, wall time.Time) (campaignSummary, *bot.Status) {
	c := snap.Campaign
	now := campaignClock(snap, d.latest, wall)
	sum := campaignSummary{Name: text(c.Name), Title: text(c.Title), Cutoff: state.CutoffText(c.Cutoff), Clock: now, Simulated: now.Sub(wall) > time.Minute,
		Total: len(snap.Findings), Groups: groupsByRisk(c.Groups)}
	sum.Countdown, sum.Overdue = countdown(snap, now)
	n := map[state.Status]int{}
	for _, f := range snap.Findings {
		n[f.Status]++
	}
	for _, s := range statusOrder {
		// Where an MFA campaign's users end up is always shown, 0 too;
		// the other statuses only when someone is in them.
		if n[s] > 0 || s != state.StatusLeft && s != state.StatusDisabled {
			sum.Counts = append(sum.Counts, countView{string(s), n[s]})
		}
	}
	for _, rm := range snap.Removals {
		if rm.Status == state.RemovalProposed {
			sum.WaitingApproval = append(sum.WaitingApproval, fmt.Sprintf("%s: %d of %d approvals, %d membership(s)", rm.Label(), rm.ApprovalCount(), rm.RequiredApprovals, len(rm.Items)))
		}
	}
	// What needs a human is what `auditbot status` lists, from the same
	// code.
	status := bot.StatusOfSnapshot(snap, now)
	sum.Attention = len(status.Attention)
	sum.ChainOK, sum.ChainBadEntry, sum.ChainLegacyCount = d.check.OK, d.check.BadSeq, d.check.Legacy
	return sum, status
}

type userView struct {
	Username, RealName, Status string
	Criteria                   string
	Task, TaskURL              string
	// Updated and LastEventAt are on the campaign's clock, formatted
	// here rather than by a template function called per row.
	Updated     string
	LastEvent   string
	LastEventAt string
	// LastActivity is, for an inactivity campaign, the user's newest own
	// activity the feed scan found.
	LastActivity string
}

// usersTable is a table of users, as the campaign and group pages show it.
type usersTable struct {
	Campaign   string
	Caption    string
	Users      []userView
	Inactivity bool
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
	// Policies are the policy audit's findings; PolicyTask the team's
	// task that lists them.
	Policies   []policyView
	PolicyTask string
	Chart      template.HTML
	Legend     []seriesView
	// Inactivity reports whether the campaign audits inactivity: its
	// tables show each user's last own activity.
	Inactivity bool
}

type removalView struct {
	Label, Status string
	// HeldNow says why the guard-rail holds the approved batch; "" when
	// it does not.
	HeldNow     string
	Memberships int
	// Count of Required approvals (state.Removal.ApprovalCount), who gave
	// them and where, and, when approvals cover different tasks,
	// how many cover each task's memberships.
	Count, Required int
	Approvers       []approverView
	Coverage        string
	Auto            bool
}

// policyView is one policy finding as the campaign page shows it.
type policyView struct {
	ID, State, Risk, Object, Check, Value, Safe, Why, Fix string
	Approvals                                             string
}

// policies are the status's policy findings for the page; every text
// that Phabricator or its users chose is made inert.
func policies(st []bot.StatusPolicy) []policyView {
	var out []policyView
	for _, p := range st {
		v := policyView{ID: p.ID, State: p.State, Risk: p.Risk, Object: text(p.Object), Check: p.Check, Value: text(p.Value),
			Safe: text(p.Safe), Why: text(p.Why), Fix: p.Fix}
		if p.Required > 0 && p.Fix != "by hand" && p.Fix != "review by hand" {
			v.Approvals = fmt.Sprintf("%d of %d", len(p.Approvals), p.Required)
			if len(p.Approvals) > 0 {
				v.Approvals += ": " + text(strings.Join(p.Approvals, ", "))
			}
		}
		out = append(out, v)
	}
	return out
}

type approverView struct {
	Username string
	Where    []string // "task T1 comment, 2027-03-01 11:00"
}

func taskURL(base, task string) string {
	if base == "" || task == "" {
		return ""
	}
	return base + "/" + task
}

// campaignData is one campaign as every one of its pages starts from.
type campaignData struct {
	snap   *state.Snapshot
	sum    campaignSummary
	status *bot.Status
	last   map[string]lastEntry
	tasks  map[int]string // batch index -> monogram
}

// inactivity reports whether a campaign audits inactivity.
func inactivity(snap *state.Snapshot) bool {
	return slices.ContainsFunc(snap.Findings, func(f state.Finding) bool {
		return slices.Contains(f.Reasons, string(campaigns.CriterionInactive))
	})
}

// readCampaign brings a campaign's digest up to date and runs fn with
// it, locked.
func (s *Server) readCampaign(name string, fn func(*campaignData, *digest) error) error {
	return s.digests.with(s.o.Store, name, func(d *digest) error {
		// The snapshot is shared with the pages before and after: read
		// only.
		cd := &campaignData{snap: d.snap, last: d.last, tasks: map[int]string{}}
		cd.sum, cd.status = summarize(cd.snap, d, s.o.Now())
		for _, b := range cd.snap.Batches {
			cd.tasks[b.Index] = b.Monogram()
		}
		return fn(cd, d)
	})
}

// user is a finding as a table row shows it.
func (s *Server) user(cd *campaignData, f *state.Finding) userView {
	task := cd.tasks[f.Batch]
	u := userView{Username: text(f.Username), RealName: text(f.RealName), Status: string(f.Status), Criteria: text(strings.Join(f.Reasons, ", ")),
		Task: task, TaskURL: taskURL(s.o.PhabURL, task), Updated: date(f.UpdatedAt)}
	if e, ok := cd.last[f.Username]; ok {
		u.LastEvent, u.LastEventAt = string(e.Kind), date(e.At)
	}
	return u
}

// addActivity fills the last-activity column of the users shown.
func (s *Server) addActivity(users []userView, phids []string) error {
	acts, err := s.o.Store.Activities(phids)
	if err != nil {
		return err
	}
	for i, p := range phids {
		a, ok := acts[p]
		switch {
		case !ok:
			users[i].LastActivity = "not scanned"
		case a.Last.IsZero():
			users[i].LastActivity = "none since " + a.Since.UTC().Format(time.DateOnly)
		default:
			users[i].LastActivity = a.Last.UTC().Format(time.DateOnly)
		}
	}
	return nil
}

// inGroup reports whether a finding is shown under group: the groups a
// user is non-compliant in, and those they were removed from.
func inGroup(f *state.Finding, group string) bool {
	return slices.Contains(f.Groups, group) || slices.Contains(f.RemovedFrom, group)
}

func (s *Server) buildOverview() (overviewPage, error) {
	var page overviewPage
	names, err := s.o.Store.CampaignNames()
	if err != nil {
		return page, err
	}
	for _, name := range names {
		if err := s.readCampaign(name, func(cd *campaignData, _ *digest) error {
			page.Campaigns = append(page.Campaigns, cd.sum)
			return nil
		}); err != nil {
			return page, err
		}
	}
	return page, nil
}

func (s *Server) buildCampaign(name string) (campaignPage, error) {
	var page campaignPage
	err := s.readCampaign(name, func(cd *campaignData, _ *digest) error {
		snap := cd.snap
		page.Summary, page.Attention = cd.sum, texts(cd.status.Attention)
		page.Policies, page.PolicyTask = policies(cd.status.Policies), cd.status.PolicyTask
		page.Inactivity = inactivity(snap)
		taskIdx := map[int]int{}
		for i, b := range snap.Batches {
			taskIdx[b.Index] = i
			page.Tasks = append(page.Tasks, taskView{Task: cmp.Or(b.Monogram(), "(not filed)"), URL: taskURL(s.o.PhabURL, b.Monogram()), Users: len(b.UserPHIDs)})
		}
		groups := groupsByRisk(snap.Campaign.Groups)
		gi := map[string]int{}
		for i, g := range groups {
			gi[g.PHID] = i
		}
		// Each group's preview: pending users first, then the others,
		// each by username (the order of the snapshot).
		previews := make([][]*state.Finding, len(groups))
		for pass := range 2 {
			for i := range snap.Findings {
				f := &snap.Findings[i]
				pending := f.Status == state.StatusPending
				if pass == 0 {
					if j, ok := taskIdx[f.Batch]; ok && pending {
						page.Tasks[j].Pending++
					}
				}
				if pending != (pass == 0) {
					continue
				}
				seen := map[int]bool{}
				for _, gp := range slices.Concat(f.Groups, f.RemovedFrom) {
					g, ok := gi[gp]
					if !ok || seen[g] {
						continue
					}
					seen[g] = true
					groups[g].Total++
					if pending {
						groups[g].Pending++
					}
					if len(previews[g]) < groupPreview {
						previews[g] = append(previews[g], f)
					}
				}
			}
		}
		for g := range groups {
			var phids []string
			for _, f := range previews[g] {
				groups[g].Users = append(groups[g].Users, s.user(cd, f))
				phids = append(phids, f.UserPHID)
			}
			if page.Inactivity {
				if err := s.addActivity(groups[g].Users, phids); err != nil {
					return err
				}
			}
			caption := fmt.Sprintf("Users of %s: all %d", groups[g].Name, groups[g].Total)
			if groups[g].Total > len(groups[g].Users) {
				caption = fmt.Sprintf("Users of %s: the first %d of %d, pending first", groups[g].Name, len(groups[g].Users), groups[g].Total)
			}
			groups[g].Table = usersTable{Campaign: cd.sum.Name, Caption: caption, Users: groups[g].Users, Inactivity: page.Inactivity}
		}
		page.Groups = groups
		for _, rm := range snap.Removals {
			page.Removals = append(page.Removals, removal(rm))
		}
		page.Chart, page.Legend = complianceChart(snap, page.Summary.Clock)
		return nil
	})
	return page, err
}

// removal is a removal batch as the campaign page shows it.
func removal(rm state.Removal) removalView {
	v := removalView{Label: rm.Label(), Status: string(rm.Status), Memberships: len(rm.Items), Count: rm.ApprovalCount(), Required: rm.RequiredApprovals, Auto: rm.AutoApproved}
	if rm.Status == state.RemovalApproved {
		v.HeldNow = text(rm.Held)
	}
	for _, p := range rm.ApprovalsByApprover() {
		av := approverView{Username: text(p.Username)}
		for _, a := range p.Approvals {
			av.Where = append(av.Where, text(a.Where())+", "+date(a.At))
		}
		v.Approvers = append(v.Approvers, av)
	}
	// Approvals given on a task count for that task's memberships only:
	// when the count differs between tasks, say so per task.
	var per []string
	uniform := true
	seen := map[int]bool{}
	for _, it := range rm.Items {
		if seen[it.Batch] {
			continue
		}
		seen[it.Batch] = true
		n := rm.ApprovalsFor(it.Batch)
		uniform = uniform && n == v.Count
		per = append(per, fmt.Sprintf("batch %d: %d", it.Batch, n))
	}
	if !uniform {
		v.Coverage = "approvals per task's memberships: " + strings.Join(per, ", ")
	}
	return v
}

type groupPageView struct {
	Summary campaignSummary
	Group   groupView
	Table   usersTable
	Status  string   // the status filter, "" for all
	Filters []string // the statuses it may filter by
	// Next is the username the next page starts after; "" on the last.
	Next string
	// First reports whether this is the first page.
	First bool
}

// buildGroup is one page of a group's users, by username after after.
func (s *Server) buildGroup(name, group, status, after string) (groupPageView, error) {
	var page groupPageView
	err := s.readCampaign(name, func(cd *campaignData, _ *digest) error {
		snap := cd.snap
		page.Summary, page.Status, page.First = cd.sum, status, after == ""
		for _, st := range statusOrder {
			page.Filters = append(page.Filters, string(st))
		}
		var g *groupView
		for _, gv := range cd.sum.Groups {
			if gv.PHID == group {
				g = &gv
				break
			}
		}
		if g == nil {
			return fmt.Errorf("%w: group %q of campaign %q", errNotFound, group, name)
		}
		page.Group = *g
		page.Table = usersTable{Campaign: cd.sum.Name, Inactivity: inactivity(snap)}
		var phids []string
		var last string
		for i := range snap.Findings { // by username
			f := &snap.Findings[i]
			if !inGroup(f, group) || (status != "" && string(f.Status) != status) || f.Username <= after && after != "" {
				continue
			}
			if len(page.Table.Users) == groupPage {
				page.Next = last
				break
			}
			page.Table.Users = append(page.Table.Users, s.user(cd, f))
			phids, last = append(phids, f.UserPHID), f.Username
		}
		page.Table.Caption = fmt.Sprintf("Users of %s", g.Name)
		if page.Table.Inactivity {
			return s.addActivity(page.Table.Users, phids)
		}
		return nil
	})
	return page, err
}

type journalFilter struct{ User, Task, Kind string }

// match reports whether an entry passes the filter.
func (f journalFilter) match(e *state.Entry) bool {
	return (f.User == "" || e.HasUser(f.User) || e.Actor == f.User || slices.Contains(e.Approvers, f.User)) &&
		(f.Task == "" || strings.EqualFold(e.Task, f.Task)) && (f.Kind == "" || string(e.Kind) == f.Kind)
}

// has is what an entry's stored encoding must contain to pass the
// filter: the user's or the kind's JSON string, quotes included (the
// journal is stored as encoding/json writes it).
func (f journalFilter) has() []byte {
	for _, v := range []string{f.User, f.Kind} {
		if v != "" {
			if b, err := json.Marshal(v); err == nil {
				return b
			}
		}
	}
	return nil
}

type journalPageView struct {
	Campaign string
	Filter   journalFilter
	Kinds    []string
	Entries  []entryView
	// Last is the journal's last entry; Earlier and Later are the keyset
	// cursors of the pages around this one (0: none), Latest the cursor
	// of the last page.
	Last                   uint64
	Earlier, Later, Latest uint64
	// FirstSeq and LastSeq are the entries shown.
	FirstSeq, LastSeq uint64
	Check             state.JournalCheck
	Problem           string
}

type entryView struct {
	Seq                              uint64
	When, Clock                      string
	Kind, Actor, ActorKind, Operator string
	Verified, Task, TaskURL          string
	Users, Groups, Approvers         string
	Outcome, Detail                  string
}

// buildJournal is one page of a campaign's journal: the entries after
// after (or before before), filtered.
func (s *Server) buildJournal(name string, f journalFilter, after, before uint64) (journalPageView, error) {
	page := journalPageView{Campaign: text(name), Filter: journalFilter{User: text(f.User), Task: text(f.Task), Kind: text(f.Kind)}}
	if err := s.digests.with(s.o.Store, name, func(d *digest) error {
		page.Check, page.Problem, page.Kinds = d.check, text(d.check.Problem), d.kindList()
		return nil
	}); err != nil {
		return page, err
	}
	jp, err := s.o.Store.JournalPage(name, state.JournalQuery{After: after, Before: before, Limit: journalPage, Match: f.match, Has: f.has()})
	if err != nil {
		return page, err
	}
	page.Last, page.Latest = jp.Last, jp.Last+1
	if n := len(jp.Entries); n > 0 {
		page.FirstSeq, page.LastSeq = jp.Entries[0].Seq, jp.Entries[n-1].Seq
		if first := jp.Entries[0].Seq; first > 1 {
			page.Earlier = first
		}
		if last := jp.Entries[n-1].Seq; last < jp.Last {
			page.Later = last
		}
	}
	for _, e := range jp.Entries {
		v := entryView{Seq: e.Seq, Kind: text(string(e.Kind)), Actor: text(e.Actor), ActorKind: text(e.ActorKind), Operator: text(e.Operator),
			Verified: text(e.Verified), Task: text(e.Task), TaskURL: taskURL(s.o.PhabURL, e.Task),
			Users: text(strings.Join(e.Users, ", ")), Groups: text(strings.Join(e.Groups, ", ")), Approvers: text(strings.Join(e.Approvers, ", ")),
			Outcome: text(e.Outcome), Detail: text(e.Detail)}
		when := cmp.Or(e.Recorded, e.At)
		v.When = when.UTC().Format("2006-01-02 15:04:05")
		if !e.Recorded.IsZero() && e.At.Sub(e.Recorded).Abs() > time.Minute {
			v.Clock = date(e.At)
		}
		page.Entries = append(page.Entries, v)
	}
	return page, nil
}
