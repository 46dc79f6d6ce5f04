// Package state keeps auditbot's campaigns in a bbolt file: findings per
// user, batches and their tasks, removal batches and approvals, the intent
// record of every side effect, and an append-only journal.
//
// The store exposes domain methods only. Multi-record updates go through
// Update with a *CampaignTx, which wraps one bbolt transaction; callers must
// not make network calls inside it.
//
// A Store holds the file open (and so its lock) only while a transaction
// runs: the daemon spends minutes in a tick talking to Phabricator between
// transactions, and `status` or `approve` from another process get the
// file in those gaps. bbolt transactions are short (no network I/O inside
// one), so a lock timeout of seconds is enough to wait for another
// process's transaction. Commands that write to Phabricator also take the
// writer lock (LockWriter) for their whole run, so two processes never
// interleave their writes.
package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout version this code writes. A file with a newer
// version is refused rather than misread.
const SchemaVersion = 1

// Bucket and key names.
var (
	bucketMeta      = []byte("meta")
	bucketCampaigns = []byte("campaigns")
	keySchema       = []byte("schema")
	keyInfo         = []byte("info")
	bucketFindings  = []byte("findings")
	bucketBatches   = []byte("batches")
	bucketRemovals  = []byte("removals")
	bucketOps       = []byte("ops")
	bucketJournal   = []byte("journal")
)

// Sentinel errors.
var (
	// ErrLocked: another process holds the state file.
	ErrLocked = errors.New("state: file is locked by another auditbot process")
	// ErrNoCampaign: the campaign has not been launched.
	ErrNoCampaign = errors.New("state: campaign not launched")
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("state: not found")
	// ErrSchema: the file was written by a newer auditbot.
	ErrSchema = errors.New("state: unsupported schema version")
	// ErrDamaged: the file at the state path is not a usable auditbot
	// state file: empty, not bbolt, another program's bbolt file, or
	// failing bbolt's consistency check. Open never re-initialises or
	// writes into such a file: an empty file would lose every campaign
	// (the next launch files every task again), and a foreign file
	// belongs to someone else.
	ErrDamaged = errors.New("state: not an intact auditbot state file")
)

// Store is a verified state file, opened for the duration of each
// transaction. It is safe for concurrent use within a process.
type Store struct {
	path string
	opts Options

	mu   sync.Mutex
	db   *bolt.DB // open while refs > 0
	refs int
	// released is signalled when the last transaction closes the file.
	released *sync.Cond
	// openedAt is when the file was last opened, closedAt when it was
	// last closed; yielding is set while new transactions wait for the
	// file to be closed and stay closed for yieldFor (see acquire).
	openedAt, closedAt time.Time
	yielding           bool
	// verified is the file that passed the deep check: a later open checks
	// only that the same file is still there and not empty, so opening per
	// transaction stays cheap; a file replaced meanwhile (restored from a
	// backup) is checked again.
	verified os.FileInfo
	// checks counts the deep checks (verify): one more when the file was
	// replaced, for Version.
	checks uint64
	closed bool
}

// DefaultLockTimeout is how long a transaction waits for another process's
// transaction to end. Transactions make no network calls, so they last
// milliseconds; the bound only catches a process stuck while holding it.
const DefaultLockTimeout = 10 * time.Second

// Options tune Open.
type Options struct {
	// LockTimeout is how long to wait for another process to release the
	// file at each transaction (0: DefaultLockTimeout). bbolt would
	// otherwise wait forever.
	LockTimeout time.Duration
	// ReadOnly opens the file for reading (status, plan) with a shared lock.
	ReadOnly bool
}

// damagedHint ends every ErrDamaged message: what the operator can do.
const damagedHint = "auditbot never re-initialises or writes into an existing file; restore it from a backup (auditbot state backup), or move it away if it holds nothing you need"

