// Command auditbot-demo runs a whole audit campaign against an in-process
// Phabricator on a simulated clock and prints its timeline (`make demo`).
//
// It is its own command, not a subcommand of auditbot, so that the
// production binary carries neither the fake Phabricator (phabtest) nor
// net/http/httptest: `go list -deps ./cmd/auditbot` names neither, and a
// test in internal/demo keeps it so.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/auditbot/auditbot/internal/demo"
)

const usage = `Usage: auditbot-demo [-v] [-state-dir DIR]

Starts an in-process Phabricator seeded with about 60 users in WMF-NDA,
acl*security and acl*sre-team, then runs plan, launch, reminders, replies,
approvals and removal on a simulated clock, and prints the timeline. It
needs no network and no config file.

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, runs the demo and returns the exit code: 0 when the
// demo ran, 1 when it failed, 2 for bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auditbot-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	opts := demo.Options{Out: stdout}
	const verboseHelp = "also print the bot's log and the full task texts"
	fs.BoolVar(&opts.Verbose, "v", false, verboseHelp)
	fs.BoolVar(&opts.Verbose, "verbose", false, verboseHelp)
	fs.StringVar(&opts.StateDir, "state-dir", "", "keep the demo's state file in this directory (default: a temporary one)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "auditbot-demo: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if _, err := demo.Run(ctx, opts); err != nil {
		fmt.Fprintf(stderr, "auditbot-demo: %v\n", err)
		return 1
	}
	return 0
}
