package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/auditbot/auditbot/bot"
)

// Progress of long loops (bot.Progress): a bar on stderr when it is a
// terminal, otherwise an info log line every progressLogEvery.

const (
	// progressLogEvery is how often a long loop logs its counts when
	// stderr is not a terminal (a daemon's journal, a CI log).
	progressLogEvery = 10 * time.Second
	// barDelay: a loop that ends sooner shows no bar at all, so short
	// commands print exactly what they printed before.
	barDelay = 500 * time.Millisecond
	// barRedraw limits redraws, so a loop of 10,000 steps does not write
	// 10,000 lines of escape codes.
	barRedraw = 100 * time.Millisecond
	barWidth  = 30
)

// isTerminal reports whether w is a terminal that can redraw a line.
func isTerminal(w io.Writer, getenv func(string) string) bool {
	f, ok := w.(*os.File)
	if !ok || getenv("TERM") == "dumb" {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// logOutput is where the logger writes: stderr, through the bar when
// stderr is a terminal, so that a log line never lands inside the bar.
func (a *app) logOutput() io.Writer {
	if a.bar == nil && isTerminal(a.stderr, a.getenv) {
		// NO_COLOR (no-color.org): any non-empty value.
		a.bar = newBar(a.stderr, a.getenv("NO_COLOR") == "", time.Now)
	}
	if a.bar != nil {
		return a.bar
	}
	return a.stderr
}

// progress is the bot's bot.Progress: the bar on a terminal, log lines
// otherwise.
func (a *app) progress(log zerolog.Logger) bot.Progress {
	if a.logOutput(); a.bar != nil {
		return a.bar
	}
	return &logProgress{log: log, now: time.Now, every: progressLogEvery}
}

// logProgress logs a long loop's counts at most once per every, and a
// last line when it ends if it logged any: a log reader sees that the
// work goes on, and how far it is, without a line per step.
type logProgress struct {
	log   zerolog.Logger
	now   func() time.Time
	every time.Duration

	what        string
	total, done int
	start, last time.Time
	logged      bool
}

func (p *logProgress) Start(total int, what string) {
	p.what, p.total, p.done, p.logged = what, total, 0, false
	p.start = p.now()
	p.last = p.start
}

func (p *logProgress) Add(n int) {
	p.done += n
	if now := p.now(); now.Sub(p.last) >= p.every {
		p.last = now
		p.logged = true
		p.event().Msg(p.what)
	}
}

func (p *logProgress) Done() {
	if p.logged {
		p.event().Msg(p.what + ": finished")
	}
	p.logged = false
}

func (p *logProgress) event() *zerolog.Event {
	return p.log.Info().Int("done", p.done).Int("total", p.total).Int64("elapsed_ms", p.now().Sub(p.start).Milliseconds())
}

// bar is a one-line progress bar on a terminal. It is also the log's
// writer there: a log line clears the bar, is written, and the bar is
// drawn again under it.
type bar struct {
	mu    sync.Mutex
	w     io.Writer
	color bool
	now   func() time.Time

	what        string
	total, done int
	start, last time.Time
	running     bool
	shown       bool // the bar is on screen now
}

func newBar(w io.Writer, color bool, now func() time.Time) *bar {
	return &bar{w: w, color: color, now: now}
}

func (b *bar) Start(total int, what string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.what, b.total, b.done, b.running = what, total, 0, true
	b.start = b.now()
}

func (b *bar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	now := b.now()
	if now.Sub(b.start) < barDelay || b.shown && now.Sub(b.last) < barRedraw && b.done < b.total {
		return
	}
	b.last = now
	b.draw()
}

func (b *bar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shown {
		b.draw()
		io.WriteString(b.w, "\n")
	}
	b.running, b.shown = false, false
}

// Write writes a log line above the bar.
func (b *bar) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shown {
		io.WriteString(b.w, "\r\x1b[K")
	}
	n, err := b.w.Write(p)
	if b.shown {
		b.draw()
	}
	return n, err
}

// draw writes the bar over the current line.
func (b *bar) draw() {
	io.WriteString(b.w, "\r"+b.render()+"\x1b[K")
	b.shown = true
}

// render is the bar's text: "filing tasks [=====>    ] 12/250 4%".
func (b *bar) render() string {
	done := min(b.done, b.total)
	filled, pct := barWidth, 100
	if b.total > 0 {
		filled = done * barWidth / b.total
		pct = done * 100 / b.total
	}
	full := strings.Repeat("=", filled)
	if filled < barWidth {
		full += ">"
	}
	rest := strings.Repeat(" ", barWidth-len(full))
	if b.color {
		full = "\x1b[32m" + full + "\x1b[0m"
	}
	return fmt.Sprintf("%s [%s%s] %d/%d %d%%", b.what, full, rest, done, b.total, pct)
}
