package cli

import (
	"bytes"
	"context"
	"errors"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/state"
)

// noAccount is a uid without an account name (a container's random uid,
// systemd's DynamicUser seen without NSS).
func noAccount() (*user.User, error) { return nil, user.UnknownUserIdError(54321) }

func account(name string) func() (*user.User, error) {
	return func() (*user.User, error) { return &user.User{Username: name}, nil }
}

func TestOperatorName(t *testing.T) {
	for _, tt := range []struct {
		name   string
		as     string
		env    map[string]string
		osUser func() (*user.User, error)
		want   string // "" : refused
	}{
		{name: "--as", as: "carol", env: map[string]string{"USER": "root"}, osUser: account("root"), want: "carol"},
		{name: "--as with @", as: "@carol", osUser: noAccount, want: "carol"},
		{name: "$USER", env: map[string]string{"USER": "dana", "LOGNAME": "other"}, osUser: account("root"), want: "dana"},
		{name: "$LOGNAME", env: map[string]string{"LOGNAME": "erik"}, osUser: account("root"), want: "erik"},
		{name: "OS account", osUser: account("svc-auditbot"), want: "svc-auditbot"},
		{name: "nobody known", osUser: noAccount},
		{name: "OS account with a space", osUser: account("Jane Doe")},
		{name: "--as with a control character", as: "car\x1b[2Jol", osUser: account("root")},
		{name: "--as with a bidi override", as: "carol\u202e", osUser: account("root")},
		{name: "--as with a space", as: "carol x", osUser: account("root")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := &app{getenv: func(k string) string { return tt.env[k] }, osUser: tt.osUser, command: "restore"}
			got, err := a.operator(tt.as)
			if tt.want == "" {
				var usage *usageError
				if !errors.As(err, &usage) {
					t.Fatalf("operator(%q) = %q, %v; want a usage error", tt.as, got, err)
				}
				if strings.ContainsAny(err.Error(), "\x1b\u202e") {
					t.Errorf("the error prints the raw name: %q", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("operator(%q) = %q, %v; want %q", tt.as, got, err, tt.want)
			}
		})
	}
}

// runIn runs the command line in an environment holding only the bot's
// token (no $USER, $LOGNAME or $HOME: systemd, a container, kubectl
// exec), as a process whose uid is found by osUser.
func (l *lab) runIn(osUser func() (*user.User, error), args ...string) result {
	l.t.Helper()
	env := map[string]string{campaigns.TokenEnv: l.users["auditbot"].Token}
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return env[k] }, osUser: osUser}
	code := a.main(context.Background(), append([]string{"--config", l.config}, args...))
	return result{args: args, code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// TestOperatorRequired: every command that acts for a person journals a
// named one. In an empty environment, as a uid with no account name,
// approve, restore and extend are refused (exit 2) before anything is
// sent or recorded; with --as, or an account name, the journal names
// them. Before, they journaled "cli".
func TestOperatorRequired(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	later := time.Now().UTC().AddDate(0, 0, 120).Format(time.DateOnly)
	token := l.tokenFile("alice")
	before, writes := l.recorded(), len(l.applied())
	for _, args := range [][]string{
		{"extend", "mfa-test", "--to", later},
		{"restore", "mfa-test", "dave", "--force"},
		{"approve", "mfa-test", "R1", "--token-file", token},
	} {
		t.Run(args[0], func(t *testing.T) {
			l.srv.ResetCalls()
			r := l.runIn(noAccount, args...)
			r.expect(t, ExitUsage, nil, []string{"cannot tell who runs it", "pass --as"})
			if n := totalCalls(l.srv.Calls()); n != 0 {
				t.Errorf("%d Conduit call(s) before the refusal", n)
			}
		})
	}
	if diff := cmp.Diff(before, l.recorded()); diff != "" {
		t.Errorf("refused commands changed the state file (-before +after):\n%s", diff)
	}
	if n := len(l.applied()) - writes; n != 0 {
		t.Errorf("refused commands sent %d write(s)", n)
	}

	l.runIn(noAccount, "extend", "mfa-test", "--to", later, "--as", "carol").expect(t, ExitOK, []string{"deadline moved"}, nil)
	l.runIn(account("svc-auditbot"), "extend", "mfa-test", "--to", time.Now().UTC().AddDate(0, 0, 130).Format(time.DateOnly), "--user", "dave").
		expect(t, ExitOK, []string{"deadline moved"}, nil)
	var actors []string
	for _, e := range l.recorded().Journals["mfa-test"] {
		if e.Kind == state.EntryDeadlineExtended {
			actors = append(actors, e.Actor)
		}
	}
	if diff := cmp.Diff([]string{"carol", "svc-auditbot"}, actors); diff != "" {
		t.Errorf("deadline-extended actors (-want +got):\n%s", diff)
	}
}
