package safetext_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/internal/safetext"
)

func TestLine(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain @nomfa1", "plain @nomfa1"},
		{"why me?\x1b[2J\x07", `why me?\x1b[2J\x07`},
		{"a\nRemoval R9: rejected", `a\x0aRemoval R9: rejected`},
		{"tab\there\r", `tab\x09here\x0d`},
		{"\u202eevorppa", `\u202eevorppa`},
		{"bad \xff byte", `bad \xff byte`},
	} {
		t.Run(tt.want, func(t *testing.T) {
			if got := safetext.Line(tt.in); got != tt.want {
				t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEscapeKeepLayout(t *testing.T) {
	if got, want := safetext.Escape("a\tb\nc\x1b", true), "a\tb\nc\\x1b"; got != want {
		t.Errorf("Escape = %q, want %q", got, want)
	}
}

func TestCSVRow(t *testing.T) {
	in := []string{"=HYPERLINK(\"x\")", "+1", "-1", "@SUM(A1)", "\tx", "ok", "", "a=b"}
	want := []string{"'=HYPERLINK(\"x\")", "'+1", "'-1", "'@SUM(A1)", "'\tx", "ok", "", "a=b"}
	if diff := cmp.Diff(want, safetext.CSVRow(in)); diff != "" {
		t.Errorf("CSVRow (-want +got):\n%s", diff)
	}
	if in[0] != "=HYPERLINK(\"x\")" {
		t.Error("CSVRow changed its argument")
	}
}

func TestRemarkup(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"  ", ""},
		{"keeps access (list), said by @bob", "`keeps access (list), said by @bob`"},
		{"ask @carol {F1}\n|x| `y`", "`ask @carol {F1} ¦x¦ 'y'`"},
		{"[[wiki]] ##x## ${{{y}}}", "`[ [wiki]] # #x# # $ {{{y}}}`"},
		{"a\x1b[2Jb", "`a\\x1b[2Jb`"},
	} {
		if got := safetext.Remarkup(tt.in); got != tt.want {
			t.Errorf("Remarkup(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
