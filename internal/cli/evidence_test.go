package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/auditbot/auditbot/internal/demo"
	"github.com/auditbot/auditbot/state"
)

// The demo's state file, made once for the tests below; each test works
// on its own copy.
var demoState struct {
	once sync.Once
	dir  string
	res  *demo.Result
	err  error
}

// demoCopy runs the demo (once per test binary) and returns a copy of its
// state file in t's temporary directory, and the demo's result.
func demoCopy(t *testing.T) (string, *demo.Result) {
	t.Helper()
	demoState.once.Do(func() {
		if demoState.dir, demoState.err = os.MkdirTemp("", "auditbot-demo-"); demoState.err != nil {
			return
		}
		demoState.res, demoState.err = demo.Run(t.Context(), demo.Options{StateDir: demoState.dir})
	})
	if demoState.err != nil {
		t.Fatalf("demo: %v", demoState.err)
	}
	data, err := os.ReadFile(filepath.Join(demoState.dir, "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "demo.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, demoState.res
}

func TestMain(m *testing.M) {
	code := m.Run()
	if demoState.dir != "" {
		os.RemoveAll(demoState.dir)
	}
	os.Exit(code)
}

// runNoConfig runs Main without a config file (the --state flag reads the
// state file alone).
func runNoConfig(args ...string) result {
	var stdout, stderr bytes.Buffer
	code := Main(args, &stdout, &stderr)
	return result{args: args, code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// journalBucket runs fn on the demo campaign's journal bucket, opened with
// bbolt directly as someone tampering with the file would.
func journalBucket(t *testing.T, path string, fn func(b *bolt.Bucket) error) {
	t.Helper()
	editFile(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("campaigns")).Bucket([]byte("mfa-demo")).Bucket([]byte("journal"))
		if b == nil {
			return fmt.Errorf("no journal bucket")
		}
		return fn(b)
	})
}

func sha(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// entryBytes returns the stored value of journal entry seq.
func entryBytes(t *testing.T, path string, seq uint64) []byte {
	t.Helper()
	var out []byte
	journalBucket(t, path, func(b *bolt.Bucket) error {
		out = bytes.Clone(b.Get(seqKey(seq)))
		if out == nil {
			return fmt.Errorf("no entry %d", seq)
		}
		return nil
	})
	return out
}

// flipInDetail changes one byte of an entry's detail text.
func flipInDetail(t *testing.T, v []byte) []byte {
	t.Helper()
	v = bytes.Clone(v)
	i := bytes.Index(v, []byte(`"detail":"`))
	if i < 0 {
		t.Fatalf("entry has no detail: %s", v)
	}
	v[i+len(`"detail":"`)] ^= 1 // 'R' -> 'S', 'r' -> 's': still valid JSON
	return v
}

// TestVerifyJournalTampered edits and deletes journal entries of the
// demo's state file behind auditbot's back: verify-journal exits 8 and
// names the campaign and the entry.
func TestVerifyJournalTampered(t *testing.T) {
	const seq = 17
	tests := []struct {
		name   string
		tamper func(t *testing.T, path string)
		want   []string
	}{
		{name: "intact", want: []string{"mfa-demo: ok, 50 entries"}},
		{name: "one byte changed through bbolt", tamper: func(t *testing.T, path string) {
			v := flipInDetail(t, entryBytes(t, path, seq))
			journalBucket(t, path, func(b *bolt.Bucket) error { return b.Put(seqKey(seq), v) })
		}, want: []string{"mfa-demo: BROKEN at entry 17: entry 17 does not match its hash (edited)"}},
		{name: "one byte changed in the raw file", tamper: func(t *testing.T, path string) {
			// bbolt keeps no checksum on its data pages: an editor can
			// change a byte without bbolt noticing. Old copies of the
			// entry may sit in freed pages, so try each occurrence until
			// the live one is hit, keeping only that one byte changed.
			v := entryBytes(t, path, seq)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for off := 0; ; {
				i := bytes.Index(data[off:], v)
				if i < 0 {
					t.Fatal("the entry's bytes are not in the file")
				}
				off += i
				edited := bytes.Clone(data)
				copy(edited[off:], flipInDetail(t, v))
				if err := os.WriteFile(path, edited, 0o600); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(entryBytes(t, path, seq), v) {
					return
				}
				off += len(v)
			}
		}, want: []string{"mfa-demo: BROKEN at entry 17: entry 17 does not match its hash (edited)"}},
		{name: "an entry deleted", tamper: func(t *testing.T, path string) {
			journalBucket(t, path, func(b *bolt.Bucket) error { return b.Delete(seqKey(seq)) })
		}, want: []string{"mfa-demo: BROKEN at entry 17: entry 17 is missing (next entry is 18): deleted"}},
		{name: "the last entry deleted", tamper: func(t *testing.T, path string) {
			journalBucket(t, path, func(b *bolt.Bucket) error { return b.Delete(seqKey(50)) })
		}, want: []string{"mfa-demo: BROKEN at entry 50: entry 50 is missing (the journal had 50 entries): deleted"}},
		{name: "an entry re-hashed but not re-chained", tamper: func(t *testing.T, path string) {
			// Whoever edits an entry and fixes its own hash still breaks
			// the link from the next entry.
			var e state.Entry
			if err := json.Unmarshal(entryBytes(t, path, seq), &e); err != nil {
				t.Fatal(err)
			}
			e.Detail = "nothing happened"
			e.Hash = ""
			data, _ := json.Marshal(e)
			e.Hash = sha(data)
			data, _ = json.Marshal(e)
			journalBucket(t, path, func(b *bolt.Bucket) error { return b.Put(seqKey(seq), data) })
		}, want: []string{"mfa-demo: BROKEN at entry 18: entry 18 does not follow entry 17"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := demoCopy(t)
			code := ExitOK
			if tt.tamper != nil {
				tt.tamper(t, path)
				code = ExitJournal
			}
			r := runNoConfig("verify-journal", "--state", path)
			r.expect(t, code, tt.want, nil)
			if code == ExitJournal {
				r.expect(t, code, nil, []string{"journal chain broken: mfa-demo at entry"})
			}
			// Naming the campaign gives the same answer.
			runNoConfig("verify-journal", "mfa-demo", "--state", path).expect(t, code, tt.want, nil)
		})
	}
}

// TestVerifyJournalDamagedFile: a file that is not an intact auditbot
// state file is exit 7 and is left as it was.
func TestVerifyJournalDamagedFile(t *testing.T) {
	foreign := func(t *testing.T, path string) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte("someone-else"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	tests := []struct {
		name string
		make func(t *testing.T, path string)
	}{
		{"empty", func(t *testing.T, path string) { os.WriteFile(path, nil, 0o600) }},
		{"not bbolt", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Repeat([]byte("not a database\n"), 1000), 0o600)
		}},
		{"another program's bbolt file", foreign},
		{"truncated", func(t *testing.T, path string) {
			src, _ := demoCopy(t)
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(path, data[:len(data)/3], 0o600)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			tt.make(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r := runNoConfig("verify-journal", "--state", path)
			r.expect(t, ExitDamaged, nil, []string{path})
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Error("verify-journal changed the file")
			}
		})
	}
}

// removalRow is what the evidence must say about one removed membership.
type removalRow struct {
	User, Group, RemovedAt string
	Approvers              string // "alice at TIME via T1; …"
}

// TestReportDemo: `report --format csv` lists every membership the demo
// removed, with its approvers and times, as the state file records them;
// json decodes; md is Remarkup where text from the audited is inert.
func TestReportDemo(t *testing.T) {
	path, res := demoCopy(t)
	st, err := state.Open(path, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := st.Snapshot("mfa-demo")
	if err != nil {
		t.Fatal(err)
	}
	journal, err := st.Journal("mfa-demo")
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The expected rows, from the removal batches and the journal's
	// members-removed entries.
	removedAt := map[[2]string]time.Time{}
	for _, e := range journal {
		if e.Kind == state.EntryMembersRemoved {
			for _, u := range e.Users {
				removedAt[[2]string{u, e.Group}] = e.At
			}
		}
	}
	var want []removalRow
	removed := map[string][]string{}
	for _, rm := range snap.Removals {
		for _, it := range rm.Items {
			if !it.Done {
				continue
			}
			var apps []string
			for _, a := range rm.Approvals {
				if a.Covers(it.Batch) {
					apps = append(apps, fmt.Sprintf("%s at %s (%s)", a.Username, a.At.UTC().Format(time.RFC3339), a.Where()))
				}
			}
			at := removedAt[[2]string{it.Username, it.GroupName}]
			if at.IsZero() {
				t.Errorf("no members-removed entry for %s in %s", it.Username, it.GroupName)
			}
			want = append(want, removalRow{it.Username, it.GroupName, at.UTC().Format(time.RFC3339), strings.Join(apps, "; ")})
			removed[it.Username] = append(removed[it.Username], it.GroupName)
		}
	}
	// The state file agrees with what the demo saw Phabricator do.
	for _, gs := range removed {
		slices.Sort(gs)
	}
	wantRemoved := map[string][]string{}
	for u, gs := range res.Removed {
		wantRemoved[u] = slices.Sorted(slices.Values(gs))
	}
	if d := cmp.Diff(wantRemoved, removed); d != "" {
		t.Fatalf("removal batches vs the demo's removals (-demo +state):\n%s", d)
	}

	t.Run("csv", func(t *testing.T) {
		r := runNoConfig("report", "mfa-demo", "--format", "csv", "--state", path)
		r.expect(t, ExitOK, nil, nil)
		rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		var got []removalRow
		for _, row := range rows[1:] {
			if row[col["section"]] == "removal" {
				got = append(got, removalRow{row[col["user"]], row[col["groups"]], row[col["campaign_clock"]], row[col["approvers"]]})
			}
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("removed memberships (-state +report):\n%s", d)
		}
		// Every removal has at least the required approvers, each
		// approved before the removal.
		for _, w := range got {
			if w.Approvers == "" || strings.Count(w.Approvers, " at ") < 2 {
				t.Errorf("%s in %s: approvals %q, want two", w.User, w.Group, w.Approvers)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		r := runNoConfig("report", "mfa-demo", "--format", "json", "--state", path)
		r.expect(t, ExitOK, nil, nil)
		var ev struct {
			Campaign string `json:"campaign"`
			Removals []struct {
				Username  string    `json:"username"`
				Group     string    `json:"group"`
				RemovedAt time.Time `json:"removed_at"`
				Approvals []struct {
					Approver string    `json:"approver"`
					At       time.Time `json:"at"`
				} `json:"approvals"`
			} `json:"removals"`
			Chain struct {
				OK bool `json:"ok"`
			} `json:"chain"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Campaign != "mfa-demo" || !ev.Chain.OK || len(ev.Removals) != len(want) {
			t.Errorf("json: campaign %q, chain ok %v, %d removals (want %d)", ev.Campaign, ev.Chain.OK, len(ev.Removals), len(want))
		}
		for _, rm := range ev.Removals {
			for _, a := range rm.Approvals {
				if a.At.After(rm.RemovedAt) {
					t.Errorf("%s in %s: removed %s, approved by %s only later, at %s", rm.Username, rm.Group, rm.RemovedAt, a.Approver, a.At)
				}
			}
		}
	})
	t.Run("md", func(t *testing.T) {
		r := runNoConfig("report", "mfa-demo", "--format", "md", "--state", path)
		r.expect(t, ExitOK, []string{"== Removed memberships ==", "Journal hash chain: verified."}, nil)
		var eve string
		for _, f := range snap.Findings {
			if strings.Contains(f.RealName, "<img") {
				eve = f.Username
			}
		}
		if eve == "" {
			t.Fatal("the demo has no hostile real name")
		}
		tables := 0
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(line, "| --- ") {
				tables++
			}
			if !strings.HasPrefix(line, "|") {
				continue
			}
			// Cells as Remarkup splits them: at each "|" outside [[ … ]].
			if n := remarkupCells(line); n != 7 && n != 10 {
				t.Errorf("row of %d cells: %s", n, line)
			}
			if strings.Contains(line, "| `"+eve+"` |") && strings.Contains(line, "<img") {
				name := strings.Split(line, "|")[2]
				if n := strings.TrimSpace(name); !strings.HasPrefix(n, "`") || !strings.HasSuffix(n, "`") {
					t.Errorf("hostile real name not in monospace: %s", line)
				}
			}
		}
		if tables != 3 {
			t.Errorf("%d tables, want 3 (findings, removals, journal)", tables)
		}
		for _, u := range want {
			if !strings.Contains(r.stdout, "| `"+u.User+"` | `"+u.Group+"` |") {
				t.Errorf("md lacks the removal of `%s` from %s", u.User, u.Group)
			}
		}
	})
	t.Run("bad format", func(t *testing.T) {
		runNoConfig("report", "mfa-demo", "--format", "xml", "--state", path).expect(t, ExitUsage, nil, []string{`--format "xml"`})
	})
	t.Run("unknown campaign", func(t *testing.T) {
		runNoConfig("report", "nope", "--state", path).expect(t, ExitUsage, nil, []string{`"nope" has not been launched`})
	})
}

// remarkupCells counts a table row's cells as Phorge's
// PhutilRemarkupSimpleTableBlockRule splits them.
func remarkupCells(line string) int {
	line = strings.TrimRight(line, "|")
	n := 0
	for i := 0; i < len(line); i++ {
		switch {
		case strings.HasPrefix(line[i:], "[["):
			if j := strings.Index(line[i:], "]]"); j >= 0 {
				i += j + 1
			}
		case line[i] == '|':
			n++
		}
	}
	return n
}

// TestVerifyJournalHeadFlag: verify-journal prints each journal's head, and
// --head checks that a head kept earlier is still in the journal: a
// journal rewritten and re-sealed by someone holding the file verifies on
// its own, but not against the head kept elsewhere.
func TestVerifyJournalHeadFlag(t *testing.T) {
	path, _ := demoCopy(t)
	r := runNoConfig("verify-journal", "--state", path)
	m := regexp.MustCompile(`mfa-demo: ok, 50 entries; head (50:[0-9a-f]{64})\n`).FindStringSubmatch(r.stdout)
	if r.code != ExitOK || m == nil {
		t.Fatalf("verify-journal: exit %d, want the head printed:\n%s%s", r.code, r.stdout, r.stderr)
	}
	head := "mfa-demo=" + m[1]
	runNoConfig("verify-journal", "--state", path, "--head", head).expect(t, ExitOK, []string{"mfa-demo: ok, 50 entries, holds the 1 head(s) given; head " + m[1]}, nil)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no campaign", []string{"--head", m[1]}, "want CAMPAIGN=SEQ:HASH"},
		{"bad hash", []string{"--head", "mfa-demo=50:xyz"}, "64 lower-case hex digits"},
		{"a campaign not verified", []string{"mfa-demo", "--head", "other=" + m[1]}, "only mfa-demo's journal is verified"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			runNoConfig(append([]string{"verify-journal", "--state", path}, tt.args...)...).expect(t, ExitUsage, nil, []string{tt.want})
		})
	}

	// A head kept for a campaign the file no longer holds: deleted, the
	// ultimate edit (exit 8, once exit 2 as if the head were mistyped).
	runNoConfig("verify-journal", "--state", path, "--head", "other="+m[1]).expect(t, ExitJournal,
		[]string{"other: BROKEN: the state file holds no journal for other, yet a head was kept for it", "mfa-demo: ok, 50 entries"},
		[]string{"journal chain broken: other (no journal)"})
	runNoConfig("verify-journal", "other", "--state", path, "--head", "other="+m[1]).expect(t, ExitJournal, []string{"other: BROKEN"}, nil)
	runNoConfig("verify-journal", "other", "--state", path).expect(t, ExitUsage, nil, []string{`"other" has not been launched`})

	// Someone with the file edits entry 17 and re-seals the chain after it.
	var prev string
	journalBucket(t, path, func(b *bolt.Bucket) error {
		c := b.Cursor()
		var keys [][]byte
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			var e state.Entry
			if err := json.Unmarshal(b.Get(k), &e); err != nil {
				return err
			}
			if e.Seq >= 17 {
				if e.Seq == 17 {
					e.Detail = "nothing happened"
				}
				e.PrevHash, e.Hash = prev, ""
				data, _ := json.Marshal(e)
				e.Hash = sha(data)
				data, _ = json.Marshal(e)
				if err := b.Put(k, data); err != nil {
					return err
				}
			}
			prev = e.Hash
		}
		return nil
	})
	runNoConfig("verify-journal", "--state", path).expect(t, ExitOK, []string{"mfa-demo: ok, 50 entries; head 50:"}, nil)
	runNoConfig("verify-journal", "--state", path, "--head", head).expect(t, ExitJournal,
		[]string{"mfa-demo: BROKEN at entry 50: entry 50 is not the entry of the head " + m[1] + " kept earlier"}, nil)
}
