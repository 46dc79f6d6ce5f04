package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// openTest opens a store and, at cleanup, runs the integrity check and
// closes it. A test may close the store itself first.
func openTest(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s, %+v): %v", path, opts, err)
	}
	t.Cleanup(func() {
		if err := s.Check(); err != nil && !errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			t.Errorf("Check %s: %v", path, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close %s: %v", path, err)
		}
	})
	return s
}

func tempPath(t testing.TB) string { return filepath.Join(t.TempDir(), "state.db") }

var (
	t0      = time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC)
	cutoff0 = time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
)

func testCampaign(name string) Campaign {
	return Campaign{
		Name: name, Title: "MFA for " + name, LaunchedAt: t0, Cutoff: cutoff0, OriginalCutoff: cutoff0,
		Groups: []Group{
			{PHID: "PHID-PROJ-sre", Name: "acl*sre-team", Slug: "acl_sre-team", Risk: "internal"},
			{PHID: "PHID-PROJ-nda", Name: "WMF-NDA", Slug: "wmf-nda", Risk: "security"},
		},
		ApproversPHID: "PHID-PROJ-admins", ApproversName: "acl*phabricator-admins", ApproversSlug: "acl_phabricator-admins",
		BotPHID: "PHID-USER-bot", Source: "/etc/auditbot/campaigns/" + name + ".yaml",
	}
}

// testFindings are keyed (by PHID) in an order other than their usernames',
// so a sort by username is visible.
func testFindings() []Finding {
	return []Finding{
		{UserPHID: "PHID-USER-aaa", Username: "zed", RealName: "Zed", Groups: []string{"PHID-PROJ-nda"}, Reasons: []string{"mfa"}, Status: StatusPending, Batch: 1, UpdatedAt: t0},
		{UserPHID: "PHID-USER-bbb", Username: "alice", RealName: "Alice", Groups: []string{"PHID-PROJ-nda", "PHID-PROJ-sre"}, Reasons: []string{"mfa"}, Status: StatusPending, Batch: 1, UpdatedAt: t0},
		{UserPHID: "PHID-USER-ccc", Username: "mike", RealName: "Mike", Groups: []string{"PHID-PROJ-sre"}, Reasons: []string{"disabled"}, Status: StatusPending, Batch: 2, UpdatedAt: t0,
			Exemption: &Exemption{Reason: "on leave", RequestedAt: t0, Decision: "pending"}},
	}
}

func testBatches() []Batch {
	return []Batch{
		{Index: 1, UserPHIDs: []string{"PHID-USER-bbb", "PHID-USER-aaa"}},
		{Index: 2, UserPHIDs: []string{"PHID-USER-ccc"}},
	}
}

// launched returns a store holding campaign "mfa" with the test findings.
func launched(t testing.TB) *Store {
	t.Helper()
	s := openTest(t, tempPath(t), Options{})
	if err := s.CreateCampaign(testCampaign("mfa"), testFindings(), testBatches()); err != nil {
		t.Fatalf("CreateCampaign: %v", err)
	}
	return s
}

