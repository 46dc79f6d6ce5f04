package main

import (
	"bytes"
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeModule writes a module with one long function (82 lines between
// its func line and closing brace), one branchy one (complexity 22), one
// within both limits, and a long test function, which is not measured.
func writeModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var long, branchy strings.Builder
	long.WriteString("package p\n\nfunc Long() int {\n\tx := 0\n")
	for range 80 {
		long.WriteString("\tx++\n")
	}
	long.WriteString("\treturn x\n}\n\nfunc Short() int { return 1 }\n")
	branchy.WriteString("package p\n\ntype T struct{}\n\nfunc (*T) Branchy(x int) int {\n")
	for i := range 21 {
		fmt.Fprintf(&branchy, "\tif x == %d {\n\t\treturn %d\n\t}\n", i, i)
	}
	branchy.WriteString("\treturn -1\n}\n")
	files := map[string]string{
		"go.mod":          "module example.com/m\n\ngo 1.22\n",
		"p/long.go":       long.String(),
		"p/branchy.go":    branchy.String(),
		"p/long_test.go":  strings.Replace(long.String(), "func Long", "func LongTest", 1),
		"p/q/ok.go":       "package q\n\nfunc OK() {}\n",
		"testdata/bad.go": "package bad\n\nfunc (",
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestMeasure: funlen's length and gocyclo's complexity of every non-test
// function, named by package path within the module.
func TestMeasure(t *testing.T) {
	dir := writeModule(t)
	funcs, err := measure(dir, []string{"./..."})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int{}
	for _, f := range funcs {
		got[f.Name] = [2]int{f.Lines, f.Complexity}
	}
	want := map[string][2]int{
		"p.Long":         {82, 1},
		"p.Short":        {0, 1}, // one line: funlen reports nothing
		"p.(*T).Branchy": {64, 22},
		"p/q.OK":         {0, 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("measures (-want +got):\n%s", diff)
	}
}

// TestCheck covers the allow-list: it lets a listed function stay as big
// as it was, and reports one that is not listed, grew, or no longer needs
// its entry.
func TestCheck(t *testing.T) {
	long := fn{Name: "p.Long", Lines: 82, Complexity: 1, Pos: token.Position{Filename: "p/long.go", Line: 3, Column: 1}}
	branchy := fn{Name: "p.(*T).Branchy", Lines: 64, Complexity: 22, Pos: token.Position{Filename: "p/branchy.go", Line: 5, Column: 1}}
	small := fn{Name: "p.Short", Lines: 3, Complexity: 1, Pos: token.Position{Filename: "p/long.go", Line: 88, Column: 1}}
	for _, tt := range []struct {
		name  string
		allow map[string]allowed
		want  []string
	}{
		{name: "nothing listed", want: []string{
			"p/branchy.go:5:1: p.(*T).Branchy: 64 lines, complexity 22",
			"p/long.go:3:1: p.Long: 82 lines, complexity 1",
		}},
		{name: "both listed as they are", allow: map[string]allowed{
			"p.Long": {Lines: 82, Complexity: 1}, "p.(*T).Branchy": {Lines: 64, Complexity: 22},
		}},
		{name: "listed bigger than they are", allow: map[string]allowed{
			"p.Long": {Lines: 90, Complexity: 1}, "p.(*T).Branchy": {Lines: 64, Complexity: 30},
		}},
		{name: "grew", allow: map[string]allowed{
			"p.Long": {Lines: 81, Complexity: 1}, "p.(*T).Branchy": {Lines: 64, Complexity: 21},
		}, want: []string{
			"p/branchy.go:5:1: p.(*T).Branchy: 64 lines, complexity 22, grew past its allow-list entry (64 lines, complexity 21)",
			"p/long.go:3:1: p.Long: 82 lines, complexity 1, grew past its allow-list entry (81 lines, complexity 1)",
		}},
		{name: "stale and gone", allow: map[string]allowed{
			"p.Long": {Lines: 82, Complexity: 1}, "p.(*T).Branchy": {Lines: 64, Complexity: 22},
			"p.Short": {Lines: 100, Complexity: 1, Line: 3}, "p.Gone": {Lines: 100, Complexity: 1, Line: 4},
		}, want: []string{
			"p.Gone: no such function any more: remove its allow-list entry (line 4)",
			"p/long.go:88:1: p.Short is within the limits now (3 lines, complexity 1): remove its allow-list entry (line 3)",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := check([]fn{long, branchy, small}, tt.allow)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRun: the exit code and message of `make lint`'s call, and of an
// allow-list without a reason.
func TestRun(t *testing.T) {
	dir := writeModule(t)
	allow := filepath.Join(t.TempDir(), "allow.txt")
	for _, tt := range []struct {
		name   string
		allow  string
		code   int
		stderr []string
		stdout string
	}{
		{name: "offenders", allow: "# none\n", code: 1, stderr: []string{
			"2 problem(s)", "p/long.go:3:1: p.Long: 82 lines, complexity 1", "p/branchy.go:5:1: p.(*T).Branchy: 64 lines, complexity 22",
		}},
		{name: "allow-listed", allow: "p.Long 82 1 a reason\np.(*T).Branchy 64 22 another reason\n", code: 0},
		{name: "shrunk", allow: "p.Long 90 1 a reason\np.(*T).Branchy 64 22 another reason\n", code: 0,
			stdout: "p.Long is down to 82 lines, complexity 1 (listed 90, 1): lower its allow-list entry (line 1)"},
		{name: "no reason", allow: "p.Long 82 1\n", code: 2, stderr: []string{"allow.txt:1: want NAME LINES COMPLEXITY REASON"}},
		{name: "twice", allow: "p.Long 82 1 a\np.Long 82 1 b\n", code: 2, stderr: []string{"allow.txt:2: p.Long is listed twice"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(allow, []byte(tt.allow), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := run([]string{"-C", dir, "-allow", allow}, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			if !strings.Contains(stdout.String(), tt.stdout) || tt.stdout == "" && stdout.Len() > 0 {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.stdout)
			}
			if tt.code == 0 && stderr.Len() > 0 {
				t.Errorf("stderr on success: %s", stderr.String())
			}
		})
	}
}
