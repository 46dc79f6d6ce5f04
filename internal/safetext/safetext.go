// Package safetext makes text that others wrote (comments, names,
// exemption reasons, journal details) safe to show: on a terminal, where
// control characters would drive the terminal and newlines would forge
// lines of the bot's own output, and in a CSV file, where a cell starting
// with a formula character runs as a formula in a spreadsheet. The
// status, journal and report outputs share it, so that each field is
// escaped the same way wherever it is printed.
package safetext

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Line makes s safe to print on a terminal as one line: control
// characters (C0 including tab, CR and newline, DEL, C1), bidi controls
// and invalid UTF-8 become visible escapes such as \x1b, \x0a or \u202e.
// Raw, an ESC sequence could recolour or clear the operator's terminal,
// rewrite its title or hide lines, a newline could forge a line of the
// output, and a bidi override could make "approved" read as something
// else.
func Line(s string) string { return Escape(s, false) }

// Escape is Line; keepLayout leaves newline and tab alone, for output
// whose own layout uses them.
func Escape(s string, keepLayout bool) string {
	if !needsEscape(s, keepLayout) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepLayout && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case unsafeRune(r):
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string, keepLayout bool) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unsafeRune(r) && !(keepLayout && (r == '\n' || r == '\t')) {
			return true
		}
		i += size
	}
	return false
}

// unsafeRune reports whether r changes a terminal's state or the order in
// which text is shown, rather than being shown itself.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, // arabic letter mark, LRM, RLM
		r >= 0x202a && r <= 0x202e, // LRE, RLE, PDF, LRO, RLO
		r >= 0x2066 && r <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	}
	return false
}

// CSVRow keeps a spreadsheet from running a cell as a formula (OWASP's
// CSV injection): a cell starting with = + - @ tab or CR gets a leading
// '. Real names, reasons and comment excerpts are written by the users
// being audited. It returns a copy; row is not changed.
func CSVRow(row []string) []string {
	out := slices.Clone(row)
	for i, s := range out {
		if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			out[i] = "'" + s
		}
	}
	return out
}

// Remarkup makes s inert in Remarkup, for text others wrote (or text that
// quotes them: journal details name approvers) pasted into a task: one
// line in a monospace span, where Phorge renders no mention (which would
// mail and subscribe the person), no embed ({F1}, {T123}) and no markup.
// As the templates' literal does (templates/funcs.go): backticks become
// ', a pipe (which would end a table cell) becomes ¦, and "[[", "##" and
// "${" (which Remarkup reads even inside a span) are broken by a space.
// Unlike literal it never shortens the text: this is evidence. Control
// and bidi characters show as escapes (Line); runs of white space become
// one space. Empty text renders as "".
func Remarkup(s string) string {
	return Span(Line(strings.Join(strings.Fields(s), " ")))
}

// Span puts one line of text, already free of control characters and
// newlines, in a Remarkup monospace span that no rule reads into: the
// steps Remarkup documents above. Empty text renders as "". The templates'
// literal uses it after its own cleaning, so reports and tasks quote user
// text the same way.
func Span(s string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	b.WriteByte('`')
	var prev rune
	for _, r := range s {
		switch {
		case r == '`':
			r = '\''
		case r == '|':
			r = '¦'
		case prev == '[' && r == '[', prev == '#' && r == '#', prev == '$' && r == '{':
			b.WriteByte(' ')
		}
		b.WriteRune(r)
		prev = r
	}
	b.WriteByte('`')
	return b.String()
}
