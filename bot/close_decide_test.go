package bot

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// closingSnapshot is a campaign that can close: ana compliant, bo
// removed, cy (on the team's task) left; a recurring campaign's
// standing task T1.
func closingSnapshot() state.Snapshot {
	snap := remindSnapshot()
	snap.Batches = snap.Batches[:2]
	snap.Findings = snap.Findings[:3]
	snap.Findings[0].Status, snap.Findings[1].Status, snap.Findings[2].Status = state.StatusCompliant, state.StatusRemoved, state.StatusLeft
	snap.Campaign.StandingTaskPHID, snap.Campaign.StandingTaskID = "PHID-TASK-1", 1
	return snap
}

func TestDecideClose(t *testing.T) {
	snap := closingSnapshot()
	v := viewOf(t, parseCampaign(t, "[mfa]", "team: Security-Team\n"), snap)
	ins, err := decideClose(v)
	if err != nil {
		t.Fatal(err)
	}
	closing := func(batch int, task, mono string) decision {
		return decision{Key: closeKey(batch), Kind: state.OpTaskClosed,
			Write: editTaskW{Task: task, Edits: []conduit.Edit{conduit.StatusEdit(taskStatusResolved)}},
			Entry: state.Entry{Actor: "auditbot", ActorKind: state.ActorBot, Task: mono, Outcome: taskStatusResolved}}
	}
	want := []decision{closing(1, "PHID-TASK-5", "T5"), closing(2, "PHID-TASK-6", "T6"), closing(0, "PHID-TASK-1", "T1")}
	got := decisionsOf(ins)
	if diff := cmp.Diff(want, got, ignoreComment); diff != "" {
		t.Fatalf("close (-want +got):\n%s", diff)
	}
	// Each task's summary counts its own users; the standing task's, all.
	for i, counts := range [][]string{{"1 compliant", "1 removed"}, {"1 left"}, {"1 compliant", "1 removed", "1 left"}} {
		for _, c := range counts {
			if !strings.Contains(got[i].Comment, strings.Fields(c)[0]) || !strings.Contains(got[i].Comment, strings.Fields(c)[1]) {
				t.Errorf("%s summary lacks %q:\n%s", got[i].Entry.Task, c, got[i].Comment)
			}
		}
	}
}

func TestCampaignClosed(t *testing.T) {
	at := decideNow.Add(time.Hour)
	for _, tt := range []struct {
		name        string
		closedAt    time.Time
		wantClosed  time.Time
		wantJournal []state.Entry
	}{
		{"closed now", time.Time{}, at, []state.Entry{{At: at, Kind: state.EntryCampaignClosed, Actor: "auditbot", ActorKind: state.ActorBot, Outcome: "closed",
			Detail: "3 task(s) closed; 1 compliant, 1 removed, 1 left-group"}}},
		{"closed before: left as it was", decideNow, decideNow, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			snap := closingSnapshot()
			snap.Campaign.ClosedAt = tt.closedAt
			in := campaignClosed(&snap, 3, at)
			if in.said.text != "campaign closed: 3 task(s) resolved" {
				t.Errorf("said %q", in.said.text)
			}
			after, journal := applyInStore(t, snap, []intent{in}, outcomeOf{})
			if !after.Campaign.ClosedAt.Equal(tt.wantClosed) {
				t.Errorf("closed at %s, want %s", after.Campaign.ClosedAt, tt.wantClosed)
			}
			if diff := cmp.Diff(tt.wantJournal, journal, journalOpts); diff != "" {
				t.Errorf("journal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenReason(t *testing.T) {
	tests := []struct {
		name string
		edit func(*state.Snapshot)
		want string
	}{
		{"done", nil, ""},
		{"someone pending", func(s *state.Snapshot) { s.Findings[0].Status = state.StatusPending }, "@ana is pending"},
		{"exempt until a date to come", func(s *state.Snapshot) {
			s.Findings[0].Status = state.StatusExempt
			s.Findings[0].Exemption = &state.Exemption{Decision: state.ExemptionGranted, Until: decideNow.AddDate(0, 0, 3)}
		}, "@ana is exempt until 2027-01-13"},
		{"a removal batch undecided", func(s *state.Snapshot) {
			// Not moot: it names someone without a finding.
			s.Removals = []state.Removal{{ID: 2, Status: state.RemovalProposed, Items: []state.RemovalItem{{UserPHID: "PHID-USER-bo", Done: true}, {UserPHID: "PHID-USER-zed"}}}}
		}, "removal batch R2 is proposed"},
		{"a removal batch nobody is left in is moot", func(s *state.Snapshot) {
			s.Removals = []state.Removal{{ID: 2, Status: state.RemovalProposed, Items: []state.RemovalItem{{UserPHID: "PHID-USER-ana"}}}}
		}, ""},
		{"a write not confirmed", func(s *state.Snapshot) {
			s.Ops = []state.Op{{Key: "reminder/x", State: state.OpPending}, {Key: string(closeKey(1)), State: state.OpPending}}
		}, "write reminder/x is not confirmed"},
		{"a batch without its task", func(s *state.Snapshot) { s.Batches[1].TaskPHID = "" }, "batch 2 has no task yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := closingSnapshot()
			if tt.edit != nil {
				tt.edit(&snap)
			}
			if got := openReason(&snap, decideNow); !strings.HasPrefix(got, tt.want) || (tt.want == "") != (got == "") {
				t.Errorf("openReason = %q, want %q...", got, tt.want)
			}
		})
	}
}
