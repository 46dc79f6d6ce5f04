package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// A recurring campaign scans its groups again every period (the rescan
// chore, or `auditbot rescan` by hand). A run is decided from what
// Phabricator says now and what the last run found, then recorded in ONE
// transaction with everything it changes: the run itself (time, who was
// found, new, fixed and gone), the new members' findings and batches (mode
// join), and its journal entry. So a run either happened or did not; what
// follows it is side effects, each exactly once by its op key, finished
// by the next rescan chore after a crash: the new batches' tasks
// (task/batch-N, numbering continued, filed by the tasks chore as at
// launch), the standing task (recurring/standing-task) and the run's
// summary on it (recurring/run-N/summary). Mode instance starts a new
// campaign NAME-rN instead of new batches; CreateCampaign is itself
// all-or-nothing, and a rerun finding it adopts it.
//
// New members' deadline: the run's time plus the campaign's notice key,
// or, without it, the launch's own notice (original cutoff - launch); never
// earlier than the campaign's cutoff. The notice must be at least the
// config's min_notice unless allow_short_notice (CheckRunNotice).

// RescanResult is what one recurring run did.
type RescanResult struct {
	Campaign string `json:"campaign"`
	// Run is the run recorded by this call; 0 when none was due (the last
	// run is then Last).
	Run  int       `json:"run"`
	Last int       `json:"last"`
	At   time.Time `json:"at,omitzero"`
	// New, Fixed and Gone are usernames, compared with the run before.
	New      []string `json:"new,omitempty"`
	Fixed    []string `json:"fixed,omitempty"`
	Gone     []string `json:"gone,omitempty"`
	Batches  []int    `json:"batches,omitempty"`
	Instance string   `json:"instance,omitempty"`
	// Summary is the standing task the summary is on.
	Summary string `json:"summary,omitempty"`
}

// Rescan runs a recurring campaign's scan now, whether or not its period
// has passed, and finishes what an earlier run left undone. Run twice at
// the same time, the second call records nothing and posts nothing.
func (b *Bot) Rescan(ctx context.Context, name string) (*RescanResult, error) {
	ok, err := b.store.HasCampaign(name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %q has not been launched", ErrUnknownCampaign, name)
	}
	c, err := b.load(name)
	if err != nil {
		return nil, fmt.Errorf("load campaign file: %w", err)
	}
	rec, err := b.read.campaignRecord(name)
	if err != nil {
		return nil, err
	}
	switch {
	case rec.Closed():
		return nil, fmt.Errorf("%w: campaign %s closed on %s", ErrRefused, name, rec.ClosedAt.Format(time.DateOnly))
	case rec.InstanceOf != "":
		return nil, fmt.Errorf("%w: %s is an instance of the recurring campaign %s: rescan that", ErrInput, name, rec.InstanceOf)
	case c.Recurring == nil:
		return nil, fmt.Errorf("%w: campaign %s is not recurring (its file has no every or recurring key)", ErrInput, name)
	}
	r := &run{c: c, rec: rec, report: &CampaignTick{Campaign: name}}
	return b.rescan(ctx, r, true)
}

// choreRescan runs a recurring campaign's scan when its period has passed
// since the last run (the launch for the first), and finishes the side
// effects of the last run.
func (b *Bot) choreRescan(ctx context.Context, r *run) error {
	if r.c.Recurring == nil || r.rec.InstanceOf != "" {
		return nil
	}
	_, err := b.rescan(ctx, r, false)
	return err
}

func (b *Bot) rescan(ctx context.Context, r *run, byHand bool) (*RescanResult, error) {
	res := &RescanResult{Campaign: r.rec.Name}
	now := b.now().UTC()
	prevAt := r.rec.LaunchedAt
	if last := r.rec.LastRun(); last != nil {
		prevAt = last.At
	}
	// A run is never recorded twice for the same moment, by hand or not.
	due := now.After(prevAt) && (byHand || !now.Before(prevAt.Add(r.c.Recurring.Every)))
	if due {
		// What a crash left undone of the last run is finished before the
		// next run is recorded: afterwards only the latest is finished,
		// and the last run's summary would stay unconfirmed for good.
		if last := r.rec.LastRun(); last != nil {
			if err := b.finishRun(ctx, r, *last); err != nil {
				return res, err
			}
		}
		rn, err := b.recordRun(ctx, r, now)
		if err != nil {
			return res, err
		}
		res.Run, res.At, res.Batches, res.Instance = rn.N, rn.At, rn.Batches, rn.Instance
		for _, u := range rn.New {
			res.New = append(res.New, u.Username)
		}
		res.Fixed, res.Gone = rn.Fixed, rn.Gone
	}
	last := r.rec.LastRun()
	if last == nil {
		return res, nil
	}
	res.Last = last.N
	// Finish the side effects of the latest run: this one's, or those of
	// a run a crash cut short.
	err := b.finishRun(ctx, r, *last)
	if r.rec.StandingTaskID != 0 {
		res.Summary = "T" + strconv.Itoa(r.rec.StandingTaskID)
	}
	return res, err
}

