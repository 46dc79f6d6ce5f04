package dashboard

import (
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/state"
)

// Chart geometry, in SVG user units. The SVG scales to the width it is
// given (viewBox, no fixed size); the legend is HTML beside it, readable
// at any width.
const (
	chartW, chartH = 640, 220
	padL, padR     = 40, 8
	padT, padB     = 10, 30
)

// seriesView is one line of the chart, as its legend names it.
type seriesView struct {
	Status string
	// N is how many users are in the status at the chart's end.
	N int
}

// complianceChart draws, from launch to now (the campaign's clock), how
// many of the campaign's users are in each status: one step line per
// status anyone is in, pending always, on an axis from 0 to every
// affected user. A removed user is not compliant, an exempt one neither:
// each outcome is its own line. The state file keeps no per-user
// history, so a user counts in their current status from their last
// change (Finding.UpdatedAt), and as pending before it; the page says so.
// Every value in the SVG is a number or a word the code chose; no text
// from the state is in it.
func complianceChart(snap *state.Snapshot, now time.Time) (template.HTML, []seriesView) {
	start := snap.Campaign.LaunchedAt
	end := now
	if snap.Campaign.Cutoff.After(end) {
		end = snap.Campaign.Cutoff
	}
	total := len(snap.Findings)
	if total == 0 || !end.After(start) {
		return "", nil
	}
	type change struct {
		at     time.Time
		status state.Status
	}
	var changes []change
	present := map[state.Status]bool{state.StatusPending: true}
	for _, f := range snap.Findings {
		present[f.Status] = true
		if f.Status != state.StatusPending {
			changes = append(changes, change{f.UpdatedAt, f.Status})
		}
	}
	slices.SortFunc(changes, func(a, b change) int { return a.at.Compare(b.at) })
	span := end.Sub(start).Seconds()
	x := func(t time.Time) int {
		f := t.Sub(start).Seconds() / span
		return padL + int(min(max(f, 0), 1)*(chartW-padL-padR)+0.5)
	}
	y := func(n int) int { return chartH - padB - int(float64(n)/float64(total)*(chartH-padB-padT)+0.5) }

	// One step line per status: a point where its count changes, at most
	// two per x unit, so a campaign of 10,000 users draws a few hundred.
	var series []state.Status
	for _, s := range statusOrder {
		if present[s] {
			series = append(series, s)
		}
	}
	count := map[state.Status]int{state.StatusPending: total}
	pts := map[state.Status]*strings.Builder{}
	lastPt := map[state.Status][2]int{}
	point := func(s state.Status, px, py int) {
		if p, ok := lastPt[s]; ok && p == [2]int{px, py} {
			return
		}
		lastPt[s] = [2]int{px, py}
		b := pts[s]
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(b, "%d,%d", px, py)
	}
	for _, s := range series {
		pts[s] = &strings.Builder{}
		point(s, x(start), y(count[s]))
	}
	for i := 0; i < len(changes) && !changes[i].at.After(now); {
		// Every change at the same x at once: one step per series.
		px := x(changes[i].at)
		j := i
		moved := map[state.Status]bool{state.StatusPending: true}
		for ; j < len(changes) && !changes[j].at.After(now) && x(changes[j].at) == px; j++ {
			moved[changes[j].status] = true
		}
		step := func() {
			for _, s := range series {
				if moved[s] {
					point(s, px, y(count[s]))
				}
			}
		}
		step()
		for _, c := range changes[i:j] {
			count[c.status]++
			count[state.StatusPending]--
		}
		step()
		i = j
	}
	var legend []seriesView
	var b strings.Builder
	var label []string
	for _, s := range series {
		point(s, x(now), y(count[s]))
		legend = append(legend, seriesView{Status: string(s), N: count[s]})
		label = append(label, fmt.Sprintf("%s %d", s, count[s]))
	}
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title"><title id="chart-title">Users by status over time, of %d: %s now</title>`,
		chartW, chartH, total, strings.Join(label, ", "))
	base, top := chartH-padB, padT
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padL, base, chartW-padR, base)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padL, top, padL, base)
	ticks := []int{0, total}
	if total >= 4 {
		ticks = []int{0, total / 2, total}
	}
	for _, n := range ticks {
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%d" text-anchor="end">%d</text>`,
			padL, y(n), chartW-padR, y(n), padL-4, y(n)+4, n)
	}
	cx := x(snap.Campaign.Cutoff)
	// The label sits centred under the cutoff line, and ends at it when
	// the cutoff is near the right edge (a finished campaign's chart
	// ends shortly after it), so it is never cut off.
	lx, anchor := cx, "middle"
	if cx+60 > chartW {
		lx, anchor = cx, "end"
	}
	fmt.Fprintf(&b, `<line class="cutoff" x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%d" text-anchor="%s">cutoff %s</text>`,
		cx, top, cx, base, lx, chartH-6, anchor, state.LastDay(snap.Campaign.Cutoff))
	if cx-padL > 150 {
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`, padL, chartH-6, start.UTC().Format(time.DateOnly))
	}
	for _, s := range series {
		fmt.Fprintf(&b, `<polyline class="series series-%s" data-status="%s" points="%s"/>`, s, s, pts[s].String())
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), legend //nolint:gosec // numbers, dates and status words only, built above
}
