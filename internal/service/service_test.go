package service

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/state"
)

var t0 = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// seeded returns a state file with one open campaign holding one of each
// thing that waits: a removal batch proposed an hour before t0, an
// exemption request of two hours, the bot's answer to replies recorded
// three hours before, another write recorded 30 minutes before, and a
// closed campaign.
func seeded(t *testing.T) *state.Store {
	t.Helper()
	st, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	findings := []state.Finding{
		{UserPHID: "PHID-USER-a", Username: "alice", Status: state.StatusPending, Exemption: &state.Exemption{Reason: "on leave", RequestedAt: t0.Add(-2 * time.Hour), Decision: state.ExemptionPending}},
		{UserPHID: "PHID-USER-b", Username: "bob", Status: state.StatusPending},
		{UserPHID: "PHID-USER-c", Username: "carol", Status: state.StatusCompliant},
	}
	if err := st.CreateCampaign(state.Campaign{Name: "mfa", LaunchedAt: t0.Add(-48 * time.Hour)}, findings, []state.Batch{{Index: 0}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Update("mfa", func(tx *state.CampaignTx) error {
		if err := tx.PutRemoval(&state.Removal{ProposedAt: t0.Add(-time.Hour), Status: state.RemovalProposed}); err != nil {
			return err
		}
		if err := tx.PutRemoval(&state.Removal{ProposedAt: t0.Add(-9 * time.Hour), Status: state.RemovalDone}); err != nil {
			return err
		}
		for _, op := range []state.Op{
			{Key: "replies/batch-0/7", Kind: state.OpComment, State: state.OpPending, CreatedAt: t0.Add(-3 * time.Hour)},
			{Key: "remind/batch-0/7d", Kind: state.OpComment, State: state.OpPending, CreatedAt: t0.Add(-30 * time.Minute)},
			{Key: "task/batch-0", Kind: state.OpTaskCreated, State: state.OpDone, CreatedAt: t0.Add(-40 * time.Hour)},
		} {
			if err := tx.PutOp(op); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateCampaign(state.Campaign{Name: "old", LaunchedAt: t0.Add(-900 * time.Hour), ClosedAt: t0.Add(-100 * time.Hour)}, nil, nil); err != nil {
		t.Fatal(err)
	}
	return st
}

// scrape returns what /metrics serves, by family.
func scrape(t *testing.T, s *Service) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Mux().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the value of the series of family name whose labels are
// labels ("k=v" pairs), and whether it exists.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		var have []string
		for _, l := range m.GetLabel() {
			have = append(have, l.GetName()+"="+l.GetValue())
		}
		if !slices.Equal(have, labels) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// TestFamilies: Families names exactly the families and labels /metrics
// serves once every kind of event happened, besides go_* and process_*.
func TestFamilies(t *testing.T) {
	s := New(Options{Store: seeded(t), TickEvery: time.Minute, Now: (&clock{t0}).Now, Version: "v1.2.3", Revision: "abc"})
	if err := s.WatchCampaigns(); err != nil {
		t.Fatal(err)
	}
	s.ObserveCall("user.whoami", time.Millisecond, errors.New("boom"))
	s.ObserveChore("mfa", "drift", time.Millisecond, nil)
	s.TickDone(time.Second, TickOK, nil)
	got := map[string][]string{}
	for name, f := range scrape(t, s) {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue
		}
		var labels []string
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(labels, l.GetName()) {
					labels = append(labels, l.GetName())
				}
			}
		}
		slices.Sort(labels)
		got[name] = labels
	}
	if diff := cmp.Diff(Families, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Families differs from what /metrics serves (-Families +served):\n%s", diff)
	}
}

// TestBacklogGauges: what waits, and the age of the oldest of each, per
// campaign; zero, not absent, when nothing waits.
func TestBacklogGauges(t *testing.T) {
	fams := scrape(t, New(Options{Store: seeded(t), Now: (&clock{t0}).Now}))
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"auditbot_removal_batches_awaiting_approval", []string{"campaign=mfa"}, 1},
		{"auditbot_removal_batches_awaiting_approval_oldest_age_seconds", []string{"campaign=mfa"}, 3600},
		{"auditbot_unanswered_replies", []string{"awaiting=approvers", "campaign=mfa"}, 1},
		{"auditbot_unanswered_replies_oldest_age_seconds", []string{"awaiting=approvers", "campaign=mfa"}, 2 * 3600},
		{"auditbot_unanswered_replies", []string{"awaiting=bot", "campaign=mfa"}, 1},
		{"auditbot_unanswered_replies_oldest_age_seconds", []string{"awaiting=bot", "campaign=mfa"}, 3 * 3600},
		{"auditbot_pending_intents", []string{"campaign=mfa"}, 2},
		{"auditbot_pending_intents_oldest_age_seconds", []string{"campaign=mfa"}, 3 * 3600},
		{"auditbot_users", []string{"campaign=mfa", "status=pending"}, 2},
		{"auditbot_users", []string{"campaign=mfa", "status=compliant"}, 1},
		{"auditbot_removal_batches_awaiting_approval", []string{"campaign=old"}, 0},
		{"auditbot_removal_batches_awaiting_approval_oldest_age_seconds", []string{"campaign=old"}, 0},
		{"auditbot_pending_intents_oldest_age_seconds", []string{"campaign=old"}, 0},
		{"auditbot_state_scrape_error", nil, 0},
	} {
		t.Run(tt.name+strings.Join(tt.labels, ","), func(t *testing.T) {
			got, ok := value(fams, tt.name, tt.labels...)
			if !ok || got != tt.want {
				t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
			}
		})
	}
}

