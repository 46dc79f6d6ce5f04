package bot

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditbot/auditbot/internal/safetext"
	"github.com/auditbot/auditbot/state"
)

// Status is a campaign's state for a person or a script.
type Status struct {
	Campaign string `json:"campaign"`
	Title    string `json:"title"`
	// CutoffDate is the cutoff's last day (state.LastDay); Cutoff the
	// instant it passes, the end of that day in UTC.
	CutoffDate string          `json:"cutoff_date"`
	Cutoff     time.Time       `json:"cutoff"`
	LaunchedAt time.Time       `json:"launched_at"`
	Counts     map[string]int  `json:"counts"`
	Groups     []state.Group   `json:"groups"` // riskiest first
	Tasks      []StatusTask    `json:"tasks"`
	Users      []StatusUser    `json:"users"`
	Removals   []state.Removal `json:"removals"`
	// PendingOps are the writes started and not confirmed, and who
	// finishes each.
	PendingOps []StatusOp `json:"pending_ops,omitempty"`
	// Attention lists what needs a human: unanswered replies, exemption
	// and restore requests, unsubscribed users, pending writes no chore
	// finishes, removal batches held by the guard-rail.
	Attention []string `json:"attention"`
	// OpenReason says why an open campaign cannot close yet ("" when it
	// can, after its quiet period, or when closed).
	OpenReason string `json:"open_reason,omitempty"`
	// ClosedAt is when the campaign closed (zero while open); Runs are
	// its recurring runs and StandingTask the team's task they post on.
	ClosedAt     time.Time   `json:"closed_at,omitzero"`
	Runs         []state.Run `json:"runs,omitempty"`
	StandingTask string      `json:"standing_task,omitempty"`
	// Policies are the policy audit's findings, open and closed, and
	// PolicyTask the team's task that lists them.
	Policies   []StatusPolicy `json:"policies,omitempty"`
	PolicyTask string         `json:"policy_task,omitempty"`
}

// StatusPolicy is one policy finding in a status.
type StatusPolicy struct {
	ID     string `json:"id"` // "P1"
	Object string `json:"object"`
	Check  string `json:"check"`
	Value  string `json:"value"`
	Safe   string `json:"safe,omitempty"`
	Why    string `json:"why"`
	Risk   string `json:"risk"`
	// State is open, fixed (by the bot after !fix) or closed (found no
	// longer); Fix says how it is fixed: by the bot, by hand, or
	// review by hand (a custom policy).
	State     string   `json:"state"`
	Fix       string   `json:"fix"`
	Approvals []string `json:"approvals,omitempty"`
	Required  int      `json:"required_approvals,omitempty"`
	FixedBy   []string `json:"fixed_by,omitempty"`
}

// addPolicies lists the policy findings; the open ones a person must
// handle are in Attention.
func (st *Status) addPolicies(snap *state.Snapshot) {
	rec := &snap.Campaign
	if rec.PolicyTask != nil {
		st.PolicyTask = rec.PolicyTask.Monogram()
	}
	for _, f := range rec.Policies {
		p := StatusPolicy{ID: f.Label(), Object: f.Object, Check: string(f.Check), Value: f.Value, Safe: f.Safe, Why: f.Why, Risk: f.Risk,
			State: "open", Fix: "by hand", Required: f.RequiredApprovals, FixedBy: f.FixedBy}
		switch {
		case f.ByHand:
			p.Fix = "review by hand"
		case policyFixable(f):
			p.Fix = "the bot, after !fix " + f.Label()
		}
		for _, a := range f.Approvals {
			p.Approvals = append(p.Approvals, a.Username)
		}
		switch {
		case len(f.FixedBy) > 0:
			p.State = "fixed"
		case !f.Open():
			p.State = "closed"
		default:
			st.Attention = append(st.Attention, fmt.Sprintf("policy finding %s (%s): %s %s policy is %s: %s; fix: %s", p.ID, p.Risk, p.Object, p.Check, p.Value, p.Why, p.Fix))
		}
		st.Policies = append(st.Policies, p)
	}
}

// StatusOp is a write whose intent is recorded and whose outcome is not.
type StatusOp struct {
	Key   string       `json:"key"`
	Kind  state.OpKind `json:"kind"`
	Since time.Time    `json:"since"`
	// Chore is the tick's chore that finishes it; "" when none does.
	Chore string `json:"chore,omitempty"`
	// NeedsHuman says what a person must do when no chore finishes it.
	NeedsHuman string `json:"needs_human,omitempty"`
}