// recordRun scans the groups, compares with the last run and records the
// run with everything it changes in one transaction; r.rec is updated.
func (b *Bot) recordRun(ctx context.Context, r *run, now time.Time) (state.Run, error) {
	notice := r.c.RunNotice(r.rec.LaunchedAt, r.rec.OriginalCutoff)
	if err := r.c.CheckRunNotice(notice, b.cfg.MinNotice); err != nil {
		return state.Run{}, fmt.Errorf("%w: %w", ErrInput, err)
	}
	scan, err := b.scanRecorded(ctx, r)
	if err != nil {
		return state.Run{}, err
	}
	snap, err := b.store.Snapshot(r.rec.Name)
	if err != nil {
		return state.Run{}, err
	}
	d := decideRun(r.c, &snap, scan, now, notice)
	if d.rn.Instance != "" {
		if err := b.startInstance(r, d.rn, d.added); err != nil {
			return state.Run{}, err
		}
	}
	if err := b.exec.record(r, []intent{runIntent(d, now)}); err != nil {
		return state.Run{}, fmt.Errorf("record run %d: %w", d.rn.N, err)
	}
	if r.rec, err = b.read.campaignRecord(r.rec.Name); err != nil {
		return state.Run{}, err
	}
	rn := d.rn
	b.log.Info().Str("campaign", r.rec.Name).Int("run", rn.N).Int("new", len(rn.New)).Int("fixed", len(rn.Fixed)).Int("gone", len(rn.Gone)).Msg("recurring run recorded")
	return rn, nil
}

// runDecision is what a recurring run records: the run, and the members
// it audits (again), added: in mode join in new batches (chunks, numbered
// from rn.Batches[0]), in mode instance in the campaign rn.Instance.
type runDecision struct {
	rn     state.Run
	added  []plannedFinding
	chunks [][]plannedFinding
}

// decideRun decides a recurring run from what the scan found now and what
// the last run (or the launch) found, at now; notice is how long the
// members it adds get. Anyone found whose finding drift will not bring
// back to pending where the run found them (none, removed, or one about
// other groups or reasons) is audited again, new or not: otherwise a
// member who moved between audited groups, or was re-added by hand after
// a removal, would never be audited again. A user in an open removal
// batch is left to it.
func decideRun(c *campaigns.Campaign, snap *state.Snapshot, scan *snapshot, now time.Time, notice time.Duration) runDecision {
	rn := diffRun(snap, scan, now)
	rn.Cutoff = now.Add(notice)
	if rn.Cutoff.Before(snap.Campaign.Cutoff) {
		rn.Cutoff = snap.Campaign.Cutoff
	}
	instance := c.Recurring.Mode == campaigns.RecurInstance
	joiners := map[string]bool{}
	isNew := map[string]int{}
	for i, u := range rn.New {
		isNew[u.PHID] = i
		if instance {
			// Every new member starts the instance.
			rn.New[i].Joined = true
			joiners[u.PHID] = true
		}
	}
	idx := indexFindings(snap.Findings)
	inRemoval := usersInOpenRemovals(snap)
	for _, pf := range scan.findings {
		// An account the campaign disabled keeps its memberships: it is
		// not found again, only a restore brings it back.
		if f, has := idx.finding(pf.User.PHID); has && (driftCovers(f, pf) || inRemoval[f.UserPHID] || (f.Disabled && f.Status == state.StatusRemoved)) {
			continue
		}
		joiners[pf.User.PHID] = true
		if i, ok := isNew[pf.User.PHID]; ok {
			rn.New[i].Joined = true
			continue
		}
		u := runUser(pf)
		u.Joined = true
		rn.New = append(rn.New, u)
	}
	d := runDecision{}
	for _, pf := range scan.findings {
		if joiners[pf.User.PHID] {
			d.added = append(d.added, pf)
		}
	}
	switch {
	case len(d.added) == 0:
	case instance:
		rn.Instance = instanceName(snap.Campaign.Name, rn.N)
	default:
		next := 1
		for _, bt := range snap.Batches {
			next = max(next, bt.Index+1)
		}
		d.chunks = batches(d.added, c.BatchSize)
		for i := range d.chunks {
			rn.Batches = append(rn.Batches, next+i)
		}
	}
	d.rn = rn
	return d
}

