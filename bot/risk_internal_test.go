package bot

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/state"
)

// TestUnknownRiskIsTheRiskiest: a risk string in state that does not parse
// (a hand-edited or newer state file) asks for the most approvers and
// sorts first; before the fix it counted as one approval.
func TestUnknownRiskIsTheRiskiest(t *testing.T) {
	for _, tt := range []struct {
		risks []string
		want  int
	}{
		{[]string{"not-risky"}, 1},
		{[]string{"vandalism", "not-risky"}, 1},
		{[]string{"security"}, 2},
		{[]string{"bogus"}, 2},
		{[]string{""}, 2},
		{[]string{"not-risky", "high"}, 2},
		{nil, 1},
	} {
		if got := approvalsFor(tt.risks); got != tt.want {
			t.Errorf("approvalsFor(%q) = %d, want %d", tt.risks, got, tt.want)
		}
	}
	items := []state.RemovalItem{
		{GroupName: "a", Username: "u", Risk: "not-risky"},
		{GroupName: "b", Username: "u", Risk: "internal"},
		{GroupName: "c", Username: "u", Risk: "bogus"},
	}
	sortItems(items)
	var got []string
	for _, it := range items {
		got = append(got, it.GroupName)
	}
	if diff := cmp.Diff([]string{"c", "b", "a"}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}
