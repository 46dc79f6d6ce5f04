package bot

import (
	"strings"
	"testing"

	"github.com/auditbot/auditbot/state"
	"github.com/auditbot/auditbot/templates"
)

// TestOpKeyGolden pins the byte format of every op key. Tasks and comments
// already in Phabricator carry these keys in their marker lines, and state
// files hold them as op keys: a changed format makes the bot miss its own
// earlier writes and write them twice. Never update a want here; add a new
// key instead.
func TestOpKeyGolden(t *testing.T) {
	restore := restoreKey("alice", 2)
	tests := []struct {
		name string
		got  OpKey
		want string
	}{
		{"taskKey", taskKey(2), "task/batch-2"},
		{"replyKey", replyKey("PHID-XACT-TASK-abc"), "reply/PHID-XACT-TASK-abc"},
		{"reminderKey", reminderKey("2027-02-28", "7d", 1), "reminder/2027-02-28/7d/batch-1"},
		{"userReminderKey", userReminderKey("2027-03-15", "1d", "bob"), "reminder/2027-03-15/1d/user-bob"},
		{"extensionKey campaign", extensionKey("2027-03-31", ""), "extension/2027-03-31"},
		{"extensionKey user", extensionKey("2027-03-31", "bob"), "extension/2027-03-31/bob"},
		{"extendKey", extendKey("2027-03-31", 3), "extend/2027-03-31/batch-3"},
		{"userExtendKey", userExtendKey("2027-03-31", "bob"), "extend/2027-03-31/bob"},
		{"proposalKey", proposalKey("R1", 2), "removal/R1/proposal/batch-2"},
		{"heldKey", heldKey("R1", 2), "removal/R1/held/batch-2"},
		{"removeKey", removeKey("R1", "PHID-PROJ-abc"), "removal/R1/remove/PHID-PROJ-abc"},
		{"disableKey", disableKey("R1", "PHID-USER-abc"), "removal/R1/disable/PHID-USER-abc"},
		{"noticeKey", noticeKey("R12", 3), "removal/R12/notice/batch-3"},
		{"restoreKey", restore, "restore/alice/2"},
		{"restoreMemberKey", restoreMemberKey(restore, "PHID-PROJ-abc"), "restore/alice/2/PHID-PROJ-abc"},
		{"restoreEnableKey", restoreEnableKey(restore), "restore/alice/2/enable"},
		{"restoreCommentKey", restoreCommentKey(restore), "restore/alice/2/comment"},
		{"policyRestoreKey", policyRestoreKey(1, 42), "policy-restore/batch-1/42"},
		{"policyRestorePrefix", policyRestorePrefix(1), "policy-restore/batch-1/"},
		{"accessRevokeKey", accessRevokeKey(1, 42), "access-revoke/batch-1/42"},
		{"accessRevokePrefix", accessRevokePrefix(1), "access-revoke/batch-1/"},
		{"policyRestoreKey standing", policyRestoreKey(0, 42), "policy-restore/standing/42"},
		{"policyRestorePrefix standing", policyRestorePrefix(0), "policy-restore/standing/"},
		{"accessRevokeKey standing", accessRevokeKey(0, 42), "access-revoke/standing/42"},
		{"accessRevokePrefix standing", accessRevokePrefix(0), "access-revoke/standing/"},
		{"accessRevokePrefix policy", accessRevokePrefix(policyBatch), "access-revoke/policy/"},
		{"repliesKey", repliesKey(3, 412), "replies/batch-3/412"},
		// The marker is an invisible Remarkup anchor holding "CAMPAIGN/KEY"
		// in hex; tasks and comments already in Phabricator carry it.
		{"marker", OpKey(marker("mfa-2027", taskKey(1))), "{anchor #auditbot-6d66612d323032372f7461736b2f62617463682d31}"},
		{"approvalReminderKey", approvalReminderKey("R1", 2, 1), "removal/R1/approval-reminder/batch-2/1"},
		{"overdueKey batch", overdueKey("R1", 2), "removal/R1/overdue/batch-2"},
		{"overdueKey standing", overdueKey("R3", 0), "removal/R3/overdue/standing"},
		{"standingTaskKey", standingTaskKey(), "recurring/standing-task"},
		{"runSummaryKey", runSummaryKey(3), "recurring/run-3/summary"},
		{"instanceName", OpKey(instanceName("mfa-weekly", 2)), "mfa-weekly-r2"},
		{"closeKey batch", closeKey(2), "close/batch-2"},
		{"closeKey standing", closeKey(0), "close/standing"},
		{"trackingKey", trackingKey(), "close/tracking"},
		{"policyTaskKey", policyTaskKey(), "policy-audit/task"},
		{"policyUpdateKey", policyUpdateKey(3), "policy-audit/update-3"},
		{"policyFixKey", policyFixKey("P2"), "policy-audit/fix/P2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.got) != tt.want {
				t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
			}
		})
	}
}

