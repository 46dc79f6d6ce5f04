package testbot

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/internal/testkit"
	"github.com/auditbot/auditbot/internal/testkit/testworld"
	"github.com/auditbot/auditbot/phabtest"
)

// TestNew: a bot over the world with every default launches a campaign
// over Conduit, on the given clock, and records it in the world's state
// file.
func TestNew(t *testing.T) {
	clock := testkit.NewClock(time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC))
	w := testworld.New(t, testworld.Options{
		Server:    phabtest.Options{Now: clock.Now},
		Users:     []phabtest.UserSpec{{Username: "alice", Admin: true, MFA: true}, {Username: "dave"}},
		Approvers: []string{"alice"},
		Team:      []string{"alice"},
		Groups:    []testworld.Group{{Name: testworld.GroupNDA, Members: []string{"dave"}}},
	})
	camp, err := campaigns.ParseCampaign(filepath.Join(w.Dir, "mfa.yaml"), []byte(`name: mfa
criteria: [mfa]
groups: [WMF-NDA]
cutoff: 2027-02-28
team: Security-Team
approvers: acl*phabricator-admins
`))
	if err != nil {
		t.Fatal(err)
	}
	store := w.Store()
	b := New(t, w, Options{Store: store, Campaigns: []*campaigns.Campaign{camp}, Now: clock.Now})
	if _, err := b.Launch(t.Context(), camp); err != nil {
		t.Fatalf("Launch: %v", err)
	}
	snap, err := store.Snapshot("mfa")
	if err != nil || len(snap.Findings) != 1 || snap.Findings[0].Username != "dave" {
		t.Fatalf("after launch: findings %+v, %v", snap.Findings, err)
	}
}
