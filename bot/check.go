package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
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
	// Warn marks a row that passes but that a person should act on.
	Warn   bool   `json:"warn,omitempty"`
	Detail string `json:"detail"`
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
		switch {
		case !c.OK:
			mark = "FAIL"
		case c.Warn:
			mark = "WARN"
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
	self, err := b.read.self(ctx)
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
	if err := b.checkCampaign(ctx, c, snap, r); err != nil {
		return nil, nil, err
	}
	return r, snap, nil
}

// checkGatekeeper checks who may join p, the campaign's approvers' or
// team project (Phorge's default join policy is "all users"). Anyone may
// join the approvers: the check fails, since whoever joins could approve
// removals. Anyone may join the team: the check warns, since whoever
// joins reads every audit task (it is subscribed to them), but the team's
// project is often not the audit's to change, and a tick says so again.
func checkGatekeeper(r *CheckReport, p conduit.Project, role string) {
	why := openToJoin(p, role)
	switch {
	case why != "" && role == "approvers":
		r.fail(p.Name, role+" join policy", why, ErrInput)
	case why != "":
		r.Rows = append(r.Rows, CheckRow{Subject: p.Name, Check: role + " join policy", OK: true, Warn: true, Detail: why})
	default:
		r.add(p.Name, role+" join policy", true, p.Policy.Join)
	}
}

// openToJoin says why anyone may join p, the campaign's role ("team" or
// "approvers") project, and what that lets them do; "" when they may not.
func openToJoin(p conduit.Project, role string) string {
	if p.Policy.Join != conduit.PolicyUsers && p.Policy.Join != conduit.PolicyPublic {
		return ""
	}
	does := "reads every audit task (the team is subscribed to them)"
	if role == "approvers" {
		does = "may approve removals"
	}
	return fmt.Sprintf("anyone may join %s (join policy %q), and whoever joins %s: set its join policy to its members or administrators", p.Name, p.Policy.Join, does)
}

// checkCampaign is the part of the pre-flight check that needs the
// campaign's groups resolved: its criteria can be evaluated, its tasks'
// policies are safe, and the bot may edit each group's membership.
func (b *Bot) checkCampaign(ctx context.Context, c *campaigns.Campaign, snap *snapshot, r *CheckReport) error {
	self := snap.self
	r.add(snap.approvers.Name, "approvers visible", true, fmt.Sprintf("%d member(s)", len(snap.approvers.MemberPHIDs)))
	checkGatekeeper(r, snap.approvers, "approvers")
	if snap.team != nil {
		r.add(snap.team.Name, "team visible", true, "tagged and subscribed on every task")
		checkGatekeeper(r, *snap.team, "team")
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
			return err
		}
	}
	if c.Disables() {
		checkDisable(r, c, snap)
	}
	if c.Has(campaigns.CriterionInactive) {
		for _, v := range activityVisibility(c, snap) {
			// Information, not a failure: a reply keeps access.
			r.add(v.Subject, "activity visible", true, v.Detail)
		}
	}
	if err := b.checkTaskPolicies(ctx, c, snap, self, r); err != nil {
		return err
	}
	if err := b.checkTracking(ctx, c, r); err != nil {
		return err
	}
	for _, g := range snap.groups {
		r.add(g.Name, "visible", true, fmt.Sprintf("%d member(s), risk %s", len(g.MemberPHIDs), g.Risk))
		if slices.Contains(g.MemberPHIDs, ProbePHID) {
			return fmt.Errorf("probe %s: the probe PHID %s is a member; refusing to probe", g.Name, ProbePHID)
		}
		res, err := b.exec.probeMembership(ctx, g.PHID)
		switch {
		case errors.Is(err, conduit.ErrPermissionDenied) && policyOnly(c):
			// Information, not a failure: a policy audit removes no one;
			// the bot cannot !fix this group's policies either.
			r.add(g.Name, "may edit membership", true, "denied: "+policyHint(err)+"; a policy-only campaign removes no one, but the bot cannot !fix this group's join or edit policy")
		case errors.Is(err, conduit.ErrPermissionDenied):
			r.add(g.Name, "may edit membership", false, "denied: "+policyHint(err))
		case err != nil:
			return fmt.Errorf("probe %s: %w", g.Name, err)
		case len(res.TransactionPHIDs) > 0:
			r.add(g.Name, "may edit membership", false, "probe changed the project: investigate")
		default:
			r.add(g.Name, "may edit membership", true, "no-op removal accepted")
		}
	}
	return nil
}

// policyOnly reports whether the campaign audits policies alone: it
// removes no one.
func policyOnly(c *campaigns.Campaign) bool {
	return len(c.Criteria) == 1 && c.Has(campaigns.CriterionPolicy)
}

