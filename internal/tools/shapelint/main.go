// Command shapelint is the gate of `make lint` that keeps functions small:
// it fails on a non-test function longer than 80 lines or with a
// cyclomatic complexity over 20, unless allow.txt lists it with a reason.
//
// It counts with existing linters, not a counter of its own: the length is
// github.com/ultraware/funlen's (the lines between the func line and the
// closing brace, comments included; golangci-lint's funlen counts the
// same), the complexity is github.com/fzipp/gocyclo's (1 + each if, for,
// case, && and ||, closures included). What it adds is the allow-list,
// which only ratchets down:
//
//   - an entry records the function's numbers when it was listed; the
//     function may not grow past them (or past the limits, if higher);
//   - an entry whose function is now within both limits, or gone, is an
//     error too, so the list shrinks as the code does;
//   - a listed function that shrank but is still over a limit gets a note
//     (not an error) to lower its numbers, so the list shows the progress.
//
// Usage (from the module root; `make lint` runs it):
//
//	go run ./internal/tools/shapelint [-allow FILE] [-all] [packages]
//
// -all lists every function over a limit, allow-listed or not, with its
// numbers, and always exits 0: the measure behind the allow-list.
package main

import (
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fzipp/gocyclo"
	"github.com/ultraware/funlen"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/packages"
)

// The limits of issue 13.
const (
	maxLines      = 80
	maxComplexity = 20
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shapelint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	allowPath := fs.String("allow", "internal/tools/shapelint/allow.txt", "the allow-list")
	all := fs.Bool("all", false, "list every function over a limit with its numbers, allow-listed or not, and exit 0")
	dir := fs.String("C", ".", "run in this module directory")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	patterns := fs.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	funcs, err := measure(*dir, patterns)
	if err != nil {
		fmt.Fprintf(stderr, "shapelint: %v\n", err)
		return 1
	}
	if *all {
		printAll(stdout, funcs)
		return 0
	}
	allow, err := readAllowList(*allowPath)
	if err != nil {
		fmt.Fprintf(stderr, "shapelint: %v\n", err)
		return 2
	}
	for _, n := range shrunk(funcs, allow) {
		fmt.Fprintf(stdout, "shapelint: %s\n", n)
	}
	problems := check(funcs, allow)
	if len(problems) == 0 {
		return 0
	}
	fmt.Fprintf(stderr, "shapelint: %d problem(s) with the limits of %d lines and cyclomatic complexity %d per function:\n", len(problems), maxLines, maxComplexity)
	for _, p := range problems {
		fmt.Fprintf(stderr, "  %s\n", p)
	}
	fmt.Fprintf(stderr, "Split a long or branchy function into well-named pieces. Only code that another change is about\n"+
		"to rewrite belongs in %s, with its current numbers and the reason.\n", *allowPath)
	return 1
}

// fn is one function's measure.
type fn struct {
	Name       string // package path within the module, a dot, gocyclo's name: "bot.(*Bot).tick"
	Pos        token.Position
	Lines      int
	Complexity int
}

func (f fn) over() bool { return f.Lines > maxLines || f.Complexity > maxComplexity }

func (f fn) numbers() string {
	return fmt.Sprintf("%d lines, complexity %d", f.Lines, f.Complexity)
}

// measure loads the non-test files of the packages and measures every
// function declared in them.
func measure(dir string, patterns []string) ([]fn, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedModule,
		Dir:  dir,
		Fset: token.NewFileSet(),
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, fmt.Errorf("load packages: %w", err)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var funcs []fn
	for _, pkg := range pkgs {
		if len(pkg.Errors) > 0 {
			return nil, fmt.Errorf("load %s: %v", pkg.PkgPath, pkg.Errors[0])
		}
		got, err := measurePackage(cfg.Fset, pkg, root)
		if err != nil {
			return nil, err
		}
		funcs = append(funcs, got...)
	}
	sort.Slice(funcs, func(i, j int) bool { return funcs[i].Name < funcs[j].Name })
	return funcs, nil
}

func measurePackage(fset *token.FileSet, pkg *packages.Package, root string) ([]fn, error) {
	prefix := pkg.PkgPath
	if pkg.Module != nil {
		prefix = strings.TrimPrefix(strings.TrimPrefix(pkg.PkgPath, pkg.Module.Path), "/")
		if prefix == "" {
			prefix = "."
		}
	}
	lines, err := funcLengths(fset, pkg.Syntax)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkg.PkgPath, err)
	}
	var funcs []fn
	for _, file := range pkg.Syntax {
		for _, s := range gocyclo.AnalyzeASTFile(file, fset, nil) {
			pos := s.Pos
			if rel, err := filepath.Rel(root, pos.Filename); err == nil {
				pos.Filename = rel
			}
			funcs = append(funcs, fn{
				Name:       prefix + "." + s.FuncName,
				Pos:        pos,
				Lines:      lines[s.Pos.Filename+":"+fmt.Sprint(s.Pos.Line)],
				Complexity: s.Complexity,
			})
		}
	}
	return funcs, nil
}

