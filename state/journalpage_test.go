package state

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// appendMany writes n entries in one transaction: user u<i%7>, kind
// reminder, except every tenth entry of kind drift.
func appendMany(t testing.TB, s *Store, from, n int) {
	t.Helper()
	if err := s.Update("mfa", func(tx *CampaignTx) error {
		for i := from; i < from+n; i++ {
			kind := EntryReminder
			if i%10 == 0 {
				kind = EntryDrift
			}
			if err := tx.Append(Entry{At: t0.Add(time.Duration(i) * time.Minute), Kind: kind, User: fmt.Sprintf("u%d", i%7), Detail: fmt.Sprint("entry ", i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func seqs(es []Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

// TestJournalPage: keyset pages, forwards and backwards, filtered or not,
// across the transactions a long read is split into, give exactly the
// entries a whole read filtered the same way gives.
func TestJournalPage(t *testing.T) {
	s := launched(t)
	const n = 2*journalChunk + 345
	appendMany(t, s, 0, n)
	all, err := s.Journal("mfa")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n {
		t.Fatalf("Journal = %d entries, want %d", len(all), n)
	}
	drift := func(e *Entry) bool { return e.Kind == EntryDrift }
	rare := func(e *Entry) bool { return e.Seq == 7 || e.Seq == n-1 } // far apart: many chunks between
	tests := []struct {
		name  string
		q     JournalQuery
		match func(*Entry) bool
		want  func() []uint64
	}{
		{name: "first page", q: JournalQuery{Limit: 100}, want: func() []uint64 { return span(1, 100) }},
		{name: "after", q: JournalQuery{After: 950, Limit: 100}, want: func() []uint64 { return span(951, 1050) }},
		{name: "before", q: JournalQuery{Before: 1001, Limit: 100}, want: func() []uint64 { return span(901, 1000) }},
		{name: "latest", q: JournalQuery{Before: n + 1, Limit: 100}, want: func() []uint64 { return span(n-99, n) }},
		{name: "the end, short", q: JournalQuery{After: n - 10, Limit: 100}, want: func() []uint64 { return span(n-9, n) }},
		{name: "the start, short", q: JournalQuery{Before: 5, Limit: 100}, want: func() []uint64 { return span(1, 4) }},
		{name: "past the end", q: JournalQuery{After: n, Limit: 100}, want: func() []uint64 { return nil }},
		{name: "filtered forwards", q: JournalQuery{After: 5, Limit: 150}, match: drift, want: func() []uint64 { return matching(all, drift, 5, 150, false) }},
		{name: "filtered backwards", q: JournalQuery{Before: n, Limit: 150}, match: drift, want: func() []uint64 { return matching(all, drift, n, 150, true) }},
		{name: "rare match across chunks", q: JournalQuery{Limit: 10}, match: rare, want: func() []uint64 { return []uint64{7, n - 1} }},
		{name: "bytes first", q: JournalQuery{Limit: 50, Has: []byte(`"u3"`)}, match: func(e *Entry) bool { return e.HasUser("u3") },
			want: func() []uint64 { return matching(all, func(e *Entry) bool { return e.HasUser("u3") }, 0, 50, false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Match = tt.match
			p, err := s.JournalPage("mfa", tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want(), seqs(p.Entries)); d != "" {
				t.Errorf("entries (-want +got):\n%s", d)
			}
			if p.Last != n {
				t.Errorf("Last = %d, want %d", p.Last, n)
			}
		})
	}
	if _, err := s.JournalPage("nope", JournalQuery{Limit: 1}); err == nil {
		t.Error("a page of an unknown campaign: no error")
	}
}

func span(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// matching is the brute-force page: the first (or with backwards the
// last) limit entries beyond seq that match, in order.
func matching(all []Entry, match func(*Entry) bool, seq uint64, limit int, backwards bool) []uint64 {
	var out []uint64
	for _, e := range all {
		if (!backwards && e.Seq > seq || backwards && e.Seq < seq) && match(&e) {
			out = append(out, e.Seq)
		}
	}
	if len(out) > limit {
		if backwards {
			return out[len(out)-limit:]
		}
		return out[:limit]
	}
	return out
}

// TestJournalVerifierIncremental: a verifier reads each entry once, in
// transactions of at most journalChunk entries, and agrees with a whole
// verification at each step; a journal rewritten where it stopped, or
// broken after it, is seen.
func TestJournalVerifierIncremental(t *testing.T) {
	path := tempPath(t)
	s := openTest(t, path, Options{})
	if err := s.CreateCampaign(testCampaign("mfa"), nil, nil); err != nil {
		t.Fatal(err)
	}
	v := s.NewJournalVerifier("mfa")
	var got []uint64
	var runs []int
	verify := func() JournalCheck {
		t.Helper()
		check, err := v.Verify(func(es []Entry, restart bool) {
			if restart {
				got = nil
			}
			runs = append(runs, len(es))
			got = append(got, seqs(es)...)
		})
		if err != nil {
			t.Fatal(err)
		}
		whole, err := s.VerifyJournal("mfa")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(whole, check); d != "" {
			t.Errorf("incremental verdict differs from a whole verification (-whole +incremental):\n%s", d)
		}
		return check
	}
	appendMany(t, s, 0, journalChunk+500)
	if c := verify(); !c.OK || c.Entries != journalChunk+500 {
		t.Fatalf("first verification: %+v", c)
	}
	if d := cmp.Diff([]int{journalChunk, 500}, runs); d != "" {
		t.Errorf("entries per transaction (-want +got):\n%s", d)
	}
	runs = nil
	appendMany(t, s, journalChunk+500, 20)
	if c := verify(); !c.OK {
		t.Fatalf("after 20 more: %+v", c)
	}
	if d := cmp.Diff([]int{20}, runs); d != "" {
		t.Errorf("after 20 more, entries read (-want +got):\n%s", d)
	}
	if d := cmp.Diff(span(1, journalChunk+520), got); d != "" {
		t.Errorf("entries handed over (-want +got):\n%s", d)
	}
	runs = nil
	if verify(); len(runs) != 0 {
		t.Errorf("nothing new, yet entries were read again: %v", runs)
	}

	// Someone with the file rewrites the last entry read and re-seals it:
	// the verifier starts again and hands over every entry afresh.
	last := uint64(journalChunk + 520)
	rawEditOpen(t, s, func(b *bolt.Bucket) error {
		var e Entry
		if err := getJSON(b, itob(last), &e); err != nil {
			return err
		}
		e.Detail = "forged"
		data, err := sealEntry(&e)
		if err != nil {
			return err
		}
		return b.Put(itob(last), data)
	})
	runs = nil
	if c := verify(); !c.OK {
		t.Fatalf("re-sealed last entry: %+v (a re-sealed last entry verifies; the head anchor catches it)", c)
	}
	if len(runs) < 2 || len(got) != int(last) {
		t.Errorf("after a rewrite where it stopped: %d transactions, %d entries; want a verification from the start", len(runs), len(got))
	}

	// An unhashed entry appended by hand breaks the chain after the part
	// verified; the verdict stays broken until the journal changes.
	rawEditOpen(t, s, func(b *bolt.Bucket) error {
		if _, err := b.NextSequence(); err != nil {
			return err
		}
		return b.Put(itob(last+1), []byte(fmt.Sprintf(`{"seq":%d,"at":"2027-01-01T00:00:00Z","kind":"drift"}`, last+1)))
	})
	if c := verify(); c.OK || c.BadSeq != last+1 {
		t.Errorf("entry inserted by hand: %+v, want entry %d bad", c, last+1)
	}
	runs = nil
	if c := verify(); c.OK || len(runs) != 0 {
		t.Errorf("broken and unchanged: %+v, read %v; want the verdict kept without reading", c, runs)
	}
}

// rawEditOpen edits campaign mfa's journal bucket through s's own file,
// as someone with the file would, bypassing Append.
func rawEditOpen(t *testing.T, s *Store, fn func(b *bolt.Bucket) error) {
	t.Helper()
	if err := s.update(func(tx *bolt.Tx) error {
		return fn(tx.Bucket(bucketCampaigns).Bucket([]byte("mfa")).Bucket(bucketJournal))
	}); err != nil {
		t.Fatal(err)
	}
}

// TestJournalWithoutItsBucket: a campaign whose journal bucket was removed
// by hand is an error for every journal read, never a panic.
func TestJournalWithoutItsBucket(t *testing.T) {
	s := launched(t)
	if err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCampaigns).Bucket([]byte("mfa")).DeleteBucket(bucketJournal)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Journal("mfa"); err == nil {
		t.Error("Journal: no error")
	}
	if _, _, err := s.CheckedJournal("mfa"); err == nil {
		t.Error("CheckedJournal: no error")
	}
	if _, err := s.VerifyJournal("mfa"); err == nil {
		t.Error("VerifyJournal: no error")
	}
}

// TestStoreYieldsToOtherProcesses: transactions of one process that
// overlap without end (busy readers) never keep the file from another
// process (another Store: flock locks belong to the open file, so two
// Stores exclude each other as two processes do) longer than its lock
// timeout. Without the yield, the writer below times out.
func TestStoreYieldsToOtherProcesses(t *testing.T) {
	path := tempPath(t)
	busy := openTest(t, path, Options{})
	if err := busy.CreateCampaign(testCampaign("mfa"), nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, readOnly := range []bool{true, false} {
		t.Run(fmt.Sprintf("busy store read-only %v", readOnly), func(t *testing.T) {
			readers := openTest(t, path, Options{ReadOnly: readOnly})
			other := openTest(t, path, Options{LockTimeout: DefaultLockTimeout})
			// A relay of readers: each transaction lasts until the next
			// one is inside (or 20 ms), so without the yield some
			// transaction of this store always holds the file.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var read func(inside chan<- struct{})
			read = func(inside chan<- struct{}) {
				defer wg.Done()
				_ = readers.View("mfa", func(*CampaignTx) error {
					close(inside)
					select {
					case <-stop:
						return nil
					default:
					}
					next := make(chan struct{})
					wg.Add(1)
					go read(next)
					select {
					case <-next:
					case <-time.After(20 * time.Millisecond):
					}
					return nil
				})
			}
			first := make(chan struct{})
			wg.Add(1)
			go read(first)
			<-first
			for i := range 3 {
				if err := other.Update("mfa", func(tx *CampaignTx) error {
					return tx.Append(Entry{Kind: EntryDrift, Detail: fmt.Sprint(i)})
				}); err != nil {
					t.Errorf("write %d beside busy readers: %v", i, err)
				}
			}
			close(stop)
			wg.Wait()
		})
	}
}
