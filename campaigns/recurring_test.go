package campaigns

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseRecurring(t *testing.T) {
	// validCampaign has 5 lines; extra keys start at line 6.
	tests := []struct {
		name       string
		extra      []string
		want       *Recurring
		notice     time.Duration
		reminder   time.Duration
		wantErrors []string
	}{
		{name: "not recurring"},
		{name: "every shorthand", extra: []string{"team: Security-Team", "every: 7d"},
			want: &Recurring{Every: 7 * day, Mode: RecurJoin, Line: 7}},
		{name: "yearly", extra: []string{"team: Security-Team", "every: 1y"},
			want: &Recurring{Every: 365 * day, Mode: RecurJoin, Line: 7}},
		{name: "mapping with mode and notice", extra: []string{"team: Security-Team", "recurring:", "  every: 2w", "  mode: instance", "notice: 30d", "approval_reminder: 10d"},
			want: &Recurring{Every: 14 * day, Mode: RecurInstance, Line: 8}, notice: 30 * day, reminder: 10 * day},
		{name: "approval_reminder alone", extra: []string{"approval_reminder: 3d"}, reminder: 3 * day},
		{name: "bad period", extra: []string{"team: Security-Team", "every: 7 days"},
			wantErrors: []string{`test.yaml:7: every: "7 days" is not a period (want a whole number and a unit y, w, d, h or m, such as 1y, 7d or 36h)`}},
		{name: "too short", extra: []string{"team: Security-Team", "every: 6h"},
			wantErrors: []string{`test.yaml:7: every: "6h" is shorter than 24 hours, the shortest period between runs (drift re-checks known findings every tick)`}},
		{name: "no team", extra: []string{"every: 7d"},
			wantErrors: []string{"test.yaml:6: every: a recurring campaign needs a team: each run's summary is posted on a standing task for the team"}},
		{name: "both forms", extra: []string{"team: Security-Team", "every: 7d", "recurring: {every: 7d}"},
			wantErrors: []string{"test.yaml:7: every: set both every and recurring; write recurring: {every: 7d} only"}},
		{name: "unknown mode", extra: []string{"team: Security-Team", "recurring: {every: 7d, mode: fork}"},
			wantErrors: []string{`test.yaml:7: recurring.mode: unknown mode "fork" (want join or instance)`}},
		{name: "recurring without every", extra: []string{"team: Security-Team", "recurring: {mode: join}"},
			wantErrors: []string{`test.yaml:7: recurring: missing required key "every"`}},
		{name: "notice without recurring", extra: []string{"notice: 30d"},
			wantErrors: []string{"test.yaml:6: notice: applies only to recurring campaigns (the launch's members have the cutoff)"}},
		{name: "zero approval_reminder", extra: []string{"approval_reminder: 0d"},
			wantErrors: []string{`test.yaml:6: approval_reminder: "0d" must be greater than zero`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCampaign("test.yaml", campaignWith(tt.extra...))
			if diff := cmp.Diff(tt.wantErrors, errorLines(t, err)); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, c.Recurring); diff != "" {
				t.Errorf("Recurring (-want +got):\n%s", diff)
			}
			if c.Notice != tt.notice || c.ApprovalReminder != tt.reminder {
				t.Errorf("Notice, ApprovalReminder = %s, %s; want %s, %s", c.Notice, c.ApprovalReminder, tt.notice, tt.reminder)
			}
		})
	}
}

// TestRunNotice checks the notice of members a run finds, and that it
// must respect min_notice like the launch's.
func TestRunNotice(t *testing.T) {
	launch := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	cutoff := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		extra   []string
		want    time.Duration
		wantErr string
	}{
		{name: "launch's own notice", extra: []string{"team: T", "every: 7d"}, want: cutoff.Sub(launch)},
		{name: "notice key", extra: []string{"team: T", "every: 7d", "notice: 21d"}, want: 21 * day},
		{name: "notice shorter than min_notice", extra: []string{"team: T", "every: 7d", "notice: 3d"}, want: 3 * day,
			wantErr: "test.yaml:8: notice: members found by a recurring run would get only 3 days before their cutoff, less than min_notice (14 days); set notice to at least 14 days, or allow_short_notice: true"},
		{name: "allowed short", extra: []string{"team: T", "every: 7d", "notice: 3d", "allow_short_notice: true"}, want: 3 * day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCampaign("test.yaml", campaignWith(tt.extra...))
			if err != nil {
				t.Fatal(err)
			}
			got := c.RunNotice(launch, cutoff)
			if got != tt.want {
				t.Errorf("RunNotice = %s, want %s", got, tt.want)
			}
			err = c.CheckRunNotice(got, DefaultMinNotice)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("CheckRunNotice: %v", err)
				}
				return
			}
			var le *LineError
			if !errors.As(err, &le) || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("CheckRunNotice = %v, want a *LineError %q", err, tt.wantErr)
			}
			// CheckNotice, which launch and validate call, says the same.
			if err := c.CheckNotice(launch, DefaultMinNotice, false); err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("CheckNotice = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestParsePeriod(t *testing.T) {
	for s, want := range map[string]time.Duration{"7d": 7 * day, "1y": 365 * day, "2w": 14 * day, "36h": 36 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := ParsePeriod(s); err != nil || got != want {
			t.Errorf("ParsePeriod(%q) = %s, %v; want %s", s, got, err, want)
		}
	}
	for _, s := range []string{"", "7", "d", "1.5d", "-1d", "7 d", "99999999999999999y"} {
		if _, err := ParsePeriod(s); err == nil {
			t.Errorf("ParsePeriod(%q) succeeded", s)
		}
	}
}
