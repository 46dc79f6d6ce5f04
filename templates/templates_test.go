package templates

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustLoad(t *testing.T, dir string) *Set {
	t.Helper()
	s, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%q): %v", dir, err)
	}
	return s
}

// overrideDir writes files into a fresh directory and returns it.
func overrideDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestNamesMatchEmbeddedFiles(t *testing.T) {
	files, err := fs.Glob(embedded, "*.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range Names() {
		want = append(want, n.file())
		if Sample(n) == nil {
			t.Errorf("Sample(%q) = nil", n)
		}
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("embedded files differ from Names() (-names +files):\n%s", diff)
	}
	if Sample("no-such-template") != nil {
		t.Error("Sample of an unknown name is not nil")
	}
}

// goldenCases renders every template with its Sample, plus the branches the
// samples do not reach.
func goldenCases() []struct {
	file string
	name Name
	data any
} {
	type tc = struct {
		file string
		name Name
		data any
	}
	var cases []tc
	for _, n := range Names() {
		cases = append(cases, tc{string(n), n, Sample(n)})
	}

	denied := Sample(ExemptionDecision).(ReplyData)
	denied.Decision, denied.Until = DecisionDenied, ""
	denied.Reason = "Hardware keys are available from the office; please use one."
	lastDay := Sample(Reminder).(ReminderData)
	lastDay.DaysLeft, lastDay.Unsubscribed = 0, nil
	single := Sample(TaskTitle).(TaskData)
	single.Batch, single.Batches = 1, 1
	everyone := Sample(DeadlineExtended).(ExtensionData)
	everyone.Users = nil
	rejected := Sample(ApprovalRecorded).(ReplyData)
	rejected.Decision, rejected.Reason = DecisionRejected, "Two of these users enabled MFA this morning."
	onLeave := Sample(ExemptionRequested).(ReplyData)
	onLeave.Reason = ""
	// One item: "this membership", "This user", not "these".
	oneRemoved := Sample(RemovalNotice).(RemovalNoticeData)
	oneRemoved.Removed = oneRemoved.Removed[:1]
	oneProposed := Sample(RemovalProposal).(RemovalProposalData)
	oneProposed.Items = oneProposed.Items[:1]
	twoUnsubscribed := Sample(Reminder).(ReminderData)
	twoUnsubscribed.Unsubscribed = append(twoUnsubscribed.Unsubscribed, twoUnsubscribed.Pending[0])
	// No team: no "tell  on this task" or "ask .".
	noTeamTask := Sample(TaskDescription).(TaskData)
	noTeamTask.Team = ""
	overdue := Sample(ApprovalReminder).(ApprovalReminderData)
	overdue.Overdue, overdue.Days, overdue.TeamTag, overdue.Tasks = true, 14, "#security-team", []string{"T12", "T13"}
	cases = append(cases, tc{"approval-reminder-overdue", ApprovalReminder, overdue})
	quietRun := Sample(RunSummary).(RunSummaryData)
	quietRun.New, quietRun.ReasonCounts, quietRun.Tasks = nil, nil, nil
	cases = append(cases, tc{"run-summary-no-new", RunSummary, quietRun})
	noTeamHuman := Sample(NeedsHuman).(ReplyData)
	noTeamHuman.Team = ""
	// Other criteria: no MFA wording where MFA is not asked for.
	inactivity := Sample(TaskDescription).(TaskData)
	inactivity.Campaign = inactivityCampaign()
	inactivity.Affected = []Affected{{Person: Person{Username: "ada", RealName: "Ada Lovelace"}, Groups: []string{"acl*security"}, Reasons: []string{ReasonInactive}}}
	inactivityTitle := inactivity
	inactivityTitle.Batch, inactivityTitle.Batches = 1, 1
	mixed := Sample(TaskDescription).(TaskData)
	mixed.Criteria, mixed.InactiveDays = []string{CriterionMFA, CriterionInactive}, 365
	mixed.Affected = []Affected{{Person: Person{Username: "ada", RealName: "Ada Lovelace"}, Groups: []string{"WMF-NDA"}, Reasons: []string{ReasonNoMFA, ReasonInactive}}}
	reconfirm := inactivity
	reconfirm.Criteria = []string{CriterionReconfirm}
	reconfirm.Affected = []Affected{{Person: Person{Username: "ada", RealName: "Ada Lovelace"}, Groups: []string{"acl*security"}, Reasons: []string{ReasonReconfirm}}}
	list := inactivity
	list.Criteria = []string{CriterionList}
	list.Affected = []Affected{{Person: Person{Username: "ada", RealName: "Ada Lovelace"}, Groups: []string{"acl*security"}, Reasons: []string{ReasonList}}}
	reconfirmReminder := Sample(Reminder).(ReminderData)
	reconfirmReminder.Campaign = reconfirm.Campaign
	inactiveReminder := Sample(Reminder).(ReminderData)
	inactiveReminder.Campaign = inactivityCampaign()
	mixedReminder := Sample(Reminder).(ReminderData)
	mixedReminder.Campaign = mixed.Campaign
	teamNotice := Sample(RemovalNotice).(RemovalNoticeData)
	teamNotice.TeamTask = true
	teamProposal := Sample(RemovalProposal).(RemovalProposalData)
	teamProposal.TeamTask = true
	inactiveRejected := Sample(ClaimRejected).(ReplyData)
	inactiveRejected.Campaign, inactiveRejected.Reasons, inactiveRejected.Remaining = inactivityCampaign(), []string{CriterionInactive}, []string{ReasonInactive}
	keptRemaining := Sample(Kept).(ReplyData)
	keptRemaining.Campaign = mixed.Campaign
	keptRemaining.Reasons, keptRemaining.Remaining = []string{CriterionMFA, CriterionInactive}, []string{ReasonNoMFA}
	keptByApprover := Sample(Kept).(ReplyData)
	keptByApprover.Campaign = reconfirm.Campaign
	keptByApprover.Reasons, keptByApprover.Kept = []string{CriterionReconfirm}, []string{ReasonReconfirm}
	keptByApprover.Approver = Person{Username: "mkeita", RealName: "Mariam Keita"}
	listNotice := Sample(RemovalNotice).(RemovalNoticeData)
	listNotice.Campaign = list.Campaign
	listAck := Sample(VoluntaryAck).(ReplyData)
	listAck.Campaign, listAck.Reasons = list.Campaign, []string{CriterionList}
	cases = append(cases,
		tc{"task-description-inactivity", TaskDescription, inactivity},
		tc{"task-title-inactivity", TaskTitle, inactivityTitle},
		tc{"task-description-mfa-and-inactive", TaskDescription, mixed},
		tc{"task-description-reconfirm", TaskDescription, reconfirm},
		tc{"task-description-list", TaskDescription, list},
		tc{"reminder-reconfirm", Reminder, reconfirmReminder},
		tc{"reminder-inactivity", Reminder, inactiveReminder},
		tc{"reminder-mfa-and-inactive", Reminder, mixedReminder},
		tc{"removal-notice-team", RemovalNotice, teamNotice},
		tc{"removal-proposal-team", RemovalProposal, teamProposal},
		tc{"claim-rejected-inactivity", ClaimRejected, inactiveRejected},
		tc{"kept-remaining", Kept, keptRemaining},
		tc{"kept-by-approver", Kept, keptByApprover},
		tc{"removal-notice-list", RemovalNotice, listNotice},
		tc{"voluntary-ack-list", VoluntaryAck, listAck},
	)
	// A campaign with action disable: the texts say the account is, or
	// will be, disabled.
	disableTask := Sample(TaskDescription).(TaskData)
	disableTask.Disable = true
	disableReminder := Sample(Reminder).(ReminderData)
	disableReminder.Disable = true
	disableProposal := Sample(RemovalProposal).(RemovalProposalData)
	disableProposal.Disable = true
	disableNotice := Sample(RemovalNotice).(RemovalNoticeData)
	disableNotice.Disable = true
	disableHeld := Sample(RemovalHeld).(RemovalHeldData)
	disableHeld.Disable = true
	disableRestored := Sample(Restored).(ReplyData)
	disableRestored.Disable = true
	disableApprovalReminder := Sample(ApprovalReminder).(ApprovalReminderData)
	disableApprovalReminder.Disable = true
	cases = append(cases,
		tc{"task-description-disable", TaskDescription, disableTask},
		tc{"reminder-disable", Reminder, disableReminder},
		tc{"removal-proposal-disable", RemovalProposal, disableProposal},
		tc{"removal-notice-disable", RemovalNotice, disableNotice},
		tc{"removal-held-disable", RemovalHeld, disableHeld},
		tc{"restored-disable", Restored, disableRestored},
		tc{"approval-reminder-disable", ApprovalReminder, disableApprovalReminder},
	)
	return append(cases,
		tc{"removal-notice-one", RemovalNotice, oneRemoved},
		tc{"removal-proposal-one", RemovalProposal, oneProposed},
		tc{"reminder-two-unsubscribed", Reminder, twoUnsubscribed},
		tc{"task-description-no-team", TaskDescription, noTeamTask},
		tc{"needs-human-no-team", NeedsHuman, noTeamHuman},
		tc{"exemption-decision-denied", ExemptionDecision, denied},
		tc{"reminder-last-day", Reminder, lastDay},
		tc{"task-title-single-batch", TaskTitle, single},
		tc{"deadline-extended-everyone", DeadlineExtended, everyone},
		tc{"exemption-requested-on-leave", ExemptionRequested, onLeave},
		tc{"approval-recorded-rejected", ApprovalRecorded, rejected},
	)
}

