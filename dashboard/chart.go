package dashboard

import (
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/state"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 640, 200
	padL, padB     = 40, 24
)

// complianceChart draws, from launch to now (the campaign's clock), how many of the campaign's
// users are no longer pending (compliant, exempt, left, removed, …) as a
// step line, with the cutoff marked. Each finding counts from its last
// change (Finding.UpdatedAt): the state file keeps no per-user history, so
// a user who changed twice counts from the later change. Every value in
// the SVG is a number the code computed; no text from the state is in it.
func complianceChart(snap *state.Snapshot, now time.Time) template.HTML {
	start := snap.Campaign.LaunchedAt
	end := now
	if snap.Campaign.Cutoff.After(end) {
		end = snap.Campaign.Cutoff
	}
	total := len(snap.Findings)
	if total == 0 || !end.After(start) {
		return ""
	}
	var times []time.Time
	for _, f := range snap.Findings {
		if f.Status != state.StatusPending {
			times = append(times, f.UpdatedAt)
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	span := end.Sub(start).Seconds()
	x := func(t time.Time) float64 {
		f := t.Sub(start).Seconds() / span
		return padL + min(max(f, 0), 1)*(chartW-padL-4)
	}
	y := func(n int) float64 { return (chartH - padB) - float64(n)/float64(total)*(chartH-padB-8) }
	var pts strings.Builder
	fmt.Fprintf(&pts, "%.1f,%.1f", x(start), y(0))
	n := 0
	for _, t := range times {
		if t.After(now) {
			break
		}
		fmt.Fprintf(&pts, " %.1f,%.1f", x(t), y(n))
		n++
		fmt.Fprintf(&pts, " %.1f,%.1f", x(t), y(n))
	}
	fmt.Fprintf(&pts, " %.1f,%.1f", x(now), y(n))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="users no longer pending over time: %d of %d now">`, chartW, chartH, n, total)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padL, chartH-padB, chartW-4, chartH-padB)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="8" x2="%d" y2="%d"/>`, padL, padL, chartH-padB)
	fmt.Fprintf(&b, `<text x="2" y="14">%d</text><text x="2" y="%d">0</text>`, total, chartH-padB)
	cx := x(snap.Campaign.Cutoff)
	// The label sits centred under the cutoff line, and ends at it when
	// the cutoff is near the right edge (a finished campaign's chart
	// ends shortly after it), so it is never cut off.
	lx, anchor := cx-30, "start"
	if cx+70 > chartW {
		lx, anchor = cx, "end"
	}
	fmt.Fprintf(&b, `<line class="cutoff" x1="%.1f" y1="8" x2="%.1f" y2="%d"/><text x="%.1f" y="%d" text-anchor="%s">cutoff %s</text>`, cx, cx, chartH-padB, lx, chartH-6, anchor, state.LastDay(snap.Campaign.Cutoff))
	fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`, padL, chartH-6, start.UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, `<polyline class="resolved" points="%s"/>`, pts.String())
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers and dates only, built above
}
