package state

import (
	"slices"
	"time"
)

// PolicyCheck names what a policy finding is about. Stored: never renamed.
type PolicyCheck string

// The policy checks.
const (
	// PolicyJoin: who may join an audited group.
	PolicyJoin PolicyCheck = "join"
	// PolicyEdit: who may edit an audited group, and so add members.
	PolicyEdit PolicyCheck = "edit"
	// PolicyView: who may see a security group and its member list.
	PolicyView PolicyCheck = "view"
	// PolicyMember: a bot or mailing list is a member of the group.
	PolicyMember PolicyCheck = "member"
	// PolicyTaskView and PolicyTaskEdit: who may see or edit a task the
	// campaign's scope or Spaces hold.
	PolicyTaskView PolicyCheck = "task-view"
	PolicyTaskEdit PolicyCheck = "task-edit"
)

// PolicyFinding is one risky policy (or member) the policy criterion found
// on an audited group or a task it guards. Key identifies it across ticks:
// the same object, check and value found again is the same finding.
type PolicyFinding struct {
	ID int `json:"id"`
	// Key is ObjectPHID/Check[/Subject]: Subject is the member for a
	// member finding.
	Key        string      `json:"key"`
	ObjectPHID string      `json:"object_phid"`
	Object     string      `json:"object"` // "#acl-security" or "T12", for people
	Check      PolicyCheck `json:"check"`
	// Subject is the member a member finding is about.
	Subject string `json:"subject,omitempty"`
	// Value is the policy found (as Conduit shows it); Safe the value the
	// bot would set, "" when it cannot set one (a member, a custom
	// policy to review by hand).
	Value  string `json:"value"`
	Safe   string `json:"safe,omitempty"`
	Why    string `json:"why"`
	Risk   string `json:"risk"`
	ByHand bool   `json:"by_hand,omitempty"`
	// NoBotFix: the bot could not set Safe (it would shut itself out).
	NoBotFix bool `json:"no_bot_fix,omitempty"`
	// OpenedAt and ClosedAt: found, and found no longer (or fixed).
	OpenedAt time.Time `json:"opened_at"`
	ClosedAt time.Time `json:"closed_at,omitzero"`
	// FixedBy names the approvers whose !fix the bot carried out.
	FixedBy []string `json:"fixed_by,omitempty"`
	// RequiredApprovals is the quorum of a fix, by the group's risk.
	RequiredApprovals int `json:"required_approvals"`
	// Approvals are the !fix comments counted so far.
	Approvals []Approval `json:"approvals,omitempty"`
}

// Label is the finding's name in texts and commands: "P1".
func (f *PolicyFinding) Label() string { return "P" + itoa(f.ID) }

// Open reports whether the finding still stands.
func (f *PolicyFinding) Open() bool { return f.ClosedAt.IsZero() }

// Fixable reports whether the bot can set the safe value itself.
func (f *PolicyFinding) Fixable() bool { return f.Safe != "" && !f.ByHand && !f.NoBotFix }

// ApprovedBy reports whether approver has given a !fix that counts.
func (f *PolicyFinding) ApprovedBy(approver string) bool {
	return slices.ContainsFunc(f.Approvals, func(a Approval) bool { return a.ApproverPHID == approver })
}

// PolicyTask is the team's task that lists the policy findings, and what
// the bot has read and said on it.
type PolicyTask struct {
	TaskID   int    `json:"task_id"`
	TaskPHID string `json:"task_phid"`
	// TxCursor is the id of the last transaction read for !fix.
	TxCursor int `json:"tx_cursor"`
	// Said is the findings (labels, open) the task last listed, so that
	// a tick comments only when they change.
	Said []string `json:"said,omitempty"`
	// Updates counts the comments the bot posted on the task (the next
	// one's key).
	Updates int `json:"updates,omitempty"`
	// Answers are the answers to commands read on the task, not yet
	// posted: the next comment carries them.
	Answers []string `json:"answers,omitempty"`
	// Seen is the task guard's cursor on the task (see Batch.Seen).
	Seen TaskSeen `json:"seen,omitzero"`
	// Shown maps a finding's label to the id of the bot's comment on the
	// task that first listed it (0: the task's description listed it):
	// a "!fix" counts only if it comes after, as an approval covers only
	// what its approver was shown. nil in a record made before it
	// existed: then Said stands in.
	Shown map[string]int `json:"shown,omitempty"`
}

// ShownBefore reports whether the finding labelled label was listed on
// the task before transaction txID.
func (t *PolicyTask) ShownBefore(label string, txID int) bool {
	if t.Shown == nil {
		for _, l := range t.Said {
			if l == label {
				return true
			}
		}
		return false
	}
	id, ok := t.Shown[label]
	return ok && id < txID
}

// Monogram returns "T123".
func (t *PolicyTask) Monogram() string { return "T" + itoa(t.TaskID) }

// PolicyByLabel returns the campaign's policy finding labelled label.
func (c *Campaign) PolicyByLabel(label string) (PolicyFinding, bool) {
	for _, f := range c.Policies {
		if f.Label() == label {
			return f, true
		}
	}
	return PolicyFinding{}, false
}
