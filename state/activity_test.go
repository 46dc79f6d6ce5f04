package state

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

func TestActivityRoundTrip(t *testing.T) {
	s := openTest(t, tempPath(t), Options{})
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	acts := map[string]Activity{
		"PHID-USER-a": {Last: t0.AddDate(0, -2, 0), Since: t0.AddDate(-1, 0, 0), ReadAt: t0},
		"PHID-USER-b": {Since: t0.AddDate(-1, 0, 0), ReadAt: t0},
	}
	if err := s.RecordActivity(acts); err != nil {
		t.Fatal(err)
	}
	got, err := s.Activities([]string{"PHID-USER-a", "PHID-USER-b", "PHID-USER-unknown"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(acts, got); diff != "" {
		t.Errorf("activities (-want +got):\n%s", diff)
	}
	if err := s.RecordActivity(map[string]Activity{"": {}}); err == nil {
		t.Error("RecordActivity with an empty PHID: no error")
	}
}

func TestMembersSeen(t *testing.T) {
	s := openTest(t, tempPath(t), Options{})
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	const g = "PHID-PROJ-security"
	steps := []struct {
		members []string
		now     time.Time
		want    map[string]time.Time
	}{
		{[]string{"a", "b"}, t0, map[string]time.Time{"a": t0, "b": t0}},
		// b left; c joined; a keeps its first date.
		{[]string{"a", "c"}, t0.AddDate(0, 1, 0), map[string]time.Time{"a": t0, "c": t0.AddDate(0, 1, 0)}},
		// b came back: its first date stands.
		{[]string{"b"}, t0.AddDate(0, 2, 0), map[string]time.Time{"b": t0}},
	}
	for i, st := range steps {
		got, err := s.RecordMembersSeen(g, st.members, st.now)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("step %d: first seen (-want +got):\n%s", i, diff)
		}
	}
	got, err := s.MembersFirstSeen(g, []string{"a", "b", "c", "d"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{"a": t0, "b": t0, "c": t0.AddDate(0, 1, 0)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MembersFirstSeen (-want +got):\n%s", diff)
	}
	other, err := s.MembersFirstSeen("PHID-PROJ-other", []string{"a"})
	if err != nil || len(other) != 0 {
		t.Errorf("another group: %v, %v; want nothing", other, err)
	}
}

// TestActivityOnOldFile opens a file written before the activity buckets
// existed: read-only it reads as empty and refuses writes with
// ErrReadOnly; the first read-write open adds the buckets.
func TestActivityOnOldFile(t *testing.T) {
	path := tempPath(t)
	if err := create(path); err != nil { // meta and campaigns only, as before
		t.Fatal(err)
	}
	ro := openTest(t, path, Options{ReadOnly: true})
	got, err := ro.Activities([]string{"PHID-USER-a"})
	if err != nil || len(got) != 0 {
		t.Errorf("Activities on an old file: %v, %v; want nothing", got, err)
	}
	if seen, err := ro.MembersFirstSeen("g", []string{"a"}); err != nil || len(seen) != 0 {
		t.Errorf("MembersFirstSeen on an old file: %v, %v; want nothing", seen, err)
	}
	err = ro.RecordActivity(map[string]Activity{"PHID-USER-a": {}})
	if !errors.Is(err, ErrReadOnly) {
		t.Errorf("RecordActivity read-only: %v, want ErrReadOnly", err)
	}
	if _, err := ro.RecordMembersSeen("g", []string{"a"}, time.Now()); !errors.Is(err, ErrReadOnly) {
		t.Errorf("RecordMembersSeen read-only: %v, want ErrReadOnly", err)
	}
	ro.Close()

	rw := openTest(t, path, Options{})
	if err := rw.view(func(tx *bolt.Tx) error {
		for _, b := range topBuckets {
			if tx.Bucket(b) == nil {
				t.Errorf("bucket %s missing after a read-write open", b)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := rw.RecordActivity(map[string]Activity{"PHID-USER-a": {}}); err != nil {
		t.Errorf("RecordActivity: %v", err)
	}
}