// setSchema writes a schema version straight into a state file.
func setSchema(t *testing.T, path, version string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keySchema, []byte(version))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readSchema(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b == nil {
			return errors.New("no meta bucket")
		}
		v = string(b.Get(keySchema))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenSchema(t *testing.T) {
	current := strconv.Itoa(SchemaVersion)
	newer := strconv.Itoa(SchemaVersion + 1)
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string) // nil: no file
		opts    Options
		wantErr error // nil: success
	}{
		{name: "new file", opts: Options{}},
		{name: "current version", prepare: func(t *testing.T, p string) { setSchema(t, p, current) }},
		{name: "current version read-only", prepare: func(t *testing.T, p string) { setSchema(t, p, current) }, opts: Options{ReadOnly: true}},
		{name: "newer version", prepare: func(t *testing.T, p string) { setSchema(t, p, newer) }, wantErr: ErrSchema},
		{name: "newer version read-only", prepare: func(t *testing.T, p string) { setSchema(t, p, newer) }, opts: Options{ReadOnly: true}, wantErr: ErrSchema},
		{name: "zero version", prepare: func(t *testing.T, p string) { setSchema(t, p, "0") }, wantErr: ErrSchema},
		{name: "garbage version", prepare: func(t *testing.T, p string) { setSchema(t, p, "v1") }, wantErr: ErrSchema},
		{name: "bbolt file of another program, read-only", opts: Options{ReadOnly: true}, wantErr: ErrDamaged,
			prepare: func(t *testing.T, p string) {
				db, err := bolt.Open(p, 0o600, nil)
				if err != nil {
					t.Fatal(err)
				}
				db.Close()
			}},
		{name: "missing file read-only", opts: Options{ReadOnly: true}, wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t)
			if tt.prepare != nil {
				tt.prepare(t, path)
			}
			s, err := Open(path, tt.opts)
			if tt.wantErr != nil {
				if err == nil {
					s.Close()
					t.Fatalf("Open: got a store, want %v", tt.wantErr)
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Open: got %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if err := s.Check(); err != nil {
				t.Error(err)
			}
			s.Close()
			if got := readSchema(t, path); got != current {
				t.Errorf("schema = %q, want %q", got, current)
			}
		})
	}

	t.Run("newer version is left as it was", func(t *testing.T) {
		path := tempPath(t)
		setSchema(t, path, newer)
		if _, err := Open(path, Options{}); !errors.Is(err, ErrSchema) {
			t.Fatalf("Open: %v, want ErrSchema", err)
		}
		if got := readSchema(t, path); got != newer {
			t.Errorf("schema = %q after a refused open, want %q", got, newer)
		}
	})
	t.Run("missing file read-only is not created", func(t *testing.T) {
		path := tempPath(t)
		Open(path, Options{ReadOnly: true})
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat after read-only open: %v, want not exist", err)
		}
	})
}

// TestLockPerTransaction opens the same file with two stores in one
// process. bbolt locks with flock(2), which on Linux belongs to the open
// file description, so the stores conflict exactly as two processes
// would: only while a transaction runs. Between transactions the other
// store gets the file, which is what lets `status` and `approve` run
// beside the daemon.
func TestLockPerTransaction(t *testing.T) {
	const timeout = 150 * time.Millisecond
	tests := []struct {
		name          string
		first, second Options
		wantLocked    bool
	}{
		{name: "writer then writer", first: Options{}, second: Options{LockTimeout: timeout}, wantLocked: true},
		{name: "writer then reader", first: Options{}, second: Options{LockTimeout: timeout, ReadOnly: true}, wantLocked: true},
		{name: "reader then writer", first: Options{ReadOnly: true}, second: Options{LockTimeout: timeout}, wantLocked: true},
		{name: "reader then reader", first: Options{ReadOnly: true}, second: Options{LockTimeout: timeout, ReadOnly: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t)
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			first := openTest(t, path, tt.first)
			// Both open at once: neither holds the file between
			// transactions.
			second := openTest(t, path, tt.second)
			if _, err := second.CampaignNames(); err != nil {
				t.Fatalf("second store between the first's transactions: %v", err)
			}

			// The first store inside a transaction holds the lock.
			inTx, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
			go func() {
				hold := func(*bolt.Tx) error { close(inTx); <-release; return nil }
				if tt.first.ReadOnly {
					done <- first.view(hold)
				} else {
					done <- first.update(hold)
				}
			}()
			<-inTx
			_, err = second.CampaignNames()
			if !tt.second.ReadOnly && err == nil {
				// A writer store's read still opens read-write.
				t.Fatal("second store read while the first's transaction held the file")
			}
			if tt.wantLocked {
				if !errors.Is(err, ErrLocked) {
					t.Fatalf("second store during the first's transaction: %v, want ErrLocked", err)
				}
			} else if err != nil {
				t.Fatalf("reader beside a reader: %v", err)
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			// Released: the second store gets the file.
			if _, err := second.CampaignNames(); err != nil {
				t.Fatalf("after the first's transaction ended: %v", err)
			}
		})
	}
}

