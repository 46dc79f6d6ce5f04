package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/state"
)

// TestCSVControlCharactersInert: a spreadsheet or a terminal showing the
// CSV report meets no raw control or bidirectional character: U+202E
// would reverse what follows it ("approved" reading otherwise), BEL and
// ANSI escapes would drive a terminal that cats the file. They show as
// escapes, as status and the journal print them.
func TestCSVControlCharactersInert(t *testing.T) {
	const evil = "Mallory \u202edevorppa\u202c \x07\x1b[31mred\x1b[0m\nline"
	ev := &Evidence{Campaign: "c", Title: "Audit " + evil, LaunchedAt: t0, Cutoff: t0.AddDate(0, 1, 0),
		Groups:   []state.Group{{Name: "acl*" + evil}},
		Findings: []Finding{{Username: "u", RealName: evil, Groups: []string{"acl*" + evil}, Criteria: []string{"mfa"}, Status: "pending", Exemption: "denied: " + evil}},
		Removals: []Removed{{Removal: "R1", Username: "u", Group: "acl*" + evil, Risk: "internal", Approvals: []Approval{{Approver: "alice", At: t0, Where: "task T1 comment", Verified: evil}}}},
		Events:   []Event{{Seq: 1, At: t0, Recorded: time.Now(), Kind: "needs-human", Actor: "u", Detail: evil, Outcome: evil}},
	}
	var b bytes.Buffer
	if err := ev.Write(&b, "csv"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if i := strings.IndexAny(out, "\u202e\u202c\x07\x1b"); i >= 0 {
		t.Errorf("CSV carries a raw control or bidi character at %d: %q", i, out[max(0, i-30):min(len(out), i+30)])
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	const shown = `Mallory \u202edevorppa\u202c \x07\x1b[31mred\x1b[0m\x0aline`
	found := 0
	for _, r := range rows {
		for _, c := range r {
			found += strings.Count(c, shown)
		}
	}
	// The title, the group (campaign row, finding, removal), the real
	// name, the exemption, how an approval was verified, the detail and
	// the outcome.
	if found < 8 {
		t.Errorf("the text shows with its escapes %d times, want at least 8:\n%s", found, out)
	}
}
