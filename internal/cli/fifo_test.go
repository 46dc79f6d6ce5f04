package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runNoHang runs the command line and fails the test if it has not
// returned after a while: the defect guarded against is a process blocked
// for ever in open(2) on a named pipe. (Not a speed check: a correct run
// returns at once.)
func (l *lab) runNoHang(t *testing.T, args ...string) result {
	t.Helper()
	done := make(chan result, 1)
	go func() { done <- l.run(args...) }()
	select {
	case r := <-done:
		return r
	case <-time.After(60 * time.Second):
		t.Fatalf("auditbot %s: still blocked after 60 s", strings.Join(args, " "))
		panic("unreachable")
	}
}

// replace puts what make creates at path, where a file was.
func replace(t *testing.T, path string, make func(path string) error) {
	t.Helper()
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := make(path); err != nil {
		t.Fatal(err)
	}
}

func mkfifo(p string) error  { return syscall.Mkfifo(p, 0o600) }
func devZero(p string) error { return os.Symlink("/dev/zero", p) }

const listYAML = `name: leavers
criteria: [list]
list: {file: leavers.txt}
groups: [WMF-NDA]
cutoff: 2027-02-28
team: Security-Team
approvers: acl*phabricator-admins
`

// TestNamedPipesAndDevices: a named pipe or a device where auditbot
// expects a file (a list, a campaign file, the config, templates, the
// token file) is refused at once with an error naming it; before, open(2)
// blocked for ever and the daemon stopped ticking every campaign. A tick
// still does the other campaigns' work.
func TestNamedPipesAndDevices(t *testing.T) {
	t.Run("validate", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			setup  func(l *lab) []string // returns the args
			code   int
			stderr []string
		}{
			{"list file is a pipe", func(l *lab) []string {
				l.write("campaigns/leavers.yaml", listYAML)
				replace(t, filepath.Join(l.campaigns, "leavers.txt"), mkfifo)
				return []string{"validate", "leavers"}
			}, ExitUsage, []string{"leavers.txt: is a named pipe (FIFO), not a regular file"}},
			{"list file is a link to /dev/zero", func(l *lab) []string {
				l.write("campaigns/leavers.yaml", listYAML)
				replace(t, filepath.Join(l.campaigns, "leavers.txt"), devZero)
				return []string{"validate", "leavers"}
			}, ExitUsage, []string{"leavers.txt is outside the campaign file's directory"}},
			{"list file is a character device", func(l *lab) []string {
				l.write("campaigns/leavers.yaml", listYAML)
				replace(t, filepath.Join(l.campaigns, "leavers.txt"), func(p string) error {
					// The device /dev/zero is (1, 5); creating one needs root.
					err := syscall.Mknod(p, syscall.S_IFCHR|0o600, 1<<8|5)
					if err == syscall.EPERM {
						t.Skip("mknod needs root (CAP_MKNOD); the named pipe cases cover the same path")
					}
					return err
				})
				return []string{"validate", "leavers"}
			}, ExitUsage, []string{"leavers.txt: is a character device, not a regular file"}},
			{"campaign file given by path is a pipe", func(l *lab) []string {
				p := filepath.Join(l.dir, "other.yaml")
				replace(t, p, mkfifo)
				return []string{"validate", p}
			}, ExitUsage, []string{"other.yaml: is a named pipe (FIFO)"}},
			{"campaign file in campaigns_dir is /dev/zero", func(l *lab) []string {
				replace(t, filepath.Join(l.campaigns, "mfa-test.yaml"), devZero)
				return []string{"validate", "mfa-test"}
			}, ExitUsage, []string{"mfa-test.yaml is a character device, not a regular file"}},
			{"config is a pipe", func(l *lab) []string {
				p := filepath.Join(l.dir, "pipe.yaml")
				replace(t, p, mkfifo)
				return []string{"--config", p, "validate"}
			}, ExitUsage, []string{"pipe.yaml: is a named pipe (FIFO)"}},
			{"campaigns_dir is a pipe", func(l *lab) []string {
				if err := os.RemoveAll(l.campaigns); err != nil {
					t.Fatal(err)
				}
				replace(t, l.campaigns, mkfifo)
				return []string{"validate"}
			}, ExitUsage, []string{"campaigns is a named pipe (FIFO), not a directory"}},
			{"a template override is a pipe", func(l *lab) []string {
				l.appendConfig("templates_dir: tmpl\n")
				if err := os.Mkdir(filepath.Join(l.dir, "tmpl"), 0o755); err != nil {
					t.Fatal(err)
				}
				replace(t, filepath.Join(l.dir, "tmpl", "reminder.tmpl"), mkfifo)
				return []string{"validate"}
			}, ExitUsage, []string{"reminder.tmpl is a named pipe (FIFO), not a regular file"}},
			{"templates_dir is /dev/zero", func(l *lab) []string {
				l.appendConfig("templates_dir: tmpl\n")
				replace(t, filepath.Join(l.dir, "tmpl"), devZero)
				return []string{"validate"}
			}, ExitUsage, []string{"tmpl is a character device, not a directory"}},
			{"token file is a pipe", func(l *lab) []string {
				l.appendConfig("conduit: {token_file: token}\n")
				replace(t, filepath.Join(l.dir, "token"), mkfifo)
				t.Setenv("AUDITBOT_CONDUIT_TOKEN", "")
				return []string{"plan", "mfa-test"}
			}, ExitAuth, []string{"token is a named pipe (FIFO), not a regular file"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				l := newLab(t)
				args := tt.setup(l)
				r := l.runNoHang(t, args...)
				r.expect(t, tt.code, nil, tt.stderr)
			})
		}
	})

	t.Run("tick goes on with the other campaigns", func(t *testing.T) {
		l := newLab(t)
		l.write("campaigns/mfa-two.yaml", strings.Replace(campaignYAML, "name: mfa-test", "name: mfa-two", 1))
		l.mustRun("launch", "mfa-test")
		l.mustRun("launch", "mfa-two")
		for _, tt := range []struct {
			name  string
			path  string
			make  func(string) error
			error string
		}{
			{"its campaign file is a pipe", filepath.Join(l.campaigns, "mfa-two.yaml"), mkfifo, "mfa-two.yaml: is a named pipe (FIFO), not a regular file"},
			{"its campaign file is /dev/zero", filepath.Join(l.campaigns, "mfa-two.yaml"), devZero, "mfa-two.yaml: is a character device, not a regular file"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				replace(t, tt.path, tt.make)
				r := l.runNoHang(t, "tick", "--allow-future", "--now", afterCutoff, "--only", "drift,propose-removals")
				r.expect(t, ExitTickError, []string{"mfa-test:\n  ", "mfa-two:\n  ERROR load campaign file", tt.error}, nil)
			})
		}
		if n := len(l.snapshot("mfa-test").Removals); n != 1 {
			t.Errorf("mfa-test has %d removal batch(es), want R1 proposed by the tick beside the broken campaign", n)
		}
	})

	t.Run("a launched list campaign whose list becomes a pipe", func(t *testing.T) {
		l := newLab(t)
		l.write("campaigns/leavers.txt", "dave\n")
		l.write("campaigns/leavers.yaml", listYAML)
		l.mustRun("launch", "leavers")
		l.mustRun("launch", "mfa-test")
		replace(t, filepath.Join(l.campaigns, "leavers.txt"), mkfifo)
		r := l.runNoHang(t, "tick", "--allow-future", "--now", afterCutoff, "--only", "drift,propose-removals")
		r.expect(t, ExitTickError, []string{"leavers:\n  ERROR load campaign file", "leavers.txt: is a named pipe (FIFO), not a regular file", "mfa-test:\n  proposed removal batch R1"}, nil)
	})
}

// appendConfig adds YAML to the lab's config (a key given twice is an
// error, so only keys the lab's config lacks).
func (l *lab) appendConfig(yaml string) {
	l.t.Helper()
	cfg, err := os.ReadFile(l.config)
	if err != nil {
		l.t.Fatal(err)
	}
	if strings.HasPrefix(yaml, "conduit: {") {
		// Merge into the existing conduit mapping.
		inner := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(yaml), "conduit: {"), "}")
		cfg = []byte(strings.Replace(string(cfg), "conduit:\n", "conduit:\n  "+strings.Replace(inner, ": ", ": ", 1)+"\n", 1))
	} else {
		cfg = append(cfg, yaml...)
	}
	if err := os.WriteFile(l.config, cfg, 0o644); err != nil {
		l.t.Fatal(err)
	}
}
