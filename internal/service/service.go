// Package service is what `auditbot run` shows a supervisor over HTTP:
// /healthz, /readyz and Prometheus /metrics. It knows nothing of how the
// daemon ticks: the daemon reports each tick, each chore and each Conduit
// call to it, and it reads the state file at scrape time.
//
// Mux returns an http.ServeMux that other pages (a dashboard) can be
// mounted on beside these.
package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// Options are the service's collaborators.
type Options struct {
	// Store is read at scrape time (users by status, what waits on
	// someone) and by /readyz (the file opens).
	Store *state.Store
	// TickEvery: /readyz fails when no tick finished within two of them;
	// auditbot_tick_interval_seconds exports it for alert rules.
	TickEvery time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Version and Revision label auditbot_build_info.
	Version, Revision string
}

// Families are every metric family /metrics serves besides the Go
// runtime's and the process's (go_*, process_*), with their label names:
// what alert rules and dashboards may use. A test keeps it the same as
// what is served.
var Families = map[string][]string{
	"auditbot_build_info":                                           {"goversion", "revision", "version"},
	"auditbot_chore_duration_seconds":                               {"campaign", "chore"},
	"auditbot_chore_errors_total":                                   {"campaign", "chore"},
	"auditbot_conduit_call_duration_seconds":                        {"method"},
	"auditbot_conduit_calls_total":                                  {"method"},
	"auditbot_conduit_errors_total":                                 {"kind", "method"},
	"auditbot_last_successful_tick_timestamp_seconds":               nil,
	"auditbot_last_tick_timestamp_seconds":                          nil,
	"auditbot_pending_intents":                                      {"campaign"},
	"auditbot_pending_intents_oldest_age_seconds":                   {"campaign"},
	"auditbot_ready":                                                nil,
	"auditbot_removal_batches_awaiting_approval":                    {"campaign"},
	"auditbot_removal_batches_awaiting_approval_oldest_age_seconds": {"campaign"},
	"auditbot_state_scrape_error":                                   nil,
	"auditbot_tick_duration_seconds":                                nil,
	"auditbot_tick_interval_seconds":                                nil,
	"auditbot_ticks_total":                                          {"outcome"},
	"auditbot_token_rejected":                                       nil,
	"auditbot_unanswered_replies":                                   {"awaiting", "campaign"},
	"auditbot_unanswered_replies_oldest_age_seconds":                {"awaiting", "campaign"},
	"auditbot_users":                                                {"campaign", "status"},
}

// Outcome is how a tick ended, as auditbot_ticks_total counts it.
type Outcome string

// Tick outcomes.
const (
	TickOK            Outcome = "ok"             // ran without any error
	TickErrors        Outcome = "errors"         // ran; some campaign or chore failed
	TickUnavailable   Outcome = "unavailable"    // skipped: Phabricator could not be reached
	TickTokenRejected Outcome = "token-rejected" // skipped: Phabricator rejected the token
	TickLocked        Outcome = "writer-lock"    // skipped: the writer lock could not be taken (an unsafe lock file)
)

// outcomes are every Outcome, so that each counter exists from the start.
var outcomes = []Outcome{TickOK, TickErrors, TickUnavailable, TickTokenRejected, TickLocked}

// Ran reports whether a tick that ended this way reached Phabricator and
// did its work (chores may have failed).
func (o Outcome) Ran() bool { return o == TickOK || o == TickErrors }

// Service holds the daemon's health and its metrics, in its own registry
// (no package globals).
type Service struct {
	opts   Options
	chores []string // every chore name, for counters that start at 0
	reg    *prometheus.Registry

	calls     *prometheus.CounterVec
	errs      *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	ticks     *prometheus.CounterVec
	tickDur   prometheus.Histogram
	choreDur  *prometheus.HistogramVec
	choreErrs *prometheus.CounterVec
	lastOK    prometheus.Gauge
	lastTick  prometheus.Gauge
	authFail  prometheus.Gauge

	mu       sync.Mutex
	started  time.Time
	tickEnd  time.Time // the last tick's end, whatever its outcome
	ran      bool      // a tick reached Phabricator and did its work
	lastErr  error     // why the last tick did not run, until one does
	tokenErr error     // non-nil while the token is rejected
}

