package bot

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// guardView is the guard's view of batch 1's task (T5): filed, its users
// ana and bo, the team's member tm.
func guardView(t *testing.T, task conduit.Task, subs []string, history []conduit.Transaction) *taskView {
	t.Helper()
	snap := launchedSnapshot()
	snap.Batches[0].TaskPHID, snap.Batches[0].TaskID = "PHID-TASK-5", 5
	task.PHID = "PHID-TASK-5"
	v := viewOf(t, parseCampaign(t, "[mfa]", "team: Security-Team\n"), snap)
	return &taskView{view: v, bt: snap.Batches[0], task: task, subscribers: subs, team: []string{"PHID-USER-tm"}, history: history}
}

func subscribed(id int, by string, whom ...string) conduit.Transaction {
	x := conduit.Transaction{ID: id, Type: xactSubscribers, AuthorPHID: by}
	for _, w := range whom {
		x.Operations = append(x.Operations, conduit.Operation{Operation: "add", PHID: w})
	}
	return x
}

func assigned(id int, by, owner string) conduit.Transaction {
	raw, _ := json.Marshal(owner)
	return conduit.Transaction{ID: id, Type: xactOwner, AuthorPHID: by, New: raw}
}

func TestOutsiders(t *testing.T) {
	tests := []struct {
		name  string
		task  conduit.Task
		subs  []string
		want  access
		needs bool
	}{
		{"the bot's audience only", conduit.Task{OwnerPHID: "PHID-USER-bot"},
			[]string{"PHID-USER-ana", "PHID-USER-bo", "PHID-USER-bot", "PHID-PROJ-team", "PHID-USER-tm"}, access{}, false},
		{"someone else, and an assignee", conduit.Task{OwnerPHID: "PHID-USER-eve"},
			[]string{"PHID-USER-ana", "PHID-USER-mal"}, access{extra: []string{"PHID-USER-mal"}, owner: "PHID-USER-eve"}, true},
		{"the approvers", conduit.Task{}, []string{"PHID-PROJ-admins"}, access{approvers: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outsiders(guardView(t, tt.task, tt.subs, nil))
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(access{})); diff != "" {
				t.Errorf("outsiders (-want +got):\n%s", diff)
			}
			if got.needsHistory() != tt.needs {
				t.Errorf("needsHistory = %v, want %v", got.needsHistory(), tt.needs)
			}
		})
	}
}

