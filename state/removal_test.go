package state

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRemovalApprovalCount: approvals count distinct approvers, each
// only for the items they were shown. The demo's R2 read "3 of 2": alice
// approved on T1 and again on the command line.
func TestRemovalApprovalCount(t *testing.T) {
	at := time.Date(2027, 3, 1, 11, 0, 0, 0, time.UTC)
	aliceT1 := Approval{ApproverPHID: "A", Username: "alice", At: at, Via: "T1", Scope: []int{1}}
	aliceT2 := Approval{ApproverPHID: "A", Username: "alice", At: at, Via: "T2", Scope: []int{2}}
	aliceCLI := Approval{ApproverPHID: "A", Username: "alice", At: at.Add(time.Minute), Via: "cli", Operator: "root"}
	bobCLI := Approval{ApproverPHID: "B", Username: "bob", At: at.Add(2 * time.Minute), Via: "cli", Operator: "root"}
	bobT2 := Approval{ApproverPHID: "B", Username: "bob", At: at, Via: "T2", Scope: []int{2}}
	items := []RemovalItem{{UserPHID: "U1", Batch: 1}, {UserPHID: "U2", Batch: 2}}
	tests := []struct {
		name      string
		items     []RemovalItem
		approvals []Approval
		want      int
		approved  bool
	}{
		{name: "the demo's R2: alice on T1 and on the command line, bob on the command line", items: items, approvals: []Approval{aliceT1, aliceCLI, bobCLI}, want: 2, approved: true},
		{name: "alice twice on the command line", items: items, approvals: []Approval{aliceCLI, aliceCLI}, want: 1},
		{name: "each task approved by a different person: one for each item", items: items, approvals: []Approval{aliceT1, bobT2}, want: 1},
		{name: "one task approved, the other not", items: items, approvals: []Approval{aliceT1}, want: 0},
		{name: "alice on both tasks, bob on one", items: items, approvals: []Approval{aliceT1, aliceT2, bobT2}, want: 1},
		{name: "no items: distinct approvers", approvals: []Approval{aliceCLI, aliceCLI, bobCLI}, want: 2, approved: true},
		{name: "no items, one approver twice", approvals: []Approval{aliceCLI, aliceCLI}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Removal{Items: tt.items, Approvals: tt.approvals, RequiredApprovals: 2}
			if got := r.ApprovalCount(); got != tt.want {
				t.Errorf("ApprovalCount = %d, want %d", got, tt.want)
			}
			if got := r.FullyApproved(); got != tt.approved {
				t.Errorf("FullyApproved = %v, want %v", got, tt.approved)
			}
		})
	}
	r := Removal{Approvals: []Approval{aliceT1, bobCLI, aliceCLI}}
	want := []Approver{{PHID: "A", Username: "alice", Approvals: []Approval{aliceT1, aliceCLI}}, {PHID: "B", Username: "bob", Approvals: []Approval{bobCLI}}}
	if d := cmp.Diff(want, r.ApprovalsByApprover()); d != "" {
		t.Errorf("Approvers (-want +got):\n%s", d)
	}
	var where []string
	for _, a := range r.Approvals {
		where = append(where, a.Where())
	}
	if d := cmp.Diff([]string{"task T1 comment", "command line, operator root", "command line, operator root"}, where); d != "" {
		t.Errorf("Where (-want +got):\n%s", d)
	}
}

func TestCutoffText(t *testing.T) {
	cutoff := time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC) // "cutoff: 2027-06-30"
	if got, want := CutoffText(cutoff), "2027-06-30, end of day UTC"; got != want {
		t.Errorf("CutoffText = %q, want %q", got, want)
	}
}
