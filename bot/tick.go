package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/rs/zerolog"
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
	// team is the team project's live member list, fetched at most once
	// per tick by the policies chore.
	team []string
	// gatekeepers are the team and approvers' projects as read this tick
	// (with the groups' members: liveMembers).
	gatekeepers []conduit.Project
	// groups are the audited groups as read with their members this tick
	// (liveMembers), with their policies, for the policy audit.
	groups []conduit.Project
	// users are the accounts read this tick, by PHID (nil: asked for, and
	// not returned), so each is read at most once (accounts).
	users map[string]*conduit.User
	// tasks are the campaign's tasks read this tick, by PHID (nil: asked
	// for, and not returned), each read at most once (campaignTasks).
	tasks  map[string]*conduit.Task
	report *CampaignTick
	// log, if set, logs each event as it happens.
	log *zerolog.Logger
}

// chore is one step of a tick. The daemon and the one-shot tick run the
// same table, in this order: later chores use what earlier ones learned.
type chore struct {
	name string
	run  func(b *Bot, ctx context.Context, r *run) error
}

// chores is the tick's table of work, in order.
var chores = []chore{
	// rescan first: a run's new batches get their tasks in the same tick.
	{"rescan", (*Bot).choreRescan},
	{"tasks", (*Bot).choreTasks},
	{"policies", (*Bot).chorePolicies},
	{"drift", (*Bot).choreDrift},
	{"policy-audit", (*Bot).chorePolicyAudit},
	{"replies", (*Bot).choreReplies},
	{"reminders", (*Bot).choreReminders},
	{"propose-removals", (*Bot).choreProposeRemovals},
	{"announce-removals", (*Bot).choreAnnounceRemovals},
	{"execute-removals", (*Bot).choreExecuteRemovals},
	{"approval-reminders", (*Bot).choreApprovalReminders},
	{"close", (*Bot).choreClose},
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
	// ObserveChore, if set, is told how long each chore of each campaign
	// took and the error it ended with (the daemon's metrics).
	ObserveChore func(campaign, chore string, took time.Duration, err error)
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

// ev names what an event is about, for its structured log record.
type ev struct {
	kind string // what happened, such as "filed", "removed" or a journal kind
	task string // "T12"
	user string // a username
}

// event records something the tick did, in prose only: logged at once,
// and kept for the report the CLI prints.
func (r *run) event(format string, args ...any) { r.eventOf(ev{}, format, args...) }

// eventOf records something the tick did, with structured fields: logged
// at once, and kept for the report the CLI prints; a log pipeline can
// select the events of one campaign, task, user or kind without parsing
// the prose.
func (r *run) eventOf(e ev, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if r.log != nil {
		rec := r.log.Info().Str("campaign", r.campaignName())
		if e.kind != "" {
			rec = rec.Str("kind", e.kind)
		}
		if e.task != "" {
			rec = rec.Str("task", e.task)
		}
		if e.user != "" {
			rec = rec.Str("user", e.user)
		}
		rec.Msg(msg)
	}
	if r.report != nil {
		r.report.Events = append(r.report.Events, msg)
	}
}

// say reports what a carried-out intent said, if anything.
func (r *run) say(s said) {
	if s.text != "" {
		r.eventOf(s.ev, "%s", s.text)
	}
}

func (r *run) campaignName() string {
	if r.c != nil {
		return r.c.Name
	}
	return r.rec.Name
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
	launched, err := b.store.CampaignNames()
	if err != nil {
		return nil, err
	}
	names := opts.Campaigns
	if len(names) == 0 {
		names = launched
	}
	// Every name is checked before anything runs: a typo in the list
	// must not leave the other campaigns ticked (bad input changes
	// nothing).
	for _, name := range names {
		if !slices.Contains(launched, name) {
			return nil, fmt.Errorf("%w: %q has not been launched (launched: %s)", ErrUnknownCampaign, name, strings.Join(launched, ", "))
		}
	}
	// One breaker for the whole tick: once Phabricator is found away,
	// every remaining chore fails at once instead of waiting on it again.
	defer b.withBreaker()()
	report := &TickReport{}
	var errs []error
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			return report, &InterruptedError{Done: i, Total: len(names), Unit: "campaign(s)", Err: err}
		}
		ct := &CampaignTick{Campaign: name}
		report.Campaigns = append(report.Campaigns, ct)
		if err := b.tickCampaign(ctx, name, opts, ct); err != nil {
			for _, e := range SplitErrors(err) {
				ct.Errors = append(ct.Errors, e.Error())
			}
			errs = append(errs, fmt.Errorf("campaign %s: %w", name, err))
		}
		if err := ctx.Err(); err != nil {
			return report, &InterruptedError{Done: i, Total: len(names), Unit: "campaign(s)", Err: err}
		}
	}
	return report, errors.Join(errs...)
}