// TestOpKeyPrefixes pins the prefixes the chores match keys by: each must
// match its own family's keys and no other family's.
func TestOpKeyPrefixes(t *testing.T) {
	keys := map[OpKey]OpKey{
		taskPrefix:          taskKey(1),
		replyPrefix:         replyKey("PHID-XACT-TASK-abc"),
		reminderPrefix:      userReminderKey("2027-03-15", "1d", "bob"),
		extensionPrefix:     extensionKey("2027-03-31", "bob"),
		extendPrefix:        extendKey("2027-03-31", 3),
		removalPrefix:       removeKey("R1", "PHID-PROJ-abc"),
		restorePrefix:       restoreCommentKey(restoreKey("alice", 1)),
		policyRestoreFamily: policyRestoreKey(1, 42),
		recurringPrefix:     runSummaryKey(1),
		closePrefix:         closeKey(1),
		accessRevokeFamily:  accessRevokeKey(1, 42),
		policyPrefix:        policyFixKey("P1"),
	}
	for prefix := range keys {
		for other, key := range keys {
			if got, want := key.hasPrefix(prefix), other == prefix; got != want {
				t.Errorf("%q.hasPrefix(%q) = %v, want %v", key, prefix, got, want)
			}
		}
	}
	if !policyRestoreKey(1, 42).hasPrefix(policyRestorePrefix(1)) || policyRestoreKey(10, 42).hasPrefix(policyRestorePrefix(1)) {
		t.Errorf("policyRestorePrefix(1) must match batch 1's keys only")
	}
}

func TestParseRemovalKey(t *testing.T) {
	tests := []struct {
		key   OpKey
		label string
		step  removalStep
		ok    bool
	}{
		{proposalKey("R1", 2), "R1", stepProposal, true},
		{heldKey("R3", 1), "R3", stepHeld, true},
		{removeKey("R12", "PHID-PROJ-abc"), "R12", stepRemove, true},
		{disableKey("R12", "PHID-USER-abc"), "R12", stepDisable, true},
		{noticeKey("R2", 4), "R2", stepNotice, true},
		{approvalReminderKey("R2", 4, 3), "R2", stepApprovalReminder, true},
		{overdueKey("R2", 0), "R2", stepOverdue, true},
		{"removal/R1/proposal", "", "", false},
		{"removal/R1", "", "", false},
		{taskKey(1), "", "", false},
		{restoreKey("removal", 1), "", "", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.key), func(t *testing.T) {
			label, step, ok := parseRemovalKey(tt.key)
			if label != tt.label || step != tt.step || ok != tt.ok {
				t.Errorf("parseRemovalKey(%q) = %q, %q, %v; want %q, %q, %v", tt.key, label, step, ok, tt.label, tt.step, tt.ok)
			}
		})
	}
}

// TestMarkerRoundTrip checks that every key parses back from its marker
// line, as the bot reads its own comments, and from no other campaign's.
func TestMarkerRoundTrip(t *testing.T) {
	// The visible marker line written before the anchor is still read.
	if k, ok := parseMarker("auditbot-marker: mfa/task/batch-2", "mfa"); !ok || k != taskKey(2) {
		t.Errorf("legacy marker parsed as %q, %v; want %q", k, ok, taskKey(2))
	}
	if b, f, ok := parseRepliesKey(repliesKey(3, 412)); !ok || b != 3 || f != 412 {
		t.Errorf("parseRepliesKey(repliesKey(3, 412)) = %d, %d, %v", b, f, ok)
	}
	for _, key := range []OpKey{taskKey(1), replyKey("PHID-XACT-TASK-abc"), reminderKey("2027-02-28", "7d", 1),
		proposalKey("R1", 2), removeKey("R1", "PHID-PROJ-x"), restoreCommentKey(restoreKey("alice", 1)), policyRestoreKey(2, 7)} {
		t.Run(string(key), func(t *testing.T) {
			text := withMarker("Some text.\n", "mfa", key)
			if !hasMarker(text, "mfa", key) {
				t.Errorf("hasMarker(withMarker(%q)) = false", key)
			}
			var got []OpKey
			for line := range strings.Lines(text) {
				if k, ok := parseMarker(line, "mfa"); ok {
					got = append(got, k)
				}
				if k, ok := parseMarker(line, "mf"); ok {
					t.Errorf("parseMarker(%q, other campaign) = %q", line, k)
				}
			}
			if len(got) != 1 || got[0] != key {
				t.Errorf("parsed %q from the marker, want [%q]", got, key)
			}
		})
	}
}

func TestRestoreKeyUnder(t *testing.T) {
	r1, r11 := restoreKey("alice", 1), restoreKey("alice", 11)
	tests := []struct {
		key  OpKey
		want bool
	}{
		{r1, true},
		{restoreMemberKey(r1, "PHID-PROJ-x"), true},
		{restoreCommentKey(r1), true},
		{r11, false},
		{restoreCommentKey(r11), false},
		{restoreCommentKey(restoreKey("alice2", 1)), false},
	}
	for _, tt := range tests {
		if got := tt.key.under(r1); got != tt.want {
			t.Errorf("%q.under(%q) = %v, want %v", tt.key, r1, got, tt.want)
		}
	}
}

// TestDecisionText pins how a stored decision is worded in the
// exemption-decision text.
func TestDecisionText(t *testing.T) {
	for d, want := range map[state.Decision]string{
		state.ExemptionGranted: templates.DecisionGranted,
		state.ExemptionDenied:  templates.DecisionDenied,
	} {
		if got := decisionText(d); got != want {
			t.Errorf("decisionText(%q) = %q, want %q", d, got, want)
		}
	}
}
