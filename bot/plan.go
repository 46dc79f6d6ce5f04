package bot

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// Plan is exactly what launch would do, computed without side effects.
type Plan struct {
	Campaign   string        `json:"campaign"`
	Title      string        `json:"title"`
	Cutoff     time.Time     `json:"cutoff"`
	CutoffDate string        `json:"cutoff_date"`
	Approvers  string        `json:"approvers"`
	Team       string        `json:"team,omitempty"`
	Groups     []PlanGroup   `json:"groups"`
	Findings   []PlanFinding `json:"findings"`
	Skipped    []Skipped     `json:"skipped"`
	// Action is "disable" for a campaign that disables accounts (empty:
	// memberships are removed). NeverDisabled are the affected users it
	// will never disable, and why (bots, administrators, approvers).
	Action         string      `json:"action,omitempty"`
	NeverDisabled  []Skipped   `json:"never_disabled,omitempty"`
	NonUserMembers []string    `json:"non_user_members,omitempty"`
	Tasks          []PlanTask  `json:"tasks"`
	Reminders      []time.Time `json:"reminders"`
	// List is what the list criterion's file names that the campaign
	// cannot act on (unknown usernames, non-members); nil without it.
	List *ListReport `json:"list,omitempty"`
	// Visibility says, per group, what activity the bot cannot see (the
	// inactive criterion only).
	Visibility []Visibility `json:"visibility,omitempty"`
	// ActivityScan is what reading the members' activity cost (the
	// inactive criterion, with a source that counts); nil otherwise.
	ActivityScan *ActivityScan `json:"activity_scan,omitempty"`
}

// ActivityScan is the cost of one discovery's activity scan: feed.query
// calls and the stories they returned, which the server's time follows
// (NOTES fact 40). The design: about one call per hundred active members
// and one per thousand members, and about one story per active member.
type ActivityScan struct {
	Calls   int `json:"calls"`
	Stories int `json:"stories"`
}

// activityCoster is an activity source that counts what its scans cost
// (activity.Source).
type activityCoster interface {
	ActivityCost() (calls, stories int)
}

// PlanGroup is one audited group in a plan.
type PlanGroup struct {
	Name              string `json:"name"`
	PHID              string `json:"phid"`
	Risk              string `json:"risk"`
	RequiredApprovals int    `json:"required_approvals"`
	Members           int    `json:"members"`
	Affected          int    `json:"affected"`
}

// PlanFinding is one affected user in a plan.
type PlanFinding struct {
	Username string   `json:"username"`
	PHID     string   `json:"phid"`
	Groups   []string `json:"groups"`
	Reasons  []string `json:"reasons"`
	Batch    int      `json:"batch"`
}