// taskPolicy is one of the two policies a campaign's tasks carry.
type taskPolicy struct {
	name   string
	choice campaigns.PolicyChoice
	edit   bool
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
	for _, p := range []taskPolicy{{"view policy", c.ViewPolicy, false}, {"edit policy", c.EditPolicy, true}} {
		value, err := policyValue(p.choice, &rec)
		if err != nil {
			r.fail("tasks", p.name, err.Error(), ErrInput)
			continue
		}
		// A project policy: who is in the project decides.
		var proj *conduit.Project
		if strings.HasPrefix(value, "PHID-PROJ-") {
			ps, err := b.read.projectsByPHID(ctx, []string{value}, true)
			if err != nil {
				return fmt.Errorf("check %s: %w", p.name, err)
			}
			if len(ps) == 1 {
				proj = &ps[0]
			}
		}
		ok, detail := judgeTaskPolicy(p, value, self, snap, proj)
		r.add("tasks", p.name, ok, detail)
	}
	return nil
}

// judgeTaskPolicy says whether a task policy (value) is safe, and why:
// the bot must meet it, it must not let anyone read the tasks, and as
// edit policy it must not let a user the tasks name edit them. proj is the
// policy's project, read with its members, when the policy is one (nil if
// the bot cannot see it).
func judgeTaskPolicy(p taskPolicy, value string, self conduit.Whoami, snap *snapshot, proj *conduit.Project) (bool, string) {
	switch {
	case value == conduit.PolicySubscribers && p.edit:
		return false, "subscribers: every user a task names is subscribed, and could make the task public or rewrite it; use admin"
	case value == conduit.PolicySubscribers:
		return true, "subscribers (the bot is the author, so subscribed)"
	case value == conduit.PolicyUsers || value == conduit.PolicyPublic:
		return false, fmt.Sprintf("%q lets anyone %s the tasks, which name non-compliant members of access groups", value, map[bool]string{true: "edit (and so publish)", false: "read"}[p.edit])
	case value == conduit.PolicyAdmin:
		if admins := affected(snap, func(u conduit.User) bool { return u.IsAdmin() }); p.edit && len(admins) > 0 {
			return false, "administrators, and the tasks name administrator(s) " + strings.Join(admins, ", ") +
				" who could make their task public; set the policy to the bot's own user PHID " + self.PHID
		}
		return self.IsAdmin(), "administrators"
	case strings.HasPrefix(value, "PHID-USER-"):
		return value == self.PHID, "one user: " + value + " (must be the bot)"
	case strings.HasPrefix(value, "PHID-PROJ-"):
		return judgeProjectPolicy(p, value, self, snap, proj)
	}
	return false, fmt.Sprintf("%q is not a policy the bot can check; use subscribers, admin, project or a project PHID", value)
}

// judgeProjectPolicy is judgeTaskPolicy for a project's members.
func judgeProjectPolicy(p taskPolicy, value string, self conduit.Whoami, snap *snapshot, proj *conduit.Project) (bool, string) {
	if proj == nil {
		return false, "members of " + value + ", which the bot is not in: Phabricator would refuse to create the tasks"
	}
	if p.edit {
		if in := affected(snap, func(u conduit.User) bool { return slices.Contains(proj.MemberPHIDs, u.PHID) }); len(in) > 0 {
			return false, "members of " + proj.Name + ", which has affected user(s) " + strings.Join(in, ", ") +
				" who could make their task public; use admin"
		}
	}
	if !slices.Contains(proj.MemberPHIDs, self.PHID) {
		return false, "members of " + proj.Name + ", which the bot is not in: Phabricator would refuse to create the tasks"
	}
	return true, "members of " + proj.Name
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

// checkDisable checks a campaign with action disable: the bot must be an
// administrator to disable accounts (user.edit, NOTES fact 60), and the
// affected users it will never disable (bots, administrators, approvers)
// are listed, as warnings: a person decides about them.
func checkDisable(r *CheckReport, c *campaigns.Campaign, snap *snapshot) {
	self := snap.self
	r.add("@"+self.Username, "may disable accounts", self.IsAdmin(),
		map[bool]string{true: "admin: user.edit may disable and enable accounts", false: "not an admin: only administrators may disable accounts (action: disable)"}[self.IsAdmin()])
	for _, s := range neverDisabled(snap) {
		r.Rows = append(r.Rows, CheckRow{Subject: "@" + s.Username, Check: "never disabled", OK: true, Warn: true,
			Detail: s.Reason + ": exempt from " + c.Name + "'s disabling; a person decides"})
	}
}
