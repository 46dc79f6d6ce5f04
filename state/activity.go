package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Top-level buckets shared by every campaign: what the bot learned about
// users and groups, which later scans reuse. Old files get them when first
// opened for writing (init); a read-only handle on such a file reads them
// as empty.
var (
	// bucketActivity: user PHID -> Activity (JSON).
	bucketActivity = []byte("activity")
	// bucketMembersSeen: group PHID -> bucket of member PHID -> first
	// seen (RFC 3339).
	bucketMembersSeen = []byte("members_seen")
)

// ErrReadOnly: a write was asked of a store opened with Options.ReadOnly
// (plan and status read the file while a daemon may hold it). Callers that
// only cache may go on without recording.
var ErrReadOnly = errors.New("state: opened read-only")

// Activity is what a feed scan established about one user's authored
// activity: the newest story they authored between Since and ReadAt, or
// none (zero Last). Stories the bot cannot see are not counted (NOTES
// fact 43).
type Activity struct {
	// Last is the time of the newest story the user authored in
	// [Since, ReadAt]; zero when there was none.
	Last time.Time `json:"last,omitzero"`
	// Since is the oldest time the scan covered (the window's edge).
	Since time.Time `json:"since"`
	// ReadAt is when the scan started: stories published later were not
	// seen.
	ReadAt time.Time `json:"read_at"`
}

// Activities returns the recorded activity of those users that have a
// record.
func (s *Store) Activities(users []string) (map[string]Activity, error) {
	out := make(map[string]Activity)
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketActivity)
		if b == nil {
			return nil // a file from before the bucket, opened read-only
		}
		for _, u := range users {
			v := b.Get([]byte(u))
			if v == nil {
				continue
			}
			var a Activity
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("state: decode activity of %s: %w", u, err)
			}
			out[u] = a
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RecordActivity stores the activity of each user in the map, replacing
// what was recorded, in one transaction.
func (s *Store) RecordActivity(acts map[string]Activity) error {
	if len(acts) == 0 {
		return nil
	}
	return s.updateNamed("record activity", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketActivity)
		for u, a := range acts {
			if u == "" {
				return fmt.Errorf("state: record activity: empty user PHID")
			}
			if err := putJSON(b, []byte(u), a); err != nil {
				return err
			}
		}
		return nil
	})
}

// MembersFirstSeen returns when the bot first recorded each of members in
// group (RecordMembersSeen); members never recorded are absent.
func (s *Store) MembersFirstSeen(group string, members []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time)
	err := s.view(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketMembersSeen)
		if root == nil {
			return nil
		}
		return readFirstSeen(root.Bucket([]byte(group)), group, members, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RecordMembersSeen notes that members are in group at now, and returns
// for each member when the bot first saw them there: now for a member not
// recorded before. Conduit cannot tell when someone joined a project
// (NOTES fact 33), so this is the closest the bot knows. A member who
// leaves and comes back keeps their first date.
func (s *Store) RecordMembersSeen(group string, members []string, now time.Time) (map[string]time.Time, error) {
	if group == "" {
		return nil, fmt.Errorf("state: record members seen: empty group PHID")
	}
	out := make(map[string]time.Time, len(members))
	err := s.updateNamed("record members seen", func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketMembersSeen).CreateBucketIfNotExists([]byte(group))
		if err != nil {
			return fmt.Errorf("state: record members seen in %s: %w", group, err)
		}
		if err := readFirstSeen(b, group, members, out); err != nil {
			return err
		}
		stamp := []byte(now.UTC().Format(time.RFC3339Nano))
		for _, m := range members {
			if _, ok := out[m]; ok || m == "" {
				continue
			}
			if err := b.Put([]byte(m), stamp); err != nil {
				return fmt.Errorf("state: record members seen in %s: %w", group, err)
			}
			out[m] = now.UTC()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func readFirstSeen(b *bolt.Bucket, group string, members []string, out map[string]time.Time) error {
	if b == nil {
		return nil
	}
	for _, m := range members {
		v := b.Get([]byte(m))
		if v == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, string(v))
		if err != nil {
			return fmt.Errorf("state: decode first seen of %s in %s: %w", m, group, err)
		}
		out[m] = t
	}
	return nil
}

// updateNamed runs fn in a write transaction, naming a read-only store's
// refusal ErrReadOnly.
func (s *Store) updateNamed(what string, fn func(tx *bolt.Tx) error) error {
	err := s.update(fn)
	if errors.Is(err, bolterrors.ErrDatabaseReadOnly) {
		return fmt.Errorf("state: %s: %w", what, ErrReadOnly)
	}
	return err
}
