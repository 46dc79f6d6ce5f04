package bot

// Disabling accounts: a campaign with action disable carries out an
// approved removal batch by disabling the accounts of its users (one
// user.edit each) instead of removing their memberships. Proposal,
// announcement, approvals (the quorum of the riskiest group listed for
// the user), the guard-rail and the journal are the removal's own
// (remove.go); this file holds what differs: who is never disabled, the
// write and how to tell it landed, and the account-wide guard-rail.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// Why an account is never disabled (disableExemption).
const (
	exemptUnread    = "its account could not be read"
	exemptBot       = "a bot account"
	exemptList      = "a mailing list"
	exemptAdmin     = "an administrator"
	exemptApprover  = "an approver of this campaign"
	exemptDisabled  = "already disabled (not by this campaign)"
	exemptSelfOwned = "the bot's own account"
)

// disableExemption says why the account of user must not be disabled,
// from the account and the approvers' project as observed (read live
// right before the write): a bot, a mailing list, an administrator or an
// approver of the campaign is never disabled, whatever the state file
// says; an account already disabled by someone else is left alone (a
// restore would otherwise enable it). It returns "" when the account may
// be disabled. An account the view does not hold is exempt: fail closed.
func disableExemption(v *view, user string) string {
	u, ok := v.users[user]
	if !ok && user != v.rec().BotPHID {
		return exemptUnread
	}
	return accountExemption(u, user == v.rec().BotPHID, slices.Contains(v.approvers, user))
}

// accountExemption is disableExemption's rules on one account: self
// reports whether it is the bot's own, approver whether it is in the
// campaign's approvers' project.
func accountExemption(u conduit.User, self, approver bool) string {
	switch {
	case self:
		return exemptSelfOwned
	case u.IsBot():
		return exemptBot
	case u.IsMailingList():
		return exemptList
	case u.IsAdmin():
		return exemptAdmin
	case approver:
		return exemptApprover
	case u.IsDisabled():
		return exemptDisabled
	}
	return ""
}

// disableNeeds is what deciding about disabling users needs read live:
// their accounts and the approvers' project, read again (not as read
// earlier in the tick).
func disableNeeds(users []string) needs {
	return needs{users: users, approvers: true, fresh: true}
}

// disableExemptions maps each user of disable batch rm not yet disabled
// to why they are exempt; users who may be disabled are missing. A user
// whose disabling was sent and not confirmed is judged too, unless the
// account reads disabled now (the write landed: it is reconciled): an
// attempt that did not land is not sent again to someone who became an
// administrator or an approver since.
func disableExemptions(v *view, rm state.Removal, pending map[OpKey]state.Op) map[string]string {
	out := map[string]string{}
	for _, u := range rm.Accounts() {
		_, sent := pending[disableKey(rm.Label(), u)]
		if acct, read := v.users[u]; accountDone(rm, u) || (sent && read && acct.IsDisabled()) {
			continue
		}
		if why := disableExemption(v, u); why != "" {
			out[u] = why
		}
	}
	return out
}

// accountDone reports whether the batch recorded user's account disabled.
func accountDone(rm state.Removal, user string) bool {
	return slices.ContainsFunc(rm.Items, func(it state.RemovalItem) bool { return it.UserPHID == user && it.Done })
}

// accountsOver is the guard-rail's account count for a disable batch:
// max_count counts accounts, each once however many audited groups it is
// in, those the campaign disabled so far plus those this batch would. It
// returns the held line, or none.
func accountsOver(snap *state.Snapshot, fresh []string, limit campaigns.RemovalLimit) []templates.HeldGroup {
	if limit.MaxCount <= 0 {
		return nil
	}
	done := disabledAccounts(snap)
	n := len(done)
	for _, u := range fresh {
		if !done[u] {
			n++
		}
	}
	if n <= limit.MaxCount {
		return nil
	}
	members := map[string]bool{}
	for _, f := range snap.Findings {
		members[f.UserPHID] = true
	}
	return []templates.HeldGroup{{Group: "the audited groups (accounts)", Remove: n, Members: max(len(members), n)}}
}