// funcLengths runs funlen over the files and returns the length of each
// function, by "file:line" of its func keyword. funlen reports only what
// is over its limit; with a limit of one line that is every function, so
// an allow-list entry can show the length of one that is only too
// branchy.
// funlen is a go/analysis analyzer that reads only the syntax, so it runs
// on a pass with the files and no type information; the guard below fails
// loudly should a later version need more of a driver.
func funcLengths(fset *token.FileSet, files []*ast.File) (map[string]int, error) {
	a := funlen.NewAnalyzer(1, -1, false) // -1: no statement limit
	if len(a.Requires) > 0 || len(a.FactTypes) > 0 {
		return nil, errors.New("funlen now needs a full analysis driver (Requires or FactTypes)")
	}
	lengths := map[string]int{}
	var bad error
	pass := &analysis.Pass{
		Analyzer: a,
		Fset:     fset,
		Files:    files,
		Report: func(d analysis.Diagnostic) {
			var name string
			var n, limit int
			if _, err := fmt.Sscanf(d.Message, "Function %s is too long (%d > %d)", &name, &n, &limit); err != nil {
				bad = fmt.Errorf("unexpected funlen message %q", d.Message)
				return
			}
			decl := enclosingFunc(files, fset, d.Pos)
			if decl == nil {
				bad = fmt.Errorf("funlen reported %q outside a function", d.Message)
				return
			}
			p := fset.Position(decl.Pos())
			lengths[p.Filename+":"+fmt.Sprint(p.Line)] = n
		},
	}
	if _, err := a.Run(pass); err != nil {
		return nil, err
	}
	return lengths, bad
}

// enclosingFunc returns the function declaration that funlen's report at
// pos (the function's name) belongs to.
func enclosingFunc(files []*ast.File, fset *token.FileSet, pos token.Pos) *ast.FuncDecl {
	for _, f := range files {
		if pos < f.Pos() || pos > f.End() {
			continue
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Pos() == pos {
				return fd
			}
		}
	}
	return nil
}

// allowed is one allow-list entry: the function's numbers when listed,
// and why it may stay so for now.
type allowed struct {
	Lines, Complexity int
	Reason            string
	Line              int // in the allow-list file
}

// readAllowList reads lines of "NAME LINES COMPLEXITY REASON…"; # starts
// a comment.
func readAllowList(path string) (map[string]allowed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("allow-list: %w", err)
	}
	list := map[string]allowed{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var e allowed
		var name string
		fields := strings.Fields(line)
		if len(fields) < 4 {
			return nil, fmt.Errorf("%s:%d: want NAME LINES COMPLEXITY REASON, got %q", path, i+1, line)
		}
		if _, err := fmt.Sscanf(strings.Join(fields[:3], " "), "%s %d %d", &name, &e.Lines, &e.Complexity); err != nil {
			return nil, fmt.Errorf("%s:%d: want NAME LINES COMPLEXITY REASON: %v", path, i+1, err)
		}
		e.Reason, e.Line = strings.Join(fields[3:], " "), i+1
		if _, dup := list[name]; dup {
			return nil, fmt.Errorf("%s:%d: %s is listed twice", path, i+1, name)
		}
		list[name] = e
	}
	return list, nil
}

// check returns one line per function over a limit that is not
// allow-listed or grew past its entry, and per entry no longer needed.
func check(funcs []fn, allow map[string]allowed) []string {
	var problems []string
	seen := map[string]bool{}
	for _, f := range funcs {
		e, listed := allow[f.Name]
		seen[f.Name] = listed
		switch {
		case !f.over():
		case !listed:
			problems = append(problems, fmt.Sprintf("%s: %s: %s", f.Pos, f.Name, f.numbers()))
		case f.Lines > max(e.Lines, maxLines) || f.Complexity > max(e.Complexity, maxComplexity):
			problems = append(problems, fmt.Sprintf("%s: %s: %s, grew past its allow-list entry (%d lines, complexity %d)",
				f.Pos, f.Name, f.numbers(), e.Lines, e.Complexity))
		}
		if listed && !f.over() {
			problems = append(problems, fmt.Sprintf("%s: %s is within the limits now (%s): remove its allow-list entry (line %d)",
				f.Pos, f.Name, f.numbers(), e.Line))
		}
	}
	for name, e := range allow {
		if _, ok := seen[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s: no such function any more: remove its allow-list entry (line %d)", name, e.Line))
		}
	}
	sort.Strings(problems)
	return problems
}

// shrunk returns a note per allow-listed function that is still over a
// limit but smaller than its entry says, so that the entry is lowered and
// the list keeps showing the progress.
func shrunk(funcs []fn, allow map[string]allowed) []string {
	var notes []string
	for _, f := range funcs {
		e, ok := allow[f.Name]
		if ok && f.over() && (f.Lines < e.Lines || f.Complexity < e.Complexity) {
			notes = append(notes, fmt.Sprintf("%s is down to %s (listed %d, %d): lower its allow-list entry (line %d)",
				f.Name, f.numbers(), e.Lines, e.Complexity, e.Line))
		}
	}
	return notes
}

func printAll(w io.Writer, funcs []fn) {
	var n, long, branchy int
	longest := fn{}
	for _, f := range funcs {
		if f.Lines > longest.Lines {
			longest = f
		}
		if !f.over() {
			continue
		}
		n++
		if f.Lines > maxLines {
			long++
		}
		if f.Complexity > maxComplexity {
			branchy++
		}
		fmt.Fprintf(w, "%-55s %4d %4d  %s\n", f.Name, f.Lines, f.Complexity, f.Pos)
	}
	fmt.Fprintf(w, "%d functions over a limit: %d over %d lines, %d over complexity %d; longest %s (%d lines)\n",
		n, long, maxLines, branchy, maxComplexity, longest.Name, longest.Lines)
}