// runUser is a member a run found, as the run records them.
func runUser(pf plannedFinding) state.RunUser {
	u := state.RunUser{PHID: pf.User.PHID, Username: pf.User.Username, Reasons: pf.Reasons}
	for _, g := range pf.Groups {
		u.Groups = append(u.Groups, g.Name)
	}
	return u
}

// runIntent records run d at now in one transaction: its new batches and
// findings (mode join), the run, the end of a refusal, the journal entry.
func runIntent(d runDecision, now time.Time) intent {
	rn := d.rn
	return intent{
		change: func(tx *state.CampaignTx, _ outcomeOf) error {
			rec := tx.Campaign()
			if last := rec.LastRun(); last != nil && !now.After(last.At) {
				return fmt.Errorf("run %d at %s is already recorded", last.N, last.At.Format(time.RFC3339))
			}
			for i, chunk := range d.chunks {
				if err := addRunBatch(tx, &rec, rn, rn.Batches[i], chunk, now); err != nil {
					return err
				}
			}
			rec.Runs = append(rec.Runs, rn)
			if rec.RunRefused != "" {
				rec.RunRefused = ""
				if err := tx.Append(state.Entry{At: now, Kind: state.EntryRunRefused, Actor: rec.BotUsername, ActorKind: state.ActorBot, Detail: "recurring runs go ahead again"}); err != nil {
					return err
				}
			}
			if err := tx.PutCampaign(rec); err != nil {
				return err
			}
			var users []string
			for _, u := range rn.New {
				users = append(users, u.Username)
			}
			return tx.Append(state.Entry{At: now, Kind: state.EntryRun, Actor: rec.BotUsername, ActorKind: state.ActorBot, Users: users,
				Outcome: fmt.Sprintf("%d new, %d fixed, %d gone", len(rn.New), len(rn.Fixed), len(rn.Gone)),
				Detail:  runDetail(rn)})
		},
		said: said{text: fmt.Sprintf("run %d: %d new, %d fixed, %d gone", rn.N, len(rn.New), len(rn.Fixed), len(rn.Gone))},
	}
}

// addRunBatch records batch index of run rn with the findings of chunk,
// pending with the run's deadline; a user with an earlier finding is
// audited again (reaudit), which the journal says.
func addRunBatch(tx *state.CampaignTx, rec *state.Campaign, rn state.Run, index int, chunk []plannedFinding, now time.Time) error {
	bt := state.Batch{Index: index, Run: rn.N, Cutoff: rn.Cutoff}
	for _, pf := range chunk {
		f := newFinding(pf, bt.Index, now)
		if rn.Cutoff.After(rec.Cutoff) {
			f.Cutoff = rn.Cutoff
		}
		switch old, err := tx.Finding(pf.User.PHID); {
		case err == nil:
			f = reaudit(old, f)
			if err := tx.Append(state.Entry{At: now, Kind: state.EntryDrift, User: f.Username, Actor: rec.BotUsername, ActorKind: state.ActorBot,
				Detail: fmt.Sprintf("%s -> %s: run %d found them non-compliant in %s; audited again in batch %d", old.Status, f.Status, rn.N,
					strings.Join(groupNames(rec, f.Groups), ", "), bt.Index)}); err != nil {
				return err
			}
		case !errors.Is(err, state.ErrNotFound):
			return err
		}
		if err := tx.PutFinding(f); err != nil {
			return err
		}
		bt.UserPHIDs = append(bt.UserPHIDs, f.UserPHID)
	}
	return tx.PutBatch(bt)
}

