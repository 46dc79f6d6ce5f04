package conduit

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLimiter(t *testing.T) {
	tests := []struct {
		name      string
		perSecond float64
		run       func(l *limiter)
		want      []time.Duration
	}{
		{
			name:      "spaces requests",
			perSecond: 10,
			run: func(l *limiter) {
				for range 3 {
					l.wait(context.Background())
				}
			},
			want: []time.Duration{100 * time.Millisecond, 100 * time.Millisecond},
		},
		{
			name:      "unlimited",
			perSecond: -1,
			run: func(l *limiter) {
				for range 3 {
					l.wait(context.Background())
				}
			},
		},
		{
			name:      "hold-off applies to everyone, even unlimited",
			perSecond: -1,
			run: func(l *limiter) {
				l.holdOff(2 * time.Second)
				l.wait(context.Background())
				l.wait(context.Background())
			},
			want: []time.Duration{2 * time.Second},
		},
		{
			name:      "hold-off never shortens a wait",
			perSecond: 0.5,
			run: func(l *limiter) {
				l.wait(context.Background()) // next slot in 2s
				l.holdOff(time.Second)
				l.wait(context.Background())
			},
			want: []time.Duration{2 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			l := newLimiter(tt.perSecond, clock.Sleep)
			l.now = clock.Now
			tt.run(l)
			if diff := cmp.Diff(tt.want, clock.Sleeps()); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLimiterCancelled(t *testing.T) {
	l := newLimiter(1, sleepCtx)
	l.wait(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.wait(ctx); err != context.Canceled {
		t.Errorf("wait = %v, want context.Canceled", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"Sun, 01 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Sun, 01 Nov 2026 11:00:00 GMT", 0, true},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}
	for i, w := range want {
		if got := backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := backoff(40); got != maxBackoff {
		t.Errorf("backoff(40) = %v, want the cap %v", got, maxBackoff)
	}
}

func TestIsReadMethod(t *testing.T) {
	for method, want := range map[string]bool{
		"user.search": true, "feed.query": true, "phid.lookup": true, "user.whoami": true,
		"conduit.ping": true, "maniphest.info": true, "conduit.getcapabilities": true,
		"maniphest.edit": false, "project.edit": false, "user.disable": false,
	} {
		if got := isReadMethod(method); got != want {
			t.Errorf("isReadMethod(%q) = %v, want %v", method, got, want)
		}
	}
}

func TestNormalizeSlug(t *testing.T) {
	for in, want := range map[string]string{
		"#acl*security":   "acl_security",
		"acl_security":    "acl_security",
		"WMF-NDA":         "wmf-nda",
		" Security Team ": "security_team",
		"#":               "",
	} {
		if got := NormalizeSlug(in); got != want {
			t.Errorf("NormalizeSlug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDialRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "phab.example.org", "ftp://phab.example.org", "https://"} {
		if _, err := Dial(context.Background(), u, testToken, Options{}); err == nil {
			t.Errorf("Dial(%q) succeeded", u)
		}
	}
}
