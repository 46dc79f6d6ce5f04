package conduit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditbot/auditbot/phabtest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// PHIDs from the feed.query recordings.
const (
	feedUser01   = "PHID-USER-pkhqwnc7abznj5wccksv"
	feedUser13   = "PHID-USER-nterbnxnz2pe4lvu5jf5"
	feedUser17   = "PHID-USER-ooihbgjltcrcf2r4iziv"
	feedUser20   = "PHID-USER-qequwzlulfu25ykeenkl"
	feedAuditbot = "PHID-USER-e3p4uunjkeh2vqcbguhw"
	peopleApp    = "PHID-APPS-PhabricatorPeopleApplication"
)

// feedStep answers one feed.query with result (raw JSON), checking params.
func feedStep(params, result string) step {
	return step{method: "feed.query", params: params, status: 200, ctype: "application/json",
		body: `{"result":` + result + `,"error_code":null,"error_info":null}`}
}

// feedError answers one feed.query with a Conduit error.
func feedError(params, code, info string) step {
	b, _ := json.Marshal(map[string]any{"result": nil, "error_code": code, "error_info": info})
	return step{method: "feed.query", params: params, status: 200, ctype: "application/json", body: string(b)}
}

// storyJSON is one "PHID": {...} member of a feed.query result in the
// default view; key is a raw JSON value ("\"123\"" or 123).
func storyJSON(phid, author, object string, epoch int64, key string) string {
	return fmt.Sprintf(`%q:{"class":"PhabricatorApplicationTransactionFeedStory","epoch":%d,"authorPHID":%q,"chronologicalKey":%s,"data":{"objectPHID":%q,"transactionPHIDs":{"PHID-XACT-TASK-aaaaaaaaaaaaaaa":"PHID-XACT-TASK-aaaaaaaaaaaaaaa"}}}`,
		phid, epoch, author, key, object)
}

// feedParams is the params JSON LastActivity sends.
func feedParams(filter []string, after string) string {
	p := map[string]any{"filterPHIDs": filter, "limit": 100}
	if after != "" {
		p["after"] = after
	}
	b, _ := json.Marshal(p)
	return string(b)
}

