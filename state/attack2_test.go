package state_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/auditbot/auditbot/state"
)

// TestAttack2WriterLockFollowsSymlink: LockWriter opens
// STATE.writer.lock with O_CREATE and no O_NOFOLLOW, and sameFile
// compares with os.Stat, which follows the link too. Whoever may create
// a file in the state file's directory (a shared or group-writable
// directory, a --state-dir under /tmp) plants STATE.writer.lock as a
// symlink to any file the bot's account may write: the next tick, launch
// or approve locks that file, truncates it and writes its holder line
// into it, then deletes the link. Pointed at the state file itself
// (between two of the daemon's transactions bbolt holds no flock), it
// wipes every campaign, journal and intent: exactly-once and the audit
// record are gone. Pointed at a dangling path, it creates that file.
//
// Fix: open with O_NOFOLLOW (and refuse a lock file that is not a regular
// file owned by the bot's uid, with a clear error), or keep the lock in a
// directory only the bot can write.
func TestAttack2WriterLockFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.db")
	victim := filepath.Join(dir, "precious")
	const content = "the operator's file, or the bbolt state file\n"
	if err := os.WriteFile(victim, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, state.WriterLockPath(statePath)); err != nil {
		t.Fatal(err)
	}
	release, err := state.LockWriter(t.Context(), statePath, "auditbot tick (pid 1)", nil)
	if err == nil {
		release()
	}
	got, rerr := os.ReadFile(victim)
	if rerr != nil || string(got) != content {
		t.Errorf("a planted symlink made the writer lock overwrite its target: now %q (read error %v); LockWriter error: %v", got, rerr, err)
	}
}

// TestWriterLockRefusesUnsafeFile: whatever stands at the lock path that
// is not a regular file of ours is refused with ErrLockFile, names the
// path, and is left as it was (nothing created through a link, nothing
// truncated).
func TestWriterLockRefusesUnsafeFile(t *testing.T) {
	for _, tt := range []struct {
		name  string
		plant func(t *testing.T, lock, dir string)
		check func(t *testing.T, dir string)
	}{
		{name: "dangling symlink", plant: func(t *testing.T, lock, dir string) {
			if err := os.Symlink(filepath.Join(dir, "created"), lock); err != nil {
				t.Fatal(err)
			}
		}, check: func(t *testing.T, dir string) {
			if _, err := os.Lstat(filepath.Join(dir, "created")); !os.IsNotExist(err) {
				t.Errorf("the lock created the link's target (%v)", err)
			}
		}},
		{name: "directory", plant: func(t *testing.T, lock, _ string) {
			if err := os.Mkdir(lock, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "fifo", plant: func(t *testing.T, lock, _ string) {
			if err := syscall.Mkfifo(lock, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			statePath := filepath.Join(dir, "state.db")
			lock := state.WriterLockPath(statePath)
			tt.plant(t, lock, dir)
			release, err := state.LockWriter(t.Context(), statePath, "auditbot tick (pid 1)", nil)
			if err == nil {
				release()
			}
			if !errors.Is(err, state.ErrLockFile) || !strings.Contains(err.Error(), lock) {
				t.Errorf("LockWriter: %v, want ErrLockFile naming %s", err, lock)
			}
			if tt.check != nil {
				tt.check(t, dir)
			}
		})
	}
}

// TestWriterLockKeepsHolderUntilLocked: a waiting writer never truncates
// the holder's line: only the flock's owner writes into the file.
func TestWriterLockKeepsHolderUntilLocked(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "state.db")
	release, err := state.LockWriter(t.Context(), statePath, "first (pid 1)", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	var saw string
	_, err = state.LockWriter(ctx, statePath, "second (pid 2)", func(holder string) { saw = holder; cancel() })
	if err == nil {
		t.Fatal("a second writer took a held lock")
	}
	got, _ := os.ReadFile(state.WriterLockPath(statePath))
	if saw != "first (pid 1)" || string(got) != "first (pid 1)\n" {
		t.Errorf("waiter saw %q, lock file holds %q; want the first holder in both", saw, got)
	}
}
