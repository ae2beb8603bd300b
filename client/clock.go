package client

import "time"

// clock is the subscription's source of time: the backoff between attempts waits on After, and
// the watchdog of an attempt is an AfterFunc timer. The default is the system clock; tests
// inject a fake one (withClock) so that no test waits for real time. Implementations must be
// safe for concurrent use.
//
// The watchdog is an AfterFunc, not a timer channel, because it must act while Receive is
// blocked in Recv on the caller's goroutine; a channel would need a goroutine per attempt to
// watch it.
type clock interface {
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
	// AfterFunc calls f in its own goroutine once d has passed, unless the timer is stopped.
	AfterFunc(d time.Duration, f func()) timer
}

// timer is a one-shot AfterFunc timer created by a clock; *time.Timer implements it.
type timer interface {
	// Reset makes the timer fire d from now; it reports whether the timer was active.
	Reset(d time.Duration) bool
	// Stop prevents the timer from firing; it reports whether it stopped it before it fired.
	Stop() bool
}

// systemClock is the clock backed by package time.
type systemClock struct{}

func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (systemClock) AfterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }
