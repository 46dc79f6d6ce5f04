package dashboard_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/dashboard"
	"github.com/auditbot/auditbot/internal/demo"
	"github.com/auditbot/auditbot/state"
)

// chromiumPath finds a headless-capable Chromium. Without one the test
// skips, except in CI (CI=true), where it must run.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed and CI=true: the browser test must run in CI (apt-get install -y chromium)")
	}
	t.Skip("chromium not installed (apt-get install -y chromium); CI=true makes this a failure")
	return ""
}

// riskColours are the backgrounds a person sees for each risk level.
var riskColours = map[string]string{
	"not-risky": "rgb(220, 240, 220)",
	"vandalism": "rgb(255, 243, 200)",
	"security":  "rgb(255, 222, 190)",
	"internal":  "rgb(250, 205, 205)",
}

// TestDashboardInBrowser runs the demo, serves its state file and reads
// the pages in headless Chromium as a person would: the counts match the
// state, each group has its risk level's colour, task links point at
// Phabricator, and a real name carrying HTML is shown as text.
func TestDashboardInBrowser(t *testing.T) {
	chrome := chromiumPath(t)
	dir := t.TempDir()
	if _, err := demo.Run(t.Context(), demo.Options{StateDir: dir}); err != nil {
		t.Fatalf("demo: %v", err)
	}
	path := filepath.Join(dir, "demo.db")
	st, err := state.Open(path, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, err := dashboard.New(dashboard.Options{PhabURL: "https://phab.demo.invalid", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	// What the pages must show, from the state file itself.
	snap, err := st.Snapshot("mfa-demo")
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[string]string{}
	for _, s := range []state.Status{state.StatusPending, state.StatusCompliant, state.StatusExempt, state.StatusVoluntary, state.StatusRemoved, state.StatusRestored} {
		n := 0
		for _, f := range snap.Findings {
			if f.Status == s {
				n++
			}
		}
		wantCounts[string(s)] = strconv.Itoa(n)
	}
	var hostile string
	for _, f := range snap.Findings {
		if strings.Contains(f.RealName, "<img") {
			hostile = f.RealName
		}
	}
	if hostile == "" {
		t.Fatal("the demo has no real name with HTML in it; the escaping check would prove nothing")
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.Headless,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// A bound on a hung browser, not an assertion on speed.
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelT()

	gotCounts := map[string]string{}
	var statuses []string
	var risks []string
	colours := map[string]string{}
	var png []byte
	if err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(`#campaign-mfa-demo`, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll('#campaign-mfa-demo .count')].map(e => e.dataset.status)`, &statuses),
	); err != nil {
		t.Fatalf("overview: %v", err)
	}
	for _, s := range statuses {
		var n string
		if err := chromedp.Run(ctx, chromedp.Text(`#campaign-mfa-demo .count[data-status="`+s+`"] b`, &n, chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}
		gotCounts[s] = strings.TrimSpace(n)
	}
	// The demo's campaign runs on a simulated clock, in the future and
	// finished: the countdown is on its clock, not the real one.
	var countdown string
	if err := chromedp.Run(ctx, chromedp.Text(`#campaign-mfa-demo .countdown`, &countdown, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(countdown, "cutoff passed") {
		t.Errorf("countdown = %q, want the cutoff passed", countdown)
	}
	if d := cmp.Diff(wantCounts, gotCounts); d != "" {
		t.Errorf("overview counts (-want +got):\n%s", d)
	}
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`[...document.querySelectorAll('#campaign-mfa-demo .group')].map(e => e.dataset.risk)`, &risks)); err != nil {
		t.Fatal(err)
	}
	for _, r := range risks {
		var bg string
		if err := chromedp.Run(ctx, chromedp.Evaluate(`getComputedStyle(document.querySelector('#campaign-mfa-demo .group[data-risk="`+r+`"]')).backgroundColor`, &bg)); err != nil {
			t.Fatal(err)
		}
		colours[r] = bg
	}
	wantColours := map[string]string{}
	for _, g := range snap.Campaign.Groups {
		wantColours[g.Risk] = riskColours[g.Risk]
	}
	if d := cmp.Diff(wantColours, colours); d != "" {
		t.Errorf("risk colours (-want +got):\n%s", d)
	}
	if len(risks) > 1 {
		order := map[string]int{"not-risky": 1, "vandalism": 2, "security": 3, "internal": 4}
		for i := 1; i < len(risks); i++ {
			if order[risks[i]] > order[risks[i-1]] {
				t.Errorf("groups not riskiest first: %v", risks)
			}
		}
	}

	var realNames []string
	var imgs int
	var firstTask string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/campaign/mfa-demo"),
		chromedp.WaitVisible(`table.users`, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll('td.realname')].map(e => e.textContent)`, &realNames),
		chromedp.Evaluate(`document.querySelectorAll('td.realname img').length`, &imgs),
		chromedp.AttributeValue(`table.tasks a`, "href", &firstTask, nil, chromedp.ByQuery),
		chromedp.FullScreenshot(&png, 100), // 100: PNG, not JPEG
	); err != nil {
		t.Fatalf("campaign page: %v", err)
	}
	found := false
	for _, n := range realNames {
		if n == hostile {
			found = true
		}
	}
	if !found || imgs != 0 {
		t.Errorf("hostile real name %q shown as text: %v; <img> elements made from real names: %d", hostile, found, imgs)
	}
	if want := "https://phab.demo.invalid/" + snap.Batches[0].Monogram(); firstTask != want {
		t.Errorf("first task link = %q, want %q", firstTask, want)
	}

	var chain string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/campaign/mfa-demo/journal?kind=members-removed"),
		chromedp.Text(`#chain`, &chain, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("journal page: %v", err)
	}
	if !strings.Contains(chain, "hash chain verified") {
		t.Errorf("journal chain state = %q, want verified", chain)
	}

	out := filepath.Join(t.TempDir(), "dashboard.png")
	if os.Getenv("UPDATE") != "" {
		// UPDATE=1 refreshes the README's screenshot.
		out = filepath.Join("..", "docs", "dashboard.png")
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)
}
