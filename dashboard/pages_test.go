package dashboard_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/auditbot/auditbot/dashboard"
	"github.com/auditbot/auditbot/state"
)

var t0 = time.Date(2027, 6, 1, 9, 0, 0, 0, time.UTC)

// fixture is a campaign "c" of n users in group G (acl*ops), every third
// one pending, the others compliant, on batch 1 (T7), with a journal of
// one entry per user.
func fixture(t *testing.T, n int, edit func(*state.Campaign, []state.Finding)) (*state.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := state.Campaign{Name: "c", Title: "Campaign", LaunchedAt: t0, Cutoff: time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC), BotUsername: "auditbot",
		Groups: []state.Group{{PHID: "G", Name: "acl*ops", Risk: "internal"}}}
	findings := make([]state.Finding, n)
	var phids []string
	for i := range findings {
		status := state.StatusCompliant
		if i%3 == 0 {
			status = state.StatusPending
		}
		findings[i] = state.Finding{UserPHID: fmt.Sprintf("PHID-USER-%04d", i), Username: fmt.Sprintf("u%04d", i), RealName: fmt.Sprintf("User %d", i),
			Groups: []string{"G"}, Reasons: []string{"mfa"}, Status: status, Batch: 1, UpdatedAt: t0.Add(time.Duration(i) * time.Minute)}
		phids = append(phids, findings[i].UserPHID)
	}
	if edit != nil {
		edit(&c, findings)
	}
	if err := st.CreateCampaign(c, findings, []state.Batch{{Index: 1, TaskID: 7, UserPHIDs: phids}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Update("c", func(tx *state.CampaignTx) error {
		for _, f := range findings {
			if err := tx.Append(state.Entry{At: t0.Add(time.Hour), Kind: state.EntryReminder, User: f.Username, Task: "T7", Detail: "notice"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return st, path
}

// serve serves path with the request's header set, and returns the
// response.
func serve(t testing.TB, h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func handler(t *testing.T, o dashboard.Options) http.Handler {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return t0.Add(24 * time.Hour) }
	}
	h, err := dashboard.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var rowRE = regexp.MustCompile(`<tr><th scope="row"><a href="/campaign/c/journal\?user=(u\d+)"`)

// users returns the usernames of a page's user rows, in order.
func users(page string) []string {
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestDashboardLongGroups: a group of 250 users shows its first 100 on
// the campaign page, pending first, and links to its own pages of 200,
// filterable by status.
func TestDashboardLongGroups(t *testing.T) {
	st, _ := fixture(t, 250, nil)
	h := handler(t, dashboard.Options{Store: st})
	var pending, all []string
	for i := range 250 {
		u := fmt.Sprintf("u%04d", i)
		all = append(all, u)
		if i%3 == 0 {
			pending = append(pending, u)
		}
	}
	page := serve(t, h, "/campaign/c").Body.String()
	var compliant []string
	for _, u := range all {
		if !strings.Contains(strings.Join(pending, " "), u) {
			compliant = append(compliant, u)
		}
	}
	want := append(append([]string{}, pending...), compliant...)[:100]
	if d := cmp.Diff(want, users(page)); d != "" {
		t.Errorf("campaign page rows (-want +got):\n%s", d)
	}
	if !strings.Contains(page, `<a href="/campaign/c/group/G">Show all 250 users of acl*ops</a>`) {
		t.Errorf("no link to the whole group:\n%s", page)
	}
	first := serve(t, h, "/campaign/c/group/G").Body.String()
	if d := cmp.Diff(all[:200], users(first)); d != "" {
		t.Errorf("group page 1 (-want +got):\n%s", d)
	}
	if !strings.Contains(first, `after=u0199" rel="next"`) {
		t.Errorf("group page 1 has no link to the next page")
	}
	second := serve(t, h, "/campaign/c/group/G?after=u0199").Body.String()
	if d := cmp.Diff(all[200:], users(second)); d != "" {
		t.Errorf("group page 2 (-want +got):\n%s", d)
	}
	if strings.Contains(second, `rel="next"`) {
		t.Errorf("the last page links to a next one")
	}
	if d := cmp.Diff(pending[:84], users(serve(t, h, "/campaign/c/group/G?status=pending").Body.String())); d != "" {
		t.Errorf("pending filter (-want +got):\n%s", d)
	}
	for path, code := range map[string]int{"/campaign/c/group/NOPE": 404, "/campaign/c/group/G?status=nonsense": 400, "/campaign/nope/group/G": 404} {
		if got := serve(t, h, path).Code; got != code {
			t.Errorf("%s: %d, want %d", path, got, code)
		}
	}
}

var entryRE = regexp.MustCompile(`<tr><th scope="row">(\d+)</th>`)

func entries(page string) []string {
	var out []string
	for _, m := range entryRE.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

func seqs(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	return out
}

// TestDashboardJournalPages: the journal is paged by entry number, with
// its chain verified once and again only for entries appended since; an
// entry added by hand breaks it on the next page.
func TestDashboardJournalPages(t *testing.T) {
	st, path := fixture(t, 250, nil)
	h := handler(t, dashboard.Options{Store: st})
	first := serve(t, h, "/campaign/c/journal").Body.String()
	if d := cmp.Diff(seqs(1, 100), entries(first)); d != "" {
		t.Errorf("first page (-want +got):\n%s", d)
	}
	for _, want := range []string{"hash chain verified: 250 entries", "Entries 1 to 100 of 250", `after=100" rel="next"`, `before=251">Latest`} {
		if !strings.Contains(first, want) {
			t.Errorf("first page lacks %q", want)
		}
	}
	if d := cmp.Diff(seqs(101, 200), entries(serve(t, h, "/campaign/c/journal?after=100").Body.String())); d != "" {
		t.Errorf("after 100 (-want +got):\n%s", d)
	}
	latest := serve(t, h, "/campaign/c/journal?before=251").Body.String()
	if d := cmp.Diff(seqs(151, 250), entries(latest)); d != "" {
		t.Errorf("latest (-want +got):\n%s", d)
	}
	if !strings.Contains(latest, `before=151" rel="prev"`) || strings.Contains(latest, `rel="next"`) {
		t.Errorf("latest page's links are wrong")
	}
	if d := cmp.Diff([]string{"8"}, entries(serve(t, h, "/campaign/c/journal?user=u0007").Body.String())); d != "" {
		t.Errorf("user filter (-want +got):\n%s", d)
	}
	if got := serve(t, h, "/campaign/c/journal?after=x").Code; got != http.StatusBadRequest {
		t.Errorf("after=x: %d, want 400", got)
	}

	// Appended by the bot: verified on the next page.
	if err := st.Update("c", func(tx *state.CampaignTx) error { return tx.Append(state.Entry{At: t0, Kind: state.EntryDrift}) }); err != nil {
		t.Fatal(err)
	}
	if p := serve(t, h, "/campaign/c/journal").Body.String(); !strings.Contains(p, "hash chain verified: 251 entries") {
		t.Errorf("after an append the page does not say 251 entries verified")
	}
	// Appended by hand, without a hash: the chain is broken from there.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("campaigns")).Bucket([]byte("c")).Bucket([]byte("journal"))
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		k := make([]byte, 8)
		k[7] = byte(seq)
		k[6] = byte(seq >> 8)
		return b.Put(k, []byte(fmt.Sprintf(`{"seq":%d,"at":"2027-06-01T00:00:00Z","kind":"drift"}`, seq)))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, path := range []string{"/campaign/c/journal", "/campaign/c", "/"} {
		if p := serve(t, h, path).Body.String(); !strings.Contains(p, "BROKEN at entry 252") {
			t.Errorf("%s does not say the chain broke at entry 252", path)
		}
	}
}

// TestDashboardChartSeries: each status is its own line; a removed user
// is not compliant. The demo read 26/26 "resolved" with only 2 compliant.
func TestDashboardChartSeries(t *testing.T) {
	st, _ := fixture(t, 26, func(_ *state.Campaign, fs []state.Finding) {
		for i := range fs {
			switch {
			case i < 2:
				fs[i].Status = state.StatusCompliant
			case i < 3:
				fs[i].Status = state.StatusExempt
			case i < 25:
				fs[i].Status = state.StatusRemoved
			default:
				fs[i].Status = state.StatusRestored
			}
		}
	})
	page := serve(t, handler(t, dashboard.Options{Store: st}), "/campaign/c").Body.String()
	lines := regexp.MustCompile(`<polyline class="series series-[a-z-]+" data-status="([a-z-]+)" points="([^"]*)"/>`).FindAllStringSubmatch(page, -1)
	var got []string
	for _, l := range lines {
		// The line's last point is its value now: y from 190 (0 users)
		// to 10 (all 26), 180/26 units per user.
		pts := strings.Fields(l[2])
		var x, y int
		fmt.Sscanf(pts[len(pts)-1], "%d,%d", &x, &y)
		got = append(got, fmt.Sprintf("%s %d", l[1], int(float64(190-y)/180*26+0.5)))
	}
	want := []string{"pending 0", "compliant 2", "exempt 1", "removed 22", "restored 1"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("chart series at the end (-want +got):\n%s", d)
	}
	legend := regexp.MustCompile(`<li data-status="([a-z-]+)"><span class="swatch series-[a-z-]+"></span>[a-z-]+: <b>(\d+)</b></li>`).FindAllStringSubmatch(page, -1)
	got = nil
	for _, l := range legend {
		got = append(got, l[1]+" "+l[2])
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("legend (-want +got):\n%s", d)
	}
}

// TestDashboardApprovals: the demo's R2 read "3 of 2": alice approved on
// T1 and again on the command line. Distinct approvers, and where each
// approval came from.
func TestDashboardApprovals(t *testing.T) {
	st, _ := fixture(t, 3, nil)
	at := t0.Add(48 * time.Hour)
	if err := st.Update("c", func(tx *state.CampaignTx) error {
		return tx.PutRemoval(&state.Removal{RequiredApprovals: 2, Status: state.RemovalDone,
			Items: []state.RemovalItem{{UserPHID: "PHID-USER-0000", Username: "u0000", GroupPHID: "G", GroupName: "acl*ops", Risk: "internal", Batch: 1, Done: true}},
			Approvals: []state.Approval{
				{ApproverPHID: "A", Username: "alice", At: at, Via: "T7", Scope: []int{1}},
				{ApproverPHID: "A", Username: "alice", At: at.Add(time.Minute), Via: "cli", Operator: "root"},
				{ApproverPHID: "B", Username: "bob", At: at.Add(2 * time.Minute), Via: "cli", Operator: "root"},
			}})
	}); err != nil {
		t.Fatal(err)
	}
	page := serve(t, handler(t, dashboard.Options{Store: st}), "/campaign/c").Body.String()
	for _, want := range []string{
		`<span class="approvals">2 of 2</span>`,
		`<li><span class="approver">alice</span>: task T7 comment, 2027-06-03 09:00; command line, operator root, 2027-06-03 09:01</li>`,
		`<li><span class="approver">bob</span>: command line, operator root, 2027-06-03 09:02</li>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("campaign page lacks %q", want)
		}
	}
	if strings.Contains(page, "3 of 2") {
		t.Error(`campaign page says "3 of 2"`)
	}
}

// TestDashboardInactivityColumn: an inactivity campaign's tables show each
// user's last own activity as the feed scan recorded it.
func TestDashboardInactivityColumn(t *testing.T) {
	st, _ := fixture(t, 3, func(_ *state.Campaign, fs []state.Finding) {
		for i := range fs {
			fs[i].Reasons = []string{"inactive"}
		}
	})
	since := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if err := st.RecordActivity(map[string]state.Activity{
		"PHID-USER-0000": {Last: time.Date(2026, 2, 3, 4, 5, 0, 0, time.UTC), Since: since, ReadAt: t0},
		"PHID-USER-0001": {Since: since, ReadAt: t0},
	}); err != nil {
		t.Fatal(err)
	}
	h := handler(t, dashboard.Options{Store: st})
	for _, path := range []string{"/campaign/c", "/campaign/c/group/G"} {
		page := serve(t, h, path).Body.String()
		for _, want := range []string{`<th scope="col">Last activity</th>`, `<td class="activity">2026-02-03</td>`,
			`<td class="activity">none since 2026-06-01</td>`, `<td class="activity">not scanned</td>`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
	}
	st2, _ := fixture(t, 3, nil)
	if page := serve(t, handler(t, dashboard.Options{Store: st2}), "/campaign/c").Body.String(); strings.Contains(page, "Last activity") {
		t.Error("an MFA campaign shows a last-activity column")
	}
}

// TestDashboardInertText: control and bidirectional characters someone
// put in a name, a title or a comment show as visible escapes on every
// page, as `auditbot status` and the journal print them: raw, U+202E
// reverses the text after it ("approved" reads otherwise) and ESC and BEL
// reach whatever shows the page's source.
func TestDashboardInertText(t *testing.T) {
	const evil = "Mallory \u202edevorppa\u202c \x07\x1b[31mred\x1b[0m"
	st, _ := fixture(t, 3, func(c *state.Campaign, fs []state.Finding) {
		c.Title = "Audit " + evil
		c.Groups[0].Name = "acl*" + evil
		fs[0].RealName = evil
		fs[1].Reasons = []string{"mfa", evil}
	})
	if err := st.Update("c", func(tx *state.CampaignTx) error {
		return tx.Append(state.Entry{At: t0, Kind: state.EntryNeedsHuman, User: "u0000", Task: "T7", Detail: "said " + evil, Outcome: evil})
	}); err != nil {
		t.Fatal(err)
	}
	h := handler(t, dashboard.Options{Store: st})
	for _, path := range []string{"/", "/campaign/c", "/campaign/c/group/G", "/campaign/c/journal", "/campaign/c/journal?kind=needs-human"} {
		page := serve(t, h, path).Body.String()
		if i := strings.IndexAny(page, "\u202e\u202c\x07\x1b"); i >= 0 {
			t.Errorf("%s carries a raw control or bidi character at %d: %q", path, i, page[max(0, i-40):min(len(page), i+40)])
		}
		if !strings.Contains(page, `Mallory \u202edevorppa\u202c \x07\x1b[31mred\x1b[0m`) {
			t.Errorf("%s does not show the text with its escapes", path)
		}
	}
}

// TestDashboardGzip: a client that accepts gzip gets the page compressed;
// one that does not, or refuses it (q=0), gets it as it is.
func TestDashboardGzip(t *testing.T) {
	st, _ := fixture(t, 50, nil)
	h := handler(t, dashboard.Options{Store: st})
	plain := serve(t, h, "/campaign/c")
	if plain.Header().Get("Content-Encoding") != "" || plain.Header().Get("Content-Length") != fmt.Sprint(plain.Body.Len()) {
		t.Errorf("without Accept-Encoding: %v", plain.Header())
	}
	for _, tt := range []struct {
		accept string
		gzip   bool
	}{
		{"gzip", true}, {"br, gzip;q=0.8", true}, {"*", true}, {"GZIP", true},
		{"gzip;q=0", false}, {"br", false}, {"identity", false}, {"x-gzip", false},
	} {
		t.Run(tt.accept, func(t *testing.T) {
			rec := serve(t, h, "/campaign/c", "Accept-Encoding", tt.accept)
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tt.gzip {
				t.Fatalf("Accept-Encoding %q: gzip %v, want %v", tt.accept, got, tt.gzip)
			}
			if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
				t.Errorf("no Vary: Accept-Encoding")
			}
			body := rec.Body.Bytes()
			if tt.gzip {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(body, plain.Body.Bytes()) {
				t.Errorf("the page differs from the one sent uncompressed")
			}
		})
	}
}

var idRE = regexp.MustCompile(`\sid="([^"]+)"`)

// TestDashboardMarkup: every page has a viewport, each id once, and
// every table a caption and scoped headers.
func TestDashboardMarkup(t *testing.T) {
	st, _ := fixture(t, 5, nil)
	if err := st.CreateCampaign(state.Campaign{Name: "d", Title: "D", LaunchedAt: t0, Cutoff: t0.Add(time.Hour)}, nil, nil); err != nil {
		t.Fatal(err)
	}
	h := handler(t, dashboard.Options{Store: st})
	for _, path := range []string{"/", "/campaign/c", "/campaign/c/group/G", "/campaign/c/journal"} {
		page := serve(t, h, path).Body.String()
		if !strings.Contains(page, `<meta name="viewport" content="width=device-width, initial-scale=1">`) {
			t.Errorf("%s: no viewport meta", path)
		}
		seen := map[string]bool{}
		for _, m := range idRE.FindAllStringSubmatch(page, -1) {
			if seen[m[1]] {
				t.Errorf("%s: id %q twice", path, m[1])
			}
			seen[m[1]] = true
		}
		if n, c := strings.Count(page, "<table"), strings.Count(page, "<caption>"); n != c {
			t.Errorf("%s: %d tables, %d captions", path, n, c)
		}
		if strings.Contains(page, "<th>") {
			t.Errorf("%s: a header cell without scope", path)
		}
	}
}

// TestDashboardCutoffWording: a cutoff of 2027-06-30 is stored as
// 2027-07-01 00:00 UTC; every page names 2027-06-30 and never the day
// after.
func TestDashboardCutoffWording(t *testing.T) {
	st, _ := fixture(t, 5, nil)
	h := handler(t, dashboard.Options{Store: st})
	for _, path := range []string{"/", "/campaign/c", "/campaign/c/group/G"} {
		page := serve(t, h, path).Body.String()
		if !strings.Contains(page, "2027-06-30, end of day UTC") {
			t.Errorf("%s does not say the cutoff is 2027-06-30, end of day UTC", path)
		}
		if strings.Contains(page, "2027-07-01") {
			t.Errorf("%s names 2027-07-01", path)
		}
	}
}

// TestDashboardPolicyFindings: the policy audit's findings are on the
// campaign page, with their approvals, and their texts inert.
func TestDashboardPolicyFindings(t *testing.T) {
	st, _ := fixture(t, 1, nil)
	if err := st.Update("c", func(tx *state.CampaignTx) error {
		c := tx.Campaign()
		c.PolicyTask = &state.PolicyTask{TaskID: 42, TaskPHID: "PHID-TASK-p"}
		c.Policies = []state.PolicyFinding{
			{ID: 1, Object: "#acl_ops", Check: state.PolicyJoin, Value: "users", Safe: "no-one", Why: "all users can join <b>it</b>", Risk: "internal",
				RequiredApprovals: 2, Approvals: []state.Approval{{ApproverPHID: "A", Username: "alice"}}, OpenedAt: t0},
			{ID: 2, Object: "T5", Check: state.PolicyTaskView, Value: "PHID-PLCY-aaaaaaaaaaaaaaaaaaaa", Why: "a custom policy", Risk: "internal", ByHand: true, OpenedAt: t0},
		}
		return tx.PutCampaign(c)
	}); err != nil {
		t.Fatal(err)
	}
	page := serve(t, handler(t, dashboard.Options{Store: st}), "/campaign/c").Body.String()
	for _, want := range []string{
		`<h2 id="policies">Policy findings</h2>`, "listed on T42",
		`<th scope="row">P1</th><td>open</td><td>internal</td><td>#acl_ops</td><td>join</td><td>users</td>`,
		`the bot, after !fix P1</td><td>1 of 2: alice</td>`,
		`<td>review by hand</td><td></td>`,
		"all users can join &lt;b&gt;it&lt;/b&gt;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("campaign page lacks %q", want)
		}
	}
}