// disabledAccounts are the users whose accounts the campaign disabled.
func disabledAccounts(snap *state.Snapshot) map[string]bool {
	out := map[string]bool{}
	for _, rm := range snap.Removals {
		if !rm.Disables() {
			continue
		}
		for _, it := range rm.Items {
			if it.Done {
				out[it.UserPHID] = true
			}
		}
	}
	return out
}

// disableIntents is one user.edit per account of disable batch rm: groups
// lists, per user, the groups whose items are still due (freshOf). An
// account a lost attempt was sent for is included even when nothing is
// due any more: it is reconciled first (it landed if the account is
// disabled now), and nothing is sent if it did not land.
func disableIntents(v *view, rm state.Removal, groups map[string][]string, pending map[OpKey]state.Op) []intent {
	var ins []intent
	for _, u := range rm.Accounts() {
		key := disableKey(rm.Label(), u)
		op, sent := pending[key]
		if len(groups[u]) == 0 && !sent {
			continue
		}
		ins = append(ins, disableIntent(v, rm, u, groups[u], sent && len(op.Subjects) > 0))
	}
	return ins
}

// disableIntent disables user's account for removal batch rm, for the
// memberships of groups (recorded as the op's subjects). Whether an
// earlier attempt landed is judged by the account's roles: "disabled"
// (user.search, NOTES fact 16).
func disableIntent(v *view, rm state.Removal, user string, groups []string, wasSent bool) intent {
	rec := v.rec()
	name := usernameOf(rm, user)
	var done []string
	in := intent{key: disableKey(rm.Label(), user), kind: state.OpAccountDisabled,
		write:  setDisabled{user: user, disabled: true},
		landed: landedCheck{user: user, userIs: func(u conduit.User) bool { return u.IsDisabled() }},
		failed: func(err error) error {
			if errors.Is(err, conduit.ErrPermissionDenied) {
				return fmt.Errorf("the bot may not disable accounts (%s): it must be an administrator (Phorge's \"Can Disable Users\"); @%s was not disabled", policyHint(err), name)
			}
			return err
		},
		change: func(tx *state.CampaignTx, res outcomeOf) error {
			done = groups
			if res.reconciled {
				done = res.subjects
			}
			return markDisabled(tx, rm.ID, user, done, res.at)
		},
		entry: state.Entry{Actor: rec.BotUsername, User: name, Detail: rm.Label() + ": disabled the account"},
		amend: func(e *state.Entry, res outcomeOf) {
			*e = disabledEntry(*e, rm, rec, done)
			if res.reconciled {
				e.Detail += " (reconciled)"
			}
		},
		subjects: groups,
	}
	if len(groups) == 0 && wasSent {
		// Nothing is due any more (the user complied or left): only an
		// earlier attempt is reconciled, nothing is sent.
		in.recheck = func(_ context.Context) (write, error) { return nil, nil }
	}
	in.sayLater = func() said {
		if len(done) == 0 {
			return said{}
		}
		return said{ev{kind: "account-disabled", user: name}, fmt.Sprintf("disabled the account of @%s (%s)", name, rm.Label())}
	}
	return in
}

// usernameOf is the username batch rm lists for user.
func usernameOf(rm state.Removal, user string) string {
	for _, it := range rm.Items {
		if it.UserPHID == user {
			return it.Username
		}
	}
	return user
}

// markDisabled records that user's account was disabled for the items of
// removal batch rmID in groups: those items are done, and the finding is
// removed from them, with Disabled set, so that a restore enables the
// account. With no groups nothing was disabled and nothing changes.
func markDisabled(tx *state.CampaignTx, rmID int, user string, groups []string, now time.Time) error {
	if len(groups) == 0 {
		return nil
	}
	rm, err := tx.Removal(rmID)
	if err != nil {
		return err
	}
	for i := range rm.Items {
		if rm.Items[i].UserPHID == user && slices.Contains(groups, rm.Items[i].GroupPHID) {
			rm.Items[i].Done = true
		}
	}
	if err := tx.PutRemoval(&rm); err != nil {
		return err
	}
	f, err := tx.Finding(user)
	if err != nil {
		return err
	}
	f.Status, f.UpdatedAt, f.Disabled = state.StatusRemoved, now, true
	for _, g := range groups {
		if !slices.Contains(f.RemovedFrom, g) {
			f.RemovedFrom = append(f.RemovedFrom, g)
		}
	}
	return tx.PutFinding(f)
}

