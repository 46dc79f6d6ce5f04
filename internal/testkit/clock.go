package testkit

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Clock is a simulated clock that tests set and advance, and that the
// in-process Phabricator, the bot and the rate limiter read (pass
// c.Now as their Now, c.Sleep as their Sleep). It is safe for concurrent
// use. A Clock at the zero time follows the wall clock until it is Set:
// the crash tests' server runs on the wall clock while the binary
// launches without --now.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		return time.Now()
	}
	return c.now
}

// Set moves the clock to t, forward or back.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = time.Now()
	}
	c.now = c.now.Add(d)
}

// Sleep advances the clock by d at once and records d (see Sleeps), so
// that code which waits runs instantly and tests still see the exact
// waits. It returns ctx's error, without advancing, if ctx is done.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	c.Advance(d)
	return nil
}

// Sleeps returns the durations Sleep was called with, oldest first.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}
