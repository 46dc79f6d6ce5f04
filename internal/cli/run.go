package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/dashboard"
)

// runCommand is the daemon: the same tick as `auditbot tick`, on a
// schedule. gocron's singleton mode keeps a slow tick from overlapping the
// next one.
func (a *app) runCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run as a daemon: tick every schedule.tick_every until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := a.open(ctx, envOptions{conduit: true, store: true})
			if err != nil {
				return err
			}
			defer e.close()
			s, err := gocron.NewScheduler()
			if err != nil {
				return fmt.Errorf("scheduler: %w", err)
			}
			// No deadline per tick: a large campaign on a cold server may
			// take longer than tick_every, and singleton mode already
			// keeps ticks from overlapping. Stopping the daemon cancels it.
			tick := func() {
				start := time.Now()
				report, err := e.bot.Tick(ctx, bot.TickOptions{})
				ev := e.log.Info()
				if err != nil {
					ev = e.log.Error().Err(err)
				}
				n := 0
				if report != nil {
					for _, c := range report.Campaigns {
						n += len(c.Events)
					}
				}
				ev.Int64("took_ms", time.Since(start).Milliseconds()).Int("events", n).Msg("tick")
			}
			_, err = s.NewJob(gocron.DurationJob(e.cfg.Schedule.TickEvery), gocron.NewTask(tick),
				gocron.WithSingletonMode(gocron.LimitModeReschedule), gocron.WithStartAt(gocron.WithStartImmediately()))
			if err != nil {
				return fmt.Errorf("schedule tick: %w", err)
			}
			e.log.Info().Stringer("every", e.cfg.Schedule.TickEvery).Msg("auditbot running")
			s.Start()
			if d := e.cfg.Dashboard; d.Listen != "" {
				// The daemon holds the file open for writing: the dashboard
				// reads the same store (bbolt's readers run beside the
				// tick's writer in one process).
				go func() {
					set := dashboardSettings{listen: d.Listen, secretFile: d.SecretFile, trustedHeader: d.TrustedHeader, phabURL: e.cfg.Conduit.URL}
					if err := a.serveDashboard(ctx, set, dashboard.Options{Store: e.store}, e.log); err != nil {
						e.log.Error().Err(err).Msg("dashboard stopped")
					}
				}()
			}
			<-ctx.Done()
			if err := s.Shutdown(); err != nil {
				return fmt.Errorf("scheduler shutdown: %w", err)
			}
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
			return ctx.Err()
		},
	}
}
