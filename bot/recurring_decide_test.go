package bot

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// runWorld is a recurring campaign before its first run, and what the
// run's scan finds. Recorded: ana pending in WMF-NDA, bo compliant, cy
// removed (no longer a member), dan pending for acl*security only, gus
// removed and re-added by hand since, hal pending for acl*security and
// in an open removal batch. The scan of WMF-NDA finds ana, dan, gus and
// hal failing MFA, and eve, who joined.
func runWorld() (state.Snapshot, *snapshot) {
	rec := testRecord()
	f := func(name string, status state.Status, batch int, group string) state.Finding {
		return state.Finding{UserPHID: "PHID-USER-" + name, Username: name, Reasons: []string{reasonMFA}, Status: status, Batch: batch, Groups: []string{group}}
	}
	snap := state.Snapshot{Campaign: rec,
		Findings: []state.Finding{f("ana", state.StatusPending, 1, "PHID-PROJ-nda"), f("bo", state.StatusCompliant, 1, "PHID-PROJ-nda"),
			f("cy", state.StatusRemoved, 2, "PHID-PROJ-nda"), f("dan", state.StatusPending, 2, "PHID-PROJ-sec"),
			f("gus", state.StatusRemoved, 2, "PHID-PROJ-nda"), f("hal", state.StatusPending, 2, "PHID-PROJ-sec")},
		Batches:  []state.Batch{{Index: 1, TaskPHID: "PHID-TASK-5", TaskID: 5}, {Index: 2, TaskPHID: "PHID-TASK-6", TaskID: 6}},
		Removals: []state.Removal{{ID: 1, Status: state.RemovalApproved, Items: []state.RemovalItem{{UserPHID: "PHID-USER-hal", GroupPHID: "PHID-PROJ-sec"}}}},
	}
	nda := groupView{Project: conduit.Project{PHID: "PHID-PROJ-nda", Name: "WMF-NDA",
		MemberPHIDs: []string{"PHID-USER-ana", "PHID-USER-bo", "PHID-USER-dan", "PHID-USER-eve", "PHID-USER-gus", "PHID-USER-hal"}}, Risk: campaigns.RiskSecurity}
	scan := &snapshot{groups: []groupView{nda}}
	for _, name := range []string{"ana", "dan", "eve", "gus", "hal"} {
		scan.findings = append(scan.findings, plannedFinding{User: conduit.User{PHID: "PHID-USER-" + name, Username: name}, Groups: []groupView{nda}, Reasons: []string{reasonMFA}})
	}
	return snap, scan
}