// TestCountersStartAtZero: every tick outcome, and every chore of every
// open campaign, has its counter at 0 before anything happened, so that
// increase() sees the first one; a closed campaign gets none.
func TestCountersStartAtZero(t *testing.T) {
	s := New(Options{Store: seeded(t), Now: (&clock{t0}).Now})
	if err := s.WatchCampaigns(); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, s)
	for _, o := range outcomes {
		if v, ok := value(fams, "auditbot_ticks_total", "outcome="+string(o)); !ok || v != 0 {
			t.Errorf("auditbot_ticks_total{outcome=%q} = %v (present %v), want 0", o, v, ok)
		}
	}
	for _, chore := range bot.ChoreNames() {
		if v, ok := value(fams, "auditbot_chore_errors_total", "campaign=mfa", "chore="+chore); !ok || v != 0 {
			t.Errorf("auditbot_chore_errors_total{campaign=mfa,chore=%q} = %v (present %v), want 0", chore, v, ok)
		}
		if _, ok := value(fams, "auditbot_chore_errors_total", "campaign=old", "chore="+chore); ok {
			t.Errorf("the closed campaign has a counter for %s", chore)
		}
	}

	s.ObserveChore("mfa", "drift", time.Millisecond, errors.New("group gone"))
	s.ObserveChore("mfa", "replies", time.Millisecond, nil)
	fams = scrape(t, s)
	if v, _ := value(fams, "auditbot_chore_errors_total", "campaign=mfa", "chore=drift"); v != 1 {
		t.Errorf("drift errors = %v after one, want 1", v)
	}
	if v, _ := value(fams, "auditbot_chore_duration_seconds", "campaign=mfa", "chore=replies"); v != 1 {
		t.Errorf("replies durations observed = %v, want 1", v)
	}
}

// TestBuildInfo: one series, its labels the version and revision given.
func TestBuildInfo(t *testing.T) {
	fams := scrape(t, New(Options{Version: "v1.2.3", Revision: "0123abc"}))
	m := fams["auditbot_build_info"].GetMetric()
	if len(m) != 1 || m[0].GetGauge().GetValue() != 1 {
		t.Fatalf("auditbot_build_info: %v", m)
	}
	labels := map[string]string{}
	for _, l := range m[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["version"] != "v1.2.3" || labels["revision"] != "0123abc" || !strings.HasPrefix(labels["goversion"], "go") {
		t.Errorf("auditbot_build_info labels %v", labels)
	}
}

// TestReady walks /readyz through a daemon's life: unready until a tick
// runs (saying why, with the last cause), ready after, still ready while
// an outage only skips ticks, unready while the token is rejected or no
// tick ends for two tick_every.
func TestReady(t *testing.T) {
	c := &clock{t0}
	s := New(Options{Store: seeded(t), TickEvery: time.Minute, Now: c.Now})
	readyz := func() (int, string) {
		rec := httptest.NewRecorder()
		s.Mux().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	refused := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	for _, step := range []struct {
		name     string
		do       func()
		code     int
		contains string
	}{
		{"at start", func() {}, 503, "no tick has run since the start 0s ago"},
		{"first try failed", func() { c.now = c.now.Add(5 * time.Second); s.TickDone(time.Second, TickUnavailable, refused) }, 503, "connection refused"},
		{"still failing long after", func() { c.now = c.now.Add(time.Hour); s.TickDone(time.Second, TickUnavailable, refused) }, 503, "no tick has run since the start 1h0m5s ago"},
		{"a tick ran", func() { s.TickDone(time.Second, TickErrors, nil) }, 200, "ok"},
		{"an outage after start skips ticks", func() { c.now = c.now.Add(time.Minute); s.TickDone(time.Second, TickUnavailable, refused) }, 200, "ok"},
		{"token rejected", func() { s.SetTokenError(errors.New("ERR-INVALID-AUTH")) }, 503, "token is rejected"},
		{"token accepted again", func() { s.SetTokenError(nil); s.TickDone(time.Second, TickOK, nil) }, 200, "ok"},
		{"no tick for two tick_every", func() { c.now = c.now.Add(2*time.Minute + time.Second) }, 503, "the last tick finished 2m1s ago"},
	} {
		step.do()
		code, body := readyz()
		if code != step.code || !strings.Contains(body, step.contains) {
			t.Errorf("%s: /readyz %d %q, want %d containing %q", step.name, code, body, step.code, step.contains)
		}
		want := 0.0
		if step.code == 200 {
			want = 1
		}
		if v, _ := value(scrape(t, s), "auditbot_ready"); v != want {
			t.Errorf("%s: auditbot_ready %v, want %v", step.name, v, want)
		}
	}
}
