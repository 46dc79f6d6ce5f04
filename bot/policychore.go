package bot

// The policy-audit chore: every tick, for a campaign with the policy
// criterion, read the audited groups' policies and members and the tasks
// the campaign's scope and Spaces hold; open a finding for each risky
// policy found anew and close the ones found no longer; file the team's
// policy task and comment on it when the open findings change; count the
// approvers' "!fix P1" on it and, once a finding has its quorum, verified
// again right before, set its safe value (policyfix.go).

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// policyBatch is the batch index the policy task is guarded under (the
// policies chore): it lists no users; the team and the approvers are
// subscribed by the bot when it is filed.
const policyBatch = -1

// policyTaskBatch is the policy task as the guard of the audit tasks
// sees it.
func policyTaskBatch(pt *state.PolicyTask) state.Batch {
	return state.Batch{Index: policyBatch, TaskPHID: pt.TaskPHID, TaskID: pt.TaskID, ApproversSubscribed: true}
}

// policyOpenStatuses are the task statuses the audit checks: a closed
// task (resolved security bugs are often made public on purpose) is not
// reported. "open()" is maniphest.search's function for every open
// status, custom ones included (NOTES fact 57).
var policyOpenStatuses = []string{"open()"}

// policyInputOf reads what the policy checks need: the groups (read with
// their members and policies this tick), the members' accounts, the
// tasks in the scope projects and Spaces.
func (b *reader) policyInputOf(ctx context.Context, r *run) (policyInput, error) {
	in := policyInput{approvers: r.rec.ApproversPHID, self: r.rec.BotPHID}
	if _, err := b.liveMembers(ctx, r); err != nil {
		return in, err
	}
	var members []string
	for _, g := range r.rec.Groups {
		i := slices.IndexFunc(r.groups, func(p conduit.Project) bool { return p.PHID == g.PHID })
		if i < 0 {
			return in, fmt.Errorf("group %s is no longer visible to the bot", g.Name)
		}
		risk, err := campaigns.ParseRisk(g.Risk)
		if err != nil {
			risk = campaigns.RiskInternal // fail closed: the strictest grading
		}
		in.groups = append(in.groups, policyGroup{Project: r.groups[i], Risk: risk})
		in.inside = append(in.inside, g.PHID)
		members = append(members, r.groups[i].MemberPHIDs...)
	}
	for _, p := range []string{r.rec.TeamPHID, r.rec.ApproversPHID} {
		if p != "" {
			in.inside = append(in.inside, p)
		}
	}
	var err error
	if in.accounts, err = b.usersMatching(ctx, uniq(members), conduit.UserQuery{}); err != nil {
		return in, fmt.Errorf("read the members' accounts: %w", err)
	}
	in.tasks, err = b.policyTasks(ctx, r.c)
	return in, err
}

// policyTasks reads the open tasks tagged with one of the campaign's
// scope projects (one search each: the projects constraint wants all of
// its projects) or in one of its Spaces.
func (b *reader) policyTasks(ctx context.Context, c *campaigns.Campaign) ([]conduit.Task, error) {
	var out []conduit.Task
	if len(c.Policy.Scope) > 0 {
		found, err := b.resolveProjects(ctx, c.Policy.Scope, false)
		if err != nil {
			return nil, fmt.Errorf("resolve policy.scope: %w", err)
		}
		for _, name := range c.Policy.Scope {
			p, ok := found[name]
			if !ok {
				return nil, fmt.Errorf("%w: policy.scope: unknown project %s: no project with that name or slug is visible to the bot", ErrInput, name)
			}
			ts, err := b.conn.SearchTasks(ctx, conduit.TaskQuery{ProjectPHIDs: []string{p.PHID}, Statuses: policyOpenStatuses})
			if err != nil {
				return nil, fmt.Errorf("read the tasks of %s: %w", name, err)
			}
			out = append(out, ts...)
		}
	}
	if len(c.Policy.Spaces) > 0 {
		ts, err := b.conn.SearchTasks(ctx, conduit.TaskQuery{SpacePHIDs: c.Policy.Spaces, Statuses: policyOpenStatuses})
		if err != nil {
			return nil, fmt.Errorf("read the tasks of policy.spaces: %w", err)
		}
		out = append(out, ts...)
	}
	return out, nil
}

// chorePolicyAudit runs the policy audit of a campaign with the policy
// criterion (see the top of this file).
func (b *Bot) chorePolicyAudit(ctx context.Context, r *run) error {
	if !r.c.Has(campaigns.CriterionPolicy) || r.rec.Closed() {
		return nil
	}
	if err := b.settleFixes(ctx, r); err != nil {
		return err
	}
	in, err := b.read.policyInputOf(ctx, r)
	if err != nil {
		return fmt.Errorf("policy audit: %w", err)
	}
	for _, it := range decidePolicyFindings(&r.rec, checkPolicies(in), b.read.now().UTC()) {
		if _, err := b.exec.apply(ctx, r.rec.Name, it); err != nil {
			return err
		}
		r.say(it.said)
	}
	if r.rec, err = b.read.campaignRecord(r.rec.Name); err != nil {
		return err
	}
	if err := b.ensurePolicyTask(ctx, r); err != nil {
		return err
	}
	if r.rec.PolicyTask == nil {
		return nil
	}
	if err := b.readFixCommands(ctx, r); err != nil {
		return err
	}
	if err := b.carryOutFixes(ctx, r); err != nil {
		return err
	}
	return b.postPolicyUpdate(ctx, r)
}

