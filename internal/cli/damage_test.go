package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// editFile changes the state file with bbolt directly, as someone
// tampering with it (or a bad restore) would.
func editFile(t *testing.T, path string, edit func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(edit); err != nil {
		t.Fatal(err)
	}
}

// TestJournalBucketMissing: a state file whose campaign lacks its journal
// bucket is a damaged file: every command that reads it says so, exit 7,
// and none panics (journal, report and verify-journal once did, exit 2).
func TestJournalBucketMissing(t *testing.T) {
	path, _ := demoCopy(t)
	editFile(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("campaigns")).Bucket([]byte("mfa-demo")).DeleteBucket([]byte("journal"))
	})
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte("conduit: {url: http://127.0.0.1:1}\nstate_file: "+path+"\ncampaigns_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"journal", "mfa-demo"},
		{"journal", "mfa-demo", "--json"},
		{"report", "mfa-demo", "--format", "csv"},
		{"verify-journal"},
		{"verify-journal", "mfa-demo"},
		{"status", "--json"},
		{"state", "check"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runNoConfig(append([]string{"--config", config}, args...)...)
			r.expect(t, ExitDamaged, nil, []string{`campaign "mfa-demo" has no journal bucket`})
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") {
				t.Errorf("panicked:\n%s", r.stderr)
			}
		})
	}
}