func runDetail(rn state.Run) string {
	d := fmt.Sprintf("run %d, %d non-compliant", rn.N, len(rn.Found))
	if len(rn.Batches) > 0 {
		d += fmt.Sprintf("; batches %v, deadline %s", rn.Batches, cutoffDate(rn.Cutoff))
	}
	if rn.Instance != "" {
		d += "; instance " + rn.Instance + ", deadline " + cutoffDate(rn.Cutoff)
	}
	if len(rn.Fixed) > 0 {
		d += "; fixed: " + strings.Join(rn.Fixed, ", ")
	}
	if len(rn.Gone) > 0 {
		d += "; gone: " + strings.Join(rn.Gone, ", ")
	}
	return d
}

// diffRun compares what a scan found with the last run (or, before the
// first, with the findings recorded at launch). Fixed members were found
// before and are still in an audited group; gone ones are in none.
func diffRun(snap *state.Snapshot, scan *snapshot, now time.Time) state.Run {
	rec := &snap.Campaign
	rn := state.Run{N: len(rec.Runs) + 1, At: now}
	var prev []string
	names := map[string]string{}
	for _, f := range snap.Findings {
		names[f.UserPHID] = f.Username
	}
	for _, past := range rec.Runs {
		for _, u := range past.New {
			names[u.PHID] = u.Username
		}
	}
	if last := rec.LastRun(); last != nil {
		prev = last.Found
	} else {
		for _, f := range snap.Findings {
			prev = append(prev, f.UserPHID)
		}
	}
	members := map[string]bool{}
	for _, g := range scan.groups {
		for _, m := range g.MemberPHIDs {
			members[m] = true
		}
	}
	before := make(map[string]bool, len(prev))
	for _, p := range prev {
		before[p] = true
	}
	found := map[string]bool{}
	for _, pf := range scan.findings {
		found[pf.User.PHID] = true
		rn.Found = append(rn.Found, pf.User.PHID)
		if !before[pf.User.PHID] {
			rn.New = append(rn.New, runUser(pf))
		}
	}
	for _, p := range prev {
		if found[p] {
			continue
		}
		name := cmp.Or(names[p], p)
		if members[p] {
			rn.Fixed = append(rn.Fixed, name)
		} else {
			rn.Gone = append(rn.Gone, name)
		}
	}
	slices.Sort(rn.Found)
	slices.Sort(rn.Fixed)
	slices.Sort(rn.Gone)
	return rn
}

// scanRecorded finds the non-compliant members of the groups recorded at
// launch (names in the file may have changed; the campaign's groups did
// not).
func (b *Bot) scanRecorded(ctx context.Context, r *run) (*snapshot, error) {
	self, err := b.read.self(ctx)
	if err != nil {
		return nil, err
	}
	members, err := b.read.liveMembers(ctx, r)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{self: self}
	for _, g := range r.rec.Groups {
		risk, _ := campaigns.ParseRisk(g.Risk)
		snap.groups = append(snap.groups, groupView{Project: conduit.Project{PHID: g.PHID, Name: g.Name, Slug: g.Slug, MemberPHIDs: members[g.PHID]}, Risk: risk})
	}
	sortRiskiestFirst(snap.groups)
	if err := b.findNonCompliant(ctx, r.c, snap); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	return snap, nil
}

// newFinding is the pending finding of a discovered user in batch idx.
func newFinding(pf plannedFinding, idx int, now time.Time) state.Finding {
	f := state.Finding{UserPHID: pf.User.PHID, Username: pf.User.Username, RealName: pf.User.RealName,
		Reasons: pf.Reasons, Status: state.StatusPending, Batch: idx, UpdatedAt: now.UTC()}
	for _, g := range pf.Groups {
		f.Groups = append(f.Groups, g.PHID)
	}
	return f
}

// driftCovers reports whether drift brings f back to pending wherever a
// run found its user non-compliant (pf), so the run need not: drift
// watches every status but removed, and checks membership in f.Groups and
// the criteria in f.Reasons only. A pending or voluntary user is removed
// from f.Groups whatever else they fail, so only their groups must cover.
func driftCovers(f state.Finding, pf plannedFinding) bool {
	if !watched(f.Status) {
		return false
	}
	for _, g := range pf.Groups {
		if !slices.Contains(f.Groups, g.PHID) {
			return false
		}
	}
	if f.Status.Removable() {
		return true
	}
	for _, why := range pf.Reasons {
		if !slices.Contains(f.Reasons, why) {
			return false
		}
	}
	return true
}

