package dashboard_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditbot/auditbot/internal/testkit/testworld"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/dashboard"
	"github.com/auditbot/auditbot/internal/demo"
	"github.com/auditbot/auditbot/state"
)

// get serves path and returns the page.
func get(t *testing.T, o dashboard.Options, path string) string {
	t.Helper()
	h, err := dashboard.New(o)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: %d\n%s", path, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

var attentionItem = regexp.MustCompile(`(?s)<ul class="attention">(.*?)</ul>`)

// attentionOf returns the "Needs a human" items of a campaign page, as text.
func attentionOf(page string) []string {
	m := attentionItem.FindStringSubmatch(page)
	if m == nil {
		return nil
	}
	var out []string
	for _, li := range strings.Split(m[1], "<li>")[1:] {
		out = append(out, html.UnescapeString(strings.TrimSuffix(li, "</li>")))
	}
	return out
}

// TestDashboardDemoClock: the demo runs on a simulated clock in 2027 and
// ends with every removal executed after the cutoff and the campaign
// closed. Shown on the real time its page read "89d to the cutoff"; on
// the campaign's clock it says when it closed and nothing is overdue.
func TestDashboardDemoClock(t *testing.T) {
	dir := t.TempDir()
	if _, err := demo.Run(t.Context(), demo.Options{StateDir: dir}); err != nil {
		t.Fatalf("demo: %v", err)
	}
	st, err := state.Open(filepath.Join(dir, "demo.db"), state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wall := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC) // before the demo's campaign
	o := dashboard.Options{Store: st, Now: func() time.Time { return wall }}
	for _, path := range []string{"/", "/campaign/mfa-demo"} {
		page := get(t, o, path)
		for _, want := range []string{"closed 2027-03-11 10:00", "on the campaign's clock, 2027-03-11 10:00"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
		// The overview also lists the demo's second campaign (the
		// inactivity review), which may still count down; the campaign
		// page is mfa-demo's alone.
		if path != "/" && (strings.Contains(page, "to the cutoff") || strings.Contains(page, "overdue")) {
			t.Errorf("%s shows a countdown or overdue for a finished campaign", path)
		}
	}
	// The same items as `auditbot status`.
	status, err := bot.StatusOf(st, "mfa-demo", wall)
	if err != nil {
		t.Fatal(err)
	}
	if len(status.Attention) == 0 {
		t.Fatal("the demo leaves nothing for a human; the comparison would prove little")
	}
	if d := cmp.Diff(status.Attention, attentionOf(get(t, o, "/campaign/mfa-demo"))); d != "" {
		t.Errorf("needs a human (-status +dashboard):\n%s", d)
	}
}

// TestDashboardNeedsAHuman: a closed campaign says so; a removal batch
// held by the guard-rail and a task whose access the bot took back are
// listed as `auditbot status` lists them.
func TestDashboardNeedsAHuman(t *testing.T) {
	st := testworld.OpenStore(t, filepath.Join(t.TempDir(), "s.db"))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := state.Group{PHID: "G", Name: "acl*ops", Risk: "internal"}
	for _, name := range []string{"held", "closed"} {
		c := state.Campaign{Name: name, Title: name, LaunchedAt: t0, Cutoff: t0.Add(24 * time.Hour), BotUsername: "auditbot", Groups: []state.Group{g}}
		f := state.Finding{UserPHID: "U", Username: "eve", Groups: []string{"G"}, Status: state.StatusPending, Batch: 1}
		if err := st.CreateCampaign(c, []state.Finding{f}, []state.Batch{{Index: 1, TaskID: 7, UserPHIDs: []string{"U"}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Update("held", func(tx *state.CampaignTx) error {
		rm := state.Removal{RequiredApprovals: 1, Status: state.RemovalApproved, Held: "it would remove 1 of 1 member(s) of acl*ops",
			Items:     []state.RemovalItem{{UserPHID: "U", Username: "eve", GroupPHID: "G", GroupName: "acl*ops", Risk: "internal", Batch: 1}},
			Approvals: []state.Approval{{ApproverPHID: "A", Username: "alice", At: t0, Via: "cli"}}}
		if err := tx.PutRemoval(&rm); err != nil {
			return err
		}
		return tx.PutOp(state.Op{Key: "access/T7/1", Kind: state.OpAccessRevoked, State: state.OpDone, CreatedAt: t0, Result: "T7", Args: map[string]string{"detail": "subscriber @mallory"}})
	}); err != nil {
		t.Fatal(err)
	}
	closedAt := t0.Add(48 * time.Hour)
	if err := st.Update("closed", func(tx *state.CampaignTx) error {
		c := tx.Campaign()
		c.ClosedAt = closedAt
		f, err := tx.Finding("U")
		if err != nil {
			return err
		}
		f.Status = state.StatusCompliant
		if err := tx.PutFinding(f); err != nil {
			return err
		}
		return tx.PutCampaign(c)
	}); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(72 * time.Hour)
	o := dashboard.Options{Store: st, Now: func() time.Time { return now }}

	page := get(t, o, "/campaign/held")
	status, err := bot.StatusOf(st, "held", now)
	if err != nil {
		t.Fatal(err)
	}
	got := attentionOf(page)
	if d := cmp.Diff(status.Attention, got); d != "" {
		t.Errorf("needs a human (-status +dashboard):\n%s", d)
	}
	for _, want := range []string{"held by the removal guard-rail", "the bot took it back"} {
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("needs a human lacks %q: %q", want, got)
		}
	}
	if !strings.Contains(page, "approved <span class=\"held\">· held by the removal guard-rail: it would remove 1 of 1 member(s) of acl*ops</span>") {
		t.Errorf("removal table does not show the hold:\n%s", page)
	}
	if !strings.Contains(page, `<span class="overdue countdown">2d 0h past the cutoff</span>`) {
		t.Errorf("held campaign not overdue")
	}
	for _, path := range []string{"/", "/campaign/closed"} {
		if p := get(t, o, path); !strings.Contains(p, `<span class="countdown">closed 2026-01-03 00:00</span>`) {
			t.Errorf("%s does not say the campaign closed", path)
		}
	}
}
