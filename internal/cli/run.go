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
	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/dashboard"
	"github.com/auditbot/auditbot/internal/service"
	"github.com/auditbot/auditbot/state"
)

// runCommand is the daemon: the same tick as `auditbot tick`, on a
// schedule. gocron's singleton mode keeps a slow tick from overlapping the
// next one.
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
With metrics.listen set it serves /healthz, /readyz and /metrics. After
schedule.max_auth_failures ticks in a row with the token rejected it exits 3.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var svc *service.Service
			observe := func(method string, took time.Duration, err error) {
				if svc != nil {
					svc.ObserveCall(method, took, err)
				}
			}
			e, err := a.open(ctx, envOptions{conduit: true, store: true, perTick: true, observe: observe})
			if err != nil {
				return err
			}
			defer e.close()
			if tickEvery > 0 {
				e.cfg.Schedule.TickEvery = tickEvery
			}
			svc = service.New(service.Options{Store: e.store, TickEvery: e.cfg.Schedule.TickEvery})
			if l := e.cfg.Metrics.Listen; l != "" {
				stop, err := serve(l, svc.Mux())
				if err != nil {
					return err
				}
				defer stop()
				e.log.Info().Str("listen", l).Msg("serving /healthz, /readyz and /metrics")
			}
			s, err := gocron.NewScheduler()
			if err != nil {
				return fmt.Errorf("scheduler: %w", err)
			}
			// fatal ends the daemon from a tick: the token stayed rejected.
			fatal := make(chan error, 1)
			authFailures := 0
			holder := fmt.Sprintf("pid %d (auditbot run, tick)", os.Getpid())
			// No deadline per tick: a large campaign on a cold server may
			// take longer than tick_every, and singleton mode already
			// keeps ticks from overlapping. Stopping the daemon cancels it.
			// An outage stalls a tick for at most one call (the breaker in
			// package bot); see the README.
			tick := func() {
				unlock, err := state.LockWriter(ctx, e.cfg.StateFile, holder, func(other string) {
					e.log.Info().Str("holder", other).Msg("tick waits for another auditbot command to finish its writes")
				})
				if err != nil {
					if ctx.Err() == nil {
						e.log.Error().Err(err).Msg("tick skipped: writer lock")
					}
					return
				}
				defer unlock()
				start := time.Now()
				// Ask who we are every tick: a revoked token shows in
				// /readyz and, repeated, ends the daemon with code 3.
				if _, err := e.client.Whoami(ctx); err != nil {
					if ctx.Err() != nil {
						return // stopping
					}
					if errors.Is(err, conduit.ErrInvalidAuth) || errors.Is(err, conduit.ErrNoSession) {
						authFailures++
						svc.SetTokenError(err)
						svc.TickDone(time.Since(start), false)
						e.log.Error().Err(err).Int("failures", authFailures).Int("max", e.cfg.Schedule.MaxAuthFailures).Msg("tick skipped: the Conduit token is rejected")
						if authFailures >= e.cfg.Schedule.MaxAuthFailures {
							select {
							case fatal <- fmt.Errorf("the API token was rejected by Phabricator %d tick(s) in a row (revoked, or its user is disabled): %w", authFailures, err):
							default:
							}
						}
						return
					}
					// Phabricator is away (or answered oddly): skip this
					// tick with one line rather than stall once more on
					// its first call; the next tick resumes.
					svc.TickDone(time.Since(start), false)
					e.log.Error().Err(err).Msg("tick skipped: Phabricator unavailable")
					return
				} else {
					authFailures = 0
					svc.SetTokenError(nil)
				}
				report, err := e.bot.Tick(ctx, bot.TickOptions{ObserveChore: svc.ObserveChore})
				took := time.Since(start)
				svc.TickDone(took, err == nil)
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
				case err != nil:
					// Each failure was logged as its own record where it
					// happened (one per chore); this line only counts them.
					e.log.Error().Int64("took_ms", took.Milliseconds()).Int("events", n).Int("errors", failed).Msg("tick finished with errors")
				default:
					e.log.Info().Int64("took_ms", took.Milliseconds()).Int("events", n).Msg("tick")
				}
			}
			_, err = s.NewJob(gocron.DurationJob(e.cfg.Schedule.TickEvery), gocron.NewTask(tick),
				gocron.WithSingletonMode(gocron.LimitModeReschedule), gocron.WithStartAt(gocron.WithStartImmediately()))
			if err != nil {
				return fmt.Errorf("schedule tick: %w", err)
			}
			e.log.Info().Stringer("every", e.cfg.Schedule.TickEvery).Msg("auditbot running")
			s.Start()
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
			var fatalErr error
			select {
			case <-ctx.Done():
			case fatalErr = <-fatal:
			}
			if err := s.Shutdown(); err != nil {
				return fmt.Errorf("scheduler shutdown: %w", err)
			}
			if fatalErr != nil {
				return fatalErr
			}
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
			return ctx.Err()
		},
	}
	// Tests tick faster than schedule.tick_every allows (at least 1m).
	cmd.Flags().DurationVar(&tickEvery, "tick-every", 0, "override schedule.tick_every (tests)")
	cmd.Flags().MarkHidden("tick-every")
	return cmd
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
