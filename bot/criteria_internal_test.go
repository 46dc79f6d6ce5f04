package bot

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot/replies"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
)

func TestInactiveDecision(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	const year = 365 * 24 * time.Hour
	ago := func(days int) time.Time { return now.AddDate(0, 0, -days) }
	tests := []struct {
		name                  string
		created, joined, last time.Time
		want                  bool
	}{
		{"active 11 months ago", ago(1000), time.Time{}, ago(334), false},
		{"active 13 months ago", ago(1000), time.Time{}, ago(396), true},
		{"no activity at all", ago(1000), time.Time{}, time.Time{}, true},
		{"account created last month", ago(30), time.Time{}, time.Time{}, false},
		{"joined the group last month", ago(1000), ago(30), time.Time{}, false},
		{"joined 13 months ago, inactive", ago(1000), ago(396), time.Time{}, true},
		{"active exactly at the edge", ago(1000), time.Time{}, now.Add(-year), false},
		{"unknown creation date", time.Time{}, time.Time{}, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, why := inactiveDecision(now, year, tt.created, tt.joined, tt.last); got != tt.want {
				t.Errorf("flag = %v (%s), want %v", got, why, tt.want)
			}
		})
	}
}

func TestReplyKeeps(t *testing.T) {
	keptByAlice := map[string]state.Keep{"inactive": {By: "alice", Approver: true}}
	tests := []struct {
		name    string
		reasons []string
		status  state.Status
		kept    map[string]state.Keep
		kind    replies.Kind
		want    []string
	}{
		{"inactive: still here", []string{"inactive"}, state.StatusPending, nil, replies.KindKeep, []string{"inactive"}},
		{"inactive: a question is activity", []string{"inactive"}, state.StatusPending, nil, replies.KindOther, []string{"inactive"}},
		{"inactive: remove me is not", []string{"inactive"}, state.StatusPending, nil, replies.KindRemoveMe, nil},
		{"inactive: exemption is not", []string{"inactive"}, state.StatusPending, nil, replies.KindExemption, nil},
		{"reconfirm: only a keep", []string{"reconfirm"}, state.StatusPending, nil, replies.KindOther, nil},
		{"reconfirm: keep", []string{"reconfirm"}, state.StatusPending, nil, replies.KindKeep, []string{"reconfirm"}},
		{"mfa: never by reply", []string{"mfa"}, state.StatusPending, nil, replies.KindKeep, nil},
		{"list: only an approver", []string{"list"}, state.StatusPending, nil, replies.KindKeep, nil},
		{"mfa and inactive: inactivity only", []string{"mfa", "inactive"}, state.StatusPending, nil, replies.KindClaimCompliance, []string{"inactive"}},
		{"already kept", []string{"inactive"}, state.StatusCompliant, keptByAlice, replies.KindKeep, nil},
		{"removed users do not keep", []string{"inactive"}, state.StatusRemoved, nil, replies.KindKeep, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := state.Finding{Reasons: tt.reasons, Status: tt.status, Kept: tt.kept}
			if diff := cmp.Diff(tt.want, replyKeeps(f, tt.kind)); diff != "" {
				t.Errorf("replyKeeps (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeLedger answers RecordMembersSeen from fixed first-seen times.
type fakeLedger map[string]map[string]time.Time

func (l fakeLedger) RecordMembersSeen(group string, members []string, now time.Time) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for _, m := range members {
		if t, ok := l[group][m]; ok {
			out[m] = t
		} else {
			out[m] = now
		}
	}
	return out, nil
}

func TestJoined(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	firstScan := now.AddDate(-2, 0, 0)
	ledger := fakeLedger{
		"G1": {"old": firstScan, "late": now.AddDate(0, -1, 0)},
		// G2 was never scanned: everyone is first seen now, and nobody can
		// be told apart as a newcomer.
	}
	x := &critEnv{read: &reader{ledger: ledger}, now: now, groups: []groupView{
		{Project: conduit.Project{PHID: "G1", MemberPHIDs: []string{"old", "late"}}},
		{Project: conduit.Project{PHID: "G2", MemberPHIDs: []string{"fresh", "late"}}},
	}}
	got, err := x.joined([]string{"old", "late", "fresh"})
	if err != nil {
		t.Fatal(err)
	}
	// "late" joined G1 after its first scan, but was in G2 at G2's first
	// scan, so the bot cannot tell when they joined: not protected.
	if diff := cmp.Diff(map[string]time.Time{}, got); diff != "" {
		t.Errorf("joined (-want +got):\n%s", diff)
	}
	x.groups = x.groups[:1]
	got, err = x.joined([]string{"old", "late"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]time.Time{"late": now.AddDate(0, -1, 0)}, got); diff != "" {
		t.Errorf("joined, G1 only (-want +got):\n%s", diff)
	}
}