// TestGolden compares every rendered text with testdata/NAME.golden;
// UPDATE=1 go test ./templates rewrites the files.
func TestGolden(t *testing.T) {
	s := mustLoad(t, "")
	update := os.Getenv("UPDATE") != ""
	for _, c := range goldenCases() {
		t.Run(c.file, func(t *testing.T) {
			got, err := s.Render(c.name, c.data)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			path := filepath.Join("testdata", c.file+".golden")
			if update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run UPDATE=1 go test ./templates to create it)", err)
			}
			if diff := cmp.Diff(string(want), got+"\n"); diff != "" {
				t.Errorf("%s differs (-golden +rendered); if intended, run UPDATE=1 go test ./templates:\n%s", path, diff)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	s := mustLoad(t, "")
	tests := []struct {
		name    string
		tmpl    Name
		data    any
		wantErr []string // substrings of the error
	}{
		{"unknown template", "no-such", nil, []string{`"no-such"`, "unknown template"}},
		{"wrong data type", Reminder, TaskData{Campaign: sampleCampaign()}, []string{"reminder", "Pending"}},
		{"map without key", TaskTitle, map[string]any{"CutoffDate": "2027-02-28"}, []string{"task-title", `"GroupNames"`}},
		{"unknown decision", ExemptionDecision, ReplyData{Campaign: sampleCampaign(), Decision: "maybe"},
			[]string{"exemption-decision", `"maybe"`}},
		{"empty date", DeadlineExtended, ExtensionData{Campaign: sampleCampaign(), NewCutoff: "2027-03-01"},
			[]string{"deadline-extended", "date: empty string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Render(tt.tmpl, tt.data)
			if err == nil {
				t.Fatal("Render succeeded, want an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestOverride(t *testing.T) {
	t.Run("replaces one template", func(t *testing.T) {
		dir := overrideDir(t, map[string]string{
			"reminder.tmpl":   "Custom reminder for {{mention .Pending}}, {{.DaysLeft}} days left.\n",
			"README.md":       "not a template, ignored",
			".#reminder.tmpl": "editor lock file, ignored",
		})
		if err := os.Mkdir(filepath.Join(dir, "old.tmpl"), 0o755); err != nil {
			t.Fatal(err)
		}
		s := mustLoad(t, dir)
		got, err := s.Render(Reminder, Sample(Reminder))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff("Custom reminder for @ada, @jnunez, 7 days left.", got); diff != "" {
			t.Errorf("override not used (-want +got):\n%s", diff)
		}
		builtin, err := mustLoad(t, "").Render(TaskTitle, Sample(TaskTitle))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Render(TaskTitle, Sample(TaskTitle)); got != builtin {
			t.Errorf("task-title changed by an unrelated override: %q", got)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("Validate: %v", err)
		}
	})

	loadErrors := []struct {
		name    string
		files   map[string]string
		wantErr []string
	}{
		{
			name:    "unknown name",
			files:   map[string]string{"reminders.tmpl": "x"},
			wantErr: []string{"reminders.tmpl", `unknown template "reminders"`},
		},
		{
			name:    "parse error with file and line",
			files:   map[string]string{"reminder.tmpl": "line one\nline two {{.DaysLeft}\nline three\n"},
			wantErr: []string{"reminder.tmpl:2:", "bad character"},
		},
		{
			name:    "unknown function",
			files:   map[string]string{"restored.tmpl": "\n\n{{shout .Username}}"},
			wantErr: []string{"restored.tmpl:3:", `"shout" not defined`},
		},
		{
			name: "every problem reported",
			files: map[string]string{
				"bogus.tmpl":    "x",
				"reminder.tmpl": "{{end}}",
			},
			wantErr: []string{"bogus.tmpl", "reminder.tmpl:1:"},
		},
	}
	for _, tt := range loadErrors {
		t.Run(tt.name, func(t *testing.T) {
			dir := overrideDir(t, tt.files)
			_, err := Load(dir)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the directory %s", err, dir)
			}
		})
	}

	t.Run("missing directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nope")
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("Load(missing dir) error = %v, want one naming %s", err, dir)
		}
	})

	t.Run("missing key fails Render naming it", func(t *testing.T) {
		dir := overrideDir(t, map[string]string{"voluntary-ack.tmpl": "Bye {{mention .Person}}, see {{.Deadline}}.\n"})
		s := mustLoad(t, dir)
		_, err := s.Render(VoluntaryAck, Sample(VoluntaryAck))
		if err == nil {
			t.Fatal("Render succeeded, want an error")
		}
		for _, w := range []string{"voluntary-ack", "voluntary-ack.tmpl:1:", "Deadline"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
	})
}

func TestValidate(t *testing.T) {
	if err := mustLoad(t, "").Validate(); err != nil {
		t.Fatalf("embedded set: %v", err)
	}

	tests := []struct {
		name    string
		files   map[string]string
		wantErr []string
	}{
		{"missing field", map[string]string{"restored.tmpl": "{{mention .Person}} {{.Nope}}"},
			[]string{"restored", "Nope"}},
		{"wrong function argument", map[string]string{"reminder.tmpl": "{{mention .DaysLeft}}"},
			[]string{"reminder", "mention: want Person or []Person, got int"}},
		{"name glued to a word", map[string]string{"compliance-thanks.tmpl": "Thanks{{mention .Person}}!"},
			[]string{"compliance-thanks", "line 1", "glued", `"Thanks"`}},
		{"literal glued to a backtick", map[string]string{"needs-human.tmpl": "Reply: `{{literal .Reason}}`"},
			[]string{"needs-human", "glued"}},
		{"title on two lines", map[string]string{"task-title.tmpl": "Action required\nby {{.CutoffDate}}"},
			[]string{"task-title", "one line"}},
		{"empty text", map[string]string{"restored.tmpl": "{{/* nothing */}}\n"},
			[]string{"restored", "empty"}},
		{"two broken templates", map[string]string{
			"restored.tmpl": "{{.Nope}}", "reminder.tmpl": "{{.Nada}}",
		}, []string{"restored", "Nope", "reminder", "Nada"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustLoad(t, overrideDir(t, tt.files))
			err := s.Validate()
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestNoMFAWordingOutsideMFA checks that texts of campaigns that do not
// audit MFA never speak of it.
func TestNoMFAWordingOutsideMFA(t *testing.T) {
	s := mustLoad(t, "")
	for _, c := range goldenCases() {
		if !strings.Contains(c.file, "inactivity") && !strings.Contains(c.file, "reconfirm") && !strings.Contains(c.file, "-list") &&
			c.file != string(Kept) && c.file != "kept-by-approver" {
			continue
		}
		t.Run(c.file, func(t *testing.T) {
			got, err := s.Render(c.name, c.data)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []string{"MFA", "multi-factor", "Multi-Factor", "`done`"} {
				if strings.Contains(got, w) {
					t.Errorf("text mentions %q:\n%s", w, got)
				}
			}
		})
	}
}
