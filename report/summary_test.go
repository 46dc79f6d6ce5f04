package report

import (
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/state"
	"github.com/google/go-cmp/cmp"
)

// TestSummary: the tracking task's summary counts per group and status,
// lists the removal with its approvers and names the journal's head; it
// holds nothing the audit's private tasks keep (real names, criteria,
// details, task monograms) and every name is in a monospace span.
func TestSummary(t *testing.T) {
	st := evidenceStore(t)
	if err := st.Update("mfa", func(tx *state.CampaignTx) error {
		return tx.Append(state.Entry{At: removed.Add(time.Hour), Kind: state.EntryMemberRestored, Actor: "alice", User: "dave", Group: "acl*ops", Detail: "restore #1, force=false"})
	}); err != nil {
		t.Fatal(err)
	}
	snap, err := st.Snapshot("mfa")
	if err != nil {
		t.Fatal(err)
	}
	journal, check, err := st.CheckedJournal("mfa")
	if err != nil {
		t.Fatal(err)
	}
	s := Summarize(&snap, journal, check)
	if s.Head.Seq != 3 || s.Head.Hash == "" || !s.Chain.OK {
		t.Fatalf("head %v chain %+v", s.Head, s.Chain)
	}
	wantCounts := []GroupCounts{{Group: "acl*ops", Counts: []StatusCount{{"removed", 2}, {"pending", 1}}}}
	if d := cmp.Diff(wantCounts, s.Counts); d != "" {
		t.Errorf("counts (-want +got):\n%s", d)
	}
	got := s.Remarkup()
	for _, want := range []string{
		"= Audit summary: `MFA` =",
		"| Group | removed | pending |",
		"| `acl*ops` | 2 | 1 |",
		"| 1 | 2027-02-24T11:00:00Z | `carol`, `dave` | removed from | `acl*ops` | `alice`, `bob` |",
		"| 3 | 2027-02-24T12:00:00Z | `dave` | restored to | `acl*ops` | `alice` |",
		"auditbot verify-journal mfa --head mfa=" + s.Head.String(),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	for _, private := range []string{"Eve", "img", "mfa\"", " T11", " T12", "erin", "everyone", "R1", "Detail", "force"} {
		if strings.Contains(got, private) {
			t.Errorf("summary holds %q, which stays on the audit's tasks:\n%s", private, got)
		}
	}
	// Outside spans and the code block, no @, no [[, no {.
	outside := spans(got)
	if strings.ContainsAny(outside, "@{") || strings.Contains(outside, "[[") {
		t.Errorf("live markup outside spans: %q", outside)
	}
}

// spans removes the monospace spans and fenced blocks of a Remarkup text.
func spans(s string) string {
	var b strings.Builder
	for i, part := range strings.Split(s, "```") {
		if i%2 == 1 {
			continue
		}
		for j, q := range strings.Split(part, "`") {
			if j%2 == 0 {
				b.WriteString(q)
			}
		}
	}
	return b.String()
}

// TestSummaryHostileNames: a group or user name written to mention, link
// or break the table stays inert, and an empty campaign says so.
func TestSummaryHostileNames(t *testing.T) {
	snap := state.Snapshot{Campaign: state.Campaign{Name: "c", Title: hostile, LaunchedAt: t0, Cutoff: t0,
		Groups: []state.Group{{PHID: "G", Name: hostile}}}}
	journal := []state.Entry{{Seq: 1, At: t0, Kind: state.EntryMembersRemoved, Users: []string{"@bob", hostile}, Group: hostile, Approvers: []string{"@alice|x"}},
		{Seq: 2, At: t0, Kind: state.EntryMembersRemoved, User: "u", Group: "g", Verified: "auto-approved by the campaign's policy"}}
	got := Summarize(&snap, journal, state.JournalCheck{OK: true}).Remarkup()
	if out := spans(got); strings.ContainsAny(out, "@{<") || strings.Contains(out, "[[") {
		t.Errorf("live markup outside spans: %q\n%s", out, got)
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "| 1 |") && strings.Count(line, "|") != 7 {
			t.Errorf("a name moved the table's cells: %q", line)
		}
	}
	for _, want := range []string{"No member of the audited groups was found failing the audit.", "`u` | removed from | `g` | `auto-approved by the campaign's policy`", "no hashed entry"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}
