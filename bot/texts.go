package bot

import (
	"fmt"
	"math"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// wording is what the engine's texts are made with: the templates, and
// the config for links. Deciders render through the view's wording.
type wording struct {
	tmpl *templates.Set
	cfg  *campaigns.Config
}

// render renders a template; a failure names the template.
func (b *wording) render(name templates.Name, data any) (string, error) {
	s, err := b.tmpl.Render(name, data)
	if err != nil {
		return "", fmt.Errorf("%w: render %s: %w", ErrInput, name, err)
	}
	return s, nil
}

// campaignData is the part of every text that describes the campaign.
func (b *wording) campaignData(c *campaigns.Campaign, rec *state.Campaign) templates.Campaign {
	d := templates.Campaign{
		Name: rec.Name, Title: rec.Title, Cutoff: rec.Cutoff,
		CutoffDate: cutoffDate(rec.Cutoff), HelpURL: c.HelpLink(b.cfg.Conduit.URL),
		Team: rec.TeamName, Approvers: "#" + rec.ApproversSlug,
		Disable: c.Disables(),
	}
	for _, cr := range c.Criteria {
		d.Criteria = append(d.Criteria, string(cr))
	}
	if c.Has(campaigns.CriterionInactive) {
		d.InactiveDays = int(c.Inactivity.Window / (24 * time.Hour))
	}
	for _, g := range rec.Groups {
		risk, _ := campaigns.ParseRisk(g.Risk)
		d.Groups = append(d.Groups, templates.Group{Name: g.Name, Risk: g.Risk, RiskLabel: risk.Label()})
	}
	return d
}

// cutoffDate is the last day users have, for texts: the cutoff instant is
// the start of the day after the date written in the campaign file.
// userCampaignData is campaignData as one user sees it: with their own
// deadline if it was extended.
func (b *wording) userCampaignData(c *campaigns.Campaign, rec *state.Campaign, f *state.Finding) templates.Campaign {
	d := b.campaignData(c, rec)
	d.Cutoff = f.EffectiveCutoff(rec)
	d.CutoffDate = cutoffDate(d.Cutoff)
	return d
}

func cutoffDate(cutoff time.Time) string { return state.LastDay(cutoff) }

// batchCampaignData is campaignData for a text on batch bt's task: on the
// team's task, users are named and never mentioned.
func (b *wording) batchCampaignData(c *campaigns.Campaign, rec *state.Campaign, bt state.Batch) templates.Campaign {
	d := b.campaignData(c, rec)
	d.TeamTask = bt.Team
	return d
}

func person(f *state.Finding) templates.Person {
	return templates.Person{Username: f.Username, RealName: f.RealName}
}

func (b *wording) taskData(c *campaigns.Campaign, rec *state.Campaign, bt state.Batch, fs []state.Finding, total int) templates.TaskData {
	d := templates.TaskData{Campaign: b.campaignData(c, rec), Batch: bt.Index, Batches: total}
	if bt.Cutoff.After(rec.Cutoff) {
		// A batch a recurring run added: its users have their own deadline.
		d.Cutoff, d.CutoffDate = bt.Cutoff, cutoffDate(bt.Cutoff)
	}
	d.TeamTask = bt.Team
	for i := range fs {
		a := templates.Affected{Person: person(&fs[i]), Groups: groupNames(rec, fs[i].Groups)}
		for _, r := range fs[i].Reasons {
			a.Reasons = append(a.Reasons, reasonText(r))
		}
		d.Affected = append(d.Affected, a)
	}
	return d
}

// daysLeft rounds up, so "1 day left" is said until the cutoff.
func daysLeft(now, cutoff time.Time) int {
	return int(math.Ceil(cutoff.Sub(now).Hours() / 24))
}

// policyValue turns the campaign's policy choice into a Conduit policy.
func policyValue(p campaigns.PolicyChoice, rec *state.Campaign) (string, error) {
	switch p.Kind {
	case campaigns.PolicySubscribers, "":
		return conduit.PolicySubscribers, nil
	case campaigns.PolicyAdmin:
		return conduit.PolicyAdmin, nil
	case campaigns.PolicyProject:
		if rec.TeamPHID == "" {
			return "", fmt.Errorf("%w: policy \"project\" needs a team project", ErrInput)
		}
		return rec.TeamPHID, nil
	case campaigns.PolicyLiteral:
		return p.Value, nil
	}
	return "", fmt.Errorf("%w: unknown policy kind %q", ErrInput, p.Kind)
}

// decisionText is the word an exemption-decision text shows for a stored
// decision. The template package keeps its own words (it does not depend
// on state); this is the one place they meet.
func decisionText(d state.Decision) string {
	switch d {
	case state.ExemptionGranted:
		return templates.DecisionGranted
	case state.ExemptionDenied:
		return templates.DecisionDenied
	}
	return string(d)
}