// decidePolicyFindings compares what the checks found with the recorded
// findings: one found anew opens (with the next label), one found no
// longer closes. A finding is the same while its object, check and value
// are: a policy changed to another risky value is a new finding (the
// approvals given were for the old one). Pure.
func decidePolicyFindings(rec *state.Campaign, found []state.PolicyFinding, now time.Time) []intent {
	same := func(a, b state.PolicyFinding) bool { return a.Key == b.Key && a.Value == b.Value }
	var out []intent
	for _, f := range rec.Policies {
		if !f.Open() || slices.ContainsFunc(found, func(g state.PolicyFinding) bool { return same(f, g) }) {
			continue
		}
		label, key := f.Label(), f.Key
		out = append(out, intent{
			entry: state.Entry{Kind: state.EntryPolicyCleared, At: now, Actor: rec.BotUsername, Group: f.Object,
				Detail: fmt.Sprintf("%s: %s policy of %s is no longer %s", label, f.Check, f.Object, f.Value)},
			change: updatePolicy(key, f.Value, func(p *state.PolicyFinding) { p.ClosedAt = now }),
			said:   said{ev{kind: string(state.EntryPolicyCleared)}, fmt.Sprintf("policy finding %s closed: %s %s is no longer %s", label, f.Object, f.Check, f.Value)},
		})
	}
	next := 0
	for _, f := range rec.Policies {
		next = max(next, f.ID)
	}
	for _, g := range found {
		if slices.ContainsFunc(rec.Policies, func(f state.PolicyFinding) bool { return f.Open() && same(f, g) }) {
			continue
		}
		next++
		g.ID, g.OpenedAt = next, now
		nf := g
		out = append(out, intent{
			entry: state.Entry{Kind: state.EntryPolicyFound, At: now, Actor: rec.BotUsername, Group: g.Object,
				Detail: fmt.Sprintf("%s (%s): %s policy %s: %s", nf.Label(), g.Risk, g.Check, g.Value, g.Why)},
			change: func(tx *state.CampaignTx, _ outcomeOf) error {
				cur := tx.Campaign()
				if slices.ContainsFunc(cur.Policies, func(f state.PolicyFinding) bool { return f.ID == nf.ID || (f.Open() && same(f, nf)) }) {
					return nil
				}
				cur.Policies = append(cur.Policies, nf)
				return tx.PutCampaign(cur)
			},
			said: said{ev{kind: string(state.EntryPolicyFound)}, fmt.Sprintf("policy finding %s opened: %s %s is %s (%s)", nf.Label(), g.Object, g.Check, g.Value, g.Risk)},
		})
	}
	return out
}

// updatePolicy changes the open finding with key and value in the
// campaign record.
func updatePolicy(key, value string, fn func(*state.PolicyFinding)) func(tx *state.CampaignTx, _ outcomeOf) error {
	return func(tx *state.CampaignTx, _ outcomeOf) error {
		cur := tx.Campaign()
		for i := range cur.Policies {
			if p := &cur.Policies[i]; p.Key == key && p.Value == value && p.Open() {
				fn(p)
				return tx.PutCampaign(cur)
			}
		}
		return nil
	}
}

// openPolicies are the campaign's open policy findings, by label.
func openPolicies(rec *state.Campaign) []state.PolicyFinding {
	var out []state.PolicyFinding
	for _, f := range rec.Policies {
		if f.Open() {
			out = append(out, f)
		}
	}
	return out
}

// ensurePolicyTask files the team's policy task once there is an open
// finding: restricted like the audit tasks, tagged with the team and
// subscribing the team and the approvers.
func (b *Bot) ensurePolicyTask(ctx context.Context, r *run) error {
	open := openPolicies(&r.rec)
	if r.rec.PolicyTask != nil || len(open) == 0 {
		return nil
	}
	in, spec, err := decidePolicyTask(r.c, &r.rec)
	if err != nil {
		return err
	}
	return b.fileTeamTask(ctx, r, "policy task", in, spec, func(rec *state.Campaign) state.Batch { return policyTaskBatch(rec.PolicyTask) })
}

