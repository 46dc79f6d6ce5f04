package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/auditbot/auditbot/bot"
)

// jsonRun runs a command with --json and decodes its one envelope: kind
// and data (into v). Anything but exactly one object on stdout fails.
func (l *lab) jsonRun(t *testing.T, code int, kind string, v any, args ...string) result {
	t.Helper()
	r := l.run(append(args, "--json")...)
	if r.code != code {
		t.Fatalf("auditbot %s --json: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var env json.RawMessage
	if err := dec.Decode(&env); err != nil {
		t.Fatalf("auditbot %s --json: stdout is not JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
	if dec.More() {
		t.Fatalf("auditbot %s --json: more than one object on stdout:\n%s", strings.Join(args, " "), r.stdout)
	}
	if err := unwrapJSON(t, string(env), kind, v); err != nil {
		t.Fatalf("auditbot %s --json: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
	return r
}

// TestJSONEnvelopes: every command that does something for a script
// prints one envelope with --json (kind names the command), and a failure
// prints the error envelope with the exit code, on stdout, as well as the
// message on stderr.
func TestJSONEnvelopes(t *testing.T) {
	l := newLab(t)

	var noState []bot.Status
	l.jsonRun(t, ExitOK, "status", &noState, "status")
	if len(noState) != 0 {
		t.Errorf("status before the first launch: %v, want []", noState)
	}

	broken := l.write("broken.yaml", "name: broken\ncutof: 2027-01-01\n")
	var val ValidateResult
	l.jsonRun(t, ExitUsage, "validate", &val, "validate", filepath.Join(l.campaigns, "mfa-test.yaml"), broken)
	if len(val.Campaigns) != 2 || val.OK || !val.Campaigns[0].OK || val.Campaigns[1].OK || !strings.Contains(val.Campaigns[1].Error, "cutof") {
		t.Errorf("validate with a broken file: %+v", val)
	}
	var ok ValidateResult
	l.jsonRun(t, ExitOK, "validate", &ok, "validate", filepath.Join(l.campaigns, "mfa-test.yaml"))
	if diff := cmp.Diff(ValidateResult{Config: l.config, OK: true, Campaigns: []ValidatedCampaign{{Arg: filepath.Join(l.campaigns, "mfa-test.yaml"),
		Name: "mfa-test", OK: true, Groups: 3, Cutoff: cutoffDate}}}, ok); diff != "" {
		t.Errorf("validate mfa-test.yaml (-want +got):\n%s", diff)
	}

	var launched bot.LaunchResult
	l.jsonRun(t, ExitOK, "launch", &launched, "launch", "mfa-test")
	if launched.Campaign != "mfa-test" || launched.Resumed || len(launched.Tasks) != 2 || !launched.Tasks[0].New || launched.Tasks[0].Task == "" {
		t.Errorf("launch: %+v", launched)
	}

	l.mustRun("tick", "--allow-future", "--now", afterCutoff)
	var shown bot.ApproveResult
	l.jsonRun(t, ExitOK, "approve", &shown, "approve", "mfa-test", "R1", "--token-file", l.tokenFile("alice"))
	if shown.Recorded || shown.Removal != "R1" || shown.Approver != "alice" || shown.Required != 2 || len(shown.Items) != 4 || shown.Digest == "" {
		t.Errorf("approve without --confirm: %+v", shown)
	}
	for i, who := range []string{"alice", "bob"} {
		var rec bot.ApproveResult
		l.jsonRun(t, ExitOK, "approve", &rec, "approve", "mfa-test", "R1", "--token-file", l.tokenFile(who), "--confirm", shown.Digest)
		if !rec.Recorded || rec.Approver != who || rec.Approvals != i+1 || rec.Approved != (i == 1) {
			t.Errorf("approve --confirm as %s: %+v", who, rec)
		}
	}
	l.mustRun("tick", "--allow-future", "--now", afterCutoff)

	var restored RestoreResult
	l.jsonRun(t, ExitOK, "restore", &restored, "restore", "mfa-test", "@dave", "--force", "--as", "carol")
	if diff := cmp.Diff(RestoreResult{Campaign: "mfa-test", User: "dave", Restored: true, Forced: true, Actor: "carol"}, restored); diff != "" {
		t.Errorf("restore (-want +got):\n%s", diff)
	}

	later := time.Now().UTC().AddDate(0, 0, 200).Format(time.DateOnly)
	for _, changed := range []bool{true, false} {
		var ext ExtendResult
		l.jsonRun(t, ExitOK, "extend", &ext, "extend", "mfa-test", "--to", later, "--as", "carol")
		want := ExtendResult{Campaign: "mfa-test", To: later, Changed: changed, Actor: "carol"}
		if diff := cmp.Diff(want, ext, cmpopts.IgnoreFields(ExtendResult{}, "Note")); diff != "" || (ext.Note == "") == !changed {
			t.Errorf("extend (changed %v) (-want +got):\n%s\nnote %q", changed, diff, ext.Note)
		}
	}

	var verified VerifyJournalResult
	l.jsonRun(t, ExitOK, "verify-journal", &verified, "verify-journal")
	if !verified.OK || len(verified.Journals) != 1 || !verified.Journals[0].OK || verified.Journals[0].Campaign != "mfa-test" ||
		verified.Journals[0].Entries == 0 || !strings.HasPrefix(verified.Journals[0].Head, "") || verified.Journals[0].Head == "" {
		t.Errorf("verify-journal: %+v", verified)
	}
	var gone VerifyJournalResult
	l.jsonRun(t, ExitJournal, "verify-journal", &gone, "verify-journal", "--head", "deleted="+verified.Journals[0].Head)
	if gone.OK || len(gone.Journals) != 2 || gone.Journals[0].Campaign != "deleted" || gone.Journals[0].OK || gone.Journals[0].Problem == "" {
		t.Errorf("verify-journal --head of a deleted campaign: %+v", gone)
	}

	var checked StateCheckResult
	l.jsonRun(t, ExitOK, "state-check", &checked, "state", "check")
	if diff := cmp.Diff(StateCheckResult{File: l.statePath, OK: true, Campaigns: 1, Records: checked.Records, Problems: []string{}}, checked); diff != "" || checked.Records == 0 {
		t.Errorf("state check (-want +got):\n%s", diff)
	}

	l.write("campaigns/mfa-weekly.yaml", strings.Replace(campaignYAML, "name: mfa-test", "name: mfa-weekly", 1)+"every: 7d\n")
	l.mustRun("launch", "mfa-weekly")
	var rescan bot.RescanResult
	l.jsonRun(t, ExitOK, "rescan", &rescan, "rescan", "mfa-weekly")
	if rescan.Campaign != "mfa-weekly" || rescan.Run != 1 || rescan.Summary == "" {
		t.Errorf("rescan: %+v", rescan)
	}

	// Failures: the error envelope, with the exit code and its name.
	for _, tt := range []struct {
		args []string
		want ErrorData
	}{
		{[]string{"launch", "mfa-ghost"}, ErrorData{Command: "launch", ExitCode: ExitUsage, ExitName: "usage"}},
		{[]string{"approve", "mfa-test", "R1"}, ErrorData{Command: "approve", ExitCode: ExitUsage, ExitName: "usage"}},
		{[]string{"approve", "mfa-test", "R1", "--token-file", l.tokenFile("mallory")}, ErrorData{Command: "approve", ExitCode: ExitRefused, ExitName: "refused"}},
		{[]string{"restore", "mfa-test", "erin", "--as", "carol"}, ErrorData{Command: "restore", ExitCode: ExitRefused, ExitName: "refused"}},
		{[]string{"extend", "mfa-test", "--to", "2020-01-01", "--as", "carol"}, ErrorData{Command: "extend", ExitCode: ExitUsage, ExitName: "usage"}},
		{[]string{"rescan", "mfa-test"}, ErrorData{Command: "rescan", ExitCode: ExitUsage, ExitName: "usage"}},
		{[]string{"verify-journal", "nope"}, ErrorData{Command: "verify-journal", ExitCode: ExitUsage, ExitName: "usage"}},
		{[]string{"state", "check", "--file", filepath.Join(l.dir, "none.db")}, ErrorData{Command: "state check", ExitCode: ExitUsage, ExitName: "usage"}},
		{[]string{"tick", "--bogus"}, ErrorData{Command: "tick", ExitCode: ExitUsage, ExitName: "usage"}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got ErrorData
			r := l.jsonRun(t, tt.want.ExitCode, "error", &got, tt.args...)
			if got.Error == "" || !strings.Contains(r.stderr, got.Error) {
				t.Errorf("error %q, stderr %q: want the same message in both", got.Error, r.stderr)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(ErrorData{}, "Error")); diff != "" {
				t.Errorf("error envelope (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNoStateFile: before the first launch there is no state file.
// status says there are no campaigns yet and exits 0 (as kubectl's "No
// resources found"); a command about one campaign says it has not been
// launched (exit 2); verify-journal has nothing to verify (0) unless a
// head was kept for a journal (8); none creates the file.
func TestNoStateFile(t *testing.T) {
	l := newLab(t)
	head := "mfa-test=3:" + strings.Repeat("0", 64)
	for _, tt := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"status"}, ExitOK, "no campaigns launched yet (no state file at " + l.statePath, ""},
		{[]string{"status", "mfa-test"}, ExitUsage, "", `"mfa-test" has not been launched (no state file at`},
		{[]string{"journal", "mfa-test"}, ExitUsage, "", `"mfa-test" has not been launched (no state file at`},
		{[]string{"journal", "mfa-test", "--csv"}, ExitUsage, "", `"mfa-test" has not been launched`},
		{[]string{"report", "mfa-test"}, ExitUsage, "", `"mfa-test" has not been launched (no state file at`},
		{[]string{"verify-journal"}, ExitOK, "no journals to verify (no state file at", ""},
		{[]string{"verify-journal", "mfa-test"}, ExitUsage, "", `"mfa-test" has not been launched`},
		{[]string{"verify-journal", "--head", head}, ExitJournal, "mfa-test: BROKEN: the state file holds no journal for mfa-test", ""},
		{[]string{"state", "check"}, ExitUsage, "", "no state file at " + l.statePath},
		{[]string{"state", "backup", filepath.Join(l.dir, "backup.db")}, ExitUsage, "", "no state file at"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := l.run(tt.args...)
			var stdout, stderr []string
			if tt.stdout != "" {
				stdout = []string{tt.stdout}
			}
			if tt.stderr != "" {
				stderr = []string{tt.stderr}
			}
			r.expect(t, tt.code, stdout, stderr)
			if l.stateFile() != nil {
				t.Fatal("a state file was created")
			}
		})
	}
}
