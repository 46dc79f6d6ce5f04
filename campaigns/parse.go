package campaigns

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/auditbot/auditbot/internal/safefile"
)

// LineError is one problem found in a config or campaign file. Loaders
// return every problem they find as an errors.Join of *LineError, sorted by
// line; use errors.As to get at the first one, or the Unwrap() []error
// method of the joined error to get them all.
type LineError struct {
	File string // the file name as given to the loader
	Line int    // 1-based; 0 when the problem is not tied to a line
	Key  string // dotted key path such as "exclude.bots"; "" for the document
	Msg  string
}

// Error formats the problem as "file:line: key: message".
func (e *LineError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// MaxFileSize is the largest config or campaign file read. Real ones are
// a few kilobytes; a mistaken path to a log or a database would otherwise
// be parsed whole into memory (64 MB of YAML took 1.4 GB).
const MaxFileSize = 1 << 20

// readFile reads a config, campaign or list file of at most MaxFileSize
// bytes, only if it is a regular file, without blocking (see safefile): a
// file that is too big, a named pipe or a device is a *LineError, bad
// input like any other.
func readFile(path string) ([]byte, error) {
	data, err := safefile.Read(path, MaxFileSize)
	var se *safefile.Error
	switch {
	case errors.As(err, &se) && errors.Is(err, safefile.ErrTooLarge):
		return nil, &LineError{File: path, Msg: fmt.Sprintf("is larger than %d MiB, the limit for config, campaign and list files; is this the right file?", MaxFileSize>>20)}
	case errors.As(err, &se):
		return nil, &LineError{File: path, Msg: strings.TrimPrefix(se.Error(), path+" ")}
	}
	return data, err
}

// parser collects the problems found in one file. It never stops at the
// first: every handler reports and carries on, so one run shows them all.
type parser struct {
	file string
	errs []*LineError
}

// errorf records a problem at n's line (no line when n is nil).
func (p *parser) errorf(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &LineError{File: p.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// err returns the recorded problems sorted by line, or nil.
func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(p.errs, func(a, b *LineError) int { return cmp.Compare(a.Line, b.Line) })
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a yaml.v3 parse error ("yaml: line 3: ...") into a
// LineError so that syntax errors read like every other problem.
func (p *parser) syntaxError(err error) {
	msg := err.Error()
	if m := yamlLineError.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.errs = append(p.errs, &LineError{File: p.file, Line: line, Msg: "invalid YAML: " + m[2]})
		return
	}
	p.errs = append(p.errs, &LineError{File: p.file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
}

// document parses data as exactly one YAML document and returns its root
// node, or nil after recording why there is none.
func (p *parser) document(data []byte, want string) *yaml.Node {
	if len(data) > MaxFileSize {
		p.errorf(nil, "", "is larger than %d MiB, the limit for config, campaign and list files; is this the right file?", MaxFileSize>>20)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(nil, "", "file is empty; want %s", want)
		} else {
			p.syntaxError(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		line := &extra
		if len(extra.Content) > 0 {
			line = extra.Content[0]
		}
		p.errorf(line, "", "a second YAML document starts here; want exactly one document per file")
	case !errors.Is(err, io.EOF):
		p.syntaxError(err)
	}
	if len(doc.Content) == 0 {
		p.errorf(nil, "", "file is empty; want %s", want)
		return nil
	}
	return doc.Content[0]
}

// field is one known key of a mapping.
type field struct {
	name     string
	required bool
	// secret, when set, forbids the key and explains where the value goes
	// instead. The value is never echoed.
	secret string
	parse  func(v *yaml.Node)
}

// mapping walks the mapping n, calling each known key's parse function with
// its value, and reports unknown, duplicate, forbidden and missing keys.
// Keys whose value is null (`key:` with nothing after it) count as absent.
func (p *parser) mapping(n *yaml.Node, path string, fields []field) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "want a mapping of keys to values, got %s", describe(n))
		return
	}
	seen := make(map[string]*yaml.Node)
	var names []string
	for _, f := range fields {
		if f.secret == "" {
			names = append(names, f.name)
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, path, "want a plain key, got %s", describe(k))
			continue
		}
		name := k.Value
		if first, dup := seen[name]; dup {
			p.errorf(k, path, "duplicate key %q (first at line %d)", name, first.Line)
			continue
		}
		seen[name] = k
		fi := slices.IndexFunc(fields, func(f field) bool { return f.name == name })
		switch {
		case fi < 0:
			p.errorf(k, path, "unknown key %q%s", name, suggest(name, names))
		case fields[fi].secret != "":
			p.errorf(k, join(path, name), "%s", fields[fi].secret)
		case isNull(v):
			if fields[fi].required {
				p.errorf(k, join(path, name), "is empty; a value is required")
			}
		default:
			fields[fi].parse(v)
		}
	}
	for _, f := range fields {
		if f.required && seen[f.name] == nil {
			p.errorf(n, path, "missing required key %q", f.name)
		}
	}
}

// join builds a dotted key path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// deref follows YAML aliases (*anchor) to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's type for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!bool":
			return "the boolean " + n.Value
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!str":
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "an unexpected YAML node"
}

