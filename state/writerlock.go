package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
// lock or write into: not a regular file, a symlink, another user's file,
// a file with other hard links or that others may write.
var ErrLockFile = errors.New("state: unsafe writer lock file")

// openLockFile opens (creating if needed) the lock file at path without
// following a symlink, without blocking (a named pipe put there) and
// without truncating it: whoever may create files in the state directory
// could otherwise plant a link that makes the bot lock, truncate and
// overwrite any file it may write (the state file itself). What it opened
// must be exclusively this user's (lockFileProblem); anything else is
// refused, saying who holds it if anyone. Nothing is written before the
// flock is held (LockWriter).
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0o600)
	switch {
	case errors.Is(err, syscall.ELOOP):
		return nil, refuseLockFile(path, "is a symbolic link")
	case errors.Is(err, syscall.EISDIR):
		return nil, refuseLockFile(path, "is a directory")
	case errors.Is(err, os.ErrPermission):
		problem := fmt.Sprintf("cannot be opened by this process (uid %d)", os.Geteuid())
		if fi, serr := os.Lstat(path); serr == nil {
			problem = lockFileProblem(fi)
		}
		return nil, refuseLockFile(path, problem)
	case err != nil:
		return nil, fmt.Errorf("state: writer lock %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("state: writer lock %s: %w", path, err)
	}
	if problem := lockFileProblem(fi); problem != "" {
		f.Close()
		return nil, refuseLockFile(path, problem)
	}
	return f, nil
}

// lockFileProblem says why fi is not a lock file exclusively this
// process's user's: not a regular file, another owner, more than one
// name (a hard link to the state file would be truncated), writable by
// group or others. "" when it is.
func lockFileProblem(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Sprintf("is not a regular file (%s)", fi.Mode().Type())
	case !ok:
		return ""
	case int(st.Uid) != os.Geteuid():
		return fmt.Sprintf("belongs to uid %d, not to this process's uid %d", st.Uid, os.Geteuid())
	case st.Nlink > 1:
		// No name (0) is fine: its holder removed it on release after
		// it was opened here; LockWriter then finds the path no longer
		// names it and tries again.
		return fmt.Sprintf("has %d names (hard links); a lock file has one", st.Nlink)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Sprintf("has mode %#o: others may write it", fi.Mode().Perm())
	}
	return ""
}

// refuseLockFile is the ErrLockFile error for path: what is wrong, who
// holds the lock if anyone does, and what to do. It never tells anyone to
// remove a lock that a process holds: a second writer beside the holder
// would interleave its intents and writes with it.
func refuseLockFile(path, problem string) error {
	h := lockHolderOf(path)
	switch {
	case h.held:
		return fmt.Errorf("%w: %s %s; it is held right now by %s: leave it, that auditbot is writing (the service, running as uid %d?); "+
			"run this command as the user the service runs as, beside it (README \"Running it as a service\")", ErrLockFile, path, problem, h, h.uid)
	case h.known:
		return fmt.Errorf("%w: %s %s; no process holds it (a run as another user, or a crash, left it): remove it, and check who can write to %s",
			ErrLockFile, path, problem, filepath.Dir(path))
	}
	return fmt.Errorf("%w: %s %s; whether a process holds it cannot be told here (%v): remove it only once no auditbot runs", ErrLockFile, path, problem, h.err)
}

// lockHolder is what /proc/locks says about a file's flock.
type lockHolder struct {
	known bool   // /proc/locks was read
	held  bool   // a process holds a flock on the file
	pid   int    // its pid as seen from here (0: another pid namespace)
	uid   int    // the file's owner
	text  string // the holder's line in the file, when readable
	err   error  // why it is not known
}

func (h lockHolder) String() string {
	who := "a process in another pid namespace"
	if h.pid > 0 {
		who = fmt.Sprintf("pid %d", h.pid)
	}
	if h.text != "" {
		who += fmt.Sprintf(", which wrote %q", h.text)
	}
	return who
}

// lockHolderOf looks path's inode up in /proc/locks, which lists every
// flock with its pid: it works without opening the file, which another
// user's mode 0600 forbids.
func lockHolderOf(path string) lockHolder {
	fi, err := os.Lstat(path)
	if err != nil {
		return lockHolder{err: err}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() {
		return lockHolder{known: true} // only a regular file is flocked here
	}
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return lockHolder{err: err}
	}
	h := lockHolder{known: true, uid: int(st.Uid)}
	h.held, h.pid = flockHolder(string(data), st.Ino)
	if h.held {
		if b, err := os.ReadFile(path); err == nil {
			h.text = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
			if len(h.text) > 200 {
				h.text = h.text[:200]
			}
		}
	}
	return h
}

// flockHolder finds a FLOCK held on inode ino in /proc/locks' text ("1:
// FLOCK  ADVISORY  WRITE 4321 fd:01:1835209 0 EOF"; a waiter's line has
// "->" after the id), and its pid. It matches the inode number only: the
// device /proc/locks names can differ from stat's (overlayfs, btrfs),
// and taking another file's lock for this one only errs on the side of
// "held".
func flockHolder(locks string, ino uint64) (held bool, pid int) {
	want := ":" + strconv.FormatUint(ino, 10)
	for line := range strings.Lines(locks) {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" || !strings.HasSuffix(f[5], want) {
			continue
		}
		pid, _ := strconv.Atoi(f[4])
		return true, pid
	}
	return false, 0
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
