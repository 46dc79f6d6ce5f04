// Package testbot wires a bot.Bot to a testworld.World: the engine over
// real Conduit to the in-process Phabricator, with a state file, the
// embedded templates, a config and campaigns.
//
// It is apart from testworld because it imports bot: the tests of the
// packages bot imports (activity, conduit, state...) can use testworld,
// and bot's own internal tests (package bot) can use neither; they take
// testkit's clock and buffer, which import nothing of auditbot's.
package testbot

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/internal/testkit/testworld"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// Options vary the bot. Every field may be left zero.
type Options struct {
	// Phab is what the bot asks of Phabricator; nil: a client acting as
	// the world's bot account.
	Phab bot.Phabricator
	// Store is the state file; nil: the world's (World.Store).
	Store *state.Store
	// Templates are the task and comment texts; nil: the embedded ones.
	Templates *templates.Set
	// Config is the parsed config; nil: the world's usual one
	// (World.ConfigYAML).
	Config *campaigns.Config
	// Campaigns are what the bot's LoadCampaign finds, by name.
	Campaigns []*campaigns.Campaign
	// Now is the bot's clock; nil: the wall clock.
	Now    func() time.Time
	Logger zerolog.Logger
	// Configure, if set, changes the options last (for the fields a test
	// sets itself, such as Activity).
	Configure func(*bot.Options)
}

// New returns a bot over the world, failing t if it cannot be built.
func New(t testing.TB, w *testworld.World, opts Options) *bot.Bot {
	t.Helper()
	if opts.Phab == nil {
		opts.Phab = w.Dial(t.Context(), w.Bot.Username, opts.Logger)
	}
	if opts.Store == nil {
		opts.Store = w.Store()
	}
	if opts.Templates == nil {
		opts.Templates = Templates(t)
	}
	if opts.Config == nil {
		opts.Config = Config(t, w, "")
	}
	bo := bot.Options{
		Phab: opts.Phab, Store: opts.Store, Templates: opts.Templates, Config: opts.Config,
		LoadCampaign: func(name string) (*campaigns.Campaign, error) {
			for _, c := range opts.Campaigns {
				if c.Name == name {
					return c, nil
				}
			}
			return nil, fmt.Errorf("no campaign %q in this test", name)
		},
		Now:    opts.Now,
		Logger: opts.Logger,
	}
	if opts.Configure != nil {
		opts.Configure(&bo)
	}
	b, err := bot.New(bo)
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	return b
}

// Templates loads the embedded templates.
func Templates(t testing.TB) *templates.Set {
	t.Helper()
	tmpl, err := templates.Load("")
	if err != nil {
		t.Fatalf("load templates: %v", err)
	}
	return tmpl
}

// Config parses the world's usual config with extra appended, as if read
// from config.yaml in the world's directory.
func Config(t testing.TB, w *testworld.World, extra string) *campaigns.Config {
	t.Helper()
	cfg, err := campaigns.ParseConfig(filepath.Join(w.Dir, "config.yaml"), []byte(w.ConfigYAML(extra)))
	if err != nil {
		t.Fatalf("parse config: %v", err)
	}
	return cfg
}
