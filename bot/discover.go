package bot

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
)

// groupView is an audited group as discovered, with its risk level.
type groupView struct {
	conduit.Project
	Risk campaigns.Risk
}

// snapshot is the read model of one campaign: who is in which group and
// who is not compliant, as Phabricator says now. Decisions are made from it
// and from the state file; writes come after.
type snapshot struct {
	self      conduit.Whoami
	groups    []groupView // riskiest first, then by name
	approvers conduit.Project
	team      *conduit.Project
	tags      []conduit.Project
	findings  []plannedFinding // sorted by username
	skipped   []Skipped
	// nonUsers are member PHIDs that are not users (NOTES fact 30: the
	// server accepts anything as a member), reported but never touched.
	nonUsers []string
	// listReport is what the list criterion's file names that the
	// campaign cannot act on; nil without the criterion.
	listReport *ListReport
	// scope are the inactive criterion's activity_scope projects.
	scope []conduit.Project
}

// plannedFinding is one affected user as discovery sees them.
type plannedFinding struct {
	User    conduit.User
	Groups  []groupView
	Reasons []string
	// TeamTask: the user cannot be told (a disabled account) and is
	// listed on the team's task.
	TeamTask bool
}

// Skipped is a non-compliant member the campaign leaves alone, and why.
type Skipped struct {
	Username string `json:"username"`
	Reason   string `json:"reason"`
}

