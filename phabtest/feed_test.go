package phabtest

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// feedWorld is a small server with a feed: public and restricted tasks,
// a story about a user's own object, and a project tagged after the fact.
type feedWorld struct {
	l                    *lab
	bot, alice, bob, sec User // sec is a member of the restricted group
	tagged, later, group Project
	// keys of the stories, by name
	keys map[string]uint64
}

var feedT0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newFeedWorld(t *testing.T, opts Options) *feedWorld {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return feedT0.AddDate(0, 0, 30) }
	}
	s := New(opts)
	t.Cleanup(s.Close)
	w := &feedWorld{l: &lab{t: t, s: s}, keys: map[string]uint64{}}
	w.bot = s.AddUser(UserSpec{Username: "auditbot", Admin: true, Bot: true})
	w.alice = s.AddUser(UserSpec{Username: "alice"})
	w.bob = s.AddUser(UserSpec{Username: "bob"})
	w.sec = s.AddUser(UserSpec{Username: "sec"})
	w.tagged = s.AddProject(ProjectSpec{Name: "tagged", AuthorPHID: w.bot.PHID})
	w.later = s.AddProject(ProjectSpec{Name: "later", AuthorPHID: w.bot.PHID})
	w.group = s.AddProject(ProjectSpec{Name: "acl*security", AuthorPHID: w.bot.PHID, Members: []string{w.sec.PHID}})
	day := func(n int) time.Time { return feedT0.AddDate(0, 0, n) }
	newest := func(name string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		// The last one published has the highest sequence number.
		var last *story
		for _, st := range s.stories {
			if last == nil || st.key&0xffffffff > last.key&0xffffffff {
				last = st
			}
		}
		w.keys[name] = last.key
	}
	s.AddTask(TaskSpec{Title: "public", AuthorPHID: w.alice.PHID, Projects: []string{w.tagged.PHID}, At: day(1)}) // T1
	newest("alice-creates-T1")
	s.AddComment(CommentSpec{TaskID: 1, AuthorPHID: w.bob.PHID, Text: "hi", At: day(2)})
	newest("bob-comments-T1")
	w.keys["bot-about-alice"] = s.AddStory(w.bot.PHID, w.alice.PHID, day(3)).ChronologicalKey
	s.AddTask(TaskSpec{Title: "restricted", AuthorPHID: w.sec.PHID, ViewPolicy: w.group.PHID, At: day(4)}) // T2
	newest("sec-creates-T2")
	// Seeded out of order: the feed is ordered by key, not by insertion.
	w.keys["alice-old"] = s.AddStory(w.alice.PHID, w.alice.PHID, day(-100)).ChronologicalKey
	env := w.l.callJSON("maniphest.edit", w.bob.Token, map[string]any{"objectIdentifier": "T1",
		"transactions": []any{map[string]any{"type": "projects.add", "value": []string{w.later.PHID}}}})
	env.must(t, nil)
	newest("bob-tags-T1")
	return w
}

// feed calls feed.query and returns the stories' names, newest first, or
// the error code.
func (w *feedWorld) feed(tok string, params map[string]any) ([]string, string) {
	w.l.t.Helper()
	env := w.l.callJSON("feed.query", tok, params)
	if env.ErrorCode != nil {
		return nil, *env.ErrorCode
	}
	var res map[string]struct {
		Key string `json:"chronologicalKey"`
	}
	if string(env.Result) != "[]" {
		env.must(w.l.t, &res)
	}
	byKey := map[uint64]string{}
	for name, k := range w.keys {
		byKey[k] = name
	}
	var keys []uint64
	for _, r := range res {
		k, err := strconv.ParseUint(r.Key, 10, 64)
		if err != nil {
			w.l.t.Fatalf("chronologicalKey %q: %v", r.Key, err)
		}
		keys = append(keys, k)
	}
	// Newest first.
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] > keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	var names []string
	for _, k := range keys {
		name, ok := byKey[k]
		if !ok {
			name = "other" // the projects' creation
		}
		names = append(names, name)
	}
	return names, ""
}

