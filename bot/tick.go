package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// run is one tick of one campaign: what the chores share.
type run struct {
	c   *campaigns.Campaign
	rec state.Campaign
	// members maps each audited group's PHID to its live members, fetched
	// once per tick by the drift chore.
	members map[string][]string
	// approvers is the approvers' project's live member list, fetched at
	// most once per tick, when a command or approval needs it.
	approvers []string
	report    *CampaignTick
}

// chore is one step of a tick. The daemon and the one-shot tick run the
// same table, in this order: later chores use what earlier ones learned.
type chore struct {
	name string
	run  func(b *Bot, ctx context.Context, r *run) error
}

// Chores is the tick's table of work, in order.
var chores = []chore{
	{"tasks", (*Bot).choreTasks},
	{"drift", (*Bot).choreDrift},
	{"replies", (*Bot).choreReplies},
	{"reminders", (*Bot).choreReminders},
	{"propose-removals", (*Bot).choreProposeRemovals},
	{"announce-removals", (*Bot).choreAnnounceRemovals},
	{"execute-removals", (*Bot).choreExecuteRemovals},
}

// ChoreNames lists the tick's chores in order, for --only and usage text.
func ChoreNames() []string {
	var out []string
	for _, c := range chores {
		out = append(out, c.name)
	}
	return out
}

// TickOptions narrow a tick.
type TickOptions struct {
	// Campaigns limits the tick to these campaigns (default: all launched).
	Campaigns []string
	// Only limits the tick to these chores (default: all).
	Only []string
}

// TickReport is what a tick did, per campaign.
type TickReport struct {
	Campaigns []*CampaignTick `json:"campaigns"`
}

// CampaignTick is one campaign's part of a tick.
type CampaignTick struct {
	Campaign string   `json:"campaign"`
	Events   []string `json:"events"`
	Errors   []string `json:"errors,omitempty"`
}

func (r *run) event(format string, args ...any) {
	r.report.Events = append(r.report.Events, fmt.Sprintf(format, args...))
}

// Tick does all due work for every launched campaign. Errors are collected
// per campaign and per chore: one failing campaign does not stop the
// others, and the returned error joins them all.
func (b *Bot) Tick(ctx context.Context, opts TickOptions) (*TickReport, error) {
	for _, o := range opts.Only {
		if !slices.Contains(ChoreNames(), o) {
			return nil, fmt.Errorf("%w: unknown chore %q (chores: %s)", ErrInput, o, strings.Join(ChoreNames(), ", "))
		}
	}
	names := opts.Campaigns
	if len(names) == 0 {
		var err error
		if names, err = b.store.CampaignNames(); err != nil {
			return nil, err
		}
	}
	report := &TickReport{}
	var errs []error
	for _, name := range names {
		ct := &CampaignTick{Campaign: name}
		report.Campaigns = append(report.Campaigns, ct)
		if err := b.tickCampaign(ctx, name, opts.Only, ct); err != nil {
			ct.Errors = append(ct.Errors, err.Error())
			errs = append(errs, fmt.Errorf("campaign %s: %w", name, err))
		}
	}
	return report, errors.Join(errs...)
}

