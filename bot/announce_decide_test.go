package bot

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// What the removal chores tell the tasks (remove.go), decided on view
// literals: the announcement of a batch waiting for approval, which asks
// the approvers; the guard-rail's hold and release; the notices of what
// was removed.

func TestDecideAnnouncements(t *testing.T) {
	announce := func(batch int, task string, n int) intentParts {
		mono := fmt.Sprintf("T%d", batch)
		return intentParts{Key: proposalKey("R1", batch), Kind: state.OpComment,
			Write: comment(task, "", conduit.AddSubscribersEdit(dtApprovers)),
			Entry: state.Entry{Kind: state.EntryRemovalAnnounced, Detail: "R1", Task: mono, Actor: "auditbot"},
			Said:  fmt.Sprintf("announced R1 on %s (%d membership(s))", mono, n)}
	}
	tests := []struct {
		name string
		edit func(v *view)
		want []intentParts
		// subscribed are the tasks whose approvers are recorded as
		// subscribed before anything is posted.
		subscribed []bool
	}{
		{name: "every task of a batch waiting for approval, asking the approvers", edit: func(*view) {},
			want: []intentParts{announce(1, dtTask1, 2), announce(2, dtTask2, 1)}, subscribed: []bool{true, true}},
		{name: "only the tasks with items of the batch", edit: func(v *view) { v.snap.Removals[0].Items = v.snap.Removals[0].Items[2:] },
			want: []intentParts{announce(2, dtTask2, 1)}, subscribed: []bool{false, true}},
		{name: "approvers subscribed before stay so", edit: func(v *view) { v.snap.Batches[0].ApproversSubscribed = true },
			want: []intentParts{announce(1, dtTask1, 2), announce(2, dtTask2, 1)}, subscribed: []bool{true, true}},
		{name: "an approved batch is not announced", edit: func(v *view) { v.snap.Removals[0].Status = state.RemovalApproved }, subscribed: []bool{false, false}},
		{name: "a rejected batch is not announced", edit: func(v *view) { v.snap.Removals[0].Status = state.RemovalRejected }, subscribed: []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := commandWorld(t)
			tt.edit(v)
			ins, err := decideAnnouncements(v)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, parts(ins), cmpIntents); diff != "" {
				t.Errorf("announcements (-want +got):\n%s", diff)
			}
			var got []bool
			for _, bt := range applied(t, v, ins...).Batches {
				got = append(got, bt.ApproversSubscribed)
			}
			if diff := cmp.Diff(tt.subscribed, got); diff != "" {
				t.Errorf("approvers recorded as subscribed, by task (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideHold(t *testing.T) {
	limit := campaigns.RemovalLimit{MaxShare: 0.25}
	over := []templates.HeldGroup{{Group: "WMF-NDA", Remove: 2, Members: 3}}
	const why = "it would remove 2 of the 3 members of WMF-NDA; the guard-rail allows at most 25% of a group's members"
	tests := []struct {
		name     string
		heldWas  string
		over     []templates.HeldGroup
		want     []intentParts
		heldNow  string
		reported bool
	}{
		{name: "over the guard-rail: held", over: over, heldNow: why, reported: true,
			want: []intentParts{{Entry: state.Entry{At: dtNow, Kind: state.EntryRemovalHeld, Detail: "R1: " + why}}}},
		{name: "held already: nothing new", heldWas: why, over: over, heldNow: why},
		{name: "within the guard-rail again: released", heldWas: why, heldNow: "",
			want: []intentParts{{Entry: state.Entry{At: dtNow, Kind: state.EntryRemovalReleased, Detail: "R1: within the guard-rail now (at most 25% of a group's members)"}}}},
		{name: "within the guard-rail, never held: nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := commandWorld(t)
			v.snap.Removals[0].Status, v.snap.Removals[0].Held = state.RemovalApproved, tt.heldWas
			ins := decideHold(v, v.snap.Removals[0], tt.over, limit)
			got := parts(ins)
			for i := range got {
				got[i].Said = ""
			}
			if diff := cmp.Diff(tt.want, got, cmpIntents); diff != "" {
				t.Errorf("hold (-want +got):\n%s", diff)
			}
			if len(ins) > 0 && (ins[0].said.text != "") != tt.reported {
				t.Errorf("reported %q, want a report %v", ins[0].said.text, tt.reported)
			}
			if held := applied(t, v, ins...).Removals[0].Held; held != tt.heldNow {
				t.Errorf("R1 held = %q, want %q", held, tt.heldNow)
			}
		})
	}
}

func TestDecideNotices(t *testing.T) {
	notice := func(batch int, task string, n string) intentParts {
		return intentParts{Key: noticeKey("R1", batch), Kind: state.OpComment, Write: comment(task, ""),
			Entry: state.Entry{Kind: state.EntryRemovalNotice, Detail: "R1: " + n + " membership(s)", Task: fmt.Sprintf("T%d", batch), Actor: "auditbot"}}
	}
	tests := []struct {
		name string
		done []int // indexes of R1's items removed
		want []intentParts
	}{
		{name: "each task is told what was removed of its users", done: []int{0, 1, 2}, want: []intentParts{notice(1, dtTask1, "2"), notice(2, dtTask2, "1")}},
		{name: "only what was removed", done: []int{0}, want: []intentParts{notice(1, dtTask1, "1")}},
		{name: "nothing removed, nobody told"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := commandWorld(t)
			rm := &v.snap.Removals[0]
			rm.Status = state.RemovalApproved
			for _, i := range tt.done {
				rm.Items[i].Done = true
			}
			ins, err := decideNotices(v, *rm)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, parts(ins), cmpIntents); diff != "" {
				t.Errorf("notices (-want +got):\n%s", diff)
			}
			done := removalDone(v, *rm)
			after, _ := appliedJournal(t, v, append(ins, done)...)
			if after.Removals[0].Status != state.RemovalDone || done.entry.Kind != state.EntryRemovalDone {
				t.Errorf("R1 = %s, entry %s after its notices; want done", after.Removals[0].Status, done.entry.Kind)
			}
		})
	}
}
