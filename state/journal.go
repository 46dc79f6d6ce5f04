package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The journal is a hash chain. Each entry is stored as its canonical
// encoding: encoding/json of Entry (fields in declaration order, new fields
// omitted when empty, times in UTC). Hash is the SHA-256 of that encoding
// with Hash empty, and PrevHash is the previous entry's Hash, so an edited,
// inserted or deleted entry breaks the chain at that point. The stored bytes
// must be exactly the canonical encoding: json.Unmarshal forgives a changed
// key case, the re-encoding does not, so a one-byte edit anywhere is seen.
//
// Old files: entries written before the chain existed have no Hash. They
// are kept as they are (rewriting history to hash it would vouch for
// entries nobody sealed); VerifyJournal reports how many precede the
// chain, which starts at the first hashed entry and links to the last
// legacy entry through its canonical hash.

// ErrJournalBroken: the journal's hash chain does not verify.
var ErrJournalBroken = errors.New("state: journal chain broken")

// fillEntry sets what Append records about every entry.
func (t *CampaignTx) fillEntry(e *Entry) {
	e.At = e.At.UTC()
	e.Recorded = time.Now().UTC()
	if e.Actor == "" {
		e.Actor = t.campaign.BotUsername
	}
	if e.ActorKind == "" {
		e.ActorKind = ActorUser
		if e.Actor == t.campaign.BotUsername {
			e.ActorKind = ActorBot
		}
	}
	if len(e.Users) == 0 && e.User != "" {
		e.Users = []string{e.User}
	}
	if len(e.Groups) == 0 && e.Group != "" {
		e.Groups = []string{e.Group}
	}
	e.Hash = ""
}

// entryHash is the hash of e's canonical encoding with Hash empty.
func entryHash(e Entry) (string, error) {
	e.Hash = ""
	data, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("state: encode journal entry %d: %w", e.Seq, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// sealEntry sets e.Hash and returns the bytes to store.
func sealEntry(e *Entry) ([]byte, error) {
	h, err := entryHash(*e)
	if err != nil {
		return nil, err
	}
	e.Hash = h
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("state: encode journal entry %d: %w", e.Seq, err)
	}
	return data, nil
}

// lastHash is the hash the next entry chains to: the last entry's Hash, or
// for a legacy last entry its canonical hash; "" for an empty journal.
func lastHash(b *bolt.Bucket) (string, error) {
	k, v := b.Cursor().Last()
	if k == nil {
		return "", nil
	}
	var e Entry
	if err := json.Unmarshal(v, &e); err != nil {
		return "", fmt.Errorf("state: decode journal entry %d: %w", binary.BigEndian.Uint64(k), err)
	}
	if e.Hash != "" {
		return e.Hash, nil
	}
	return entryHash(e)
}

// JournalCheck is the result of verifying one campaign's journal.
type JournalCheck struct {
	Campaign string
	Entries  int // entries read
	// Legacy counts entries before the chain began (written by an
	// auditbot without it); they are not covered.
	Legacy int
	// OK reports whether the chain verifies; otherwise BadSeq is the first
	// bad entry's sequence number and Problem says what is wrong.
	OK      bool
	BadSeq  uint64
	Problem string
}

// VerifyJournal checks a campaign's hash chain. It returns a JournalCheck
// (with OK false and the first bad entry named) for a broken chain, and an
// error only when the journal cannot be read at all.
func (s *Store) VerifyJournal(campaign string) (JournalCheck, error) {
	res := JournalCheck{Campaign: campaign}
	err := s.View(campaign, func(tx *CampaignTx) error {
		b := tx.b.Bucket(bucketJournal)
		res = verifyChain(campaign, b)
		return nil
	})
	return res, err
}

func verifyChain(campaign string, b *bolt.Bucket) JournalCheck {
	res := JournalCheck{Campaign: campaign}
	fail := func(seq uint64, format string, args ...any) JournalCheck {
		res.BadSeq, res.Problem = seq, fmt.Sprintf(format, args...)
		return res
	}
	var (
		want    uint64 = 1
		prev    string // canonical hash of the previous entry
		chained bool   // a hashed entry has been seen
	)
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		res.Entries++
		if len(k) != 8 {
			return fail(want, "entry key %x is not a sequence number", k)
		}
		seq := binary.BigEndian.Uint64(k)
		if seq != want {
			return fail(want, "entry %d is missing (next entry is %d): deleted", want, seq)
		}
		var e Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return fail(seq, "entry %d does not decode (edited): %v", seq, err)
		}
		if e.Seq != seq {
			return fail(seq, "entry %d says it is entry %d (edited or moved)", seq, e.Seq)
		}
		h, err := entryHash(e)
		if err != nil {
			return fail(seq, "entry %d: %v", seq, err)
		}
		switch {
		case e.Hash == "" && chained:
			return fail(seq, "entry %d has no hash inside the chain (edited or inserted)", seq)
		case e.Hash == "":
			res.Legacy++
		default:
			if e.Hash != h {
				return fail(seq, "entry %d does not match its hash (edited)", seq)
			}
			canon, err := json.Marshal(e)
			if err != nil || !bytes.Equal(canon, v) {
				return fail(seq, "entry %d is not stored as written (edited)", seq)
			}
			if e.PrevHash != prev {
				return fail(seq, "entry %d does not follow entry %d (an entry before it was edited, inserted or deleted)", seq, seq-1)
			}
			chained = true
		}
		prev = h
		want++
	}
	// The bucket's sequence counts every entry ever appended: a deleted
	// last entry leaves it ahead of the last key.
	if last := b.Sequence(); last >= want {
		return fail(want, "entry %d is missing (the journal had %d entries): deleted", want, last)
	}
	res.OK = true
	return res
}