// usersInOpenRemovals are the users a removal batch not yet finished or
// rejected names: a run leaves their finding alone until it is decided
// (the next run audits them again if need be).
func usersInOpenRemovals(snap *state.Snapshot) map[string]bool {
	out := map[string]bool{}
	for _, rm := range removalsWith(snap.Removals, state.RemovalProposed, state.RemovalApproved) {
		for _, it := range rm.Items {
			out[it.UserPHID] = true
		}
	}
	return out
}

// reaudit is the finding f (new, in a new batch with the run's deadline)
// that takes over the user's earlier finding old: they are told again on
// the new task about the groups and reasons the run found, before any
// removal. What names durable ops (Restores) and the record of earlier
// decisions (exemptions, what was removed) carries over; a keep or an
// exemption covered only the groups it was given for, so none applies.
func reaudit(old, f state.Finding) state.Finding {
	if old.Cutoff.After(f.Cutoff) {
		f.Cutoff = old.Cutoff
	}
	f.Restores, f.RemovedFrom = old.Restores, old.RemovedFrom
	f.ExemptionHistory = slices.Clone(old.ExemptionHistory)
	if old.Exemption != nil {
		f.ExemptionHistory = append(f.ExemptionHistory, *old.Exemption)
	}
	f.NeedsHuman = old.NeedsHuman
	return f
}

// startInstance records campaign instance rn.Instance for the members a
// run found (mode instance), unless a run cut short already did: the
// instance's name is the run's, so a rerun of the same run finds it.
func (b *Bot) startInstance(r *run, rn state.Run, added []plannedFinding) error {
	exists, err := b.store.HasCampaign(rn.Instance)
	if err != nil {
		return err
	}
	if exists {
		// Adopt it only if this campaign's run started it: a campaign
		// launched by hand under that name (before -rN names were
		// reserved) audits something else, and adopting it would leave
		// the members this run found in no campaign.
		inst, err := b.read.campaignRecord(rn.Instance)
		if err != nil {
			return err
		}
		if inst.InstanceOf == r.rec.Name {
			return nil
		}
		why := fmt.Sprintf("run %d would start the instance %s, but a campaign of that name exists that is not an instance of %s (launched by hand); "+
			"no run is recorded until a person resolves it, e.g. by switching %s to recurring mode join", rn.N, rn.Instance, r.rec.Name, r.rec.Name)
		if err := b.refuseRuns(r, rn.At, why); err != nil {
			return err
		}
		return fmt.Errorf("%w: %s", ErrRefused, why)
	}
	rec, findings, list := newInstance(&r.rec, rn, added, r.c.BatchSize)
	return b.store.CreateCampaign(rec, findings, list, state.Entry{At: rn.At, Kind: state.EntryInstanceStarted, Actor: rec.BotUsername, ActorKind: state.ActorBot,
		Detail: fmt.Sprintf("run %d of %s: %d finding(s) in %d batch(es), cutoff %s", rn.N, r.rec.Name, len(findings), len(list), cutoffDate(rn.Cutoff))})
}

// newInstance is the campaign instance run rn of parent starts for the
// members it found (added), in batches of size: the parent's groups,
// approvers and policies, the run's deadline, nothing of its history.
func newInstance(parent *state.Campaign, rn state.Run, added []plannedFinding, size int) (state.Campaign, []state.Finding, []state.Batch) {
	rec := *parent
	rec.Name, rec.InstanceOf, rec.LaunchedAt = rn.Instance, parent.Name, rn.At
	rec.Cutoff, rec.OriginalCutoff = rn.Cutoff, rn.Cutoff
	rec.Runs, rec.RemindersDone, rec.StandingTaskPHID, rec.StandingTaskID = nil, nil, "", 0
	var findings []state.Finding
	var list []state.Batch
	for i, chunk := range batches(added, size) {
		bt := state.Batch{Index: i + 1}
		for _, pf := range chunk {
			f := newFinding(pf, bt.Index, rn.At)
			findings = append(findings, f)
			bt.UserPHIDs = append(bt.UserPHIDs, f.UserPHID)
		}
		list = append(list, bt)
	}
	return rec, findings, list
}

