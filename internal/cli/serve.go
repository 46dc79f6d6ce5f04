package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/dashboard"
	"github.com/auditbot/auditbot/state"
)

// dashboardSettings are where and how the dashboard is served.
type dashboardSettings struct {
	listen, secretFile, trustedHeader, phabURL string
	trustedProxies                             []netip.Prefix
}

// or returns a unless it is empty, then b.
func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// serveCommand serves the dashboard over a state file, beside a daemon
// or without one (`auditbot run` serves it itself when dashboard.listen
// is configured).
func (a *app) serveCommand() *cobra.Command {
	var set dashboardSettings
	var statePath string
	var proxies []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the read-only web dashboard over a state file, beside the daemon or without it",
		Long: `serve shows the state file in a browser: every campaign with its counts and
cutoff, each campaign per group and task, the journal (filterable and paged,
with its hash chain's state) and its users' statuses over time. It runs
beside the daemon or without one: it opens the file read-only for each
read, a short transaction, and lets writers in between however many people
read pages, so the daemon's ticks and commands such as approve run as they
would without it.
With --state it needs no config; a config it finds (--config, AUDITBOT_CONFIG
or ./auditbot.yaml) still gives the task links' base URL (conduit.url) and
the dashboard keys, and flags override the config's dashboard keys.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := zerolog.New(a.stderr).With().Timestamp().Logger()
			named := statePath == "" || cmd.Flags().Changed("config") || a.getenv("AUDITBOT_CONFIG") != ""
			cfg, err := a.optionalConfig(named)
			switch {
			case err != nil && named:
				return err
			case err != nil:
				log.Warn().Err(err).Msg("serve: the config found is left aside; task links need --phab-url")
			case cfg != nil:
				log = a.logger(cfg)
				statePath = or(statePath, cfg.StateFile)
				set.listen = or(set.listen, cfg.Dashboard.Listen)
				set.secretFile = or(set.secretFile, cfg.Dashboard.SecretFile)
				set.trustedHeader = or(set.trustedHeader, cfg.Dashboard.TrustedHeader)
				if len(proxies) == 0 {
					set.trustedProxies = cfg.Dashboard.TrustedProxies
				}
				set.phabURL = or(set.phabURL, cfg.Conduit.URL)
			}
			set.listen = or(set.listen, "127.0.0.1:8090")
			for _, s := range proxies {
				p, err := campaigns.ParseProxy(s)
				if err != nil {
					return &usageError{"serve: --trusted-proxy: " + err.Error()}
				}
				set.trustedProxies = append(set.trustedProxies, p)
			}
			if _, err := os.Stat(statePath); err != nil {
				return &usageError{fmt.Sprintf("serve: state file: %v", err)}
			}
			// One read-only store: it opens the file per read transaction
			// (a tick writes between pages) and runs the deep consistency
			// check once, not on every page.
			st, err := state.Open(statePath, state.Options{ReadOnly: true})
			if err != nil {
				return err
			}
			defer st.Close()
			return a.serveDashboard(cmd.Context(), set, dashboard.Options{Store: st}, log)
		},
	}
	cmd.Flags().StringVar(&statePath, "state", "", "state file to show (default: the config's state_file)")
	cmd.Flags().StringVar(&set.listen, "listen", "", "host:port to serve on (default 127.0.0.1:8090)")
	cmd.Flags().StringVar(&set.secretFile, "secret-file", "", "file holding a shared secret browsers must present")
	cmd.Flags().StringVar(&set.trustedHeader, "trusted-header", "", "header an authenticating reverse proxy sets; requests without it are refused")
	cmd.Flags().StringSliceVar(&proxies, "trusted-proxy", nil, "address (IP or CIDR) of the proxy that sets --trusted-header; repeatable (loopback is always trusted)")
	cmd.Flags().StringVar(&set.phabURL, "phab-url", "", "Phabricator base URL for task links (default: the config's conduit.url)")
	return cmd
}

// serveDashboard serves the dashboard until ctx is done.
func (a *app) serveDashboard(ctx context.Context, set dashboardSettings, o dashboard.Options, log zerolog.Logger) error {
	if err := campaigns.CheckListen(set.listen, campaigns.DashboardProtected(set.secretFile != "", set.trustedHeader, set.trustedProxies)); err != nil {
		return &usageError{"dashboard: " + err.Error()}
	}
	if set.secretFile != "" {
		secret, err := campaigns.ReadSecretFile(set.secretFile, campaigns.DashboardSecretFile, nil)
		if err != nil {
			return &usageError{"dashboard: " + err.Error()}
		}
		o.Secret = secret
	}
	o.TrustedHeader, o.TrustedProxies, o.PhabURL, o.Logger = set.trustedHeader, set.trustedProxies, linkBase(set.phabURL), log
	h, err := dashboard.New(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", set.listen)
	if err != nil {
		return fmt.Errorf("dashboard: listen on %s: %w", set.listen, err)
	}
	go func() {
		if err := h.Warm(); err != nil {
			log.Warn().Err(err).Msg("dashboard: reading the campaigns ahead of the first page")
		}
	}()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Info().Str("url", "http://"+ln.Addr().String()+"/").Msg("dashboard serving")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("dashboard: %w", err)
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("dashboard: shutdown: %w", err)
		}
		return nil
	}
}

// optionalConfig is the config of a command that needs none with --state
// (serve, report): nil and no error when none is named (named false) and
// ./auditbot.yaml is absent. A config found is still read, for the task
// links' base URL.
func (a *app) optionalConfig(named bool) (*campaigns.Config, error) {
	if !named {
		if _, err := os.Stat(a.configPath); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	return a.loadConfig()
}

// readStore opens the state file read-only: the one named by --state
// (no config needed, e.g. the demo's), else the config's. phabURL is the
// config's conduit.url; with --state, that of a config found, or "".
func (a *app) readStore(ctx context.Context, statePath string) (st *state.Store, phabURL string, closeFn func(), err error) {
	if statePath != "" {
		st, err := state.Open(statePath, state.Options{ReadOnly: true})
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil, noStateFile(statePath)
		}
		if err != nil {
			return nil, "", nil, err
		}
		if cfg, err := a.optionalConfig(false); err == nil && cfg != nil {
			phabURL = cfg.Conduit.URL
		}
		return st, phabURL, func() { st.Close() }, nil
	}
	e, err := a.open(ctx, envOptions{store: true, readOnly: true})
	if err != nil {
		return nil, "", nil, err
	}
	return e.store, e.cfg.Conduit.URL, e.close, nil
}

// linkBase is a Phabricator base URL as task links may show it: without
// any user name or password, which a page or a pasted report would
// otherwise carry to everyone who reads it.
func linkBase(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "" // no links rather than a URL that may carry a password
	}
	if u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}
