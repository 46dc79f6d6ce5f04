package bot

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// launchedSnapshot is a campaign as launch records it: ana and bo on
// batch 1, cy (disabled) on the team's task, batch 2; no task filed yet.
func launchedSnapshot() state.Snapshot {
	rec := testRecord()
	f := func(name string, batch int, reasons ...string) state.Finding {
		return state.Finding{UserPHID: "PHID-USER-" + name, Username: name, Reasons: reasons, Status: state.StatusPending,
			Batch: batch, Groups: []string{"PHID-PROJ-nda"}, TeamTask: batch == 2}
	}
	return state.Snapshot{Campaign: rec,
		Findings: []state.Finding{f("ana", 1, reasonMFA), f("bo", 1, reasonMFA), f("cy", 2, reasonDisabled)},
		Batches: []state.Batch{
			{Index: 1, UserPHIDs: []string{"PHID-USER-ana", "PHID-USER-bo"}},
			{Index: 2, Team: true, UserPHIDs: []string{"PHID-USER-cy"}},
		}}
}

func TestDecideTask(t *testing.T) {
	tests := []struct {
		name     string
		criteria string
		batch    int
		want     decision
		// inText are words the task's description must have.
		inText []string
	}{
		{
			name: "a batch's task subscribes its users and the team", criteria: "[mfa]", batch: 1,
			want: decision{Key: taskKey(1), Kind: state.OpTaskCreated,
				Write: fileTaskW{conduit.TaskSpec{SubscriberPHIDs: []string{"PHID-USER-ana", "PHID-USER-bo", "PHID-PROJ-team"},
					ProjectPHIDs: []string{"PHID-PROJ-team"}, ViewPolicy: conduit.PolicySubscribers, EditPolicy: conduit.PolicyAdmin}},
				Entry: state.Entry{Actor: "auditbot", Detail: "batch 1: 2 user(s)"}},
			inText: []string{"@ana", "@bo", "2027-02-28"},
		},
		{
			name: "the team's task subscribes none of the users it lists", criteria: "[mfa, disabled]", batch: 2,
			want: decision{Key: taskKey(2), Kind: state.OpTaskCreated,
				Write: fileTaskW{conduit.TaskSpec{SubscriberPHIDs: []string{"PHID-PROJ-team"},
					ProjectPHIDs: []string{"PHID-PROJ-team"}, ViewPolicy: conduit.PolicySubscribers, EditPolicy: conduit.PolicyAdmin}},
				Entry: state.Entry{Actor: "auditbot", Detail: "batch 2: 1 user(s)"}},
			inText: []string{"cy"},
		},
		{
			name: "a list campaign subscribes the approvers from the start", criteria: "[list]", batch: 1,
			want: decision{Key: taskKey(1), Kind: state.OpTaskCreated,
				Write: fileTaskW{conduit.TaskSpec{SubscriberPHIDs: []string{"PHID-USER-ana", "PHID-USER-bo", "PHID-PROJ-team", "PHID-PROJ-admins"},
					ProjectPHIDs: []string{"PHID-PROJ-team"}, ViewPolicy: conduit.PolicySubscribers, EditPolicy: conduit.PolicyAdmin}},
				Entry: state.Entry{Actor: "auditbot", Detail: "batch 1: 2 user(s)"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := campaignWithList(t, tt.criteria)
			snap := launchedSnapshot()
			v := viewOf(t, c, snap)
			in, spec, err := decideTask(v, snap.Batches[tt.batch-1])
			if err != nil {
				t.Fatal(err)
			}
			got := decisionsOf([]intent{in})
			if diff := cmp.Diff([]decision{tt.want}, got, cmpopts.IgnoreFields(conduit.TaskSpec{}, "Title", "Description")); diff != "" {
				t.Errorf("intent (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(fileTaskW{spec}, got[0].Write); diff != "" {
				t.Errorf("the spec read back is not the one filed (-want +got):\n%s", diff)
			}
			for _, w := range tt.inText {
				if !strings.Contains(spec.Description, w) {
					t.Errorf("description lacks %q:\n%s", w, spec.Description)
				}
			}
			// Filed as T7: the batch records its task in the outcome's
			// transaction, and the journal names it.
			after, journal := applyInStore(t, snap, []intent{in}, outcomeOf{result: "PHID-TASK-7", task: conduit.Task{ID: 7}})
			bt := after.Batches[tt.batch-1]
			if bt.TaskPHID != "PHID-TASK-7" || bt.TaskID != 7 || !bt.CreatedAt.Equal(decideNow) {
				t.Errorf("batch after filing = %+v, want task PHID-TASK-7, T7, created %s", bt, decideNow)
			}
			wantJournal := []state.Entry{{At: decideNow, Kind: state.OpTaskCreated.Entry(), Actor: "auditbot", ActorKind: state.ActorBot, Task: "T7", Outcome: "created", Detail: tt.want.Entry.Detail}}
			if diff := cmp.Diff(wantJournal, journal, journalOpts); diff != "" {
				t.Errorf("journal (-want +got):\n%s", diff)
			}
		})
	}
}

// campaignWithList is testCampaign with a team, and a list file when the
// criteria have one.
func campaignWithList(t *testing.T, criteria string) *campaigns.Campaign {
	t.Helper()
	c := parseCampaign(t, "[mfa]", "team: Security-Team\n")
	c.Criteria = nil
	for _, cr := range strings.Split(strings.Trim(criteria, "[]"), ",") {
		c.Criteria = append(c.Criteria, campaigns.Criterion(strings.TrimSpace(cr)))
	}
	return c
}

func TestTaskProblems(t *testing.T) {
	spec := conduit.TaskSpec{ViewPolicy: conduit.PolicySubscribers, EditPolicy: conduit.PolicyAdmin}
	tests := []struct {
		name string
		task conduit.Task
		want []string
	}{
		{"as asked", conduit.Task{ViewPolicy: conduit.PolicySubscribers, EditPolicy: conduit.PolicyAdmin}, nil},
		{"edit policy ignored", conduit.Task{ViewPolicy: conduit.PolicySubscribers, EditPolicy: conduit.PolicyUsers},
			[]string{`edit policy is "users", asked for "admin"`}},
		{"public", conduit.Task{ViewPolicy: conduit.PolicyPublic, EditPolicy: conduit.PolicyAdmin},
			[]string{`view policy is "public", asked for "obj.subscriptions.subscribers"`, "the task is not restricted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, taskProblems(tt.task, spec)); diff != "" {
				t.Errorf("taskProblems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJudgeTaskPolicy(t *testing.T) {
	self := conduit.Whoami{PHID: "PHID-USER-bot", Username: "auditbot", Roles: []string{"admin"}}
	admin := conduit.User{PHID: "PHID-USER-root", Username: "root", Roles: []string{"admin"}}
	ana := conduit.User{PHID: "PHID-USER-ana", Username: "ana"}
	names := func(us ...conduit.User) *snapshot {
		s := &snapshot{}
		for _, u := range us {
			s.findings = append(s.findings, plannedFinding{User: u})
		}
		return s
	}
	view, edit := taskPolicy{name: "view policy"}, taskPolicy{name: "edit policy", edit: true}
	team := &conduit.Project{PHID: "PHID-PROJ-team", Name: "Security-Team", MemberPHIDs: []string{self.PHID, ana.PHID}}
	tests := []struct {
		name   string
		p      taskPolicy
		value  string
		snap   *snapshot
		proj   *conduit.Project
		ok     bool
		detail string
	}{
		{"subscribers may read", view, conduit.PolicySubscribers, names(ana), nil, true, "subscribers (the bot is the author, so subscribed)"},
		{"subscribers may not edit", edit, conduit.PolicySubscribers, names(ana), nil, false, "subscribers: every user a task names"},
		{"all users may not read", view, conduit.PolicyUsers, names(), nil, false, `"users" lets anyone read the tasks`},
		{"admins may edit", edit, conduit.PolicyAdmin, names(ana), nil, true, "administrators"},
		{"not when a task names an admin", edit, conduit.PolicyAdmin, names(ana, admin), nil, false, "the tasks name administrator(s) @root"},
		{"the bot itself", edit, self.PHID, names(admin), nil, true, "one user: PHID-USER-bot (must be the bot)"},
		{"another user", edit, "PHID-USER-x", names(), nil, false, "one user: PHID-USER-x"},
		{"a project the bot is in", view, team.PHID, names(ana), team, true, "members of Security-Team"},
		{"a project with affected users may not edit", edit, team.PHID, names(ana), team, false, "which has affected user(s) @ana"},
		{"a project the bot cannot see", view, "PHID-PROJ-hidden", names(), nil, false, "members of PHID-PROJ-hidden, which the bot is not in"},
		{"a project without the bot", view, "PHID-PROJ-x", names(), &conduit.Project{PHID: "PHID-PROJ-x", Name: "X"}, false, "members of X, which the bot is not in"},
		{"something else", view, "obj.maniphest.author", names(), nil, false, "is not a policy the bot can check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, detail := judgeTaskPolicy(tt.p, tt.value, self, tt.snap, tt.proj)
			if ok != tt.ok || !strings.Contains(detail, tt.detail) {
				t.Errorf("judgeTaskPolicy = %v, %q; want %v, containing %q", ok, detail, tt.ok, tt.detail)
			}
		})
	}
}

func TestDecideLaunch(t *testing.T) {
	c := parseCampaign(t, "[mfa]", "team: Security-Team\nedit_policy: admin\n")
	self := conduit.Whoami{PHID: "PHID-USER-bot", Username: "auditbot"}
	nda := groupView{Project: conduit.Project{PHID: "PHID-PROJ-nda", Name: "WMF-NDA", Slug: "wmf-nda"}, Risk: campaigns.RiskSecurity}
	snap := &snapshot{self: self, groups: []groupView{nda},
		approvers: conduit.Project{PHID: "PHID-PROJ-admins", Name: "acl*admins", Slug: "acl_admins"},
		team:      &conduit.Project{PHID: "PHID-PROJ-team", Name: "Security-Team"},
		findings: []plannedFinding{
			{User: conduit.User{PHID: "PHID-USER-ana", Username: "ana"}, Groups: []groupView{nda}, Reasons: []string{reasonMFA}},
			{User: conduit.User{PHID: "PHID-USER-bo", Username: "bo"}, Groups: []groupView{nda}, Reasons: []string{reasonMFA}},
		},
		listReport: &ListReport{File: "off.txt", Unknown: []string{"zed"}, NotMembers: []string{"api-0123456789abcdefghijklmnopqr"}},
	}
	lr, err := decideLaunch(testWords(t), c, snap, decideNow)
	if err != nil {
		t.Fatal(err)
	}
	if lr.rec.ViewPolicy != conduit.PolicySubscribers || lr.rec.EditPolicy != conduit.PolicyAdmin || !lr.rec.LaunchedAt.Equal(decideNow) {
		t.Errorf("record: view %q, edit %q, launched %s; want subscribers, admin, %s", lr.rec.ViewPolicy, lr.rec.EditPolicy, lr.rec.LaunchedAt, decideNow)
	}
	if len(lr.findings) != 2 || len(lr.batches) != 1 || lr.findings[1].Batch != 1 {
		t.Errorf("findings %+v in batches %+v; want ana and bo in batch 1", lr.findings, lr.batches)
	}
	if len(lr.entries) != 2 || lr.entries[0].Kind != state.EntryLaunch || lr.entries[1].Kind != state.EntryListUnmatched {
		t.Fatalf("entries = %+v, want the launch and the list's unmatched names", lr.entries)
	}
	if want := "2 finding(s) in 1 batch(es), cutoff 2027-02-28"; lr.entries[0].Detail != want {
		t.Errorf("launch entry = %q, want %q", lr.entries[0].Detail, want)
	}
	// A token-shaped name from the list file never reaches the state.
	if e := lr.entries[1]; strings.Contains(e.Detail, "0123456789abcdef") || strings.Contains(strings.Join(e.Users, " "), "0123456789abcdef") {
		t.Errorf("list entry keeps a token-shaped name: %+v", e)
	}

	// A template that fails to render records nothing.
	broken := *c
	broken.ViewPolicy = campaigns.PolicyChoice{Kind: "nonsense"}
	if _, err := decideLaunch(testWords(t), &broken, snap, decideNow); !errors.Is(err, ErrInput) {
		t.Errorf("decideLaunch with an unknown policy: %v, want ErrInput", err)
	}
}

// TestFindingIndex: findingsOf keeps the snapshot's order and lists a
// finding once, also for a user a batch lists twice.
func TestFindingIndex(t *testing.T) {
	fs := []state.Finding{{UserPHID: "a", Username: "a"}, {UserPHID: "b", Username: "b"}, {UserPHID: "c", Username: "c"}}
	idx := indexFindings(fs)
	got := idx.of(state.Batch{UserPHIDs: []string{"c", "a", "zz", "c"}})
	if diff := cmp.Diff([]state.Finding{fs[0], fs[2]}, got); diff != "" {
		t.Errorf("of (-want +got):\n%s", diff)
	}
	if got := idx.of(state.Batch{}); got != nil {
		t.Errorf("of an empty batch = %v, want nil", got)
	}
	if f, ok := idx.finding("b"); !ok || f.Username != "b" {
		t.Errorf("finding(b) = %+v, %v", f, ok)
	}
}