func (b *Bot) tickCampaign(ctx context.Context, name string, only []string, ct *CampaignTick) error {
	ok, err := b.store.HasCampaign(name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %q has not been launched", ErrUnknownCampaign, name)
	}
	c, err := b.load(name)
	if err != nil {
		return fmt.Errorf("load campaign file: %w", err)
	}
	log := b.log.With().Str("campaign", name).Logger()
	r := &run{c: c, report: ct}
	var errs []error
	for _, ch := range chores {
		if len(only) > 0 && !slices.Contains(only, ch.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Each chore starts from the recorded state as the previous one
		// left it.
		if err := b.store.View(name, func(tx *state.CampaignTx) error { r.rec = tx.Campaign(); return nil }); err != nil {
			return err
		}
		if err := ch.run(b, ctx, r); err != nil {
			log.Error().Str("chore", ch.name).Err(err).Msg("chore failed")
			errs = append(errs, fmt.Errorf("%s: %w", ch.name, err))
			// Removals act on what drift learned; without it, stop.
			if ch.name == "drift" {
				break
			}
		}
	}
	return errors.Join(errs...)
}

func (b *Bot) choreTasks(ctx context.Context, r *run) error {
	tasks, err := b.ensureTasks(ctx, r.c)
	for _, t := range tasks {
		if t.New {
			r.event("filed %s for batch %d (%d users)", t.Task, t.Batch, t.Users)
		}
	}
	return err
}

// liveMembers fetches the audited groups' members once per tick.
func (b *Bot) liveMembers(ctx context.Context, r *run) (map[string][]string, error) {
	if r.members != nil {
		return r.members, nil
	}
	var phids []string
	for _, g := range r.rec.Groups {
		phids = append(phids, g.PHID)
	}
	projects, err := b.phab.ProjectsByPHID(ctx, phids, true)
	if err != nil {
		return nil, fmt.Errorf("read group members: %w", err)
	}
	m := map[string][]string{}
	for _, p := range projects {
		m[p.PHID] = p.MemberPHIDs
	}
	for _, g := range r.rec.Groups {
		if _, ok := m[g.PHID]; !ok {
			return nil, fmt.Errorf("group %s is no longer visible to the bot", g.Name)
		}
	}
	r.members = m
	return m, nil
}

// approverMembers fetches the approvers' project's members once per tick:
// approval is checked against Phabricator, never against a name in a file.
func (b *Bot) approverMembers(ctx context.Context, r *run) ([]string, error) {
	if r.approvers != nil {
		return r.approvers, nil
	}
	ps, err := b.phab.ProjectsByPHID(ctx, []string{r.rec.ApproversPHID}, true)
	if err != nil {
		return nil, fmt.Errorf("read approvers: %w", err)
	}
	if len(ps) != 1 {
		return nil, fmt.Errorf("approvers' project %s is not visible to the bot", r.rec.ApproversName)
	}
	r.approvers = ps[0].MemberPHIDs
	if r.approvers == nil {
		r.approvers = []string{}
	}
	return r.approvers, nil
}

// choreDrift re-checks every user still in play, in as few calls as the
// API allows: one project.search for the groups, one user.search page per
// 100 users without MFA, one per 100 disabled-account findings.
func (b *Bot) choreDrift(ctx context.Context, r *run) error {
	members, err := b.liveMembers(ctx, r)
	if err != nil {
		return err
	}
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	fs := snap.Findings
	inFlight := removalsInFlight(&snap)
	var mfaUsers, disabledUsers []string
	for _, f := range fs {
		if !inPlay(f.Status) {
			continue
		}
		if slices.Contains(f.Reasons, reasonMFA) {
			mfaUsers = append(mfaUsers, f.UserPHID)
		}
		if slices.Contains(f.Reasons, reasonDisabled) {
			disabledUsers = append(disabledUsers, f.UserPHID)
		}
	}
	noMFA, err := b.usersMatching(ctx, mfaUsers, conduit.UserQuery{MFA: ptr(false)})
	if err != nil {
		return fmt.Errorf("re-check MFA: %w", err)
	}
	disabled, err := b.usersMatching(ctx, disabledUsers, conduit.UserQuery{IsDisabled: ptr(true)})
	if err != nil {
		return fmt.Errorf("re-check disabled accounts: %w", err)
	}
	now := b.now().UTC()
	return b.store.Update(r.c.Name, func(tx *state.CampaignTx) error {
		for _, f := range fs {
			if !inPlay(f.Status) {
				continue
			}
			next, why := driftStatus(f, members, noMFA, disabled)
			if next == f.Status || (next == state.StatusLeft && inFlight[f.UserPHID]) {
				continue
			}
			cur, err := tx.Finding(f.UserPHID)
			if err != nil {
				return err
			}
			cur.Status, cur.UpdatedAt = next, now
			if err := tx.PutFinding(cur); err != nil {
				return err
			}
			if err := tx.Append(state.Entry{At: now, Kind: "drift", User: f.Username, Detail: fmt.Sprintf("%s -> %s: %s", f.Status, next, why)}); err != nil {
				return err
			}
			r.event("@%s is now %s (%s)", f.Username, next, why)
		}
		return nil
	})
}

// inPlay reports whether a finding still needs watching.
func inPlay(s state.Status) bool { return s == state.StatusPending || s == state.StatusVoluntary }

// driftStatus decides a finding's status from what Phabricator says now.
func driftStatus(f state.Finding, members map[string][]string, noMFA, disabled map[string]conduit.User) (state.Status, string) {
	stillMember := slices.ContainsFunc(f.Groups, func(g string) bool { return slices.Contains(members[g], f.UserPHID) })
	if !stillMember {
		return state.StatusLeft, "no longer a member of the audited groups"
	}
	if f.Status == state.StatusVoluntary {
		return f.Status, ""
	}
	if slices.Contains(f.Reasons, reasonDisabled) {
		if _, ok := disabled[f.UserPHID]; !ok {
			return state.StatusCompliant, "account enabled again"
		}
		return f.Status, ""
	}
	u, ok := noMFA[f.UserPHID]
	switch {
	case !ok:
		return state.StatusCompliant, "multi-factor authentication enabled"
	case u.IsDisabled():
		return state.StatusDisabled, "account disabled"
	}
	return f.Status, ""
}

// usersMatching returns which of phids match q, keyed by PHID.
func (b *Bot) usersMatching(ctx context.Context, phids []string, q conduit.UserQuery) (map[string]conduit.User, error) {
	out := map[string]conduit.User{}
	if len(phids) == 0 {
		return out, nil
	}
	q.PHIDs = phids
	users, err := b.phab.SearchUsers(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		out[u.PHID] = u
	}
	return out, nil
}
