// Package safefile reads the files auditbot is given by name (the config,
// campaign and list files, templates, token and secret files) so that
// none can hang or flood the process: only a regular file (or, for
// ReadDir, a directory) is read, it is opened without blocking, so a
// named pipe with no writer or a device never stops the open, and no
// more than a given size is read. A daemon that blocked in open() on one
// campaign's file would stop ticking every campaign.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// Sentinel errors, matched with errors.Is; the errors themselves are
// *Error and name the file.
var (
	// ErrNotRegular: the path is a named pipe, a device, a socket, a
	// directory (for Read) or another kind of file that is not read.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file is larger than the limit its caller set.
	ErrTooLarge = errors.New("file too large")
)

// Error says why a file was not read. It never holds the file's contents.
type Error struct {
	Path  string
	Mode  fs.FileMode // the file's type, for ErrNotRegular
	Dir   bool        // a directory was wanted (ReadDir)
	Limit int64       // the limit, for ErrTooLarge
	Err   error       // ErrNotRegular or ErrTooLarge
}

func (e *Error) Error() string {
	if errors.Is(e.Err, ErrTooLarge) {
		return fmt.Sprintf("%s is larger than %s, the limit for this file; is it the right file?", e.Path, size(e.Limit))
	}
	want := "a regular file"
	if e.Dir {
		want = "a directory"
	}
	return fmt.Sprintf("%s is %s, not %s (a pipe or a device could block auditbot for ever)", e.Path, kind(e.Mode), want)
}

func (e *Error) Unwrap() error { return e.Err }

// kind names a file type in an error.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	}
	return "not a regular file (" + m.Type().String() + ")"
}

func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Read returns the contents of the regular file at path (symbolic links
// followed), which must hold at most limit bytes. A path that is not a
// regular file is refused without blocking: it is checked before it is
// opened, opened non-blocking (a pipe or device put in its place
// meanwhile does not stop the open), and checked again on the open file.
func Read(path string, limit int64) ([]byte, error) {
	f, err := open(path, false)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, &Error{Path: path, Limit: limit, Err: ErrTooLarge}
	}
	// The file may grow while it is read: never more than limit.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &Error{Path: path, Limit: limit, Err: ErrTooLarge}
	}
	return data, nil
}

// ReadDir returns the entries of the directory at path, sorted by name,
// refusing (without blocking) anything that is not a directory.
func ReadDir(path string) ([]os.DirEntry, error) {
	f, err := open(path, true)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// open opens path for reading if it is a regular file (dir: a
// directory), without blocking on a pipe or device.
func open(path string, dir bool) (*os.File, error) {
	ok := func(m fs.FileMode) bool { return m.IsRegular() && !dir || m.IsDir() && dir }
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !ok(fi.Mode()) {
		return nil, notRegular(path, fi.Mode(), dir)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|nonBlocking, 0)
	if err != nil {
		return nil, err
	}
	// Replaced between the two looks: the open file is what counts.
	if fi, err = f.Stat(); err != nil || !ok(fi.Mode()) {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, notRegular(path, fi.Mode(), dir)
	}
	return f, nil
}

func notRegular(path string, m fs.FileMode, dir bool) error {
	return &Error{Path: path, Mode: m.Type(), Dir: dir, Err: ErrNotRegular}
}
