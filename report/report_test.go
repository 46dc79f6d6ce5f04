package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/internal/testkit/testworld"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/state"
)

var (
	t0      = time.Date(2027, 1, 15, 10, 0, 0, 0, time.UTC)
	approve = t0.Add(40 * 24 * time.Hour)
	removed = approve.Add(time.Hour)
)

// hostile is a real name written to break a Remarkup table, mention
// someone, embed a file and inject HTML.
const hostile = "Eve | <img src=x> @alice [[https://evil.example | click]] {F1} `x`\nsecond line"

// evidenceStore is a campaign with two tasks and one executed removal
// batch: carol (on T11) and dave (on T12) were removed, erin's item (on
// T12) was not executed. alice approved on T11, which covers T11's items
// only; bob approved every item on the command line.
func evidenceStore(t *testing.T) *state.Store {
	t.Helper()
	st := testworld.OpenStore(t, filepath.Join(t.TempDir(), "s.db"))
	c := state.Campaign{Name: "mfa", Title: "MFA", LaunchedAt: t0, Cutoff: t0.Add(30 * 24 * time.Hour), BotUsername: "auditbot", ApproversName: "acl*admins",
		Groups: []state.Group{{PHID: "G1", Name: "acl*ops", Risk: "internal"}}}
	findings := []state.Finding{
		{UserPHID: "U1", Username: "carol", RealName: hostile, Groups: []string{"G1"}, Reasons: []string{"mfa"}, Status: state.StatusRemoved, Batch: 1},
		{UserPHID: "U2", Username: "dave", RealName: "Dave", Groups: []string{"G1"}, Reasons: []string{"mfa"}, Status: state.StatusRemoved, Batch: 2},
		{UserPHID: "U3", Username: "erin", RealName: "Erin", Groups: []string{"G1"}, Reasons: []string{"mfa"}, Status: state.StatusPending, Batch: 2},
	}
	batches := []state.Batch{{Index: 1, TaskID: 11, UserPHIDs: []string{"U1"}}, {Index: 2, TaskID: 12, UserPHIDs: []string{"U2", "U3"}}}
	if err := st.CreateCampaign(c, findings, batches); err != nil {
		t.Fatal(err)
	}
	item := func(phid, user string, batch int, done bool) state.RemovalItem {
		return state.RemovalItem{UserPHID: phid, Username: user, GroupPHID: "G1", GroupName: "acl*ops", Risk: "internal", Batch: batch, Done: done}
	}
	if err := st.Update("mfa", func(tx *state.CampaignTx) error {
		rm := state.Removal{ProposedAt: approve, RequiredApprovals: 2, Status: state.RemovalDone,
			Items: []state.RemovalItem{item("U1", "carol", 1, true), item("U2", "dave", 2, true), item("U3", "erin", 2, false)},
			Approvals: []state.Approval{
				{ApproverPHID: "A1", Username: "alice", At: approve, Via: "T11", Verified: "task T11 comment PHID-XACT-1", Scope: []int{1}},
				{ApproverPHID: "A2", Username: "bob", At: approve.Add(time.Minute), Via: "cli", Operator: "ops", Verified: "cli: user.whoami"},
			}}
		if err := tx.PutRemoval(&rm); err != nil {
			return err
		}
		if err := tx.Append(state.Entry{At: removed, Kind: state.EntryMembersRemoved, Group: "acl*ops", Users: []string{"carol", "dave"},
			Approvers: []string{"alice", "bob"}, Detail: "R1: removed 2 member(s) from acl*ops"}); err != nil {
			return err
		}
		return tx.Append(state.Entry{At: removed, Kind: state.EntryNeedsHuman, Task: "T12", User: "erin", Detail: "ping @everyone {F1} | [[x"})
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestBuildRemovals(t *testing.T) {
	st := evidenceStore(t)
	ev, err := Build(st, "mfa", "https://phab.example.org", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	alice := Approval{Approver: "alice", At: approve, Via: "T11", Where: "task T11 comment", Verified: "task T11 comment PHID-XACT-1"}
	bob := Approval{Approver: "bob", At: approve.Add(time.Minute), Via: "cli", Where: "command line, operator ops", Operator: "ops", Verified: "cli: user.whoami"}
	// erin's item was not executed: no row. dave is on T12, which alice's
	// approval on T11 did not show her: only bob's approval is his
	// evidence. The removal time is on the campaign clock, the approvals'.
	want := []Removed{
		{Removal: "R1", Username: "carol", Group: "acl*ops", Risk: "internal", RemovedAt: removed, Task: "T11", TaskURL: "https://phab.example.org/T11", Approvals: []Approval{alice, bob},
			Approvers: 2, Required: 2},
		{Removal: "R1", Username: "dave", Group: "acl*ops", Risk: "internal", RemovedAt: removed, Task: "T12", TaskURL: "https://phab.example.org/T12", Approvals: []Approval{bob},
			Approvers: 1, Required: 2},
	}
	for i := range ev.Removals {
		if ev.Removals[i].Recorded.IsZero() {
			t.Errorf("removal %d: no recorded time", i)
		}
		ev.Removals[i].Recorded = time.Time{}
	}
	if d := cmp.Diff(want, ev.Removals); d != "" {
		t.Errorf("removals (-want +got):\n%s", d)
	}
	if !ev.Chain.OK {
		t.Errorf("chain = %+v, want verified", ev.Chain)
	}
}

func TestWriteFormats(t *testing.T) {
	st := evidenceStore(t)
	ev, err := Build(st, "mfa", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	write := func(t *testing.T, format string) string {
		var b bytes.Buffer
		if err := ev.Write(&b, format); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	t.Run("json", func(t *testing.T) {
		var got Evidence
		if err := json.Unmarshal([]byte(write(t, "json")), &got); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(ev, &got); d != "" {
			t.Errorf("json round trip (-want +got):\n%s", d)
		}
	})
	t.Run("csv", func(t *testing.T) {
		rows, err := csv.NewReader(strings.NewReader(write(t, "csv"))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		var got [][]string
		for _, r := range rows[1:] {
			if r[col["section"]] == "removal" {
				got = append(got, []string{r[col["user"]], r[col["campaign_clock"]], r[col["approvers"]]})
			}
		}
		want := [][]string{
			{"carol", "2027-02-24T11:00:00Z", "alice at 2027-02-24T10:00:00Z (task T11 comment); bob at 2027-02-24T10:01:00Z (command line, operator ops)"},
			{"dave", "2027-02-24T11:00:00Z", "bob at 2027-02-24T10:01:00Z (command line, operator ops)"},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("removal rows (-want +got):\n%s", d)
		}
	})
	t.Run("md", func(t *testing.T) {
		md := write(t, "md")
		for _, line := range strings.Split(md, "\n") {
			if !strings.HasPrefix(line, "|") {
				continue
			}
			// Every row of a table has its header's cell count, counted
			// as Remarkup does: at each "|" outside a [[ … ]] link.
			if n := remarkupCells(line); n != 7 && n != 10 {
				t.Errorf("row with %d cells: %s", n, line)
			}
		}
		for _, s := range []string{
			"| `carol` | `Eve ¦ <img src=x> @alice [ [https://evil.example ¦ click]] {F1} 'x' second line` |",
			"`ping @everyone {F1} ¦ [ [x`",
		} {
			if !strings.Contains(md, s) {
				t.Errorf("report lacks %q:\n%s", s, md)
			}
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if err := ev.Write(&bytes.Buffer{}, "xml"); err == nil {
			t.Error("format xml: no error")
		}
	})
}

// remarkupCells counts a table row's cells the way Phorge's
// PhutilRemarkupSimpleTableBlockRule splits it.
func remarkupCells(line string) int {
	line = strings.TrimRight(line, "|")
	n := 0
	for i := 0; i < len(line); i++ {
		switch {
		case strings.HasPrefix(line[i:], "[["):
			if j := strings.Index(line[i:], "]]"); j >= 0 {
				i += j + 1
			}
		case line[i] == '|':
			n++
		}
	}
	return n
}

func TestCell(t *testing.T) {
	tests := []struct{ in, cell, text string }{
		{"", "", ""},
		{"plain", "plain", "`plain`"},
		// cell is for text the bot chose; text (safetext.Remarkup) for
		// anything someone else wrote.
		{"a|b", "a/b", "`a¦b`"},
		{"line\nbreak\r", "line break ", "`line break`"},
		{"`tick`", "'tick'", "`'tick'`"},
		{"[[[link]]]", "[ [ [link] ] ]", "`[ [ [link]]]`"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := cell(tt.in); got != tt.cell {
				t.Errorf("cell(%q) = %q, want %q", tt.in, got, tt.cell)
			}
			if got := text(tt.in); got != tt.text {
				t.Errorf("text(%q) = %q, want %q", tt.in, got, tt.text)
			}
		})
	}
}

func TestPolicyFindingsInReport(t *testing.T) {
	st := evidenceStore(t)
	if err := st.Update("mfa", func(tx *state.CampaignTx) error {
		c := tx.Campaign()
		c.Policies = []state.PolicyFinding{
			{ID: 1, Object: "#acl_ops", Check: state.PolicyJoin, Value: "users", Safe: "no-one", Why: "all users | can join", Risk: "internal",
				OpenedAt: t0, ClosedAt: approve, FixedBy: []string{"alice", "bob"}, RequiredApprovals: 2},
			{ID: 2, Object: "T5", Check: state.PolicyTaskView, Value: "PHID-PLCY-aaaaaaaaaaaaaaaaaaaa", Why: "a custom policy", Risk: "internal", ByHand: true, OpenedAt: t0},
		}
		return tx.PutCampaign(c)
	}); err != nil {
		t.Fatal(err)
	}
	ev, err := Build(st, "mfa", "", removed)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ev.Policies {
		got = append(got, p.ID+" "+p.State())
	}
	if diff := cmp.Diff([]string{"P1 fixed", "P2 open"}, got); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	var md, cv bytes.Buffer
	if err := ev.Write(&md, "md"); err != nil {
		t.Fatal(err)
	}
	if err := ev.Write(&cv, "csv"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"== Policy findings ==", "| P1 | `#acl_ops` | join |", "`alice`, `bob` (2 of 2)", "(review by hand)"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("md report lacks %q:\n%s", want, md.String())
		}
	}
	if strings.Contains(md.String(), "users | can") {
		t.Errorf("a pipe in a finding's text breaks the table")
	}
	if n := strings.Count(cv.String(), "\npolicy,"); n != 2 {
		t.Errorf("%d policy rows in the csv, want 2", n)
	}
}
