package phabtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/internal/testkit"
)

// recordingsDir holds the calls recorded against a real Phorge.
const recordingsDir = "../testdata/conduit/recordings"

// labEpoch is when the lab was recorded; the fixture's clock starts there.
const labEpoch = 1795386276

// lab is a Server seeded like the recorded lab: the same users (same ids),
// projects (same ids, names, policies and members) and tasks T1-T9, so
// that replaying a recorded request gives an answer of the same shape.
type lab struct {
	t        *testing.T
	s        *Server
	clock    *testkit.Clock
	users    map[string]User    // by username
	projects map[string]Project // by name
	// recorded maps PHIDs of the recording to the fixture's.
	recorded map[string]string
}

// recordedTaskPHIDs are the recorded PHIDs of T1-T12 and T15.
var recordedTaskPHIDs = map[int]string{
	1: "PHID-TASK-3sirtp5edzbn3zeekzwb", 2: "PHID-TASK-2iitum3hy5i3av776b5l",
	3: "PHID-TASK-kvn4nyxqaxowddatpqbi", 4: "PHID-TASK-bz5jrpabzblepmikl6hm",
	5: "PHID-TASK-2nloxpewtnscu2jym6rb", 6: "PHID-TASK-wengxgra4ivgsqswjigh",
	7: "PHID-TASK-svsl4zimdcdc5vbbc5d6", 8: "PHID-TASK-azerejmnmorgf5bgkwyn",
	9: "PHID-TASK-crt6ahe6nvwxchwagw76", 10: "PHID-TASK-ya5ljgulpxbet5jipdxc",
	11: "PHID-TASK-d65qqpmylcoi35skjke7", 12: "PHID-TASK-dvzf6bqucwmj6ewatyou",
	15: "PHID-TASK-arcj54etmarmbqqmlgrf",
}

