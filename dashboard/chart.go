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
	end := now
	if snap.Campaign.Cutoff.After(end) {
		end = snap.Campaign.Cutoff
	}
	ax := chartAxes{start: snap.Campaign.LaunchedAt, end: end, total: len(snap.Findings)}
	if ax.total == 0 || !end.After(ax.start) {
		return "", nil
	}
	lines := ax.lines(snap.Findings, now)
	var b strings.Builder
	var legend []seriesView
	var label []string
	for _, l := range lines {
		legend = append(legend, seriesView{Status: string(l.status), N: l.n})
		label = append(label, fmt.Sprintf("%s %d", l.status, l.n))
	}
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title"><title id="chart-title">Users by status over time, of %d: %s now</title>`,
		chartW, chartH, ax.total, strings.Join(label, ", "))
	ax.draw(&b, snap.Campaign.Cutoff)
	for _, l := range lines {
		fmt.Fprintf(&b, `<polyline class="series series-%s" data-status="%s" points="%s"/>`, l.status, l.status, l.points.String())
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), legend //nolint:gosec // numbers, dates and status words only, built above
}

// chartAxes maps times from start to end, and counts from 0 to total,
// into the chart's plot area.
type chartAxes struct {
	start, end time.Time
	total      int
}

func (ax chartAxes) x(t time.Time) int {
	f := t.Sub(ax.start).Seconds() / ax.end.Sub(ax.start).Seconds()
	return padL + int(min(max(f, 0), 1)*(chartW-padL-padR)+0.5)
}

func (ax chartAxes) y(n int) int {
	return chartH - padB - int(float64(n)/float64(ax.total)*(chartH-padB-padT)+0.5)
}

// chartLine is one status's step line: its points, and its count at the
// end.
type chartLine struct {
	status state.Status
	n      int
	points strings.Builder
	last   [2]int
}

// add appends a point, unless it repeats the last one.
func (l *chartLine) add(x, y int) {
	if l.points.Len() > 0 && l.last == [2]int{x, y} {
		return
	}
	if l.points.Len() > 0 {
		l.points.WriteByte(' ')
	}
	l.last = [2]int{x, y}
	fmt.Fprintf(&l.points, "%d,%d", x, y)
}

// lines are the step lines of every status anyone is in (pending
// always), in statusOrder, up to now: a point where a count changes, at
// most two per x unit, so a campaign of 10,000 users draws a few hundred.
func (ax chartAxes) lines(findings []state.Finding, now time.Time) []*chartLine {
	type change struct {
		at     time.Time
		status state.Status
	}
	var changes []change
	present := map[state.Status]bool{state.StatusPending: true}
	for _, f := range findings {
		present[f.Status] = true
		if f.Status != state.StatusPending && !f.UpdatedAt.After(now) {
			changes = append(changes, change{f.UpdatedAt, f.Status})
		}
	}
	slices.SortFunc(changes, func(a, b change) int { return a.at.Compare(b.at) })
	byStatus := map[state.Status]*chartLine{}
	var lines []*chartLine
	for _, s := range statusOrder {
		if present[s] {
			l := &chartLine{status: s}
			byStatus[s], lines = l, append(lines, l)
		}
	}
	byStatus[state.StatusPending].n = ax.total
	step := func(px int, moved map[state.Status]bool) {
		for _, l := range lines {
			if moved[l.status] {
				l.add(px, ax.y(l.n))
			}
		}
	}
	step(ax.x(ax.start), present)
	for i := 0; i < len(changes); {
		// Every change at the same x at once: one step per line.
		px := ax.x(changes[i].at)
		moved := map[state.Status]bool{state.StatusPending: true}
		j := i
		for ; j < len(changes) && ax.x(changes[j].at) == px; j++ {
			moved[changes[j].status] = true
		}
		step(px, moved)
		for _, c := range changes[i:j] {
			byStatus[c.status].n++
			byStatus[state.StatusPending].n--
		}
		step(px, moved)
		i = j
	}
	step(ax.x(now), present)
	return lines
}

// draw writes the axes, their labels and the cutoff's line.
func (ax chartAxes) draw(b *strings.Builder, cutoff time.Time) {
	base, top := chartH-padB, padT
	fmt.Fprintf(b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padL, base, chartW-padR, base)
	fmt.Fprintf(b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padL, top, padL, base)
	ticks := []int{0, ax.total}
	if ax.total >= 4 {
		ticks = []int{0, ax.total / 2, ax.total}
	}
	for _, n := range ticks {
		fmt.Fprintf(b, `<line class="grid" x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%d" text-anchor="end">%d</text>`,
			padL, ax.y(n), chartW-padR, ax.y(n), padL-4, ax.y(n)+4, n)
	}
	cx := ax.x(cutoff)
	// The label sits centred under the cutoff line, and ends at it when
	// the cutoff is near the right edge (a finished campaign's chart
	// ends shortly after it), so it is never cut off.
	anchor := "middle"
	if cx+60 > chartW {
		anchor = "end"
	}
	fmt.Fprintf(b, `<line class="cutoff" x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%d" text-anchor="%s">cutoff %s</text>`,
		cx, top, cx, base, cx, chartH-6, anchor, state.LastDay(cutoff))
	if cx-padL > 150 {
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`, padL, chartH-6, ax.start.UTC().Format(time.DateOnly))
	}
}