func TestReadOnly(t *testing.T) {
	path := tempPath(t)
	w := openTest(t, path, Options{})
	if err := w.CreateCampaign(testCampaign("mfa"), testFindings(), testBatches()); err != nil {
		t.Fatal(err)
	}
	want, err := w.Snapshot("mfa")
	if err != nil {
		t.Fatal(err)
	}
	w.Close()

	r := openTest(t, path, Options{ReadOnly: true})
	got, err := r.Snapshot("mfa")
	if err != nil {
		t.Fatalf("Snapshot read-only: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("read-only Snapshot (-want +got):\n%s", diff)
	}
	names, err := r.CampaignNames()
	if err != nil || len(names) != 1 || names[0] != "mfa" {
		t.Errorf("CampaignNames = %v, %v", names, err)
	}
	if err := r.Update("mfa", func(tx *CampaignTx) error { return tx.Append(Entry{Kind: "x"}) }); !errors.Is(err, bolterrors.ErrDatabaseReadOnly) {
		t.Errorf("Update on a read-only store: %v, want ErrDatabaseReadOnly", err)
	}
	if err := r.CreateCampaign(testCampaign("other"), nil, nil); err == nil {
		t.Error("CreateCampaign on a read-only store succeeded")
	}
}

func TestCreateCampaign(t *testing.T) {
	tests := []struct {
		name     string
		before   func(t *testing.T, s *Store) // runs first
		campaign Campaign
		findings []Finding
		batches  []Batch
		wantErr  bool
		// wantNames are the campaigns recorded afterwards.
		wantNames []string
	}{
		{name: "findings and batches", campaign: testCampaign("mfa"), findings: testFindings(), batches: testBatches(), wantNames: []string{"mfa"}},
		{name: "no findings", campaign: testCampaign("quiet"), wantNames: []string{"quiet"}},
		{name: "two campaigns", campaign: testCampaign("b-second"), findings: testFindings(), batches: testBatches(), wantNames: []string{"a-first", "b-second"},
			before: func(t *testing.T, s *Store) {
				if err := s.CreateCampaign(testCampaign("a-first"), nil, nil); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "duplicate refused", campaign: testCampaign("mfa"), findings: testFindings()[:1], wantErr: true, wantNames: []string{"mfa"},
			before: func(t *testing.T, s *Store) {
				if err := s.CreateCampaign(testCampaign("mfa"), testFindings(), testBatches()); err != nil {
					t.Fatal(err)
				}
			}},
		{
			// The second finding has no key: bbolt refuses it after the
			// bucket and the first finding were written, and nothing of
			// the campaign may remain.
			name: "failure half-way leaves nothing", campaign: testCampaign("broken"), wantErr: true, wantNames: nil,
			findings: []Finding{testFindings()[0], {Username: "nokey"}}, batches: testBatches(),
		},
		{name: "empty name", campaign: Campaign{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, tempPath(t), Options{})
			if tt.before != nil {
				tt.before(t, s)
			}
			var before Snapshot
			if tt.wantErr && len(tt.wantNames) > 0 {
				var err error
				if before, err = s.Snapshot(tt.campaign.Name); err != nil {
					t.Fatal(err)
				}
			}
			err := s.CreateCampaign(tt.campaign, tt.findings, tt.batches)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CreateCampaign: err = %v, wantErr %v", err, tt.wantErr)
			}
			names, err := s.CampaignNames()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantNames, names); diff != "" {
				t.Errorf("CampaignNames (-want +got):\n%s", diff)
			}
			if tt.wantErr {
				if len(tt.wantNames) > 0 {
					// A refused duplicate leaves the first one untouched.
					after, err := s.Snapshot(tt.campaign.Name)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(before, after); diff != "" {
						t.Errorf("refused create changed the campaign (-before +after):\n%s", diff)
					}
				} else if ok, _ := s.HasCampaign(tt.campaign.Name); ok {
					t.Errorf("HasCampaign(%q) after a failed create", tt.campaign.Name)
				}
				return
			}
			snap, err := s.Snapshot(tt.campaign.Name)
			if err != nil {
				t.Fatal(err)
			}
			want := Snapshot{Campaign: tt.campaign, Findings: sortedByUsername(tt.findings), Batches: tt.batches}
			want.Campaign.ChainFrom = 1 // a new campaign's journal is hashed from its first entry
			if diff := cmp.Diff(want, snap); diff != "" {
				t.Errorf("Snapshot (-want +got):\n%s", diff)
			}
		})
	}
}

