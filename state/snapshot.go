package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// Version identifies what a Store's file holds: every committed write
// makes a new one (bbolt's transaction id), and so does a file replaced
// meanwhile.
type Version struct{ file, tx uint64 }

// SnapshotReader reads one campaign's snapshot again and again, for a
// reader that shows it on every request (the dashboard): when the file
// has not changed since the last Read it reads nothing else, and after a
// write it decodes only the records whose stored bytes changed. Decoding
// a campaign of 10,000 users takes tens of milliseconds; a tick changes a
// few of them at a time. Not safe for concurrent use.
type SnapshotReader struct {
	store                            *Store
	campaign                         string
	version                          Version
	snap                             Snapshot
	findings, batches, removals, ops map[string]record
}

// record is one stored value and what it decoded to.
type record struct {
	raw []byte
	val any
}

// NewSnapshotReader returns a reader of campaign's snapshot.
func (s *Store) NewSnapshotReader(campaign string) *SnapshotReader {
	return &SnapshotReader{store: s, campaign: campaign}
}

// Read returns the campaign's snapshot as the file holds it now, and
// whether it changed since the last Read. The snapshot is shared with
// later Reads: callers must not change it.
func (r *SnapshotReader) Read() (*Snapshot, bool, error) {
	changed := false
	err := r.store.view(func(tx *bolt.Tx) error {
		r.store.mu.Lock()
		v := Version{file: r.store.checks, tx: uint64(tx.ID())}
		r.store.mu.Unlock()
		if v == r.version && r.findings != nil {
			return nil
		}
		ct, err := campaignTx(tx, r.campaign, false)
		if err != nil {
			return err
		}
		snap := Snapshot{Campaign: ct.Campaign()}
		if r.findings, err = readRecords(ct.b.Bucket(bucketFindings), r.findings, &snap.Findings); err != nil {
			return err
		}
		sort.Slice(snap.Findings, func(i, j int) bool { return snap.Findings[i].Username < snap.Findings[j].Username })
		if r.batches, err = readRecords(ct.b.Bucket(bucketBatches), r.batches, &snap.Batches); err != nil {
			return err
		}
		if r.removals, err = readRecords(ct.b.Bucket(bucketRemovals), r.removals, &snap.Removals); err != nil {
			return err
		}
		if r.ops, err = readRecords(ct.b.Bucket(bucketOps), r.ops, &snap.Ops); err != nil {
			return err
		}
		r.snap, r.version, changed = snap, v, true
		return nil
	})
	if err != nil {
		r.findings = nil // read everything again next time
		return nil, false, err
	}
	return &r.snap, changed, nil
}

// readRecords appends every value of b, in key order, to out, decoding
// only those whose bytes differ from prev's, and returns the records
// read, for the next call.
func readRecords[T any](b *bolt.Bucket, prev map[string]record, out *[]T) (map[string]record, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: a campaign bucket is missing", ErrDamaged)
	}
	next := make(map[string]record, len(prev))
	err := b.ForEach(func(k, v []byte) error {
		key := string(k)
		if rec, ok := prev[key]; ok && bytes.Equal(rec.raw, v) {
			next[key] = rec
			*out = append(*out, rec.val.(T))
			return nil
		}
		var t T
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("state: decode %q: %w", k, err)
		}
		// bbolt's bytes are valid only during the transaction.
		next[key] = record{raw: bytes.Clone(v), val: t}
		*out = append(*out, t)
		return nil
	})
	return next, err
}
