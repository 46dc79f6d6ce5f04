package campaigns

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// RecurMode is what a recurring run does with the members it finds newly
// non-compliant.
type RecurMode string

// The recurring modes.
const (
	// RecurJoin adds them to the running campaign, in new batches with
	// tasks of their own (the default).
	RecurJoin RecurMode = "join"
	// RecurInstance starts a new campaign instance for them, named
	// NAME-rN after the run, with its own tasks, deadline and removals.
	RecurInstance RecurMode = "instance"
)

// Recurring is a campaign's schedule of scans after launch.
type Recurring struct {
	// Every is the time between two runs, counted from the last run (the
	// launch for the first).
	Every time.Duration
	Mode  RecurMode
	// Line is the line of the period (every), for errors.
	Line int
}

// Defaults of the lifecycle keys.
const (
	// DefaultApprovalReminder is how long a removal batch waits undecided
	// before the approvers are reminded (and, after twice as long, the
	// team is told).
	DefaultApprovalReminder = 7 * day
	// MinRecurEvery is the shortest period between recurring runs: a run
	// reads every member of every group, the tick's drift chore already
	// re-checks the known findings each tick.
	MinRecurEvery = day
)

var periodPattern = regexp.MustCompile(`^([0-9]+)([ywdhm])$`)

// ParsePeriod parses a period such as 7d, 2w, 1y, 36h or 90m: a whole
// number and one unit, y (365 days), w (7 days), d (24 hours), h or m.
func ParsePeriod(s string) (time.Duration, error) {
	m := periodPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a period (want a whole number and a unit y, w, d, h or m, such as 1y, 7d or 36h)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	unit := map[string]time.Duration{"y": 365 * day, "w": 7 * day, "d": day, "h": time.Hour, "m": time.Minute}[m[2]]
	if err != nil || n > math.MaxInt64/int64(unit) {
		return 0, fmt.Errorf("period %q is too large", s)
	}
	return time.Duration(n) * unit, nil
}

// CheckRunNotice reports, as a *LineError naming the notice key, a notice
// shorter than minNotice: members a recurring run finds get that long
// before their own cutoff, and min_notice applies to them as to the
// members found at launch. allow_short_notice lets it through. A zero
// notice (the launch's own) is checked with the cutoff by CheckNotice.
func (c *Campaign) CheckRunNotice(notice, minNotice time.Duration) error {
	if c.AllowShortNotice || notice == 0 || notice >= minNotice {
		return nil
	}
	line, key := c.NoticeLine, "notice"
	if c.Notice == 0 && c.Recurring != nil {
		// The launch's own notice, inherited: say so at the recurring key.
		line, key = c.Recurring.Line, "recurring"
	}
	return &LineError{File: c.Source, Line: line, Key: key, Msg: fmt.Sprintf(
		"members found by a recurring run would get only %s before their cutoff, less than min_notice (%s); "+
			"set notice to at least %s, or allow_short_notice: true", roundNotice(notice), roundNotice(minNotice), roundNotice(minNotice))}
}

// recurringFile holds the recurring and lifecycle keys as written.
type recurringFile struct {
	n                *yaml.Node // the recurring mapping
	shortEvery       val[string]
	every, mode      val[string]
	notice           val[string]
	approvalReminder val[string]
}

func (f *recurringFile) parse(p *parser, n *yaml.Node) {
	f.n = deref(n)
	p.mapping(n, "recurring", []field{
		{name: "every", required: true, parse: into(&f.every, keyed(p.str, "recurring.every"))},
		{name: "mode", parse: into(&f.mode, keyed(p.str, "recurring.mode"))},
	})
}

// compile sets c's Recurring, Notice and ApprovalReminder. A recurring
// campaign needs a team: each run's summary goes on a standing task for
// it.
func (f *recurringFile) compile(p *parser, c *Campaign, team val[string]) {
	every, everyKey := f.every, "recurring.every"
	switch {
	case f.shortEvery.set() && f.n != nil:
		p.errorf(f.shortEvery.n, "every", "set both every and recurring; write recurring: {every: %s} only", f.shortEvery.v)
	case f.shortEvery.set():
		every, everyKey = f.shortEvery, "every"
	}
	if every.set() {
		d, err := ParsePeriod(every.v)
		switch {
		case err != nil:
			p.errorf(every.n, everyKey, "%v", err)
		case d < MinRecurEvery:
			p.errorf(every.n, everyKey, "%q is shorter than %s, the shortest period between runs (drift re-checks known findings every tick)", every.v, roundNotice(MinRecurEvery))
		}
		c.Recurring = &Recurring{Every: d, Mode: RecurJoin, Line: every.n.Line}
		if f.mode.set() {
			switch m := RecurMode(strings.ToLower(strings.TrimSpace(f.mode.v))); m {
			case RecurJoin, RecurInstance:
				c.Recurring.Mode = m
			default:
				p.errorf(f.mode.n, "recurring.mode", "unknown mode %q (want join or instance)", f.mode.v)
			}
		}
		if !team.set() {
			p.errorf(every.n, everyKey, "a recurring campaign needs a team: each run's summary is posted on a standing task for the team")
		}
	}
	if f.notice.set() {
		d, err := ParsePeriod(f.notice.v)
		switch {
		case err != nil:
			p.errorf(f.notice.n, "notice", "%v", err)
		case d <= 0:
			p.errorf(f.notice.n, "notice", "%q must be greater than zero", f.notice.v)
		case c.Recurring == nil:
			p.errorf(f.notice.n, "notice", "applies only to recurring campaigns (the launch's members have the cutoff)")
		}
		c.Notice, c.NoticeLine = d, f.notice.n.Line
	}
	if f.approvalReminder.set() {
		d, err := ParsePeriod(f.approvalReminder.v)
		switch {
		case err != nil:
			p.errorf(f.approvalReminder.n, "approval_reminder", "%v", err)
		case d <= 0:
			p.errorf(f.approvalReminder.n, "approval_reminder", "%q must be greater than zero", f.approvalReminder.v)
		}
		c.ApprovalReminder = d
	}
}

// RunNotice is how long members a recurring run finds get before their
// own cutoff: the campaign's notice key, else the distance between the
// launch and the original cutoff (what the launch's members got).
func (c *Campaign) RunNotice(launchedAt, originalCutoff time.Time) time.Duration {
	if c.Notice > 0 {
		return c.Notice
	}
	return originalCutoff.Sub(launchedAt)
}
