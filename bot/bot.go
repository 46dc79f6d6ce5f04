package bot

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// Options are a Bot's collaborators. Phab, Store, Templates and Config are
// required.
type Options struct {
	Phab      Phabricator
	Store     *state.Store
	Templates *templates.Set
	Config    *campaigns.Config
	// LoadCampaign returns a launched campaign's file by name; tick uses it
	// for texts and reminders. Nil: campaigns.FindCampaign in Config's
	// campaigns_dir.
	LoadCampaign func(name string) (*campaigns.Campaign, error)
	// Now is the clock; the demo and tests pass a simulated one.
	Now    func() time.Time
	Logger zerolog.Logger
	// Self is the bot's own account if the caller already asked
	// user.whoami (zero: the bot asks once, when it first needs it).
	Self conduit.Whoami
	// Operator names who runs this process (the OS user of the CLI). It is
	// recorded with command-line approvals for the record only: who
	// approves is decided by the approver's own token (user.whoami).
	Operator string
	// Activity tells when members last acted (the activity scanner); nil
	// makes the inactive criterion refuse to run, with a clear error.
	Activity activitySource
	// MembersSeen remembers when the bot first saw each group member; nil:
	// the state store, if it can (else nobody is protected as a newcomer).
	MembersSeen memberLedger
	// Progress is told how far long loops are (nil: NoProgress).
	Progress Progress
}

// Bot runs campaigns. It is not safe for concurrent use; the writer lock
// (state.LockWriter) keeps one writing process at a time.
type Bot struct {
	conn *conn
	// read is the bot's one way to read Phabricator (observe.go), exec
	// its one way to write (apply.go); the stages decide in between.
	read  *reader
	exec  *executor
	store *state.Store
	tmpl  *templates.Set
	cfg   *campaigns.Config
	words *wording
	load  func(name string) (*campaigns.Campaign, error)
	now   func() time.Time
	log   zerolog.Logger
	// operator: see Options.Operator.
	operator string
	// activity and ledger: see Options.Activity and Options.MembersSeen.
	activity activitySource
	ledger   memberLedger
	progress Progress
}

// New returns a Bot.
func New(opts Options) (*Bot, error) {
	if opts.Phab == nil || opts.Store == nil || opts.Templates == nil || opts.Config == nil {
		return nil, fmt.Errorf("bot: Phab, Store, Templates and Config are required")
	}
	b := &Bot{
		conn:     &conn{Phabricator: opts.Phab},
		store:    opts.Store,
		tmpl:     opts.Templates,
		cfg:      opts.Config,
		load:     opts.LoadCampaign,
		now:      opts.Now,
		log:      opts.Logger,
		operator: opts.Operator,
		activity: opts.Activity,
		ledger:   opts.MembersSeen,
		progress: opts.Progress,
		words:    &wording{tmpl: opts.Templates, cfg: opts.Config},
	}
	if b.ledger == nil {
		if l, ok := any(opts.Store).(memberLedger); ok {
			b.ledger = l
		}
	}
	if b.progress == nil {
		b.progress = NoProgress{}
	}
	if b.now == nil {
		b.now = time.Now
	}
	b.read = &reader{conn: b.conn, store: b.store, cfg: b.cfg, words: b.words, activity: b.activity, ledger: b.ledger, now: b.now, log: b.log}
	if opts.Self.PHID != "" {
		b.read.whoami = opts.Self
		b.read.whoamiOnce.Do(func() {})
	}
	b.exec = &executor{conn: b.conn, store: b.store, read: b.read, now: b.now, log: b.log}
	if b.load == nil {
		b.load = func(name string) (*campaigns.Campaign, error) {
			path, err := campaigns.FindCampaign(opts.Config.CampaignsDir, name)
			if err != nil {
				// Fall back to the file the campaign was launched from.
				rec, recErr := b.read.campaignRecord(name)
				if recErr != nil || rec.Source == "" {
					return nil, err
				}
				path = rec.Source
			}
			return campaigns.LoadCampaign(path)
		}
	}
	// A campaign instance (recurring mode instance) has no file of its
	// own: it is its recurring campaign's, under its own name.
	load := b.load
	b.load = func(name string) (*campaigns.Campaign, error) {
		if rec, err := b.read.campaignRecord(name); err == nil && rec.InstanceOf != "" {
			c, err := load(rec.InstanceOf)
			if err != nil {
				return nil, err
			}
			return instanceCampaign(c, name), nil
		}
		return load(name)
	}
	return b, nil
}