// refuseRuns records, once per reason, why the campaign's recurring runs
// stop: status shows it and the journal keeps when it began.
func (b *Bot) refuseRuns(r *run, now time.Time, why string) error {
	if r.rec.RunRefused == why {
		return nil
	}
	if err := b.exec.record(r, []intent{runsRefused(why, now)}); err != nil {
		return err
	}
	r.rec.RunRefused = why
	return nil
}

// runsRefused records why the campaign's recurring runs stop ("" when
// they go ahead again), at now.
func runsRefused(why string, now time.Time) intent {
	return intent{change: func(tx *state.CampaignTx, _ outcomeOf) error {
		rec := tx.Campaign()
		rec.RunRefused = why
		if err := tx.PutCampaign(rec); err != nil {
			return err
		}
		detail := why
		if why == "" {
			detail = "recurring runs go ahead again"
		}
		return tx.Append(state.Entry{At: now, Kind: state.EntryRunRefused, Actor: rec.BotUsername, ActorKind: state.ActorBot, Detail: detail})
	}}
}

// instanceCampaign is the campaign file of an instance: the recurring
// campaign's, under the instance's name (its markers and state), and not
// recurring itself.
func instanceCampaign(c *campaigns.Campaign, name string) *campaigns.Campaign {
	cp := *c
	cp.Name, cp.Recurring = name, nil
	return &cp
}

// finishRun does what follows a recorded run, each step exactly once:
// file the tasks of its new batches (or the instance's), file the
// standing task, post the run's summary on it.
func (b *Bot) finishRun(ctx context.Context, r *run, rn state.Run) error {
	if _, err := b.ensureTasks(ctx, r.c); err != nil {
		return err
	}
	if rn.Instance != "" {
		if _, err := b.ensureTasks(ctx, instanceCampaign(r.c, rn.Instance)); err != nil {
			return fmt.Errorf("instance %s: %w", rn.Instance, err)
		}
	}
	if err := b.ensureStandingTask(ctx, r); err != nil {
		return err
	}
	snap, err := b.store.Snapshot(r.rec.Name)
	if err != nil {
		return err
	}
	v, err := b.read.observe(ctx, r, snap, needs{})
	if err != nil {
		return err
	}
	in, err := decideRunSummary(v, rn)
	if err != nil || in == nil {
		return err
	}
	return b.exec.applyAll(ctx, r, []intent{*in})
}

// standingBatch is the standing task as comment and verifyTask take it.
func standingBatch(rec *state.Campaign) state.Batch {
	return state.Batch{TaskPHID: rec.StandingTaskPHID, TaskID: rec.StandingTaskID}
}

// decideRunSummary is the comment that tells the team, on the standing
// task, what run rn found: who is new and why, who fixed it, who is gone,
// the new tasks and how many wait. nil once it is posted.
func decideRunSummary(v *view, rn state.Run) (*intent, error) {
	rec := v.rec()
	key := runSummaryKey(rn.N)
	if slices.ContainsFunc(v.snap.Ops, func(op state.Op) bool { return op.Key == string(key) && op.State == state.OpDone }) {
		return nil, nil
	}
	since := rec.LaunchedAt
	if rn.N > 1 && rn.N-2 < len(rec.Runs) {
		since = rec.Runs[rn.N-2].At
	}
	data := templates.RunSummaryData{Campaign: v.words.campaignData(v.c, rec), Run: rn.N, Since: since.UTC().Format(time.DateOnly),
		Instance: rn.Instance, NewCutoffDate: cutoffDate(rn.Cutoff)}
	data.New, data.ReasonCounts = runAffected(rn.New)
	for _, u := range rn.Fixed {
		data.Fixed = append(data.Fixed, templates.Person{Username: u})
	}
	for _, u := range rn.Gone {
		data.Gone = append(data.Gone, templates.Person{Username: u})
	}
	for _, bt := range v.snap.Batches {
		if slices.Contains(rn.Batches, bt.Index) && bt.TaskID != 0 {
			data.Tasks = append(data.Tasks, bt.Monogram())
		}
	}
	for _, f := range v.snap.Findings {
		if f.Status.Removable() {
			data.Pending++
		}
	}
	text, err := v.words.render(templates.RunSummary, data)
	if err != nil {
		return nil, err
	}
	bt := standingBatch(rec)
	if bt.TaskPHID == "" {
		return nil, fmt.Errorf("batch %d has no task yet", bt.Index)
	}
	in := commentIntent(rec, bt, key, text,
		state.Entry{Kind: state.EntryRunSummary, Detail: fmt.Sprintf("run %d: %d new, %d fixed, %d gone", rn.N, len(rn.New), len(rn.Fixed), len(rn.Gone))}, nil)
	in.said = said{text: fmt.Sprintf("posted run %d's summary on T%d", rn.N, rec.StandingTaskID)}
	return &in, nil
}