// decidePolicyTask is the intent to file the policy task, listing the
// open findings.
func decidePolicyTask(c *campaigns.Campaign, rec *state.Campaign) (intent, conduit.TaskSpec, error) {
	if rec.TeamPHID == "" {
		return intent{}, conduit.TaskSpec{}, fmt.Errorf("%w: the policy criterion needs a team for its task", ErrInput)
	}
	open := openPolicies(rec)
	spec := conduit.TaskSpec{
		Title:           rec.Title + ": policy findings",
		Description:     policyTaskText(rec, open),
		SubscriberPHIDs: uniq([]string{rec.TeamPHID, rec.ApproversPHID}),
		ProjectPHIDs:    uniq(append([]string{rec.TeamPHID}, rec.TagPHIDs...)),
	}
	var err error
	if spec.ViewPolicy, spec.EditPolicy, err = taskPolicies(c, rec); err != nil {
		return intent{}, conduit.TaskSpec{}, err
	}
	said := labels(open)
	var listed []string // what the description filed lists
	in := fileTaskIntent(policyTaskKey(), spec, state.Entry{Actor: rec.BotUsername, Detail: "policy task for the team"},
		func(tx *state.CampaignTx, t conduit.Task, _ time.Time) error {
			cur := tx.Campaign()
			if cur.PolicyTask == nil {
				shown := map[string]int{}
				for _, l := range listed {
					shown[l] = 0 // listed in the description
				}
				cur.PolicyTask = &state.PolicyTask{TaskID: t.ID, TaskPHID: t.PHID, Said: listed, Shown: shown}
			}
			return tx.PutCampaign(cur)
		})
	// What the description lists is recorded with the intent: a task
	// found filed after a crash lists what was open then, and the next
	// update tells what opened since.
	in.args = map[string]string{argLabels: strings.Join(said, ","), argAnswers: "0"}
	change := in.change
	in.change = func(tx *state.CampaignTx, res outcomeOf) error {
		listed = said
		if res.reconciled {
			listed, _ = postedUpdate(res.args, said, 0)
		}
		return change(tx, res)
	}
	return in, spec, nil
}

// labels lists the findings' labels.
func labels(fs []state.PolicyFinding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Label())
	}
	return out
}

// postPolicyUpdate comments on the policy task when the open findings
// changed since it last said them, or commands wait for their answer.
func (b *Bot) postPolicyUpdate(ctx context.Context, r *run) error {
	in := decidePolicyUpdate(&r.rec)
	if in == nil {
		return nil
	}
	sent, err := b.exec.apply(ctx, r.rec.Name, *in)
	if err != nil {
		return err
	}
	if sent {
		r.event("commented on the policy task %s", r.rec.PolicyTask.Monogram())
	}
	r.rec, err = b.read.campaignRecord(r.rec.Name)
	return err
}

// postedUpdate is what a policy task update that landed said, from the
// args its intent recorded: the findings it listed and how many answers
// it carried (an intent recorded without them: said and answered).
func postedUpdate(args map[string]string, said []string, answered int) ([]string, int) {
	labels, ok := args[argLabels]
	n, err := strconv.Atoi(args[argAnswers])
	if !ok || err != nil {
		return said, answered
	}
	out := []string{}
	if labels != "" {
		out = strings.Split(labels, ",")
	}
	return out, n
}

// decidePolicyUpdate is the comment that tells the team what changed:
// the findings open now, those closed since the last comment, and the
// answers to the commands read. nil when there is nothing new. Pure.
func decidePolicyUpdate(rec *state.Campaign) *intent {
	pt := rec.PolicyTask
	open := openPolicies(rec)
	now := labels(open)
	if slices.Equal(now, pt.Said) && len(pt.Answers) == 0 {
		return nil
	}
	var closed []state.PolicyFinding
	for _, f := range rec.Policies {
		if !f.Open() && slices.Contains(pt.Said, f.Label()) {
			closed = append(closed, f)
		}
	}
	text := policyUpdateText(rec, open, closed, pt.Answers)
	n := pt.Updates + 1
	answered := len(pt.Answers)
	return &intent{key: policyUpdateKey(n), kind: state.OpComment, write: comment(pt.TaskPHID, text),
		// What the comment lists is recorded before it is posted: reading
		// the comment back (by its marker) tells when those were shown.
		args:  map[string]string{argLabels: strings.Join(now, ","), argAnswers: strconv.Itoa(answered)},
		entry: state.Entry{Actor: rec.BotUsername, Task: pt.Monogram(), Detail: fmt.Sprintf("policy findings open: %s", strings.Join(now, ", "))},
		change: func(tx *state.CampaignTx, res outcomeOf) error {
			cur := tx.Campaign()
			if cur.PolicyTask == nil || cur.PolicyTask.Updates >= n {
				return nil
			}
			said, posted := now, answered
			if res.reconciled {
				// An earlier attempt landed: it said what was recorded
				// with it, not what this tick would have said.
				said, posted = postedUpdate(res.args, now, answered)
			}
			cur.PolicyTask.Updates, cur.PolicyTask.Said = n, said
			cur.PolicyTask.Answers = cur.PolicyTask.Answers[min(posted, len(cur.PolicyTask.Answers)):]
			return tx.PutCampaign(cur)
		},
		said: said{ev{kind: "policy-update", task: pt.Monogram()}, fmt.Sprintf("policy task %s: %d finding(s) open", pt.Monogram(), len(open))},
	}
}
