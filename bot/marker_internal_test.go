package bot

import (
	"regexp"
	"testing"
)

// anchorRule is Phorge's PhutilRemarkupAnchorRule: `{anchor #NAME}`
// renders nothing visible, when NAME survives normalizeAnchor unchanged
// (lower-case letters, digits, single inner dashes); otherwise the text is
// shown as typed.
var anchorRule = regexp.MustCompile(`^\{anchor\s+#([^\s}]+)\}$`)

func validAnchorName(name string) bool {
	norm := regexp.MustCompile(`[\x00-\x2F\x3A-\x60\x7B-\x7F]+`).ReplaceAllString(name, "-")
	for len(norm) > 0 && norm[0] == '-' {
		norm = norm[1:]
	}
	for len(norm) > 0 && norm[len(norm)-1] == '-' {
		norm = norm[:len(norm)-1]
	}
	return norm == name
}

func TestMarker(t *testing.T) {
	for _, tt := range []struct {
		campaign string
		key      OpKey
	}{
		{"mfa-2027q1", "task/batch-1"},
		{"MFA_2027.Q1", "removal/R1/remove/PHID-PROJ-abcdefghijklmnopqrst"},
		{"c", "replies/batch-12/345"},
	} {
		t.Run(string(tt.key), func(t *testing.T) {
			m := marker(tt.campaign, tt.key)
			sub := anchorRule.FindStringSubmatch(m)
			if sub == nil || !validAnchorName(sub[1]) {
				t.Fatalf("marker %q is not an anchor Phorge hides", m)
			}
			if key, ok := MarkerKey(m, tt.campaign); !ok || OpKey(key) != tt.key {
				t.Errorf("MarkerKey(%q) = %q, %v; want %q", m, key, ok, tt.key)
			}
			if _, ok := MarkerKey(m, tt.campaign+"x"); ok {
				t.Errorf("marker of %s read as one of another campaign", tt.campaign)
			}
			text := withMarker("Hello\n", tt.campaign, tt.key)
			if !hasMarker(text, tt.campaign, tt.key) || hasMarker(text, tt.campaign, tt.key+"0") {
				t.Errorf("hasMarker on %q", text)
			}
			// Texts written before issue 9 carry the visible form.
			legacy := "Hello\n\nauditbot-marker: " + tt.campaign + "/" + string(tt.key)
			if !hasMarker(legacy, tt.campaign, tt.key) {
				t.Errorf("legacy marker not recognised in %q", legacy)
			}
		})
	}
	for _, bad := range []string{"{anchor #auditbot-zz}", "{anchor #auditbot-6d}x", "auditbot-marker", ""} {
		if _, ok := MarkerKey(bad, "m"); ok {
			t.Errorf("MarkerKey(%q) accepted", bad)
		}
	}
}
