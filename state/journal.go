package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// journalChunk is the most journal entries one read transaction reads: a
// few milliseconds of decoding and hashing, so that no reader holds the
// file long (see maxHold) however long a journal grows. Longer reads
// continue in the next transaction, from the sequence number where the
// last one stopped.
const journalChunk = 1000

// journalBucket returns the campaign's journal bucket. A file missing it
// was damaged by hand: that is an error, not a panic.
func (t *CampaignTx) journalBucket() (*bolt.Bucket, error) {
	b := t.b.Bucket(bucketJournal)
	if b == nil {
		return nil, fmt.Errorf("%w: campaign %q has no journal bucket", ErrDamaged, t.campaign.Name)
	}
	return b, nil
}

// chainWalk verifies a journal entry by entry, in order, and may go on in
// a later transaction from where it stopped. It stops at the first bad
// entry.
type chainWalk struct {
	res  JournalCheck
	next uint64 // the sequence number of the entry expected next
	prev string // canonical hash of entry next-1
	// prevSum is the SHA-256 of entry next-1 as stored: a walk that goes
	// on later first checks the entry is still there as it was.
	prevSum [sha256.Size]byte
	chained bool                // a hashed entry has been seen
	want    map[uint64][]string // seq -> hashes anchored
	broken  bool
}

func newChainWalk(campaign string, anchors []Anchor) *chainWalk {
	w := &chainWalk{res: JournalCheck{Campaign: campaign}, next: 1, want: map[uint64][]string{}}
	for _, a := range anchors {
		w.want[a.Seq] = append(w.want[a.Seq], a.Hash)
	}
	return w
}

func (w *chainWalk) fail(seq uint64, format string, args ...any) {
	w.broken, w.res.OK = true, false
	w.res.BadSeq, w.res.Problem = seq, fmt.Sprintf(format, args...)
}

// continues reports whether the entry the walk stopped after is still in
// b as it was read.
func (w *chainWalk) continues(b *bolt.Bucket) bool {
	if w.next == 1 {
		return true
	}
	v := b.Get(itob(w.next - 1))
	return v != nil && sha256.Sum256(v) == w.prevSum
}

// step checks the entry stored under key k as v, the entry after the
// last one stepped. It returns the entry, and false when it breaks the
// chain (the walk then holds the failure).
func (w *chainWalk) step(k, v []byte) (Entry, bool) {
	var e Entry
	w.res.Entries++
	if len(k) != 8 {
		w.fail(w.next, "entry key %x is not a sequence number", k)
		return e, false
	}
	seq := binary.BigEndian.Uint64(k)
	if seq != w.next {
		w.fail(w.next, "entry %d is missing (next entry is %d): deleted", w.next, seq)
		return e, false
	}
	if err := json.Unmarshal(v, &e); err != nil {
		w.fail(seq, "entry %d does not decode (edited): %v", seq, err)
		return e, false
	}
	if e.Seq != seq {
		w.fail(seq, "entry %d says it is entry %d (edited or moved)", seq, e.Seq)
		return e, false
	}
	h, err := entryHash(e)
	if err != nil {
		w.fail(seq, "entry %d: %v", seq, err)
		return e, false
	}
	chainFrom := w.res.ChainFrom
	switch {
	case e.Hash == "" && w.chained:
		w.fail(seq, "entry %d has no hash inside the chain (edited or inserted)", seq)
		return e, false
	case e.Hash == "" && chainFrom != 0 && seq >= chainFrom:
		w.fail(seq, "entry %d has no hash, but the campaign's chain began at entry %d (hashes stripped, or an entry inserted)", seq, chainFrom)
		return e, false
	case e.Hash == "":
		w.res.Legacy++
	default:
		if e.Hash != h {
			w.fail(seq, "entry %d does not match its hash (edited)", seq)
			return e, false
		}
		canon, err := json.Marshal(e)
		if err != nil || !bytes.Equal(canon, v) {
			w.fail(seq, "entry %d is not stored as written (edited)", seq)
			return e, false
		}
		if e.PrevHash != w.prev {
			w.fail(seq, "entry %d does not follow entry %d (an entry before it was edited, inserted or deleted)", seq, seq-1)
			return e, false
		}
		w.chained = true
	}
	for _, a := range w.want[seq] {
		if a != e.Hash {
			w.fail(seq, "entry %d is not the entry of the head %d:%s kept earlier: the journal was rewritten there and re-sealed", seq, seq, a)
			return e, false
		}
	}
	delete(w.want, seq)
	w.res.Head = Anchor{}
	if e.Hash != "" {
		w.res.Head = Anchor{Seq: seq, Hash: e.Hash}
	}
	w.prev, w.prevSum = h, sha256.Sum256(v)
	w.next++
	return e, true
}

