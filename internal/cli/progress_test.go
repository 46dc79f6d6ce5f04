package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/auditbot/auditbot/internal/testkit"
)

func TestLogProgress(t *testing.T) {
	var logs bytes.Buffer
	clock := testkit.NewClock(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	p := &logProgress{log: zerolog.New(&logs), now: clock.Now, every: 10 * time.Second}

	// Steps of 3 s: a line at 12 s and 24 s, none in between, and a
	// last one when it ends.
	p.Start(10, "filing tasks")
	for range 10 {
		clock.Advance(3 * time.Second)
		p.Add(1)
	}
	p.Done()
	want := []string{
		`{"level":"info","done":4,"total":10,"elapsed_ms":12000,"message":"filing tasks"}`,
		`{"level":"info","done":8,"total":10,"elapsed_ms":24000,"message":"filing tasks"}`,
		`{"level":"info","done":10,"total":10,"elapsed_ms":30000,"message":"filing tasks: finished"}`,
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(logs.String()), "\n")); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}

	// A loop quicker than the interval logs nothing at all.
	logs.Reset()
	p.Start(100, "checking members")
	p.Add(100)
	p.Done()
	if logs.Len() != 0 {
		t.Errorf("a quick loop logged: %s", logs.String())
	}
}

func TestBar(t *testing.T) {
	t.Run("render", func(t *testing.T) {
		for _, tc := range []struct {
			done, total int
			color       bool
			want        string
		}{
			{0, 4, false, "filing tasks [>                             ] 0/4 0%"},
			{1, 4, false, "filing tasks [=======>                      ] 1/4 25%"},
			{4, 4, false, "filing tasks [==============================] 4/4 100%"},
			{0, 0, false, "filing tasks [==============================] 0/0 100%"},
			{1, 4, true, "filing tasks [\x1b[32m=======>\x1b[0m                      ] 1/4 25%"},
		} {
			b := newBar(nil, tc.color, time.Now)
			b.what, b.done, b.total = "filing tasks", tc.done, tc.total
			if got := b.render(); got != tc.want {
				t.Errorf("render(%d/%d, color %v) = %q, want %q", tc.done, tc.total, tc.color, got, tc.want)
			}
		}
	})
	t.Run("draws after a moment, keeps log lines above it", func(t *testing.T) {
		var out bytes.Buffer
		clock := testkit.NewClock(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		b := newBar(&out, false, clock.Now)
		b.Start(2, "x")
		b.Add(1) // too soon: nothing drawn
		if out.Len() != 0 {
			t.Fatalf("bar drawn before %v: %q", barDelay, out.String())
		}
		clock.Advance(time.Second)
		b.Add(0)
		b.Write([]byte("a log line\n"))
		b.Add(1)
		b.Done()
		bar1 := "x [===============>              ] 1/2 50%"
		bar2 := "x [==============================] 2/2 100%"
		want := "\r" + bar1 + "\x1b[K" + // drawn
			"\r\x1b[K" + "a log line\n" + "\r" + bar1 + "\x1b[K" + // cleared, logged, drawn again
			"\r" + bar2 + "\x1b[K" + // the last step is always drawn
			"\r" + bar2 + "\x1b[K\n" // and once more at the end, with a newline
		if got := out.String(); got != want {
			t.Errorf("bar output\n got %q\nwant %q", got, want)
		}
		// Once done, log lines pass through untouched.
		out.Reset()
		b.Write([]byte("after\n"))
		if out.String() != "after\n" {
			t.Errorf("after Done: %q", out.String())
		}
	})
	t.Run("a quick loop shows no bar", func(t *testing.T) {
		var out bytes.Buffer
		b := newBar(&out, false, testkit.NewClock(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)).Now)
		b.Start(3, "x")
		b.Add(3)
		b.Done()
		if out.Len() != 0 {
			t.Errorf("quick loop drew %q", out.String())
		}
	})
	t.Run("not a terminal", func(t *testing.T) {
		if isTerminal(&bytes.Buffer{}, func(string) string { return "" }) {
			t.Error("a buffer is a terminal")
		}
	})
}
