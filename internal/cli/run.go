package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/dashboard"
	"github.com/auditbot/auditbot/internal/service"
	"github.com/auditbot/auditbot/state"
)

// maxStartBackoff bounds the pause between two tries of the first tick
// (and tick_every, when shorter): a daemon started during an outage is
// ready within minutes of its end.
const maxStartBackoff = 5 * time.Minute

// runCommand is the daemon: the same tick as `auditbot tick`, on a
// schedule. gocron's singleton mode keeps a slow tick from overlapping the
// next one.
//
// It starts without Phabricator: it serves /healthz at once and tries the
// first tick again, with a growing pause, until Phabricator answers, so a
// supervisor never restarts it in a loop during an outage. It exits only
// on what a restart cannot fix: a bad config or token file (at start),
// the token rejected schedule.max_auth_failures ticks in a row, or a
// damaged state file.
//
// The daemon holds the state file only while a transaction runs, and the
// writer lock only while a tick runs (see state.LockWriter): between
// ticks, and between a tick's transactions for readers, every other
// command works beside it. A command that writes waits for the running
// tick, and the tick waits for it.
func (a *app) runCommand() *cobra.Command {
	var tickEvery time.Duration
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run as a daemon: tick every schedule.tick_every until interrupted",
		Long: `run ticks every schedule.tick_every until SIGINT or SIGTERM (then it exits 0).
Other commands work beside it: reads at once, writes after the running tick.
With metrics.listen set it serves /healthz, /readyz and /metrics from the
start. Phabricator need not be reachable at start: the first tick is tried
again after 1s, 2s, 4s, ... (at most 5m, or tick_every when shorter), with
one log line per failure, and /readyz answers 503 until a tick has run.
It exits 2 on a bad config, 3 when the token file is missing or malformed
or after schedule.max_auth_failures ticks in a row with the token rejected,
and 7 when the state file is damaged.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := a.open(ctx, envOptions{store: true, perTick: true})
			if err != nil {
				return err
			}
			defer e.close()
			// A missing or malformed token is fixed by a person, not by
			// waiting: fail now. The token is read again at each connect,
			// so a rotated token file is picked up.
			if _, err := a.token(e.cfg); err != nil {
				return err
			}
			if tickEvery > 0 {
				e.cfg.Schedule.TickEvery = tickEvery
			}
			svc := service.New(service.Options{Store: e.store, TickEvery: e.cfg.Schedule.TickEvery, Version: Version(), Revision: Revision()})
			if err := svc.WatchCampaigns(); err != nil {
				return err
			}
			if l := e.cfg.Metrics.Listen; l != "" {
				stop, err := serve(l, svc.Mux())
				if err != nil {
					return err
				}
				defer stop()
				e.log.Info().Str("listen", l).Msg("serving /healthz, /readyz and /metrics")
			}
			if d := e.cfg.Dashboard; d.Listen != "" {
				// The dashboard reads through the daemon's own store, one
				// short read transaction per page, between the tick's.
				go func() {
					set := dashboardSettings{listen: d.Listen, secretFile: d.SecretFile, trustedHeader: d.TrustedHeader, trustedProxies: d.TrustedProxies, phabURL: e.cfg.Conduit.URL}
					if err := a.serveDashboard(ctx, set, dashboard.Options{Store: e.store}, e.log); err != nil {
						e.log.Error().Err(err).Msg("dashboard stopped")
					}
				}()
			}
			d := &daemon{a: a, e: e, svc: svc, holder: fmt.Sprintf("pid %d (auditbot run, tick)", os.Getpid())}
			e.log.Info().Stringer("every", e.cfg.Schedule.TickEvery).Str("version", Version()).Msg("auditbot running")
			return d.run(ctx)
		},
	}
	// Tests tick faster than schedule.tick_every allows (at least 1m).
	cmd.Flags().DurationVar(&tickEvery, "tick-every", 0, "override schedule.tick_every (tests)")
	cmd.Flags().MarkHidden("tick-every")
	return cmd
}

// stopped is what run returns when it ends: the fatal error, if any; else
// nothing when SIGINT or SIGTERM stopped it (exit 0).
func stopped(ctx context.Context, fatal error) error {
	if fatal != nil {
		return fatal
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}

// daemon is what the daemon's ticks share.
type daemon struct {
	a            *app
	e            *env // e.bot is nil until Phabricator first answered
	svc          *service.Service
	holder       string // the writer lock's holder text
	authFailures int    // ticks in a row with the token rejected
}

// run ticks until ctx is done or a tick fails in a way that must end the
// daemon: the first tick until one runs (firstTick), then every
// tick_every.
func (d *daemon) run(ctx context.Context) error {
	if err := d.firstTick(ctx); err != nil || ctx.Err() != nil {
		return stopped(ctx, err)
	}
	s, err := gocron.NewScheduler()
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	// fatal ends the daemon from a tick.
	fatal := make(chan error, 1)
	_, err = s.NewJob(gocron.DurationJob(d.e.cfg.Schedule.TickEvery), gocron.NewTask(func() {
		if err := d.scheduledTick(ctx); err != nil {
			select {
			case fatal <- err:
			default:
			}
		}
	}), gocron.WithSingletonMode(gocron.LimitModeReschedule))
	if err != nil {
		return fmt.Errorf("schedule tick: %w", err)
	}
	s.Start()
	var fatalErr error
	select {
	case <-ctx.Done():
	case fatalErr = <-fatal:
	}
	if err := s.Shutdown(); err != nil {
		return fmt.Errorf("scheduler shutdown: %w", err)
	}
	return stopped(ctx, fatalErr)
}

// firstTick tries the first tick until one runs, pausing 1s, 2s, 4s, ...
// at most min(tick_every, maxStartBackoff) between tries. It returns nil
// once a tick ran or ctx is done, and the error that must end the daemon
// otherwise.
func (d *daemon) firstTick(ctx context.Context) error {
	limit := min(d.e.cfg.Schedule.TickEvery, maxStartBackoff)
	pause := min(time.Second, limit)
	for attempt := 1; ; attempt++ {
		outcome, err, fatal := d.tick(ctx)
		if fatal != nil || ctx.Err() != nil || outcome.Ran() {
			return fatal
		}
		d.logSkipped(err, outcome, d.e.log.Error().Int("attempt", attempt).Int64("retry_in_ms", pause.Milliseconds()))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, limit)
	}
}

// scheduledTick runs one of the ticks after the first and returns the
// error that must end the daemon, if any.
func (d *daemon) scheduledTick(ctx context.Context) error {
	outcome, err, fatal := d.tick(ctx)
	if fatal == nil && ctx.Err() == nil && !outcome.Ran() {
		d.logSkipped(err, outcome, d.e.log.Error())
	}
	return fatal
}

// logSkipped writes the one line a skipped tick gets, on rec.
func (d *daemon) logSkipped(err error, outcome service.Outcome, rec *zerolog.Event) {
	msg := "tick skipped: Phabricator unavailable"
	switch outcome {
	case service.TickTokenRejected:
		rec = rec.Int("failures", d.authFailures).Int("max", d.e.cfg.Schedule.MaxAuthFailures)
		msg = "tick skipped: the Conduit token is rejected"
	case service.TickLocked:
		msg = "tick skipped: writer lock"
	}
	rec.Err(err).Msg(msg)
}

// tick runs one tick: it connects first if Phabricator never answered,
// then, under the writer lock, checks the token and runs every chore. It
// returns how the tick ended, why it was skipped (for Outcome values that
// did not run), and the error that must end the daemon.
func (d *daemon) tick(ctx context.Context) (outcome service.Outcome, skipped, fatal error) {
	e := d.e
	start := time.Now()
	done := func(o service.Outcome, err error) (service.Outcome, error, error) {
		d.svc.TickDone(time.Since(start), o, err)
		return o, err, nil
	}
	connected := false
	if e.bot == nil {
		if _, err := d.a.token(e.cfg); err != nil {
			return "", nil, err // the token file went away or was spoilt
		}
		if err := d.a.dial(ctx, e, envOptions{observe: d.svc.ObserveCall}); err != nil {
			if ctx.Err() != nil {
				return "", nil, nil // stopping
			}
			return d.checkAuth(start, err)
		}
		if err := d.a.newBot(e, envOptions{}); err != nil {
			return "", nil, err
		}
		connected = true
		e.log.Info().Str("user", e.self.Username).Msg("connected to Phabricator")
	}
	unlock, err := state.LockWriter(ctx, e.cfg.StateFile, d.holder, func(other string) {
		e.log.Info().Str("holder", other).Msg("tick waits for another auditbot command to finish its writes")
	})
	if err != nil {
		if ctx.Err() != nil {
			return "", nil, nil
		}
		// An unsafe lock file is a person's to fix (the error says how);
		// the next tick tries again.
		return done(service.TickLocked, err)
	}
	defer unlock()
	// Ask who we are every tick (connecting just did): a revoked token
	// shows in /readyz and, repeated, ends the daemon with code 3.
	if !connected {
		if _, err := e.client.Whoami(ctx); err != nil {
			if ctx.Err() != nil {
				return "", nil, nil
			}
			return d.checkAuth(start, err)
		}
	}
	d.authFailures = 0
	d.svc.SetTokenError(nil)

	report, err := e.bot.Tick(ctx, bot.TickOptions{ObserveChore: d.svc.ObserveChore})
	took := time.Since(start)
	if werr := d.svc.WatchCampaigns(); werr != nil && err == nil {
		err = werr
	}
	n, failed := 0, 0
	if report != nil {
		for _, c := range report.Campaigns {
			n += len(c.Events)
			failed += len(c.Errors)
		}
	}
	var ie *bot.InterruptedError
	switch {
	case errors.As(err, &ie):
		e.log.Info().Int64("took_ms", took.Milliseconds()).Int("events", n).Msg("tick " + ie.Error())
	case errors.Is(err, state.ErrDamaged):
		// Every later tick would fail the same way; a person restores
		// the file from a backup (exit 7).
		return service.TickErrors, nil, err
	case err != nil:
		// Each failure was logged as its own record where it happened
		// (one per chore); this line only counts them.
		e.log.Error().Int64("took_ms", took.Milliseconds()).Int("events", n).Int("errors", failed).Msg("tick finished with errors")
	default:
		e.log.Info().Int64("took_ms", took.Milliseconds()).Int("events", n).Msg("tick")
	}
	if err != nil {
		return done(service.TickErrors, nil)
	}
	return done(service.TickOK, nil)
}

// checkAuth ends a tick whose first Conduit call failed with err: a
// rejected token counts towards schedule.max_auth_failures (then it is
// fatal); anything else means Phabricator is away (or answered oddly: a
// redirect or a page that is not Conduit, which a proxy in front of it
// also shows during an outage) and the tick is skipped.
func (d *daemon) checkAuth(start time.Time, err error) (service.Outcome, error, error) {
	if !errors.Is(err, conduit.ErrInvalidAuth) && !errors.Is(err, conduit.ErrNoSession) {
		d.svc.TickDone(time.Since(start), service.TickUnavailable, err)
		return service.TickUnavailable, err, nil
	}
	d.authFailures++
	d.svc.SetTokenError(err)
	d.svc.TickDone(time.Since(start), service.TickTokenRejected, err)
	if limit := d.e.cfg.Schedule.MaxAuthFailures; d.authFailures >= limit {
		return service.TickTokenRejected, err, fmt.Errorf("the API token was rejected by Phabricator %d tick(s) in a row (revoked, or its user is disabled): %w", d.authFailures, err)
	}
	return service.TickTokenRejected, err, nil
}

// serve listens on addr and serves h until the returned function is called.
func serve(addr string, h http.Handler) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
