package templates

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/auditbot/auditbot/internal/safetext"
)

// funcs is shared by every parsed template; the functions keep no state.
var funcs = template.FuncMap{
	"mention":  mention,
	"username": username,
	"name":     name,
	"literal":  literalFunc,
	"date":     date,
	"join":     join,
	"plural":   plural,
	"fail":     fail,
}

// mark starts the output of mention, username, name and literal. It is a
// Unicode noncharacter, which clean removes from user text, so every mark in
// an executed template comes from one of these functions; unmark checks what
// precedes each one and removes it.
const mark = '\uFDD0'

// maxLiteral is the most characters of user text a literal shows.
const maxLiteral = 200

// usernameRE is what Phorge's mention rule accepts as a whole username:
// /(?<!\w|@)@([a-zA-Z0-9._-]*[a-zA-Z0-9_-])/ — a trailing "." would be left
// out of the mention, so such a name is not trusted either.
var usernameRE = regexp.MustCompile(`^[A-Za-z0-9._-]*[A-Za-z0-9_-]$`)

// people accepts the argument shapes mention and username take.
func people(fn string, v any) ([]Person, error) {
	switch p := v.(type) {
	case Person:
		return []Person{p}, nil
	case *Person:
		if p == nil {
			return nil, fmt.Errorf("%s: nil *Person", fn)
		}
		return []Person{*p}, nil
	case []Person:
		return p, nil
	}
	return nil, fmt.Errorf("%s: want Person or []Person, got %T", fn, v)
}

// mention renders "@username" for each person, joined with ", ".
func mention(v any) (string, error) {
	ps, err := people("mention", v)
	if err != nil {
		return "", err
	}
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		if usernameRE.MatchString(p.Username) {
			parts = append(parts, "@"+p.Username)
		} else {
			parts = append(parts, literal("@"+p.Username))
		}
	}
	return marked(strings.Join(parts, ", ")), nil
}

// username renders each person's "@username" as inert text, for naming
// people without notifying or subscribing them.
func username(v any) (string, error) {
	ps, err := people("username", v)
	if err != nil {
		return "", err
	}
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		parts = append(parts, literal("@"+p.Username))
	}
	return marked(strings.Join(parts, ", ")), nil
}

// name renders a Person's RealName, or a string, as inert text; an empty
// name renders as nothing.
func name(v any) (string, error) {
	switch p := v.(type) {
	case Person:
		return marked(literal(p.RealName)), nil
	case *Person:
		if p == nil {
			return "", errors.New("name: nil *Person")
		}
		return marked(literal(p.RealName)), nil
	case string:
		return marked(literal(p)), nil
	}
	return "", fmt.Errorf("name: want Person or string, got %T", v)
}

func literalFunc(s string) string { return marked(literal(s)) }

func marked(s string) string {
	if s == "" {
		return ""
	}
	return string(mark) + s
}

// literal makes user text inert in Remarkup by rendering it as `monospace`;
// the package documentation explains each step. Empty text (after cleaning)
// renders as "".
func literal(s string) string { return safetext.Span(clean(s)) }

// clean makes s one line of printable text: invalid UTF-8 is replaced,
// control, bidirectional-override and noncharacter code points are dropped,
// runs of white space (newlines included) become one space, and the result is
// trimmed and cut to maxLiteral characters.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || r == '\u2028' || r == '\u2029':
			space = b.Len() > 0
		case dropped(r):
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteRune(r)
		}
	}
	out := b.String()
	if utf8.RuneCountInString(out) <= maxLiteral {
		return out
	}
	runes := []rune(out)[:maxLiteral-1]
	return strings.TrimRight(string(runes), " ") + "…"
}

// dropped reports whether clean removes r: control characters (which include
// Remarkup's \x01 token byte), bidirectional formatting characters, and
// noncharacters (which include mark).
func dropped(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == '\u061C', r == '\u200E', r == '\u200F',
		r >= '\u202A' && r <= '\u202E', r >= '\u2066' && r <= '\u2069':
		return true
	case r >= '\uFDD0' && r <= '\uFDEF', r&0xFFFE == 0xFFFE:
		return true
	}
	return false
}

// unmark removes the marks and fails if a marked output follows a character
// after which Remarkup would not see a mention or a backtick span.
func unmark(s string) (string, error) {
	if !strings.ContainsRune(s, mark) {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	line := 1
	prev := rune('\n')
	for i, r := range s {
		if r == mark {
			if glued(prev) {
				return "", fmt.Errorf("line %d: %q is glued to the word before it (%q): a mention or name must follow a space or punctuation, or Remarkup does not recognise it",
					line, snippet(s[i+utf8.RuneLen(mark):], false), snippet(b.String(), true))
			}
			continue
		}
		if r == '\n' {
			line++
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String(), nil
}

// snippet returns up to 20 characters of s from its end (tail) or start,
// without marks, for error messages.
func snippet(s string, tail bool) string {
	r := []rune(strings.ReplaceAll(s, string(mark), ""))
	if len(r) > 20 {
		if tail {
			r = r[len(r)-20:]
		} else {
			r = r[:20]
		}
	}
	return string(r)
}

func glued(r rune) bool {
	return r < utf8.RuneSelf && (r == '_' || r == '@' || r == '`' ||
		'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
}

var dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// date renders a time.Time as its UTC date, or passes through a string that
// is already a valid YYYY-MM-DD date; any other string is user text and is
// rendered with literal. A zero time or an empty string is an error, so a
// missing date never reads as "until ." in a posted comment.
func date(v any) (string, error) {
	switch d := v.(type) {
	case time.Time:
		if d.IsZero() {
			return "", errors.New("date: zero time")
		}
		return d.UTC().Format(time.DateOnly), nil
	case string:
		if d == "" {
			return "", errors.New("date: empty string")
		}
		if dateRE.MatchString(d) {
			if _, err := time.Parse(time.DateOnly, d); err == nil {
				return d, nil
			}
		}
		return marked(literal(d)), nil
	}
	return "", fmt.Errorf("date: want time.Time or string, got %T", v)
}

func join(list []string, sep string) string { return strings.Join(list, sep) }

func plural(n int, singular, pluralForm string) string {
	if n == 1 {
		return singular
	}
	return pluralForm
}

func fail(msg string, args ...any) (string, error) {
	for _, a := range args {
		msg += fmt.Sprintf(" %v", a)
	}
	return "", errors.New(msg)
}