// StatusTask is one task in a status.
type StatusTask struct {
	Batch   int    `json:"batch"`
	Task    string `json:"task"`
	Users   int    `json:"users"`
	Pending int    `json:"pending"`
}

// StatusUser is one affected user in a status.
type StatusUser struct {
	Username     string   `json:"username"`
	Status       string   `json:"status"`
	Task         string   `json:"task"`
	Groups       []string `json:"groups"`
	Reasons      []string `json:"reasons"`
	Unsubscribed bool     `json:"unsubscribed,omitempty"`
	Note         string   `json:"note,omitempty"`
}

// Status reads a campaign's state; it makes no Conduit call.
func (b *Bot) Status(campaign string) (*Status, error) { return StatusOf(b.store, campaign, b.now()) }

// StatusOf reads a campaign's status from the state file alone, so
// `auditbot status` needs neither a token nor the network. now dates the
// ages it prints.
func StatusOf(store *state.Store, campaign string, now time.Time) (*Status, error) {
	snap, err := store.Snapshot(campaign)
	if errors.Is(err, state.ErrNoCampaign) {
		return nil, fmt.Errorf("%w: %q has not been launched", ErrUnknownCampaign, campaign)
	}
	if err != nil {
		return nil, err
	}
	return StatusOfSnapshot(&snap, now), nil
}

// StatusOfSnapshot is StatusOf for a snapshot already read (the dashboard
// reads one per page and shows the same "needs a human" items as
// `auditbot status`).
func StatusOfSnapshot(snap *state.Snapshot, now time.Time) *Status {
	st := &Status{Campaign: snap.Campaign.Name, Title: snap.Campaign.Title, CutoffDate: state.LastDay(snap.Campaign.Cutoff), Cutoff: snap.Campaign.Cutoff, LaunchedAt: snap.Campaign.LaunchedAt,
		Counts: map[string]int{}, Groups: snap.Campaign.Groups, Removals: snap.Removals,
		ClosedAt: snap.Campaign.ClosedAt, Runs: snap.Campaign.Runs}
	if id := snap.Campaign.StandingTaskID; id != 0 {
		st.StandingTask = "T" + strconv.Itoa(id)
	}
	if !snap.Campaign.Closed() {
		st.OpenReason = openReason(snap, now)
	}
	if why := snap.Campaign.RunRefused; why != "" {
		st.Attention = append(st.Attention, "needs a human: recurring runs are refused: "+why)
	}
	task := st.addTasks(snap)
	st.addUsers(snap, task)
	st.addOps(snap, task, now)
	st.addRemovals(snap)
	st.addPolicies(snap)
	return st
}

// addTasks lists the campaign's tasks with their pending users, and
// returns each batch's task monogram.
func (st *Status) addTasks(snap *state.Snapshot) map[int]string {
	// Pending users by PHID, so counting each task's is linear: asking
	// each batch about every finding took most of a 10,000-user
	// dashboard page.
	pending := map[string]bool{}
	for _, f := range snap.Findings {
		if f.Status == state.StatusPending {
			pending[f.UserPHID] = true
		}
	}
	task := map[int]string{}
	for _, bt := range snap.Batches {
		task[bt.Index] = bt.Monogram()
		t := StatusTask{Batch: bt.Index, Task: bt.Monogram(), Users: len(bt.UserPHIDs)}
		if t.Task == "" {
			t.Task = "(not filed)"
		}
		counted := map[string]bool{}
		for _, p := range bt.UserPHIDs {
			if pending[p] && !counted[p] {
				counted[p] = true
				t.Pending++
			}
		}
		st.Tasks = append(st.Tasks, t)
	}
	return task
}

