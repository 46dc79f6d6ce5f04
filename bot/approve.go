package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// ApproveResult says where a removal batch stands after an approval, or,
// before one, what the approver is asked to approve.
type ApproveResult struct {
	Removal   string `json:"removal"`
	Approver  string `json:"approver"`
	Approvals int    `json:"approvals"`
	Required  int    `json:"required"`
	Approved  bool   `json:"approved"`
	// Items are every membership of the batch, "group @user", in the order
	// the tasks show them; Digest names exactly this list.
	Items  []string `json:"items"`
	Digest string   `json:"digest"`
	// Action is "disable" for a batch that disables the accounts of the
	// users listed rather than removing the memberships; the digest
	// covers it.
	Action string `json:"action,omitempty"`
	// Recorded is false when the call only showed the batch.
	Recorded bool `json:"recorded"`
}

// ApproverSession is the approver's own Conduit session: user.whoami with
// their token says who approves. The bot's token cannot prove that, and
// neither can $USER or a --as flag.
type ApproverSession interface {
	Whoami(ctx context.Context) (conduit.Whoami, error)
}

// ApproveOptions tune Approve.
type ApproveOptions struct {
	// As, when set, must name the token's account (a guard against the
	// wrong token file); it never decides who approves.
	As string
	// Confirm is the Digest the approver was shown. Empty: show the batch
	// and record nothing. A different digest (the batch is not what they
	// saw) is refused.
	Confirm string
}

// cliVerified is how a command-line approval was verified.
const cliVerified = "cli: user.whoami with the approver's own token"

// Approve records an approval of a removal batch ("R1" or "1") from the
// command line. The approver is whoever owns the session's token (asked
// with user.whoami), and must be an enabled member of the campaign's
// approvers' project right now. The command line shows every membership of
// the batch, so its approval covers them all; it counts only with
// opts.Confirm equal to the digest of what was shown. The removal itself
// happens at the next tick.
func (b *Bot) Approve(ctx context.Context, campaign, removal string, session ApproverSession, opts ApproveOptions) (*ApproveResult, error) {
	id, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(removal), "R"))
	if err != nil {
		return nil, fmt.Errorf("%w: removal batch %q: want R and a number, such as R1", ErrInput, removal)
	}
	rec, err := b.read.campaignRecord(campaign)
	if err != nil {
		return nil, err
	}
	if session == nil {
		return nil, fmt.Errorf("%w: an approval needs the approver's own Conduit token", ErrInput)
	}
	who, err := session.Whoami(ctx)
	if err != nil {
		if errors.Is(err, conduit.ErrInvalidAuth) || errors.Is(err, conduit.ErrNoSession) {
			// The error may echo the token (fact 6): say only what failed.
			return nil, fmt.Errorf("%w: Phabricator rejected the approver's token (revoked, mistyped, or its user is disabled)", ErrNotApprover)
		}
		return nil, fmt.Errorf("approver's user.whoami: %w", err)
	}
	self, err := b.read.self(ctx)
	if err != nil {
		return nil, err
	}
	if who.PHID == self.PHID {
		return nil, fmt.Errorf("%w: that is the bot's own token; an approval needs the approver's own token", ErrRefused)
	}
	if as := strings.TrimPrefix(opts.As, "@"); as != "" && !strings.EqualFold(as, who.Username) {
		return nil, fmt.Errorf("%w: the token belongs to @%s, not @%s; nothing changed", ErrRefused, who.Username, as)
	}
	snap, err := b.store.Snapshot(campaign)
	if err != nil {
		return nil, err
	}
	v, err := b.read.observe(ctx, &run{rec: rec}, snap, needs{approvers: true, users: []string{who.PHID}})
	if err != nil {
		return nil, fmt.Errorf("look up @%s: %w", who.Username, err)
	}
	approver, ok := v.users[who.PHID]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: no Phabricator user %s", ErrInput, who.PHID)
	case approver.IsDisabled():
		return nil, fmt.Errorf("%w: @%s is disabled", ErrNotApprover, approver.Username)
	case !v.isApprover(approver.PHID):
		_ = b.exec.journal(campaign, state.Entry{Kind: state.EntryApprovalRefused, Actor: approver.Username, Detail: fmt.Sprintf("R%d: not a member of %s", id, rec.ApproversName)})
		return nil, fmt.Errorf("%w: @%s is not a member of %s (checked in Phabricator just now); the refusal was journaled, nothing else changed", ErrNotApprover, approver.Username, rec.ApproversName)
	}
	rm, err := removalByID(snap.Removals, id)
	if err != nil {
		return nil, fmt.Errorf("%w: no removal batch R%d in %s", ErrInput, id, campaign)
	}
	res := approveResult(rm, approver.Username)
	if opts.Confirm == "" {
		return res, nil
	}
	if opts.Confirm != res.Digest {
		return nil, fmt.Errorf("%w: %s is not what --confirm %s was shown (it has %d membership(s) now, digest %s); review it again, nothing changed",
			ErrRefused, rm.Label(), opts.Confirm, len(res.Items), res.Digest)
	}
	rm, err = b.recordApproval(campaign, id, approver, res.Digest)
	if err != nil {
		return nil, err
	}
	res = approveResult(rm, approver.Username)
	res.Recorded = true
	return res, nil
}

