package report

import (
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/state"
)

// TestAttack5SummaryOmitsDisabled: a campaign with action disable records
// its consequences as account-disabled and account-enabled entries (not
// members-removed). The tracking task's summary must list them with their
// approvers; before the fix it listed neither and said "None: the
// campaign changed nobody's access" for a campaign that disabled
// accounts.
func TestAttack5SummaryOmitsDisabled(t *testing.T) {
	st := evidenceStore(t)
	if err := st.Update("mfa", func(tx *state.CampaignTx) error {
		if err := tx.Append(state.Entry{At: removed.Add(time.Hour), Kind: state.EntryAccountDisabled, Actor: "auditbot", User: "mallory",
			Groups: []string{"acl*ops"}, Approvers: []string{"alice", "bob"}, Outcome: "disabled",
			Detail: "R2: disabled the account of @mallory (member of acl*ops)"}); err != nil {
			return err
		}
		return tx.Append(state.Entry{At: removed.Add(2 * time.Hour), Kind: state.EntryAccountEnabled, Actor: "carol", User: "mallory",
			Outcome: "enabled", Detail: "restore #1, force=false: account enabled again"})
	}); err != nil {
		t.Fatal(err)
	}
	snap, err := st.Snapshot("mfa")
	if err != nil {
		t.Fatal(err)
	}
	journal, check, err := st.CheckedJournal("mfa")
	if err != nil {
		t.Fatal(err)
	}
	got := Summarize(&snap, journal, check).Remarkup()
	for _, want := range []string{"| `mallory` | account disabled | `acl*ops` | `alice`, `bob` |", "| `mallory` | account enabled |  | `carol` |"} {
		if !strings.Contains(got, want) {
			t.Errorf("the summary lacks %q:\n%s", want, got)
		}
	}
}
