//go:build phorge

package phabtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/auditbot/auditbot/internal/testkit"
)

// TestPhorgeContract is the contract check both ways: each read-only
// recording that TestContract replays against the fixture is also sent to a
// real Phorge (the lab), and the lab's answer is compared with the recording
// (has Phorge changed since it was recorded?) and with the fixture's answer
// to the same request (does phabtest still model it?). Answer shapes are
// compared: keys, JSON kinds, error codes, HTTP status. Writes are left to
// the scenario suite in ../phorgetest, which starts from a reset lab.
func TestPhorgeContract(t *testing.T) {
	env := phorgeEnv(t)
	base := strings.TrimRight(env["PHAB_URL"], "/")
	probe := newLab(t)
	toLab := labPHIDs(t, probe, env, base)

	for _, tc := range contractCases {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			l := newLab(t)
			rec := l.recording(tc.file)
			if reason := phorgeSkip(tc, rec, toLab); reason != "" {
				t.Skip(reason)
			}
			var fixtureTok, labTok string
			switch {
			case tc.token != nil:
				// Deliberately bad tokens, the same on both servers.
				fixtureTok = tc.token(l)
				labTok = fixtureTok
			case rec.Request.As != nil:
				fixtureTok = l.tokenFor(rec.Request.As)
				labTok = env[labTokenVar(*rec.Request.As)]
			}
			labMap := func(p string) string {
				if q, ok := toLab[p]; ok {
					return q
				}
				return p
			}
			real := l.sendTo(base, labMap, rec, labTok, nil)
			fake := l.send(rec, fixtureTok, nil)

			if real.status != rec.HTTPStatus {
				t.Errorf("Phorge: HTTP %d, recorded %d: %.300s", real.status, rec.HTTPStatus, real.body)
			}
			if fake.status != real.status {
				t.Errorf("phabtest: HTTP %d, Phorge %d", fake.status, real.status)
			}
			if rec.HTTPStatus != 200 || real.status != 200 {
				return
			}
			var recorded, phorge, fixture map[string]any
			if err := json.Unmarshal(rec.Response, &recorded); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(real.body, &phorge); err != nil {
				t.Fatalf("Phorge's answer is not JSON: %v: %.300s", err, real.body)
			}
			if err := json.Unmarshal(fake.body, &fixture); err != nil {
				t.Fatalf("phabtest's answer is not JSON: %v: %.300s", err, fake.body)
			}
			code := func(m map[string]any) string { s, _ := m["error_code"].(string); return s }
			if code(phorge) != code(recorded) {
				t.Errorf("Phorge: error_code %q, recorded %q: %v", code(phorge), code(recorded), phorge["error_info"])
			}
			if code(fixture) != code(phorge) {
				t.Errorf("phabtest: error_code %q, Phorge %q", code(fixture), code(phorge))
			}
			// Lists differ in length between the recording, the lab and the
			// fixture (more history, other data): only their shape counts.
			alignByType(recorded, phorge)
			alignByType(phorge, fixture)
			for _, d := range compareShape(recorded, phorge, shapeOptions{looseLen: true}) {
				t.Errorf("Phorge vs recording: %s", d)
			}
			for _, d := range compareShape(phorge, fixture, shapeOptions{looseLen: true}) {
				t.Errorf("phabtest vs Phorge: %s", d)
			}
		})
	}
}

// alignByType keeps, in two answers whose result.data rows carry a "type"
// (transaction.search), one row of each type both hold, in the same order:
// which types come back, and where, is data (the lab has other history),
// while each type's shape is the contract.
func alignByType(a, b map[string]any) {
	rowsA, okA := dig(a, "result", "data").([]any)
	rowsB, okB := dig(b, "result", "data").([]any)
	if !okA || !okB {
		return
	}
	typeOf := func(row any) (string, bool) {
		m, ok := row.(map[string]any)
		if !ok {
			return "", false
		}
		if _, has := m["type"]; !has {
			return "", false
		}
		t, _ := m["type"].(string)
		return "type:" + t, true
	}
	first := func(rows []any) (map[string]any, bool) {
		out := map[string]any{}
		for _, r := range rows {
			k, ok := typeOf(r)
			if !ok {
				return nil, false
			}
			if _, seen := out[k]; !seen {
				out[k] = r
			}
		}
		return out, true
	}
	fa, okA := first(rowsA)
	fb, okB := first(rowsB)
	if !okA || !okB {
		return
	}
	var keepA, keepB []any
	for _, k := range unionKeys(fa, fb) {
		if fa[k] != nil && fb[k] != nil {
			keepA, keepB = append(keepA, fa[k]), append(keepB, fb[k])
		}
	}
	a["result"].(map[string]any)["data"] = keepA
	b["result"].(map[string]any)["data"] = keepB
}

// phorgeWrites are the methods that change the lab: not replayed here.
var phorgeWrites = map[string]bool{"maniphest.edit": true, "project.edit": true, "user.edit": true, "user.disable": true, "user.enable": true}

var phidRE = regexp.MustCompile(`PHID-(USER|PROJ|TASK)-[a-z0-9]{20}`)

