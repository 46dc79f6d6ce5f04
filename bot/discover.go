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
	found, err := b.resolveProjects(ctx, uniq(names), true)
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
		visible := b.visibleProjectNames(ctx)
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
	self, err := b.self(ctx)
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
// without MFA and the disabled ones, in pages of 100.
func (b *Bot) findNonCompliant(ctx context.Context, c *campaigns.Campaign, snap *snapshot) error {
	self := snap.self
	var members []string
	seen := map[string]bool{}
	for _, g := range snap.groups {
		for _, m := range g.MemberPHIDs {
			if seen[m] {
				continue
			}
			seen[m] = true
			if strings.HasPrefix(m, "PHID-USER-") {
				members = append(members, m)
			} else {
				snap.nonUsers = append(snap.nonUsers, m)
			}
		}
	}
	slices.Sort(members)
	slices.Sort(snap.nonUsers)

	x := &critEnv{b: b, c: c, self: self, now: b.now().UTC(), groups: snap.groups}
	if c.Has(campaigns.CriterionInactive) && len(c.Inactivity.Scope) > 0 {
		found, err := b.resolveProjects(ctx, c.Inactivity.Scope, true)
		if err != nil {
			return fmt.Errorf("resolve activity_scope: %w", err)
		}
		for _, name := range c.Inactivity.Scope {
			p, ok := found[name]
			if !ok {
				return fmt.Errorf("%w: activity_scope: unknown project %s: no project with that name or slug is visible to the bot", ErrInput, name)
			}
			snap.scope = append(snap.scope, p)
			x.scope = append(x.scope, p.PHID)
		}
	}
	bad := map[string]conduit.User{}
	reasons := map[string][]string{}
	criteria := campaignCriteria(c)
	// Progress counts members checked, one pass per criterion; a pass
	// pages through the members itself (user.search 100 at a time,
	// several calls in flight; the feed in chunks of 1,000).
	b.progress.Start(len(criteria)*len(members), "checking members")
	defer b.progress.Done()
	for _, cr := range criteria {
		if len(members) == 0 {
			break
		}
		fails, err := cr.find(ctx, x, members)
		if err != nil {
			return err
		}
		b.progress.Add(len(members))
		for phid, u := range fails {
			if prev, ok := bad[phid]; !ok || prev.Username == "" {
				bad[phid] = u
			}
			// A disabled account cannot log in to do what a criterion with
			// a conversation asks (enable MFA, reply): it is a finding only
			// under a criterion that needs no answer from it.
			if u.IsDisabled() && cr.conversation {
				continue
			}
			reasons[phid] = append(reasons[phid], cr.reason)
		}
	}
	// With the disabled criterion, a disabled account is audited as that
	// only: the other reasons ask it for something it cannot do.
	for phid, rs := range reasons {
		if slices.Contains(rs, reasonDisabled) && bad[phid].IsDisabled() {
			reasons[phid] = slices.DeleteFunc(rs, func(r string) bool { return r != reasonDisabled && r != reasonList })
		}
	}
	snap.listReport = x.listReport

	for phid, u := range bad {
		switch {
		case c.Excluded(u.Username):
			snap.skipped = append(snap.skipped, Skipped{u.Username, "excluded by the campaign file"})
			continue
		case u.IsBot() && c.ExcludeBots:
			snap.skipped = append(snap.skipped, Skipped{u.Username, "bot account"})
			continue
		case u.IsMailingList() && c.ExcludeMailingLists:
			snap.skipped = append(snap.skipped, Skipped{u.Username, "mailing list"})
			continue
		case len(reasons[phid]) == 0:
			snap.skipped = append(snap.skipped, Skipped{u.Username, "disabled account (the campaign does not audit disabled accounts)"})
			continue
		}
		f := plannedFinding{User: u, Reasons: reasons[phid], TeamTask: u.IsDisabled()}
		for _, g := range snap.groups {
			if slices.Contains(g.MemberPHIDs, phid) {
				f.Groups = append(f.Groups, g)
			}
		}
		snap.findings = append(snap.findings, f)
	}
	slices.SortFunc(snap.findings, func(a, b plannedFinding) int { return cmp.Compare(a.User.Username, b.User.Username) })
	slices.SortFunc(snap.skipped, func(a, b Skipped) int { return cmp.Compare(a.Username, b.Username) })
	return nil
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
