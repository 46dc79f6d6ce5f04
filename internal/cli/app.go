// Package cli is auditbot's command line: one file per command, all
// sharing how the config, the Conduit client, the state file and the bot
// are set up.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/activity"
	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// app holds what every command shares: global flags and output streams.
type app struct {
	stdout, stderr io.Writer
	configPath     string
	logLevel       string
	getenv         func(string) string
	// wait bounds how long a writing command waits for another writer
	// (the daemon's tick) to finish.
	wait    time.Duration
	command string // the command running, for the writer lock's holder text
	bar     *bar   // the progress bar, when stderr is a terminal
	// osUser finds the account the process runs as (nil: user.Current);
	// tests stand in a uid without a name.
	osUser func() (*user.User, error)
	// jsonWritten is set once a --json envelope went to stdout.
	jsonWritten bool
}

// Main runs the command line until it finishes or SIGINT/SIGTERM, and
// returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP (a closed terminal, or a supervisor's "reload") must not
	// kill a tick or a launch halfway. Nothing needs reloading: campaign
	// files are read again at every tick; a changed config takes a
	// restart.
	signal.Ignore(syscall.SIGHUP)
	return MainContext(ctx, args, stdout, stderr)
}

// MainContext runs the command line until it finishes or ctx is done, and
// returns the exit code.
func MainContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return (&app{stdout: stdout, stderr: stderr, getenv: os.Getenv}).main(ctx, args)
}

// main runs the command line as a is set up.
func (a *app) main(ctx context.Context, args []string) int {
	stderr := a.stderr
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var usage *usageError
	if err != nil && cmd == root && !errors.As(err, &usage) {
		// The root runs nothing itself: cobra fails there only for an
		// unknown command, which is a usage error like any other.
		err = &usageError{err.Error()}
	}
	code := exitCode(err)
	if err != nil {
		// Last line of defence: whatever the error says, nothing shaped
		// like a token leaves the process (a token pasted into the wrong
		// config key comes back in its error).
		msg := conduit.Redact(err.Error(), "")
		fmt.Fprintf(stderr, "auditbot: %s\n", msg)
		if wantsJSON(cmd, args) && !a.jsonWritten {
			// A script reading stdout gets one object either way.
			_ = a.writeJSON("error", ErrorData{Command: strings.TrimSpace(strings.TrimPrefix(cmd.CommandPath(), root.Name())),
				ExitCode: code, ExitName: exitName(code), Error: msg})
		}
	}
	return code
}

