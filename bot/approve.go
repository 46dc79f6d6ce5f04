package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// ApproveResult says where a removal batch stands after an approval.
type ApproveResult struct {
	Removal   string `json:"removal"`
	Approvals int    `json:"approvals"`
	Required  int    `json:"required"`
	Approved  bool   `json:"approved"`
}

// Approve records username's approval of a removal batch ("R1" or "1"),
// after verifying over Conduit that the user exists, is enabled and is a
// member of the campaign's approvers' project right now. The removal itself
// happens at the next tick.
func (b *Bot) Approve(ctx context.Context, campaign, removal, username string) (*ApproveResult, error) {
	id, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(removal), "R"))
	if err != nil {
		return nil, fmt.Errorf("%w: removal batch %q: want R and a number, such as R1", ErrInput, removal)
	}
	rec, err := b.campaignRecord(campaign)
	if err != nil {
		return nil, err
	}
	users, err := b.phab.SearchUsers(ctx, conduit.UserQuery{Usernames: []string{strings.TrimPrefix(username, "@")}})
	if err != nil {
		return nil, fmt.Errorf("look up @%s: %w", username, err)
	}
	if len(users) != 1 {
		return nil, fmt.Errorf("%w: no Phabricator user %q", ErrInput, username)
	}
	approver := users[0]
	if approver.IsDisabled() {
		return nil, fmt.Errorf("%w: @%s is disabled", ErrNotApprover, approver.Username)
	}
	r := &run{rec: rec}
	members, err := b.approverMembers(ctx, r)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(members, approver.PHID) {
		_ = b.journal(campaign, state.Entry{Kind: "approval-refused", Actor: approver.Username, Detail: fmt.Sprintf("R%d: not a member of %s", id, rec.ApproversName)})
		return nil, fmt.Errorf("%w: @%s is not a member of %s (checked in Phabricator just now); nothing changed", ErrNotApprover, approver.Username, rec.ApproversName)
	}
	rm, err := b.recordApproval(campaign, id, approver, "cli", b.operator)
	if err != nil {
		return nil, err
	}
	return &ApproveResult{Removal: rm.Label(), Approvals: len(rm.Approvals), Required: rm.RequiredApprovals, Approved: rm.Status == state.RemovalApproved}, nil
}

// recordApproval adds a distinct approver's approval to a proposed removal
// batch and marks it approved once enough approvers agree.
func (b *Bot) recordApproval(campaign string, id int, approver conduit.User, via, operator string) (state.Removal, error) {
	var rm state.Removal
	err := b.store.Update(campaign, func(tx *state.CampaignTx) error {
		var err error
		rm, err = tx.Removal(id)
		if errors.Is(err, state.ErrNotFound) {
			return fmt.Errorf("%w: no removal batch R%d in %s", ErrInput, id, campaign)
		}
		if err != nil {
			return err
		}
		if rm.Status != state.RemovalProposed {
			return fmt.Errorf("%w: %s is %s, not waiting for approval", ErrRefused, rm.Label(), rm.Status)
		}
		if rm.ApprovedBy(approver.PHID) {
			return fmt.Errorf("%w: @%s already approved %s; it needs %d distinct approver(s)", ErrRefused, approver.Username, rm.Label(), rm.RequiredApprovals)
		}
		if inBatch(rm, approver.PHID) {
			return fmt.Errorf("%w: @%s is in %s and may not approve it", ErrRefused, approver.Username, rm.Label())
		}
		if operator != "" && slices.ContainsFunc(rm.Approvals, func(a state.Approval) bool { return a.Operator == operator }) {
			return fmt.Errorf("%w: operator %s already gave a command-line approval of %s; the next must come from another operator or from an approver's !approve on the task",
				ErrRefused, operator, rm.Label())
		}
		now := b.now().UTC()
		rm.Approvals = append(rm.Approvals, state.Approval{ApproverPHID: approver.PHID, Username: approver.Username, At: now, Via: via, Operator: operator})
		if len(rm.Approvals) >= rm.RequiredApprovals {
			rm.Status = state.RemovalApproved
		}
		if err := tx.PutRemoval(&rm); err != nil {
			return err
		}
		return tx.Append(approvalEntry(now, rm, approver.Username, via, operator))
	})
	return rm, err
}

// campaignRecord reads a launched campaign's record.
func (b *Bot) campaignRecord(campaign string) (state.Campaign, error) {
	var rec state.Campaign
	err := b.store.View(campaign, func(tx *state.CampaignTx) error { rec = tx.Campaign(); return nil })
	if errors.Is(err, state.ErrNoCampaign) {
		return rec, fmt.Errorf("%w: %q has not been launched", ErrUnknownCampaign, campaign)
	}
	return rec, err
}

