package safefile

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// noHang runs f and fails the test if it has not returned after a while:
// the defect these tests guard against is blocking for ever in open(2).
// (Not a speed check: a correct f returns at once.)
func noHang[T any](t *testing.T, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("blocked: still in open or read after 30 s")
		panic("unreachable")
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := func(name, target string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tt := range []struct {
		name  string
		path  string
		limit int64
		want  string // contents; "" with err set
		err   error
		msg   string
	}{
		{name: "regular", path: write("a.yaml", "name: a\n"), limit: 100, want: "name: a\n"},
		{name: "at the limit", path: write("b.yaml", "12345"), limit: 5, want: "12345"},
		{name: "over the limit", path: write("c.yaml", "123456"), limit: 5, err: ErrTooLarge, msg: "c.yaml is larger than 5 bytes"},
		{name: "named pipe", path: fifo, limit: 100, err: ErrNotRegular, msg: "fifo is a named pipe (FIFO), not a regular file"},
		{name: "link to a named pipe", path: link("list.txt", fifo), limit: 100, err: ErrNotRegular, msg: "list.txt is a named pipe (FIFO), not a regular file"},
		{name: "link to /dev/zero", path: link("zero.yaml", "/dev/zero"), limit: 1 << 20, err: ErrNotRegular, msg: "zero.yaml is a character device, not a regular file"},
		{name: "/dev/null", path: "/dev/null", limit: 100, err: ErrNotRegular, msg: "/dev/null is a character device"},
		{name: "a directory", path: dir, limit: 100, err: ErrNotRegular, msg: "is a directory, not a regular file"},
		{name: "a socket", path: filepath.Join(dir, "sock"), limit: 100, err: ErrNotRegular, msg: "sock is a socket"},
		{name: "missing", path: filepath.Join(dir, "nope"), limit: 100, err: os.ErrNotExist},
	} {
		t.Run(tt.name, func(t *testing.T) {
			type res struct {
				data []byte
				err  error
			}
			r := noHang(t, func() res { d, err := Read(tt.path, tt.limit); return res{d, err} })
			if tt.err == nil {
				if r.err != nil || string(r.data) != tt.want {
					t.Fatalf("Read = %q, %v; want %q", r.data, r.err, tt.want)
				}
				return
			}
			if !errors.Is(r.err, tt.err) {
				t.Fatalf("Read: %v, want %v", r.err, tt.err)
			}
			if r.data != nil {
				t.Errorf("Read returned data with the error: %q", r.data)
			}
			if !strings.Contains(r.err.Error(), tt.msg) || !strings.Contains(r.err.Error(), tt.path) {
				t.Errorf("error %q: want it to name %s and say %q", r.err, tt.path, tt.msg)
			}
		})
	}
}

func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.yaml", "a.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"a.yaml", "b.yaml"}, names); diff != "" {
		t.Errorf("ReadDir (-want +got):\n%s", diff)
	}
	fifo := filepath.Join(dir, "campaigns")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, msg := range map[string]string{
		fifo:                         "campaigns is a named pipe (FIFO), not a directory",
		filepath.Join(dir, "a.yaml"): "a.yaml is a regular file, not a directory",
	} {
		err := noHang(t, func() error { _, err := ReadDir(path); return err })
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), msg) {
			t.Errorf("ReadDir(%s): %v, want %q", path, err, msg)
		}
	}
}

// TestOpenDoesNotBlock: the open itself returns at once on a named pipe
// with no writer, so a pipe put in place of a file between the check and
// the open cannot block it either.
func TestOpenDoesNotBlock(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	err := noHang(t, func() error {
		f, err := os.OpenFile(fifo, os.O_RDONLY|nonBlocking, 0)
		if err == nil {
			f.Close()
		}
		return err
	})
	if err != nil {
		t.Fatalf("non-blocking open of a named pipe: %v", err)
	}
}
