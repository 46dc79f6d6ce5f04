package cli

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/dashboard"
	"github.com/auditbot/auditbot/state"
)

// TestCutoffSameDayEverywhere: a campaign file's cutoff names its last
// day; it is stored as the instant that day ends (midnight UTC of the
// next day). Every output names that last day, and no output shows the
// day after, which once read "2027-07-01 00:00" on the dashboard and in
// the report for a cutoff of 2027-06-30. JSON keeps the instant in
// "cutoff" for scripts, beside "cutoff_date"; nothing else in it names
// the next day.
func TestCutoffSameDayEverywhere(t *testing.T) {
	l := newLab(t)
	last, err := time.Parse(time.DateOnly, cutoffDate)
	if err != nil {
		t.Fatal(err)
	}
	next := last.AddDate(0, 0, 1).Format(time.DateOnly)
	outputs := map[string]string{}
	outputs["plan"] = l.mustRun("plan", "mfa-test").stdout
	outputs["plan --full"] = l.mustRun("plan", "mfa-test", "--full").stdout
	outputs["plan --json"] = l.mustRun("plan", "mfa-test", "--json").stdout
	l.mustRun("launch", "mfa-test")
	outputs["status"] = l.mustRun("status", "mfa-test").stdout
	outputs["status --json"] = l.mustRun("status", "mfa-test", "--json").stdout
	outputs["journal"] = l.mustRun("journal", "mfa-test").stdout
	outputs["journal --json"] = l.mustRun("journal", "mfa-test", "--json").stdout
	for _, f := range []string{"md", "csv", "json"} {
		outputs["report --format "+f] = l.mustRun("report", "mfa-test", "--format", f).stdout
	}
	st, err := state.Open(l.statePath, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, err := dashboard.New(dashboard.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/campaign/mfa-test"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		outputs["dashboard "+path] = rec.Body.String()
	}
	// The instant, as JSON writes it for scripts: the only place the next
	// day may appear.
	instant := regexp.MustCompile(`"cutoff":\s*"` + next + `T00:00:00Z"`)
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(out, cutoffDate) {
				t.Errorf("does not name the cutoff's day %s:\n%s", cutoffDate, out)
			}
			if strings.Contains(instant.ReplaceAllString(out, ""), next) {
				t.Errorf("names the day after the cutoff, %s:\n%s", next, out)
			}
			if strings.HasSuffix(name, "json") && !strings.Contains(name, "journal") &&
				!regexp.MustCompile(`"cutoff_date":\s*"`+cutoffDate+`"`).MatchString(out) {
				t.Errorf("no cutoff_date %s:\n%s", cutoffDate, out)
			}
		})
	}
	for _, name := range []string{"plan", "status", "report --format md", "report --format csv", "dashboard /campaign/mfa-test"} {
		if !strings.Contains(outputs[name], cutoffDate+", end of day UTC") {
			t.Errorf("%s does not say %q", name, cutoffDate+", end of day UTC")
		}
	}
}
