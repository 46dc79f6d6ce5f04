package replies_test

import (
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/auditbot/auditbot/bot/replies"
)

var validTarget = regexp.MustCompile(`^[A-Za-z0-9._-]*$`)

// validLabel is a policy finding's label, the target of "!fix".
var validLabel = regexp.MustCompile(`^P[1-9][0-9]*$`)

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	for _, s := range []string{
		"!deny @a\n\n", "%%%", "%%%%%%", "```", "``` ```", "`", "> ", "\n  \n  x\ny",
		"!approve @@", "!restore @a.", "on leave until 9999-12-31", "until 0000-01-01",
		"exemption\xff\xfe", "İ exemption: İİ", "\u200d!approve",
		"!keep @a", "!keep", "keep", "still need it", "I am still here", "!keeping @a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := replies.Parse(in)
		if n := utf8.RuneCountInString(r.Reason); n > replies.MaxReasonRunes {
			t.Errorf("Reason has %d runes, more than %d", n, replies.MaxReasonRunes)
		}
		if !validTarget.MatchString(r.Target) {
			t.Errorf("Target %q is not a username", r.Target)
		}
		if !utf8.ValidString(r.Reason) || !utf8.ValidString(r.Text) {
			t.Errorf("invalid UTF-8 in Reason %q or Text %q", r.Reason, r.Text)
		}
		switch r.Kind {
		case replies.KindApprove, replies.KindDeny:
		case replies.KindFix:
			if !validLabel.MatchString(r.Target) {
				t.Errorf("fix with Target %q, not a finding's label", r.Target)
			}
		case replies.KindRestore, replies.KindKeepUser:
			if r.Target == "" {
				t.Errorf("%v without Target", r.Kind)
			}
		default:
			if r.Target != "" {
				t.Errorf("%v with Target %q", r.Kind, r.Target)
			}
		}
		if r.Kind != replies.KindExemption && !r.Until.IsZero() {
			t.Errorf("%v with Until %v", r.Kind, r.Until)
		}
		if r.Kind != replies.KindExemption && r.Kind != replies.KindDeny && r.Reason != "" {
			t.Errorf("%v with Reason %q", r.Kind, r.Reason)
		}
	})
}
