package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// appendN writes n journal entries, one transaction each.
func appendN(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := range n {
		err := s.Update("mfa", func(tx *CampaignTx) error {
			return tx.Append(Entry{At: t0.Add(time.Duration(i) * time.Hour), Kind: "drift", User: "zed", Detail: "entry-" + string(rune('a'+i))})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppendFillsTheAuditRecord(t *testing.T) {
	s := launched(t)
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))
	if err := s.Update("mfa", func(tx *CampaignTx) error {
		if err := tx.Append(Entry{At: at, Kind: "drift", User: "zed", Group: "WMF-NDA"}); err != nil {
			return err
		}
		return tx.Append(Entry{At: at, Kind: "removal-approval", Actor: "alice", ActorKind: ActorCLI, Operator: "root"})
	}); err != nil {
		t.Fatal(err)
	}
	j, err := s.Journal("mfa")
	if err != nil {
		t.Fatal(err)
	}
	if len(j) != 2 {
		t.Fatalf("journal = %+v", j)
	}
	if j[0].Recorded.IsZero() || j[0].Recorded.Year() == 2027 {
		t.Errorf("Recorded = %v; want the real time, apart from the campaign clock", j[0].Recorded)
	}
	if !j[0].At.Equal(at) || j[0].At.Location() != time.UTC {
		t.Errorf("At = %v; want %v in UTC", j[0].At, at)
	}
	type who struct{ Actor, Kind, Op string }
	got := []who{{j[0].Actor, j[0].ActorKind, j[0].Operator}, {j[1].Actor, j[1].ActorKind, j[1].Operator}}
	// The test campaign has no bot username: "" is the bot.
	want := []who{{"", ActorBot, ""}, {"alice", ActorCLI, "root"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("actors (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"zed"}, j[0].Users); d != "" {
		t.Errorf("Users (-want +got):\n%s", d)
	}
	if j[0].PrevHash != "" || j[0].Hash == "" || j[1].PrevHash != j[0].Hash {
		t.Errorf("chain: %q <- %q, %q <- %q", j[0].PrevHash, j[0].Hash, j[1].PrevHash, j[1].Hash)
	}
}

// rawEdit changes the journal bucket of campaign mfa directly, as someone
// with the file would.
func rawEdit(t *testing.T, path string, fn func(b *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		return fn(tx.Bucket(bucketCampaigns).Bucket([]byte("mfa")).Bucket(bucketJournal))
	}); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyJournal(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(t *testing.T, path string)
		wantOK  bool
		wantBad uint64
	}{
		{name: "intact", tamper: func(*testing.T, string) {}, wantOK: true},
		{name: "one byte of an entry changed in the file", wantBad: 3, tamper: func(t *testing.T, path string) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// bbolt copies pages on write, so stale copies of the entry
			// may sit in free pages: change the byte in each.
			if !bytes.Contains(data, []byte("entry-c")) {
				t.Fatal("entry-c not in the file")
			}
			data = bytes.ReplaceAll(data, []byte("entry-c"), []byte("entry-x"))
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "key case changed (same decoded value)", wantBad: 2, tamper: func(t *testing.T, path string) {
			rawEdit(t, path, func(b *bolt.Bucket) error {
				v := bytes.Replace(b.Get(itob(2)), []byte(`"detail"`), []byte(`"Detail"`), 1)
				return b.Put(itob(2), v)
			})
		}},
		{name: "entry edited and rehashed", wantBad: 3, tamper: func(t *testing.T, path string) {
			rawEdit(t, path, func(b *bolt.Bucket) error {
				var e Entry
				if err := json.Unmarshal(b.Get(itob(2)), &e); err != nil {
					return err
				}
				e.Detail = "forged"
				data, err := sealEntry(&e)
				if err != nil {
					return err
				}
				return b.Put(itob(2), data)
			})
		}},
		{name: "middle entry deleted", wantBad: 3, tamper: func(t *testing.T, path string) {
			rawEdit(t, path, func(b *bolt.Bucket) error { return b.Delete(itob(3)) })
		}},
		{name: "last entry deleted", wantBad: 5, tamper: func(t *testing.T, path string) {
			rawEdit(t, path, func(b *bolt.Bucket) error { return b.Delete(itob(5)) })
		}},
		{name: "entry inserted", wantBad: 6, tamper: func(t *testing.T, path string) {
			rawEdit(t, path, func(b *bolt.Bucket) error {
				return b.Put(itob(6), []byte(`{"seq":6,"at":"2026-01-01T00:00:00Z","kind":"drift"}`))
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t)
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CreateCampaign(testCampaign("mfa"), nil, nil); err != nil {
				t.Fatal(err)
			}
			appendN(t, s, 5)
			s.Close()
			tt.tamper(t, path)
			r := openTest(t, path, Options{ReadOnly: true})
			got, err := r.VerifyJournal("mfa")
			if err != nil {
				t.Fatal(err)
			}
			if got.OK != tt.wantOK || got.BadSeq != tt.wantBad {
				t.Errorf("VerifyJournal = %+v; want OK=%v, first bad entry %d", got, tt.wantOK, tt.wantBad)
			}
		})
	}
}

// TestVerifyJournalLegacy: entries written before the chain stay readable;
// the chain starts at the first hashed entry and links to the last legacy
// one, so editing that one is seen too.
func TestVerifyJournalLegacy(t *testing.T) {
	path := tempPath(t)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCampaign(testCampaign("mfa"), nil, nil); err != nil {
		t.Fatal(err)
	}
	// Two entries as an older auditbot wrote them.
	if err := s.update(func(tx *bolt.Tx) error {
		cb := tx.Bucket(bucketCampaigns).Bucket([]byte("mfa"))
		// A campaign created before ChainFrom was recorded.
		c := testCampaign("mfa")
		if err := putJSON(cb, keyInfo, c); err != nil {
			return err
		}
		b := cb.Bucket(bucketJournal)
		for i := uint64(1); i <= 2; i++ {
			if _, err := b.NextSequence(); err != nil {
				return err
			}
			if err := b.Put(itob(i), []byte(`{"seq":`+string(rune('0'+i))+`,"at":"2026-01-01T00:00:00Z","kind":"launch","detail":"old"}`)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 2)
	got, err := s.VerifyJournal("mfa")
	if err != nil {
		t.Fatal(err)
	}
	if got.Head.Seq != 4 || len(got.Head.Hash) != 64 {
		t.Errorf("VerifyJournal head = %v, want entry 4 and its hash", got.Head)
	}
	// The chain began at the first entry this auditbot appended.
	if d := cmp.Diff(JournalCheck{Campaign: "mfa", Entries: 4, Legacy: 2, ChainFrom: 3, Head: got.Head, OK: true}, got); d != "" {
		t.Errorf("VerifyJournal (-want +got):\n%s", d)
	}
	s.Close()
	rawEdit(t, path, func(b *bolt.Bucket) error {
		return b.Put(itob(2), bytes.Replace(b.Get(itob(2)), []byte("old"), []byte("new"), 1))
	})
	r := openTest(t, path, Options{ReadOnly: true})
	got, err = r.VerifyJournal("mfa")
	if err != nil || got.OK || got.BadSeq != 3 {
		t.Errorf("after editing the last legacy entry: %+v, %v; want entry 3 bad", got, err)
	}
}

func TestVerifyJournalNoCampaign(t *testing.T) {
	s := launched(t)
	if _, err := s.VerifyJournal("nope"); !errors.Is(err, ErrNoCampaign) {
		t.Errorf("VerifyJournal(nope) = %v; want ErrNoCampaign", err)
	}
}

// TestCheckedJournal: the entries and the verdict come from one read, and
// agree with Journal and VerifyJournal.
func TestCheckedJournal(t *testing.T) {
	s, err := Open(tempPath(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateCampaign(testCampaign("mfa"), nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Update("mfa", func(tx *CampaignTx) error {
			return tx.Append(Entry{Kind: EntryLaunch, Detail: string(rune('a' + i))})
		}); err != nil {
			t.Fatal(err)
		}
	}
	entries, check, err := s.CheckedJournal("mfa")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := s.Journal("mfa")
	wantCheck, _ := s.VerifyJournal("mfa")
	if len(entries) != 3 || !cmp.Equal(want, entries) || !check.OK || check.Head != wantCheck.Head {
		t.Errorf("CheckedJournal = %d entries, %+v; want %d, %+v", len(entries), check, len(want), wantCheck)
	}
}
