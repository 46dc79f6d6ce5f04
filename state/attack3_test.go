package state

import (
	"encoding/json"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestAttack3JournalRewrittenConsistently: README says verify-journal
// "detects a changed byte anywhere in an entry ..., an inserted entry, and
// a deleted one". It detects them only when the tamperer did not redo the
// chain: the chain has no anchor outside the file (no key, no head hash
// kept or published elsewhere), so whoever can write the state file can
// edit an entry and re-seal every entry after it with plain SHA-256, or
// strip every hash so that the whole journal reads as "written by an
// older auditbot" (Legacy), and verify-journal exits 0. Neither README
// nor verify-journal's output says that the check only holds against a
// head hash kept elsewhere.
//
// Sequence: campaign mfa, 5 entries; with the file: (a) change entry 2's
// detail and re-seal entries 2..5; (b) change entry 2's detail and
// remove hash and prev_hash from every entry; VerifyJournal.
//
// Fix: anchor the chain outside the file (print the head hash and accept
// `verify-journal --head HASH`, post it on the standing/team task, or
// HMAC with a key the file does not hold), record in the campaign when
// its chain began so a journal of a chain-aware campaign with legacy
// entries is refused, and document the limit in README.
func TestAttack3JournalRewrittenConsistently(t *testing.T) {
	for _, tt := range []struct {
		name   string
		reseal func(e *Entry) ([]byte, error)
	}{
		{"re-sealed chain", func(e *Entry) ([]byte, error) { return sealEntry(e) }},
		{"every hash stripped (all legacy)", func(e *Entry) ([]byte, error) {
			e.Hash, e.PrevHash = "", ""
			return json.Marshal(e)
		}},
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
			r := openTest(t, path, Options{ReadOnly: true})
			got, err := r.VerifyJournal("mfa")
			if err != nil {
				t.Fatal(err)
			}
			j, _ := r.Journal("mfa")
			if got.OK {
				t.Errorf("VerifyJournal = %+v after entry 2 was rewritten to %q: the edit is not detected", got, j[1].Detail)
			}
		})
	}
}