// sortRiskiestFirst orders groups by descending risk, then name.
func sortRiskiestFirst(gs []groupView) {
	slices.SortStableFunc(gs, func(a, b groupView) int {
		if c := cmp.Compare(b.Risk, a.Risk); c != 0 {
			return c
		}
		return cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
}

// resolveGroups finds the campaign's groups, approvers, team and tags in one
// project.search call.
func (b *Bot) resolveGroups(ctx context.Context, c *campaigns.Campaign) (*snapshot, error) {
	names := slices.Clone(c.Groups)
	names = append(names, c.Approvers)
	if c.Team != "" {
		names = append(names, c.Team)
	}
	names = append(names, c.Tags...)
	found, err := b.read.resolveProjects(ctx, uniq(names), true)
	if err != nil {
		return nil, fmt.Errorf("resolve groups: %w", err)
	}
	snap := &snapshot{}
	var missing []string
	for _, name := range c.Groups {
		p, ok := found[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		snap.groups = append(snap.groups, groupView{Project: p, Risk: b.cfg.RiskOf(p.Name)})
	}
	if p, ok := found[c.Approvers]; ok {
		snap.approvers = p
	} else {
		missing = append(missing, c.Approvers+" (approvers)")
	}
	if c.Team != "" {
		if p, ok := found[c.Team]; ok {
			snap.team = &p
		} else {
			missing = append(missing, c.Team+" (team)")
		}
	}
	for _, t := range c.Tags {
		if p, ok := found[t]; ok {
			snap.tags = append(snap.tags, p)
		} else {
			missing = append(missing, t+" (tag)")
		}
	}
	if len(missing) > 0 {
		visible := b.read.visibleProjectNames(ctx)
		for i, m := range missing {
			name, role, _ := strings.Cut(m, " (")
			if s := campaigns.Suggest(name, visible); s != "" {
				missing[i] = fmt.Sprintf("%s (did you mean %q?)", name, s)
				if role != "" {
					missing[i] += " (" + role
				}
			}
		}
		return nil, fmt.Errorf("%w: unknown group(s) %s: no project with that name or slug is visible to the bot (a project whose view policy excludes the bot is invisible even to an admin)",
			ErrInput, strings.Join(missing, ", "))
	}
	sortRiskiestFirst(snap.groups)
	return snap, nil
}

// maxSuggestProjects bounds how many visible projects an unknown group's
// did-you-mean looks at: ten project.search pages, on the error path only.
const maxSuggestProjects = 1000

// projectLister is the Phabricator call did-you-mean needs; fakes that
// lack it just give no suggestion.
type projectLister interface {
	ProjectNames(ctx context.Context, max int) ([]string, error)
}

// discover builds the snapshot for a campaign: groups and their members,
// then the members without MFA and the disabled ones, in pages of 100.
func (b *Bot) discover(ctx context.Context, c *campaigns.Campaign) (*snapshot, error) {
	self, err := b.read.self(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := b.resolveGroups(ctx, c)
	if err != nil {
		return nil, err
	}
	snap.self = self
	return snap, b.findNonCompliant(ctx, c, snap)
}

// findNonCompliant fills a resolved snapshot's findings: the members
// each criterion finds failing (user.search pages of 100 for MFA and
// disabled accounts, the activity source for inactivity, the list file),
// then, without another read, who is audited for what and who is left
// alone (decideFindings).
func (b *Bot) findNonCompliant(ctx context.Context, c *campaigns.Campaign, snap *snapshot) error {
	var members []string
	members, snap.nonUsers = groupMembers(snap.groups)
	x := &critEnv{read: b.read, c: c, self: snap.self, now: b.now().UTC(), groups: snap.groups}
	if c.Has(campaigns.CriterionInactive) && len(c.Inactivity.Scope) > 0 {
		scope, err := b.read.activityScope(ctx, c)
		if err != nil {
			return err
		}
		snap.scope = scope
		for _, p := range scope {
			x.scope = append(x.scope, p.PHID)
		}
	}
	fails, err := b.findFailing(ctx, x, members)
	if err != nil {
		return err
	}
	snap.listReport = x.listReport
	snap.findings, snap.skipped = decideFindings(c, snap.groups, fails)
	return nil
}

// groupMembers returns the groups' members, each once and sorted: the
// users, and the members that are not users (NOTES fact 30: the server
// accepts anything as a member), which are reported and never touched.
func groupMembers(groups []groupView) (users, nonUsers []string) {
	for _, g := range groups {
		for _, m := range g.MemberPHIDs {
			if strings.HasPrefix(m, "PHID-USER-") {
				users = append(users, m)
			} else {
				nonUsers = append(nonUsers, m)
			}
		}
	}
	slices.Sort(users)
	slices.Sort(nonUsers)
	return slices.Compact(users), slices.Compact(nonUsers)
}

// failed is who one criterion found failing, by PHID.
type failed struct {
	cr    criterion
	users map[string]conduit.User
}

// findFailing asks each of the campaign's criteria, in table order, which
// of members fail it.
func (b *Bot) findFailing(ctx context.Context, x *critEnv, members []string) ([]failed, error) {
	criteria := campaignCriteria(x.c)
	// Progress counts members checked, one pass per criterion; a pass
	// pages through the members itself (user.search 100 at a time,
	// several calls in flight; the feed in chunks of 1,000).
	b.progress.Start(len(criteria)*len(members), "checking members")
	defer b.progress.Done()
	var out []failed
	for _, cr := range criteria {
		if len(members) == 0 {
			break
		}
		users, err := cr.find(ctx, x, members)
		if err != nil {
			return nil, err
		}
		b.progress.Add(len(members))
		out = append(out, failed{cr, users})
	}
	return out, nil
}

// decideFindings is who a discovery audits, and for what (sorted by
// username), and who it leaves alone and why, from what each criterion
// found (fails, in table order). A disabled account cannot log in to do
// what a criterion with a conversation asks (enable MFA, reply): it is a
// finding only under a criterion that needs no answer from it, and with
// the disabled criterion it is audited as that only.
func decideFindings(c *campaigns.Campaign, groups []groupView, fails []failed) ([]plannedFinding, []Skipped) {
	bad := map[string]conduit.User{}
	reasons := map[string][]string{}
	for _, fl := range fails {
		for phid, u := range fl.users {
			if prev, ok := bad[phid]; !ok || prev.Username == "" {
				bad[phid] = u
			}
			if u.IsDisabled() && fl.cr.conversation {
				continue
			}
			reasons[phid] = append(reasons[phid], fl.cr.reason)
		}
	}
	for phid, rs := range reasons {
		if slices.Contains(rs, reasonDisabled) && bad[phid].IsDisabled() {
			reasons[phid] = slices.DeleteFunc(rs, func(r string) bool { return r != reasonDisabled && r != reasonList })
		}
	}
	at := make(map[string]int, len(bad))
	findings := make([]plannedFinding, 0, len(bad))
	var skipped []Skipped
	for phid, u := range bad {
		if why := skipWhy(c, u, reasons[phid]); why != "" {
			skipped = append(skipped, Skipped{u.Username, why})
			continue
		}
		at[phid] = len(findings)
		findings = append(findings, plannedFinding{User: u, Reasons: reasons[phid], TeamTask: u.IsDisabled()})
	}
	// Each finding's groups, in the groups' order, in one pass over their
	// members (last: the group a finding got last, for a member listed
	// twice).
	last := make([]int, len(findings))
	for i := range last {
		last[i] = -1
	}
	for gi, g := range groups {
		for _, m := range g.MemberPHIDs {
			if i, ok := at[m]; ok && last[i] != gi {
				last[i] = gi
				findings[i].Groups = append(findings[i].Groups, g)
			}
		}
	}
	slices.SortFunc(findings, func(a, b plannedFinding) int { return cmp.Compare(a.User.Username, b.User.Username) })
	slices.SortFunc(skipped, func(a, b Skipped) int { return cmp.Compare(a.Username, b.Username) })
	return findings, skipped
}

// skipWhy says why the campaign leaves a failing member alone, or "" if
// it audits them for reasons.
func skipWhy(c *campaigns.Campaign, u conduit.User, reasons []string) string {
	switch {
	case c.Excluded(u.Username):
		return "excluded by the campaign file"
	case u.IsBot() && c.ExcludeBots:
		return "bot account"
	case u.IsMailingList() && c.ExcludeMailingLists:
		return "mailing list"
	case len(reasons) == 0:
		return "disabled account (the campaign does not audit disabled accounts)"
	}
	return ""
}

// batches cuts findings into tasks of at most size users, in username order
// so that the same snapshot always gives the same batches.
func batches[T any](items []T, size int) [][]T {
	var out [][]T
	for len(items) > 0 {
		n := min(size, len(items))
		out = append(out, items[:n])
		items = items[n:]
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
