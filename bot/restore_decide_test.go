package bot

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// Restores (restore.go), decided on view literals: whether a restore may
// start (nobody restores their own access; without force Phabricator
// must show the user compliant), and what a started restore writes.

// removedWorld is ann removed by the campaign from WMF-NDA and
// acl*sre-team, restored restores times before, still without MFA.
func removedWorld(t *testing.T, restores int) *view {
	v := annWorld(t)
	f := v.edit("ann")
	f.Status, f.RemovedFrom, f.Restores, f.RestoreRequested = state.StatusRemoved, []string{dtNDA, dtSRE}, restores, true
	return v
}

func TestDecideRestoreStart(t *testing.T) {
	byAlice := restoreAsk{actor: "alice", approver: "alice", command: "PHID-XACT-20"}
	forced := restoreAsk{force: true, actor: "operator"}
	stillNot := func(reason string) string {
		return "refused: Phabricator still shows @ann as non-compliant (" + reason + "); use --force to restore anyway"
	}
	tests := []struct {
		name     string
		edit     func(v *view)
		restores int
		ask      restoreAsk
		// want is the op recorded; wantErr the refusal, if refused.
		want    state.Op
		wantErr string
	}{
		{name: "compliant now: the restore is recorded before any write", edit: func(v *view) { v.complies("ann") }, ask: byAlice,
			want: state.Op{Key: "restore/ann/1", Kind: state.OpRestore, State: state.OpPending, CreatedAt: dtNow, Attempts: 1,
				Args: map[string]string{argUser: "ann", argActor: "alice", argBy: "alice", argCommand: "PHID-XACT-20", argForce: "false"}}},
		{name: "a second restore has its own key", edit: func(v *view) { v.complies("ann") }, restores: 1, ask: byAlice,
			want: state.Op{Key: "restore/ann/2", Kind: state.OpRestore, State: state.OpPending, CreatedAt: dtNow, Attempts: 1,
				Args: map[string]string{argUser: "ann", argActor: "alice", argBy: "alice", argCommand: "PHID-XACT-20", argForce: "false"}}},
		{name: "still without MFA: refused", ask: byAlice, wantErr: stillNot(templates.ReasonNoMFA)},
		{name: "a disabled account: refused", ask: byAlice, edit: func(v *view) {
			v.complies("ann").users[dtUser("ann")] = conduit.User{PHID: dtUser("ann"), Username: "ann", Roles: []string{"disabled"}}
		}, wantErr: stillNot(templates.ReasonDisabled)},
		{name: "an account Phabricator does not return: refused", ask: byAlice, edit: func(v *view) { delete(v.complies("ann").users, dtUser("ann")) },
			wantErr: stillNot(templates.ReasonDisabled)},
		{name: "forced: whatever Phabricator says", ask: forced,
			want: state.Op{Key: "restore/ann/1", Kind: state.OpRestore, State: state.OpPending, CreatedAt: dtNow, Attempts: 1,
				Args: map[string]string{argUser: "ann", argActor: "operator", argBy: "", argCommand: "", argForce: "true"}}},
		{name: "nobody restores their own access by command", edit: func(v *view) { v.complies("ann") },
			ask: restoreAsk{actor: "ann", approver: "ann", command: "PHID-XACT-20"}, wantErr: "refused: @ann may not restore their own access; another person must decide"},
		{name: "nor from the command line, forced", ask: restoreAsk{force: true, actor: "@Ann"},
			wantErr: "refused: @ann may not restore their own access; another person must decide"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each case has a state file of its own
			v := removedWorld(t, tt.restores)
			if tt.edit != nil {
				tt.edit(v)
			}
			f, _ := v.finding("ann")
			// What it reads: unmetNeeds, and nothing when forced.
			var n needs
			if !tt.ask.force {
				n = unmetNeeds(f)
			}
			for _, view := range []*view{v, observed(v, n)} {
				start, err := decideRestoreStart(view, f, tt.ask)
				if tt.wantErr != "" {
					if !errors.Is(err, ErrRefused) || err.Error() != tt.wantErr {
						t.Fatalf("decideRestoreStart = %v, want ErrRefused %q", err, tt.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("decideRestoreStart: %v", err)
				}
				if start.write != nil || start.key != "" {
					t.Errorf("the restore's start writes %+v; want a state change alone", parts([]intent{start}))
				}
				snap := applied(t, view, start)
				if diff := cmp.Diff([]state.Op{tt.want}, snap.Ops, cmpopts.EquateApproxTime(0)); diff != "" {
					t.Errorf("ops recorded (-want +got):\n%s", diff)
				}
				if got := findingAfter(t, snap, "ann"); got.Status != state.StatusRemoved {
					t.Errorf("ann = %s before anything is written, want removed", got.Status)
				}
			}
		})
	}
}

func TestDecideRestore(t *testing.T) {
	for _, force := range []bool{false, true} {
		t.Run(map[bool]string{false: "checked", true: "forced"}[force], func(t *testing.T) {
			v := removedWorld(t, 0)
			ask := restoreAsk{force: force, actor: "alice", approver: "alice", command: "PHID-XACT-20"}
			f, _ := v.finding("ann")
			start, err := decideRestoreStart(v.complies("ann"), f, ask)
			if err != nil {
				t.Fatal(err)
			}
			v.snap = applied(t, v, start)
			op := v.snap.Ops[0]
			members, done, err := decideRestore(observed(v, needs{}), f, op)
			if err != nil {
				t.Fatal(err)
			}
			detail := "restore #1, force=false"
			if force {
				detail = "restore #1, force=true"
			}
			want := []intentParts{
				{Key: "restore/ann/1/" + dtNDA, Kind: state.OpMemberRestored, Write: editMembers{project: dtNDA, add: []string{dtUser("ann")}},
					Entry: state.Entry{Actor: "alice", User: "ann", Group: "WMF-NDA", Detail: detail}},
				{Key: "restore/ann/1/" + dtSRE, Kind: state.OpMemberRestored, Write: editMembers{project: dtSRE, add: []string{dtUser("ann")}},
					Entry: state.Entry{Actor: "alice", User: "ann", Group: "acl*sre-team", Detail: detail}},
				{Key: "restore/ann/1/comment", Kind: state.OpComment, Write: comment(dtTask1, ""),
					Entry: state.Entry{Kind: state.EntryRestored, Actor: "alice", User: "ann", Task: "T1"}},
			}
			if diff := cmp.Diff(want, parts(append(members, done)), cmpIntents); diff != "" {
				t.Errorf("intents (-want +got):\n%s", diff)
			}
			// A membership write has no marker: it landed if the user is
			// a member.
			if in := members[0].landed; in.project != dtNDA || !in.members([]string{dtUser("bob"), dtUser("ann")}) || in.members([]string{dtUser("bob")}) {
				t.Errorf("landed check of the restore to WMF-NDA: project %s, wrong answer", in.project)
			}
			// The comment credits the approver whose command was verified.
			if text := done.write.(editTask).edits[0].Value.(string); !strings.Contains(text, "as approved by @alice") {
				t.Errorf("restore comment does not credit @alice:\n%s", text)
			}
			after := applied(t, v, done)
			got := findingAfter(t, after, "ann")
			if got.Status != state.StatusRestored || got.Restores != 1 || got.RestoreRequested || got.ForcedRestore != force {
				t.Errorf("ann = %s, %d restore(s), requested %v, forced %v; want restored once, request cleared, forced %v",
					got.Status, got.Restores, got.RestoreRequested, got.ForcedRestore, force)
			}
			if len(after.Ops) != 1 || after.Ops[0].State != state.OpDone || after.Ops[0].DoneAt.IsZero() {
				t.Errorf("restore op after the comment: %+v, want done", after.Ops)
			}
		})
	}
	t.Run("a command-line restore credits no approver", func(t *testing.T) {
		v := removedWorld(t, 0)
		f, _ := v.finding("ann")
		op := state.Op{Key: "restore/ann/1", Kind: state.OpRestore, State: state.OpPending, Args: map[string]string{argUser: "ann", argActor: "operator", argForce: "true"}}
		_, done, err := decideRestore(v, f, op)
		if err != nil {
			t.Fatal(err)
		}
		if text := done.write.(editTask).edits[0].Value.(string); strings.Contains(text, "approved by") {
			t.Errorf("a restore no approver verified credits one:\n%s", text)
		}
	})
	t.Run("a user whose task is not recorded", func(t *testing.T) {
		v := removedWorld(t, 0)
		v.edit("ann").Batch = 7
		f, _ := v.finding("ann")
		if _, _, err := decideRestore(v, f, state.Op{Key: "restore/ann/1"}); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("decideRestore without the user's task: %v, want ErrNotFound", err)
		}
	})
}