// Open opens the state file at path, creating it only when nothing exists
// at path. An existing file is verified before anything is written to it:
// it must be a bbolt file carrying auditbot's schema key that passes
// bbolt's consistency check; otherwise Open fails with ErrDamaged (or
// ErrSchema for a newer auditbot's file) and leaves the file as it was.
func Open(path string, opts Options) (*Store, error) {
	if opts.LockTimeout == 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	_, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !opts.ReadOnly:
		if err := create(path); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	// Verify through a read-only handle first: bbolt's read-write open
	// initialises an empty file and may write a freelist, so a file is
	// opened for writing only once it is known to be ours and intact.
	s := &Store{path: path, opts: opts}
	s.released = sync.NewCond(&s.mu)
	if err := s.verify(); err != nil {
		return nil, err
	}
	if opts.ReadOnly {
		return s, nil
	}
	if err := s.init(); err != nil {
		return nil, err
	}
	return s, nil
}

// verify runs the deep check (openVerified) and remembers which file
// passed it.
func (s *Store) verify() error {
	db, err := openVerified(s.path, s.opts.LockTimeout)
	if err != nil {
		return err
	}
	info, statErr := os.Stat(s.path)
	if err := db.Close(); err != nil {
		return fmt.Errorf("state: close %s after verifying: %w", s.path, err)
	}
	if statErr != nil {
		return fmt.Errorf("state: open %s: %w", s.path, statErr)
	}
	s.verified = info
	s.checks++
	return nil
}

// The file's lock is fair to other processes. bbolt locks the whole file
// (flock: shared for a read-only open, exclusive otherwise) from open to
// close, and a process waiting for it tries again every 50 ms (bbolt's
// flock retry). Transactions of this process that overlap keep the file
// open, so a busy process (a dashboard with several readers, a daemon's
// dashboard beside its tick) could hold it for good, each transaction
// short, and another process's tick or approve would give up after its
// lock timeout. So once this process has held the file for maxHold, new
// transactions wait until the running ones end, and the file stays closed
// for yieldFor, long enough for two of a waiting process's tries: it gets
// the file. Nothing waits while the file is held less long, so a single
// page or command never pays for this.
const (
	maxHold  = 200 * time.Millisecond
	yieldFor = 120 * time.Millisecond
)

// acquire returns the open database, opening it if no transaction of
// this process has it open. Every acquire is paired with a release, and
// a transaction never acquires again before its release: once the store
// yields (see maxHold), a second acquire would wait for the first's
// release.
func (s *Store) acquire() (*bolt.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return nil, fmt.Errorf("state: %s: %w", s.path, bolterrors.ErrDatabaseNotOpen)
		}
		if s.db != nil && !s.yielding && time.Since(s.openedAt) > maxHold {
			s.yielding = true
		}
		if !s.yielding {
			break
		}
		if s.db != nil {
			s.released.Wait()
			continue
		}
		rest := yieldFor - time.Since(s.closedAt)
		if rest <= 0 {
			s.yielding = false
			break
		}
		s.mu.Unlock()
		time.Sleep(rest)
		s.mu.Lock()
	}
	if s.db == nil {
		info, err := os.Stat(s.path)
		if err != nil {
			return nil, fmt.Errorf("state: open %s: %w", s.path, err)
		}
		if !os.SameFile(info, s.verified) || info.Size() == 0 {
			// Replaced or truncated since it was checked: check again
			// before bbolt's read-write open could initialise it.
			if err := s.verify(); err != nil {
				return nil, err
			}
		}
		db, err := boltOpen(s.path, bolt.Options{Timeout: s.opts.LockTimeout, ReadOnly: s.opts.ReadOnly})
		if err != nil {
			return nil, err
		}
		s.db = db
		s.openedAt = time.Now()
	}
	s.refs++
	return s.db, nil
}

// release closes the database when the last transaction of this process
// using it ends, which releases the file lock for other processes.
func (s *Store) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs--
	if s.refs == 0 && s.db != nil {
		s.db.Close()
		s.db = nil
		s.closedAt = time.Now()
		s.released.Broadcast()
	}
}

// view runs fn in a read transaction, the file open only meanwhile.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	db, err := s.acquire()
	if err != nil {
		return err
	}
	defer s.release()
	return db.View(fn)
}

// update runs fn in a write transaction, the file open only meanwhile.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	db, err := s.acquire()
	if err != nil {
		return err
	}
	defer s.release()
	return db.Update(fn)
}

