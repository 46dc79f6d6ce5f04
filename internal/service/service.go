// Package service is what `auditbot run` shows a supervisor over HTTP:
// /healthz, /readyz and Prometheus /metrics. It knows nothing of how the
// daemon ticks: the daemon reports each tick, each chore and each Conduit
// call to it, and it reads the state file at scrape time.
//
// Mux returns an http.ServeMux that other pages (a dashboard) can be
// mounted on beside these.
package service

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// Options are the service's collaborators.
type Options struct {
	// Store is read at scrape time (users by status, pending intents) and
	// by /readyz (the file opens).
	Store *state.Store
	// TickEvery: /readyz fails when no tick finished within two of them.
	TickEvery time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Service holds the daemon's health and its metrics, in its own registry
// (no package globals).
type Service struct {
	opts Options
	reg  *prometheus.Registry

	calls    *prometheus.CounterVec
	errs     *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	tickDur  prometheus.Histogram
	choreDur *prometheus.HistogramVec
	lastOK   prometheus.Gauge
	lastTick prometheus.Gauge
	authFail prometheus.Gauge

	mu       sync.Mutex
	started  time.Time
	tickEnd  time.Time // the last tick's end, whatever its outcome
	tokenErr error     // non-nil while the token is rejected
}

// New returns a Service.
func New(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{opts: opts, reg: prometheus.NewRegistry(), started: opts.Now()}
	s.calls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditbot_conduit_calls_total",
		Help: "Conduit calls, by method (retries of one call count once)."}, []string{"method"})
	s.errs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditbot_conduit_errors_total",
		Help: "Conduit calls that failed, by method and kind (unavailable, auth, other)."}, []string{"method", "kind"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "auditbot_conduit_call_duration_seconds",
		Help: "Conduit call latency, retries included, by method.", Buckets: prometheus.ExponentialBuckets(0.005, 4, 8)}, []string{"method"})
	s.tickDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "auditbot_tick_duration_seconds",
		Help: "How long ticks take.", Buckets: prometheus.ExponentialBuckets(0.1, 4, 8)})
	s.choreDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "auditbot_chore_duration_seconds",
		Help: "How long each chore takes, per campaign.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 9)}, []string{"chore"})
	s.lastOK = prometheus.NewGauge(prometheus.GaugeOpts{Name: "auditbot_last_successful_tick_timestamp_seconds",
		Help: "When the last tick without any error ended (Unix time)."})
	s.lastTick = prometheus.NewGauge(prometheus.GaugeOpts{Name: "auditbot_last_tick_timestamp_seconds",
		Help: "When the last tick ended, whatever its outcome (Unix time)."})
	s.authFail = prometheus.NewGauge(prometheus.GaugeOpts{Name: "auditbot_token_rejected",
		Help: "1 while Phabricator rejects the bot's Conduit token."})
	s.reg.MustRegister(s.calls, s.errs, s.latency, s.tickDur, s.choreDur, s.lastOK, s.lastTick, s.authFail,
		&stateCollector{store: opts.Store},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s
}

// ObserveCall records one Conduit call; it fits conduit.Options.Observe.
func (s *Service) ObserveCall(method string, took time.Duration, err error) {
	s.calls.WithLabelValues(method).Inc()
	s.latency.WithLabelValues(method).Observe(took.Seconds())
	if err != nil {
		kind := "other"
		switch {
		case errors.Is(err, conduit.ErrUnavailable):
			kind = "unavailable"
		case errors.Is(err, conduit.ErrInvalidAuth), errors.Is(err, conduit.ErrNoSession):
			kind = "auth"
		}
		s.errs.WithLabelValues(method, kind).Inc()
	}
}

// ObserveChore records one chore of one campaign's tick.
func (s *Service) ObserveChore(chore string, took time.Duration) {
	s.choreDur.WithLabelValues(chore).Observe(took.Seconds())
}

