package bot

import (
	"strings"

	"github.com/auditbot/auditbot/bot/replies"
	"github.com/auditbot/auditbot/state"
)

// An approval counts only while it stands: its approver is, now, an
// enabled member of the approvers' project (not offboarded, not
// disabled), and the comment it was given in still says what it said
// when the bot counted it (an edit keeps the transaction and changes its
// text, fact 45). Removals, exemptions and keeps all ask the same two
// questions, here, of a view observed with approvalNeeds.

// approvalNeeds is what judging approvals reads: the approvers' project,
// the approvers' accounts, and the comments the approvals were given in.
// No approval, no read.
func approvalNeeds(as []state.Approval) needs {
	if len(as) == 0 {
		return needs{}
	}
	n := needs{approvers: true}
	for _, a := range as {
		if a.ApproverPHID != "" {
			n.users = append(n.users, a.ApproverPHID)
		}
		if a.Source != nil {
			n.texts = append(n.texts, a.Source)
		}
	}
	return n
}

// mayDecide reports whether user is, now, an enabled member of the
// approvers' project: who may give a command, and whose approval counts.
func (v *view) mayDecide(userPHID string) bool {
	u, ok := v.users[userPHID]
	return ok && !u.IsDisabled() && v.isApprover(userPHID)
}

// isApprover reports whether user is a member of the approvers' project.
func (v *view) isApprover(userPHID string) bool {
	for _, m := range v.approvers {
		if m == userPHID {
			return true
		}
	}
	return false
}

// splitLapsed splits approvals into those whose approver may still
// decide (mayDecide) and those who lapsed.
func (v *view) splitLapsed(as []state.Approval) (active, lapsed []state.Approval) {
	for _, a := range as {
		if v.mayDecide(a.ApproverPHID) {
			active = append(active, a)
		} else {
			lapsed = append(lapsed, a)
		}
	}
	return active, lapsed
}

// standing splits approvals into those whose comment, read again, still
// stands (stands: its current text, and whether the server returned it)
// and those taken back since. Approvals without a source (the command
// line, or recorded before sources were kept) stand.
func (v *view) standing(as []state.Approval, stands func(text string, ok bool) bool) (kept, withdrawn []state.Approval) {
	for _, a := range as {
		if a.Source == nil {
			kept = append(kept, a)
			continue
		}
		text, ok := v.texts[a.Source.TxPHID]
		if stands(text, ok) {
			kept = append(kept, a)
		} else {
			withdrawn = append(withdrawn, a)
		}
	}
	return kept, withdrawn
}

// stillApproves reports whether a comment's current text is still the
// approve command it was counted as: "!approve" for a removal batch
// (target ""), "!approve @user" for an exemption.
func stillApproves(text string, ok bool, target string) bool {
	if !ok {
		return false
	}
	rep := replies.Parse(text)
	return rep.Kind == replies.KindApprove && strings.EqualFold(rep.Target, target)
}

func approverNames(as []state.Approval) string {
	var names []string
	for _, a := range as {
		names = append(names, "@"+a.Username)
	}
	return strings.Join(names, ", ")
}