func TestDecideRun(t *testing.T) {
	runUserOf := func(name string, joined bool) state.RunUser {
		return state.RunUser{PHID: "PHID-USER-" + name, Username: name, Reasons: []string{reasonMFA}, Groups: []string{"WMF-NDA"}, Joined: joined}
	}
	cutoff := testRecord().Cutoff
	tests := []struct {
		name      string
		extra     string
		notice    time.Duration
		wantRun   state.Run
		wantAdded []string
	}{
		{
			// eve is new; dan (found in another group) and gus (re-added
			// after his removal) are audited again; ana is drift's; hal
			// waits for his removal batch.
			name: "join: new batches numbered on", extra: "recurring: {every: 7d}\nbatch_size: 2\n", notice: 30 * 24 * time.Hour,
			wantRun: state.Run{N: 1, At: decideNow, Cutoff: cutoff, Batches: []int{3, 4},
				Found: []string{"PHID-USER-ana", "PHID-USER-dan", "PHID-USER-eve", "PHID-USER-gus", "PHID-USER-hal"},
				New:   []state.RunUser{runUserOf("eve", true), runUserOf("dan", true), runUserOf("gus", true)},
				Fixed: []string{"bo"}, Gone: []string{"cy"}},
			wantAdded: []string{"dan", "eve", "gus"},
		},
		{
			name: "instance: a campaign of its own, with the run's deadline", extra: "recurring: {every: 7d, mode: instance}\n", notice: 60 * 24 * time.Hour,
			wantRun: state.Run{N: 1, At: decideNow, Cutoff: decideNow.Add(60 * 24 * time.Hour), Instance: "test-r1",
				Found: []string{"PHID-USER-ana", "PHID-USER-dan", "PHID-USER-eve", "PHID-USER-gus", "PHID-USER-hal"},
				New:   []state.RunUser{runUserOf("eve", true), runUserOf("dan", true), runUserOf("gus", true)},
				Fixed: []string{"bo"}, Gone: []string{"cy"}},
			wantAdded: []string{"dan", "eve", "gus"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, scan := runWorld()
			c := parseCampaign(t, "[mfa]", "team: Security-Team\n"+tt.extra)
			d := decideRun(c, &snap, scan, decideNow, tt.notice)
			if diff := cmp.Diff(tt.wantRun, d.rn, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("run (-want +got):\n%s", diff)
			}
			var added []string
			for _, pf := range d.added {
				added = append(added, pf.User.Username)
			}
			if diff := cmp.Diff(tt.wantAdded, added); diff != "" {
				t.Errorf("added (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunIntent records a run of mode join: its batches with pending
// findings (those audited again keep their history and the journal says
// why), the run, and its entry, in one transaction; the same moment is
// never recorded twice.
func TestRunIntent(t *testing.T) {
	snap, scan := runWorld()
	snap.Findings[4].RemovedFrom = []string{"PHID-PROJ-nda"}
	c := parseCampaign(t, "[mfa]", "team: Security-Team\nrecurring: {every: 7d}\nbatch_size: 2\n")
	d := decideRun(c, &snap, scan, decideNow, 30*24*time.Hour)
	in := runIntent(d, decideNow)
	if want := "run 1: 3 new, 1 fixed, 1 gone"; in.said.text != want {
		t.Errorf("said %q, want %q", in.said.text, want)
	}
	after, journal := applyInStore(t, snap, []intent{in}, outcomeOf{})
	var batches [][]string
	for _, bt := range after.Batches[2:] {
		if bt.Run != 1 {
			t.Errorf("batch %d: run %d, want 1", bt.Index, bt.Run)
		}
		batches = append(batches, bt.UserPHIDs)
	}
	if diff := cmp.Diff([][]string{{"PHID-USER-dan", "PHID-USER-eve"}, {"PHID-USER-gus"}}, batches); diff != "" {
		t.Errorf("new batches (-want +got):\n%s", diff)
	}
	idx := indexFindings(after.Findings)
	for name, batch := range map[string]int{"dan": 3, "eve": 3, "gus": 4, "ana": 1, "hal": 2} {
		f, _ := idx.finding("PHID-USER-" + name)
		if f.Batch != batch {
			t.Errorf("@%s in batch %d, want %d", name, f.Batch, batch)
		}
	}
	if gus, _ := idx.finding("PHID-USER-gus"); gus.Status != state.StatusPending || !cmp.Equal(gus.RemovedFrom, []string{"PHID-PROJ-nda"}) || !cmp.Equal(gus.Groups, []string{"PHID-PROJ-nda"}) {
		t.Errorf("gus audited again: %+v, want pending in WMF-NDA, his removal kept", gus)
	}
	if len(after.Campaign.Runs) != 1 || !cmp.Equal(after.Campaign.Runs[0].Batches, []int{3, 4}) {
		t.Errorf("runs recorded: %+v", after.Campaign.Runs)
	}
	var kinds []string
	for _, e := range journal {
		kinds = append(kinds, string(e.Kind)+" "+e.User)
	}
	if diff := cmp.Diff([]string{string(state.EntryDrift) + " dan", string(state.EntryDrift) + " gus", string(state.EntryRun) + " "}, kinds); diff != "" {
		t.Errorf("journal (-want +got):\n%s", diff)
	}
	if e := journal[1]; !strings.Contains(e.Detail, "removed -> pending: run 1 found them non-compliant in WMF-NDA; audited again in batch 4") {
		t.Errorf("re-audit entry: %q", e.Detail)
	}

	// The same moment is never recorded twice.
	b := storeBot(t, after)
	if err := b.exec.applyChange(after.Campaign.Name, runIntent(d, decideNow)); err == nil || !strings.Contains(err.Error(), "already recorded") {
		t.Errorf("recording run 1 again: %v, want already recorded", err)
	}
}

func TestDecideRunSummary(t *testing.T) {
	snap, _ := runWorld()
	snap.Campaign.StandingTaskPHID, snap.Campaign.StandingTaskID = "PHID-TASK-1", 1
	snap.Batches = append(snap.Batches, state.Batch{Index: 3, TaskPHID: "PHID-TASK-8", TaskID: 8})
	rn := state.Run{N: 1, At: decideNow, Cutoff: testRecord().Cutoff, Batches: []int{3},
		New: []state.RunUser{{Username: "eve", Reasons: []string{reasonMFA}, Groups: []string{"WMF-NDA"}, Joined: true}}, Fixed: []string{"bo"}, Gone: []string{"cy"}}
	v := viewOf(t, parseCampaign(t, "[mfa]", "team: Security-Team\nrecurring: {every: 7d}\n"), snap)
	in, err := decideRunSummary(v, rn)
	if err != nil || in == nil {
		t.Fatalf("decideRunSummary = %v, %v", in, err)
	}
	got := decisionsOf([]intent{*in})
	want := []decision{{Key: runSummaryKey(1), Kind: state.OpComment, Write: editTaskW{Task: "PHID-TASK-1"},
		Entry: state.Entry{Kind: state.EntryRunSummary, Actor: "auditbot", Task: "T1", Detail: "run 1: 1 new, 1 fixed, 1 gone"},
		Said:  "posted run 1's summary on T1"}}
	if diff := cmp.Diff(want, got, ignoreComment); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	for _, w := range []string{"eve", "bo", "cy", "T8"} {
		if !strings.Contains(got[0].Comment, w) {
			t.Errorf("summary lacks %q:\n%s", w, got[0].Comment)
		}
	}
	// Posted: not again.
	snap.Ops = []state.Op{{Key: string(runSummaryKey(1)), State: state.OpDone}}
	v.snap = snap
	if in, err := decideRunSummary(v, rn); in != nil || err != nil {
		t.Errorf("after it was posted: %v, %v; want nothing", in, err)
	}
}

func TestDecideStandingTask(t *testing.T) {
	rec := testRecord()
	rec.TagPHIDs = []string{"PHID-PROJ-tag"}
	c := parseCampaign(t, "[mfa]", "team: Security-Team\nrecurring: {every: 7d}\n")
	in, spec, err := decideStandingTask(testWords(t), c, &rec)
	if err != nil {
		t.Fatal(err)
	}
	want := conduit.TaskSpec{Title: "MFA audit: recurring scans", SubscriberPHIDs: []string{"PHID-PROJ-team", "PHID-PROJ-admins"},
		ProjectPHIDs: []string{"PHID-PROJ-team", "PHID-PROJ-tag"}, ViewPolicy: conduit.PolicySubscribers, EditPolicy: conduit.PolicyAdmin}
	if diff := cmp.Diff(want, spec, cmpopts.IgnoreFields(conduit.TaskSpec{}, "Description")); diff != "" {
		t.Errorf("standing task (-want +got):\n%s", diff)
	}
	if in.key != standingTaskKey() || in.kind != state.OpTaskCreated {
		t.Errorf("intent %s %s", in.key, in.kind)
	}
	snap := state.Snapshot{Campaign: rec}
	after, _ := applyInStore(t, snap, []intent{in}, outcomeOf{result: "PHID-TASK-1", task: conduit.Task{ID: 1}})
	if after.Campaign.StandingTaskPHID != "PHID-TASK-1" || after.Campaign.StandingTaskID != 1 {
		t.Errorf("standing task recorded as %q T%d", after.Campaign.StandingTaskPHID, after.Campaign.StandingTaskID)
	}

	rec.TeamPHID = ""
	if _, _, err := decideStandingTask(testWords(t), c, &rec); err == nil {
		t.Error("a standing task without a team: no error")
	}
}

func TestNewInstance(t *testing.T) {
	parent := testRecord()
	parent.Runs = []state.Run{{N: 1}}
	parent.RemindersDone = []string{"x"}
	parent.StandingTaskPHID, parent.StandingTaskID = "PHID-TASK-1", 1
	_, scan := runWorld()
	rn := state.Run{N: 2, At: decideNow, Cutoff: decideNow.Add(30 * 24 * time.Hour), Instance: "test-r2"}
	rec, fs, list := newInstance(&parent, rn, scan.findings[:3], 2)
	if rec.Name != "test-r2" || rec.InstanceOf != "test" || !rec.Cutoff.Equal(rn.Cutoff) || rec.Runs != nil || rec.RemindersDone != nil || rec.StandingTaskPHID != "" {
		t.Errorf("instance record: %+v", rec)
	}
	if len(fs) != 3 || len(list) != 2 || fs[2].Batch != 2 || list[1].UserPHIDs[0] != "PHID-USER-eve" {
		t.Errorf("findings %+v in batches %+v", fs, list)
	}
}
