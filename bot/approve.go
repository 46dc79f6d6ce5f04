package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

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
		return nil, fmt.Errorf("%w: removal batch %q: want R1, R2 ...", ErrInput, removal)
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
	rm, err := b.recordApproval(campaign, id, approver, "cli")
	if err != nil {
		return nil, err
	}
	return &ApproveResult{Removal: rm.Label(), Approvals: len(rm.Approvals), Required: rm.RequiredApprovals, Approved: rm.Status == state.RemovalApproved}, nil
}

// recordApproval adds a distinct approver's approval to a proposed removal
// batch and marks it approved once enough approvers agree.
func (b *Bot) recordApproval(campaign string, id int, approver conduit.User, via string) (state.Removal, error) {
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
		now := b.now().UTC()
		rm.Approvals = append(rm.Approvals, state.Approval{ApproverPHID: approver.PHID, Username: approver.Username, At: now, Via: via})
		if len(rm.Approvals) >= rm.RequiredApprovals {
			rm.Status = state.RemovalApproved
		}
		if err := tx.PutRemoval(&rm); err != nil {
			return err
		}
		return tx.Append(state.Entry{At: now, Kind: "removal-approval", Actor: approver.Username, Task: via,
			Detail: fmt.Sprintf("%s: %d of %d approval(s)", rm.Label(), len(rm.Approvals), rm.RequiredApprovals)})
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
