package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// CheckRow is one pre-flight check.
type CheckRow struct {
	Subject string `json:"subject"`
	Check   string `json:"check"`
	OK      bool   `json:"ok"`
	Detail  string `json:"detail"`
	// cause is the sentinel behind a failure, when there is a more
	// specific one than ErrCheckFailed (a rejected token, an unknown group).
	cause error
}

// CheckReport is the outcome of Check.
type CheckReport struct {
	Rows []CheckRow `json:"rows"`
}

// Failed reports whether any check failed.
func (r *CheckReport) Failed() bool {
	return slices.ContainsFunc(r.Rows, func(c CheckRow) bool { return !c.OK })
}

// Err is nil when every check passed. Otherwise it matches ErrCheckFailed
// and the more specific causes of the failed rows (conduit.ErrInvalidAuth,
// ErrInput), and lists the failed rows.
func (r *CheckReport) Err() error {
	var causes []error
	var failed []string
	for _, row := range r.Rows {
		if row.OK {
			continue
		}
		failed = append(failed, fmt.Sprintf("%s: %s: %s", row.Subject, row.Check, row.Detail))
		if row.cause != nil {
			causes = append(causes, row.cause)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &checkError{causes: causes, msg: strings.Join(failed, "; ")}
}

// checkError is a failed pre-flight check with its causes.
type checkError struct {
	causes []error
	msg    string
}

func (e *checkError) Error() string { return ErrCheckFailed.Error() + ": " + e.msg }

// Unwrap exposes ErrCheckFailed and the specific causes to errors.Is.
func (e *checkError) Unwrap() []error { return append([]error{ErrCheckFailed}, e.causes...) }

func (r *CheckReport) add(subject, check string, ok bool, detail string) {
	r.Rows = append(r.Rows, CheckRow{Subject: subject, Check: check, OK: ok, Detail: detail})
}

func (r *CheckReport) fail(subject, check, detail string, cause error) {
	r.Rows = append(r.Rows, CheckRow{Subject: subject, Check: check, Detail: detail, cause: cause})
}

// WriteText prints the report as a table, failures marked.
func (r *CheckReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tSUBJECT\tCHECK\tDETAIL")
	for _, c := range r.Rows {
		mark := "ok"
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, c.Subject, c.Check, c.Detail)
	}
	return tw.Flush()
}

// Check verifies that the bot can run the campaign: the token works, the
// account is an admin (user.search's mfa constraint is admin-only), every
// audited group and the approvers' and team projects are visible, and the
// bot may edit each group's membership. The edit probe removes a user who
// is not a member, which Phabricator answers as a no-op (NOTES fact 28).
func (b *Bot) Check(ctx context.Context, c *campaigns.Campaign) (*CheckReport, error) {
	r, _, err := b.check(ctx, c)
	return r, err
}

// check is Check, also returning the groups it resolved (nil when it
// could not), so that launch does not fetch them a second time.
func (b *Bot) check(ctx context.Context, c *campaigns.Campaign) (*CheckReport, *snapshot, error) {
	r := &CheckReport{}
	if err := b.tmpl.Validate(); err != nil {
		r.add("templates", "render", false, err.Error())
	} else {
		r.add("templates", "render", true, "every template renders")
	}
	self, err := b.self(ctx)
	if errors.Is(err, conduit.ErrInvalidAuth) || errors.Is(err, conduit.ErrNoSession) {
		r.fail("token", "authenticate", "Phabricator rejected the API token (revoked, mistyped, or its user is disabled)", conduit.ErrInvalidAuth)
		return r, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	r.add("token", "authenticate", true, "authenticated as @"+self.Username)
	r.add("@"+self.Username, "administrator", self.IsAdmin(),
		map[bool]string{true: "admin: may use the mfa constraint", false: "not an admin: user.search's mfa constraint is admin-only"}[self.IsAdmin()])
	if c == nil {
		return r, nil, nil
	}
	snap, err := b.resolveGroups(ctx, c)
	if errors.Is(err, ErrInput) {
		r.fail(c.Name, "groups visible", err.Error(), ErrInput)
		return r, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	snap.self = self
	r.add(snap.approvers.Name, "approvers visible", true, fmt.Sprintf("%d member(s)", len(snap.approvers.MemberPHIDs)))
	if snap.team != nil {
		r.add(snap.team.Name, "team visible", true, "tagged and subscribed on every task")
	}
	noActivity := c.Has(campaigns.CriterionInactive) && b.activity == nil
	if noActivity {
		r.fail(c.Name, "activity source", errNoActivitySource.Error(), ErrInput)
	}
	if self.IsAdmin() && !noActivity {
		// Who the tasks will name decides which edit policies are safe;
		// launch records these findings, so user.search is asked once.
		// (A non-admin may not ask: its row above already fails.)
		if err := b.findNonCompliant(ctx, c, snap); err != nil {
			return nil, nil, err
		}
	}
	if c.Has(campaigns.CriterionInactive) {
		for _, v := range activityVisibility(c, snap) {
			// Information, not a failure: a reply keeps access.
			r.add(v.Subject, "activity visible", true, v.Detail)
		}
	}
	if err := b.checkTaskPolicies(ctx, c, snap, self, r); err != nil {
		return nil, nil, err
	}
	// The probe removes a user PHID that exists nowhere. Phorge's
	// transaction editor runs its capability checks before it filters out
	// edits with no effect ("we want to give you a permissions error even
	// if the edit would have no effect", applyTransactions in
	// PhabricatorApplicationTransactionEditor at the recorded commit), and
	// removing a PHID that is not a member is accepted as a no-op (NOTES
	// facts 28, 30; recording project.edit.members-remove.cleanup-bogus-phid).
	// So the probe learns whether the bot may edit the membership and can
	// never remove anybody, even one who joined a moment ago. It goes past
	// dry-run for the same reason, so that a dry-run launch fails exactly
	// where the real one would.
	prober := b.phab
	if u, ok := prober.(interface{ Unwrap() Phabricator }); ok {
		prober = u.Unwrap()
	}
	for _, g := range snap.groups {
		r.add(g.Name, "visible", true, fmt.Sprintf("%d member(s), risk %s", len(g.MemberPHIDs), g.Risk))
		if slices.Contains(g.MemberPHIDs, ProbePHID) {
			return nil, nil, fmt.Errorf("probe %s: the probe PHID %s is a member; refusing to probe", g.Name, ProbePHID)
		}
		res, err := prober.EditProjectMembers(ctx, g.PHID, nil, []string{ProbePHID})
		switch {
		case errors.Is(err, conduit.ErrPermissionDenied):
			r.add(g.Name, "may edit membership", false, "denied: "+policyHint(err))
		case err != nil:
			return nil, nil, fmt.Errorf("probe %s: %w", g.Name, err)
		case len(res.TransactionPHIDs) > 0:
			r.add(g.Name, "may edit membership", false, "probe changed the project: investigate")
		default:
			r.add(g.Name, "may edit membership", true, "no-op removal accepted")
		}
	}
	return r, snap, nil
}

// checkTaskPolicies makes sure the bot itself satisfies the view and edit
// policies its tasks will carry: Phabricator refuses to create a task its
// creator could not see or edit (NOTES fact 25), and that would be found
// only after the campaign was recorded. It also refuses an edit policy that
// lets a user the tasks name edit them: whoever may edit a task may make
// it public or rewrite it (NOTES fact 46). snap.findings are the affected
// users (empty when the bot is not an admin, which fails anyway).
func (b *Bot) checkTaskPolicies(ctx context.Context, c *campaigns.Campaign, snap *snapshot, self conduit.Whoami, r *CheckReport) error {
	rec := state.Campaign{}
	if snap.team != nil {
		rec.TeamPHID = snap.team.PHID
	}
	for _, p := range []struct {
		name   string
		choice campaigns.PolicyChoice
		edit   bool
	}{{"view policy", c.ViewPolicy, false}, {"edit policy", c.EditPolicy, true}} {
		value, err := policyValue(p.choice, &rec)
		if err != nil {
			r.fail("tasks", p.name, err.Error(), ErrInput)
			continue
		}
		switch {
		case value == conduit.PolicySubscribers && p.edit:
			r.add("tasks", p.name, false, "subscribers: every user a task names is subscribed, and could make the task public or rewrite it; use admin")
		case value == conduit.PolicySubscribers:
			r.add("tasks", p.name, true, "subscribers (the bot is the author, so subscribed)")
		case value == conduit.PolicyUsers || value == conduit.PolicyPublic:
			r.add("tasks", p.name, false, fmt.Sprintf("%q lets anyone %s the tasks, which name non-compliant members of access groups", value, map[bool]string{true: "edit (and so publish)", false: "read"}[p.edit]))
		case value == conduit.PolicyAdmin:
			ok, detail := self.IsAdmin(), "administrators"
			if admins := affected(snap, func(u conduit.User) bool { return u.IsAdmin() }); p.edit && len(admins) > 0 {
				ok, detail = false, "administrators, and the tasks name administrator(s) "+strings.Join(admins, ", ")+
					" who could make their task public; set the policy to the bot's own user PHID "+self.PHID
			}
			r.add("tasks", p.name, ok, detail)
		case strings.HasPrefix(value, "PHID-USER-"):
			r.add("tasks", p.name, value == self.PHID, "one user: "+value+" (must be the bot)")
		case strings.HasPrefix(value, "PHID-PROJ-"):
			ps, err := b.projectsByPHID(ctx, []string{value}, true)
			if err != nil {
				return fmt.Errorf("check %s: %w", p.name, err)
			}
			ok := len(ps) == 1 && slices.Contains(ps[0].MemberPHIDs, self.PHID)
			name := value
			if len(ps) == 1 {
				name = ps[0].Name
			}
			detail := map[bool]string{
				true:  "members of " + name,
				false: "members of " + name + ", which the bot is not in: Phabricator would refuse to create the tasks",
			}[ok]
			if len(ps) == 1 && p.edit {
				if in := affected(snap, func(u conduit.User) bool { return slices.Contains(ps[0].MemberPHIDs, u.PHID) }); len(in) > 0 {
					ok, detail = false, "members of "+name+", which has affected user(s) "+strings.Join(in, ", ")+
						" who could make their task public; use admin"
				}
			}
			r.add("tasks", p.name, ok, detail)
		default:
			r.add("tasks", p.name, false, fmt.Sprintf("%q is not a policy the bot can check; use subscribers, admin, project or a project PHID", value))
		}
	}
	return nil
}

// affected lists, as @usernames, the users the tasks will name for whom
// match holds.
func affected(snap *snapshot, match func(conduit.User) bool) []string {
	var out []string
	for _, f := range snap.findings {
		if match(f.User) {
			out = append(out, "@"+f.User.Username)
		}
	}
	return out
}

// ProbePHID is a well-formed user PHID that no install has (Phabricator
// PHIDs are PHID-USER- and 20 random lower-case letters and digits). The
// pre-flight check removes it from each group to learn whether the bot
// may edit the membership: a no-op that can never remove anybody.
const ProbePHID = "PHID-USER-auditbotnoprobeuser0"

// policyHint keeps the useful half of a policy denial ("Members of the
// project X can take this action.").
func policyHint(err error) string {
	var ce *conduit.Error
	if errors.As(err, &ce) {
		if _, after, ok := strings.Cut(ce.Info, "// "); ok {
			return after
		}
		return ce.Info
	}
	return err.Error()
}

// LaunchResult lists the tasks of a launched campaign.
type LaunchResult struct {
	Campaign string       `json:"campaign"`
	Resumed  bool         `json:"resumed"`
	Tasks    []LaunchTask `json:"tasks"`
}

// LaunchTask is one task and whether this run filed it.
type LaunchTask struct {
	Batch int    `json:"batch"`
	Task  string `json:"task"`
	Users int    `json:"users"`
	New   bool   `json:"new"`
}

// Launch runs the pre-flight checks, records the campaign, its findings
// and batches, then files one restricted task per batch. A second launch of
// the same campaign only files tasks that are still missing (after a crash)
// and never discovers again: the campaign is what was recorded.
func (b *Bot) Launch(ctx context.Context, c *campaigns.Campaign) (*LaunchResult, error) {
	report, snap, err := b.check(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := report.Err(); err != nil {
		return nil, fmt.Errorf("launch %s: nothing was written: %w", c.Name, err)
	}
	exists, err := b.store.HasCampaign(c.Name)
	if err != nil {
		return nil, err
	}
	res := &LaunchResult{Campaign: c.Name, Resumed: exists}
	if !exists && campaigns.ReservedName(c.Name) {
		// The file's parser refuses the name too; this holds for a
		// campaign built otherwise. A campaign launched before the
		// suffix was reserved still resumes.
		return nil, fmt.Errorf("%w: launch %s: a name ending in -rN names an instance of a recurring campaign; choose another name", ErrInput, c.Name)
	}
	if !exists {
		// The check resolved the groups and found the non-compliant
		// members a moment ago: use those, without asking again.
		rec := b.newCampaignRecord(c, snap)
		rec.LaunchedAt = b.now().UTC()
		// The tasks' policies are frozen here: the policies chore puts
		// them back if anyone changes them.
		var err error
		if rec.ViewPolicy, err = policyValue(c.ViewPolicy, &rec); err != nil {
			return nil, err
		}
		if rec.EditPolicy, err = policyValue(c.EditPolicy, &rec); err != nil {
			return nil, err
		}
		findings, list := newFindings(c, snap, b.now())
		// Render every task before recording anything, so a template
		// failure leaves no half-launched campaign.
		for _, bt := range list {
			if _, err := b.taskSpec(c, &rec, bt, findingsOf(findings, bt), len(list)); err != nil {
				return nil, err
			}
		}
		if err := b.store.CreateCampaign(rec, findings, list); err != nil {
			return nil, err
		}
		if err := b.journal(c.Name, state.Entry{Kind: state.EntryLaunch, Actor: snap.self.Username,
			Detail: fmt.Sprintf("%d finding(s) in %d batch(es), cutoff %s", len(findings), len(list), c.CutoffDate)}); err != nil {
			return nil, err
		}
		if lr := snap.listReport; !lr.Empty() {
			// The names come from a file: redacted again here, although
			// the parse refuses token-shaped entries, as this goes into
			// the state file.
			users := append(slices.Clone(lr.Unknown), lr.NotMembers...)
			for i := range users {
				users[i] = conduit.Redact(users[i], "")
			}
			if err := b.journal(c.Name, state.Entry{Kind: state.EntryListUnmatched, Actor: snap.self.Username,
				Users: users,
				Detail: conduit.Redact(fmt.Sprintf("%s: unknown username(s) [%s]; not a member of any audited group [%s]",
					lr.File, strings.Join(lr.Unknown, ", "), strings.Join(lr.NotMembers, ", ")), "")}); err != nil {
				return nil, err
			}
		}
		b.log.Info().Str("campaign", c.Name).Int("findings", len(findings)).Int("batches", len(list)).Msg("campaign recorded")
	}
	defer b.withBreaker()()
	tasks, err := b.ensureTasks(ctx, c)
	res.Tasks = tasks
	return res, err
}

// ensureTasks files the task of every batch that has none yet.
func (b *Bot) ensureTasks(ctx context.Context, c *campaigns.Campaign) ([]LaunchTask, error) {
	snap, err := b.store.Snapshot(c.Name)
	if err != nil {
		return nil, err
	}
	var out []LaunchTask
	var errs []error
	b.progress.Start(len(snap.Batches), "filing tasks")
	defer b.progress.Done()
	for i, bt := range snap.Batches {
		if err := ctx.Err(); err != nil {
			// Stop here: nothing is recorded for the batches left.
			return out, &InterruptedError{Done: i, Total: len(snap.Batches), Unit: "batch(es)", Err: err}
		}
		created, bt2, err := b.ensureTask(ctx, c, &snap, bt)
		b.progress.Add(1)
		if err != nil {
			errs = append(errs, fmt.Errorf("batch %d: %w", bt.Index, err))
			continue
		}
		out = append(out, LaunchTask{Batch: bt.Index, Task: bt2.Monogram(), Users: len(bt.UserPHIDs), New: created})
	}
	return out, errors.Join(errs...)
}

func (b *Bot) ensureTask(ctx context.Context, c *campaigns.Campaign, snap *state.Snapshot, bt state.Batch) (bool, state.Batch, error) {
	if bt.TaskPHID != "" {
		return false, bt, nil
	}
	rec := snap.Campaign
	spec, err := b.taskSpec(c, &rec, bt, findingsOf(snap.Findings, bt), len(snap.Batches))
	if err != nil {
		return false, bt, err
	}
	key := taskKey(bt.Index)
	created, err := b.apply(ctx, c.Name, fileTaskIntent(key, spec,
		state.Entry{Actor: rec.BotUsername, Detail: fmt.Sprintf("batch %d: %d user(s)", bt.Index, len(bt.UserPHIDs))},
		func(tx *state.CampaignTx, t conduit.Task) error {
			cur, err := tx.Batch(bt.Index)
			if err != nil {
				return err
			}
			cur.TaskPHID, cur.TaskID, cur.CreatedAt = t.PHID, t.ID, b.now().UTC()
			bt = cur
			return tx.PutBatch(cur)
		}))
	if err != nil {
		return false, bt, err
	}
	if err := b.verifyTask(ctx, c.Name, bt, spec); err != nil {
		return created, bt, err
	}
	b.log.Info().Str("campaign", c.Name).Str("task", bt.Monogram()).Int("batch", bt.Index).Bool("new", created).Msg("task filed")
	return created, bt, nil
}

// fileTaskIntent is the intent to file the task spec exactly once for op
// key: after a crash the executor looks for the task the bot filed
// (findOwnTask) before filing again. change stores the task in the same
// bbolt transaction that marks the op done; entry is journaled with the
// task's monogram.
func fileTaskIntent(key OpKey, spec conduit.TaskSpec, entry state.Entry, change func(*state.CampaignTx, conduit.Task) error) intent {
	return intent{key: key, kind: state.OpTaskCreated, write: fileTask{spec: spec}, entry: entry,
		change: func(tx *state.CampaignTx, res outcomeOf) error {
			t := res.task
			t.PHID = res.result
			return change(tx, t)
		},
		// The task's monogram is known once the task is filed (or, after
		// a crash, found).
		amend: func(e *state.Entry, res outcomeOf) {
			if res.task.ID != 0 {
				e.Task = "T" + strconv.Itoa(res.task.ID)
			}
			e.Outcome = "created"
		},
	}
}

// verifyTask reads a filed task back and fails loudly if the bot cannot see
// it or its policies are not the restricted ones asked for.
func (b *Bot) verifyTask(ctx context.Context, campaign string, bt state.Batch, spec conduit.TaskSpec) error {
	tasks, err := b.tasksByPHID(ctx, []string{bt.TaskPHID})
	if err != nil {
		return fmt.Errorf("read back %s: %w", bt.Monogram(), err)
	}
	if len(tasks) != 1 {
		return fmt.Errorf("read back %s: the bot cannot see the task it filed", bt.Monogram())
	}
	t := tasks[0]
	var problems []string
	if t.ViewPolicy != spec.ViewPolicy {
		problems = append(problems, fmt.Sprintf("view policy is %q, asked for %q", t.ViewPolicy, spec.ViewPolicy))
	}
	if t.EditPolicy != spec.EditPolicy {
		problems = append(problems, fmt.Sprintf("edit policy is %q, asked for %q", t.EditPolicy, spec.EditPolicy))
	}
	if t.ViewPolicy == conduit.PolicyPublic || t.ViewPolicy == conduit.PolicyUsers {
		problems = append(problems, "the task is not restricted")
	}
	if len(problems) > 0 {
		err := fmt.Errorf("task %s policy check failed: %s", bt.Monogram(), strings.Join(problems, "; "))
		_ = b.journal(campaign, state.Entry{Kind: state.EntryPolicyMismatch, Task: bt.Monogram(), Detail: err.Error()})
		return err
	}
	return nil
}