func TestFeedSemantics(t *testing.T) {
	w := newFeedWorld(t, Options{})
	key := func(name string) string { return strconv.FormatUint(w.keys[name], 10) }
	tests := []struct {
		name     string
		as       User
		params   map[string]any
		want     []string
		wantCode string
	}{
		{
			name: "whole feed, newest first; the restricted task's story is invisible to an admin (fact 43)",
			as:   w.bot, params: map[string]any{},
			want: []string{"bob-tags-T1", "other", "other", "other", "bot-about-alice", "bob-comments-T1", "alice-creates-T1", "alice-old"},
		},
		{
			name: "its author sees it",
			as:   w.sec, params: map[string]any{"filterPHIDs": []string{w.sec.PHID}},
			want: []string{"sec-creates-T2"},
		},
		{
			name: "a user's filter matches stories they authored and stories about their user object",
			as:   w.bot, params: map[string]any{"filterPHIDs": []string{w.alice.PHID}},
			want: []string{"bot-about-alice", "alice-creates-T1", "alice-old"},
		},
		{
			name: "not stories on objects they created or commented on, by others",
			as:   w.bot, params: map[string]any{"filterPHIDs": []string{w.bob.PHID}},
			want: []string{"bob-tags-T1", "bob-comments-T1"},
		},
		{
			name: "an object matches every story about it",
			as:   w.bot, params: map[string]any{"filterPHIDs": []string{"PHID-TASK-nonexistent", w.l.s.Tasks()[0].PHID}},
			want: []string{"bob-tags-T1", "bob-comments-T1", "alice-creates-T1"},
		},
		{
			name: "a project matches its own stories and those on objects tagged with it when published",
			as:   w.bot, params: map[string]any{"filterPHIDs": []string{w.tagged.PHID}},
			want: []string{"bob-tags-T1", "other", "bob-comments-T1", "alice-creates-T1"},
		},
		{
			name: "tagging later does not add the older stories",
			as:   w.bot, params: map[string]any{"filterPHIDs": []string{w.later.PHID}},
			want: []string{"bob-tags-T1", "other"},
		},
		{
			name: "limit and after page older stories",
			as:   w.bot, params: map[string]any{"filterPHIDs": []string{w.alice.PHID}, "limit": 1, "after": key("bot-about-alice")},
			want: []string{"alice-creates-T1"},
		},
		{
			name: "after may be any visible story's key, matched by the filter or not",
			as:   w.bot, params: map[string]any{"filterPHIDs": []string{w.alice.PHID}, "after": key("bob-comments-T1")},
			want: []string{"alice-creates-T1", "alice-old"},
		},
		{
			name: "before pages newer stories, newest first",
			as:   w.bot, params: map[string]any{"limit": 2, "before": key("alice-old")},
			want: []string{"bob-comments-T1", "alice-creates-T1"},
		},
		{
			name: "a key made up from a time is refused (fact 39)",
			as:   w.bot, params: map[string]any{"after": strconv.FormatUint(uint64(feedT0.Unix())<<32, 10)},
			wantCode: "ERR-CONDUIT-CORE",
		},
		{
			name: "the key of a story the viewer cannot see is refused",
			as:   w.bot, params: map[string]any{"after": key("sec-creates-T2")},
			wantCode: "ERR-CONDUIT-CORE",
		},
		{
			name: "the same key is fine for one who can see it",
			as:   w.sec, params: map[string]any{"after": key("sec-creates-T2"), "limit": 1},
			want: []string{"bot-about-alice"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, code := w.feed(tt.as.Token, tt.params)
			if diff := cmp.Diff(tt.wantCode, code); diff != "" {
				t.Fatalf("error code (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stories (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFeedStoryCost checks the modelled server time of a feed.query: one
// FeedStoryCost per story returned, whatever the size of the filter.
func TestFeedStoryCost(t *testing.T) {
	w := newFeedWorld(t, Options{FeedStoryCost: 22 * time.Millisecond})
	s := w.l.s
	for _, tt := range []struct {
		params map[string]any
		want   time.Duration
	}{
		{map[string]any{"limit": 3}, 3 * 22 * time.Millisecond},
		{map[string]any{"filterPHIDs": []string{w.alice.PHID}}, 3 * 22 * time.Millisecond},
		{map[string]any{"filterPHIDs": []string{"PHID-USER-nobody"}}, 0},
	} {
		b, _ := json.Marshal(tt.params)
		var params map[string]any
		json.Unmarshal(b, &params)
		s.mu.Lock()
		c := &call{method: "feed.query", request: &request{params: params}, viewer: s.userByID[w.bot.PHID]}
		_, aerr := s.feedQuery(c)
		s.mu.Unlock()
		if aerr != nil {
			t.Fatalf("feed.query %v: %v", tt.params, aerr)
		}
		if c.cost != tt.want {
			t.Errorf("feed.query %v: cost %v, want %v", tt.params, c.cost, tt.want)
		}
	}
}

// TestFeedOverheats: Phorge gives up on a page once it has examined
// 10×(limit+1) matching stories without limit+1 the viewer may see (NOTES
// fact 52), unless it reached the end of the matching stories first; a
// larger limit gets past a longer run. feed.query has no maximum limit.
func TestFeedOverheats(t *testing.T) {
	w := newFeedWorld(t, Options{})
	s := w.l.s
	for d := 5; d < 30; d++ { // with T2's creation, 26 stories only acl*security sees
		s.AddComment(CommentSpec{TaskID: 2, AuthorPHID: w.sec.PHID, Text: "hush", At: feedT0.AddDate(0, 0, d)})
	}
	env := w.l.callJSON("feed.query", w.bot.Token, map[string]any{"filterPHIDs": []string{w.sec.PHID}, "limit": 1})
	if env.ErrorCode == nil || *env.ErrorCode != codeCore || !strings.Contains(*env.ErrorInfo, "overheated: examined more than 20 raw rows without finding 2 visible objects") {
		t.Errorf("limit 1 over 26 hidden stories: %s, want ERR-CONDUIT-CORE overheated", env.Result)
	}
	got, code := w.feed(w.bot.Token, map[string]any{"filterPHIDs": []string{w.sec.PHID}, "limit": 10})
	if code != "" || len(got) != 0 {
		t.Errorf("limit 10: %v %s, want the end of the member's stories, none visible", got, code)
	}
	// The member sees their own work: no overheating.
	if got, code := w.feed(w.sec.Token, map[string]any{"filterPHIDs": []string{w.sec.PHID}, "limit": 1}); code != "" || len(got) != 1 {
		t.Errorf("as the member: %v %s", got, code)
	}
	// A limit above 100 is accepted.
	if _, code := w.feed(w.bot.Token, map[string]any{"limit": 500}); code != "" {
		t.Errorf("limit 500: %s", code)
	}
}