// addUsers counts and lists the users, and what about them needs a
// human: exemption and restore requests, unsubscribes, replies.
func (st *Status) addUsers(snap *state.Snapshot, task map[int]string) {
	for _, f := range snap.Findings {
		st.Counts[string(f.Status)]++
		u := StatusUser{Username: f.Username, Status: string(f.Status), Task: task[f.Batch], Groups: groupNames(&snap.Campaign, f.Groups), Reasons: f.Reasons, Unsubscribed: f.Unsubscribed}
		if f.Exemption != nil {
			u.Note = fmt.Sprintf("exemption %s: %s", f.Exemption.Decision, f.Exemption.Reason)
			if e := f.ExemptionInForce(); f.Status == state.StatusExempt && e != nil && !e.Until.IsZero() {
				u.Note += " (until " + e.Until.Format("2006-01-02") + "; the campaign stays open until then)"
			}
			if f.Exemption.Decision == "pending" {
				st.Attention = append(st.Attention, fmt.Sprintf("@%s asks for an exemption on %s: %s (approvers: !approve @%s or !deny @%s <reason>)", f.Username, task[f.Batch], f.Exemption.Reason, f.Username, f.Username))
			}
		}
		if f.Disabled && u.Note == "" {
			u.Note = "account disabled by this campaign (its memberships are kept); auditbot restore enables it"
		}
		if f.RestoreRequested {
			st.Attention = append(st.Attention, fmt.Sprintf("@%s is compliant again and asks to be restored (%s: !restore @%s, or auditbot restore)", f.Username, task[f.Batch], f.Username))
		}
		if f.Unsubscribed && f.Status == state.StatusPending {
			st.Attention = append(st.Attention, fmt.Sprintf("@%s unsubscribed from %s and is still pending", f.Username, task[f.Batch]))
		}
		for _, n := range f.NeedsHuman {
			st.Attention = append(st.Attention, fmt.Sprintf("needs a human answer: @%s on %s", f.Username, n))
		}
		st.Users = append(st.Users, u)
	}
}

// addOps lists the writes not confirmed, who finishes each, and the
// access the bot had to take back.
func (st *Status) addOps(snap *state.Snapshot, task map[int]string, now time.Time) {
	for _, op := range snap.Ops {
		if op.State == state.OpDone {
			st.addTakenBack(op)
			continue
		}
		if op.State != state.OpPending {
			continue
		}
		if batch, _, ok := parseRepliesKey(OpKey(op.Key)); ok && op.Attempts > 0 {
			st.Attention = append(st.Attention, fmt.Sprintf("needs a human: the bot's answer on %s (write %s) has not been posted after %d attempt(s)%s; until it is, later replies on that task are not read and none of its users is removed. Check the bot may still comment on the task",
				task[batch], op.Key, op.Attempts, reconcileNote(op)))
		}
		chore, human := pendingOpOwner(op, snap)
		st.PendingOps = append(st.PendingOps, StatusOp{Key: op.Key, Kind: op.Kind, Since: op.CreatedAt, Chore: chore, NeedsHuman: human})
		age := ageOf(now, op.CreatedAt)
		if human != "" {
			st.Attention = append(st.Attention, fmt.Sprintf("needs a human: write %s, started %s ago, is not confirmed: %s", op.Key, age, human))
		} else {
			st.Attention = append(st.Attention, fmt.Sprintf("write %s, started %s ago, is not confirmed; the next tick's %s chore finishes it", op.Key, age, chore))
		}
	}
}

// addTakenBack flags a done op that put back what someone else changed
// on a task: someone may have read the task meanwhile.
func (st *Status) addTakenBack(op state.Op) {
	switch {
	case op.Kind == state.OpPolicyRestored:
		by := strings.Join(op.Subjects, ", ")
		if by == "" {
			by = "someone"
		}
		st.Attention = append(st.Attention, fmt.Sprintf("%s: its view or edit policy was changed by %s and the bot put it back; check who could read or edit the task meanwhile", op.Result, by))
	case op.Kind == state.OpAccessRevoked && op.Result != resultNotSent:
		st.Attention = append(st.Attention, fmt.Sprintf("%s: someone else gave access to it (%s) and the bot took it back; check who could read the task meanwhile", op.Result, op.Args[argDetail]))
	}
}

// addRemovals flags the removal batches a person must look at.
func (st *Status) addRemovals(snap *state.Snapshot) {
	for _, rm := range snap.Removals {
		switch {
		case rm.Status == state.RemovalRejected:
			st.Attention = append(st.Attention, fmt.Sprintf("removal batch %s was rejected by @%s (%s): its %d membership(s) are not proposed again; a person decides what happens to them", rm.Label(), rm.RejectedBy, rm.RejectReason, len(rm.Items)))
		case rm.Status == state.RemovalApproved && rm.Held != "":
			st.Attention = append(st.Attention, fmt.Sprintf("needs a human: removal batch %s is approved but held by the removal guard-rail, none of it executed: %s. Remove the members by hand, or allow it with removal_limit in the campaign file; the next tick then executes it", rm.Label(), rm.Held))
		case rm.Status == state.RemovalProposed:
			st.Attention = append(st.Attention, fmt.Sprintf("removal batch %s waits for approval: %d of %d", rm.Label(), rm.ApprovalCount(), rm.RequiredApprovals))
		}
	}
}