// disabledEntry completes an account-disabled journal entry: whose
// account, for which groups, approved by whom.
func disabledEntry(e state.Entry, rm state.Removal, rec *state.Campaign, groups []string) state.Entry {
	names := groupNames(rec, groups)
	e.Groups = names
	for _, a := range rm.Approvals {
		if !slices.Contains(e.Approvers, a.Username) {
			e.Approvers = append(e.Approvers, a.Username)
		}
	}
	e.Detail = fmt.Sprintf("%s: disabled the account of @%s (member of %s)", rm.Label(), e.User, strings.Join(names, ", "))
	e.Outcome = "disabled"
	if len(groups) == 0 {
		e.Detail, e.Outcome = rm.Label()+": @"+e.User+" not disabled (no longer due)", "not disabled"
	}
	return e
}

// disableRefusals records, once per batch, each user of disable batch rm
// the bot will not disable (exempt: a bot, an administrator, an approver),
// flagged for a human: their items stay undone.
func disableRefusals(v *view, rm state.Removal, exempt map[string]string) []intent {
	var ins []intent
	for _, u := range rm.Accounts() {
		why, ok := exempt[u]
		if !ok {
			continue
		}
		name, user := usernameOf(rm, u), u
		note := fmt.Sprintf("%s: not disabled: @%s is %s; a person decides", rm.Label(), name, why)
		ins = append(ins, intent{
			change: updateFindingOnce(user, note, v.now),
			entry:  state.Entry{At: v.now, Kind: state.EntryDisableRefused, User: name, Detail: note},
			said:   said{ev{kind: "disable-refused", user: name}, note},
		})
	}
	return ins
}

// updateFindingOnce adds note to the finding's NeedsHuman unless it is
// there already (a batch carried out again after a crash).
func updateFindingOnce(user, note string, now time.Time) func(tx *state.CampaignTx, _ outcomeOf) error {
	return func(tx *state.CampaignTx, _ outcomeOf) error {
		return updateFinding(user, func(f *state.Finding) {
			if !slices.Contains(f.NeedsHuman, note) {
				f.NeedsHuman, f.UpdatedAt = append(f.NeedsHuman, note), now
			}
		})(tx)
	}
}

// freshAccounts are the distinct users freshOf finds due in any group.
func freshAccounts(snap *state.Snapshot, freshOf func(state.Group) []string) []string {
	var out []string
	for _, g := range snap.Campaign.Groups {
		for _, u := range freshOf(g) {
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out
}

// groupsByAccount maps each user freshOf finds due to the groups they are
// due in, in the campaign's group order.
func groupsByAccount(snap *state.Snapshot, freshOf func(state.Group) []string) map[string][]string {
	out := map[string][]string{}
	for _, g := range snap.Campaign.Groups {
		for _, u := range freshOf(g) {
			out[u] = append(out[u], g.PHID)
		}
	}
	return out
}

// sentDisables are the users of rm whose disabling was sent and not
// confirmed: their accounts are read to tell whether the batch started.
func sentDisables(snap *state.Snapshot, rm state.Removal) []string {
	if !rm.Disables() {
		return nil
	}
	pending := pendingOps(snap)
	var out []string
	for _, u := range rm.Accounts() {
		if pending[disableKey(rm.Label(), u)] {
			out = append(out, u)
		}
	}
	return out
}

// proposable are the users a removal batch may be proposed for, from the
// state alone (removalCandidates decides): whose accounts a campaign that
// disables accounts reads before proposing, rather than every finding's.
func proposable(snap *state.Snapshot) []string {
	var out []string
	for _, f := range snap.Findings {
		if !f.Disabled && (f.Status.Removable() || f.Status == state.StatusRemoved) {
			out = append(out, f.UserPHID)
		}
	}
	return out
}

// removalCampaignData is the campaign part of a text about removal batch
// rm on batch bt's task: it says "disable" when the batch does.
func removalCampaignData(v *view, rm state.Removal, bt state.Batch) templates.Campaign {
	d := v.words.batchCampaignData(v.c, v.rec(), bt)
	d.Disable = rm.Disables()
	return d
}
