package demo

import (
	"errors"
	"fmt"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/phabtest"
)

// The third campaign: contractors must use MFA or their accounts are
// disabled (action: disable), not just removed from a group.
const disableYAML = `name: contractors-disable-demo
title: "Contractors: multi-factor authentication, or the account is disabled"
criteria: [mfa]
groups: [acl*contractors]
# ci-bot, a bot account without MFA, is audited too: the plan then says it
# is never disabled.
exclude: {bots: false}
batch_size: 20
cutoff: 2027-04-05
reminders: []
team: Security-Team
approvers: acl*phabricator-admins
help_url: https://www.mediawiki.org/wiki/Phabricator/Help/Two-factor_Authentication
action: disable
removal_limit: {max_share: 100%}
`

// disableAt is when the contractors' campaign is planned and launched.
var disableAt = time.Date(2027, 3, 15, 9, 0, 0, 0, time.UTC)

// DisableResult is what the contractors' campaign did.
type DisableResult struct {
	// NeverDisabled are the affected users the plan lists as exempt.
	NeverDisabled []string
	// Disabled are the accounts the bot disabled (user.edit writes as
	// the server applied them); Enabled those it enabled again.
	Disabled, Enabled []string
	// TokenRefused reports whether contractor2's own token was refused
	// while the account was disabled; TokenWorksAgain whether it worked
	// after the restore.
	TokenRefused, TokenWorksAgain bool
}

// seedContractors adds acl*contractors: contractor1 with MFA, contractor2
// and contractor3 without, and ci-bot, a bot without MFA, whom a campaign
// never disables. They are added when the campaign starts, so the earlier
// campaigns' PHIDs stay as they were.
func (d *demo) seedContractors() {
	var members []string
	for _, spec := range []phabtest.UserSpec{
		{Username: "contractor1", RealName: "Contractor One", MFA: true},
		{Username: "contractor2", RealName: "Contractor Two"},
		{Username: "contractor3", RealName: "Contractor Three"},
	} {
		spec.Created = disableAt.AddDate(-1, 0, 0)
		u := d.srv.AddUser(spec)
		d.users[spec.Username] = u
		members = append(members, u.PHID)
	}
	d.groups["acl*contractors"] = d.srv.AddProject(phabtest.ProjectSpec{Name: "acl*contractors", Icon: "policy", Color: "red",
		EditPolicy: "admin", JoinPolicy: d.groups["acl*phabricator-admins"].PHID, Members: append(members, d.users["ci-bot"].PHID)})
}

// disabling runs the contractors' campaign: plan (ci-bot exempt),
// launch, the deadline, two approvals, the accounts disabled (the token
// refused), and a restore that enables one again.
func (d *demo) disabling(camp *campaigns.Campaign) error {
	d.at(disableAt, "a campaign that disables accounts: contractors in acl*contractors (action: disable)")
	d.seedContractors()
	res := &DisableResult{}
	d.res.Disable = res
	plan, err := d.bot.Plan(d.ctx, camp)
	if err != nil {
		return fmt.Errorf("disable plan: %w", err)
	}
	var affected []string
	for _, f := range plan.Findings {
		affected = append(affected, f.Username)
	}
	d.say("plan: %d affected %v", len(affected), affected)
	for _, s := range plan.NeverDisabled {
		res.NeverDisabled = append(res.NeverDisabled, s.Username)
		d.say("never disabled: @%s (%s)", s.Username, s.Reason)
	}
	if _, err := d.bot.Launch(d.ctx, camp); err != nil {
		return fmt.Errorf("disable launch: %w", err)
	}
	snap, err := d.store.Snapshot(camp.Name)
	if err != nil {
		return err
	}
	if len(snap.Batches) != 1 {
		return fmt.Errorf("demo: %d contractors' tasks, want 1", len(snap.Batches))
	}
	task := snap.Batches[0].TaskID
	d.say("filed T%d: without MFA by the deadline, the account is disabled", task)

	d.at(time.Date(2027, 4, 6, 9, 0, 0, 0, time.UTC), "past the contractors' deadline")
	if err := d.tickOnly("disable: deadline", camp.Name); err != nil {
		return err
	}
	d.at(time.Date(2027, 4, 6, 11, 0, 0, 0, time.UTC), "two approvers approve; the bot disables the accounts")
	for _, who := range []string{"alice", "bob"} {
		if err := d.comment(who, task, "!approve"); err != nil {
			return err
		}
	}
	if err := d.tickOnly("disable: approved", camp.Name); err != nil {
		return err
	}
	res.TokenRefused = !d.tokenWorks("contractor2")
	d.say("contractor2's own API token now: %s", map[bool]string{true: "refused (ERR-INVALID-AUTH)", false: "accepted"}[res.TokenRefused])

	d.at(time.Date(2027, 4, 7, 10, 0, 0, 0, time.UTC), "contractor2 enables MFA; an approver restores the account")
	d.srv.SetMFA(d.users["contractor2"].PHID, true)
	if err := d.comment("alice", task, "!restore @contractor2"); err != nil {
		return err
	}
	if err := d.tickOnly("disable: restore", camp.Name); err != nil {
		return err
	}
	res.TokenWorksAgain = d.tokenWorks("contractor2")
	d.say("contractor2's own API token now: %s", map[bool]string{true: "accepted", false: "refused"}[res.TokenWorksAgain])
	for _, w := range d.srv.Writes() {
		if w.Method != "user.edit" || len(w.TransactionPHIDs) == 0 {
			continue
		}
		name := d.usernameOf(w.ObjectPHID)
		if v, _ := w.Transactions[0].Value.(bool); v {
			res.Disabled = append(res.Disabled, name)
		} else {
			res.Enabled = append(res.Enabled, name)
		}
	}
	d.say("accounts disabled: %v; enabled again: %v", res.Disabled, res.Enabled)
	return nil
}

// tokenWorks reports whether username's own token is accepted.
func (d *demo) tokenWorks(username string) bool {
	c, err := d.client(username)
	if err == nil {
		_, err = c.Whoami(d.ctx)
	}
	return !errors.Is(err, conduit.ErrInvalidAuth) && err == nil
}

// usernameOf is the seeded username with that PHID.
func (d *demo) usernameOf(phid string) string {
	for n, u := range d.users {
		if u.PHID == phid {
			return n
		}
	}
	return phid
}
