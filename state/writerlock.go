package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrBusy: another auditbot process kept the writer lock past the wait.
var ErrBusy = errors.New("state: another auditbot process is still writing")

// writerLockPoll is how often a waiting writer tries the lock again. A
// poll rather than a blocking flock, so the wait ends with the context.
const writerLockPoll = 50 * time.Millisecond

// WriterLockPath is the writer lock's file next to the state file.
func WriterLockPath(statePath string) string { return statePath + ".writer.lock" }

// LockWriter takes the writer lock of the state file at statePath: at
// most one process at a time does work that writes to Phabricator and
// records it (a tick, launch, approve, restore, extend). The state file's
// own lock is held only per transaction (see Store), which lets readers in
// between; this lock keeps two writers from interleaving. holder says who
// takes it (shown to whoever waits). If another process holds it, waiting
// is called once with that holder's description, and LockWriter waits
// until it is free or ctx ends (then ErrBusy, or ctx's error if ctx was
// canceled). The returned function releases the lock.
//
// The lock file exists only while held: the holder removes it before
// unlocking, and a process that locks a file then finds that path no
// longer names it (removed meanwhile) tries again. A crash releases the
// flock with the process and leaves a stale file that the next taker
// locks and reuses.
func LockWriter(ctx context.Context, statePath, holder string, waiting func(holder string)) (func(), error) {
	path := WriterLockPath(statePath)
	notified := false
	for {
		f, err := openLockFile(path)
		if err != nil {
			return nil, err
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if sameFile(f, path) {
				_ = f.Truncate(0)
				_, _ = f.WriteAt([]byte(holder+"\n"), 0)
				return func() {
					os.Remove(path)
					syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
					f.Close()
				}, nil
			}
			f.Close() // removed by its previous holder meanwhile: retry
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("state: writer lock %s: %w", path, err)
		}
		if !notified && waiting != nil {
			b := make([]byte, 512)
			n, _ := f.ReadAt(b, 0)
			who := strings.TrimSpace(string(b[:n]))
			if who == "" {
				who = "another auditbot process"
			}
			waiting(who)
			notified = true
		}
		f.Close()
		t := time.NewTimer(writerLockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w: gave up waiting for the writer lock %s", ErrBusy, path)
			}
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// ErrLockFile: the writer lock's path names something the bot must not
// lock or write into (a symlink, a directory, a file of another user).
var ErrLockFile = errors.New("state: unsafe writer lock file")

// openLockFile opens (creating if needed) the lock file at path without
// following a symlink and without truncating it: whoever may create files
// in the state directory could otherwise plant a link that makes the bot
// lock, truncate and overwrite any file it may write (the state file
// itself). What it opened must be a regular file owned by this process's
// user; anything else is refused with what to do. Nothing is written
// before the flock is held (LockWriter).
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	switch {
	case errors.Is(err, syscall.ELOOP):
		return nil, fmt.Errorf("%w: %s is a symbolic link; the bot locks only a regular file it owns: remove the link (and check who can write to %s)", ErrLockFile, path, filepath.Dir(path))
	case errors.Is(err, syscall.EISDIR):
		return nil, fmt.Errorf("%w: %s is a directory; remove it", ErrLockFile, path)
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("%w: %s cannot be opened by uid %d (%v); it is likely left behind by a run as another user (root): no auditbot may be running, then remove %s, or run auditbot as the user that owns the state file", ErrLockFile, path, os.Getuid(), err, path)
	case err != nil:
		return nil, fmt.Errorf("state: writer lock %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("state: writer lock %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file (%s); remove it", ErrLockFile, path, fi.Mode().Type())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		f.Close()
		return nil, fmt.Errorf("%w: %s belongs to uid %d, not to this process's uid %d: no auditbot may be running, then remove %s, or run auditbot as the user that owns the state file", ErrLockFile, path, st.Uid, os.Getuid(), path)
	}
	return f, nil
}

// sameFile reports whether path still names the open file f (itself, not
// through a link).
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}