// TickDone records a tick that ended (ok: without any error).
func (s *Service) TickDone(took time.Duration, ok bool) {
	now := s.opts.Now()
	s.tickDur.Observe(took.Seconds())
	s.lastTick.Set(float64(now.Unix()))
	if ok {
		s.lastOK.Set(float64(now.Unix()))
	}
	s.mu.Lock()
	s.tickEnd = now
	s.mu.Unlock()
}

// SetTokenError records whether Phabricator accepted the token at the last
// check (nil: accepted).
func (s *Service) SetTokenError(err error) {
	s.mu.Lock()
	s.tokenErr = err
	s.mu.Unlock()
	if err != nil {
		s.authFail.Set(1)
	} else {
		s.authFail.Set(0)
	}
}

// Ready returns nil when the daemon is ready, or what is wrong: the token
// is rejected, no tick finished within two tick_every (one is allowed to
// run that long after start), or the state file does not open.
func (s *Service) Ready() error {
	s.mu.Lock()
	tokenErr, tickEnd, started := s.tokenErr, s.tickEnd, s.started
	s.mu.Unlock()
	if tokenErr != nil {
		return fmt.Errorf("the Conduit token is rejected: %w", tokenErr)
	}
	since := tickEnd
	if since.IsZero() {
		since = started
	}
	if age := s.opts.Now().Sub(since); s.opts.TickEvery > 0 && age > 2*s.opts.TickEvery {
		if tickEnd.IsZero() {
			return fmt.Errorf("no tick has finished since the start %s ago", age.Round(time.Second))
		}
		return fmt.Errorf("the last tick finished %s ago (tick_every %s)", age.Round(time.Second), s.opts.TickEvery)
	}
	if s.opts.Store != nil {
		if _, err := s.opts.Store.CampaignNames(); err != nil {
			return fmt.Errorf("the state file does not open: %w", err)
		}
	}
	return nil
}

// Mux returns the handler serving /healthz, /readyz and /metrics; more
// pages can be mounted on it.
func (s *Service) Mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := s.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			// Redacted: a rejected token's error may echo it.
			fmt.Fprintf(w, "not ready: %s\n", conduit.Redact(err.Error(), ""))
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return mux
}

// stateCollector reads users by campaign and status, and pending intents,
// from the state file at scrape time, so the numbers are those recorded
// whoever wrote them (the daemon or a command beside it).
type stateCollector struct{ store *state.Store }

var (
	usersDesc   = prometheus.NewDesc("auditbot_users", "Users found in each campaign, by status.", []string{"campaign", "status"}, nil)
	intentsDesc = prometheus.NewDesc("auditbot_pending_intents", "Writes recorded as intended whose outcome is not recorded yet.", []string{"campaign"}, nil)
	scrapeDesc  = prometheus.NewDesc("auditbot_state_scrape_error", "1 if the state file could not be read for this scrape.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- usersDesc
	ch <- intentsDesc
	ch <- scrapeDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.store == nil {
		return
	}
	failed := 0.0
	defer func() { ch <- prometheus.MustNewConstMetric(scrapeDesc, prometheus.GaugeValue, failed) }()
	names, err := c.store.CampaignNames()
	if err != nil {
		failed = 1
		return
	}
	for _, name := range names {
		snap, err := c.store.Snapshot(name)
		if err != nil {
			failed = 1
			continue
		}
		counts := map[state.Status]int{}
		for _, f := range snap.Findings {
			counts[f.Status]++
		}
		for st, n := range counts {
			ch <- prometheus.MustNewConstMetric(usersDesc, prometheus.GaugeValue, float64(n), name, string(st))
		}
		pending := 0
		for _, op := range snap.Ops {
			if op.State == state.OpPending {
				pending++
			}
		}
		ch <- prometheus.MustNewConstMetric(intentsDesc, prometheus.GaugeValue, float64(pending), name)
	}
}