// end checks, at the journal's end in b, that no entry after the last
// one read was deleted and that every anchor was met.
func (w *chainWalk) end(b *bolt.Bucket) {
	// The bucket's sequence counts every entry ever appended: a deleted
	// last entry leaves it ahead of the last key.
	if last := b.Sequence(); last >= w.next {
		w.fail(w.next, "entry %d is missing (the journal had %d entries): deleted", w.next, last)
		return
	}
	var missing uint64
	for seq := range w.want {
		if missing == 0 || seq < missing {
			missing = seq
		}
	}
	if missing != 0 {
		w.fail(missing, "entry %d of a head kept earlier is missing (the journal has %d entries): deleted", missing, w.next-1)
		return
	}
	w.res.OK = true
}

// JournalVerifier verifies one campaign's journal chain incrementally:
// Verify reads only the entries appended since its last call, at most
// journalChunk of them per read transaction, after checking that the
// entry it stopped at is still there as it was (otherwise it starts again
// from the first entry). The dashboard keeps one per campaign, so no page
// verifies a long journal again and no read holds the file long. An
// entry rewritten before the last one read is seen by the next process
// (a whole check is `auditbot verify-journal`). Not safe for concurrent
// use.
type JournalVerifier struct {
	store    *Store
	campaign string
	anchors  []Anchor
	walk     *chainWalk
	// seen is the journal's sequence at the walk's last stop: a broken
	// chain is verified again only once it changed.
	seen uint64
}

// NewJournalVerifier returns a verifier of campaign's journal that also
// checks each anchor (a head printed earlier) is still in it as it was.
func (s *Store) NewJournalVerifier(campaign string, anchors ...Anchor) *JournalVerifier {
	return &JournalVerifier{store: s, campaign: campaign, anchors: anchors}
}

// Verify brings the verification up to the journal's end and returns the
// verdict on every entry up to it. fn, if not nil, is called outside any
// transaction with each run of entries verified, in order (copies, for
// the caller to keep); restart reports that the verification started from
// the first entry (at the first call, or because the journal changed
// where the last call stopped), so that whatever fn gathered before is to
// be forgotten. It returns an error only when the journal cannot be read.
func (v *JournalVerifier) Verify(fn func(entries []Entry, restart bool)) (JournalCheck, error) {
	restart := v.walk == nil
	if restart {
		v.walk = newChainWalk(v.campaign, v.anchors)
	}
	for {
		var (
			chunk []Entry
			done  bool
		)
		err := v.store.View(v.campaign, func(tx *CampaignTx) error {
			b, err := tx.journalBucket()
			if err != nil {
				return err
			}
			if v.walk.broken && b.Sequence() == v.seen {
				done = true
				return nil
			}
			if v.walk.broken || !v.walk.continues(b) {
				v.walk, restart = newChainWalk(v.campaign, v.anchors), true
			}
			w := v.walk
			w.res.ChainFrom = tx.campaign.ChainFrom
			c := b.Cursor()
			k, val := c.Seek(itob(w.next))
			if w.next == 1 {
				k, val = c.First() // a malformed key may sort before entry 1
			}
			for ; k != nil; k, val = c.Next() {
				if len(chunk) == journalChunk {
					return nil // the next transaction goes on from here
				}
				e, ok := w.step(k, val)
				if !ok {
					v.seen, done = b.Sequence(), true
					return nil
				}
				chunk = append(chunk, e)
			}
			w.end(b)
			v.seen, done = b.Sequence(), true
			return nil
		})
		if err != nil {
			v.walk = nil
			return JournalCheck{Campaign: v.campaign}, err
		}
		if fn != nil && (restart || len(chunk) > 0) {
			fn(chunk, restart)
		}
		restart = false
		if done {
			return v.walk.res, nil
		}
	}
}

