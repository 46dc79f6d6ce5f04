package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// campaignBuckets are the buckets every campaign has had since the first
// auditbot: a campaign without one was damaged, and reading it would
// fail halfway (journal, report and verify-journal once panicked).
var campaignBuckets = [][]byte{bucketFindings, bucketBatches, bucketRemovals, bucketOps, bucketJournal}

// checkLayout checks the buckets every reader relies on: the campaigns
// bucket, and in each campaign its record and its buckets. Open runs it
// with bbolt's consistency check.
func checkLayout(tx *bolt.Tx) error {
	root := tx.Bucket(bucketCampaigns)
	if root == nil {
		// Holds no campaign yet; a read-write open adds the bucket.
		return nil
	}
	return root.ForEachBucket(func(name []byte) error {
		return campaignLayout(root.Bucket(name), name)
	})
}

// campaignLayout checks one campaign's bucket: its record and buckets.
func campaignLayout(b *bolt.Bucket, name []byte) error {
	if b.Get(keyInfo) == nil {
		return fmt.Errorf("campaign %q has no campaign record", name)
	}
	for _, sub := range campaignBuckets {
		if b.Bucket(sub) == nil {
			return fmt.Errorf("campaign %q has no %s bucket", name, sub)
		}
	}
	return nil
}

// Report is what Verify found in a state file.
type Report struct {
	Campaigns int      // campaigns recorded
	Records   int      // records decoded: campaign infos, findings, batches, removals, ops, journal entries
	Problems  []string // one line per problem; empty when the file is sound
}

// Verify reads the whole file the way the bot would: bbolt's consistency
// check, then every record of every campaign decoded into its type, with
// its key matching its content. Open has already checked the schema key
// and bbolt's consistency; Verify goes further, so `auditbot state check`
// finds a record the bot could not read before a tick trips over it. It
// returns an error only when it could not run; problems go in the Report.
func (s *Store) Verify() (rep Report, err error) {
	defer func() {
		if r := recover(); r != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("bbolt failed reading the file: %v", r))
		}
	}()
	err = s.view(func(tx *bolt.Tx) error {
		if err := checkTx(tx); err != nil {
			rep.Problems = append(rep.Problems, err.Error())
			// Walking damaged pages could panic or loop: stop here.
			return nil
		}
		root := tx.Bucket(bucketCampaigns)
		if root == nil {
			rep.Problems = append(rep.Problems, "no campaigns bucket")
			return nil
		}
		if err := root.ForEachBucket(func(name []byte) error {
			rep.Campaigns++
			verifyCampaign(&rep, string(name), root.Bucket(name))
			return nil
		}); err != nil {
			return err
		}
		verifyActivity(&rep, tx.Bucket(bucketActivity))
		return nil
	})
	return rep, err
}

// verifyActivity decodes the activity cache (absent in older files).
func verifyActivity(rep *Report, b *bolt.Bucket) {
	if b == nil {
		return
	}
	b.ForEach(func(k, v []byte) error {
		var a Activity
		if err := json.Unmarshal(v, &a); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("activity %q: %v", k, err))
			return nil
		}
		rep.Records++
		return nil
	})
}

// recordCheck decodes one bucket's records into T and checks each key.
type recordCheck struct {
	bucket []byte
	decode func(k, v []byte) error
}

func keyed[T any](key func(T) []byte) func(k, v []byte) error {
	return func(k, v []byte) error {
		var t T
		dec := json.NewDecoder(bytes.NewReader(v))
		if err := dec.Decode(&t); err != nil {
			return fmt.Errorf("cannot decode: %w", err)
		}
		if want := key(t); !bytes.Equal(k, want) {
			return fmt.Errorf("stored under key %q but says %q", k, want)
		}
		return nil
	}
}

func verifyCampaign(rep *Report, name string, b *bolt.Bucket) {
	problem := func(format string, args ...any) {
		rep.Problems = append(rep.Problems, fmt.Sprintf("campaign %q: ", name)+fmt.Sprintf(format, args...))
	}
	var c Campaign
	if err := getJSON(b, keyInfo, &c); err != nil {
		problem("campaign record: %v", err)
	} else {
		rep.Records++
		if c.Name != name {
			problem("campaign record names %q", c.Name)
		}
	}
	checks := []recordCheck{
		{bucketFindings, keyed(func(f Finding) []byte { return []byte(f.UserPHID) })},
		{bucketBatches, keyed(func(bt Batch) []byte { return itob(uint64(bt.Index)) })},
		{bucketRemovals, keyed(func(r Removal) []byte { return itob(uint64(r.ID)) })},
		{bucketOps, keyed(func(op Op) []byte { return []byte(op.Key) })},
		{bucketJournal, keyed(func(e Entry) []byte { return itob(e.Seq) })},
	}
	for _, ch := range checks {
		sub := b.Bucket(ch.bucket)
		if sub == nil {
			problem("no %s bucket", ch.bucket)
			continue
		}
		_ = sub.ForEach(func(k, v []byte) error {
			if v == nil {
				problem("%s: unexpected nested bucket %q", ch.bucket, k)
				return nil
			}
			if err := ch.decode(k, v); err != nil {
				problem("%s %q: %v", ch.bucket, k, err)
				return nil
			}
			rep.Records++
			return nil
		})
	}
}

// Backup writes a consistent copy of the state file to path, under a read
// transaction, so it may run while nothing else writes or alongside
// readers. It refuses to overwrite anything at path and creates the copy
// with mode 0600: the file names every affected user. A failed backup
// leaves no partial file.
func (s *Store) Backup(path string) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("state: backup to %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("state: backup to %s: %w", path, cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	err = s.view(func(tx *bolt.Tx) error {
		if _, err := tx.WriteTo(f); err != nil {
			return err
		}
		return f.Sync()
	})
	if err != nil {
		return fmt.Errorf("state: backup to %s: %w", path, err)
	}
	return nil
}
