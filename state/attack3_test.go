package state

import (
	"encoding/json"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestAttack3JournalRewrittenConsistently: README said verify-journal
// "detects a changed byte anywhere in an entry ..., an inserted entry, and
// a deleted one". It did only when the tamperer did not redo the chain:
// the chain had no anchor outside the file, so whoever can write the state
// file could edit an entry and re-seal every entry after it with plain
// SHA-256, or strip every hash so that the whole journal read as "written
// by an older auditbot" (Legacy), and verify-journal exited 0.
//
// Sequence: campaign mfa, 5 entries; the head verify-journal prints is
// kept; with the file: (a) change entry 2's detail and re-seal entries
// 2..5; (b) change entry 2's detail and remove hash and prev_hash from
// every entry; (c) as (b), and also drop chain_from from the campaign
// record; VerifyJournal.
//
// Fixed: the campaign records where its chain began (ChainFrom), so (b)
// fails on its own; and VerifyJournal checks heads kept outside the file
// (verify-journal --head), which catch (a) and (c). Without a head a
// re-sealed chain still verifies: the limit README states.
func TestAttack3JournalRewrittenConsistently(t *testing.T) {
	strip := func(e *Entry) ([]byte, error) {
		e.Hash, e.PrevHash = "", ""
		return json.Marshal(e)
	}
	for _, tt := range []struct {
		name   string
		reseal func(e *Entry) ([]byte, error)
		// dropChainFrom also removes chain_from from the campaign record.
		dropChainFrom bool
		// okWithoutHead: the chain verifies when no head is given.
		okWithoutHead bool
	}{
		{name: "re-sealed chain", reseal: func(e *Entry) ([]byte, error) { return sealEntry(e) }, okWithoutHead: true},
		{name: "every hash stripped (all legacy)", reseal: strip},
		{name: "every hash stripped and chain_from dropped", reseal: strip, dropChainFrom: true, okWithoutHead: true},
	} {
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
			before, err := s.VerifyJournal("mfa")
			if err != nil || !before.OK || before.Head.Seq != 5 {
				t.Fatalf("VerifyJournal before the rewrite = %+v, %v; want ok with head 5", before, err)
			}
			head := before.Head // what an auditor keeps outside the file
			s.Close()
			rawEdit(t, path, func(b *bolt.Bucket) error {
				prev := ""
				c := b.Cursor()
				type kv struct {
					k []byte
					v []byte
				}
				var all []kv
				for k, v := c.First(); k != nil; k, v = c.Next() {
					all = append(all, kv{append([]byte(nil), k...), append([]byte(nil), v...)})
				}
				for _, x := range all {
					var e Entry
					if err := json.Unmarshal(x.v, &e); err != nil {
						return err
					}
					if e.Seq == 2 {
						e.Detail = "nothing happened here"
					}
					e.PrevHash = prev
					data, err := tt.reseal(&e)
					if err != nil {
						return err
					}
					prev = e.Hash
					if err := b.Put(x.k, data); err != nil {
						return err
					}
				}
				return nil
			})
			if tt.dropChainFrom {
				db, err := bolt.Open(path, 0o600, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := db.Update(func(tx *bolt.Tx) error {
					return putJSON(tx.Bucket(bucketCampaigns).Bucket([]byte("mfa")), keyInfo, testCampaign("mfa"))
				}); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			r := openTest(t, path, Options{ReadOnly: true})
			j, _ := r.Journal("mfa")
			got, err := r.VerifyJournal("mfa")
			if err != nil {
				t.Fatal(err)
			}
			if got.OK != tt.okWithoutHead {
				t.Errorf("VerifyJournal without a head = %+v after entry 2 was rewritten to %q; want OK %v", got, j[1].Detail, tt.okWithoutHead)
			}
			got, err = r.VerifyJournal("mfa", head)
			if err != nil {
				t.Fatal(err)
			}
			if got.OK {
				t.Errorf("VerifyJournal(head %s) = %+v after entry 2 was rewritten to %q: the edit is not detected", head, got, j[1].Detail)
			}
		})
	}
}

// TestVerifyJournalHead: heads kept earlier verify while the journal grows,
// and one the journal does not hold (another hash, an entry past its end)
// names that entry.
func TestVerifyJournalHead(t *testing.T) {
	s := launched(t)
	appendN(t, s, 3)
	first, err := s.VerifyJournal("mfa")
	if err != nil || !first.OK {
		t.Fatalf("VerifyJournal = %+v, %v", first, err)
	}
	appendN(t, s, 2)
	second, _ := s.VerifyJournal("mfa")
	for _, tt := range []struct {
		name    string
		heads   []Anchor
		wantBad uint64
	}{
		{name: "no head"},
		{name: "an earlier head", heads: []Anchor{first.Head}},
		{name: "both heads", heads: []Anchor{first.Head, second.Head}},
		{name: "another hash", heads: []Anchor{{Seq: first.Head.Seq, Hash: second.Head.Hash}}, wantBad: first.Head.Seq},
		{name: "past the end", heads: []Anchor{second.Head, {Seq: second.Head.Seq + 1, Hash: second.Head.Hash}}, wantBad: second.Head.Seq + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.VerifyJournal("mfa", tt.heads...)
			if err != nil {
				t.Fatal(err)
			}
			if got.OK != (tt.wantBad == 0) || got.BadSeq != tt.wantBad {
				t.Errorf("VerifyJournal(%v) = %+v; want bad entry %d", tt.heads, got, tt.wantBad)
			}
		})
	}
}

func TestParseAnchor(t *testing.T) {
	hash := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tt := range []struct {
		in   string
		want Anchor
		ok   bool
	}{
		{"42:" + hash, Anchor{Seq: 42, Hash: hash}, true},
		{" 7:" + hash + " ", Anchor{Seq: 7, Hash: hash}, true},
		{"0:" + hash, Anchor{}, false},
		{"x:" + hash, Anchor{}, false},
		{"42", Anchor{}, false},
		{"42:abc", Anchor{}, false},
		{"42:" + hash[:62] + "AB", Anchor{}, false},
	} {
		got, err := ParseAnchor(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseAnchor(%q) = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.String() != strings.TrimSpace(tt.in) {
			t.Errorf("Anchor.String() = %q", got.String())
		}
	}
}