// create makes a new, initialised state file at path, only if nothing is
// there. It builds the file under a temporary name in the same directory
// and links it into place, which fails if path exists (O_EXCL semantics):
// a crash never leaves an empty or half-initialised file at path, which the
// next Open would have to refuse. Losing the race to another process that
// created path meanwhile is fine: Open then verifies that file.
func create(path string) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".new-*")
	if err != nil {
		return fmt.Errorf("state: create %s: %w", path, err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("state: create %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketCampaigns); err != nil {
			return err
		}
		return meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("state: create %s: %w", path, err)
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("state: create %s: %w", path, err)
	}
	return nil
}

// boltOpen opens path with bbolt, turning bbolt's panics on corrupt pages
// (it panics while loading a damaged freelist, for one) and its "not a
// bbolt file" errors into ErrDamaged.
func boltOpen(path string, o bolt.Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			// The file handle bbolt had opened is lost with the panic;
			// the process is about to report the error and exit.
			db, err = nil, fmt.Errorf("%w: %s: bbolt failed reading it (%v); %s", ErrDamaged, path, r, damagedHint)
		}
	}()
	db, err = bolt.Open(path, 0o600, &o)
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s: another process held it for more than %s, longer than any transaction takes; is it stuck?", ErrLocked, path, o.Timeout)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
		return nil, fmt.Errorf("%w: %s is not a bbolt database, or its header is damaged (%v); %s", ErrDamaged, path, err, damagedHint)
	case err != nil:
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	return db, nil
}

// openVerified opens an existing file read-only and verifies it: not
// empty, a bbolt file, not truncated, auditbot's schema key in a version
// this code reads, and bbolt's consistency check. It returns the open
// read-only handle.
func openVerified(path string, timeout time.Duration) (*bolt.DB, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrDamaged, path)
	}
	if info.Size() == 0 {
		// bbolt would initialise an empty file as a new database: the
		// campaigns it held would be forgotten and relaunched.
		return nil, fmt.Errorf("%w: %s is empty (0 bytes); %s", ErrDamaged, path, damagedHint)
	}
	db, err := boltOpen(path, bolt.Options{Timeout: timeout, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	if err := verify(db, path, info.Size()); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// verify checks an open database; see openVerified.
func verify(db *bolt.DB, path string, fileSize int64) (err error) {
	// bbolt panics on some corrupt pages rather than returning an error;
	// a fault on the mapped file becomes a panic too.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: bbolt failed reading it (%v); %s", ErrDamaged, path, r, damagedHint)
		}
	}()
	return db.View(func(tx *bolt.Tx) error {
		// Pages past the end of a truncated file are mapped but not
		// backed: reading them would kill the process with SIGBUS.
		if tx.Size() > fileSize {
			return fmt.Errorf("%w: %s is truncated (%d bytes, its header says %d); %s", ErrDamaged, path, fileSize, tx.Size(), damagedHint)
		}
		meta := tx.Bucket(bucketMeta)
		if meta == nil || meta.Get(keySchema) == nil {
			return fmt.Errorf("%w: %s is a bbolt database without auditbot's schema key: another program's file? %s", ErrDamaged, path, damagedHint)
		}
		if err := checkVersion(meta.Get(keySchema)); err != nil {
			return err
		}
		if err := checkTx(tx); err != nil {
			return fmt.Errorf("%w: %s: %w; %s", ErrDamaged, path, err, damagedHint)
		}
		if err := checkLayout(tx); err != nil {
			return fmt.Errorf("%w: %s: %w; %s", ErrDamaged, path, err, damagedHint)
		}
		return nil
	})
}

// checkTx runs bbolt's consistency check and returns the first problem.
func checkTx(tx *bolt.Tx) error {
	// Drain the channel: tx.Check's goroutine blocks on every error it
	// sends, and returning early would leave it reading pages after the
	// transaction ended. It recovers its own panics and sends them.
	var first error
	for err := range tx.Check() {
		if first == nil {
			first = fmt.Errorf("integrity: %w", err)
		}
	}
	return first
}

// topBuckets are the top-level buckets every file has. Files written before
// one was added get it on their first read-write open.
var topBuckets = [][]byte{bucketCampaigns, bucketActivity, bucketMembersSeen}

