package bot

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// removalsWith returns the removal batches in one of the statuses, by id.
func removalsWith(rs []state.Removal, statuses ...state.RemovalStatus) []state.Removal {
	var out []state.Removal
	for _, r := range rs {
		if slices.Contains(statuses, r.Status) {
			out = append(out, r)
		}
	}
	return out
}

// dueForRemoval reports whether a user may be removed from group now: they
// are pending or asked to go (or were removed from other groups only),
// their own deadline has passed, and no exemption request waits for a
// decision. Proposal and execution both ask, so an extension or an
// exemption request made after a batch was proposed still protects them.
func dueForRemoval(f state.Finding, group string, c *state.Campaign, now time.Time) bool {
	removable := f.Status.Removable() || (f.Status == state.StatusRemoved && !slices.Contains(f.RemovedFrom, group))
	if !removable {
		return false
	}
	switch {
	case f.TeamTask:
		// Listed on the team's task: they cannot act, so there is no
		// deadline to wait for; approvers decide.
	case f.Status == state.StatusVoluntary:
		// Someone who asked to go does not wait for a deadline extended
		// for them (proposals start at the campaign's cutoff).
	default:
		if now.Before(f.EffectiveCutoff(c)) {
			return false
		}
	}
	return f.Exemption == nil || f.Exemption.Decision != state.ExemptionPending
}

// sortItems orders removal items riskiest group first, then by user.
func sortItems(items []state.RemovalItem) {
	slices.SortStableFunc(items, func(a, b state.RemovalItem) int {
		ra, rb := riskRank(a.Risk), riskRank(b.Risk)
		if c := cmp.Compare(rb, ra); c != 0 {
			return c
		}
		if c := cmp.Compare(a.GroupName, b.GroupName); c != 0 {
			return c
		}
		return cmp.Compare(a.Username, b.Username)
	})
}

// requiredApprovals is the most any item's group risk level asks for.
func requiredApprovals(items []state.RemovalItem) int {
	var risks []string
	for _, it := range items {
		risks = append(risks, it.Risk)
	}
	return approvalsFor(risks)
}

// riskRank orders risk strings from state for display: an unknown or
// unparsable one (a hand-edited or newer state file) ranks above internal,
// as the riskiest.
func riskRank(s string) campaigns.Risk {
	r, err := campaigns.ParseRisk(s)
	if err != nil {
		return campaigns.RiskInternal + 1
	}
	return r
}

// approvalsFor is how many distinct approvers a decision about groups of
// these risk levels needs: the most any of them asks for, at least one. An
// unknown or unparsable risk counts as the riskiest: ParseRisk's zero Risk
// asks for the most approvers, never fewer.
func approvalsFor(risks []string) int {
	n := 1
	for _, r := range risks {
		risk, _ := campaigns.ParseRisk(r)
		n = max(n, risk.RequiredApprovals())
	}
	return n
}

func itemsOfBatch(items []state.RemovalItem, batch int) []state.RemovalItem {
	var out []state.RemovalItem
	for _, it := range items {
		if it.Batch == batch {
			out = append(out, it)
		}
	}
	return out
}

func removalItems(snap *state.Snapshot, items []state.RemovalItem) []templates.RemovalItem {
	names := map[string]state.Finding{}
	for _, f := range snap.Findings {
		names[f.UserPHID] = f
	}
	var out []templates.RemovalItem
	for _, it := range items {
		f := names[it.UserPHID]
		out = append(out, templates.RemovalItem{Person: person(&f), Group: it.GroupName, Voluntary: it.Voluntary})
	}
	return out
}

// removedFrom counts the memberships of group the campaign's removal
// batches removed so far.
func removedFrom(rs []state.Removal, group string) int {
	n := 0
	for _, rm := range rs {
		for _, it := range rm.Items {
			if it.Done && it.GroupPHID == group {
				n++
			}
		}
	}
	return n
}