func TestAllowApprovers(t *testing.T) {
	members := []string{"PHID-USER-alice", "PHID-USER-bob"}
	tests := []struct {
		name      string
		asked     bool // the batch records that the bot subscribed them
		history   []conduit.Transaction
		wantExtra []string
	}{
		{"asked for a decision: they and their members stay", true, nil, []string{"PHID-USER-mal"}},
		{"subscribed by the bot, by the history", false, []conduit.Transaction{subscribed(3, "PHID-USER-bot", "PHID-PROJ-admins")}, []string{"PHID-USER-mal"}},
		{"subscribed by someone else", false, []conduit.Transaction{subscribed(3, "PHID-USER-eve", "PHID-PROJ-admins")},
			[]string{"PHID-USER-alice", "PHID-USER-mal", "PHID-PROJ-admins"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tv := guardView(t, conduit.Task{}, nil, tt.history)
			tv.bt.ApproversSubscribed = tt.asked
			tv.approvers = members
			got := allowApprovers(tv, access{extra: []string{"PHID-USER-alice", "PHID-USER-mal"}, approvers: true})
			if diff := cmp.Diff(tt.wantExtra, got.extra); diff != "" {
				t.Errorf("extra (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideRevoke(t *testing.T) {
	names := map[string]string{"PHID-USER-eve": "@eve", "PHID-USER-mal": "@mal", "PHID-USER-ana": "@ana", "PHID-PROJ-x": "#x"}
	tests := []struct {
		name    string
		a       access
		history []conduit.Transaction
		want    decision
	}{
		{
			name:    "a subscriber someone added: keyed by that change",
			a:       access{extra: []string{"PHID-USER-mal", "PHID-PROJ-x"}},
			history: []conduit.Transaction{{ID: 1, Type: "create"}, subscribed(4, "PHID-USER-eve", "PHID-USER-mal", "PHID-PROJ-x"), {ID: 9, Type: "comment"}},
			want: decision{Key: accessRevokeKey(1, 4), Kind: state.OpAccessRevoked,
				Write: editTaskW{Task: "PHID-TASK-5", Edits: []conduit.Edit{{Type: "subscribers.remove", Value: []string{"PHID-USER-mal", "PHID-PROJ-x"}}}},
				Entry: state.Entry{Actor: "auditbot", Task: "T5", Detail: "@eve subscribed @mal, @eve subscribed #x; unsubscribed @mal, unsubscribed #x"},
				Said:  "T5: @eve subscribed @mal, @eve subscribed #x; unsubscribed @mal, unsubscribed #x"},
		},
		{
			name:    "an outside assignee: unassigned, then unsubscribed",
			a:       access{owner: "PHID-USER-mal"},
			history: []conduit.Transaction{assigned(6, "PHID-USER-eve", "PHID-USER-mal")},
			want: decision{Key: accessRevokeKey(1, 6), Kind: state.OpAccessRevoked,
				Write: editTaskW{Task: "PHID-TASK-5", Edits: []conduit.Edit{{Type: "owner", Value: nil}},
					Then: []conduit.Edit{{Type: "subscribers.remove", Value: []string{"PHID-USER-mal"}}}},
				Entry: state.Entry{Actor: "auditbot", Task: "T5", Detail: "@eve assigned the task to @mal; unassigned @mal"},
				Said:  "T5: @eve assigned the task to @mal; unassigned @mal"},
		},
		{
			name:    "a user of the batch as assignee stays subscribed",
			a:       access{owner: "PHID-USER-ana"},
			history: []conduit.Transaction{assigned(6, "PHID-USER-eve", "PHID-USER-ana")},
			want: decision{Key: accessRevokeKey(1, 6), Kind: state.OpAccessRevoked,
				Write: editTaskW{Task: "PHID-TASK-5", Edits: []conduit.Edit{{Type: "owner", Value: nil}}},
				Entry: state.Entry{Actor: "auditbot", Task: "T5", Detail: "@eve assigned the task to @ana; unassigned @ana"},
				Said:  "T5: @eve assigned the task to @ana; unassigned @ana"},
		},
		{
			name:    "nothing in the history says who: keyed by the newest transaction",
			a:       access{extra: []string{"PHID-USER-mal"}},
			history: []conduit.Transaction{{ID: 1, Type: "create"}, {ID: 12, Type: "comment"}},
			want: decision{Key: accessRevokeKey(1, 12), Kind: state.OpAccessRevoked,
				Write: editTaskW{Task: "PHID-TASK-5", Edits: []conduit.Edit{{Type: "subscribers.remove", Value: []string{"PHID-USER-mal"}}}},
				Entry: state.Entry{Actor: "auditbot", Task: "T5", Detail: "access given by someone unknown; unsubscribed @mal"},
				Said:  "T5: access given by someone unknown; unsubscribed @mal"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tv := guardView(t, conduit.Task{}, nil, tt.history)
			tv.names = names
			in := decideRevoke(tv, tt.a)
			if diff := cmp.Diff([]decision{tt.want}, decisionsOf([]intent{in})); diff != "" {
				t.Errorf("revoke (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRevokeLanded: after a crash, a revoke landed when the task has
// none of those it removes, and an outside owner is neither assignee nor
// subscriber.
func TestRevokeLanded(t *testing.T) {
	tv := guardView(t, conduit.Task{}, nil, nil)
	in := revokeIntent(tv, accessRevokeKey(1, 4), []string{"PHID-USER-mal"}, "PHID-USER-eve", true, "d", nil)
	tests := []struct {
		name string
		task conduit.Task
		subs []string
		want bool
	}{
		{"all done", conduit.Task{}, []string{"PHID-USER-ana"}, true},
		{"still subscribed", conduit.Task{}, []string{"PHID-USER-mal"}, false},
		{"still assigned", conduit.Task{OwnerPHID: "PHID-USER-eve"}, nil, false},
		{"unassigned but subscribed by it", conduit.Task{}, []string{"PHID-USER-eve"}, false},
	}
	for _, tt := range tests {
		if got := in.landed.taskIs(tt.task, tt.subs); got != tt.want {
			t.Errorf("%s: landed = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPolicyRestore(t *testing.T) {
	want := policyPair{view: conduit.PolicySubscribers, edit: conduit.PolicyAdmin}
	policy := func(id int, by, typ string) conduit.Transaction {
		return conduit.Transaction{ID: id, Type: typ, AuthorPHID: by}
	}
	tests := []struct {
		name    string
		task    conduit.Task
		history []conduit.Transaction
		// changers and names: who changed the policies since the bot
		// last set them, and how the journal names them.
		changers []string
		names    []string
		want     decision
	}{
		{
			name: "made public by an admin",
			task: conduit.Task{ViewPolicy: conduit.PolicyPublic, EditPolicy: conduit.PolicyAdmin},
			history: []conduit.Transaction{policy(1, "PHID-USER-bot", xactViewPolicy), policy(7, "PHID-USER-root", xactViewPolicy),
				policy(8, "PHID-USER-root", xactViewPolicy)},
			changers: []string{"PHID-USER-root"}, names: []string{"@root"},
			want: decision{Key: policyRestoreKey(1, 8), Kind: state.OpPolicyRestored,
				Write: editTaskW{Task: "PHID-TASK-5", Edits: []conduit.Edit{{Type: "view", Value: conduit.PolicySubscribers}}},
				Entry: state.Entry{Actor: "auditbot", Task: "T5", Detail: "policy changed by @root; restored view public -> obj.subscriptions.subscribers"},
				Said:  "T5: policy changed by @root; restored view public -> obj.subscriptions.subscribers"},
		},
		{
			name:     "both policies, by someone the history does not show",
			task:     conduit.Task{ViewPolicy: conduit.PolicyUsers, EditPolicy: conduit.PolicyUsers},
			history:  []conduit.Transaction{{ID: 1, Type: "create"}, {ID: 3, Type: "comment"}},
			changers: nil,
			want: decision{Key: policyRestoreKey(1, 3), Kind: state.OpPolicyRestored,
				Write: editTaskW{Task: "PHID-TASK-5", Edits: []conduit.Edit{{Type: "view", Value: conduit.PolicySubscribers}, {Type: "edit", Value: conduit.PolicyAdmin}}},
				Entry: state.Entry{Actor: "auditbot", Task: "T5", Detail: "policy changed by unknown; restored view users -> obj.subscriptions.subscribers, edit users -> admin"},
				Said:  "T5: policy changed by unknown; restored view users -> obj.subscriptions.subscribers, edit users -> admin"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tv := guardView(t, tt.task, nil, tt.history)
			if _, changers := policyChangers(tt.history, "PHID-USER-bot"); !cmp.Equal(tt.changers, changers) {
				t.Errorf("changers = %v, want %v", changers, tt.changers)
			}
			in := decidePolicyRestore(tv, want, tt.names)
			if diff := cmp.Diff([]decision{tt.want}, decisionsOf([]intent{in})); diff != "" {
				t.Errorf("restore (-want +got):\n%s", diff)
			}
			if !in.landed.taskIs(conduit.Task{ViewPolicy: want.view, EditPolicy: want.edit}, nil) || in.landed.taskIs(tt.task, nil) {
				t.Error("landed does not tell the policies put back from the ones changed")
			}
		})
	}
}

// TestLostAnswersConfirmed: with nothing left to take back, the revokes
// and restores a crash left pending on this task (and only those) are
// confirmed, as recorded.
func TestLostAnswersConfirmed(t *testing.T) {
	tv := guardView(t, conduit.Task{}, nil, nil)
	tv.snap.Ops = []state.Op{
		{Key: string(accessRevokeKey(1, 4)), Kind: state.OpAccessRevoked, State: state.OpPending, Subjects: []string{"@eve"}, Args: map[string]string{argDetail: "@eve subscribed @mal; unsubscribed @mal"}},
		{Key: string(accessRevokeKey(2, 4)), Kind: state.OpAccessRevoked, State: state.OpPending},
		{Key: string(accessRevokeKey(1, 2)), Kind: state.OpAccessRevoked, State: state.OpDone},
		{Key: string(policyRestoreKey(1, 9)), Kind: state.OpPolicyRestored, State: state.OpPending, Subjects: []string{"@root"}},
	}
	revokes := decisionsOf(revokesLanded(tv))
	wantRevokes := []decision{{Key: accessRevokeKey(1, 4), Kind: state.OpAccessRevoked, Write: editTaskW{Task: "PHID-TASK-5"},
		Entry: state.Entry{Actor: "auditbot", Task: "T5", Detail: "@eve subscribed @mal; unsubscribed @mal"},
		Said:  "T5: @eve subscribed @mal; unsubscribed @mal"}}
	if diff := cmp.Diff(wantRevokes, revokes); diff != "" {
		t.Errorf("revokes (-want +got):\n%s", diff)
	}
	want := policyPair{view: conduit.PolicySubscribers, edit: conduit.PolicyAdmin}
	restores := decisionsOf(restoresLanded(tv, want))
	wantRestores := []decision{{Key: policyRestoreKey(1, 9), Kind: state.OpPolicyRestored,
		Write: editTaskW{Task: "PHID-TASK-5", Edits: []conduit.Edit{{Type: "view", Value: want.view}, {Type: "edit", Value: want.edit}}},
		Entry: state.Entry{Actor: "auditbot", Task: "T5", Detail: "policy changed by @root; restored"},
		Said:  "T5: policy changed by @root; restored"}}
	if diff := cmp.Diff(wantRestores, restores); diff != "" {
		t.Errorf("restores (-want +got):\n%s", diff)
	}
}