// init adds the top-level buckets a verified file lacks; a file that has
// them all is not written to.
func (s *Store) init() error {
	missing := false
	if err := s.view(func(tx *bolt.Tx) error {
		for _, name := range topBuckets {
			missing = missing || tx.Bucket(name) == nil
		}
		return nil
	}); err != nil || !missing {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		for _, name := range topBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("state: create %s bucket: %w", name, err)
			}
		}
		return nil
	})
}

func checkVersion(v []byte) error {
	n, err := strconv.Atoi(string(v))
	if err != nil || n > SchemaVersion || n < 1 {
		return fmt.Errorf("%w: file has %q, this auditbot reads %d", ErrSchema, v, SchemaVersion)
	}
	return nil
}

// Close ends the store's use of the file; a transaction still running in
// another goroutine keeps the file open until it ends.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Check runs bbolt's consistency check and returns the first problem.
func (s *Store) Check() error {
	return s.view(func(tx *bolt.Tx) error {
		if err := checkTx(tx); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		return nil
	})
}

// CampaignNames lists launched campaigns, sorted.
func (s *Store) CampaignNames() ([]string, error) {
	var names []string
	err := s.view(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketCampaigns)
		if root == nil {
			return nil // none yet (a read-only open adds no bucket)
		}
		return root.ForEachBucket(func(k []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	sort.Strings(names)
	return names, err
}

// CreateCampaign records a campaign at launch with its findings and
// batches, in one transaction, so a crash leaves either all or nothing. It
// fails if the campaign exists.
//
// entries are the new campaign's first journal entries (its launch),
// appended in the same transaction: a campaign is never recorded without
// the entry that says it was launched.
func (s *Store) CreateCampaign(c Campaign, findings []Finding, batches []Batch, entries ...Entry) error {
	return s.update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketCampaigns)
		if root.Bucket([]byte(c.Name)) != nil {
			return fmt.Errorf("state: campaign %q already exists", c.Name)
		}
		b, err := root.CreateBucket([]byte(c.Name))
		if err != nil {
			return fmt.Errorf("state: create campaign %q: %w", c.Name, err)
		}
		for _, name := range [][]byte{bucketFindings, bucketBatches, bucketRemovals, bucketOps, bucketJournal} {
			if _, err := b.CreateBucket(name); err != nil {
				return fmt.Errorf("state: create campaign %q: %w", c.Name, err)
			}
		}
		// Every entry of a new campaign's journal is hashed.
		c.ChainFrom = 1
		if err := putJSON(b, keyInfo, c); err != nil {
			return err
		}
		for _, f := range findings {
			if err := putJSON(b.Bucket(bucketFindings), []byte(f.UserPHID), f); err != nil {
				return err
			}
		}
		for _, bt := range batches {
			if err := putJSON(b.Bucket(bucketBatches), itob(uint64(bt.Index)), bt); err != nil {
				return err
			}
		}
		if len(entries) == 0 {
			return nil
		}
		ct, err := campaignTx(tx, c.Name, true)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := ct.Append(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// HasCampaign reports whether a campaign was launched.
func (s *Store) HasCampaign(name string) (bool, error) {
	var ok bool
	err := s.view(func(tx *bolt.Tx) error {
		ok = campaignBucket(tx, name) != nil
		return nil
	})
	return ok, err
}

// View runs fn in a read-only transaction on one campaign.
func (s *Store) View(campaign string, fn func(*CampaignTx) error) error {
	return s.view(func(tx *bolt.Tx) error {
		ct, err := campaignTx(tx, campaign, false)
		if err != nil {
			return err
		}
		return fn(ct)
	})
}

// Update runs fn in a read-write transaction on one campaign. fn must not
// make network calls: the transaction holds the file's write lock.
func (s *Store) Update(campaign string, fn func(*CampaignTx) error) error {
	return s.update(func(tx *bolt.Tx) error {
		ct, err := campaignTx(tx, campaign, true)
		if err != nil {
			return err
		}
		return fn(ct)
	})
}

// Snapshot is a copy of a campaign's whole state, for status, plan and tests.
type Snapshot struct {
	Campaign Campaign
	Findings []Finding // sorted by username
	Batches  []Batch   // by index
	Removals []Removal // by id
	Ops      []Op      // by key
}

// Snapshot copies out everything recorded for a campaign.
func (s *Store) Snapshot(campaign string) (Snapshot, error) {
	var snap Snapshot
	err := s.View(campaign, func(tx *CampaignTx) error {
		var err error
		snap, err = tx.snapshot()
		return err
	})
	return snap, err
}

func (t *CampaignTx) snapshot() (Snapshot, error) {
	snap := Snapshot{Campaign: t.Campaign()}
	var err error
	if snap.Findings, err = t.Findings(); err != nil {
		return snap, err
	}
	if snap.Batches, err = t.Batches(); err != nil {
		return snap, err
	}
	if snap.Removals, err = t.Removals(); err != nil {
		return snap, err
	}
	snap.Ops, err = t.Ops()
	return snap, err
}

// Journal returns a campaign's journal entries in order, read
// journalChunk entries per transaction (see JournalPage).
func (s *Store) Journal(campaign string) ([]Entry, error) {
	var out []Entry
	var after uint64
	for {
		p, err := s.JournalPage(campaign, JournalQuery{After: after, Limit: journalChunk})
		if err != nil {
			return nil, err
		}
		out = append(out, p.Entries...)
		if len(p.Entries) < journalChunk {
			return out, nil
		}
		after = p.Entries[len(p.Entries)-1].Seq
	}
}

// CampaignTx is one transaction on one campaign. Values returned are
// copies; change them and Put them back.
type CampaignTx struct {
	b        *bolt.Bucket
	campaign Campaign
	writable bool
}

// campaignBucket is the campaign's bucket, or nil.
func campaignBucket(tx *bolt.Tx, name string) *bolt.Bucket {
	root := tx.Bucket(bucketCampaigns)
	if root == nil {
		return nil
	}
	return root.Bucket([]byte(name))
}

func campaignTx(tx *bolt.Tx, name string, writable bool) (*CampaignTx, error) {
	b := campaignBucket(tx, name)
	if b == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoCampaign, name)
	}
	// Open checked the layout; a file changed in place since must not
	// make a reader panic on a missing bucket.
	if err := campaignLayout(b, []byte(name)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	ct := &CampaignTx{b: b, writable: writable}
	if err := getJSON(b, keyInfo, &ct.campaign); err != nil {
		return nil, fmt.Errorf("state: read campaign %q: %w", name, err)
	}
	return ct, nil
}

// Campaign returns the campaign record.
func (t *CampaignTx) Campaign() Campaign { return t.campaign }

// PutCampaign replaces the campaign record.
func (t *CampaignTx) PutCampaign(c Campaign) error {
	if c.Name != t.campaign.Name {
		return fmt.Errorf("state: cannot rename campaign %q to %q", t.campaign.Name, c.Name)
	}
	// Where the chain began is the store's to record, once: a record
	// read before an Append in the same transaction must not erase it.
	c.ChainFrom = t.campaign.ChainFrom
	t.campaign = c
	return putJSON(t.b, keyInfo, c)
}

// Finding returns the finding for a user, or ErrNotFound.
func (t *CampaignTx) Finding(userPHID string) (Finding, error) {
	var f Finding
	err := getJSON(t.b.Bucket(bucketFindings), []byte(userPHID), &f)
	return f, err
}

// PutFinding stores a finding.
func (t *CampaignTx) PutFinding(f Finding) error {
	return putJSON(t.b.Bucket(bucketFindings), []byte(f.UserPHID), f)
}

// Findings returns every finding, sorted by username.
func (t *CampaignTx) Findings() ([]Finding, error) {
	var out []Finding
	err := forEachJSON(t.b.Bucket(bucketFindings), func(f Finding) error {
		out = append(out, f)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, err
}

// Batch returns batch i, or ErrNotFound.
func (t *CampaignTx) Batch(i int) (Batch, error) {
	var b Batch
	err := getJSON(t.b.Bucket(bucketBatches), itob(uint64(i)), &b)
	return b, err
}

// PutBatch stores a batch.
func (t *CampaignTx) PutBatch(b Batch) error {
	return putJSON(t.b.Bucket(bucketBatches), itob(uint64(b.Index)), b)
}

// Batches returns every batch in index order.
func (t *CampaignTx) Batches() ([]Batch, error) {
	var out []Batch
	err := forEachJSON(t.b.Bucket(bucketBatches), func(b Batch) error {
		out = append(out, b)
		return nil
	})
	return out, err
}

// Removal returns removal batch id, or ErrNotFound.
func (t *CampaignTx) Removal(id int) (Removal, error) {
	var r Removal
	err := getJSON(t.b.Bucket(bucketRemovals), itob(uint64(id)), &r)
	return r, err
}

// PutRemoval stores a removal batch. A zero ID is assigned the next one.
func (t *CampaignTx) PutRemoval(r *Removal) error {
	b := t.b.Bucket(bucketRemovals)
	if r.ID == 0 {
		seq, err := b.NextSequence()
		if err != nil {
			return fmt.Errorf("state: next removal id: %w", err)
		}
		r.ID = int(seq)
	} else if uint64(r.ID) > b.Sequence() {
		// Keep the counter ahead of explicit IDs so a later automatic ID
		// never overwrites this removal.
		if err := b.SetSequence(uint64(r.ID)); err != nil {
			return fmt.Errorf("state: removal id: %w", err)
		}
	}
	return putJSON(b, itob(uint64(r.ID)), r)
}

// Removals returns every removal batch in id order.
func (t *CampaignTx) Removals() ([]Removal, error) {
	var out []Removal
	err := forEachJSON(t.b.Bucket(bucketRemovals), func(r Removal) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// Op returns the op with key, or ErrNotFound.
func (t *CampaignTx) Op(key string) (Op, error) {
	var op Op
	err := getJSON(t.b.Bucket(bucketOps), []byte(key), &op)
	return op, err
}

// PutOp stores an op.
func (t *CampaignTx) PutOp(op Op) error {
	return putJSON(t.b.Bucket(bucketOps), []byte(op.Key), op)
}

// Ops returns every op, by key.
func (t *CampaignTx) Ops() ([]Op, error) {
	var out []Op
	err := forEachJSON(t.b.Bucket(bucketOps), func(op Op) error {
		out = append(out, op)
		return nil
	})
	return out, err
}

// Append adds an entry to the journal, assigning its sequence number, its
// real write time and its place in the hash chain.
func (t *CampaignTx) Append(e Entry) error {
	b := t.b.Bucket(bucketJournal)
	prev, err := lastHash(b)
	if err != nil {
		return err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("state: next journal seq: %w", err)
	}
	e.Seq = seq
	t.fillEntry(&e)
	e.PrevHash = prev
	data, err := sealEntry(&e)
	if err != nil {
		return err
	}
	if err := b.Put(itob(seq), data); err != nil {
		return fmt.Errorf("state: put journal entry %d: %w", seq, err)
	}
	if t.campaign.ChainFrom == 0 {
		// A campaign created before ChainFrom was recorded: its chain
		// began at its first hashed entry, this one or an earlier one.
		from, err := firstHashed(b)
		if err != nil {
			return err
		}
		t.campaign.ChainFrom = from
		if err := putJSON(t.b, keyInfo, t.campaign); err != nil {
			return err
		}
	}
	return nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("state: encode %s: %w", key, err)
	}
	if err := b.Put(key, data); err != nil {
		return fmt.Errorf("state: put %s: %w", key, err)
	}
	return nil
}

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	// json.Unmarshal copies, so nothing refers to bbolt's memory after the
	// transaction ends.
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("state: decode %q: %w", key, err)
	}
	return nil
}

func forEachJSON[T any](b *bolt.Bucket, fn func(T) error) error {
	return b.ForEach(func(k, v []byte) error {
		var t T
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("state: decode %q: %w", k, err)
		}
		return fn(t)
	})
}

// itob encodes n big-endian so bbolt's byte order is numeric order.
func itob(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func itoa(n int) string { return strconv.Itoa(n) }

// CopyTo writes a consistent copy of the state file to path; dry-run works
// on such a copy so it can show what would be recorded without changing
// the real file.
func (s *Store) CopyTo(path string) error {
	return s.view(func(tx *bolt.Tx) error {
		if err := tx.CopyFile(path, 0o600); err != nil {
			return fmt.Errorf("state: copy to %s: %w", path, err)
		}
		return nil
	})
}