// removalStarted reports whether removal batch rm is under way: a
// membership of it is recorded removed, or a membership write whose
// outcome was lost landed (judged by the groups' live members). A write
// Phabricator refused, or one never sent, removed nothing: the batch can
// still be re-checked, held or rejected as if nothing had been sent.
func removalStarted(snap *state.Snapshot, rm state.Removal, members map[string][]string, users map[string]conduit.User) bool {
	if slices.ContainsFunc(rm.Items, func(it state.RemovalItem) bool { return it.Done }) {
		return true
	}
	if rm.Disables() {
		// A disabling sent and not confirmed started the batch if the
		// account is disabled now, or if it was not read (it may have).
		pending := pendingOps(snap)
		return slices.ContainsFunc(rm.Accounts(), func(u string) bool {
			acct, read := users[u]
			return pending[disableKey(rm.Label(), u)] && (!read || acct.IsDisabled())
		})
	}
	for _, g := range snap.Campaign.Groups {
		key := string(removeKey(rm.Label(), g.PHID))
		for _, op := range snap.Ops {
			if op.Key == key && op.State == state.OpPending && removalLanded(op.Subjects, members[g.PHID]) {
				return true
			}
		}
	}
	return false
}

// removalLanded reports whether a membership write that sent the removal
// of users landed: none of them is still among members (one project.edit
// applies all of its transactions or none).
func removalLanded(sent, members []string) bool {
	return len(sent) > 0 && !slices.ContainsFunc(sent, func(u string) bool { return slices.Contains(members, u) })
}

// pendingOps returns the keys of the ops whose intent is recorded but whose
// outcome is not.
func pendingOps(snap *state.Snapshot) map[OpKey]bool {
	out := map[OpKey]bool{}
	for _, op := range snap.Ops {
		if op.State == state.OpPending {
			out[OpKey(op.Key)] = true
		}
	}
	return out
}

// removalsInFlight returns the users of the open removal batch whose
// project.edit was sent but not confirmed (a crash or a lost answer). If
// they are no longer members, it is most likely the bot's own write, which
// execute-removals reconciles: drift must not call them left-group.
func removalsInFlight(snap *state.Snapshot) map[string]bool {
	out := map[string]bool{}
	pending := pendingOps(snap)
	for _, rm := range snap.Removals {
		for _, it := range rm.Items {
			if !it.Done && (pending[removeKey(rm.Label(), it.GroupPHID)] || pending[disableKey(rm.Label(), it.UserPHID)]) {
				out[it.UserPHID] = true
			}
		}
	}
	return out
}

func removalByID(rs []state.Removal, id int) (state.Removal, error) {
	for _, r := range rs {
		if r.ID == id {
			return r, nil
		}
	}
	return state.Removal{}, fmt.Errorf("no removal batch R%d", id)
}

// markRemoved records the outcome of one group's removal.
func markRemoved(tx *state.CampaignTx, removalID int, group string, users []string, now time.Time) error {
	rm, err := tx.Removal(removalID)
	if err != nil {
		return err
	}
	for i := range rm.Items {
		if rm.Items[i].GroupPHID == group && slices.Contains(users, rm.Items[i].UserPHID) {
			rm.Items[i].Done = true
		}
	}
	if err := tx.PutRemoval(&rm); err != nil {
		return err
	}
	for _, u := range users {
		f, err := tx.Finding(u)
		if err != nil {
			return err
		}
		f.Status, f.UpdatedAt = state.StatusRemoved, now
		if !slices.Contains(f.RemovedFrom, group) {
			f.RemovedFrom = append(f.RemovedFrom, group)
		}
		if err := tx.PutFinding(f); err != nil {
			return err
		}
	}
	return nil
}

// removedEntry completes a members-removed journal entry: who was removed
// from which group, and who approved it.
func removedEntry(e state.Entry, rm state.Removal, group string, removed []string) state.Entry {
	names := map[string]string{}
	for _, it := range rm.Items {
		names[it.UserPHID] = it.Username
	}
	for _, u := range removed {
		n := names[u]
		if n == "" {
			n = u
		}
		e.Users = append(e.Users, n)
	}
	// One approver may hold several approvals of a batch (one per task
	// and one on the command line): name each person once.
	for _, a := range rm.Approvals {
		if !slices.Contains(e.Approvers, a.Username) {
			e.Approvers = append(e.Approvers, a.Username)
		}
	}
	if rm.AutoApproved {
		e.Verified = "auto-approved by the campaign's policy"
	}
	e.Detail = fmt.Sprintf("%s: removed %d member(s) from %s", rm.Label(), len(removed), group)
	e.Outcome = fmt.Sprintf("removed %d", len(removed))
	return e
}
