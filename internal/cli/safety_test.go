package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/auditbot/auditbot/state"
)

// pastYAML is a campaign whose cutoff has long passed.
const pastYAML = `name: mfa-past
criteria: [mfa]
groups: [WMF-NDA]
cutoff: 2020-01-31
approvers: acl*phabricator-admins
`

func TestShortNotice(t *testing.T) {
	tests := []struct {
		name   string
		yaml   string
		args   []string
		code   int
		stdout []string
		stderr []string
		filed  bool
	}{
		{name: "validate refuses a past cutoff", args: []string{"validate", "mfa-past"}, code: ExitUsage,
			stderr: []string{"campaigns/mfa-past.yaml:4: cutoff: 2020-01-31 is in the past", "--allow-short-notice"}},
		{name: "launch refuses a past cutoff", args: []string{"launch", "mfa-past"}, code: ExitUsage,
			stderr: []string{"campaigns/mfa-past.yaml:4: cutoff: 2020-01-31 is in the past"}},
		{name: "launch refuses a cutoff a week away", args: []string{"launch", "mfa-past"}, code: ExitUsage,
			yaml:   strings.Replace(pastYAML, "2020-01-31", time.Now().AddDate(0, 0, 7).Format(time.DateOnly), 1),
			stderr: []string{"mfa-past.yaml:4: cutoff:", "less than min_notice (14 days)"}},
		{name: "launch --allow-short-notice", args: []string{"launch", "mfa-past", "--allow-short-notice"}, filed: true},
		{name: "allow_short_notice in the campaign", args: []string{"launch", "mfa-past"}, filed: true,
			yaml: pastYAML + "allow_short_notice: true\n"},
		{name: "validate with allow_short_notice", args: []string{"validate", "mfa-past"},
			yaml: pastYAML + "allow_short_notice: true\n", stdout: []string{"campaign mfa-past: ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			yaml := tt.yaml
			if yaml == "" {
				yaml = pastYAML
			}
			l.write("campaigns/mfa-past.yaml", yaml)
			r := l.run(tt.args...)
			r.expect(t, tt.code, tt.stdout, tt.stderr)
			if got := len(l.srv.Tasks()) > 0; got != tt.filed {
				t.Errorf("tasks filed: %v, want %v", got, tt.filed)
			}
			if !tt.filed && l.stateFile() != nil {
				t.Error("a refused command left a state file behind")
			}
		})
	}

	t.Run("a launched campaign is not refused afterwards", func(t *testing.T) {
		l := newLab(t)
		l.write("campaigns/mfa-past.yaml", pastYAML)
		l.mustRun("launch", "mfa-past", "--allow-short-notice")
		l.mustRun("validate", "mfa-past")
		// Running launch again only checks the tasks.
		r := l.mustRun("launch", "mfa-past")
		r.expect(t, ExitOK, []string{"already launched"}, nil)
		l.mustRun("tick")
	})
}

// TestDamagedStateFile: a state file that is empty, not bbolt, or another
// program's bbolt file is refused with exit 7 by every command, and left
// byte for byte as it was.
func TestDamagedStateFile(t *testing.T) {
	files := map[string]func(t *testing.T, path string){
		"empty": func(t *testing.T, p string) { os.WriteFile(p, nil, 0o600) },
		"text":  func(t *testing.T, p string) { os.WriteFile(p, []byte("not a database\n"), 0o600) },
		"foreign bbolt": func(t *testing.T, p string) {
			db, err := bolt.Open(p, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
		},
	}
	for name, prepare := range files {
		for _, args := range [][]string{{"launch", "mfa-test"}, {"tick"}, {"status"}, {"journal", "mfa-test"}, {"state", "check"}, {"state", "backup", "b.db"}, {"launch", "mfa-test", "--dry-run"}} {
			t.Run(name+"/"+strings.Join(args, " "), func(t *testing.T) {
				l := newLab(t)
				prepare(t, l.statePath)
				before := l.stateFile()
				r := l.run(args...)
				r.expect(t, ExitDamaged, nil, []string{l.statePath, "not an intact auditbot state file", "never re-initialises"})
				if !bytes.Equal(before, l.stateFile()) {
					t.Error("the state file changed")
				}
				if len(l.srv.Tasks()) != 0 {
					t.Error("tasks were filed")
				}
			})
		}
	}
}

func TestStateCommands(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	l.mustRun("state", "check").expect(t, ExitOK, []string{l.statePath + ": ok (1 campaign(s), "}, nil)

	backup := filepath.Join(l.dir, "backup.db")
	l.mustRun("state", "backup", backup).expect(t, ExitOK, []string{"backed up " + l.statePath + " to " + backup}, nil)
	if info, err := os.Stat(backup); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("backup: %v, %v", info, err)
	}
	l.mustRun("state", "check", "--file", backup).expect(t, ExitOK, []string{backup + ": ok (1 campaign(s), "}, nil)
	before, _ := os.ReadFile(backup)
	l.run("state", "backup", backup).expect(t, ExitUsage, nil, []string{"exists; a backup never overwrites"})
	if after, _ := os.ReadFile(backup); !bytes.Equal(before, after) {
		t.Error("a refused backup changed the existing file")
	}
	l.run("state", "check", "--file", filepath.Join(l.dir, "nope.db")).expect(t, ExitUsage, nil, []string{"no state file at"})

	t.Run("undecodable record", func(t *testing.T) {
		db, err := bolt.Open(backup, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("campaigns")).Bucket([]byte("mfa-test")).Bucket([]byte("findings")).Put([]byte(l.users["dave"].PHID), []byte("{"))
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		l.run("state", "check", "--file", backup).expect(t, ExitDamaged, []string{"findings", "cannot decode"}, []string{"1 problem(s)"})
	})
}

// TestTerminalEscapes: text others wrote reaches status and journal with
// its control characters escaped.
func TestTerminalEscapes(t *testing.T) {
	l := newLab(t)
	l.mustRun("launch", "mfa-test")
	st, err := state.Open(l.statePath, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update("mfa-test", func(tx *state.CampaignTx) error {
		f, err := tx.Finding(l.users["dave"].PHID)
		if err != nil {
			return err
		}
		f.Username = "dave\x1b[2J\u202e"
		if err := tx.PutFinding(f); err != nil {
			return err
		}
		return tx.Append(state.Entry{Kind: "reply", Actor: "mallory\x1b]0;owned\x07", Detail: "line\r\nfake\u009b31m"})
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status"}, {"journal", "mfa-test"}} {
		r := l.mustRun(args...)
		for _, bad := range []string{"\x1b", "\x07", "\u202e", "\r", "\u009b"} {
			if strings.Contains(r.stdout, bad) {
				t.Errorf("%v prints %q raw:\n%q", args, bad, r.stdout)
			}
		}
		if args[0] == "status" {
			r.expect(t, ExitOK, []string{`dave\x1b[2J\u202e`}, nil)
		} else {
			r.expect(t, ExitOK, []string{`mallory\x1b]0;owned\x07`, `line\x0d\x0afake\x9b31m`}, nil)
		}
	}
}
