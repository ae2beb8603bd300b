package servertest

import (
	"context"
	"sync"
	"time"

	"github.com/cdcstream/cdcstream/server"
)

// ManualClock is a server.Clock whose time moves only with Advance. Tests wait with
// WaitTimers until the code under test has armed its timers, then Advance to fire them, so
// nothing sleeps.
type ManualClock struct {
	// mu protects now, timers and changed.
	mu  sync.Mutex
	now time.Time
	// timers are the armed, unfired, unstopped timers.
	timers map[*manualTimer]struct{}
	// changed is closed (and replaced) whenever a timer is armed, fired or stopped.
	changed chan struct{}
}

var _ server.Clock = (*ManualClock)(nil)

// NewManualClock returns a clock reading start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start, timers: make(map[*manualTimer]struct{}), changed: make(chan struct{})}
}

// manualTimer is a timer of a ManualClock.
type manualTimer struct {
	clock    *ManualClock
	deadline time.Time
	// c receives the firing time; capacity 1 so firing never blocks.
	c chan time.Time
}

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer arms a timer that fires once the clock has advanced by d (at once when d <= 0).
func (c *ManualClock) NewTimer(d time.Duration) server.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{clock: c, deadline: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
		return t
	}
	c.timers[t] = struct{}{}
	c.notifyLocked()
	return t
}

func (t *manualTimer) C() <-chan time.Time { return t.c }

func (t *manualTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.timers[t]; !ok {
		return false
	}
	delete(c.timers, t)
	c.notifyLocked()
	return true
}

func (c *ManualClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the clock forward by d and fires every timer whose deadline has passed.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	fired := false
	for t := range c.timers {
		if !t.deadline.After(c.now) {
			delete(c.timers, t)
			t.c <- c.now
			fired = true
		}
	}
	if fired {
		c.notifyLocked()
	}
}

// Timers returns the number of armed timers.
func (c *ManualClock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitTimers blocks until exactly n timers are armed, or ctx ends.
func (c *ManualClock) WaitTimers(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		got, changed := len(c.timers), c.changed
		c.mu.Unlock()
		if got == n {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-changed:
		}
	}
}