// withBreaker puts a breaker (see breaker) between the bot and
// Phabricator until the returned function is called.
func (b *Bot) withBreaker() func() {
	if _, ok := b.conn.Phabricator.(*breaker); ok {
		return func() {}
	}
	saved := b.conn.Phabricator
	b.conn.Phabricator = &breaker{Phabricator: saved}
	return func() { b.conn.Phabricator = saved }
}

func (b *Bot) tickCampaign(ctx context.Context, name string, opts TickOptions, ct *CampaignTick) error {
	only := opts.Only
	ok, err := b.store.HasCampaign(name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %q has not been launched", ErrUnknownCampaign, name)
	}
	if rec, err := b.read.campaignRecord(name); err != nil || rec.Closed() {
		// A closed campaign's tasks are resolved: nothing is due.
		return err
	}
	c, err := b.load(name)
	if err != nil {
		return fmt.Errorf("load campaign file: %w", err)
	}
	log := b.log.With().Str("campaign", name).Logger()
	r := &run{c: c, report: ct, log: &b.log}
	var errs []error
	driftFailed := false
	for _, ch := range chores {
		if len(only) > 0 && !slices.Contains(only, ch.name) {
			continue
		}
		if driftFailed && needsDrift(ch.name) {
			// Removals act on what drift learned this tick; the other
			// chores (answering replies, reminders) go on without it.
			log.Warn().Str("chore", ch.name).Msg("skipped: drift failed this tick")
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
		start := time.Now()
		err := ch.run(b, ctx, r)
		if opts.ObserveChore != nil {
			opts.ObserveChore(name, ch.name, time.Since(start), err)
		}
		if err != nil {
			if ctx.Err() != nil {
				// Interrupted: the chore's errors are only "context
				// canceled"; the caller says what was left undone.
				return ctx.Err()
			}
			if k, ok := b.conn.Phabricator.(*breaker); ok && k.tripped() != nil {
				// Phabricator is away: the one cause, not one line per
				// write that was not sent.
				err = k.tripped()
				log.Error().Str("chore", ch.name).Err(err).Msg("Phabricator unavailable: chore stopped; its remaining writes wait for the next tick")
				errs = append(errs, fmt.Errorf("%s: %w", ch.name, err))
				continue
			}
			for _, e := range SplitErrors(err) {
				log.Error().Str("chore", ch.name).Err(e).Msg("chore failed")
			}
			errs = append(errs, fmt.Errorf("%s: %w", ch.name, err))
			if ch.name == "drift" {
				driftFailed = true
			}
		}
	}
	return errors.Join(errs...)
}

func (b *Bot) choreTasks(ctx context.Context, r *run) error {
	tasks, err := b.ensureTasks(ctx, r.c)
	for _, t := range tasks {
		if t.New {
			r.eventOf(ev{kind: "task-filed", task: t.Task}, "filed %s for batch %d (%d users)", t.Task, t.Batch, t.Users)
		}
	}
	return err
}

// choreDrift re-checks every user the campaign still watches, each
// criterion at its own cost: one project.search for the groups, one
// user.search page per 100 users for MFA and for disabled accounts, the
// activity source (its cache) for inactivity, nothing for reconfirm and
// list (a keep is recorded when it is said). Users move both ways: a
// pending user who meets every criterion becomes compliant, and a
// compliant (or restored, or returned) user who no longer does becomes
// pending again; an exemption past its end date lapses. All the changes
// are recorded in one bbolt transaction.
func (b *Bot) choreDrift(ctx context.Context, r *run) error {
	snap, err := b.store.Snapshot(r.c.Name)
	if err != nil {
		return err
	}
	v, err := b.read.observe(ctx, r, snap, driftNeeds(r.c, &snap))
	if err != nil {
		return err
	}
	return b.exec.record(r, decideDrift(v))
}

// driftNeeds is what drift reads: the groups' members, and every watched
// user against their criteria. A campaign that audits disabled accounts
// also watches its other findings for accounts disabled since: they are
// removed as such.
func driftNeeds(c *campaigns.Campaign, snap *state.Snapshot) needs {
	n := needs{members: true}
	var all []string
	for _, f := range snap.Findings {
		if watched(f.Status) {
			n.live = append(n.live, f)
			all = append(all, f.UserPHID)
		}
	}
	if c.Has(campaigns.CriterionDisabled) {
		n.extra = map[string][]string{reasonDisabled: all}
	}
	return n
}

// decideDrift is the status every watched user moves to, from what
// Phabricator says now (driftStatus), as one state change each.
func decideDrift(v *view) []intent {
	inFlight := removalsInFlight(&v.snap)
	auditsDisabled := v.c.Has(campaigns.CriterionDisabled)
	var out []intent
	for _, f := range v.snap.Findings {
		if !watched(f.Status) {
			continue
		}
		_, isDisabled := v.live[reasonDisabled][f.UserPHID]
		newReason := auditsDisabled && isDisabled && !slices.Contains(f.Reasons, reasonDisabled)
		if newReason {
			f.Reasons = append(slices.Clone(f.Reasons), reasonDisabled)
		}
		lv := liveView{
			member:   slices.ContainsFunc(f.Groups, func(g string) bool { return v.member(g, f.UserPHID) }),
			inFlight: inFlight[f.UserPHID],
			failing:  map[string]bool{},
		}
		for _, rs := range f.Reasons {
			_, bad := v.live[rs][f.UserPHID]
			lv.failing[rs] = bad && !keptFor(f, rs)
		}
		// A disabled account the campaign does not audit as such can
		// do nothing about the rest: out of scope.
		// One the bot is disabling itself (sent, not yet confirmed) is
		// left to execute-removals, which reconciles it.
		if u, ok := v.live[reasonMFA][f.UserPHID]; ok && !auditsDisabled && u.IsDisabled() && !lv.inFlight {
			lv.disabledOut = true
		}
		next, why := driftStatus(f, lv, v.now)
		if next == f.Status && !newReason {
			continue
		}
		if newReason {
			why = strings.TrimPrefix(why+"; account disabled: now also audited as a disabled account", "; ")
		}
		reasons := f.Reasons
		out = append(out, intent{
			change: func(tx *state.CampaignTx, _ outcomeOf) error {
				return updateFinding(f.UserPHID, func(cur *state.Finding) {
					cur.Status, cur.Reasons, cur.UpdatedAt = next, reasons, v.now
				})(tx)
			},
			entry: state.Entry{At: v.now, Kind: state.EntryDrift, User: f.Username, Detail: fmt.Sprintf("%s -> %s: %s", f.Status, next, why)},
			said:  said{ev{kind: "drift", user: f.Username}, fmt.Sprintf("@%s is now %s (%s)", f.Username, next, why)},
		})
	}
	return out
}

// watched reports whether drift re-checks a finding in this status. Only
// removed users are not: they are out of the groups, and come back only
// through a restore.
func watched(s state.Status) bool { return s != state.StatusRemoved }

// liveView is what Phabricator (and the activity source) say now about one
// watched user.
type liveView struct {
	member   bool // still in one of the finding's groups
	inFlight bool // a removal of theirs was sent but not confirmed
	// failing maps each of the finding's reasons to whether the user still
	// fails it, keeps applied.
	failing map[string]bool
	// disabledOut: the account is disabled and the campaign does not
	// audit disabled accounts.
	disabledOut bool
}

// compliant reports whether the user now meets every one of their
// criteria.
func (v liveView) compliant() bool {
	for _, bad := range v.failing {
		if bad {
			return false
		}
	}
	return true
}

// compliantWhy says why a user became compliant, by their reasons.
func compliantWhy(reasons []string) string {
	switch {
	case slices.Contains(reasons, reasonMFA):
		return "multi-factor authentication enabled"
	case slices.Contains(reasons, reasonDisabled):
		return "account enabled again"
	case slices.Contains(reasons, reasonInactive):
		return "active again"
	}
	return "meets the campaign's criteria"
}

// driftStatus decides a finding's status from what Phabricator says now.
func driftStatus(f state.Finding, v liveView, now time.Time) (state.Status, string) {
	gone := !v.member && !v.inFlight
	switch f.Status {
	case state.StatusPending:
		switch {
		case gone:
			return state.StatusLeft, "no longer a member of the audited groups"
		case v.disabledOut:
			// The campaign does not audit disabled accounts: out of scope.
			return state.StatusDisabled, "account disabled"
		case v.compliant():
			return state.StatusCompliant, compliantWhy(f.Reasons)
		}
	case state.StatusVoluntary:
		if gone {
			return state.StatusLeft, "no longer a member of the audited groups"
		}
	case state.StatusCompliant, state.StatusRestored, state.StatusLeft, state.StatusDisabled:
		// Back in a group and not compliant (again): the deadline applies.
		// Not after a forced restore: a person decided to let them back.
		if v.member && !(f.Status == state.StatusRestored && f.ForcedRestore) && !v.compliant() && !v.disabledOut {
			return state.StatusPending, "member again without meeting the requirement"
		}
	case state.StatusExempt:
		if exemptionEnded(f, now) && v.member && !v.compliant() {
			return state.StatusPending, "exemption ended " + f.ExemptionInForce().Until.Format("2006-01-02")
		}
	}
	return f.Status, ""
}

// exemptionEnded reports whether f's exemption in force has an end date
// that has passed: "until 2027-02-10" includes that day.
func exemptionEnded(f state.Finding, now time.Time) bool {
	e := f.ExemptionInForce()
	return e != nil && !e.Until.IsZero() && !now.Before(e.Until.AddDate(0, 0, 1))
}

// needsDrift reports whether a chore acts on what the drift chore learned
// this tick (who is still non-compliant and still a member): the chores
// that propose and carry out removals, and closing a campaign.
func needsDrift(chore string) bool {
	switch chore {
	case "propose-removals", "execute-removals", "close":
		return true
	}
	return false
}
