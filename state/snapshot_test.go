package state

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSnapshotReader: a reader's snapshot is always the one Snapshot
// reads, and it says whether the file changed since its last read.
func TestSnapshotReader(t *testing.T) {
	s := launched(t)
	r := s.NewSnapshotReader("mfa")
	check := func(step string, wantChanged bool) {
		t.Helper()
		got, changed, err := r.Read()
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		want, err := s.Snapshot("mfa")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(&want, got); d != "" {
			t.Errorf("%s: snapshot (-Snapshot +reader):\n%s", step, d)
		}
		if changed != wantChanged {
			t.Errorf("%s: changed = %v, want %v", step, changed, wantChanged)
		}
	}
	check("first read", true)
	check("nothing written", false)
	for _, w := range []struct {
		name string
		fn   func(tx *CampaignTx) error
	}{
		{"a finding changed", func(tx *CampaignTx) error {
			f, err := tx.Finding("PHID-USER-aaa")
			if err != nil {
				return err
			}
			f.Status = StatusCompliant
			return tx.PutFinding(f)
		}},
		{"a finding added", func(tx *CampaignTx) error {
			return tx.PutFinding(Finding{UserPHID: "PHID-USER-ddd", Username: "bea", Status: StatusPending, Batch: 2})
		}},
		{"a removal, an op and a batch", func(tx *CampaignTx) error {
			if err := tx.PutRemoval(&Removal{RequiredApprovals: 1, Status: RemovalProposed}); err != nil {
				return err
			}
			if err := tx.PutOp(Op{Key: "k", Kind: OpComment, State: OpPending}); err != nil {
				return err
			}
			b, err := tx.Batch(1)
			if err != nil {
				return err
			}
			b.TxCursor = 42
			return tx.PutBatch(b)
		}},
		{"the campaign record", func(tx *CampaignTx) error {
			c := tx.Campaign()
			c.Title = "renamed"
			return tx.PutCampaign(c)
		}},
		{"only the journal", func(tx *CampaignTx) error { return tx.Append(Entry{Kind: EntryDrift}) }},
	} {
		if err := s.Update("mfa", w.fn); err != nil {
			t.Fatal(err)
		}
		check(w.name, true)
		check(w.name+", then nothing", false)
	}
	if _, _, err := s.NewSnapshotReader("nope").Read(); err == nil {
		t.Error("reader of an unknown campaign: no error")
	}
}
