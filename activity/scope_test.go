package activity

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/phabtest"
)

// TestLastActivityIn: only stories on objects tagged with the scope's
// projects count, each member's newest one within the window.
func TestLastActivityIn(t *testing.T) {
	w := newWorld(t)
	s := w.srv
	sec := s.AddProject(phabtest.ProjectSpec{Name: "Security-Team", AuthorPHID: w.bot.PHID})
	other := s.AddProject(phabtest.ProjectSpec{Name: "Other", AuthorPHID: w.bot.PHID})
	tagged := s.AddTask(phabtest.TaskSpec{Title: "security review", AuthorPHID: w.user("author").PHID, Projects: []string{sec.PHID}, At: daysAgo(100)})
	plain := s.AddTask(phabtest.TaskSpec{Title: "chatter", AuthorPHID: w.bot.PHID, Projects: []string{other.PHID}, At: daysAgo(900)})
	comment := func(task int, name string, d int) {
		s.AddComment(phabtest.CommentSpec{TaskID: task, AuthorPHID: w.user(name).PHID, Text: "hi", At: daysAgo(d)})
	}
	comment(tagged.ID, "scoped", 90)
	comment(tagged.ID, "scoped", 10)
	comment(plain.ID, "scoped", 2) // newer, but out of scope
	comment(plain.ID, "elsewhere", 1)
	comment(tagged.ID, "old", 400) // before the task's creation date, still tagged: out of the window
	// The bot's own story on a tagged task is nobody's activity.
	s.AddStory(w.bot.PHID, tagged.PHID, daysAgo(3))
	// chatty fills more than a page of the scope's feed; quiet's story is
	// on the second page.
	for i := 0; i < ScopePageSize+20; i++ {
		s.AddStory(w.user("chatty").PHID, tagged.PHID, daysAgo(20).Add(time.Duration(i)*time.Minute))
	}
	comment(tagged.ID, "quiet", 60)
	// A story about the project itself (an edit of its members) is not
	// work on a tagged object.
	s.AddStory(w.user("joiner").PHID, sec.PHID, daysAgo(4))

	users := w.phids("scoped", "elsewhere", "old", "joiner", "author", "chatty", "quiet")
	users = append(users, w.bot.PHID, "")
	got, stats, err := w.scanner(nil).LastActivityIn(context.Background(), users, year, []string{sec.PHID, sec.PHID})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{"scoped": daysAgo(10), "author": daysAgo(100),
		"chatty": daysAgo(20).Add(time.Duration(ScopePageSize+19) * time.Minute), "quiet": daysAgo(60)}
	if diff := cmp.Diff(want, w.byName(got)); diff != "" {
		t.Errorf("scoped activity (-want +got):\n%s", diff)
	}
	if len(got) != len(users)-1 {
		t.Errorf("result has %d entries, want %d (every user, the bot's zero included)", len(got), len(users)-1)
	}
	for _, q := range w.feed.queries {
		if diff := cmp.Diff([]string{sec.PHID}, q.FilterPHIDs); diff != "" {
			t.Errorf("filter (-want +got):\n%s", diff)
		}
	}
	// The scope's feed within the window: scoped's 2, chatty's 120,
	// quiet's, the bot's, the task's creation, the project's own creation
	// and the joiner's story about it = 127 stories; then old's story, 400
	// days ago, ends the scan on the second page: 128 read.
	if stats.Calls != len(w.feed.queries) || stats.Calls != 2 {
		t.Errorf("calls %d (%d queries), want 2", stats.Calls, len(w.feed.queries))
	}
	if stats.Stories != 128 {
		t.Errorf("stories %d, want 128: the scope's whole window and one past its edge", stats.Stories)
	}

	t.Run("no project", func(t *testing.T) {
		if _, _, err := w.scanner(nil).LastActivityIn(context.Background(), users, year, []string{""}); err == nil {
			t.Error("a scan with no project succeeded")
		}
	})
}