// Command returns the command tree, for tests that check deployment
// files name only flags and commands that exist.
func Command() *cobra.Command {
	return (&app{stdout: io.Discard, stderr: io.Discard, getenv: os.Getenv}).rootCommand()
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "auditbot",
		Short: "Run security audit campaigns on Phabricator access groups",
		Long: `auditbot finds members of access groups who do not meet a security criterion
(no multi-factor auth, a disabled account, no activity within a window, access
not reconfirmed, named on an offboarding list), tells them on restricted tasks,
tracks their replies and deadlines, and removes them once approvers agree.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defaultConfig := a.getenv("AUDITBOT_CONFIG")
	if defaultConfig == "" {
		defaultConfig = "auditbot.yaml"
	}
	root.PersistentFlags().StringVarP(&a.configPath, "config", "c", defaultConfig, "config file (env AUDITBOT_CONFIG)")
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "", "override the config's log level (trace, debug, info, warn, error)")
	root.PersistentFlags().DurationVar(&a.wait, "wait", 10*time.Minute, "how long a command that writes waits for another one (the daemon's tick) to finish")
	root.AddCommand(
		a.validateCommand(),
		a.checkCommand(),
		a.suggestCommand(),
		a.planCommand(),
		a.launchCommand(),
		a.tickCommand(),
		a.rescanCommand(),
		a.runCommand(),
		a.statusCommand(),
		a.journalCommand(),
		a.verifyJournalCommand(),
		a.reportCommand(),
		a.serveCommand(),
		a.approveCommand(),
		a.restoreCommand(),
		a.extendCommand(),
		a.stateCommand(),
		a.versionCommand(),
		exitCodesTopic(),
	)
	// Created now rather than at Execute, so that it gets its examples;
	// it prints to the output set at this moment.
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.InitDefaultCompletionCmd()
	addExamples(root)
	a.addCompletions(root)
	// Cobra runs only the PersistentPreRunE of a command that has both
	// hooks, so this one hook does both jobs.
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		a.command = cmd.Name()
		if a.logLevel != "" && !validLogLevel(a.logLevel) {
			return &usageError{fmt.Sprintf("--log-level %q: want one of trace, debug, info, warn, error", a.logLevel)}
		}
		return nil
	}
	// Cobra's own flag and argument errors are usage errors (exit 2), as
	// the ones the commands report themselves.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	for _, cmd := range root.Commands() {
		if cmd.Args != nil {
			cmd.Args = usageArgs(cmd.Args)
		}
	}
	return root
}

// usageArgs makes an argument check's error a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		err := check(cmd, args)
		var usage *usageError
		if err != nil && !errors.As(err, &usage) {
			return &usageError{err.Error()}
		}
		return err
	}
}

// env is a configured bot and what it was built from.
type env struct {
	cfg    *campaigns.Config
	log    zerolog.Logger
	client *conduit.Client
	self   conduit.Whoami // the token's account, asked once at start
	store  *state.Store
	tmpl   *templates.Set
	bot    *bot.Bot
	close  func()
	// closers run in reverse order at close.
	closers []func()
}

// onClose adds f to what close runs, before what was added earlier.
func (e *env) onClose(f func()) { e.closers = append(e.closers, f) }

// envOptions say what a command needs.
type envOptions struct {
	conduit  bool // dial Conduit
	store    bool // open the state file
	readOnly bool // open it read-only (status, journal)
	// perTick: the caller takes the writer lock around each unit of work
	// itself (the daemon, per tick) instead of for the whole command.
	perTick bool
	// observe, if set, is told of every Conduit call (the daemon's metrics).
	observe func(method string, took time.Duration, err error)
	dryRun  bool // writes are logged, not sent; state changes go to a copy
	now     time.Time
	// operator names the person the command acts for (app.operator), for
	// the journal; "" for commands that act for nobody (tick).
	operator string
}

// nowSkew is how far ahead of this machine's clock --now may be without
// --allow-future: the skew between two machines' clocks, not a day.
const nowSkew = 5 * time.Minute

// at returns o with its clock fixed at nowFlag (tick and rescan --now),
// or o unchanged when the flag is empty. A --now ahead of the real clock
// is refused unless the run is a dry run or allowFuture: what a tick does
// at a future time cannot be undone when that time has not come (granted
// exemptions end, "the deadline has passed" is posted on every task,
// members are removed).
func (o envOptions) at(nowFlag string, allowFuture bool) (envOptions, error) {
	if nowFlag == "" {
		return o, nil
	}
	t, err := parseTime(nowFlag)
	if err != nil {
		return o, err
	}
	if ahead := time.Until(t); ahead > nowSkew && !o.dryRun && !allowFuture {
		return o, &usageError{fmt.Sprintf("--now %s is %s ahead of this machine's clock: acting at a time that has not come ends exemptions, "+
			"tells users their deadline has passed and removes members, for good. Add --dry-run to see what it would do; "+
			"add --allow-future only to really act at that time (a test Phabricator)", nowFlag, aheadText(ahead))}
	}
	o.now = t
	return o, nil
}

// aheadText says how far ahead a time is, in days when it is a day or more.
func aheadText(d time.Duration) string {
	if d >= 24*time.Hour {
		return fmt.Sprintf("%d day(s)", int(d/(24*time.Hour)))
	}
	return d.Round(time.Minute).String()
}

// logger builds the process logger from the config. It never receives the
// token: the token is a conduit.Token, which prints redacted.
func (a *app) logger(cfg *campaigns.Config) zerolog.Logger {
	level := cfg.Log.Level
	if a.logLevel != "" {
		level = a.logLevel
	}
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	out := a.logOutput()
	w := out
	if cfg.Log.Format != "json" {
		// The date too: a daemon's log spans days.
		w = zerolog.ConsoleWriter{Out: out, TimeFormat: time.DateTime, NoColor: true}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

func (a *app) loadConfig() (*campaigns.Config, error) {
	cfg, err := campaigns.LoadConfig(a.configPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &usageError{fmt.Sprintf("config: %v (pass --config or set AUDITBOT_CONFIG)", err)}
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

func (a *app) open(ctx context.Context, o envOptions) (*env, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, log: a.logger(cfg)}
	e.close = func() {
		for i := len(e.closers) - 1; i >= 0; i-- {
			e.closers[i]()
		}
	}
	if e.tmpl, err = templates.Load(cfg.TemplatesDir); err != nil {
		return nil, fmt.Errorf("%w: templates: %w", bot.ErrInput, err)
	}
	steps := []struct {
		need bool
		do   func() error
	}{
		{o.conduit, func() error { return a.dial(ctx, e, o) }},
		{o.store, func() error { return a.openStore(ctx, e, o) }},
		{o.conduit && o.store, func() error { return a.newBot(e, o) }},
	}
	for _, st := range steps {
		if !st.need {
			continue
		}
		if err := st.do(); err != nil {
			e.close()
			return nil, err
		}
	}
	return e, nil
}

// token reads the bot's Conduit token (the environment or
// conduit.token_file) and checks its form.
func (a *app) token(cfg *campaigns.Config) (conduit.Token, error) {
	tok, err := cfg.Token(a.getenv, nil)
	if err != nil {
		return "", fmt.Errorf("%w (%v)", errNoToken, err)
	}
	token := conduit.Token(tok)
	if !token.ValidFormat() {
		return "", fmt.Errorf("%w: the Conduit token is not 32 characters starting with api-, cli- or clr-", conduit.ErrInvalidAuth)
	}
	return token, nil
}

// dial connects to Conduit with the bot's token and asks who it is.
func (a *app) dial(ctx context.Context, e *env, o envOptions) error {
	cfg := e.cfg
	token, err := a.token(cfg)
	if err != nil {
		return err
	}
	httpClient := &http.Client{Timeout: cfg.Conduit.Timeout + 5*time.Second}
	e.client, err = conduit.Dial(ctx, cfg.Conduit.URL, token, conduit.Options{
		HTTPClient: httpClient, CallTimeout: cfg.Conduit.Timeout,
		RequestsPerSecond: cfg.Conduit.RequestsPerSecond, Logger: e.log, Observe: o.observe,
		UserAgent: userAgent(),
	})
	if err != nil {
		return fmt.Errorf("connect to %s: %w", conduit.RedactURL(cfg.Conduit.URL), err)
	}
	// Dial needs no token; ask who we are now, so a revoked or mistyped
	// token fails every command at once with its own exit code, not
	// halfway through a tick as a campaign error.
	if e.self, err = e.client.Whoami(ctx); err != nil {
		if errors.Is(err, conduit.ErrInvalidAuth) || errors.Is(err, conduit.ErrNoSession) {
			return fmt.Errorf("the API token was rejected by Phabricator (revoked, mistyped, or its user is disabled): %w", err)
		}
		return fmt.Errorf("connect to %s: %w", conduit.RedactURL(cfg.Conduit.URL), err)
	}
	return nil
}

// openStore opens the state file as o asks: read-only (none there is
// errNoStateFile), or under the writer lock, or a copy for a dry run.
func (a *app) openStore(ctx context.Context, e *env, o envOptions) error {
	path := e.cfg.StateFile
	if o.dryRun {
		var err error
		if path, err = dryRunCopy(e, path); err != nil {
			return err
		}
	}
	if !o.readOnly && !o.dryRun && !o.perTick {
		unlock, err := a.lockWriter(ctx, path, e.log)
		if err != nil {
			return err
		}
		e.onClose(unlock)
	}
	_, statErr := os.Stat(path)
	missing := errors.Is(statErr, fs.ErrNotExist)
	if missing && o.readOnly {
		return noStateFile(path)
	}
	st, err := state.Open(path, state.Options{ReadOnly: o.readOnly})
	if err != nil {
		return err
	}
	e.onClose(func() {
		// A state file this command created and left without a campaign
		// holds nothing: remove it, so a refused launch or a mistyped
		// command leaves the machine as it was.
		names, nerr := st.CampaignNames()
		st.Close()
		if missing && nerr == nil && len(names) == 0 {
			os.Remove(path)
		}
	})
	e.store = st
	return nil
}

// dryRunCopy copies the state file at path (if any) to a temporary one,
// removed at close, and returns the copy's path: a dry run shows what
// would be recorded, and the real file stays as it was.
func dryRunCopy(e *env, path string) (string, error) {
	tmp, err := os.MkdirTemp("", "auditbot-dryrun-")
	if err != nil {
		return "", err
	}
	e.onClose(func() { os.RemoveAll(tmp) })
	copyPath := filepath.Join(tmp, "state.db")
	if _, statErr := os.Stat(path); statErr != nil {
		return copyPath, nil
	}
	src, err := state.Open(path, state.Options{ReadOnly: true})
	if err != nil {
		return "", err
	}
	defer src.Close()
	return copyPath, src.CopyTo(copyPath)
}

// newBot builds the bot over the Conduit client and the state file.
func (a *app) newBot(e *env, o envOptions) error {
	var phab bot.Phabricator = e.client
	if o.dryRun {
		phab = bot.DryRun(phab, e.log)
	}
	now := time.Now
	if !o.now.IsZero() {
		fixed := o.now
		now = func() time.Time { return fixed }
	}
	// The inactivity criterion's scanner reads feed.query through the real
	// client (a read, so dry-run need not stand in front of it) and caches
	// what it learned in the state file; the bot's own stories are never a
	// member's activity.
	var ignore []string
	if e.self.PHID != "" {
		ignore = []string{e.self.PHID}
	}
	scanner := &activity.Scanner{Feed: e.client, Cache: e.store, Now: now, Ignore: ignore, Logger: e.log}
	var err error
	e.bot, err = bot.New(bot.Options{Phab: phab, Store: e.store, Templates: e.tmpl, Config: e.cfg, Now: now, Logger: e.log, Operator: o.operator, Self: e.self,
		Progress: a.progress(e.log), Activity: activity.Source{Scanner: scanner}})
	return err
}

// lockWriter takes the state file's writer lock (state.LockWriter) for a
// command that writes, waiting at most --wait for another writer, and
// says on stderr what it waits for: a command run beside the daemon waits
// for the running tick, it does not fail.
func (a *app) lockWriter(ctx context.Context, statePath string, log zerolog.Logger) (func(), error) {
	holder := fmt.Sprintf("pid %d (auditbot %s, since %s)", os.Getpid(), a.command, time.Now().Format(time.DateTime))
	wctx, cancel := context.WithTimeout(ctx, a.wait)
	defer cancel()
	start := time.Now()
	waited := false
	unlock, err := state.LockWriter(wctx, statePath, holder, func(other string) {
		waited = true
		fmt.Fprintf(a.stderr, "auditbot: waiting for %s to finish its writes (at most %s, --wait)...\n", other, a.wait)
	})
	if err != nil {
		if errors.Is(err, state.ErrBusy) {
			return nil, fmt.Errorf("%w after waiting %s; nothing was done, run it again later or pass a longer --wait", err, a.wait)
		}
		return nil, err
	}
	if waited {
		log.Info().Dur("waited", time.Since(start)).Msg("writer lock taken")
	}
	return unlock, nil
}

// openCampaign loads the campaign named by arg, then opens the
// environment: a malformed or unknown campaign fails before any network
// call or state file.
func (a *app) openCampaign(ctx context.Context, o envOptions, arg string) (*env, *campaigns.Campaign, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	c, err := loadCampaign(cfg, arg)
	if err != nil {
		return nil, nil, err
	}
	e, err := a.open(ctx, o)
	return e, c, err
}

// loadCampaign accepts a campaign name (looked up in campaigns_dir) or a
// path to a campaign file.
// A list campaign whose list is the token file is bad input.
func loadCampaign(cfg *campaigns.Config, arg string) (*campaigns.Campaign, error) {
	path := arg
	if !strings.HasSuffix(arg, ".yaml") && !strings.HasSuffix(arg, ".yml") && !strings.ContainsRune(arg, os.PathSeparator) {
		var err error
		if path, err = campaigns.FindCampaign(cfg.CampaignsDir, arg); err != nil {
			return nil, fmt.Errorf("%w: %w", bot.ErrInput, err)
		}
	}
	c, err := campaigns.LoadCampaign(path)
	if err != nil {
		return nil, err
	}
	if err := c.List.CheckListFile(cfg.Conduit.TokenFile); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", bot.ErrInput, path, err)
	}
	return c, nil
}

// validLogLevel reports whether --log-level names a level the config's
// log.level accepts too.
func validLogLevel(s string) bool { return slices.Contains(logLevels, s) }

// parseTime reads --now and --to values: a date or RFC 3339.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, &usageError{fmt.Sprintf("%q is not a date (YYYY-MM-DD) or RFC 3339 time", s)}
}

func exactArgs(n int, usage string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return &usageError{fmt.Sprintf("%s: want %s", cmd.Name(), usage)}
		}
		return nil
	}
}