// runAffected is how the run summary lists the new members, and how many
// of them fail each reason, in the order the reasons first appear.
func runAffected(users []state.RunUser) ([]templates.Affected, []templates.Count) {
	var out []templates.Affected
	perReason := map[string]int{}
	var reasons []string
	for _, u := range users {
		a := templates.Affected{Person: templates.Person{Username: u.Username}, Groups: u.Groups}
		for _, why := range u.Reasons {
			a.Reasons = append(a.Reasons, reasonText(why))
			if perReason[reasonText(why)] == 0 {
				reasons = append(reasons, reasonText(why))
			}
			perReason[reasonText(why)]++
		}
		out = append(out, a)
	}
	var counts []templates.Count
	for _, why := range reasons {
		counts = append(counts, templates.Count{Status: why, N: perReason[why]})
	}
	return out, counts
}

// ensureStandingTask files the recurring campaign's task for the team
// once, and reads it back (verifyTask); r.rec is updated.
func (b *Bot) ensureStandingTask(ctx context.Context, r *run) error {
	if r.rec.StandingTaskPHID != "" {
		return nil
	}
	in, spec, err := decideStandingTask(b.words, r.c, &r.rec)
	if err != nil {
		return err
	}
	return b.fileTeamTask(ctx, r, "standing task", in, spec, standingBatch)
}

// fileTeamTask files a task of the campaign's own for the team (the
// standing task, the policy task) by its intent, reloads r.rec, which the
// intent's outcome changed, and reads the task back (verifyTask) as
// batchOf finds it in the record.
func (b *Bot) fileTeamTask(ctx context.Context, r *run, what string, in intent, spec conduit.TaskSpec, batchOf func(*state.Campaign) state.Batch) error {
	created, err := b.exec.apply(ctx, r.rec.Name, in)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if r.rec, err = b.read.campaignRecord(r.rec.Name); err != nil {
		return err
	}
	bt := batchOf(&r.rec)
	if created {
		r.event("filed the %s T%d", what, bt.TaskID)
	}
	return b.verifyTask(ctx, r.rec.Name, bt, spec)
}

// decideStandingTask is the intent to file the recurring campaign's task
// for the team, and the task it asks for: restricted like the audit tasks
// (the policies frozen at launch), tagged with and subscribing the team
// and the approvers, naming nobody.
func decideStandingTask(w *wording, c *campaigns.Campaign, rec *state.Campaign) (intent, conduit.TaskSpec, error) {
	if rec.TeamPHID == "" {
		return intent{}, conduit.TaskSpec{}, fmt.Errorf("%w: a recurring campaign needs a team for its standing task", ErrInput)
	}
	desc, err := w.render(templates.StandingTask, templates.StandingTaskData{Campaign: w.campaignData(c, rec), Every: offsetName(c.Recurring.Every)})
	if err != nil {
		return intent{}, conduit.TaskSpec{}, err
	}
	spec := conduit.TaskSpec{
		Title:           rec.Title + ": recurring scans",
		Description:     desc,
		SubscriberPHIDs: uniq([]string{rec.TeamPHID, rec.ApproversPHID}),
		ProjectPHIDs:    uniq(append([]string{rec.TeamPHID}, rec.TagPHIDs...)),
	}
	if spec.ViewPolicy, spec.EditPolicy, err = taskPolicies(c, rec); err != nil {
		return intent{}, conduit.TaskSpec{}, err
	}
	in := fileTaskIntent(standingTaskKey(), spec, state.Entry{Actor: rec.BotUsername, Detail: "standing task for the team"},
		func(tx *state.CampaignTx, t conduit.Task, _ time.Time) error {
			cur := tx.Campaign()
			cur.StandingTaskPHID, cur.StandingTaskID = t.PHID, t.ID
			return tx.PutCampaign(cur)
		})
	return in, spec, nil
}
