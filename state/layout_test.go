package state

import (
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// damage edits the bbolt file at path directly, as an attacker or a bad
// restore would.
func damage(t *testing.T, path string, edit func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(edit); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func deleteSub(name string, sub []byte) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCampaigns).Bucket([]byte(name)).DeleteBucket(sub)
	}
}

// TestOpenRefusesMissingCampaignBucket: a campaign without one of its
// buckets (its journal, say) is a damaged file (ErrDamaged, exit 7) at
// Open, read-only or not; before, it passed and journal, report and
// verify-journal panicked on it.
func TestOpenRefusesMissingCampaignBucket(t *testing.T) {
	for _, sub := range campaignBuckets {
		for _, ro := range []bool{false, true} {
			t.Run(string(sub)+map[bool]string{false: "", true: " read-only"}[ro], func(t *testing.T) {
				path := launchedFile(t)
				damage(t, path, deleteSub("mfa", sub))
				s, err := Open(path, Options{ReadOnly: ro})
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded")
				}
				if !errors.Is(err, ErrDamaged) {
					t.Fatalf("Open: %v, want ErrDamaged", err)
				}
			})
		}
	}
	t.Run("no campaign record", func(t *testing.T) {
		path := launchedFile(t)
		damage(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketCampaigns).Bucket([]byte("mfa")).Delete(keyInfo) })
		if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, ErrDamaged) {
			t.Fatalf("Open: %v, want ErrDamaged", err)
		}
	})
}

// TestMissingBucketAfterOpen: the same damage done in place after Open
// checked the file (it is not checked again while it is the same file)
// fails each read with ErrDamaged, never a panic.
func TestMissingBucketAfterOpen(t *testing.T) {
	path := launchedFile(t)
	s := openTest(t, path, Options{ReadOnly: true})
	damage(t, path, deleteSub("mfa", bucketJournal))
	reads := map[string]func() error{
		"Journal":        func() error { _, err := s.Journal("mfa"); return err },
		"VerifyJournal":  func() error { _, err := s.VerifyJournal("mfa"); return err },
		"CheckedJournal": func() error { _, _, err := s.CheckedJournal("mfa"); return err },
		"Snapshot":       func() error { _, err := s.Snapshot("mfa"); return err },
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			if err := read(); !errors.Is(err, ErrDamaged) {
				t.Errorf("%s: %v, want ErrDamaged", name, err)
			}
		})
	}
}
