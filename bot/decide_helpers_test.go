package bot

// Helpers for the table tests of the deciders: a view literal needs the
// texts, a campaign and a clock; what a decider returns is compared as
// data (decision), and what its state changes do is seen in a real state
// file (applyInStore). No test here needs a Phabricator.

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

// decideNow is the time of the deciders' tests: 2027-01-10 09:00 UTC.
var decideNow = time.Date(2027, 1, 10, 9, 0, 0, 0, time.UTC)

// parseCampaign parses a campaign file: name test, criteria (such as
// "[mfa]") on WMF-NDA, cutoff 2027-02-28 (the instant 2027-03-01), with
// extra keys appended.
func parseCampaign(t *testing.T, criteria, extra string) *campaigns.Campaign {
	t.Helper()
	c, err := campaigns.ParseCampaign("test.yaml", []byte("name: test\ncriteria: "+criteria+"\ngroups: [WMF-NDA]\ncutoff: 2027-02-28\napprovers: acl*admins\n"+extra))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testRecord is the campaign's record as launched: the bot, the group,
// the approvers and the team.
func testRecord() state.Campaign {
	cut := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	return state.Campaign{Name: "test", Title: "MFA audit", Cutoff: cut, OriginalCutoff: cut,
		LaunchedAt: time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC),
		BotPHID:    "PHID-USER-bot", BotUsername: "auditbot",
		ApproversPHID: "PHID-PROJ-admins", ApproversName: "acl*admins", ApproversSlug: "acl_admins",
		TeamPHID: "PHID-PROJ-team", TeamName: "Security-Team",
		Groups:     []state.Group{{PHID: "PHID-PROJ-nda", Name: "WMF-NDA", Slug: "wmf-nda", Risk: "security"}},
		ViewPolicy: conduit.PolicySubscribers, EditPolicy: conduit.PolicyAdmin,
	}
}

// viewOf is a view of snap at decideNow for campaign c.
func viewOf(t *testing.T, c *campaigns.Campaign, snap state.Snapshot) *view {
	t.Helper()
	return &view{now: decideNow, c: c, snap: snap, words: testWords(t), cfg: &campaigns.Config{}}
}

// journalOpts compare journal entries without what Append adds.
var journalOpts = cmpopts.IgnoreFields(state.Entry{}, "Seq", "Recorded", "PrevHash", "Hash", "Users", "Groups")

// decision is an intent as the table tests compare it: its key, kind,
// write (comment text apart), journal entry and what the tick says.
type decision struct {
	Key   OpKey
	Kind  state.OpKind
	Write any
	Entry state.Entry
	Said  string
	// Comment is the text the write posts, if any; tests look for words
	// in it rather than compare whole templates.
	Comment string
}

// The writes as comparable data.
type (
	fileTaskW struct{ Spec conduit.TaskSpec }
	editTaskW struct {
		Task        string
		Edits, Then []conduit.Edit
	}
	editMembersW struct {
		Project     string
		Add, Remove []string
	}
)

// decisionsOf turns intents into what the tests compare.
func decisionsOf(ins []intent) []decision {
	var out []decision
	for _, in := range ins {
		d := decision{Key: in.key, Kind: in.kind, Entry: in.entry, Said: in.said.text}
		switch w := in.write.(type) {
		case fileTask:
			d.Write = fileTaskW{w.spec}
		case editTask:
			var edits []conduit.Edit
			for _, e := range w.edits {
				if text, ok := e.Value.(string); ok && e.Type == xactComment {
					d.Comment = text
					continue
				}
				edits = append(edits, e)
			}
			d.Write = editTaskW{w.task, edits, w.then}
		case editMembers:
			d.Write = editMembersW{w.project, w.add, w.remove}
		}
		out = append(out, d)
	}
	return out
}

// storeBot is a Bot with nothing but a new state file holding snap and
// the tests' clock: what the executor needs to record intents.
func storeBot(t *testing.T, snap state.Snapshot) *Bot {
	t.Helper()
	st, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	name := snap.Campaign.Name
	if err := st.CreateCampaign(snap.Campaign, snap.Findings, snap.Batches); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(name, func(tx *state.CampaignTx) error {
		for i := range snap.Removals {
			if err := tx.PutRemoval(&snap.Removals[i]); err != nil {
				return err
			}
		}
		for _, op := range snap.Ops {
			if err := tx.PutOp(op); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return decideNow }
	read := &reader{store: st, now: now}
	return &Bot{store: st, now: now, read: read, exec: &executor{store: st, read: read, now: now}}
}

// applyInStore records snap in a new state file, then carries out ins
// there as the executor records them, each write as having landed with
// outcome res (its task, its result): the intent's prepare and change,
// the op, the journal entry. It returns the state and the journal after.
func applyInStore(t *testing.T, snap state.Snapshot, ins []intent, res outcomeOf) (state.Snapshot, []state.Entry) {
	t.Helper()
	b := storeBot(t, snap)
	st, name := b.store, snap.Campaign.Name
	for _, in := range ins {
		if in.write == nil {
			if err := b.exec.applyChange(name, in); err != nil {
				t.Fatalf("apply %s: %v", in.key, err)
			}
			continue
		}
		op := state.Op{Key: string(in.key), Kind: in.kind, State: state.OpPending, CreatedAt: decideNow, Attempts: 1, Subjects: in.subjects, Args: in.args}
		if err := st.Update(name, func(tx *state.CampaignTx) error {
			if in.prepare != nil {
				if err := in.prepare(tx); err != nil {
					return err
				}
			}
			return tx.PutOp(op)
		}); err != nil {
			t.Fatalf("record intent %s: %v", in.key, err)
		}
		out := res
		out.sent = in.write
		if err := b.exec.finish(name, in, op, out, ""); err != nil {
			t.Fatalf("record outcome %s: %v", in.key, err)
		}
	}
	after, err := st.Snapshot(name)
	if err != nil {
		t.Fatal(err)
	}
	journal, err := st.Journal(name)
	if err != nil {
		t.Fatal(err)
	}
	return after, journal
}