func TestFeed(t *testing.T) {
	ctx := context.Background()
	user17Stories := []Story{
		{PHID: "PHID-STRY-4vj5naeowjvc6qmfygqv", AuthorPHID: feedUser17, ObjectPHID: "PHID-TASK-bz5jrpabzblepmikl6hm",
			Epoch: time.Date(2026, 11, 22, 22, 27, 8, 0, time.UTC), ChronologicalKey: 7711125994626619359},
		{PHID: "PHID-STRY-ub7p6st25ucw7rdg6uez", AuthorPHID: feedUser17, ObjectPHID: "PHID-TASK-kvn4nyxqaxowddatpqbi",
			Epoch: time.Date(2025, 9, 28, 22, 27, 2, 0, time.UTC), ChronologicalKey: 7555270193540528865},
	}
	lab := func(phid, author, object string, key uint64) Story {
		return Story{PHID: phid, AuthorPHID: author, ObjectPHID: object,
			Epoch: time.Date(2026, 11, 22, 22, 27, 8, 0, time.UTC), ChronologicalKey: key}
	}
	tests := []struct {
		name    string
		q       FeedQuery
		steps   []step
		want    []Story
		wantErr string // substring; "" for success
		errIs   error
	}{
		{
			name: "view text recording, filter deduped",
			q:    FeedQuery{FilterPHIDs: []string{feedUser17, feedUser17}, Limit: 10},
			steps: []step{{method: "feed.query", rec: "feed.query.user17.all.text.json",
				params: `{"filterPHIDs":["` + feedUser17 + `"],"limit":10}`}},
			want: user17Stories,
		},
		{
			name:  "default view: object from data, two authors",
			q:     FeedQuery{FilterPHIDs: []string{feedUser01, feedUser13}, Limit: 10},
			steps: []step{{method: "feed.query", rec: "feed.query.two-users.json"}}, // the recording's own params
			want: []Story{
				{PHID: "PHID-STRY-45i37repjklvujvnty5a", AuthorPHID: feedUser01, ObjectPHID: "PHID-TASK-bz5jrpabzblepmikl6hm",
					Epoch: time.Date(2026, 11, 22, 22, 27, 7, 0, time.UTC), ChronologicalKey: 7711125990924975355},
				{PHID: "PHID-STRY-kflaacidblne7o43ehs7", AuthorPHID: feedUser13, ObjectPHID: "PHID-TASK-3sirtp5edzbn3zeekzwb",
					Epoch: time.Date(2025, 10, 18, 22, 27, 2, 0, time.UTC), ChronologicalKey: 7562691899751890676},
			},
		},
		{
			name:  "no filter, default limit 100",
			steps: []step{{method: "feed.query", rec: "feed.query.global.page1.json", params: `{"limit":100}`}},
			want: []Story{
				lab("PHID-STRY-2szuo7leo6ln5bhnzz2u", "PHID-USER-t3la6zc3l7hfccnjq3il", "PHID-TASK-svsl4zimdcdc5vbbc5d6", 7711125996203440192),
				lab("PHID-STRY-jdmxp63vgtamie4mzcjz", "PHID-USER-thfmmvjjhl7333nsvydc", "PHID-TASK-wengxgra4ivgsqswjigh", 7711125995548718255),
				lab("PHID-STRY-dicpp5p23ihoekj4ngfd", "PHID-USER-2jpjgaov4mgq5ypffd2e", "PHID-TASK-crt6ahe6nvwxchwagw76", 7711125995346587048),
			},
		},
		{
			name: "after goes out as a decimal string",
			q:    FeedQuery{Limit: 3, After: 7711125995346587048},
			steps: []step{{method: "feed.query", rec: "feed.query.global.page2-after.json",
				params: `{"limit":3,"after":"7711125995346587048"}`}},
			want: []Story{
				lab("PHID-STRY-iqoghekf5vy4tkfxdhjn", "PHID-USER-abeeulcnteec6xof2bs2", "PHID-TASK-azerejmnmorgf5bgkwyn", 7711125995308098353),
				lab("PHID-STRY-4vj5naeowjvc6qmfygqv", feedUser17, "PHID-TASK-bz5jrpabzblepmikl6hm", 7711125994626619359),
				lab("PHID-STRY-eqpk7qdj2xdhxqrknf5d", "PHID-USER-sevocsojaarzxbenon6c", "PHID-TASK-2nloxpewtnscu2jym6rb", 7711125992394198835),
			},
		},
		{
			name:  "no stories: result is []",
			q:     FeedQuery{FilterPHIDs: []string{feedUser20}, Limit: 1},
			steps: []step{{method: "feed.query", rec: "feed.query.no-activity.user20.json"}},
			want:  nil,
		},
		{
			name:  "empty object result",
			q:     FeedQuery{FilterPHIDs: []string{feedUser20}},
			steps: []step{feedStep(feedParams([]string{feedUser20}, ""), `{}`)},
			want:  nil,
		},
		{
			name: "keys beyond int64, as string or number, sorted descending",
			q:    FeedQuery{FilterPHIDs: []string{feedUser01}},
			steps: []step{feedStep(feedParams([]string{feedUser01}, ""), "{"+strings.Join([]string{
				storyJSON("PHID-STRY-c", feedUser01, "PHID-TASK-c", 1795386428, `"7711125994626619359"`),
				storyJSON("PHID-STRY-a", feedUser01, "PHID-TASK-a", 4294967295, `"18446744073709551615"`),
				storyJSON("PHID-STRY-d", feedUser01, "PHID-TASK-d", 1<<31, `"9223372036854775808"`),
				storyJSON("PHID-STRY-b", feedUser01, "PHID-TASK-b", 1<<31, `"9223372036854775809"`),
				storyJSON("PHID-STRY-e", feedUser01, "PHID-TASK-e", 1, `4294967296`), // a number
			}, ",")+"}")},
			want: []Story{
				{PHID: "PHID-STRY-a", AuthorPHID: feedUser01, ObjectPHID: "PHID-TASK-a",
					Epoch: time.Date(2106, 2, 7, 6, 28, 15, 0, time.UTC), ChronologicalKey: 18446744073709551615},
				{PHID: "PHID-STRY-b", AuthorPHID: feedUser01, ObjectPHID: "PHID-TASK-b",
					Epoch: time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC), ChronologicalKey: 9223372036854775809},
				{PHID: "PHID-STRY-d", AuthorPHID: feedUser01, ObjectPHID: "PHID-TASK-d",
					Epoch: time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC), ChronologicalKey: 9223372036854775808},
				{PHID: "PHID-STRY-c", AuthorPHID: feedUser01, ObjectPHID: "PHID-TASK-c",
					Epoch: time.Date(2026, 11, 22, 22, 27, 8, 0, time.UTC), ChronologicalKey: 7711125994626619359},
				{PHID: "PHID-STRY-e", AuthorPHID: feedUser01, ObjectPHID: "PHID-TASK-e",
					Epoch: time.Date(1970, 1, 1, 0, 0, 1, 0, time.UTC), ChronologicalKey: 4294967296},
			},
		},
		{
			// gonduit re-encodes the result through float64, so a large
			// number arrives rounded; using it as a cursor would fail later.
			name:    "key sent as a number above 2^53 is refused",
			q:       FeedQuery{FilterPHIDs: []string{feedUser01}},
			steps:   []step{feedStep(feedParams([]string{feedUser01}, ""), "{"+storyJSON("PHID-STRY-a", feedUser01, "PHID-TASK-a", 1795386428, `7711125994626619359`)+"}")},
			wantErr: "only the string form is exact",
		},
		{
			name: "non-user author; data of another shape is ignored",
			q:    FeedQuery{FilterPHIDs: []string{feedAuditbot}},
			steps: []step{feedStep(feedParams([]string{feedAuditbot}, ""),
				`{"PHID-STRY-5p5kvgafiwknua3f7i4j":{"class":"PhabricatorApplicationTransactionFeedStory","epoch":1795386395,"authorPHID":"`+peopleApp+`","chronologicalKey":"7711125852543334028","objectPHID":"`+feedAuditbot+`","text":"People empowered auditbot as an administrator."},`+
					`"PHID-STRY-x":{"class":"PhabricatorFeedStoryStatus","epoch":1795386395,"authorPHID":"`+feedAuditbot+`","chronologicalKey":"7711125852543334027","data":[]}}`)},
			want: []Story{
				{PHID: "PHID-STRY-5p5kvgafiwknua3f7i4j", AuthorPHID: peopleApp, ObjectPHID: feedAuditbot,
					Epoch: time.Date(2026, 11, 22, 22, 26, 35, 0, time.UTC), ChronologicalKey: 7711125852543334028},
				{PHID: "PHID-STRY-x", AuthorPHID: feedAuditbot,
					Epoch: time.Date(2026, 11, 22, 22, 26, 35, 0, time.UTC), ChronologicalKey: 7711125852543334027},
			},
		},
		{
			name: "story without a key is an error",
			q:    FeedQuery{FilterPHIDs: []string{feedUser01}},
			steps: []step{feedStep(feedParams([]string{feedUser01}, ""),
				`{"PHID-STRY-a":{"epoch":1795386428,"authorPHID":"`+feedUser01+`","chronologicalKey":null}}`)},
			wantErr: "PHID-STRY-a has no chronologicalKey",
		},
		{
			name:    "key that is not a uint64 is an error",
			q:       FeedQuery{FilterPHIDs: []string{feedUser01}},
			steps:   []step{feedStep(feedParams([]string{feedUser01}, ""), "{"+storyJSON("PHID-STRY-a", feedUser01, "PHID-TASK-a", 1, `"-1"`)+"}")},
			wantErr: "not an unsigned 64-bit integer",
		},
		{
			name: "made-up cursor is refused (fact 39)",
			q:    FeedQuery{After: 1795386428 << 32},
			steps: []step{feedError(`{"limit":100,"after":"7711125991942258688"}`, "ERR-CONDUIT-CORE",
				`Cursor "7711125991942258688" does not identify a valid object in query "PhabricatorFeedQuery".`)},
			wantErr: "does not identify a valid object",
			errIs:   ErrNotFound,
		},
		{
			name: "non-nil empty filter matches nothing: no call",
			q:    FeedQuery{FilterPHIDs: []string{}},
			want: nil,
		},
		{
			name:    "negative limit: no call",
			q:       FeedQuery{Limit: -1},
			wantErr: "negative limit",
			errIs:   ErrInvalidArgument,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakePhab(t, testToken, tt.steps...)
			c, _ := newTestClient(t, f, Options{})
			got, err := c.Feed(ctx, tt.q)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if tt.errIs != nil && !errors.Is(err, tt.errIs) {
					t.Errorf("err = %v, want errors.Is %v", err, tt.errIs)
				}
				if got != nil {
					t.Errorf("stories = %v, want nil with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Feed: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("stories (-want +got):\n%s", diff)
			}
			if got := len(f.Calls()); got != len(tt.steps) {
				t.Errorf("%d calls, want %d", got, len(tt.steps))
			}
		})
	}
}