// str reads a scalar as text. Numbers and dates are accepted as written
// (a username or group may be all digits); booleans are not, because
// `team: yes`-style mistakes are likelier than a project named "true".
func (p *parser) str(n *yaml.Node, key string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, key, "want a string, got %s", describe(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!timestamp":
		return n.Value, true
	}
	p.errorf(n, key, "want a string, got %s (quote it if you mean the text)", describe(n))
	return "", false
}

// boolean reads true or false.
func (p *parser) boolean(n *yaml.Node, key string) (bool, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	p.errorf(n, key, "want true or false, got %s", describe(n))
	return false, false
}

// integer reads a whole number.
func (p *parser) integer(n *yaml.Node, key string) (int, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		var i int
		if err := n.Decode(&i); err == nil {
			return i, true
		}
	}
	p.errorf(n, key, "want a whole number, got %s", describe(n))
	return 0, false
}

// number reads an integer or a decimal number.
func (p *parser) number(n *yaml.Node, key string) (float64, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
		var f float64
		if err := n.Decode(&f); err == nil {
			return f, true
		}
	}
	p.errorf(n, key, "want a number, got %s", describe(n))
	return 0, false
}

// duration reads a Go duration such as 30s or 15m.
func (p *parser) duration(n *yaml.Node, key string) (time.Duration, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
		p.errorf(n, key, "want a duration with a unit such as 30s or 15m, got the bare number %s", n.Value)
		return 0, false
	}
	s, ok := p.str(n, key)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.errorf(n, key, "%q is not a duration (want a number and a unit such as 30s, 15m or 1h)", s)
		return 0, false
	}
	return d, true
}

// item is one string of a list, with its node for error lines.
type item struct {
	s string
	n *yaml.Node
}

// list reads a list of strings. Items of the wrong type are reported and
// left out; ok is false only when n is not a list at all.
func (p *parser) list(n *yaml.Node, key string) ([]item, bool) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, key, "want a list such as [a, b], got %s", describe(n))
		return nil, false
	}
	items := []item{}
	for _, c := range n.Content {
		if s, ok := p.str(c, key); ok {
			items = append(items, item{s: strings.TrimSpace(s), n: deref(c)})
		}
	}
	return items, true
}

// val is a value read from a file with the node it came from. A nil node
// means the key was absent (or null), which is what defaults look at.
type val[T any] struct {
	v T
	n *yaml.Node
}

func (v val[T]) set() bool { return v.n != nil }

// or returns the value, or def when the key was absent.
func (v val[T]) or(def T) T {
	if v.set() {
		return v.v
	}
	return def
}

// into returns a parse function that stores what conv reads into dst.
func into[T any](dst *val[T], conv func(*yaml.Node) (T, bool)) func(*yaml.Node) {
	return func(n *yaml.Node) {
		if v, ok := conv(n); ok {
			*dst = val[T]{v: v, n: deref(n)}
		}
	}
}

// keyed adapts a parser method taking a key into a conv for into.
func keyed[T any](f func(*yaml.Node, string) (T, bool), key string) func(*yaml.Node) (T, bool) {
	return func(n *yaml.Node) (T, bool) { return f(n, key) }
}

// suggest returns ` (did you mean "x"?)` for the known name closest to
// name, or "" when none is close enough to be a plausible typo.
func suggest(name string, known []string) string {
	best := Suggest(name, known)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// Suggest returns the name in known closest to name, or "" when none is
// close enough to be a plausible typo. Case, and "-" against "_", do not
// count. The command line uses it for unknown groups and chores too.
func Suggest(name string, known []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	best, bestDist := "", 0
	for _, k := range known {
		d := levenshtein(norm(name), norm(k))
		if best == "" || d < bestDist {
			best, bestDist = k, d
		}
	}
	// Allow about one edit per three letters, at least one and at most three.
	limit := min(max(len(name)/3, 1), 3)
	if best == "" || bestDist > limit {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// oneOf formats a list of choices as "a, b or c".
func oneOf(choices []string) string {
	switch len(choices) {
	case 0:
		return ""
	case 1:
		return choices[0]
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}

// GroupKey returns the form of a Phabricator project name under which two
// names denote the same group: lower case, without a leading "#", with "*"
// and spaces written as "_" (Phabricator's slug for "acl*security" is
// "acl_security"). GroupKey("#ACL_Security") == GroupKey("acl*security").
func GroupKey(name string) string {
	s := strings.TrimSpace(name)
	s = strings.TrimPrefix(s, "#")
	s = strings.ToLower(s)
	return strings.NewReplacer("*", "_", " ", "_").Replace(s)
}
