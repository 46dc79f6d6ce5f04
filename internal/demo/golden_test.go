package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update rewrites the golden files: go test ./internal/demo -run Golden -update
// (or UPDATE=1). Review the diff before committing it: these files are the
// proof that a refactor kept behaviour.
var update = flag.Bool("update", os.Getenv("UPDATE") == "1", "rewrite the demo's golden files")

// TestDemoGolden pins what the demo does, as text a reviewer can diff:
//   - output.txt: the whole timeline `make demo` prints;
//   - journal.txt: every journal entry of both campaigns, in order (the
//     wall-clock Recorded time and the hashes that cover it left out);
//   - writes.txt: every write the in-process Phabricator applied, with
//     every text the bot posted;
//   - calls.txt: the Conduit calls of each tick, per method.
//
// A refactor must leave all four unchanged (calls may only go down).
func TestDemoGolden(t *testing.T) {
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Out: &out, StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	files := map[string]string{
		"output.txt":  blankHashes(out.String()),
		"journal.txt": journalText(t, res),
		"writes.txt":  blankHashes(writesText(t, res)),
		"calls.txt":   callsText(res),
	}
	for name, got := range files {
		path := filepath.Join("testdata", "golden", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with UPDATE=1 to create it)", err)
		}
		if diff := cmp.Diff(string(want), got); diff != "" {
			t.Errorf("%s differs from the golden file (-want +got; UPDATE=1 rewrites it):\n%s", name, diff)
		}
	}
}

// hashLike is a journal hash (64 lower-case hex digits) with the
// character before it, if any.
var hashLike = regexp.MustCompile(`(^|[^0-9a-f])[0-9a-f]{64,}`)

// blankHashes replaces the journal hashes in a text (the tracking task's
// summary names the journal's head) with HASH: they cover the wall-clock
// time each entry was recorded, so they differ from run to run. A marker
// anchor's hex ({anchor #auditbot-HEX}) is left alone.
func blankHashes(s string) string {
	return hashLike.ReplaceAllStringFunc(s, func(m string) string {
		hex := strings.TrimLeft(m, "-:= `\n")
		prefix := m[:len(m)-len(hex)]
		if len(hex) != 64 || strings.HasSuffix(prefix, "-") {
			return m
		}
		return prefix + "HASH"
	})
}

func journalText(t *testing.T, res *Result) string {
	t.Helper()
	var names []string
	for name := range res.Journals {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, "## %s\n", name)
		for _, e := range res.Journals[name] {
			line, err := json.Marshal(struct {
				Seq       uint64   `json:"seq"`
				At        string   `json:"at"`
				Kind      string   `json:"kind"`
				Actor     string   `json:"actor,omitempty"`
				ActorKind string   `json:"actor_kind,omitempty"`
				Verified  string   `json:"verified,omitempty"`
				Operator  string   `json:"operator,omitempty"`
				Task      string   `json:"task,omitempty"`
				User      string   `json:"user,omitempty"`
				Group     string   `json:"group,omitempty"`
				Users     []string `json:"users,omitempty"`
				Groups    []string `json:"groups,omitempty"`
				Approvers []string `json:"approvers,omitempty"`
				Outcome   string   `json:"outcome,omitempty"`
				Detail    string   `json:"detail,omitempty"`
			}{e.Seq, e.At.UTC().Format("2006-01-02T15:04:05Z"), string(e.Kind), e.Actor, e.ActorKind, e.Verified, e.Operator,
				e.Task, e.User, e.Group, e.Users, e.Groups, e.Approvers, e.Outcome, e.Detail})
			if err != nil {
				t.Fatal(err)
			}
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func writesText(t *testing.T, res *Result) string {
	t.Helper()
	var b strings.Builder
	for i, w := range res.Writes {
		fmt.Fprintf(&b, "## %d %s by %s on %d %s created=%v xacts=%d at %s\n", i+1, w.Method, w.ActorPHID, w.ObjectID, w.ObjectPHID,
			w.Created, len(w.TransactionPHIDs), w.At.UTC().Format("2006-01-02T15:04:05Z"))
		for _, x := range w.Transactions {
			switch v := x.Value.(type) {
			case string:
				fmt.Fprintf(&b, "- %s:\n%s\n", x.Type, indent(v))
			default:
				j, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "- %s: %s\n", x.Type, j)
			}
		}
	}
	return b.String()
}

func indent(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString("    " + line)
	}
	if !strings.HasSuffix(s, "\n") {
		return b.String()
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func callsText(res *Result) string {
	var b strings.Builder
	for _, tc := range res.CallsPerTick {
		var methods []string
		for m := range tc.ByMethod {
			methods = append(methods, m)
		}
		slices.Sort(methods)
		fmt.Fprintf(&b, "%-45s %3d:", tc.Label, tc.Calls)
		for _, m := range methods {
			fmt.Fprintf(&b, " %s=%d", m, tc.ByMethod[m])
		}
		b.WriteByte('\n')
	}
	return b.String()
}
