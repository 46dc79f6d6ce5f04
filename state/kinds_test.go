package state

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The kinds and decisions are stored in state files and shown by status
// and the journal; these tests fail when one is renamed, which would
// strand what older state files say.

func TestEntryKindStrings(t *testing.T) {
	got := map[EntryKind]string{
		EntryLaunch: "launch", EntryTaskCreated: "task-created", EntryPolicyMismatch: "policy-mismatch",
		EntryPolicyRestored: "policy-restored", EntryAccessRevoked: "access-revoked", EntryDrift: "drift",
		EntryReminder: "reminder", EntryDeadlineExtended: "deadline-extended", EntryExtensionAnnounced: "extension-announced",
		EntryIgnored: "ignored", EntryReplyFlood: "reply-flood", EntryUnsubscribed: "unsubscribed", EntryClaimRejected: "claim-rejected",
		EntryClaimVerified: "claim-verified", EntryRestoreRequested: "restore-requested", EntryVoluntary: "voluntary",
		EntryNeedsHuman: "needs-human", EntryExemptionRequested: "exemption-requested", EntryExemptionDecision: "exemption-decision",
		EntryApprovalRecorded: "approval-recorded", EntryCommandRefused: "command-refused", EntryRestoreCommand: "restore-command",
		EntryApprovalWithdrawn: "approval-withdrawn", EntryVoluntaryWithdrawn: "voluntary-withdrawn",
		EntryApprovalRefused: "approval-refused", EntryRemovalApproval: "removal-approval", EntryApprovalLapsed: "approval-lapsed",
		EntryRemovalProposed: "removal-proposed", EntryRemovalAnnounced: "removal-announced", EntryMembersRemoved: "members-removed",
		EntryRemovalHeld: "removal-held", EntryRemovalReleased: "removal-released", EntryRemovalNotice: "removal-notice",
		EntryRemovalDone: "removal-done", EntryMemberRestored: "member-restored", EntryRestored: "restored",
		EntryComment: "comment", EntryWriteDropped: "write-dropped",
		EntryRun: "recurring-run", EntryRunSummary: "run-summary", EntryInstanceStarted: "instance-started",
		EntryRunRefused:       "run-refused",
		EntryApprovalReminder: "approval-reminder", EntryApprovalOverdue: "approval-overdue",
		EntryTaskClosed: "task-closed", EntryCampaignClosed: "campaign-closed", EntryTrackingSummary: "tracking-summary",
		EntryKept: "kept", EntryKeepWithdrawn: "keep-withdrawn", EntryListUnmatched: "list-unmatched",
		EntryPolicyFound: "policy-found", EntryPolicyCleared: "policy-cleared", EntryPolicyFixed: "policy-fixed",
		EntryAccountDisabled: "account-disabled", EntryAccountEnabled: "account-enabled", EntryDisableRefused: "disable-refused",
	}
	if len(got) != 56 {
		t.Errorf("%d distinct kinds, want 56: two constants share a string", len(got))
	}
	for k, want := range got {
		if string(k) != want {
			t.Errorf("EntryKind %q, want %q", k, want)
		}
	}
}

func TestOpKindStrings(t *testing.T) {
	tests := []struct {
		kind OpKind
		want string
		// entry is the journal kind the op's outcome is recorded under
		// when its effect names none.
		entry EntryKind
	}{
		{OpTaskCreated, "task-created", EntryTaskCreated},
		{OpComment, "comment", EntryComment},
		{OpMembersRemoved, "members-removed", EntryMembersRemoved},
		{OpMemberRestored, "member-restored", EntryMemberRestored},
		{OpPolicyRestored, "policy-restored", EntryPolicyRestored},
		{OpAccessRevoked, "access-revoked", EntryAccessRevoked},
		{OpDeadlineExtended, "deadline-extended", EntryDeadlineExtended},
		{OpRestore, "restore", "restore"},
		{OpTaskClosed, "task-closed", EntryTaskClosed},
		{OpTrackingSummary, "tracking-summary", EntryTrackingSummary},
		{OpPolicyFixed, "policy-fixed", EntryPolicyFixed},
		{OpAccountDisabled, "account-disabled", EntryAccountDisabled},
		{OpAccountEnabled, "account-enabled", EntryAccountEnabled},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if string(tt.kind) != tt.want {
				t.Errorf("OpKind %q, want %q", tt.kind, tt.want)
			}
			if got := tt.kind.Entry(); got != tt.entry {
				t.Errorf("%q.Entry() = %q, want %q", tt.kind, got, tt.entry)
			}
		})
	}
}

func TestDecisionStrings(t *testing.T) {
	got := []string{string(ExemptionPending), string(ExemptionGranted), string(ExemptionDenied)}
	if diff := cmp.Diff([]string{"pending", "granted", "denied"}, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	statuses := []string{string(RemovalProposed), string(RemovalApproved), string(RemovalDone), string(RemovalRejected)}
	if diff := cmp.Diff([]string{"proposed", "approved", "done", "rejected"}, statuses); diff != "" {
		t.Errorf("removal statuses (-want +got):\n%s", diff)
	}
}
