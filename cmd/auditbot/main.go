// Command auditbot runs security audit campaigns on a Phabricator or Phorge
// install. See the README for the commands.
package main

import (
	"os"

	"github.com/auditbot/auditbot/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