func sortedByUsername(fs []Finding) []Finding {
	if fs == nil {
		return nil
	}
	byName := map[string]Finding{}
	for _, f := range fs {
		byName[f.Username] = f
	}
	var out []Finding
	for _, n := range []string{"alice", "mike", "zed"} {
		if f, ok := byName[n]; ok {
			out = append(out, f)
		}
	}
	return out
}

func TestSnapshotSortsByUsername(t *testing.T) {
	s := launched(t)
	snap, err := s.Snapshot("mfa")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range snap.Findings {
		got = append(got, f.Username)
	}
	if diff := cmp.Diff([]string{"alice", "mike", "zed"}, got); diff != "" {
		t.Errorf("Snapshot findings order (-want +got):\n%s", diff)
	}
	var batches []int
	for _, b := range snap.Batches {
		batches = append(batches, b.Index)
	}
	if diff := cmp.Diff([]int{1, 2}, batches); diff != "" {
		t.Errorf("Snapshot batches order (-want +got):\n%s", diff)
	}
}

func TestRoundTrips(t *testing.T) {
	later := t0.Add(48 * time.Hour)
	tests := []struct {
		name  string
		write func(tx *CampaignTx) error
		read  func(tx *CampaignTx) (any, error)
		want  any
	}{
		{
			name: "finding",
			write: func(tx *CampaignTx) error {
				f, err := tx.Finding("PHID-USER-ccc")
				if err != nil {
					return err
				}
				f.Status, f.Cutoff, f.UpdatedAt = StatusRemoved, later, later
				f.RemovedFrom = []string{"PHID-PROJ-sre"}
				f.Exemption.Decision, f.Exemption.DecidedBy, f.Exemption.Until = "denied", "alice", later
				f.NeedsHuman = []string{"T1: what?"}
				return tx.PutFinding(f)
			},
			read: func(tx *CampaignTx) (any, error) { return tx.Finding("PHID-USER-ccc") },
			want: Finding{UserPHID: "PHID-USER-ccc", Username: "mike", RealName: "Mike", Groups: []string{"PHID-PROJ-sre"}, Reasons: []string{"disabled"},
				Status: StatusRemoved, Batch: 2, Cutoff: later, RemovedFrom: []string{"PHID-PROJ-sre"}, NeedsHuman: []string{"T1: what?"}, UpdatedAt: later,
				Exemption: &Exemption{Reason: "on leave", Until: later, RequestedAt: t0, Decision: "denied", DecidedBy: "alice"}},
		},
		{
			name: "new finding",
			write: func(tx *CampaignTx) error {
				return tx.PutFinding(Finding{UserPHID: "PHID-USER-ddd", Username: "bob", Status: StatusCompliant, Batch: 2})
			},
			read: func(tx *CampaignTx) (any, error) { return tx.Finding("PHID-USER-ddd") },
			want: Finding{UserPHID: "PHID-USER-ddd", Username: "bob", Status: StatusCompliant, Batch: 2},
		},
		{
			name: "batch",
			write: func(tx *CampaignTx) error {
				b, err := tx.Batch(2)
				if err != nil {
					return err
				}
				b.TaskID, b.TaskPHID, b.CreatedAt, b.TxCursor = 42, "PHID-TASK-x", later, 7
				return tx.PutBatch(b)
			},
			read: func(tx *CampaignTx) (any, error) { return tx.Batch(2) },
			want: Batch{Index: 2, UserPHIDs: []string{"PHID-USER-ccc"}, TaskID: 42, TaskPHID: "PHID-TASK-x", CreatedAt: later, TxCursor: 7},
		},
		{
			name: "removals get increasing ids",
			write: func(tx *CampaignTx) error {
				for i := range 3 {
					r := &Removal{ProposedAt: later, Status: RemovalProposed, RequiredApprovals: 2,
						Items: []RemovalItem{{UserPHID: "PHID-USER-aaa", Username: "zed", GroupPHID: "PHID-PROJ-nda", GroupName: "WMF-NDA", Risk: "security", Batch: 1}}}
					if err := tx.PutRemoval(r); err != nil {
						return err
					}
					if r.ID != i+1 {
						return fmt.Errorf("removal %d got ID %d", i, r.ID)
					}
				}
				// A known ID updates in place.
				r, err := tx.Removal(2)
				if err != nil {
					return err
				}
				r.Approvals = append(r.Approvals, Approval{ApproverPHID: "PHID-USER-admin", Username: "admin", At: later, Via: "cli"})
				r.Status = RemovalApproved
				return tx.PutRemoval(&r)
			},
			read: func(tx *CampaignTx) (any, error) {
				rs, err := tx.Removals()
				var out []string
				for _, r := range rs {
					out = append(out, fmt.Sprintf("%s %s %d", r.Label(), r.Status, len(r.Approvals)))
				}
				return out, err
			},
			want: []string{"R1 proposed 0", "R2 approved 1", "R3 proposed 0"},
		},
		{
			name: "op",
			write: func(tx *CampaignTx) error {
				if err := tx.PutOp(Op{Key: "task/batch-1", Kind: "task-created", State: OpPending, CreatedAt: t0, Attempts: 1}); err != nil {
					return err
				}
				return tx.PutOp(Op{Key: "task/batch-1", Kind: "task-created", State: OpDone, CreatedAt: t0, DoneAt: later, Result: "PHID-TASK-x", Attempts: 2})
			},
			read: func(tx *CampaignTx) (any, error) { return tx.Ops() },
			want: []Op{{Key: "task/batch-1", Kind: "task-created", State: OpDone, CreatedAt: t0, DoneAt: later, Result: "PHID-TASK-x", Attempts: 2}},
		},
		{
			name: "campaign record",
			write: func(tx *CampaignTx) error {
				c := tx.Campaign()
				c.Cutoff = later
				c.RemindersDone = []string{"720h0m0s"}
				if err := tx.PutCampaign(c); err != nil {
					return err
				}
				c.Name = "renamed"
				if err := tx.PutCampaign(c); err == nil {
					return errors.New("PutCampaign accepted a rename")
				}
				return nil
			},
			read: func(tx *CampaignTx) (any, error) {
				c := tx.Campaign()
				return []any{c.Name, c.Cutoff, c.RemindersDone}, nil
			},
			want: []any{"mfa", later, []string{"720h0m0s"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := launched(t)
			if err := s.Update("mfa", tt.write); err != nil {
				t.Fatalf("Update: %v", err)
			}
			var got any
			err := s.View("mfa", func(tx *CampaignTx) error {
				var err error
				got, err = tt.read(tx)
				return err
			})
			if err != nil {
				t.Fatalf("View: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	s := launched(t)
	err := s.View("mfa", func(tx *CampaignTx) error {
		checks := map[string]error{}
		_, checks["Finding"] = tx.Finding("PHID-USER-none")
		_, checks["Batch"] = tx.Batch(99)
		_, checks["Removal"] = tx.Removal(1)
		_, checks["Op"] = tx.Op("task/batch-99")
		for what, err := range checks {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", what, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUpdateRollsBackOnError(t *testing.T) {
	s := launched(t)
	before, err := s.Snapshot("mfa")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = s.Update("mfa", func(tx *CampaignTx) error {
		if err := tx.PutFinding(Finding{UserPHID: "PHID-USER-ddd", Username: "bob"}); err != nil {
			return err
		}
		if err := tx.PutRemoval(&Removal{Status: RemovalProposed}); err != nil {
			return err
		}
		if err := tx.Append(Entry{Kind: "x"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: %v, want boom", err)
	}
	after, err := s.Snapshot("mfa")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("failed Update changed the campaign (-before +after):\n%s", diff)
	}
	if j, err := s.Journal("mfa"); err != nil || len(j) != 0 {
		t.Errorf("Journal after a failed Update = %v, %v; want empty", j, err)
	}
	// The rolled-back removal's sequence number is not used up either.
	var r Removal
	if err := s.Update("mfa", func(tx *CampaignTx) error { return tx.PutRemoval(&r) }); err != nil {
		t.Fatal(err)
	}
	if r.ID != 1 {
		t.Errorf("first removal after a rollback got ID %d, want 1", r.ID)
	}
}

func TestJournal(t *testing.T) {
	s := launched(t)
	// One transaction per line; the last appends two entries at once, as
	// the bot does when it records an approval with its outcome.
	txs := [][]EntryKind{{"launch"}, {"task-created"}, {"drift"}, {"removal-proposed", "removal-approval"}}
	var kinds []EntryKind
	for i, batch := range txs {
		err := s.Update("mfa", func(tx *CampaignTx) error {
			for _, k := range batch {
				// Seq is assigned by Append, whatever the caller says.
				if err := tx.Append(Entry{Seq: 999, At: t0.Add(time.Duration(i) * time.Hour), Kind: k, Actor: "auditbot"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, batch...)
	}
	got, err := s.Journal("mfa")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(kinds) {
		t.Fatalf("Journal has %d entries, want %d: %+v", len(got), len(kinds), got)
	}
	for i, e := range got {
		if e.Seq != uint64(i+1) || e.Kind != kinds[i] {
			t.Errorf("entry %d = seq %d kind %q, want seq %d kind %q", i, e.Seq, e.Kind, i+1, kinds[i])
		}
	}

	// Journals are per campaign.
	if err := s.CreateCampaign(testCampaign("other"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Update("other", func(tx *CampaignTx) error { return tx.Append(Entry{Kind: "launch"}) }); err != nil {
		t.Fatal(err)
	}
	other, err := s.Journal("other")
	if err != nil || len(other) != 1 || other[0].Seq != 1 {
		t.Errorf("Journal(other) = %+v, %v; want one entry with seq 1", other, err)
	}
}

func TestNoCampaign(t *testing.T) {
	s := launched(t)
	noop := func(*CampaignTx) error { return nil }
	tests := []struct {
		name string
		call func() error
	}{
		{"View", func() error { return s.View("nope", noop) }},
		{"Update", func() error { return s.Update("nope", noop) }},
		{"Snapshot", func() error { _, err := s.Snapshot("nope"); return err }},
		{"Journal", func() error { _, err := s.Journal("nope"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrNoCampaign) {
				t.Errorf("%s(unknown campaign): %v, want ErrNoCampaign", tt.name, err)
			}
		})
	}
	if ok, err := s.HasCampaign("nope"); ok || err != nil {
		t.Errorf("HasCampaign(nope) = %v, %v", ok, err)
	}
	if ok, err := s.HasCampaign("mfa"); !ok || err != nil {
		t.Errorf("HasCampaign(mfa) = %v, %v", ok, err)
	}
}

func TestValuesAreCopies(t *testing.T) {
	s := launched(t)
	if err := s.Update("mfa", func(tx *CampaignTx) error {
		return tx.Append(Entry{At: t0, Kind: "launch", Detail: "original"})
	}); err != nil {
		t.Fatal(err)
	}
	want, err := s.Snapshot("mfa")
	if err != nil {
		t.Fatal(err)
	}

	// Mutate everything a read hands out, in and after transactions.
	snap, _ := s.Snapshot("mfa")
	snap.Campaign.Groups[0].Name = "mutated"
	snap.Findings[0].Groups[0] = "mutated"
	snap.Findings[1].Exemption.Reason = "mutated"
	snap.Batches[0].UserPHIDs[0] = "mutated"
	j, _ := s.Journal("mfa")
	j[0].Detail = "mutated"
	var kept Finding
	err = s.View("mfa", func(tx *CampaignTx) error {
		c := tx.Campaign()
		c.Groups[1].Risk = "mutated"
		f, err := tx.Finding("PHID-USER-bbb")
		if err != nil {
			return err
		}
		f.Groups[0] = "mutated"
		kept = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A value kept past its transaction must still be readable (it must
	// not point into bbolt's memory map).
	if kept.Username != "alice" {
		t.Errorf("finding kept past the transaction reads %q", kept.Username)
	}

	got, err := s.Snapshot("mfa")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mutating returned values changed the store (-want +got):\n%s", diff)
	}
	j, _ = s.Journal("mfa")
	if j[0].Detail != "original" {
		t.Errorf("journal detail = %q after mutating a returned entry", j[0].Detail)
	}
}

func TestCopyTo(t *testing.T) {
	tests := []struct {
		name     string
		readOnly bool // copy from a read-only store, as dry-run does
	}{
		{name: "from writable"},
		{name: "from read-only", readOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t)
			s := openTest(t, path, Options{})
			if err := s.CreateCampaign(testCampaign("mfa"), testFindings(), testBatches()); err != nil {
				t.Fatal(err)
			}
			if err := s.Update("mfa", func(tx *CampaignTx) error {
				if err := tx.PutRemoval(&Removal{Status: RemovalProposed, ProposedAt: t0}); err != nil {
					return err
				}
				return tx.Append(Entry{At: t0, Kind: "launch"})
			}); err != nil {
				t.Fatal(err)
			}
			if tt.readOnly {
				s.Close()
				s = openTest(t, path, Options{ReadOnly: true})
			}
			want, err := s.Snapshot("mfa")
			if err != nil {
				t.Fatal(err)
			}
			wantJournal, err := s.Journal("mfa")
			if err != nil {
				t.Fatal(err)
			}

			copyPath := filepath.Join(t.TempDir(), "copy.db")
			if err := s.CopyTo(copyPath); err != nil {
				t.Fatalf("CopyTo: %v", err)
			}
			c := openTest(t, copyPath, Options{})
			got, err := c.Snapshot("mfa")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("copy's Snapshot (-want +got):\n%s", diff)
			}
			gotJournal, err := c.Journal("mfa")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantJournal, gotJournal); diff != "" {
				t.Errorf("copy's Journal (-want +got):\n%s", diff)
			}

			// The copy is independent: changing it leaves the original,
			// and sequences continue where the original was.
			var r Removal
			if err := c.Update("mfa", func(tx *CampaignTx) error { return tx.PutRemoval(&r) }); err != nil {
				t.Fatal(err)
			}
			if r.ID != 2 {
				t.Errorf("next removal in the copy got ID %d, want 2", r.ID)
			}
			after, err := s.Snapshot("mfa")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, after); diff != "" {
				t.Errorf("changing the copy changed the original (-want +got):\n%s", diff)
			}
		})
	}
}

func BenchmarkUpdateFinding(b *testing.B) {
	s := openTest(b, tempPath(b), Options{})
	var findings []Finding
	for i := range 500 {
		findings = append(findings, Finding{UserPHID: fmt.Sprintf("PHID-USER-%05d", i), Username: fmt.Sprintf("user%05d", i),
			Groups: []string{"PHID-PROJ-nda"}, Reasons: []string{"mfa"}, Status: StatusPending, Batch: i / 20})
	}
	if err := s.CreateCampaign(testCampaign("mfa"), findings, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		phid := findings[i%len(findings)].UserPHID
		i++
		err := s.Update("mfa", func(tx *CampaignTx) error {
			f, err := tx.Finding(phid)
			if err != nil {
				return err
			}
			f.UpdatedAt = t0.Add(time.Duration(i) * time.Second)
			return tx.PutFinding(f)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransaction is the cost of one read and one write transaction,
// each opening and closing the file (the store holds it only meanwhile).
func BenchmarkTransaction(b *testing.B) {
	for _, ro := range []bool{false, true} {
		name := map[bool]string{false: "read-write store", true: "read-only store"}[ro]
		b.Run(name, func(b *testing.B) {
			path := tempPath(b)
			s, err := Open(path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
			s = openTest(b, path, Options{ReadOnly: ro})
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.CampaignNames(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCreateCampaignWithEntries: a campaign's launch entries are written
// with the campaign, in one transaction, hashed into its chain.
func TestCreateCampaignWithEntries(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.CreateCampaign(Campaign{Name: "c"}, nil, nil, Entry{At: at, Kind: EntryLaunch, Detail: "launched"}); err != nil {
		t.Fatal(err)
	}
	es, err := s.Journal("c")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Kind != EntryLaunch || es[0].Seq != 1 || es[0].Hash == "" {
		t.Fatalf("journal = %+v, want the launch entry, hashed, first", es)
	}
	if check, err := s.VerifyJournal("c"); err != nil || !check.OK {
		t.Errorf("VerifyJournal = %+v, %v", check, err)
	}
	// A campaign that exists is refused whole: no entry is added.
	if err := s.CreateCampaign(Campaign{Name: "c"}, nil, nil, Entry{At: at, Kind: EntryLaunch}); err == nil {
		t.Error("a second CreateCampaign of c succeeded")
	}
	if es, _ := s.Journal("c"); len(es) != 1 {
		t.Errorf("journal has %d entries after a refused create, want 1", len(es))
	}
}
