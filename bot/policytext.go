package bot

// The texts of the policy task. They name people in monospace, never as
// @mentions: a mention would subscribe them to the restricted task.

import (
	"fmt"
	"strings"

	"github.com/auditbot/auditbot/state"
)

// policyTaskText is the policy task's description: what the audit is,
// the findings open now and how to fix them.
func policyTaskText(rec *state.Campaign, open []state.PolicyFinding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The policy audit of campaign `%s` checks who may join, edit and see the audited groups, "+
		"which bots and mailing lists are members, and who may see and edit the tasks they guard. "+
		"It re-checks every tick: a finding that is fixed closes, a new one is added here.\n\n", rec.Name)
	writePolicyTable(&b, open)
	fmt.Fprintf(&b, "\nAn approver (a member of #%s) may answer `!fix P1` for a finding marked //the bot can fix//: "+
		"the bot then sets the safe value, once as many distinct approvers as the group's risk needs have asked. "+
		"Everything else, and custom policies above all, is for a person to review and fix by hand.\n", rec.ApproversSlug)
	return b.String()
}

// policyUpdateText is a comment on the policy task: what is open, what
// closed since the last comment, and the answers to commands.
func policyUpdateText(rec *state.Campaign, open, closed []state.PolicyFinding, answers []string) string {
	var b strings.Builder
	if len(answers) > 0 {
		b.WriteString("Commands read:\n")
		for _, a := range answers {
			fmt.Fprintf(&b, "- %s\n", a)
		}
		b.WriteString("\n")
	}
	if len(closed) > 0 {
		b.WriteString("Closed:\n")
		for _, f := range closed {
			how := "no longer found"
			if len(f.FixedBy) > 0 {
				how = fmt.Sprintf("fixed by the bot (set to `%s`), approved by `%s`", f.Safe, strings.Join(f.FixedBy, "`, `"))
			}
			fmt.Fprintf(&b, "- %s: %s %s policy: %s\n", f.Label(), f.Object, f.Check, how)
		}
		b.WriteString("\n")
	}
	if len(open) == 0 {
		b.WriteString("No policy finding is open.\n")
		return b.String()
	}
	writePolicyTable(&b, open)
	return b.String()
}

// writePolicyTable writes the open findings as a Remarkup table.
func writePolicyTable(b *strings.Builder, open []state.PolicyFinding) {
	fmt.Fprintf(b, "%d policy finding(s) open:\n\n", len(open))
	b.WriteString("| | object | policy | now | risky because | safe value | risk | fix |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, f := range open {
		safe, fix := "-", "by hand"
		if f.Safe != "" {
			safe = "`" + f.Safe + "`"
		}
		if policyFixable(f) {
			fix = fmt.Sprintf("the bot can fix: `!fix %s` (%d of %d approvals)", f.Label(), len(f.Approvals), f.RequiredApprovals)
		}
		if f.ByHand {
			fix = "review by hand"
		}
		fmt.Fprintf(b, "| %s | %s | %s | `%s` | %s | %s | %s | %s |\n", f.Label(), f.Object, f.Check, f.Value, f.Why, safe, f.Risk, fix)
	}
}
