package cli

import (
	"fmt"
	"os"
	"os/user"
	"strings"
	"unicode"

	"github.com/auditbot/auditbot/internal/safetext"
)

// operator names the person a command acts for, for the journal: --as
// when given, else $USER, else $LOGNAME, else the name of the account the
// process runs as. Under systemd, in a container or through `kubectl
// exec` the environment often has neither variable, and a uid may have
// no account name: then the command is refused (exit 2) rather than
// journal an anonymous "cli", and says to pass --as.
func (a *app) operator(as string) (string, error) {
	if as != "" {
		name := strings.TrimPrefix(as, "@")
		if err := checkOperatorName(name); err != nil {
			return "", &usageError{fmt.Sprintf("%s: --as %q: %v", a.command, safetext.Line(as), err)}
		}
		return name, nil
	}
	for _, v := range []string{"USER", "LOGNAME"} {
		if name := a.getenv(v); name != "" && checkOperatorName(name) == nil {
			return name, nil
		}
	}
	lookup := a.osUser
	if lookup == nil {
		lookup = user.Current
	}
	u, err := lookup()
	if err == nil && checkOperatorName(u.Username) == nil {
		return u.Username, nil
	}
	return "", &usageError{fmt.Sprintf("%s: cannot tell who runs it, for the journal: $USER and $LOGNAME are unset and uid %d has no account name; pass --as YOUR-NAME", a.command, os.Getuid())}
}

// checkOperatorName refuses a name the journal could not show as one
// plain word: empty, too long, with spaces, control or bidirectional
// characters.
func checkOperatorName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case len(name) > 64:
		return fmt.Errorf("longer than 64 bytes")
	case safetext.Line(name) != name || strings.ContainsFunc(name, unicode.IsSpace):
		return fmt.Errorf("a name is one word without control characters")
	}
	return nil
}
