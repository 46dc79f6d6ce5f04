package campaigns_test

import (
	"fmt"

	"github.com/auditbot/auditbot/campaigns"
)

func ExampleParseCampaign() {
	c, err := campaigns.ParseCampaign("campaigns/mfa-2027q1.yaml", []byte(`
name: mfa-2027q1
criteria: [mfa, disabled]
team: Security-Team
groups: [WMF-NDA, acl*security, acl*sre-team]
cutoff: 2027-02-28
reminders: [7d, 30d, 1d]
approvers: acl*phabricator-admins
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Name, c.Criteria, c.BatchSize)
	fmt.Println("deadline:", c.CutoffDate, "=", c.Cutoff.Format("2006-01-02T15:04:05Z07:00"))
	fmt.Println("reminders:", c.Reminders)
	fmt.Println("view policy:", c.ViewPolicy)
	// Output:
	// mfa-2027q1 [mfa disabled] 20
	// deadline: 2027-02-28 = 2027-03-01T00:00:00Z
	// reminders: [720h0m0s 168h0m0s 24h0m0s]
	// view policy: subscribers
}

func ExampleParseCampaign_errors() {
	_, err := campaigns.ParseCampaign("campaigns/mfa.yaml", []byte(`name: mfa
criteria: [mfa]
groups: [acl*security, acl_security]
cutof: 2027-02-28
cutoff: 2027-02-30
batch_size: 21
approvers: acl*phabricator-admins
`))
	fmt.Println(err)
	// Output:
	// campaigns/mfa.yaml:3: groups: "acl_security" is the same group as "acl*security"
	// campaigns/mfa.yaml:4: unknown key "cutof" (did you mean "cutoff"?)
	// campaigns/mfa.yaml:5: cutoff: "2027-02-30" is not a date (want YYYY-MM-DD or RFC 3339)
	// campaigns/mfa.yaml:6: batch_size: 21 is more than 20, the most subscribers the bot puts on one task
}

func ExampleParseRisk() {
	for _, s := range []string{"internal", "not-risky", "high"} {
		r, err := campaigns.ParseRisk(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s: %d approver(s), auto-approve %v\n", r.Label(), r.RequiredApprovals(), r.MayAutoApprove())
	}
	// Output:
	// internal (highest): 2 approver(s), auto-approve false
	// not-risky (lowest): 1 approver(s), auto-approve true
	// unknown risk level "high" (want not-risky, vandalism, security or internal)
}

func ExampleConfig_RiskOf() {
	cfg, err := campaigns.ParseConfig("config.yaml", []byte(`
conduit: {url: https://phabricator.example.org}
groups:
  acl*sre-team: {risk: internal}
  acl*events: {risk: not-risky}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range []string{"#acl_sre-team", "acl_events", "WMF-NDA"} {
		fmt.Println(g, cfg.RiskOf(g))
	}
	fmt.Println(cfg.SortByRisk([]string{"acl*events", "WMF-NDA", "acl*sre-team"}))
	// Output:
	// #acl_sre-team internal
	// acl_events not-risky
	// WMF-NDA security
	// [acl*sre-team WMF-NDA acl*events]
}