// VerifyJournal checks a campaign's hash chain, and that it still holds
// each anchor (a head printed earlier) as it was. It returns a
// JournalCheck (with OK false and the first bad entry named) for a broken
// chain, and an error only when the journal cannot be read at all. It
// reads the journal journalChunk entries per transaction.
func (s *Store) VerifyJournal(campaign string, anchors ...Anchor) (JournalCheck, error) {
	return s.NewJournalVerifier(campaign, anchors...).Verify(nil)
}

// CheckedJournal returns a campaign's journal and the verification of its
// chain, in journalChunk entries per read transaction: the verdict is on
// exactly the entries returned, never on entries a tick appended after
// the last one read. A broken chain returns the entries before the first
// bad one.
func (s *Store) CheckedJournal(campaign string) ([]Entry, JournalCheck, error) {
	var out []Entry
	check, err := s.NewJournalVerifier(campaign).Verify(func(entries []Entry, restart bool) {
		if restart {
			out = out[:0]
		}
		out = append(out, entries...)
	})
	return out, check, err
}

// JournalQuery selects one page of a campaign's journal by sequence
// number (keyset pagination): the first Limit entries Match accepts after
// entry After, or with Before set, the last Limit before entry Before.
// Match (nil: every entry) runs inside a read transaction: it must only
// look at the entry.
//
// Has, if set, is a first cut before Match: an entry whose stored
// encoding lacks these bytes is skipped without being decoded (for
// instance a username as JSON encodes it, quotes included), which makes
// a filter that matches rarely about ten times cheaper.
type JournalQuery struct {
	After, Before uint64
	Limit         int
	Match         func(*Entry) bool
	Has           []byte
}

// JournalPage is one page of a journal, oldest first.
type JournalPage struct {
	Entries []Entry
	// Last is the journal's last sequence number when the page was read.
	Last uint64
}

// JournalPage reads one page of a campaign's journal. It reads at most
// journalChunk entries per read transaction however few match, so a
// filter that matches rarely costs more transactions, never a long one.
func (s *Store) JournalPage(campaign string, q JournalQuery) (JournalPage, error) {
	var page JournalPage
	if q.Limit <= 0 {
		return page, fmt.Errorf("state: journal page of %q: limit %d", campaign, q.Limit)
	}
	r := pageRead{q: q, page: &page, backward: q.Before > 0, at: q.After + 1}
	if r.backward {
		r.at = q.Before - 1
	}
	for !r.end && len(page.Entries) < q.Limit && r.at > 0 {
		if err := s.View(campaign, r.chunk); err != nil {
			return JournalPage{}, err
		}
	}
	if r.backward {
		slices.Reverse(page.Entries)
	}
	return page, nil
}

// pageRead is a JournalPage under way: at is the sequence number it reads
// next, end reports that the journal has no more entries that way.
type pageRead struct {
	q        JournalQuery
	page     *JournalPage
	backward bool
	at       uint64
	end      bool
}

// chunk reads the next journalChunk entries at most, in one transaction.
func (r *pageRead) chunk(tx *CampaignTx) error {
	b, err := tx.journalBucket()
	if err != nil {
		return err
	}
	c := b.Cursor()
	r.page.Last = 0
	if k, _ := c.Last(); len(k) == 8 {
		r.page.Last = binary.BigEndian.Uint64(k)
	}
	k, v := c.Seek(itob(r.at))
	next := c.Next
	if r.backward {
		next = c.Prev
		if k == nil || binary.BigEndian.Uint64(k) > r.at {
			k, v = c.Prev()
		}
	}
	for n := 0; ; n++ {
		if k == nil || len(k) != 8 {
			r.end = true
			return nil
		}
		if n == journalChunk || len(r.page.Entries) == r.q.Limit {
			r.at = binary.BigEndian.Uint64(k) // the next transaction goes on from here
			return nil
		}
		if err := r.take(k, v); err != nil {
			return err
		}
		k, v = next()
	}
}

// take adds the entry stored under k as v to the page if it matches.
func (r *pageRead) take(k, v []byte) error {
	if r.q.Has != nil && !bytes.Contains(v, r.q.Has) {
		return nil
	}
	var e Entry
	if err := json.Unmarshal(v, &e); err != nil {
		return fmt.Errorf("state: decode journal entry %d: %w", binary.BigEndian.Uint64(k), err)
	}
	if r.q.Match == nil || r.q.Match(&e) {
		r.page.Entries = append(r.page.Entries, e)
	}
	return nil
}