// PlanTask is one task launch would file.
type PlanTask struct {
	Batch       int      `json:"batch"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Subscribers []string `json:"subscribers"`
	Projects    []string `json:"projects"`
	ViewPolicy  string   `json:"view_policy"`
	EditPolicy  string   `json:"edit_policy"`
}

// Plan discovers the campaign's findings and renders every task it would
// file, writing nothing anywhere. Templates are validated first, so a
// broken template fails here and not halfway through a launch.
func (b *Bot) Plan(ctx context.Context, c *campaigns.Campaign) (*Plan, error) {
	if err := b.tmpl.Validate(); err != nil {
		return nil, fmt.Errorf("%w: templates: %w", ErrInput, err)
	}
	coster, counts := b.activity.(activityCoster)
	var calls0, stories0 int
	if counts {
		calls0, stories0 = coster.ActivityCost()
	}
	snap, err := b.discover(ctx, c)
	if err != nil {
		return nil, err
	}
	p, err := newPlan(b.words, c, snap, b.now())
	if err != nil {
		return nil, err
	}
	if counts && c.Has(campaigns.CriterionInactive) {
		calls, stories := coster.ActivityCost()
		p.ActivityScan = &ActivityScan{Calls: calls - calls0, Stories: stories - stories0}
	}
	return p, nil
}

// newPlan is what launching c would do, from what discovery found:
// the groups, the findings and the text of every task.
func newPlan(w *wording, c *campaigns.Campaign, snap *snapshot, now time.Time) (*Plan, error) {
	rec := newCampaignRecord(c, snap)
	findings, batchList := newFindings(c, snap, now)
	p := &Plan{
		Campaign: c.Name, Title: c.Title, Cutoff: c.Cutoff, CutoffDate: c.CutoffDate,
		Approvers: snap.approvers.Name, Skipped: snap.skipped, NonUserMembers: snap.nonUsers,
		List: snap.listReport, Visibility: activityVisibility(c, snap),
		Groups: planGroups(snap),
	}
	if snap.team != nil {
		p.Team = snap.team.Name
	}
	if c.Disables() {
		p.Action, p.NeverDisabled = string(campaigns.ActionDisable), neverDisabled(snap)
	}
	p.Findings = make([]PlanFinding, 0, len(findings))
	for _, f := range findings {
		p.Findings = append(p.Findings, PlanFinding{Username: f.Username, PHID: f.UserPHID, Groups: groupNames(&rec, f.Groups), Reasons: f.Reasons, Batch: f.Batch})
	}
	slices.SortFunc(p.Findings, func(a, b PlanFinding) int { return strings.Compare(a.Username, b.Username) })
	var err error
	if p.Tasks, err = planTasks(w, c, &rec, snap, findings, batchList); err != nil {
		return nil, err
	}
	for _, off := range c.Reminders {
		p.Reminders = append(p.Reminders, c.Cutoff.Add(-off))
	}
	return p, nil
}

// planGroups lists the audited groups with their members and how many of
// them the campaign affects.
func planGroups(snap *snapshot) []PlanGroup {
	affected := map[string]int{}
	for _, f := range snap.findings {
		for _, g := range uniqGroups(f.Groups) {
			affected[g]++
		}
	}
	var out []PlanGroup
	for _, g := range snap.groups {
		out = append(out, PlanGroup{Name: g.Name, PHID: g.PHID, Risk: g.Risk.String(), RequiredApprovals: g.Risk.RequiredApprovals(),
			Members: len(g.MemberPHIDs), Affected: affected[g.PHID]})
	}
	return out
}

// uniqGroups are the PHIDs of gs, each once.
func uniqGroups(gs []groupView) []string {
	var out []string
	for _, g := range gs {
		if !slices.Contains(out, g.PHID) {
			out = append(out, g.PHID)
		}
	}
	return out
}

// planTasks renders the task of every batch as launch would file it.
func planTasks(w *wording, c *campaigns.Campaign, rec *state.Campaign, snap *snapshot, findings []state.Finding, list []state.Batch) ([]PlanTask, error) {
	names := map[string]string{}
	for _, f := range findings {
		names[f.UserPHID] = f.Username
	}
	idx := indexFindings(findings)
	var out []PlanTask
	for _, bt := range list {
		spec, err := taskSpec(w, c, rec, bt, idx.of(bt), len(list))
		if err != nil {
			return nil, err
		}
		// The description as it will be filed: the executor ends it with
		// the task's marker.
		pt := PlanTask{Batch: bt.Index, Title: spec.Title, Description: withMarker(spec.Description, c.Name, taskKey(bt.Index)), ViewPolicy: spec.ViewPolicy, EditPolicy: spec.EditPolicy}
		for _, s := range spec.SubscriberPHIDs {
			pt.Subscribers = append(pt.Subscribers, subscriberName(snap, names, s))
		}
		for _, pp := range spec.ProjectPHIDs {
			pt.Projects = append(pt.Projects, projectName(snap, pp))
		}
		out = append(out, pt)
	}
	return out, nil
}

// subscriberName names a task's subscriber as the plan shows it.
func subscriberName(snap *snapshot, users map[string]string, phid string) string {
	if n, ok := users[phid]; ok {
		return "@" + n
	}
	if snap.team != nil && phid == snap.team.PHID {
		return "#" + snap.team.Slug
	}
	if phid == snap.approvers.PHID {
		return "#" + snap.approvers.Slug
	}
	return phid
}

func projectName(snap *snapshot, phid string) string {
	if snap.team != nil && snap.team.PHID == phid {
		return snap.team.Name
	}
	for _, t := range snap.tags {
		if t.PHID == phid {
			return t.Name
		}
	}
	return phid
}

// newCampaignRecord is the state record launch would write.
func newCampaignRecord(c *campaigns.Campaign, snap *snapshot) state.Campaign {
	rec := state.Campaign{
		Name: c.Name, Title: c.Title, Cutoff: c.Cutoff, OriginalCutoff: c.Cutoff,
		ApproversPHID: snap.approvers.PHID, ApproversName: snap.approvers.Name,
		ApproversSlug: snap.approvers.Slug, BotPHID: snap.self.PHID, BotUsername: snap.self.Username, Source: c.Source,
	}
	if snap.team != nil {
		rec.TeamPHID = snap.team.PHID
		rec.TeamName = snap.team.Name
	}
	for _, t := range snap.tags {
		rec.TagPHIDs = append(rec.TagPHIDs, t.PHID)
	}
	for _, g := range snap.groups {
		rec.Groups = append(rec.Groups, state.Group{PHID: g.PHID, Name: g.Name, Slug: g.Slug, Risk: g.Risk.String()})
	}
	return rec
}

// newFindings turns the snapshot's findings into state records and cuts
// them into batches of the campaign's batch size.
func newFindings(c *campaigns.Campaign, snap *snapshot, now time.Time) ([]state.Finding, []state.Batch) {
	out := make([]state.Finding, 0, len(snap.findings))
	var list []state.Batch
	// Users who cannot be told (disabled accounts) are listed on one task
	// for the team, after the users' own tasks, and subscribed nowhere.
	var told, team []plannedFinding
	for _, pf := range snap.findings {
		if pf.TeamTask {
			team = append(team, pf)
		} else {
			told = append(told, pf)
		}
	}
	chunks := batches(told, c.BatchSize)
	if len(team) > 0 {
		chunks = append(chunks, team)
	}
	for i, chunk := range chunks {
		bt := state.Batch{Index: i + 1, Team: len(team) > 0 && i == len(chunks)-1, UserPHIDs: make([]string, 0, len(chunk))}
		for _, pf := range chunk {
			f := state.Finding{
				UserPHID: pf.User.PHID, Username: pf.User.Username, RealName: pf.User.RealName,
				Reasons: pf.Reasons, Status: state.StatusPending, Batch: bt.Index, UpdatedAt: now.UTC(),
				TeamTask: pf.TeamTask,
			}
			for _, g := range pf.Groups {
				if f.Groups == nil {
					f.Groups = make([]string, 0, len(pf.Groups))
				}
				f.Groups = append(f.Groups, g.PHID)
			}
			out = append(out, f)
			bt.UserPHIDs = append(bt.UserPHIDs, f.UserPHID)
		}
		list = append(list, bt)
	}
	return out, list
}

func groupNames(c *state.Campaign, phids []string) []string {
	var out []string
	for _, p := range phids {
		if g, ok := c.GroupByPHID(p); ok {
			out = append(out, g.Name)
		} else {
			out = append(out, p)
		}
	}
	return out
}

// taskSpec renders the task for one batch. Plan and launch both use it, so
// the plan shows the exact texts and policies launch files.
func taskSpec(w *wording, c *campaigns.Campaign, rec *state.Campaign, bt state.Batch, fs []state.Finding, total int) (conduit.TaskSpec, error) {
	data := w.taskData(c, rec, bt, fs, total)
	titleT, descT := templates.TaskTitle, templates.TaskDescription
	if bt.Team {
		titleT, descT = templates.TeamTaskTitle, templates.TeamTaskDescription
	}
	title, err := w.render(titleT, data)
	if err != nil {
		return conduit.TaskSpec{}, err
	}
	desc, err := w.render(descT, data)
	if err != nil {
		return conduit.TaskSpec{}, err
	}
	spec := conduit.TaskSpec{
		Title:       strings.TrimSpace(title),
		Description: desc,
	}
	// The team's task subscribes nobody it lists: they cannot act on it,
	// and the team and approvers decide.
	if !bt.Team {
		spec.SubscriberPHIDs = slices.Clone(bt.UserPHIDs)
	}
	if rec.TeamPHID != "" {
		spec.SubscriberPHIDs = append(spec.SubscriberPHIDs, rec.TeamPHID)
		spec.ProjectPHIDs = append(spec.ProjectPHIDs, rec.TeamPHID)
	}
	// The approvers' project is not subscribed here: every comment would
	// mail all its members. The comments that ask them for a decision (a
	// removal proposal, an exemption or restore request) subscribe it, so
	// that with a subscribers-only policy its members can read the task
	// from then on (approversEdits). A `list` campaign is the exception:
	// there only an approver's `!keep` keeps anyone, so they must see the
	// tasks from the start.
	if approversAtLaunch(c) && rec.ApproversPHID != "" && !slices.Contains(spec.SubscriberPHIDs, rec.ApproversPHID) {
		spec.SubscriberPHIDs = append(spec.SubscriberPHIDs, rec.ApproversPHID)
	}
	for _, t := range rec.TagPHIDs {
		if !slices.Contains(spec.ProjectPHIDs, t) {
			spec.ProjectPHIDs = append(spec.ProjectPHIDs, t)
		}
	}
	// The policies recorded at launch win over an edited campaign file.
	if spec.ViewPolicy, spec.EditPolicy, err = taskPolicies(c, rec); err != nil {
		return conduit.TaskSpec{}, err
	}
	return spec, nil
}

// writeHeader prints what the summary and the full text share: the
// campaign, its cutoff and approvers, and the groups.
func (p *Plan) writeHeader(sb *strings.Builder) {
	fmt.Fprintf(sb, "Campaign %s: %s\n", p.Campaign, p.Title)
	fmt.Fprintf(sb, "Deadline: %s (removal may be proposed after it)\n", state.CutoffText(p.Cutoff))
	fmt.Fprintf(sb, "Approvers: %s\n", p.Approvers)
	if p.Action == string(campaigns.ActionDisable) {
		fmt.Fprintf(sb, "Action: disable accounts (memberships stay; bots, administrators and approvers are never disabled)\n")
	}
	sb.WriteString("\n")
	tw := tabwriter.NewWriter(sb, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tRISK\tAPPROVALS\tMEMBERS\tAFFECTED")
	for _, g := range p.Groups {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", g.Name, g.Risk, g.RequiredApprovals, g.Members, g.Affected)
	}
	tw.Flush()
}

// WriteSummary prints the plan in a few lines whatever the campaign's
// size: the groups with their members and affected users, the skipped
// members counted by reason, one line per task with its user count, and
// the reminders. A plan over a 10,000-member group stays a screenful;
// WriteText has every user and task text.
func (p *Plan) WriteSummary(w io.Writer) error {
	var sb strings.Builder
	p.writeHeader(&sb)
	fmt.Fprintf(&sb, "\n%d affected user(s) in %d task(s):\n", len(p.Findings), len(p.Tasks))
	users := map[int][]string{}
	for _, f := range p.Findings {
		users[f.Batch] = append(users[f.Batch], f.Username)
	}
	for _, t := range p.Tasks {
		u := users[t.Batch]
		span := ""
		switch len(u) {
		case 0:
		case 1:
			span = " (" + u[0] + ")"
		default:
			span = " (" + u[0] + " … " + u[len(u)-1] + ")"
		}
		fmt.Fprintf(&sb, "  batch %d: %d user(s)%s\n", t.Batch, len(u), span)
	}
	if len(p.Skipped) > 0 {
		fmt.Fprintf(&sb, "\nNot audited (%d):\n", len(p.Skipped))
		count := map[string]int{}
		var reasons []string
		for _, s := range p.Skipped {
			if count[s.Reason] == 0 {
				reasons = append(reasons, s.Reason)
			}
			count[s.Reason]++
		}
		slices.Sort(reasons)
		for _, r := range reasons {
			fmt.Fprintf(&sb, "  %d: %s\n", count[r], r)
		}
	}
	if len(p.NonUserMembers) > 0 {
		fmt.Fprintf(&sb, "\nMembers that are not users (left alone): %d\n", len(p.NonUserMembers))
	}
	p.writeNeverDisabled(&sb)
	p.writeActivity(&sb)
	p.writeReminders(&sb)
	sb.WriteString("\nEvery user and the full text of each task: --full; everything as JSON: --json.\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// writeActivity says what activity the bot cannot see and what its scan
// cost (the inactive criterion).
func (p *Plan) writeActivity(sb *strings.Builder) {
	if len(p.Visibility) > 0 {
		sb.WriteString("\nActivity the bot cannot see (a flagged member keeps access by replying on the task):\n")
		for _, v := range p.Visibility {
			fmt.Fprintf(sb, "  %s: %s\n", v.Subject, v.Detail)
		}
	}
	if a := p.ActivityScan; a != nil {
		fmt.Fprintf(sb, "\nActivity scan: %d feed.query call(s), %d stor(ies) read\n", a.Calls, a.Stories)
	}
}

func (p *Plan) writeReminders(sb *strings.Builder) {
	if len(p.Reminders) > 0 {
		fmt.Fprintf(sb, "\nReminders at:")
		for _, r := range p.Reminders {
			fmt.Fprintf(sb, " %s", r.UTC().Format("2006-01-02 15:04"))
		}
		sb.WriteString("\n")
	}
}

// WriteText prints the whole plan for a person: every affected and
// skipped user and the full text of every task.
func (p *Plan) WriteText(w io.Writer) error {
	var sb strings.Builder
	p.writeHeader(&sb)
	fmt.Fprintf(&sb, "\n%d affected user(s) in %d task(s):\n", len(p.Findings), len(p.Tasks))
	tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tREASONS\tGROUPS\tTASK")
	for _, f := range p.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\tbatch %d\n", f.Username, strings.Join(f.Reasons, ","), strings.Join(f.Groups, ", "), f.Batch)
	}
	tw.Flush()
	if len(p.Skipped) > 0 {
		fmt.Fprintf(&sb, "\nNot audited (%d):\n", len(p.Skipped))
		for _, s := range p.Skipped {
			fmt.Fprintf(&sb, "  %s: %s\n", s.Username, s.Reason)
		}
	}
	if p.List != nil && !p.List.Empty() {
		fmt.Fprintf(&sb, "\nNames in %s the campaign cannot act on:\n", p.List.File)
		if len(p.List.Unknown) > 0 {
			fmt.Fprintf(&sb, "  unknown username(s): %s\n", strings.Join(p.List.Unknown, ", "))
		}
		if len(p.List.NotMembers) > 0 {
			fmt.Fprintf(&sb, "  not a member of any audited group: %s\n", strings.Join(p.List.NotMembers, ", "))
		}
	}
	p.writeActivity(&sb)
	if len(p.NonUserMembers) > 0 {
		fmt.Fprintf(&sb, "\nMembers that are not users (left alone): %s\n", strings.Join(p.NonUserMembers, ", "))
	}
	p.writeNeverDisabled(&sb)
	for _, t := range p.Tasks {
		fmt.Fprintf(&sb, "\n--- task for batch %d (view: %s, edit: %s)\nTitle: %s\nSubscribers: %s\nTags: %s\n\n%s\n",
			t.Batch, t.ViewPolicy, t.EditPolicy, t.Title, strings.Join(t.Subscribers, " "), strings.Join(t.Projects, ", "), t.Description)
	}
	p.writeReminders(&sb)
	_, err := io.WriteString(w, sb.String())
	return err
}

// approversAtLaunch reports whether the campaign's tasks subscribe the
// approvers' project when they are filed: in a `list` campaign only an
// approver's `!keep` keeps a member, so the approvers must be able to read
// the tasks before anyone asks them.
func approversAtLaunch(c *campaigns.Campaign) bool { return c.Has(campaigns.CriterionList) }

// writeNeverDisabled lists the affected users a campaign that disables
// accounts will never disable, and why.
func (p *Plan) writeNeverDisabled(sb *strings.Builder) {
	if len(p.NeverDisabled) == 0 {
		return
	}
	fmt.Fprintf(sb, "\nExempt: never disabled (%d), a person decides:\n", len(p.NeverDisabled))
	for _, s := range p.NeverDisabled {
		fmt.Fprintf(sb, "  %s: %s\n", s.Username, s.Reason)
	}
}

// neverDisabled are the affected users discovery found that a campaign
// with action disable will never disable (disableExemption's rules, on
// the accounts as discovery read them), by username.
func neverDisabled(snap *snapshot) []Skipped {
	var out []Skipped
	for _, f := range snap.findings {
		if why := accountExemption(f.User, f.User.PHID == snap.self.PHID, slices.Contains(snap.approvers.MemberPHIDs, f.User.PHID)); why != "" && why != exemptDisabled {
			out = append(out, Skipped{Username: f.User.Username, Reason: why})
		}
	}
	return out
}
