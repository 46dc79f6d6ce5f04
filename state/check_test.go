package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// launchedFile writes a state file holding campaign "mfa" and returns its
// path, closed.
func launchedFile(t *testing.T) string {
	t.Helper()
	path := tempPath(t)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCampaign(testCampaign("mfa"), testFindings(), testBatches()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		// Enough journal to spread the file over several pages.
		if err := s.Update("mfa", func(tx *CampaignTx) error {
			return tx.Append(Entry{Kind: "test", Detail: strings.Repeat("x", 200)})
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// currentMeta returns the page size and the root page of the newer of a
// bbolt file's two meta pages.
func currentMeta(t *testing.T, data []byte) (pageSize int, root uint64) {
	t.Helper()
	// Meta layout after the 16-byte page header: magic, version,
	// pageSize, flags (uint32 each), root bucket {root pgid, sequence},
	// freelist, pgid, txid.
	pageSize = int(binary.LittleEndian.Uint32(data[16+8:]))
	var bestTxid uint64
	for i := 0; i < 2; i++ {
		m := data[i*pageSize+16:]
		if txid := binary.LittleEndian.Uint64(m[48:]); txid >= bestTxid {
			bestTxid, root = txid, binary.LittleEndian.Uint64(m[16:])
		}
	}
	return pageSize, root
}

func TestOpenRefusesDamaged(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
	}{
		{name: "empty file", prepare: func(t *testing.T, p string) {
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "random bytes", prepare: func(t *testing.T, p string) {
			data := make([]byte, 3*4096)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range data {
				data[i] = byte(r.UintN(256))
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "text file", prepare: func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte("state_file: /var/lib/auditbot/state.db\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "another program's bbolt file", prepare: func(t *testing.T, p string) {
			db, err := bolt.Open(p, 0o600, &bolt.Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte("sessions"))
				if err != nil {
					return err
				}
				return b.Put([]byte("k"), []byte("v"))
			}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "empty bbolt file", prepare: func(t *testing.T, p string) {
			db, err := bolt.Open(p, 0o600, &bolt.Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
		}},
		{name: "auditbot file truncated", prepare: func(t *testing.T, p string) {
			src := launchedFile(t)
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			pageSize, _ := currentMeta(t, data)
			if len(data) < 6*pageSize {
				t.Fatalf("test file has only %d bytes", len(data))
			}
			if err := os.WriteFile(p, data[:4*pageSize], 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "auditbot file with its root page overwritten", prepare: func(t *testing.T, p string) {
			data, err := os.ReadFile(launchedFile(t))
			if err != nil {
				t.Fatal(err)
			}
			pageSize, root := currentMeta(t, data)
			page := data[int(root)*pageSize:][:pageSize]
			for i := range page {
				page[i] ^= 0x5a
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "auditbot file with both meta pages damaged", prepare: func(t *testing.T, p string) {
			data, err := os.ReadFile(launchedFile(t))
			if err != nil {
				t.Fatal(err)
			}
			pageSize, _ := currentMeta(t, data)
			for i := 0; i < 2; i++ {
				data[i*pageSize+16+56] ^= 0xff // a byte of the checksum
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		for _, ro := range []bool{false, true} {
			name := tt.name
			if ro {
				name += ", read-only"
			}
			t.Run(name, func(t *testing.T) {
				path := tempPath(t)
				tt.prepare(t, path)
				before, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				s, err := Open(path, Options{ReadOnly: ro})
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded, want ErrDamaged")
				}
				if !errors.Is(err, ErrDamaged) {
					t.Fatalf("Open: %v, want ErrDamaged", err)
				}
				after, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(before, after) {
					t.Errorf("the refused file changed: %d bytes before, %d after", len(before), len(after))
				}
				if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
					t.Errorf("directory holds %d entries after a refused open, want only the file", len(entries))
				}
			})
		}
	}
}

func TestOpenCreatesOnlyWhenMissing(t *testing.T) {
	path := tempPath(t)
	s := openTest(t, path, Options{})
	s.Close()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("new state file has mode %v, want 0600", info.Mode().Perm())
	}
	if got := readSchema(t, path); got != "1" {
		t.Errorf("schema = %q", got)
	}
	// No temporary file is left next to it.
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
	// Reopening an intact file writes nothing into it.
	before, _ := os.ReadFile(path)
	openTest(t, path, Options{}).Close()
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("reopening an intact state file changed it")
	}
}

func TestVerify(t *testing.T) {
	t.Run("sound file", func(t *testing.T) {
		s := openTest(t, launchedFile(t), Options{ReadOnly: true})
		rep, err := s.Verify()
		if err != nil {
			t.Fatal(err)
		}
		want := Report{Campaigns: 1, Records: 1 + 3 + 2 + 50}
		if diff := cmp.Diff(want, rep); diff != "" {
			t.Errorf("Verify (-want +got):\n%s", diff)
		}
	})
	t.Run("undecodable and misfiled records", func(t *testing.T) {
		path := launchedFile(t)
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketCampaigns).Bucket([]byte("mfa"))
			if err := c.Bucket(bucketFindings).Put([]byte("PHID-USER-aaa"), []byte("{not json")); err != nil {
				return err
			}
			return c.Bucket(bucketOps).Put([]byte("task/batch-9"), []byte(`{"key":"task/batch-1"}`))
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		s := openTest(t, path, Options{ReadOnly: true})
		rep, err := s.Verify()
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 2 {
			t.Fatalf("Problems = %q, want 2", rep.Problems)
		}
		for i, want := range []string{`findings "PHID-USER-aaa": cannot decode`, `ops "task/batch-9": stored under key`} {
			if !strings.Contains(rep.Problems[i], want) {
				t.Errorf("Problems[%d] = %q, want it to contain %q", i, rep.Problems[i], want)
			}
		}
	})
}

func TestBackup(t *testing.T) {
	s := openTest(t, launchedFile(t), Options{ReadOnly: true})
	want, err := s.Snapshot("mfa")
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "backup.db")
	if err := s.Backup(dst); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	info, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", info.Mode().Perm())
	}
	b := openTest(t, dst, Options{ReadOnly: true})
	got, err := b.Snapshot("mfa")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backup's snapshot (-want +got):\n%s", diff)
	}

	t.Run("refuses an existing file", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other")
		if err := os.WriteFile(other, []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.Backup(other); !errors.Is(err, os.ErrExist) {
			t.Fatalf("Backup over a file: %v, want ErrExist", err)
		}
		if data, _ := os.ReadFile(other); string(data) != "keep me" {
			t.Errorf("existing file now holds %q", data)
		}
	})
}