// phorgeSkip says why a contract case cannot be replayed on the lab, or "".
func phorgeSkip(tc contractCase, rec recording, toLab map[string]string) string {
	switch {
	case phorgeWrites[rec.Method]:
		return "writes: the scenario suite (../phorgetest) covers writes on a reset lab"
	case len(tc.setup) > 0 || tc.prepare != nil:
		return "needs the recordings' own writes replayed first (the lab seed does not hold them: lab README, Differences from the recordings)"
	case tc.rewrite != nil:
		return "the request carries a recorded cursor (feed chronologicalKey or transaction id) that differs by nature on the lab"
	case strings.HasPrefix(tc.file, "ratelimit."):
		return "rate limiting is off on the lab (NOTES fact 36)"
	case tc.token != nil && (rec.Request.As == nil || *rec.Request.As != "raw-token"):
		return "the token is chosen from the fixture"
	}
	for _, p := range phidRE.FindAllString(string(rec.Request.Form), -1) {
		if _, ok := toLab[p]; !ok && strings.HasPrefix(p, "PHID-TASK-") {
			return "names a task filed after the seed (T13 and up do not exist on the lab)"
		}
	}
	if regexp.MustCompile(`\bT1[3-9]\b|\bT[2-9][0-9]\b`).Match(rec.Request.Form) {
		return "names a task filed after the seed (T13 and up do not exist on the lab)"
	}
	return ""
}

// labTokenVar is the lab.env variable behind a recording's "as".
func labTokenVar(as string) string {
	switch as {
	case "AUDITBOT":
		return "AUDITBOT_TOKEN"
	case "ADMIN":
		return "ADMIN_TOKEN"
	case "USER":
		return "USER_TOKEN"
	}
	return as
}

// labPHIDs maps the recordings' PHIDs to the lab's, by username, project
// name and task id (the fixture already knows recorded PHID -> name).
func labPHIDs(t *testing.T, fixture *lab, env map[string]string, base string) map[string]string {
	t.Helper()
	out := map[string]string{}
	byFixture := map[string]string{} // fixture PHID -> recorded PHID
	for rp, fp := range fixture.recorded {
		byFixture[fp] = rp
	}
	var names []string
	userRec := map[string]string{}
	for name, u := range fixture.users {
		names = append(names, name)
		if rp, ok := byFixture[u.PHID]; ok {
			userRec[name] = rp
		}
	}
	var users struct {
		Data []struct {
			PHID   string `json:"phid"`
			Fields struct {
				Username string `json:"username"`
			} `json:"fields"`
		} `json:"data"`
	}
	phorgeCall(t, base, env["AUDITBOT_TOKEN"], "user.search", map[string]any{"constraints": map[string]any{"usernames": names}, "limit": 100}, &users)
	for _, u := range users.Data {
		if rp, ok := userRec[u.Fields.Username]; ok {
			out[rp] = u.PHID
		}
	}
	var projects struct {
		Data []struct {
			PHID   string `json:"phid"`
			Fields struct {
				Name string `json:"name"`
			} `json:"fields"`
		} `json:"data"`
	}
	phorgeCall(t, base, env["ADMIN_TOKEN"], "project.search", map[string]any{"limit": 100}, &projects)
	for _, p := range projects.Data {
		for name, fp := range fixture.projects {
			if strings.EqualFold(name, p.Fields.Name) {
				if rp, ok := byFixture[fp.PHID]; ok {
					out[rp] = p.PHID
				}
			}
		}
	}
	for _, tok := range []string{env["ADMIN_TOKEN"], env["AUDITBOT_TOKEN"]} {
		var tasks struct {
			Data []struct {
				ID   int    `json:"id"`
				PHID string `json:"phid"`
			} `json:"data"`
		}
		phorgeCall(t, base, tok, "maniphest.search", map[string]any{"limit": 100}, &tasks)
		for _, tk := range tasks.Data {
			if rp, ok := recordedTaskPHIDs[tk.ID]; ok {
				out[rp] = tk.PHID
			}
		}
	}
	return out
}

// phorgeCall is one Conduit call to the real Phorge that must succeed.
func phorgeCall(t *testing.T, base, tok, method string, params map[string]any, out any) {
	t.Helper()
	params["__conduit__"] = map[string]any{"token": tok}
	b, _ := json.Marshal(params)
	resp, err := http.PostForm(base+"/api/"+method, url.Values{"params": {string(b)}, "output": {"json"}})
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	var env struct {
		Result    json.RawMessage `json:"result"`
		ErrorCode *string         `json:"error_code"`
	}
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if err := json.Unmarshal(buf.Bytes(), &env); err != nil || env.ErrorCode != nil {
		t.Fatalf("%s: %.300s", method, buf.Bytes())
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// phorgeEnv finds the real Phorge as ../phorgetest does (testkit.Lab) and
// skips, in one line, when there is none.
func phorgeEnv(t *testing.T) map[string]string {
	t.Helper()
	return testkit.Lab(t, "AUDITBOT_TOKEN", "ADMIN_TOKEN")
}
