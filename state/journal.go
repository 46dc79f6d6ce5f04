package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// firstHashed returns the sequence number of the journal's first hashed
// entry, 0 if none.
func firstHashed(b *bolt.Bucket) (uint64, error) {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var e struct {
			Hash string `json:"hash"`
		}
		if err := json.Unmarshal(v, &e); err != nil {
			return 0, fmt.Errorf("state: decode journal entry %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if e.Hash != "" {
			return binary.BigEndian.Uint64(k), nil
		}
	}
	return 0, nil
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

// The chain alone detects an edit by anyone who does not redo it; whoever
// can write the state file can also re-seal every entry after the one
// they changed, or strip every hash. Two things hold against that: the
// campaign records where its chain began (Campaign.ChainFrom), so an
// unhashed entry after it is refused; and an Anchor, a head (sequence
// number and hash) that verify-journal printed earlier and someone kept
// outside the file, which the journal must still contain as it was.

// Anchor is one journal entry's sequence number and hash, as
// verify-journal prints a journal's head ("SEQ:HASH").
type Anchor struct {
	Seq  uint64
	Hash string
}

func (a Anchor) String() string { return fmt.Sprintf("%d:%s", a.Seq, a.Hash) }

// ParseAnchor parses "SEQ:HASH" (HASH: 64 lower-case hex digits).
func ParseAnchor(s string) (Anchor, error) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || n == 0 {
		return Anchor{}, fmt.Errorf("journal head %q: want SEQ:HASH, such as 42:%s", s, strings.Repeat("0", 64))
	}
	if b, err := hex.DecodeString(hash); err != nil || len(b) != sha256.Size || hash != strings.ToLower(hash) {
		return Anchor{}, fmt.Errorf("journal head %q: the hash must be 64 lower-case hex digits", s)
	}
	return Anchor{Seq: n, Hash: hash}, nil
}

// JournalCheck is the result of verifying one campaign's journal.
type JournalCheck struct {
	Campaign string
	Entries  int // entries read
	// Legacy counts entries before the chain began (written by an
	// auditbot without it); they are not covered.
	Legacy int
	// ChainFrom is the first entry the campaign says is hashed (0: none
	// recorded yet).
	ChainFrom uint64
	// Head is the last entry's sequence number and hash, to keep outside
	// the state file and pass back as an Anchor; zero when the journal is
	// empty or its last entry predates the chain.
	Head Anchor
	// OK reports whether the chain verifies; otherwise BadSeq is the first
	// bad entry's sequence number and Problem says what is wrong.
	OK      bool
	BadSeq  uint64
	Problem string
}

// VerifyJournal checks a campaign's hash chain, and that it still holds
// each anchor (a head printed earlier) as it was. It returns a
// JournalCheck (with OK false and the first bad entry named) for a broken
// chain, and an error only when the journal cannot be read at all.
func (s *Store) VerifyJournal(campaign string, anchors ...Anchor) (JournalCheck, error) {
	res := JournalCheck{Campaign: campaign}
	err := s.View(campaign, func(tx *CampaignTx) error {
		b := tx.b.Bucket(bucketJournal)
		res = verifyChain(campaign, b, tx.campaign.ChainFrom, anchors)
		return nil
	})
	return res, err
}

// CheckedJournal returns a campaign's journal and the verification of its
// chain, read in one transaction: a page or a report never pairs entries
// with a verdict about a journal a tick has appended to since.
func (s *Store) CheckedJournal(campaign string) ([]Entry, JournalCheck, error) {
	var out []Entry
	var res JournalCheck
	err := s.View(campaign, func(tx *CampaignTx) error {
		b := tx.b.Bucket(bucketJournal)
		res = verifyChain(campaign, b, tx.campaign.ChainFrom, nil)
		return forEachJSON(b, func(e Entry) error {
			out = append(out, e)
			return nil
		})
	})
	return out, res, err
}

func verifyChain(campaign string, b *bolt.Bucket, chainFrom uint64, anchors []Anchor) JournalCheck {
	res := JournalCheck{Campaign: campaign, ChainFrom: chainFrom}
	want := map[uint64][]string{} // seq -> hashes anchored
	for _, a := range anchors {
		want[a.Seq] = append(want[a.Seq], a.Hash)
	}
	fail := func(seq uint64, format string, args ...any) JournalCheck {
		res.BadSeq, res.Problem = seq, fmt.Sprintf(format, args...)
		return res
	}
	var (
		next    uint64 = 1
		prev    string // canonical hash of the previous entry
		chained bool   // a hashed entry has been seen
	)
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		res.Entries++
		if len(k) != 8 {
			return fail(next, "entry key %x is not a sequence number", k)
		}
		seq := binary.BigEndian.Uint64(k)
		if seq != next {
			return fail(next, "entry %d is missing (next entry is %d): deleted", next, seq)
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
		case e.Hash == "" && chainFrom != 0 && seq >= chainFrom:
			return fail(seq, "entry %d has no hash, but the campaign's chain began at entry %d (hashes stripped, or an entry inserted)", seq, chainFrom)
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
		for _, w := range want[seq] {
			if w != e.Hash {
				return fail(seq, "entry %d is not the entry of the head %d:%s kept earlier: the journal was rewritten there and re-sealed", seq, seq, w)
			}
		}
		delete(want, seq)
		res.Head = Anchor{}
		if e.Hash != "" {
			res.Head = Anchor{Seq: seq, Hash: e.Hash}
		}
		prev = h
		next++
	}
	// The bucket's sequence counts every entry ever appended: a deleted
	// last entry leaves it ahead of the last key.
	if last := b.Sequence(); last >= next {
		return fail(next, "entry %d is missing (the journal had %d entries): deleted", next, last)
	}
	var missing uint64
	for seq := range want {
		if missing == 0 || seq < missing {
			missing = seq
		}
	}
	if missing != 0 {
		return fail(missing, "entry %d of a head kept earlier is missing (the journal has %d entries): deleted", missing, next-1)
	}
	res.OK = true
	return res
}