// TestFeedRetried checks feed.query is retried as a read after the
// connection drops.
func TestFeedRetried(t *testing.T) {
	f := newFakePhab(t, testToken,
		step{method: "feed.query", params: anyParams, hijack: true},
		step{method: "feed.query", rec: "feed.query.user17.all.text.json", params: feedParams([]string{feedUser17}, "")})
	c, clock := newTestClient(t, f, Options{})
	got, err := c.Feed(context.Background(), FeedQuery{FilterPHIDs: []string{feedUser17}})
	if err != nil || len(got) != 2 {
		t.Fatalf("Feed = %v, %v; want 2 stories", got, err)
	}
	if diff := cmp.Diff([]time.Duration{backoff(1)}, clock.Sleeps()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
}

// feedWorld is a phabtest server whose feed was written through
// maniphest.edit by several users at simulated times.
type feedWorld struct {
	s   *phabtest.Server
	now atomic.Int64 // the server's clock, unix seconds
	bot *Client

	alice, bob, carol, dave, frank phabtest.User
}

// feedBase is day 0 of the simulated timeline.
var feedBase = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func feedDay(n float64) time.Time { return feedBase.Add(time.Duration(n * float64(24*time.Hour))) }

// noisyStories is how many comments alice and frank each post: more than
// one page.
const noisyStories = 120

func newFeedWorld(t *testing.T) *feedWorld {
	t.Helper()
	ctx := context.Background()
	w := &feedWorld{}
	w.now.Store(feedBase.Unix())
	w.s = phabtest.New(phabtest.Options{Now: func() time.Time { return time.Unix(w.now.Load(), 0) }})
	t.Cleanup(w.s.Close)
	dial := func(u phabtest.User) *Client {
		c, err := Dial(ctx, w.s.URL(), Token(u.Token), Options{HTTPClient: w.s.Client(), RequestsPerSecond: -1})
		if err != nil {
			t.Fatalf("Dial as %s: %v", u.Username, err)
		}
		return c
	}
	botUser := w.s.AddUser(phabtest.UserSpec{Username: "auditbot", Admin: true, Bot: true})
	w.alice = w.s.AddUser(phabtest.UserSpec{Username: "alice"})
	w.bob = w.s.AddUser(phabtest.UserSpec{Username: "bob"})
	w.carol = w.s.AddUser(phabtest.UserSpec{Username: "carol"})
	w.dave = w.s.AddUser(phabtest.UserSpec{Username: "dave"})
	w.frank = w.s.AddUser(phabtest.UserSpec{Username: "frank"})
	w.bot = dial(botUser)
	if _, err := w.bot.CreateTask(ctx, TaskSpec{Title: "Lab feed"}); err != nil { // T1, day 0
		t.Fatal(err)
	}
	clients := map[string]*Client{}
	comment := func(u phabtest.User, at time.Time) {
		t.Helper()
		c := clients[u.PHID]
		if c == nil {
			c = dial(u)
			clients[u.PHID] = c
		}
		w.now.Store(at.Unix())
		if _, err := c.EditTask(ctx, "T1", CommentEdit("comment by "+u.Username)); err != nil {
			t.Fatalf("comment as %s: %v", u.Username, err)
		}
	}
	for i := range noisyStories {
		comment(w.frank, feedDay(1).Add(time.Duration(i)*10*time.Minute))
	}
	comment(w.carol, feedDay(5))
	comment(w.alice, feedDay(10))
	comment(w.bob, feedDay(40))
	// Nothing in phabtest makes a story about a user (like "People
	// empowered X"), so dave is referenced the other way filterPHIDs
	// matches: tagged on a task, which the bot files on day 45.
	w.s.AddTask(phabtest.TaskSpec{Title: "Tagged", AuthorPHID: botUser.PHID, Projects: []string{w.dave.PHID}, At: feedDay(45)})
	comment(w.alice, feedDay(50))
	for i := range noisyStories {
		comment(w.alice, feedDay(60).Add(time.Duration(i)*time.Minute))
	}
	return w
}

// TestFeedPhabtest pages the in-process Phorge's feed with Feed.
func TestFeedPhabtest(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t)
	filter := []string{w.alice.PHID, w.bob.PHID}
	page1, err := w.bot.Feed(ctx, FeedQuery{FilterPHIDs: filter, Limit: 100})
	if err != nil || len(page1) != 100 {
		t.Fatalf("page 1: %d stories, %v; want 100", len(page1), err)
	}
	page2, err := w.bot.Feed(ctx, FeedQuery{FilterPHIDs: filter, After: page1[99].ChronologicalKey})
	if err != nil {
		t.Fatalf("page 2: %v", err)
	}
	// alice's 120 + 2 comments and bob's one.
	all := append(page1, page2...)
	if len(all) != noisyStories+3 {
		t.Errorf("%d stories, want %d", len(all), noisyStories+3)
	}
	t1, _ := w.s.Task(1)
	for i, st := range all {
		if i > 0 && st.ChronologicalKey >= all[i-1].ChronologicalKey {
			t.Errorf("story %d key %d not below %d", i, st.ChronologicalKey, all[i-1].ChronologicalKey)
		}
		if st.ChronologicalKey>>32 != uint64(st.Epoch.Unix()) {
			t.Errorf("story %d: key %d does not start with epoch %d", i, st.ChronologicalKey, st.Epoch.Unix())
		}
		if st.ObjectPHID != t1.PHID || (st.AuthorPHID != w.alice.PHID && st.AuthorPHID != w.bob.PHID) {
			t.Errorf("story %d = %+v", i, st)
		}
	}
	if last := all[len(all)-1]; last.AuthorPHID != w.alice.PHID || !last.Epoch.Equal(feedDay(10)) {
		t.Errorf("oldest story = %+v, want alice's of day 10", last)
	}
	// A cursor made up from a time is refused (fact 39).
	_, err = w.bot.Feed(ctx, FeedQuery{After: uint64(feedDay(30).Unix()) << 32})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("made-up cursor: %v, want ErrNotFound", err)
	}
}
