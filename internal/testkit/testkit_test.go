package testkit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestClock(t *testing.T) {
	start := time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)
	c := NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now = %v, want %v", got, start)
	}
	c.Advance(time.Hour)
	c.Set(c.Now().Add(time.Minute))
	if err := c.Sleep(t.Context(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if want := start.Add(time.Hour + time.Minute + 2*time.Second); !c.Now().Equal(want) {
		t.Errorf("Now = %v, want %v", c.Now(), want)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Sleep(ctx, time.Hour); err == nil {
		t.Error("Sleep on a done context returned nil")
	}
	if diff := cmp.Diff([]time.Duration{2 * time.Second}, c.Sleeps()); diff != "" {
		t.Errorf("Sleeps (-want +got):\n%s", diff)
	}

	// Safe for concurrent use (go test -race checks it).
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c.Advance(time.Second)
			_ = c.Now()
		})
	}
	wg.Wait()
	if want := start.Add(time.Hour + time.Minute + 6*time.Second); !c.Now().Equal(want) {
		t.Errorf("after 4 concurrent advances Now = %v, want %v", c.Now(), want)
	}
}

// TestClockZeroFollowsWall: the zero clock reads the wall clock until Set.
func TestClockZeroFollowsWall(t *testing.T) {
	var c Clock
	before := time.Now()
	if got := c.Now(); got.Before(before) {
		t.Errorf("zero clock Now = %v, before the wall clock's %v", got, before)
	}
	fixed := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Set(fixed)
	if !c.Now().Equal(fixed) {
		t.Errorf("after Set Now = %v, want %v", c.Now(), fixed)
	}
}

func TestLabEnvPath(t *testing.T) {
	for _, tt := range []struct {
		name, labEnv, labRoot, want string
	}{
		{name: "LAB_ENV", labEnv: "/x/lab.env", labRoot: "/ignored", want: "/x/lab.env"},
		{name: "LAB_ROOT", labRoot: "/srv/lab2", want: "/srv/lab2/lab.env"},
		{name: "default", want: "/var/lib/phorge-lab/lab.env"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LAB_ENV", tt.labEnv)
			t.Setenv("LAB_ROOT", tt.labRoot)
			if got := LabEnvPath(); got != tt.want {
				t.Errorf("LabEnvPath = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLoadLabEnv: the file's settings, quotes and comments stripped, with
// the environment winning.
func TestLoadLabEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lab.env")
	file := "# the lab\nPHAB_URL='http://127.0.0.1:8080'\nAUDITBOT_TOKEN=\"api-file\"\nLAB_RESET=sh reset.sh\nOTHER = kept\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LAB_ENV", path)
	t.Setenv("AUDITBOT_TOKEN", "api-env")
	t.Setenv("TOKEN_USER02", "api-user02")
	t.Setenv("OTHER", "from-env")
	t.Setenv("UNRELATED_VAR", "not a lab setting")
	got := LoadLabEnv()
	for k, want := range map[string]string{
		"PHAB_URL": "http://127.0.0.1:8080", "AUDITBOT_TOKEN": "api-env", "TOKEN_USER02": "api-user02",
		"LAB_RESET": "sh reset.sh", "OTHER": "from-env", "UNRELATED_VAR": "",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
}

func TestLabEnvProblem(t *testing.T) {
	t.Setenv("PHORGE_ALLOW_REMOTE", "")
	for _, tt := range []struct {
		name     string
		env      LabEnv
		required []string
		want     string // "" or a part of the problem
	}{
		{name: "usable", env: LabEnv{"PHAB_URL": "http://127.0.0.1:8080", "ADMIN_TOKEN": "x"}, required: []string{"ADMIN_TOKEN"}},
		{name: "localhost", env: LabEnv{"PHAB_URL": "http://localhost:8080"}},
		{name: "no lab", env: LabEnv{}, want: "no Phorge configured"},
		{name: "missing token", env: LabEnv{"PHAB_URL": "http://127.0.0.1:8080"}, required: []string{"ADMIN_TOKEN"}, want: "has no ADMIN_TOKEN"},
		{name: "remote", env: LabEnv{"PHAB_URL": "https://phab.example.org"}, want: `host "phab.example.org" is not loopback`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.env.Problem(tt.required...)
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("Problem = %q, want %q", got, tt.want)
			}
		})
	}
	t.Setenv("PHORGE_ALLOW_REMOTE", "1")
	if got := (LabEnv{"PHAB_URL": "https://phab.example.org"}).Problem(); got != "" {
		t.Errorf("with PHORGE_ALLOW_REMOTE=1 a remote Phorge: %q", got)
	}
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { b.Write([]byte("x")) })
	}
	wg.Wait()
	if b.String() != "xxxx" {
		t.Errorf("String = %q", b.String())
	}
	b.Reset()
	if b.String() != "" {
		t.Errorf("after Reset: %q", b.String())
	}
}