// WriteText prints the status for a person. Every field that may hold
// what others wrote (titles, usernames, notes, reasons, attention items
// quoting comments) is escaped as one line when printed (safetext.Line),
// so an audited user's comment can neither drive the operator's terminal
// nor forge a line of the status, whoever prints it.
func (s *Status) WriteText(w io.Writer) error {
	esc := safetext.Line
	var sb strings.Builder
	fmt.Fprintf(&sb, "Campaign %s: %s\nLaunched %s, deadline %s\n", esc(s.Campaign), esc(s.Title), s.LaunchedAt.Format("2006-01-02 15:04"), state.CutoffText(s.Cutoff))
	var groups []string
	for _, g := range s.Groups {
		groups = append(groups, fmt.Sprintf("%s [%s]", esc(g.Name), esc(strings.ToUpper(g.Risk))))
	}
	fmt.Fprintf(&sb, "Groups (riskiest first): %s\n", strings.Join(groups, ", "))
	if !s.ClosedAt.IsZero() {
		fmt.Fprintf(&sb, "Closed %s: its tasks are resolved and it no longer ticks\n", s.ClosedAt.Format("2006-01-02 15:04"))
	} else if s.OpenReason != "" {
		fmt.Fprintf(&sb, "Open: %s\n", esc(s.OpenReason))
	}
	if n := len(s.Runs); n > 0 {
		last := s.Runs[n-1]
		fmt.Fprintf(&sb, "Recurring: %d run(s), the last %s (%d new, %d fixed, %d gone); summaries on %s\n",
			n, last.At.Format("2006-01-02 15:04"), len(last.New), len(last.Fixed), len(last.Gone), s.StandingTask)
	}
	var keys []string
	for k := range s.Counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&sb, "  %-11s %d\n", esc(k), s.Counts[k])
	}
	tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nUSER\tSTATUS\tTASK\tGROUPS\tNOTE")
	for _, u := range s.Users {
		note := u.Note
		if u.Unsubscribed {
			note = strings.TrimSpace("unsubscribed " + note)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", esc(u.Username), esc(u.Status), esc(u.Task), esc(strings.Join(u.Groups, ", ")), esc(note))
	}
	tw.Flush()
	for _, rm := range s.Removals {
		// Counted by distinct approver, as the approval rule counts them;
		// one person's approvals on several tasks are one name.
		var by []string
		for _, a := range rm.Approvals {
			if n := "@" + esc(a.Username); !slices.Contains(by, n) {
				by = append(by, n)
			}
		}
		held := ""
		if rm.Held != "" && rm.Status == state.RemovalApproved {
			held = " (held by the removal guard-rail)"
		}
		fmt.Fprintf(&sb, "\nRemoval %s: %s%s, %d item(s), approvers %d/%d %s\n", esc(rm.Label()), esc(string(rm.Status)), held, len(rm.Items), len(by), rm.RequiredApprovals, strings.Join(by, " "))
	}
	if len(s.Policies) > 0 {
		fmt.Fprintf(&sb, "\nPolicy findings (on %s):\n", esc(s.PolicyTask))
		tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tRISK\tOBJECT\tPOLICY\tVALUE\tSAFE\tFIX\tAPPROVALS")
		for _, p := range s.Policies {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d %s\n", esc(p.ID), esc(p.State), esc(p.Risk), esc(p.Object), esc(p.Check),
				esc(p.Value), esc(p.Safe), esc(p.Fix), len(p.Approvals), p.Required, esc(strings.Join(p.Approvals, " ")))
		}
		tw.Flush()
	}
	if len(s.Attention) > 0 {
		sb.WriteString("\nNeeds attention:\n")
		for _, a := range s.Attention {
			sb.WriteString("  - " + esc(a) + "\n")
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// ageOf prints how long ago t was, to the minute.
func ageOf(now, t time.Time) string {
	d := now.Sub(t)
	if d < time.Minute {
		return "less than a minute"
	}
	return strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
}

// reconcileNote quotes why an op's last reconciliation failed, if it did.
func reconcileNote(op state.Op) string {
	if op.ReconcileError == "" {
		return ""
	}
	return " (" + op.ReconcileError + ")"
}
