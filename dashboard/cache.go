package dashboard

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/auditbot/auditbot/state"
)

// digest is what the pages need of one campaign, kept between pages: its
// snapshot, whose records are decoded again only when a write changed
// them (state.SnapshotReader),
// and from its whole journal the chain's verdict, each user's last entry,
// the kinds present and the latest campaign-clock time, brought up to
// date by reading only the entries appended since the last page
// (state.JournalVerifier). Every read is a short transaction: no page
// reads or verifies a long journal again, and none keeps a writer out.
type digest struct {
	mu     sync.Mutex
	snaps  *state.SnapshotReader
	snap   *state.Snapshot
	v      *state.JournalVerifier
	check  state.JournalCheck
	last   map[string]lastEntry // username -> the last entry naming them
	kinds  map[state.EntryKind]bool
	latest time.Time // the latest campaign-clock time of an entry
}

type lastEntry struct {
	Kind state.EntryKind
	At   time.Time
}

// update reads what changed since the last update.
func (d *digest) update() error {
	snap, _, err := d.snaps.Read()
	if err != nil {
		return err
	}
	d.snap = snap
	check, err := d.v.Verify(func(es []state.Entry, restart bool) {
		if restart {
			d.last, d.kinds, d.latest = map[string]lastEntry{}, map[state.EntryKind]bool{}, time.Time{}
		}
		for i := range es {
			e := &es[i]
			d.kinds[e.Kind] = true
			if e.At.After(d.latest) {
				d.latest = e.At
			}
			le := lastEntry{Kind: e.Kind, At: e.At}
			for _, u := range e.Users {
				d.last[u] = le
			}
			if e.User != "" {
				d.last[e.User] = le
			}
		}
	})
	if err != nil {
		return err
	}
	d.check = check
	return nil
}

// kindList returns the kinds present, sorted.
func (d *digest) kindList() []string {
	out := make([]string, 0, len(d.kinds))
	for k := range d.kinds {
		out = append(out, string(k))
	}
	slices.Sort(out)
	return out
}

// digests keeps one digest per campaign for the server's life.
type digests struct {
	mu sync.Mutex
	m  map[string]*digest
}

// with runs fn with campaign's digest, up to date and locked. A campaign
// that does not exist leaves no digest behind.
func (ds *digests) with(st *state.Store, campaign string, fn func(*digest) error) error {
	ds.mu.Lock()
	if ds.m == nil {
		ds.m = map[string]*digest{}
	}
	d, ok := ds.m[campaign]
	if !ok {
		d = &digest{snaps: st.NewSnapshotReader(campaign), v: st.NewJournalVerifier(campaign)}
		ds.m[campaign] = d
	}
	ds.mu.Unlock()

	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.update(); err != nil {
		if errors.Is(err, state.ErrNoCampaign) {
			ds.mu.Lock()
			if ds.m[campaign] == d {
				delete(ds.m, campaign)
			}
			ds.mu.Unlock()
		}
		return err
	}
	return fn(d)
}