func newLab(t *testing.T) *lab {
	t.Helper()
	clock := testkit.NewClock(time.Unix(labEpoch, 0))
	s := New(Options{Now: clock.Now, Host: "vm"})
	t.Cleanup(s.Close)
	l := &lab{t: t, s: s, clock: clock, users: map[string]User{}, projects: map[string]Project{}, recorded: map[string]string{}}

	add := func(spec UserSpec) { l.users[spec.Username] = s.AddUser(spec) }
	add(UserSpec{Username: "admin", RealName: "Admin", Admin: true, MFA: true})
	add(UserSpec{Username: "auditbot", RealName: "Audit Bot", Admin: true, Bot: true, Email: "auditbot@lab.invalid"})
	disabled := map[int]bool{7: true, 14: true, 21: true, 42: true, 55: true}
	for i := 1; i <= 60; i++ {
		add(UserSpec{
			Username: fmt.Sprintf("user%02d", i), RealName: fmt.Sprintf("User %02d", i),
			Disabled: disabled[i], MFA: i%3 == 0,
		})
	}
	add(UserSpec{Username: "ci-bot", RealName: "CI Bot", Bot: true})
	add(UserSpec{Username: "notify-bot", RealName: "Notify Bot", Bot: true, Disabled: true})
	add(UserSpec{Username: "security-list", RealName: "Security Mailing List", MailingList: true})

	u := func(names ...string) []string {
		var out []string
		for _, n := range names {
			if n[0] >= '0' && n[0] <= '9' {
				n = "user" + n
			}
			out = append(out, l.users[n].PHID)
		}
		return out
	}
	admin := l.users["admin"].PHID
	addProject := func(spec ProjectSpec) Project {
		spec.AuthorPHID = admin
		p := s.AddProject(spec)
		l.projects[spec.Name] = p
		return p
	}
	approvers := addProject(ProjectSpec{
		Name: "acl*phabricator-admins", Icon: "policy", Color: "red", Description: "Approvers for ACL group membership (lab).",
		EditPolicy: PolicyMembers, JoinPolicy: PolicyNoOne, Members: u("admin", "03"),
	})
	var nda []string
	for i := 1; i <= 48; i++ {
		if i%10 != 0 {
			nda = append(nda, fmt.Sprintf("%02d", i))
		}
	}
	addProject(ProjectSpec{
		Name: "WMF-NDA", Icon: "policy", Color: "orange", Description: "People who signed the NDA (lab).",
		EditPolicy: approvers.PHID, JoinPolicy: approvers.PHID, Members: u(append([]string{"admin"}, nda...)...),
	})
	addProject(ProjectSpec{
		Name: "acl*sre-team", Icon: "policy", Color: "red", Description: "SRE ACL group (lab).",
		EditPolicy: PolicyAdmin, JoinPolicy: PolicyAdmin, Members: u("02", "03", "05", "14", "20", "33", "36", "57"),
	})
	team := addProject(ProjectSpec{
		Name: "Security-Team", Description: "Open security team project (lab).", Members: u("admin", "03", "06"),
	})
	addProject(ProjectSpec{
		Name: "trust-and-safety", Icon: "policy", Color: "red", Description: "Restricted project (lab).",
		ViewPolicy: PolicyMembers, EditPolicy: PolicyMembers, JoinPolicy: PolicyNoOne, Members: u("02", "42"),
	})
	addProject(ProjectSpec{
		Name: "acl*security", Icon: "policy", Color: "red",
		Description: "Security ACL group (lab). Edit/join restricted to acl*phabricator-admins members.",
		EditPolicy:  approvers.PHID, JoinPolicy: approvers.PHID,
		Members: u("03", "04", "06", "07", "09", "10", "12", "15", "18", "21", "24", "30", "50", "51", "ci-bot"),
	})

	day := func(d int) time.Time { return time.Unix(labEpoch, 0).AddDate(0, 0, -d) }
	task := func(spec TaskSpec) { s.AddTask(spec) }
	task(TaskSpec{Title: "Old lab task by user13", Description: "Seeded by user13 for the Phorge lab.", AuthorPHID: l.users["user13"].PHID, Projects: []string{team.PHID}, At: day(400)})
	task(TaskSpec{Title: "Old lab task by user14", AuthorPHID: l.users["user14"].PHID, At: day(470)})
	task(TaskSpec{Title: "Old lab task by user17", AuthorPHID: l.users["user17"].PHID, At: day(420)})
	task(TaskSpec{Title: "Lab: rotate TLS certificates", AuthorPHID: l.users["user01"].PHID, Projects: []string{team.PHID}})
	task(TaskSpec{Title: "Lab: SRE capacity review", AuthorPHID: l.users["user02"].PHID, Projects: []string{l.projects["acl*sre-team"].PHID}})
	task(TaskSpec{Title: "Lab: security review of login flow", AuthorPHID: l.users["user03"].PHID})
	task(TaskSpec{Title: "Lab: update onboarding docs", AuthorPHID: l.users["user10"].PHID})
	task(TaskSpec{Title: "Lab: NDA paperwork", AuthorPHID: l.users["user11"].PHID, Projects: []string{l.projects["WMF-NDA"].PHID}})
	task(TaskSpec{Title: "Lab: audit MFA enrollment", AuthorPHID: l.users["user12"].PHID})
	comment := func(id int, who string, text string, at time.Time) {
		s.AddComment(CommentSpec{TaskID: id, AuthorPHID: l.users[who].PHID, Text: text, At: at})
	}
	comment(1, "user15", "Old comment by user15", day(380))
	comment(2, "user16", "Old comment by user16", day(460))
	comment(4, "user07", "Recent comment by user07", time.Time{})
	comment(4, "user17", "Recent comment by user17", time.Time{})
	comment(5, "ci-bot", "Recent comment by ci-bot", time.Time{})
	comment(6, "user09", "Recent comment by user09", time.Time{})
	comment(8, "user11", "Recent comment by user11", time.Time{})
	comment(9, "user12", "Recent comment by user12", time.Time{})

	l.mapRecordedPHIDs()
	return l
}