// findingByUsername returns a campaign's finding for a user.
func (b *Bot) findingByUsername(campaign, username string) (state.Finding, error) {
	username = strings.TrimPrefix(username, "@")
	var out state.Finding
	err := b.store.View(campaign, func(tx *state.CampaignTx) error {
		fs, err := tx.Findings()
		if err != nil {
			return err
		}
		for _, f := range fs {
			if strings.EqualFold(f.Username, username) {
				out = f
				return nil
			}
		}
		return fmt.Errorf("%w: @%s is not part of campaign %s", ErrInput, username, campaign)
	})
	return out, err
}

// approvalsStillValid re-checks, just before a removal batch is carried
// out, that its approvers are still enabled members of the approvers'
// project. If too few are, the batch goes back to waiting for approval with
// only the approvals that still hold.
func (b *Bot) approvalsStillValid(ctx context.Context, r *run, rm state.Removal) (bool, error) {
	members, err := b.approverMembers(ctx, r)
	if err != nil {
		return false, err
	}
	var phids []string
	for _, a := range rm.Approvals {
		phids = append(phids, a.ApproverPHID)
	}
	enabled := map[string]bool{}
	if len(phids) > 0 {
		users, err := b.phab.SearchUsers(ctx, conduit.UserQuery{PHIDs: phids})
		if err != nil {
			return false, fmt.Errorf("re-check approvers: %w", err)
		}
		for _, u := range users {
			enabled[u.PHID] = !u.IsDisabled()
		}
	}
	var valid []state.Approval
	var lapsed []string
	for _, a := range rm.Approvals {
		if enabled[a.ApproverPHID] && slices.Contains(members, a.ApproverPHID) {
			valid = append(valid, a)
		} else {
			lapsed = append(lapsed, "@"+a.Username)
		}
	}
	if len(valid) >= rm.RequiredApprovals {
		return true, nil
	}
	err = b.store.Update(r.rec.Name, func(tx *state.CampaignTx) error {
		cur, err := tx.Removal(rm.ID)
		if err != nil {
			return err
		}
		cur.Approvals, cur.Status = valid, state.RemovalProposed
		if err := tx.PutRemoval(&cur); err != nil {
			return err
		}
		return tx.Append(state.Entry{At: b.now().UTC(), Kind: "approval-lapsed",
			Detail: fmt.Sprintf("%s: %s no longer enabled approvers; %d of %d approval(s) remain", rm.Label(), strings.Join(lapsed, ", "), len(valid), rm.RequiredApprovals)})
	})
	if err != nil {
		return false, err
	}
	r.event("%s not carried out: approval by %s lapsed (no longer an enabled approver); waiting for approval again", rm.Label(), strings.Join(lapsed, ", "))
	return false, nil
}

// inBatch reports whether user is one of the people a removal batch would
// remove: they may not decide on it.
func inBatch(rm state.Removal, userPHID string) bool {
	return slices.ContainsFunc(rm.Items, func(it state.RemovalItem) bool { return it.UserPHID == userPHID })
}

// approvalEntry is the journal entry of one approval of a removal batch:
// the approver, how they were verified, every approver so far and, for the
// command line, the operator who ran it (the task column stays empty).
func approvalEntry(now time.Time, rm state.Removal, approver, via, operator string) state.Entry {
	e := state.Entry{At: now, Kind: "removal-approval", Actor: approver, ActorKind: state.ActorUser, Task: via,
		Verified: "approver group membership checked over Conduit",
		Detail:   fmt.Sprintf("%s: %d of %d approval(s)", rm.Label(), len(rm.Approvals), rm.RequiredApprovals),
		Outcome:  string(rm.Status)}
	if via == "cli" {
		e.Task, e.ActorKind, e.Operator = "", state.ActorCLI, operator
		e.Verified = "named on the command line by operator " + operator + "; approver group membership checked over Conduit"
	}
	for _, a := range rm.Approvals {
		e.Approvers = append(e.Approvers, a.Username)
	}
	for _, it := range rm.Items {
		if !slices.Contains(e.Users, it.Username) {
			e.Users = append(e.Users, it.Username)
		}
		if !slices.Contains(e.Groups, it.GroupName) {
			e.Groups = append(e.Groups, it.GroupName)
		}
	}
	return e
}
