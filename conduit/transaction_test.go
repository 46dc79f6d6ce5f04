package conduit

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCurrentComment checks that the current text of a comment is its
// highest version, whatever the list order, and that a deleted comment
// does not fall back to an older text (fact 45).
func TestCurrentComment(t *testing.T) {
	tests := []struct {
		name     string
		comments []Comment
		want     Comment
		wantOK   bool
	}{
		{name: "none"},
		{name: "original only", comments: []Comment{{Version: 1, Raw: "!approve"}}, want: Comment{Version: 1, Raw: "!approve"}, wantOK: true},
		{name: "edited, newest first as Phorge sends it",
			comments: []Comment{{Version: 2, Raw: "I withdraw my approval"}, {Version: 1, Raw: "!approve"}},
			want:     Comment{Version: 2, Raw: "I withdraw my approval"}, wantOK: true},
		{name: "edited, oldest first",
			comments: []Comment{{Version: 1, Raw: "!approve"}, {Version: 3, Raw: "no"}, {Version: 2, Raw: "maybe"}},
			want:     Comment{Version: 3, Raw: "no"}, wantOK: true},
		{name: "deleted: the removed version is current",
			comments: []Comment{{Version: 2, Removed: true}, {Version: 1, Raw: "!approve"}},
			want:     Comment{Version: 2, Removed: true}, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx := Transaction{Comments: tt.comments}
			got, ok := tx.CurrentComment()
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CurrentComment (-want +got):\n%s", diff)
			}
		})
	}
}
