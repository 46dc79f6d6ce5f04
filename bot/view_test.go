package bot

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// The deciders' tests build a view literal, call the decider and compare
// what it decided: the intents' durable parts (key, kind, write, entry,
// subjects, args) with go-cmp, and their state changes by applying them to
// a throwaway state file (applied). No Phabricator, fake or real, is
// involved: that is what the scenario tests, the crash sweeps and the
// real-Phorge suite are for.

// Fixed names and times of the decider tests' world.
var (
	dtNow    = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	dtCutoff = time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
)

const (
	dtBot       = "PHID-USER-bot"
	dtApprovers = "PHID-PROJ-approvers"
	dtNDA       = "PHID-PROJ-nda"
	dtSRE       = "PHID-PROJ-sre"
	dtTask1     = "PHID-TASK-1"
	dtTask2     = "PHID-TASK-2"
)

// dtUser is a test user's PHID.
func dtUser(name string) string { return "PHID-USER-" + name }

// testWords renders with the default templates.
func testWords(t *testing.T) *wording {
	t.Helper()
	tmpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return &wording{tmpl: tmpl, cfg: &campaigns.Config{}}
}

// testCampaign is the campaign of the decider tests: MFA in WMF-NDA
// (security) and acl*sre-team (internal), two tasks, past its cutoff.
func testCampaign() (*campaigns.Campaign, state.Campaign) {
	c := &campaigns.Campaign{Name: "dt", Title: "MFA", Criteria: []campaigns.Criterion{campaigns.CriterionMFA}}
	rec := state.Campaign{Name: "dt", Title: "MFA", Cutoff: dtCutoff, BotPHID: dtBot, BotUsername: "auditbot",
		ApproversPHID: dtApprovers, ApproversName: "acl*phabricator-admins", ApproversSlug: "acl_phabricator-admins",
		Groups: []state.Group{
			{PHID: dtNDA, Name: "WMF-NDA", Risk: "security"},
			{PHID: dtSRE, Name: "acl*sre-team", Risk: "internal"},
		}}
	return c, rec
}

// finding is a pending MFA finding of user in groups, on task batch.
func finding(user string, batch int, groups ...string) state.Finding {
	return state.Finding{UserPHID: dtUser(user), Username: user, RealName: "User " + user, Groups: groups,
		Reasons: []string{reasonMFA}, Status: state.StatusPending, Batch: batch}
}

// testView is a view of the decider tests' campaign with these findings
// on two tasks; the caller fills in what Phabricator says.
func testView(t *testing.T, findings ...state.Finding) *view {
	t.Helper()
	c, rec := testCampaign()
	snap := state.Snapshot{Campaign: rec, Findings: findings, Batches: []state.Batch{
		{Index: 1, TaskPHID: dtTask1, TaskID: 1},
		{Index: 2, TaskPHID: dtTask2, TaskID: 2},
	}}
	for _, f := range findings {
		for i := range snap.Batches {
			if snap.Batches[i].Index == f.Batch {
				snap.Batches[i].UserPHIDs = append(snap.Batches[i].UserPHIDs, f.UserPHID)
			}
		}
	}
	return &view{now: dtNow, c: c, snap: snap, words: testWords(t), cfg: &campaigns.Config{},
		members: map[string][]string{}, users: map[string]conduit.User{}, texts: map[string]string{},
		live: map[string]map[string]conduit.User{}}
}

// approverUser makes name an enabled member of the approvers' project in v.
func (v *view) withApprover(name string) *view {
	v.approvers = append(v.approvers, dtUser(name))
	v.users[dtUser(name)] = conduit.User{PHID: dtUser(name), Username: name}
	return v
}

// intentParts are the parts of an intent a test compares: what is
// durable, as data.
type intentParts struct {
	Key      OpKey
	Kind     state.OpKind
	Write    write
	Entry    state.Entry
	Subjects []string
	Said     string
}

// parts returns the comparable parts of intents.
func parts(ins []intent) []intentParts {
	var out []intentParts
	for _, in := range ins {
		p := intentParts{Key: in.key, Kind: in.kind, Write: in.write, Entry: in.entry, Subjects: in.subjects, Said: in.said.text}
		out = append(out, p)
	}
	return out
}

// cmpIntents compares intents' parts; texts are compared elsewhere
// (golden files), so comments' bodies are ignored here.
var cmpIntents = cmp.Options{
	cmp.AllowUnexported(intentParts{}, fileTask{}, editTask{}, editMembers{}, setDisabled{}),
	cmpopts.EquateEmpty(),
	cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".Value" // a comment's rendered text
	}, cmp.Ignore()),
}

// applied records intents' state changes (writes taken as sent, their
// outcome recorded) in a throwaway state file holding v's snapshot, and
// returns the snapshot after them.
func applied(t *testing.T, v *view, ins ...intent) state.Snapshot {
	t.Helper()
	snap, _ := appliedJournal(t, v, ins...)
	return snap
}

// recorded records outcome o of turn tn as the conversation does
// (outcomeIntent: its journal entry, its state change, its answer added to
// the task's combined answer, the cursor moved past the transaction) and
// returns the snapshot and the journal entries after it.
func recorded(t *testing.T, v *view, tn *turn, o outcome) (state.Snapshot, []state.Entry) {
	t.Helper()
	r := &run{c: v.c, rec: v.snap.Campaign}
	return appliedJournal(t, v, outcomeIntent(r, tn.bt, tn.t, o, repliesKey(tn.bt.Index, tn.t.ID), v.now))
}

// appliedJournal is applied, also returning the journal entries the
// intents added.
func appliedJournal(t *testing.T, v *view, ins ...intent) (state.Snapshot, []state.Entry) {
	t.Helper()
	store := storeBot(t, v.snap).store
	snap := v.snap
	before, err := store.Journal(snap.Campaign.Name)
	if err != nil {
		t.Fatal(err)
	}
	err = store.Update(snap.Campaign.Name, func(tx *state.CampaignTx) error {
		for _, in := range ins {
			if in.prepare != nil {
				if err := in.prepare(tx); err != nil {
					return err
				}
			}
			if in.change != nil {
				if err := in.change(tx, outcomeOf{sent: in.write, subjects: in.subjects, at: v.now}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("apply intents: %v", err)
	}
	out, err := store.Snapshot(snap.Campaign.Name)
	if err != nil {
		t.Fatal(err)
	}
	journal, err := store.Journal(snap.Campaign.Name)
	if err != nil {
		t.Fatal(err)
	}
	return out, journal[len(before):]
}

// statuses maps each finding's username to its status.
func statuses(snap state.Snapshot) map[string]state.Status {
	out := map[string]state.Status{}
	for _, f := range snap.Findings {
		out[f.Username] = f.Status
	}
	return out
}
