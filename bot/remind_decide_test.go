package bot

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/state"
)

// remindSnapshot: batch 1 (T5) holds ana (pending) and bo (compliant);
// batch 2 is the team's task (T6, cy); batch 3 (dee, pending) has no task
// yet.
func remindSnapshot() state.Snapshot {
	snap := launchedSnapshot()
	snap.Findings[1].Status = state.StatusCompliant
	snap.Findings = append(snap.Findings, state.Finding{UserPHID: "PHID-USER-dee", Username: "dee", Reasons: []string{reasonMFA},
		Status: state.StatusPending, Batch: 3, Groups: []string{"PHID-PROJ-nda"}})
	snap.Batches[0].TaskPHID, snap.Batches[0].TaskID = "PHID-TASK-5", 5
	snap.Batches[1].TaskPHID, snap.Batches[1].TaskID = "PHID-TASK-6", 6
	snap.Batches = append(snap.Batches, state.Batch{Index: 3, UserPHIDs: []string{"PHID-USER-dee"}})
	return snap
}

func TestDecideCampaignReminders(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC).AddDate(0, 0, -d) }
	tests := []struct {
		name    string
		now     time.Time
		extra   string
		edit    func(*state.Snapshot)
		want    []decision
		noTask  int
		keys    []OpKey
		doneIDs []string // RemindersDone after the done intent; nil: none due
		inText  []string
	}{
		{
			name: "30 days before: on every task with someone to remind, not on the team's", now: day(30),
			want: []decision{{Key: reminderKey("2027-02-28", "30d", 1), Kind: state.OpComment, Write: editTaskW{Task: "PHID-TASK-5"},
				Entry: state.Entry{Kind: state.EntryReminder, Actor: "auditbot", Task: "T5", Detail: "30d before the cutoff, 1 pending"},
				Said:  "reminded 1 pending user(s) on T5 (30d before the cutoff)"}},
			noTask:  1,
			keys:    []OpKey{reminderKey("2027-02-28", "30d", 1), reminderKey("2027-02-28", "30d", 3)},
			doneIDs: []string{"2027-02-28/30d"},
			inText:  []string{"@ana"},
		},
		{
			name: "missed ones are not sent late: only the latest, all marked done", now: day(1),
			edit: func(s *state.Snapshot) { s.Batches = s.Batches[:2] },
			want: []decision{{Key: reminderKey("2027-02-28", "1d", 1), Kind: state.OpComment, Write: editTaskW{Task: "PHID-TASK-5"},
				Entry: state.Entry{Kind: state.EntryReminder, Actor: "auditbot", Task: "T5", Detail: "1d before the cutoff, 1 pending"},
				Said:  "reminded 1 pending user(s) on T5 (1d before the cutoff)"}},
			keys:    []OpKey{reminderKey("2027-02-28", "1d", 1)},
			doneIDs: []string{"2027-02-28/30d", "2027-02-28/7d", "2027-02-28/1d"},
		},
		{
			name: "quiet: a task with nobody pending gets nothing; an extended user has reminders of their own",
			now:  day(7), extra: "quiet_reminders: true\n",
			edit: func(s *state.Snapshot) {
				s.Batches = s.Batches[:2]
				s.Findings[0].Cutoff = time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC)
			},
			doneIDs: []string{"2027-02-28/30d", "2027-02-28/7d"},
		},
		{
			name: "an unsubscribed user is listed, not mentioned", now: day(7),
			edit: func(s *state.Snapshot) { s.Batches = s.Batches[:2]; s.Findings[0].Unsubscribed = true },
			want: []decision{{Key: reminderKey("2027-02-28", "7d", 1), Kind: state.OpComment, Write: editTaskW{Task: "PHID-TASK-5"},
				Entry: state.Entry{Kind: state.EntryReminder, Actor: "auditbot", Task: "T5", Detail: "7d before the cutoff, 0 pending"},
				Said:  "reminded 0 pending user(s) on T5 (7d before the cutoff)"}},
			keys:    []OpKey{reminderKey("2027-02-28", "7d", 1)},
			doneIDs: []string{"2027-02-28/30d", "2027-02-28/7d"},
			inText:  []string{"`@ana`"},
		},
		{
			name: "done already", now: day(7),
			edit: func(s *state.Snapshot) { s.Campaign.RemindersDone = []string{"2027-02-28/30d", "2027-02-28/7d"} },
		},
		{name: "past the cutoff", now: day(-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := remindSnapshot()
			if tt.edit != nil {
				tt.edit(&snap)
			}
			v := viewOf(t, parseCampaign(t, "[mfa]", "team: Security-Team\n"+tt.extra), snap)
			v.now = tt.now
			p, done, err := decideCampaignReminders(v)
			if err != nil {
				t.Fatal(err)
			}
			got := decisionsOf(p.ins)
			if diff := cmp.Diff(tt.want, got, ignoreComment); diff != "" {
				t.Errorf("reminders (-want +got):\n%s", diff)
			}
			if len(p.noTask) != tt.noTask {
				t.Errorf("batches without a task: %v, want %d", p.noTask, tt.noTask)
			}
			if diff := cmp.Diff(tt.keys, sortedKeys(p.keys)); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			for _, w := range tt.inText {
				if len(got) == 0 || !strings.Contains(got[0].Comment, w) {
					t.Errorf("reminder lacks %q: %+v", w, got)
				}
			}
			if done == nil {
				if tt.doneIDs != nil {
					t.Fatalf("no done intent, want %v", tt.doneIDs)
				}
				return
			}
			after, _ := applyInStore(t, snap, []intent{*done}, outcomeOf{})
			if diff := cmp.Diff(tt.doneIDs, after.Campaign.RemindersDone); diff != "" {
				t.Errorf("reminders done (-want +got):\n%s", diff)
			}
		})
	}
}

