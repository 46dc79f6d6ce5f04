package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// JSONSchema names the shape of every --json output. It changes only when
// a field is removed or changes meaning; added fields keep it.
const JSONSchema = "auditbot/v1"

// Envelope is every --json output: one object whose kind names the
// command's data, so that a script can check what it reads (as kubectl's
// apiVersion and kind).
type Envelope struct {
	Schema string `json:"schema"`
	Kind   string `json:"kind"`
	Data   any    `json:"data"`
}

// writeJSON prints data in the envelope, as kind.
func writeJSON(w io.Writer, kind string, data any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(Envelope{Schema: JSONSchema, Kind: kind, Data: data})
}

// escapeText makes text that others wrote (comments, names, exemption
// reasons, journal details) safe to print on a terminal, as one line:
// control characters (C0 including tab, CR and newline, DEL, C1), bidi
// controls and invalid UTF-8 become visible escapes such as \x1b or
// \u202e. Raw, an ESC sequence could recolour or clear the operator's
// terminal, rewrite its title or hide lines, and a bidi override could
// make "approved" read as something else.
func escapeText(s string) string { return escape(s, false) }

// escape is escapeText; keepLayout leaves newline and tab alone, for
// output whose own layout uses them.
func escape(s string, keepLayout bool) string {
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

// textWriter escapes what passes through it, keeping newlines and tabs:
// for text output assembled elsewhere (status) from fields others wrote.
type textWriter struct{ w io.Writer }

func (t textWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(t.w, escape(string(p), true)); err != nil {
		return 0, err
	}
	return len(p), nil
}