// mapRecordedPHIDs learns the recorded PHIDs of users and projects by name.
func (l *lab) mapRecordedPHIDs() {
	for _, f := range []string{"user.search.form-mode.isDisabled-0.json", "user.search.isDisabled-true.json"} {
		var rec struct {
			Response struct {
				Result struct {
					Data []struct {
						PHID   string
						Fields struct{ Username string }
					}
				}
			}
		}
		l.readJSON(f, &rec)
		for _, d := range rec.Response.Result.Data {
			l.recorded[d.PHID] = l.users[d.Fields.Username].PHID
		}
	}
	var rec struct {
		Response struct {
			Result struct {
				Data []struct {
					PHID   string
					Fields struct{ Name string }
				}
			}
		}
	}
	l.readJSON("project.search.auditbot.all.json", &rec)
	for _, d := range rec.Response.Result.Data {
		l.recorded[d.PHID] = l.projects[d.Fields.Name].PHID
	}
	l.recorded["PHID-PROJ-qpvwurw3todsiq3fnvcs"] = l.projects["trust-and-safety"].PHID
}

func (l *lab) readJSON(file string, v any) {
	l.t.Helper()
	b, err := os.ReadFile(filepath.Join(recordingsDir, file))
	if err != nil {
		l.t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		l.t.Fatalf("%s: %v", file, err)
	}
}

// ourPHID maps a recorded PHID to the fixture's; others pass through.
func (l *lab) ourPHID(p string) string {
	if q, ok := l.recorded[p]; ok {
		return q
	}
	for id, rp := range recordedTaskPHIDs {
		if rp == p {
			if t, ok := l.s.Task(id); ok {
				return t.PHID
			}
		}
	}
	return p
}

// mapPHIDs replaces recorded PHIDs inside a decoded JSON value.
func (l *lab) mapPHIDs(v any) any { return mapPHIDsWith(v, l.ourPHID) }

// mapPHIDsWith replaces the strings inside a decoded JSON value by ours.
func mapPHIDsWith(v any, ours func(string) string) any {
	switch v := v.(type) {
	case string:
		return ours(v)
	case []any:
		for i := range v {
			v[i] = mapPHIDsWith(v[i], ours)
		}
	case map[string]any:
		for k, x := range v {
			v[k] = mapPHIDsWith(x, ours)
		}
	}
	return v
}

// mapText replaces recorded PHIDs inside a text such as an error_info.
func (l *lab) mapText(s string) string {
	for rp := range l.recorded {
		s = strings.ReplaceAll(s, rp, l.recorded[rp])
	}
	for _, rp := range recordedTaskPHIDs {
		s = strings.ReplaceAll(s, rp, l.ourPHID(rp))
	}
	return s
}

// recording is one recorded call.
type recording struct {
	Method   string
	Params   map[string]any
	Response json.RawMessage
	Request  struct {
		ContentType string `json:"content_type"`
		Mode        string
		As          *string
		Form        json.RawMessage
	}
	HTTPStatus          int    `json:"http_status"`
	ContentTypeReturned string `json:"content_type_returned"`
}

func (l *lab) recording(file string) recording {
	var rec recording
	l.readJSON(file, &rec)
	return rec
}

// tokenFor picks the fixture account behind a recording's "as".
func (l *lab) tokenFor(as *string) string {
	if as == nil {
		return ""
	}
	name := map[string]string{
		"AUDITBOT": "auditbot", "ADMIN": "admin", "USER": "user01",
		"TOKEN_CI_BOT": "ci-bot",
	}[*as]
	if n, ok := strings.CutPrefix(*as, "TOKEN_USER"); ok {
		name = "user" + n
	}
	u, ok := l.users[name]
	if !ok {
		l.t.Fatalf("no fixture account for %q", *as)
	}
	return u.Token
}

// answer is a raw HTTP answer.
type answer struct {
	status int
	ctype  string
	body   []byte
}

// send replays a recording's request with tok, after mapping its PHIDs
// and letting rewrite adjust the JSON params.
func (l *lab) send(rec recording, tok string, rewrite func(map[string]any)) answer {
	l.t.Helper()
	return l.sendTo(l.s.URL(), l.ourPHID, rec, tok, rewrite)
}