// New returns a Service.
func New(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{opts: opts, chores: bot.ChoreNames(), reg: prometheus.NewRegistry(), started: opts.Now()}
	s.calls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditbot_conduit_calls_total",
		Help: "Conduit calls, by method (retries of one call count once)."}, []string{"method"})
	s.errs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditbot_conduit_errors_total",
		Help: "Conduit calls that failed, by method and kind (unavailable, auth, other)."}, []string{"method", "kind"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "auditbot_conduit_call_duration_seconds",
		Help: "Conduit call latency, retries included, by method.", Buckets: prometheus.ExponentialBuckets(0.005, 4, 8)}, []string{"method"})
	s.ticks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditbot_ticks_total",
		Help: "Ticks, by outcome: ok (no error), errors (ran; some campaign or chore failed), and skipped ones: unavailable (Phabricator could not be reached), token-rejected, writer-lock (an unsafe lock file)."}, []string{"outcome"})
	for _, o := range outcomes {
		s.ticks.WithLabelValues(string(o))
	}
	s.tickDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "auditbot_tick_duration_seconds",
		Help: "How long ticks take.", Buckets: prometheus.ExponentialBuckets(0.1, 4, 8)})
	s.choreDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "auditbot_chore_duration_seconds",
		Help: "How long each chore takes, per campaign.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 9)}, []string{"campaign", "chore"})
	s.choreErrs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditbot_chore_errors_total",
		Help: "Chores that ended with an error, per campaign (0 from the start for every open campaign and chore)."}, []string{"campaign", "chore"})
	s.lastOK = prometheus.NewGauge(prometheus.GaugeOpts{Name: "auditbot_last_successful_tick_timestamp_seconds",
		Help: "When the last tick without any error ended (Unix time; 0 before the first)."})
	s.lastTick = prometheus.NewGauge(prometheus.GaugeOpts{Name: "auditbot_last_tick_timestamp_seconds",
		Help: "When the last tick ended, whatever its outcome (Unix time; 0 before the first)."})
	s.authFail = prometheus.NewGauge(prometheus.GaugeOpts{Name: "auditbot_token_rejected",
		Help: "1 while Phabricator rejects the bot's Conduit token."})
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "auditbot_build_info",
		Help: "Always 1; its labels say which auditbot runs."}, []string{"version", "revision", "goversion"})
	buildInfo.WithLabelValues(opts.Version, opts.Revision, runtime.Version()).Set(1)
	interval := prometheus.NewGauge(prometheus.GaugeOpts{Name: "auditbot_tick_interval_seconds",
		Help: "schedule.tick_every: how often the daemon ticks, for alert rules."})
	interval.Set(opts.TickEvery.Seconds())
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "auditbot_ready",
		Help: "1 while /readyz answers 200: a tick has run, the token is accepted, ticks keep finishing and the state file opens."},
		func() float64 {
			if s.Ready() != nil {
				return 0
			}
			return 1
		})
	s.reg.MustRegister(s.calls, s.errs, s.latency, s.ticks, s.tickDur, s.choreDur, s.choreErrs, s.lastOK, s.lastTick, s.authFail,
		buildInfo, interval, ready, &stateCollector{store: opts.Store, now: opts.Now},
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

// ObserveChore records one chore of one campaign's tick; it fits
// bot.TickOptions.ObserveChore. A chore cut short by the daemon stopping
// is not an error.
func (s *Service) ObserveChore(campaign, chore string, took time.Duration, err error) {
	s.choreDur.WithLabelValues(campaign, chore).Observe(took.Seconds())
	if err != nil && !errors.Is(err, context.Canceled) {
		s.choreErrs.WithLabelValues(campaign, chore).Inc()
	}
}

// WatchCampaigns starts auditbot_chore_errors_total at 0 for every chore
// of every open campaign in the state file, so that an alert on its
// increase sees the first error. The daemon calls it at start and after
// each tick (a campaign launched beside it).
func (s *Service) WatchCampaigns() error {
	if s.opts.Store == nil {
		return nil
	}
	names, err := s.opts.Store.CampaignNames()
	if err != nil {
		return err
	}
	for _, name := range names {
		closed := false
		if err := s.opts.Store.View(name, func(tx *state.CampaignTx) error {
			c := tx.Campaign()
			closed = c.Closed()
			return nil
		}); err != nil {
			return err
		}
		if closed {
			continue // it no longer ticks
		}
		for _, chore := range s.chores {
			s.choreErrs.WithLabelValues(name, chore)
		}
	}
	return nil
}

// TickDone records a tick that ended, and why it did not run when it did
// not (err, shown by /readyz until a tick runs).
func (s *Service) TickDone(took time.Duration, outcome Outcome, err error) {
	now := s.opts.Now()
	s.ticks.WithLabelValues(string(outcome)).Inc()
	s.tickDur.Observe(took.Seconds())
	s.lastTick.Set(float64(now.Unix()))
	if outcome == TickOK {
		s.lastOK.Set(float64(now.Unix()))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tickEnd = now
	if outcome.Ran() {
		s.ran, s.lastErr = true, nil
	} else if !s.ran {
		s.lastErr = err
	}
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

// Ready returns nil when the daemon is ready, or what is wrong: no tick
// has run yet (Phabricator could not be reached since the start), the
// token is rejected, no tick finished within two tick_every, or the state
// file does not open. After the first tick that ran, an outage does not
// make the daemon unready: it skips ticks, which still finish.
func (s *Service) Ready() error {
	s.mu.Lock()
	tokenErr, tickEnd, ran, lastErr, started := s.tokenErr, s.tickEnd, s.ran, s.lastErr, s.started
	s.mu.Unlock()
	if tokenErr != nil {
		return fmt.Errorf("the Conduit token is rejected: %w", tokenErr)
	}
	if !ran {
		age := s.opts.Now().Sub(started).Round(time.Second)
		if lastErr != nil {
			return fmt.Errorf("no tick has run since the start %s ago: %w", age, lastErr)
		}
		return fmt.Errorf("no tick has run since the start %s ago", age)
	}
	if age := s.opts.Now().Sub(tickEnd); s.opts.TickEvery > 0 && age > 2*s.opts.TickEvery {
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

// stateCollector reads, at scrape time, users by campaign and status and
// what waits on someone (bot.Backlog), so the numbers are those recorded
// whoever wrote them (the daemon or a command beside it).
type stateCollector struct {
	store *state.Store
	now   func() time.Time
}

var (
	usersDesc    = prometheus.NewDesc("auditbot_users", "Users found in each campaign, by status.", []string{"campaign", "status"}, nil)
	intentsDesc  = prometheus.NewDesc("auditbot_pending_intents", "Unconfirmed writes: recorded as intended, outcome not recorded yet.", []string{"campaign"}, nil)
	intentsAge   = prometheus.NewDesc("auditbot_pending_intents_oldest_age_seconds", "How long the oldest unconfirmed write has waited (0: none).", []string{"campaign"}, nil)
	approvalDesc = prometheus.NewDesc("auditbot_removal_batches_awaiting_approval", "Removal batches proposed, neither approved nor rejected yet.", []string{"campaign"}, nil)
	approvalAge  = prometheus.NewDesc("auditbot_removal_batches_awaiting_approval_oldest_age_seconds", "How long the oldest removal batch has waited for approval (0: none).", []string{"campaign"}, nil)
	repliesDesc  = prometheus.NewDesc("auditbot_unanswered_replies", "Replies waiting for an answer, by whom they wait for: approvers (an exemption request not decided) or bot (its answer recorded, not posted yet).", []string{"campaign", "awaiting"}, nil)
	repliesAge   = prometheus.NewDesc("auditbot_unanswered_replies_oldest_age_seconds", "How long the oldest unanswered reply has waited, by whom it waits for (0: none).", []string{"campaign", "awaiting"}, nil)
	scrapeDesc   = prometheus.NewDesc("auditbot_state_scrape_error", "1 if the state file could not be read for this scrape.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{usersDesc, intentsDesc, intentsAge, approvalDesc, approvalAge, repliesDesc, repliesAge, scrapeDesc} {
		ch <- d
	}
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
	now := c.now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	waiting := func(count, age *prometheus.Desc, w bot.Waiting, labels ...string) {
		gauge(count, float64(w.Count), labels...)
		a := 0.0
		if w.Count > 0 {
			// A campaign run with `tick --now` lives in the future: its
			// ages are not negative.
			a = max(now.Sub(w.Oldest).Seconds(), 0)
		}
		gauge(age, a, labels...)
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
			gauge(usersDesc, float64(n), name, string(st))
		}
		b := bot.BacklogOf(&snap)
		waiting(intentsDesc, intentsAge, b.PendingWrites, name)
		waiting(approvalDesc, approvalAge, b.AwaitingApproval, name)
		waiting(repliesDesc, repliesAge, b.ExemptionRequests, name, "approvers")
		waiting(repliesDesc, repliesAge, b.Answers, name, "bot")
	}
}