// approveResult describes a removal batch to its approver.
func approveResult(rm state.Removal, approver string) *ApproveResult {
	res := &ApproveResult{Removal: rm.Label(), Approver: approver, Approvals: rm.ApprovalCount(), Required: rm.RequiredApprovals,
		Approved: rm.Status == state.RemovalApproved || rm.Status == state.RemovalDone}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", rm.Label())
	if rm.Disables() {
		// What the approver is shown is also what is done to the items:
		// a remove batch's digest never approves a disable batch.
		res.Action = rm.Action
		fmt.Fprintf(h, "action %s\n", rm.Action)
	}
	for _, it := range rm.Items {
		res.Items = append(res.Items, fmt.Sprintf("%s @%s", it.GroupName, it.Username))
		// PHIDs, not names: the digest names these exact memberships.
		fmt.Fprintf(h, "%s %s\n", it.GroupPHID, it.UserPHID)
	}
	res.Digest = hex.EncodeToString(h.Sum(nil))[:12]
	return res
}

// recordApproval adds a verified command-line approval, covering every
// item of the batch (the approver was shown them all: digest), and marks
// the batch approved once every item is covered by enough approvers.
func (b *Bot) recordApproval(campaign string, id int, approver conduit.User, digest string) (state.Removal, error) {
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
		// The command line shows every item: its approval covers them all.
		switch err := rm.MayApprove(approver.PHID, nil); {
		case errors.Is(err, state.ErrNotWaiting):
			return fmt.Errorf("%w: %s is %s, not waiting for approval", ErrRefused, rm.Label(), rm.Status)
		case errors.Is(err, state.ErrApproverInBatch):
			return fmt.Errorf("%w: @%s is in %s and may not approve it", ErrRefused, approver.Username, rm.Label())
		case errors.Is(err, state.ErrAlreadyApproved):
			return fmt.Errorf("%w: @%s already approved %s; it needs %d distinct approver(s)", ErrRefused, approver.Username, rm.Label(), rm.RequiredApprovals)
		case err != nil:
			return err
		}
		now := b.now().UTC()
		rm.Approve(state.Approval{ApproverPHID: approver.PHID, Username: approver.Username, At: now, Via: "cli",
			Operator: b.operator, Verified: cliVerified + "; shown " + digest})
		if err := tx.PutRemoval(&rm); err != nil {
			return err
		}
		e := approvalEntry(now, rm, approver.Username, "cli", b.operator)
		e.Verified = cliVerified + "; shown " + digest
		e.Detail = fmt.Sprintf("%s: all %d membership(s) (digest %s), %d of %d approver(s)", rm.Label(), len(rm.Items), digest,
			rm.ApprovalCount(), rm.RequiredApprovals)
		return tx.Append(e)
	})
	return rm, err
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

// approvalEntry is the journal entry of one approval of a removal batch:
// the approver, how they were verified, every approver so far and, for the
// command line, the operator who ran it (the task column stays empty).
func approvalEntry(now time.Time, rm state.Removal, approver, via, operator string) state.Entry {
	e := state.Entry{At: now, Kind: state.EntryRemovalApproval, Actor: approver, ActorKind: state.ActorUser, Task: via,
		Verified: "approver group membership checked over Conduit",
		Detail:   fmt.Sprintf("%s: %d of %d approval(s)", rm.Label(), rm.ApprovalCount(), rm.RequiredApprovals),
		Outcome:  string(rm.Status)}
	if via == "cli" {
		e.Task, e.ActorKind, e.Operator = "", state.ActorCLI, operator
		e.Verified = "named on the command line by operator " + operator + "; approver group membership checked over Conduit"
	}
	// One approver may hold several approvals of a batch (one per task
	// and one on the command line): name each person once.
	for _, a := range rm.Approvals {
		if !slices.Contains(e.Approvers, a.Username) {
			e.Approvers = append(e.Approvers, a.Username)
		}
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
