package bot

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/state"
)

// TestDecideTracking: the summary is one comment on the tracking task,
// keyed close/tracking, journaled as tracking-summary; it counts the
// findings per group and names the journal's head, and nobody in it is
// mentioned.
func TestDecideTracking(t *testing.T) {
	snap := closingSnapshot()
	journal := []state.Entry{{Seq: 1, Kind: state.EntryLaunch}, {Seq: 2, Kind: state.EntryMembersRemoved, Users: []string{"bo"}, Group: "WMF-NDA", Approvers: []string{"alice", "bob"}}}
	check := state.JournalCheck{OK: true, Head: state.Anchor{Seq: 2, Hash: strings.Repeat("ab", 32)}}
	got := decisionsOf([]intent{decideTracking(&snap, journal, check, "T77", "PHID-TASK-77")})
	want := []decision{{Key: trackingKey(), Kind: state.OpTrackingSummary, Write: editTaskW{Task: "PHID-TASK-77"},
		Entry: state.Entry{Actor: "auditbot", ActorKind: state.ActorBot, Task: "T77", Outcome: "posted", Detail: "campaign summary posted, naming the journal's head"},
		Said:  "campaign summary posted on T77"}}
	if diff := cmp.Diff(want, got, ignoreComment); diff != "" {
		t.Fatalf("tracking (-want +got):\n%s", diff)
	}
	text := got[0].Comment
	for _, s := range []string{"`bo` | removed from | `WMF-NDA` | `alice`, `bob`", "--head " + snap.Campaign.Name + "=2:" + strings.Repeat("ab", 32)} {
		if !strings.Contains(text, s) {
			t.Errorf("summary lacks %q:\n%s", s, text)
		}
	}
	if strings.Contains(text, "@") {
		t.Errorf("summary mentions someone:\n%s", text)
	}
}