// sendTo replays a recording's request to the Conduit at base, mapping
// recorded PHIDs with ourPHID (the fixture's, or a real Phorge's).
func (l *lab) sendTo(base string, ourPHID func(string) string, rec recording, tok string, rewrite func(map[string]any)) answer {
	l.t.Helper()
	var body, ctype string
	var raw string
	if err := json.Unmarshal(rec.Request.Form, &raw); err == nil {
		// Sent as is (invalid JSON, JSON body).
		body = strings.ReplaceAll(raw, "api-REDACTED", tok)
		ctype = rec.Request.ContentType
	} else {
		var pairs [][2]string
		if err := json.Unmarshal(rec.Request.Form, &pairs); err != nil {
			l.t.Fatalf("request form: %v", err)
		}
		form := url.Values{}
		for _, kv := range pairs {
			k, v := kv[0], kv[1]
			switch k {
			case "params":
				dec := json.NewDecoder(strings.NewReader(v))
				dec.UseNumber()
				var p map[string]any
				if err := dec.Decode(&p); err != nil {
					l.t.Fatalf("params: %v", err)
				}
				meta, hasMeta := p["__conduit__"]
				delete(p, "__conduit__")
				mapPHIDsWith(p, ourPHID)
				if rewrite != nil {
					rewrite(p)
				}
				if hasMeta {
					meta.(map[string]any)["token"] = tok
					p["__conduit__"] = meta
				}
				b, _ := json.Marshal(p)
				v = string(b)
			case "api.token":
				v = tok
			default:
				v = ourPHID(v)
			}
			form.Add(k, v)
		}
		body, ctype = form.Encode(), "application/x-www-form-urlencoded"
	}
	return l.postTo(base, rec.Method, ctype, body)
}

func (l *lab) post(method, ctype, body string) answer {
	l.t.Helper()
	return l.postTo(l.s.URL(), method, ctype, body)
}

func (l *lab) postTo(base, method, ctype, body string) answer {
	l.t.Helper()
	resp, err := http.Post(base+"/api/"+method, ctype, strings.NewReader(body))
	if err != nil {
		l.t.Fatalf("POST %s: %v", method, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		l.t.Fatalf("POST %s: reading: %v", method, err)
	}
	return answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b}
}

// replay sends a recording's request as recorded and requires success.
func (l *lab) replay(file string) {
	l.t.Helper()
	rec := l.recording(file)
	a := l.send(rec, l.tokenFor(rec.Request.As), nil)
	var env envelopeIn
	if err := json.Unmarshal(a.body, &env); err != nil || env.ErrorCode != nil {
		l.t.Fatalf("setup %s failed: %s", file, a.body)
	}
}

// callJSON calls method with params as JSON and tok in __conduit__.
func (l *lab) callJSON(method, tok string, params map[string]any) envelopeIn {
	l.t.Helper()
	p := map[string]any{}
	for k, v := range params {
		p[k] = v
	}
	if tok != "" {
		p["__conduit__"] = map[string]any{"token": tok}
	}
	b, err := json.Marshal(p)
	if err != nil {
		l.t.Fatal(err)
	}
	a := l.post(method, "application/x-www-form-urlencoded", url.Values{"params": {string(b)}, "output": {"json"}}.Encode())
	var env envelopeIn
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		l.t.Fatalf("%s: bad JSON %q: %v", method, a.body, err)
	}
	return env
}

// envelopeIn is a decoded Conduit answer.
type envelopeIn struct {
	Result    json.RawMessage `json:"result"`
	ErrorCode *string         `json:"error_code"`
	ErrorInfo *string         `json:"error_info"`
}

// must returns the result of a successful answer decoded into v.
func (e envelopeIn) must(t *testing.T, v any) {
	t.Helper()
	if e.ErrorCode != nil {
		t.Fatalf("unexpected error %s: %s", *e.ErrorCode, *e.ErrorInfo)
	}
	if v != nil {
		if err := json.Unmarshal(e.Result, v); err != nil {
			t.Fatalf("decoding %s: %v", e.Result, err)
		}
	}
}

// code returns the error code, "" on success.
func (e envelopeIn) code() string {
	if e.ErrorCode == nil {
		return ""
	}
	return *e.ErrorCode
}
