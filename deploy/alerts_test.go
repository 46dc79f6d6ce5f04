package deploy_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/auditbot/auditbot/internal/service"
)

// exportedSeries returns every series name the daemon serves, with the
// label names each may carry: its families (service.Families and what a
// scrape shows, go_* and process_* among them), histograms and summaries
// with their _bucket, _sum and _count series, and Prometheus's own "up".
// job and instance are what Prometheus adds to every series.
func exportedSeries(t *testing.T) map[string][]string {
	t.Helper()
	s := service.New(service.Options{TickEvery: time.Minute})
	s.ObserveCall("user.whoami", time.Millisecond, errors.New("down"))
	s.ObserveChore("c", "drift", time.Millisecond, nil)
	s.TickDone(time.Second, service.TickOK, nil)
	rec := httptest.NewRecorder()
	s.Mux().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{"up": nil}
	for name, labels := range service.Families {
		out[name] = labels
	}
	for name, f := range fams {
		var ls []string
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName())
			}
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			out[name+"_bucket"] = append(ls, "le")
			out[name+"_sum"], out[name+"_count"] = ls, ls
		case dto.MetricType_SUMMARY:
			out[name] = append(ls, "quantile")
			out[name+"_sum"], out[name+"_count"] = ls, ls
		default:
			out[name] = append(out[name], ls...)
		}
	}
	return out
}

// TestAlertRules: deploy/prometheus/alerts.yaml is a valid rule file (as
// Prometheus and promtool parse it, unknown fields refused), every
// expression parses, and every series and label it selects is one the
// daemon serves; every alert says how bad it is and what to do.
func TestAlertRules(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.ParseFile("prometheus/alerts.yaml", false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if groups == nil {
		t.FailNow()
	}
	series := exportedSeries(t)
	n := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" {
				t.Errorf("rule %q: not an alert", r.Expr)
				continue
			}
			if !slices.Contains([]string{"page", "warning", "ticket"}, r.Labels["severity"]) {
				t.Errorf("%s: severity %q, want page, warning or ticket", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: no summary or description", r.Alert)
			}
			expr, err := p.ParseExpr(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", r.Alert, err)
				continue
			}
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				vs, ok := node.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				allowed, ok := series[vs.Name]
				if !ok {
					t.Errorf("%s selects %q, which auditbot does not serve", r.Alert, vs.Name)
					return nil
				}
				for _, m := range vs.LabelMatchers {
					if m.Name != model.MetricNameLabel && m.Name != "job" && m.Name != "instance" && !slices.Contains(allowed, m.Name) {
						t.Errorf("%s: %s has no label %q (it has %q)", r.Alert, vs.Name, m.Name, allowed)
					}
				}
				return nil
			})
		}
	}
	if n == 0 {
		t.Error("no rules")
	}
}
