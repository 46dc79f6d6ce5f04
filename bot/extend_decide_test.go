package bot

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/auditbot/auditbot/state"
)

func TestDecideExtend(t *testing.T) {
	to := time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC) // the new deadline: the instant 2027-03-16
	newCutoff := time.Date(2027, 3, 16, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		to       time.Time
		username string
		ops      []state.Op
		wantErr  error
		// wantOp is the extension's op; wantMove whether the deadline
		// moves now.
		wantOp   state.Op
		wantMove bool
		// after checks the state once the move is recorded.
		after func(t *testing.T, s state.Snapshot)
		entry state.Entry
	}{
		{
			name: "the campaign's deadline", to: to,
			wantOp: state.Op{Key: string(extensionKey("2027-03-15", "")), Kind: state.OpDeadlineExtended, State: state.OpPending, CreatedAt: decideNow, Attempts: 1,
				Args: map[string]string{argOld: "2027-02-28", argNew: "2027-03-15", argUser: "", argActor: "op"}},
			wantMove: true,
			after: func(t *testing.T, s state.Snapshot) {
				if !s.Campaign.Cutoff.Equal(newCutoff) {
					t.Errorf("cutoff %s, want %s", s.Campaign.Cutoff, newCutoff)
				}
			},
			entry: state.Entry{At: decideNow, Kind: state.EntryDeadlineExtended, Actor: "op", Detail: "2027-02-28 -> 2027-03-15"},
		},
		{
			name: "one user's, named as the operator typed it", to: to, username: "@ANA",
			wantOp: state.Op{Key: string(extensionKey("2027-03-15", "ana")), Kind: state.OpDeadlineExtended, State: state.OpPending, CreatedAt: decideNow, Attempts: 1,
				Args: map[string]string{argOld: "2027-02-28", argNew: "2027-03-15", argUser: "ana", argActor: "op"}},
			wantMove: true,
			after: func(t *testing.T, s state.Snapshot) {
				if !s.Findings[0].Cutoff.Equal(newCutoff) || !s.Campaign.Cutoff.Equal(testRecord().Cutoff) {
					t.Errorf("ana's cutoff %s and the campaign's %s; want only ana's moved", s.Findings[0].Cutoff, s.Campaign.Cutoff)
				}
			},
			entry: state.Entry{At: decideNow, Kind: state.EntryDeadlineExtended, Actor: "op", User: "ana", Detail: "2027-02-28 -> 2027-03-15"},
		},
		{name: "in the past", to: time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC), wantErr: ErrInput},
		{name: "earlier than now", to: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), wantErr: ErrInput},
		{name: "nobody of that name", to: to, username: "zed", wantErr: ErrInput},
		{
			name: "moved before a crash: the announcements are finished", to: to,
			ops:    []state.Op{{Key: string(extensionKey("2027-03-15", "")), Kind: state.OpDeadlineExtended, State: state.OpPending}},
			wantOp: state.Op{Key: string(extensionKey("2027-03-15", "")), Kind: state.OpDeadlineExtended, State: state.OpPending},
		},
		{
			name: "done before", to: time.Date(2027, 2, 28, 0, 0, 0, 0, time.UTC),
			ops:     []state.Op{{Key: string(extensionKey("2027-02-28", "")), Kind: state.OpDeadlineExtended, State: state.OpDone}},
			wantErr: ErrUnchanged,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := remindSnapshot()
			snap.Ops = tt.ops
			v := viewOf(t, parseCampaign(t, "[mfa]", "team: Security-Team\n"), snap)
			op, move, err := decideExtend(v, tt.to, tt.username, "op")
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("decideExtend: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.wantOp, op, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("op (-want +got):\n%s", diff)
			}
			if (move != nil) != tt.wantMove {
				t.Fatalf("move = %v, want %v", move != nil, tt.wantMove)
			}
			if move == nil {
				return
			}
			after, journal := applyInStore(t, snap, []intent{*move}, outcomeOf{})
			tt.after(t, after)
			if i := slices.IndexFunc(after.Ops, func(o state.Op) bool { return o.Key == op.Key }); i < 0 || after.Ops[i].State != state.OpPending {
				t.Errorf("the extension's op is not recorded pending: %+v", after.Ops)
			}
			if diff := cmp.Diff([]state.Entry{tt.entry}, journal, journalOpts, cmpopts.IgnoreFields(state.Entry{}, "ActorKind")); diff != "" {
				t.Errorf("journal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideExtensionAnnouncements(t *testing.T) {
	snap := remindSnapshot()
	snap.Batches[2].TaskPHID, snap.Batches[2].TaskID = "PHID-TASK-7", 7
	v := viewOf(t, parseCampaign(t, "[mfa]", "team: Security-Team\n"), snap)
	announce := func(key OpKey, task, mono string) decision {
		return decision{Key: key, Kind: state.OpComment, Write: editTaskW{Task: task},
			Entry: state.Entry{Kind: state.EntryExtensionAnnounced, Actor: "op", Task: mono, Detail: "2027-03-15"}}
	}
	for _, tt := range []struct {
		name string
		user string
		want []decision
	}{
		// Every task with someone pending is told.
		{"everyone's", "", []decision{announce(extendKey("2027-03-15", 1), "PHID-TASK-5", "T5"), announce(extendKey("2027-03-15", 2), "PHID-TASK-6", "T6"),
			announce(extendKey("2027-03-15", 3), "PHID-TASK-7", "T7")}},
		{"no one pending by that name", "bo", nil},
		{"one user's", "dee", []decision{announce(userExtendKey("2027-03-15", "dee"), "PHID-TASK-7", "T7")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			op := state.Op{Key: string(extensionKey("2027-03-15", tt.user)), Args: map[string]string{argOld: "2027-02-28", argNew: "2027-03-15", argUser: tt.user, argActor: "op"}}
			p, err := decideExtensionAnnouncements(v, op)
			if err != nil {
				t.Fatal(err)
			}
			got := decisionsOf(p.ins)
			if diff := cmp.Diff(tt.want, got, ignoreComment); diff != "" {
				t.Errorf("announcements (-want +got):\n%s", diff)
			}
			for _, d := range got {
				if !strings.Contains(d.Comment, "2027-02-28") || !strings.Contains(d.Comment, "2027-03-15") {
					t.Errorf("announcement lacks the dates from the op: %q", d.Comment)
				}
			}
			// Once every task is told, the op is done.
			after, _ := applyInStore(t, snap, []intent{extensionAnnounced(op, decideNow)}, outcomeOf{})
			if i := slices.IndexFunc(after.Ops, func(o state.Op) bool { return o.Key == op.Key }); i < 0 || after.Ops[i].State != state.OpDone || !after.Ops[i].DoneAt.Equal(decideNow) {
				t.Errorf("op after the announcements: %+v", after.Ops)
			}
		})
	}
}