// ignoreComment leaves the rendered text to inText checks.
var ignoreComment = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Comment" }, cmp.Ignore())

func sortedKeys(m map[OpKey]bool) []OpKey {
	if len(m) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(m))
}

func TestDecideExtendedReminders(t *testing.T) {
	snap := remindSnapshot()
	snap.Batches = snap.Batches[:2]
	snap.Findings[0].Cutoff = time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC) // ana's own deadline: 2027-03-31
	v := viewOf(t, parseCampaign(t, "[mfa]", "team: Security-Team\n"), snap)
	for _, tt := range []struct {
		now  time.Time
		want []decision
	}{
		{time.Date(2027, 3, 3, 9, 0, 0, 0, time.UTC), []decision{{Key: userReminderKey("2027-03-31", "30d", "ana"), Kind: state.OpComment, Write: editTaskW{Task: "PHID-TASK-5"},
			Entry: state.Entry{Kind: state.EntryReminder, Actor: "auditbot", Task: "T5", User: "ana", Detail: "30d before the extended deadline 2027-03-31"},
			Said:  "reminded @ana on T5 (30d before the extended deadline)"}}},
		{time.Date(2027, 2, 1, 9, 0, 0, 0, time.UTC), nil},
		{time.Date(2027, 4, 2, 9, 0, 0, 0, time.UTC), nil},
	} {
		v.now = tt.now
		p, err := decideExtendedReminders(v)
		if err != nil {
			t.Fatal(err)
		}
		got := decisionsOf(p.ins)
		if diff := cmp.Diff(tt.want, got, ignoreComment); diff != "" {
			t.Errorf("at %s (-want +got):\n%s", tt.now, diff)
		}
		if len(got) > 0 && !strings.Contains(got[0].Comment, "@ana") {
			t.Errorf("a personal reminder mentions its user: %q", got[0].Comment)
		}
	}
}

