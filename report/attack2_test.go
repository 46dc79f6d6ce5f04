package report_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/internal/testkit/testworld"

	"github.com/auditbot/auditbot/report"
	"github.com/auditbot/auditbot/state"
)

// TestAttack2MarkdownReportMentionsPeople: the README promises that the
// `md` report is "Remarkup tables to paste into a task (usernames in
// monospace so pasting mentions nobody)". Only the Username/Actor/Users/
// Approvers columns are put in monospace; free text is not: the
// Exemption column ("granted: <the user's own reason> (decided by @bob)")
// and every journal Detail the bot writes ("keeps access (list), said by
// @bob", "restored by @alice", "exemption granted by @alice, @bob") and
// the user text in it (exemption reasons, needs-human excerpts). Pasting
// the evidence into an audit task mentions the approvers (mail to each,
// and a "mentioned in" story on their profile), and lets the audited user
// choose whom the auditor's paste mentions, and what other Remarkup
// (embeds such as {F1}, {T123}) renders in the evidence.
//
// Sequence: a finding whose exemption reason says "ask @carol {F1}",
// granted by bob; a journal entry "keeps access (list), said by @bob";
// `report --format md`: the text carries @carol and @bob outside any
// monospace span.
//
// Fix: render every free-text cell as a literal (the templates' literal:
// one line in backticks, backticks replaced), or at least break "@" and
// "{" sequences.
func TestAttack2MarkdownReportMentionsPeople(t *testing.T) {
	st := testworld.OpenStore(t, filepath.Join(t.TempDir(), "s.db"))
	t0 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	c := state.Campaign{Name: "mfa", Title: "MFA", LaunchedAt: t0, Cutoff: t0.Add(time.Hour), Groups: []state.Group{{PHID: "G", Name: "acl*security", Risk: "security"}}}
	f := state.Finding{UserPHID: "U", Username: "eve", Groups: []string{"G"}, Status: state.StatusExempt, Batch: 1,
		Exemption: &state.Exemption{Reason: "ask @carol {F1}", Decision: state.ExemptionGranted, DecidedBy: "bob"}}
	if err := st.CreateCampaign(c, []state.Finding{f}, []state.Batch{{Index: 1, UserPHIDs: []string{"U"}, TaskID: 7}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Update("mfa", func(tx *state.CampaignTx) error {
		return tx.Append(state.Entry{At: t0, Kind: state.EntryKept, Task: "T7", User: "eve", Actor: "bob", Detail: "keeps access (list), said by @bob"})
	}); err != nil {
		t.Fatal(err)
	}
	ev, err := report.Build(st, "mfa", "", t0)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := ev.Write(&b, "md"); err != nil {
		t.Fatal(err)
	}
	// Phorge's mention rule, outside monospace spans.
	outside := regexp.MustCompile("`[^`]*`").ReplaceAllString(b.String(), "")
	mention := regexp.MustCompile(`(?:^|[^\w@])@([a-zA-Z0-9._-]*[a-zA-Z0-9_-])`)
	var got []string
	for _, m := range mention.FindAllStringSubmatch(outside, -1) {
		got = append(got, m[1])
	}
	if len(got) > 0 || strings.Contains(outside, "{F1}") {
		t.Errorf("the md report, pasted into a task, mentions %v (embeds {F1}: %v):\n%s", got, strings.Contains(outside, "{F1}"), b.String())
	}
}
