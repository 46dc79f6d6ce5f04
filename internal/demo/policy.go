package demo

import (
	"fmt"
	"strings"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
)

// The third campaign: a weekly policy audit of the groups the MFA
// campaign audited.
const policyYAML = `name: policy-demo
title: "Weekly policy audit of the private groups"
criteria: [policy]
groups: [WMF-NDA, acl*security, acl*sre-team]
cutoff: 2027-06-30
every: 7d
team: Security-Team
approvers: acl*phabricator-admins
`

// policyAt is when the policy audit is launched.
var policyAt = time.Date(2027, 3, 8, 9, 0, 0, 0, time.UTC)

// PolicyResult is what the policy audit did.
type PolicyResult struct {
	// Found are the findings opened, as "P1 #slug check value".
	Found []string
	// Fixed is the finding the bot fixed after two !fix, and JoinAfter
	// acl*security's join policy afterwards.
	Fixed, JoinAfter string
}

// policyAudit runs the policy audit: launch, an administrator opens
// acl*security to every user, the next tick finds it, two approvers
// answer !fix, the bot sets the join policy back.
func (d *demo) policyAudit(camp *campaigns.Campaign) error {
	ctx := d.ctx
	res := &PolicyResult{}
	d.res.Policy = res
	d.at(policyAt, "the weekly policy audit of the three groups")
	if _, err := d.bot.Launch(ctx, camp); err != nil {
		return fmt.Errorf("policy launch: %w", err)
	}
	if err := d.tickOnly("policy audit", camp.Name); err != nil {
		return err
	}
	d.at(policyAt.Add(2*time.Hour), "an administrator opens acl*security to every user")
	alice, err := d.client("alice")
	if err != nil {
		return err
	}
	sec := d.groups["acl*security"].PHID
	if _, err := alice.EditProjectPolicy(ctx, sec, "join", conduit.PolicyUsers); err != nil {
		return err
	}
	d.say("@alice sets the join policy of acl*security to %q", conduit.PolicyUsers)
	if err := d.tickOnly("policy: join opened", camp.Name); err != nil {
		return err
	}
	snap, err := d.store.Snapshot(camp.Name)
	if err != nil {
		return err
	}
	rec := snap.Campaign
	for _, f := range rec.Policies {
		res.Found = append(res.Found, f.Label()+" "+f.Object+" "+string(f.Check)+" "+f.Value)
		if f.ObjectPHID == sec && f.Check == "join" {
			res.Fixed = f.Label()
		}
	}
	if rec.PolicyTask == nil || res.Fixed == "" {
		return fmt.Errorf("demo: the policy audit found no open join policy, or filed no task")
	}
	d.at(policyAt.Add(3*time.Hour), "two approvers ask the bot to fix it")
	for _, who := range []string{"alice", "bob"} {
		if err := d.comment(who, rec.PolicyTask.TaskID, "!fix "+res.Fixed); err != nil {
			return err
		}
	}
	if err := d.tickOnly("policy: !fix", camp.Name); err != nil {
		return err
	}
	ps, err := alice.ProjectsByPHID(ctx, []string{sec}, false)
	if err != nil || len(ps) != 1 {
		return fmt.Errorf("demo: read acl*security back: %v", err)
	}
	res.JoinAfter = ps[0].Policy.Join
	d.say("acl*security's join policy is now %q", res.JoinAfter)
	return nil
}

// policyTable is the final table's third part: the policy findings.
func (d *demo) policyTable() string {
	if d.res.Policy == nil {
		return ""
	}
	snap, err := d.store.Snapshot("policy-demo")
	if err != nil {
		return ""
	}
	var sb strings.Builder
	for _, f := range snap.Campaign.Policies {
		state := "open"
		switch {
		case len(f.FixedBy) > 0:
			state = "fixed by the bot, approved by " + strings.Join(f.FixedBy, ", ")
		case !f.Open():
			state = "closed"
		}
		fmt.Fprintf(&sb, "%s  %-13s %-6s %-30s %-9s %s\n", f.Label(), f.Object, f.Check, f.Value, f.Risk, state)
	}
	return sb.String()
}