func TestDecideApprovalReminders(t *testing.T) {
	const period = 7 * 24 * time.Hour
	base := func() state.Snapshot {
		snap := remindSnapshot()
		snap.Batches = snap.Batches[:2]
		snap.Removals = []state.Removal{{ID: 1, Status: state.RemovalProposed, RequiredApprovals: 2,
			Items: []state.RemovalItem{{UserPHID: "PHID-USER-ana", Username: "ana", GroupPHID: "PHID-PROJ-nda", Batch: 1}}}}
		snap.Ops = []state.Op{{Key: string(proposalKey("R1", 1)), Kind: state.OpComment, State: state.OpDone}}
		return snap
	}
	reminder := func(period int, days int) decision {
		return decision{Key: approvalReminderKey("R1", 1, period), Kind: state.OpComment, Write: editTaskW{Task: "PHID-TASK-5"},
			Entry: state.Entry{Kind: state.EntryApprovalReminder, Actor: "auditbot", Task: "T5", Detail: strings.Replace("R1 undecided for D day(s), 0 of 2 approval(s)", "D", strconv.Itoa(days), 1)},
			Said:  strings.Replace("reminded the approvers of R1 on T5 (D days undecided)", "D", strconv.Itoa(days), 1)}
	}
	tests := []struct {
		name    string
		waited  time.Duration
		teamTag string
		edit    func(*state.Snapshot)
		want    []decision
		needTag bool
	}{
		{name: "before a period", waited: 6 * 24 * time.Hour},
		{name: "after one period: the approvers, on each task it was announced on", waited: 8 * 24 * time.Hour, want: []decision{reminder(1, 8)}},
		{name: "not announced: not reminded", waited: 8 * 24 * time.Hour, edit: func(s *state.Snapshot) { s.Ops = nil }},
		{name: "moot: nobody left to remove", waited: 8 * 24 * time.Hour, edit: func(s *state.Snapshot) { s.Findings[0].Status = state.StatusCompliant }},
		{
			name: "after two periods the team is told too, on the task", waited: 15 * 24 * time.Hour, teamTag: "#security-team", needTag: true,
			want: []decision{reminder(2, 15), {Key: overdueKey("R1", 1), Kind: state.OpComment, Write: editTaskW{Task: "PHID-TASK-5"},
				Entry: state.Entry{Kind: state.EntryApprovalOverdue, Actor: "auditbot", Task: "T5", Detail: "R1 undecided for 15 day(s): team told"},
				Said:  "told the team that R1 waits undecided, on T5"}},
		},
		{
			name: "a recurring campaign tells the team on its standing task", waited: 15 * 24 * time.Hour, teamTag: "#security-team", needTag: true,
			edit: func(s *state.Snapshot) { s.Campaign.StandingTaskPHID, s.Campaign.StandingTaskID = "PHID-TASK-1", 1 },
			want: []decision{reminder(2, 15), {Key: overdueKey("R1", 0), Kind: state.OpComment, Write: editTaskW{Task: "PHID-TASK-1"},
				Entry: state.Entry{Kind: state.EntryApprovalOverdue, Actor: "auditbot", Task: "T1", Detail: "R1 undecided for 15 day(s): team told"},
				Said:  "told the team that R1 waits undecided, on T1"}},
		},
		{name: "the team's tag could not be read: the approvers only", waited: 15 * 24 * time.Hour, needTag: true, want: []decision{reminder(2, 15)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := base()
			snap.Removals[0].ProposedAt = decideNow.Add(-tt.waited)
			if tt.edit != nil {
				tt.edit(&snap)
			}
			if got := needsTeamTag(&snap, decideNow, period); got != tt.needTag {
				t.Errorf("needsTeamTag = %v, want %v", got, tt.needTag)
			}
			v := viewOf(t, parseCampaign(t, "[mfa]", "team: Security-Team\n"), snap)
			v.teamTag = tt.teamTag
			p, err := decideApprovalReminders(v, period)
			if err != nil {
				t.Fatal(err)
			}
			got := decisionsOf(p.ins)
			if diff := cmp.Diff(tt.want, got, ignoreComment); diff != "" {
				t.Errorf("reminders (-want +got):\n%s", diff)
			}
			for _, d := range got {
				if d.Entry.Kind == state.EntryApprovalOverdue && !strings.Contains(d.Comment, tt.teamTag) {
					t.Errorf("the note to the team does not mention it: %q", d.Comment)
				}
			}
		})
	}
}
