package demo

import (
	"fmt"
	"strings"
	"time"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/phabtest"
)

// closeAt is when the MFA campaign closes: a quiet week (approval_reminder,
// 7 days) after its last change, the restore.
var closeAt = time.Date(2027, 3, 11, 10, 0, 0, 0, time.UTC)

// closeWithTracking files the audit's tracking task (as the team would,
// readable by every user), names it in the campaign file, checks that the
// bot can see it, and ticks the MFA campaign once a quiet week has passed:
// it resolves its tasks and posts its summary on the tracking task, once.
func (d *demo) closeWithTracking() error {
	d.at(closeAt, "the team names the audit's tracking task; a quiet week after the restore, the campaign closes")
	tk := d.srv.AddTask(phabtest.TaskSpec{Title: "Audit the security groups' MFA (2027)", AuthorPHID: d.users["carol"].PHID, ViewPolicy: "users"})
	d.say("carol files T%d to track the audit, readable by every user, and adds `tracking_task: T%d` to mfa-demo.yaml", tk.ID, tk.ID)
	camp, err := campaigns.ParseCampaign("mfa-demo.yaml", []byte(campaignYAML+fmt.Sprintf("tracking_task: T%d\n", tk.ID)))
	if err != nil {
		return err
	}
	*d.mfa = *camp
	rep, err := d.bot.Check(d.ctx, camp)
	if err != nil {
		return err
	}
	for _, row := range rep.Rows {
		if row.Subject == camp.TrackingMonogram() {
			d.say("check: %s %s: ok=%v: %s", row.Subject, row.Check, row.OK, row.Detail)
		}
	}
	if err := d.tickOnly("close", camp.Name); err != nil {
		return err
	}
	for _, c := range d.srv.Comments(tk.ID) {
		if c.AuthorPHID == d.users["auditbot"].PHID && hasMarkerPrefix(c.Text, camp.Name, "close/tracking") {
			d.res.TrackingSummaries++
			d.say("the summary on T%d, as posted (inert Remarkup: names in monospace, no mention):", tk.ID)
			for line := range strings.Lines(c.Text) {
				d.say("| %s", strings.TrimRight(line, "\n"))
			}
		}
	}
	return nil
}

// tickOnly runs one tick of the named campaigns (the operator's
// `auditbot tick NAME`), as tick does for all of them.
func (d *demo) tickOnly(label string, names ...string) error {
	return d.tickWith(label, bot.TickOptions{Campaigns: names})
}
