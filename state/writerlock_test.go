package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestFlockHolder(t *testing.T) {
	const locks = `1: POSIX  ADVISORY  WRITE 700 fd:01:555 0 EOF
2: FLOCK  ADVISORY  WRITE 4321 fd:01:1835209 0 EOF
2: -> FLOCK  ADVISORY  WRITE 4400 fd:01:1835209 0 EOF
3: FLOCK  ADVISORY  READ 99 00:2a:77 0 EOF
`
	for _, tt := range []struct {
		ino  uint64
		held bool
		pid  int
	}{
		{1835209, true, 4321},
		{835209, false, 0}, // a suffix of another inode's number
		{555, false, 0},    // a POSIX lock is not the writer lock's
		{77, true, 99},
		{1, false, 0},
	} {
		if held, pid := flockHolder(locks, tt.ino); held != tt.held || pid != tt.pid {
			t.Errorf("flockHolder(%d) = %v, %d; want %v, %d", tt.ino, held, pid, tt.held, tt.pid)
		}
	}
}

// TestLockHolderOfHeldLock: /proc/locks names the process holding the
// writer lock, and the holder's line is read from the file.
func TestLockHolderOfHeldLock(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "state.db")
	release, err := LockWriter(t.Context(), statePath, "pid 1 (auditbot run, tick)", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	h := lockHolderOf(WriterLockPath(statePath))
	if h.err != nil {
		t.Skipf("/proc/locks cannot be read here: %v", h.err)
	}
	if !h.held || h.pid != os.Getpid() || h.text != "pid 1 (auditbot run, tick)" || h.uid != os.Geteuid() {
		t.Errorf("lockHolderOf = %+v, want held by pid %d", h, os.Getpid())
	}
}

// TestWriterLockNotExclusive: a lock file that is not exclusively this
// user's is refused (exit 5) and left as it was; the message says whether
// a process holds it, and never tells anyone to remove a held lock.
func TestWriterLockNotExclusive(t *testing.T) {
	root := os.Geteuid() == 0
	for _, tt := range []struct {
		name     string
		rootOnly bool
		plant    func(t *testing.T, lock, statePath string)
		hold     bool     // hold a flock on the planted file meanwhile
		want     []string // in the error
	}{
		{name: "group and others may write it", plant: func(t *testing.T, lock, _ string) {
			writeMode(t, lock, 0o666)
		}, want: []string{"has mode 0666: others may write it", "no process holds it", "remove it"}},
		{name: "a hard link to the state file", plant: func(t *testing.T, lock, statePath string) {
			writeMode(t, statePath, 0o600)
			if err := os.Link(statePath, lock); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"has 2 names (hard links)"}},
		{name: "another user's, not held", rootOnly: true, plant: func(t *testing.T, lock, _ string) {
			writeMode(t, lock, 0o600)
			chown(t, lock)
		}, want: []string{"belongs to uid 54321, not to this process's uid 0", "no process holds it", "remove it"}},
		{name: "another user's, held (a DynamicUser service's tick)", rootOnly: true, hold: true, plant: func(t *testing.T, lock, _ string) {
			writeMode(t, lock, 0o600)
			if err := os.WriteFile(lock, []byte("pid 4321 (auditbot run, tick, since 2027-03-01 09:00:00)\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			chown(t, lock)
		}, want: []string{"belongs to uid 54321, not to this process's uid 0", "held right now by pid", `which wrote "pid 4321 (auditbot run, tick, since 2027-03-01 09:00:00)"`,
			"leave it", "running as uid 54321", `README "Running it as a service"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rootOnly && !root {
				t.Skip("needs root to give the file to another user")
			}
			dir := t.TempDir()
			statePath := filepath.Join(dir, "state.db")
			lock := WriterLockPath(statePath)
			tt.plant(t, lock, statePath)
			if tt.hold {
				f, err := os.Open(lock)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := os.ReadFile(lock)
			release, err := LockWriter(t.Context(), statePath, "pid 1 (auditbot tick)", nil)
			if err == nil {
				release()
				t.Fatal("LockWriter took the lock")
			}
			if !errors.Is(err, ErrLockFile) {
				t.Fatalf("LockWriter: %v, want ErrLockFile", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if tt.hold && strings.Contains(err.Error(), "remove") {
				t.Errorf("the error tells to remove a held lock:\n%v", err)
			}
			if after, _ := os.ReadFile(lock); string(after) != string(before) {
				t.Errorf("the lock file changed: %q, was %q", after, before)
			}
		})
	}
}

func writeMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("untouched\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func chown(t *testing.T, path string) {
	t.Helper()
	if err := os.Chown(path, 54321, 54321); err != nil {
		t.Fatal(err)
	}
}

// TestLockFileRemovedOnRelease: a lock file opened by a waiter just as its
// holder removes it on release has no name left; that is the normal
// hand-over (LockWriter tries again), not a file to refuse. Under load a
// waiting `approve` beside the daemon once got exit 5 "has 0 names".
func TestLockFileRemovedOnRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db.writer.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if p := lockFileProblem(fi); p != "" {
		t.Errorf("lockFileProblem of a lock file removed by its holder = %q, want none", p)
	}
}
