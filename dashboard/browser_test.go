package dashboard_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
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

// riskColours are the backgrounds a person sees for each risk level, in
// light and dark alike (the badge keeps its dark text).
var riskColours = map[string]string{
	"not-risky": "rgb(220, 240, 220)",
	"vandalism": "rgb(255, 243, 200)",
	"security":  "rgb(255, 222, 190)",
	"internal":  "rgb(250, 205, 205)",
}

// browser runs the dashboard over the demo's state file in headless
// Chromium.
type browser struct {
	t    *testing.T
	ctx  context.Context
	url  string
	snap state.Snapshot
}

func newBrowser(t *testing.T) *browser {
	chrome := chromiumPath(t)
	dir := t.TempDir()
	if _, err := demo.Run(t.Context(), demo.Options{StateDir: dir}); err != nil {
		t.Fatalf("demo: %v", err)
	}
	st, err := state.Open(filepath.Join(dir, "demo.db"), state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, err := dashboard.New(dashboard.Options{PhabURL: "https://phab.demo.invalid", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	snap, err := st.Snapshot("mfa-demo")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.Headless,
		chromedp.DisableGPU, chromedp.WindowSize(1400, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// A bound on a hung browser, not an assertion on speed.
	ctx, cancelT := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(cancelT)
	return &browser{t: t, ctx: ctx, url: srv.URL, snap: snap}
}

// run runs actions, failing the test with what for context.
func (b *browser) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	if err := chromedp.Run(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// view sets the window's width and colour scheme.
func (b *browser) view(width int64, scheme string) {
	b.t.Helper()
	b.run(fmt.Sprintf("view %d %s", width, scheme),
		chromedp.EmulateViewport(width, 900),
		emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}))
}

// TestDashboardInBrowser runs the demo, serves its state file and reads
// the pages in headless Chromium as a person would, at 375, 768 and
// 1400 px, light and dark: the page never scrolls sideways (wide tables
// scroll in their own box), every table has a caption, no id repeats,
// the colours follow the scheme; the counts match the state, each group
// has its risk level's colour, the chart has one line per status with
// the state's counts, task links point at Phabricator, and a real name
// carrying HTML is shown as text. UPDATE=1 refreshes docs/dashboard.png.
func TestDashboardInBrowser(t *testing.T) {
	b := newBrowser(t)
	snap := b.snap
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
	// The chart's lines: pending, and every status someone is in.
	wantSeries := map[string]string{"pending": wantCounts["pending"]}
	for _, f := range snap.Findings {
		n := 0
		for _, g := range snap.Findings {
			if g.Status == f.Status {
				n++
			}
		}
		wantSeries[string(f.Status)] = strconv.Itoa(n)
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
	group := snap.Campaign.Groups[0].PHID
	pages := []string{"/", "/campaign/mfa-demo", "/campaign/mfa-demo/journal", "/campaign/mfa-demo/group/" + group}

	for _, scheme := range []string{"light", "dark"} {
		for _, width := range []int64{375, 768, 1400} {
			t.Run(fmt.Sprintf("%s %dpx", scheme, width), func(t *testing.T) {
				b.t = t
				b.view(width, scheme)
				for _, page := range pages {
					var overflow, inner int
					var tables, captions int
					var ids []string
					var bg string
					b.run(page,
						chromedp.Navigate(b.url+page),
						chromedp.WaitReady("footer", chromedp.ByQuery),
						chromedp.Evaluate(`document.documentElement.scrollWidth`, &overflow),
						chromedp.Evaluate(`document.documentElement.clientWidth`, &inner),
						chromedp.Evaluate(`document.querySelectorAll('table').length`, &tables),
						chromedp.Evaluate(`document.querySelectorAll('table > caption').length`, &captions),
						chromedp.Evaluate(`[...document.querySelectorAll('[id]')].map(e => e.id)`, &ids),
						chromedp.Evaluate(`getComputedStyle(document.body).backgroundColor`, &bg),
					)
					if overflow > inner {
						t.Errorf("%s: the page is %d px wide in a %d px window: it scrolls sideways", page, overflow, inner)
					}
					if tables == 0 && page != "/" || tables != captions {
						t.Errorf("%s: %d tables, %d captions", page, tables, captions)
					}
					slices.Sort(ids)
					if c := slices.Compact(slices.Clone(ids)); len(c) != len(ids) {
						t.Errorf("%s: repeated ids among %v", page, ids)
					}
					if dark := luminance(t, bg) < 0.3; dark != (scheme == "dark") {
						t.Errorf("%s: background %s in the %s scheme", page, bg, scheme)
					}
				}
				b.checkPages(t, wantCounts, wantSeries, hostile)
			})
		}
	}

	// The README's screenshot: the campaign page, wide and light.
	b.t = t
	b.view(1400, "light")
	var png []byte
	b.run("screenshot", chromedp.Navigate(b.url+"/campaign/mfa-demo"), chromedp.WaitReady("footer", chromedp.ByQuery), chromedp.FullScreenshot(&png, 100)) // 100: PNG
	out := filepath.Join(t.TempDir(), "dashboard.png")
	if os.Getenv("UPDATE") != "" {
		out = filepath.Join("..", "docs", "dashboard.png")
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)
}

// checkPages reads what the pages say, at the current width and scheme.
func (b *browser) checkPages(t *testing.T, wantCounts, wantSeries map[string]string, hostile string) {
	snap := b.snap
	var statuses, risks []string
	b.run("overview",
		chromedp.Navigate(b.url+"/"),
		chromedp.WaitVisible(`#campaign-mfa-demo`, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll('#campaign-mfa-demo .count')].map(e => e.dataset.status)`, &statuses),
		chromedp.Evaluate(`[...document.querySelectorAll('#campaign-mfa-demo .group')].map(e => e.dataset.risk)`, &risks),
	)
	gotCounts := map[string]string{}
	for _, s := range statuses {
		var n string
		b.run("count "+s, chromedp.Text(`#campaign-mfa-demo .count[data-status="`+s+`"] b`, &n, chromedp.ByQuery))
		gotCounts[s] = strings.TrimSpace(n)
	}
	if d := cmp.Diff(wantCounts, gotCounts); d != "" {
		t.Errorf("overview counts (-want +got):\n%s", d)
	}
	// The demo's campaign runs on a simulated clock, in the future and
	// closed: the countdown says when, on its clock, not the real one.
	var countdown, cutoff string
	b.run("countdown", chromedp.Text(`#campaign-mfa-demo .countdown`, &countdown, chromedp.ByQuery),
		chromedp.Text(`#campaign-mfa-demo .cutoff-date`, &cutoff, chromedp.ByQuery))
	if !strings.HasPrefix(countdown, "closed 2027-03-11") {
		t.Errorf("countdown = %q, want the campaign closed", countdown)
	}
	if want := state.CutoffText(snap.Campaign.Cutoff); cutoff != want {
		t.Errorf("cutoff = %q, want %q", cutoff, want)
	}
	colours := map[string]string{}
	for _, r := range risks {
		var bg string
		b.run("risk "+r, chromedp.Evaluate(`getComputedStyle(document.querySelector('#campaign-mfa-demo .group[data-risk="`+r+`"]')).backgroundColor`, &bg))
		colours[r] = bg
	}
	wantColours := map[string]string{}
	for _, g := range snap.Campaign.Groups {
		wantColours[g.Risk] = riskColours[g.Risk]
	}
	if d := cmp.Diff(wantColours, colours); d != "" {
		t.Errorf("risk colours (-want +got):\n%s", d)
	}
	order := map[string]int{"not-risky": 1, "vandalism": 2, "security": 3, "internal": 4}
	for i := 1; i < len(risks); i++ {
		if order[risks[i]] > order[risks[i-1]] {
			t.Errorf("groups not riskiest first: %v", risks)
		}
	}

	var realNames []string
	var imgs int
	var firstTask string
	var series, legend []string
	var legendN []string
	var chartWidth, chartLines int
	b.run("campaign page",
		chromedp.Navigate(b.url+"/campaign/mfa-demo"),
		chromedp.WaitVisible(`table.users`, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll('td.realname')].map(e => e.textContent)`, &realNames),
		chromedp.Evaluate(`document.querySelectorAll('td.realname img').length`, &imgs),
		chromedp.AttributeValue(`table.tasks a`, "href", &firstTask, nil, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll('svg.chart polyline.series')].map(e => e.dataset.status)`, &series),
		chromedp.Evaluate(`[...document.querySelectorAll('svg.chart polyline.series')].filter(e => getComputedStyle(e).stroke !== 'none').length`, &chartLines),
		chromedp.Evaluate(`[...document.querySelectorAll('.legend li')].map(e => e.dataset.status)`, &legend),
		chromedp.Evaluate(`[...document.querySelectorAll('.legend li b')].map(e => e.textContent)`, &legendN),
		chromedp.Evaluate(`Math.round(document.querySelector('svg.chart').getBoundingClientRect().width)`, &chartWidth),
	)
	if !slices.Contains(realNames, hostile) || imgs != 0 {
		t.Errorf("hostile real name %q shown as text: %v; <img> elements made from real names: %d", hostile, slices.Contains(realNames, hostile), imgs)
	}
	if want := "https://phab.demo.invalid/" + snap.Batches[0].Monogram(); firstTask != want {
		t.Errorf("first task link = %q, want %q", firstTask, want)
	}
	gotSeries := map[string]string{}
	for i, s := range legend {
		if i < len(legendN) {
			gotSeries[s] = legendN[i]
		}
	}
	if d := cmp.Diff(wantSeries, gotSeries); d != "" {
		t.Errorf("chart legend (-want +got):\n%s", d)
	}
	if !slices.Equal(series, legend) || chartLines != len(series) {
		t.Errorf("chart lines %v (%d drawn), legend %v", series, chartLines, legend)
	}
	if chartWidth < 300 {
		t.Errorf("chart drawn %d px wide: too narrow to read", chartWidth)
	}

	var chain string
	b.run("journal page",
		chromedp.Navigate(b.url+"/campaign/mfa-demo/journal?kind=members-removed"),
		chromedp.Text(`#chain`, &chain, chromedp.ByQuery))
	if !strings.Contains(chain, "hash chain verified") {
		t.Errorf("journal chain state = %q, want verified", chain)
	}
}

// luminance is the relative luminance of a CSS rgb() colour, 0 (black)
// to 1 (white).
func luminance(t *testing.T, css string) float64 {
	var r, g, b float64
	if _, err := fmt.Sscanf(css, "rgb(%g, %g, %g)", &r, &g, &b); err != nil {
		t.Fatalf("colour %q: %v", css, err)
	}
	return (0.2126*r + 0.7152*g + 0.0722*b) / 255
}
