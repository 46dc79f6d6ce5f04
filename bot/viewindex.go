package bot

import (
	"slices"

	"github.com/auditbot/auditbot/state"
)

// Indexes a view builds once, the first time a decision asks: who is a
// member of which group, and where each user's finding is. Without them
// a decision over every finding would look through every member, or
// every finding, once per finding: at 50,000 members that is a billion
// comparisons a tick (issue 17).

// memberSets indexes each group's members as a set.
func memberSets(members map[string][]string) map[string]map[string]bool {
	out := make(map[string]map[string]bool, len(members))
	for g, ms := range members {
		set := make(map[string]bool, len(ms))
		for _, m := range ms {
			set[m] = true
		}
		out[g] = set
	}
	return out
}

// findingIndex finds findings by user PHID in a list of them.
type findingIndex struct {
	all []state.Finding
	at  map[string]int
}

// indexFindings indexes fs, which it keeps (not a copy).
func indexFindings(fs []state.Finding) *findingIndex {
	x := &findingIndex{all: fs, at: make(map[string]int, len(fs))}
	for i, f := range fs {
		x.at[f.UserPHID] = i
	}
	return x
}

// finding returns the finding of user.
func (x *findingIndex) finding(user string) (state.Finding, bool) {
	i, ok := x.at[user]
	if !ok {
		return state.Finding{}, false
	}
	return x.all[i], true
}

// of returns the findings of the users bt lists, each once, in the order
// of the indexed list (the snapshot's: by username).
func (x *findingIndex) of(bt state.Batch) []state.Finding {
	pos := make([]int, 0, len(bt.UserPHIDs))
	for _, u := range bt.UserPHIDs {
		if i, ok := x.at[u]; ok {
			pos = append(pos, i)
		}
	}
	if len(pos) == 0 {
		return nil
	}
	slices.Sort(pos)
	pos = slices.Compact(pos)
	out := make([]state.Finding, len(pos))
	for i, p := range pos {
		out[i] = x.all[p]
	}
	return out
}

// findings indexes the view's findings, once.
func (v *view) findings() *findingIndex {
	if v.index == nil {
		v.index = indexFindings(v.snap.Findings)
	}
	return v.index
}

// findingsOf returns the findings of the users batch bt lists.
func (v *view) findingsOf(bt state.Batch) []state.Finding { return v.findings().of(bt) }
