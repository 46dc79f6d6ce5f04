package state_test

import (
	"os"
	"path/filepath"
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
