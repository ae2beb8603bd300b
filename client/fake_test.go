package client

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/protoadapt"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// script plays one Subscribe call of the fake server.
type script = testkit.Script

// fakeServer is a scriptable ChangeStreamService (a testkit.Stub) on a real loopback listener:
// each Subscribe call plays the next script; when the scripts run out, calls hang until the
// client leaves.
type fakeServer struct {
	*testkit.Scripts
	// mu guards cursorRequests, cursorAnswers and cursorHangs.
	mu             sync.Mutex
	cursorRequests []*cdcstreamv1.GetCursorRequest
	cursorAnswers  map[cdcstreamv1.StartPosition]string
	cursorHangs    int // how many of the next GetCursor calls hang until the client leaves
	// subscribed receives every Subscribe request (buffered; the fake never blocks on it).
	subscribed chan *cdcstreamv1.SubscribeRequest
	// askedCursor receives every GetCursor request (buffered; the fake never blocks on it).
	askedCursor chan *cdcstreamv1.GetCursorRequest
}

// startFake serves f on 127.0.0.1:0 and returns a client connection to it; both stop with t.
func startFake(t *testing.T, scripts ...script) (*fakeServer, *grpc.ClientConn) {
	t.Helper()
	return startFakeTB(t, scripts...)
}

// startFakeTB is startFake for tests and benchmarks.
func startFakeTB(t testing.TB, scripts ...script) (*fakeServer, *grpc.ClientConn) {
	t.Helper()
	f := &fakeServer{
		Scripts:     testkit.NewScripts(scripts...),
		askedCursor: make(chan *cdcstreamv1.GetCursorRequest, 1000),
		cursorAnswers: map[cdcstreamv1.StartPosition]string{
			cdcstreamv1.StartPosition_START_POSITION_NOW:      "now",
			cdcstreamv1.StartPosition_START_POSITION_EARLIEST: "earliest",
		},
	}
	f.subscribed = f.Scripts.Subscribed
	conn, _ := (&testkit.Stub{SubscribeF: f.Subscribe, GetCursorF: f.GetCursor}).Start(t)
	return f, conn
}

// GetCursor answers from cursorAnswers, in the requested database.
func (f *fakeServer) GetCursor(ctx context.Context, req *cdcstreamv1.GetCursorRequest) (*cdcstreamv1.GetCursorResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cursorRequests = append(f.cursorRequests, req)
	f.askedCursor <- req
	if f.cursorHangs > 0 {
		f.cursorHangs--
		f.mu.Unlock()
		<-ctx.Done()
		f.mu.Lock()
		return nil, ctx.Err()
	}
	return &cdcstreamv1.GetCursorResponse{Cursor: &cdcstreamv1.Cursor{Id: f.cursorAnswers[req.GetPosition()], Database: req.GetDatabase()}}, nil
}

// subscribeRequests returns a copy of the requests received so far.
func (f *fakeServer) subscribeRequests() []*cdcstreamv1.SubscribeRequest { return f.Requests() }

// getCursorRequests returns a copy of the GetCursor requests received so far.
func (f *fakeServer) getCursorRequests() []*cdcstreamv1.GetCursorRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*cdcstreamv1.GetCursorRequest(nil), f.cursorRequests...)
}

// The kit's scripts and messages, under the names these tests use; cursor ids are the kit's
// "c-<tx>-<seq>" in database "neo4j".
var (
	sendThen     = testkit.SendThen
	sendThenHang = testkit.SendThenHang
	change       = testkit.Change
	checkpoint   = testkit.Checkpoint
	cursor       = testkit.Cursor
)

// statusErr builds a status error with a cdcstream ErrorInfo (when reason is set) and a
// RetryInfo (when delay is positive).
func statusErr(t *testing.T, code codes.Code, reason string, meta map[string]string, delay time.Duration) error {
	t.Helper()
	var details []protoadapt.MessageV1
	if reason != "" {
		details = append(details, &errdetails.ErrorInfo{Reason: reason, Domain: errorDomain, Metadata: meta})
	}
	if delay > 0 {
		details = append(details, testkit.RetryInfo(delay))
	}
	return testkit.StatusError(t, code, "scripted "+code.String(), details...)
}

// fakeClock is a clock on which nothing waits for real time. After (the backoff) records its
// duration and moves the fake time forward by it at once, as if the only goroutine that waits
// had slept. AfterFunc timers (the watchdog) fire only when the fake time passes their
// deadline: by Advance, or by an After. Safe for concurrent use.
type fakeClock struct {
	// mu guards now, waits and timers.
	mu     sync.Mutex
	now    time.Time
	waits  []time.Duration
	timers []*fakeTimer
	// armed receives a value each time a timer is started or reset (buffered; a value is
	// dropped when one is already waiting, and the fake never blocks on it).
	armed chan struct{}
}

// newFakeClock returns a fakeClock at an arbitrary fixed time.
func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), armed: make(chan struct{}, 1)}
}

// After records d, advances the fake time by d and returns a channel that holds the new time.
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	now := c.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// AfterFunc returns a timer that calls f in its own goroutine once the fake time passes d from
// now.
func (c *fakeClock) AfterFunc(d time.Duration, f func()) timer {
	t := &fakeTimer{clock: c, f: f}
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	t.Reset(d)
	return t
}

// Advance moves the fake time forward by d, fires the timers that fall due and returns the new
// time.
func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	var due []func()
	for _, t := range c.timers {
		if t.active && !t.deadline.After(now) {
			t.active = false
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		go f()
	}
	return now
}

// tripWatchdog advances c by d once, from another goroutine, as soon as a timer is armed and
// the server has taken the call (called delivers): the way a test trips the watchdog of the
// call Receive is blocked in. Waiting for the server matters: a call cancelled before the
// server took it may never reach the server, and the next call would take its script.
func tripWatchdog[T any](t *testing.T, c *fakeClock, d time.Duration, called <-chan T) {
	done := make(chan struct{}) // closed when the goroutine returns
	go func() {
		defer close(done)
		select {
		case <-c.armed:
		case <-t.Context().Done():
			return
		}
		select {
		case <-called:
		case <-t.Context().Done():
			return
		}
		c.Advance(d)
	}()
	t.Cleanup(func() { <-done })
}

// recorded returns the durations passed to After so far: the backoff waits.
func (c *fakeClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// fakeTimer is an AfterFunc timer of a fakeClock; its fields are guarded by the clock's mu.
type fakeTimer struct {
	clock    *fakeClock
	f        func()
	deadline time.Time
	active   bool
}

// Reset makes the timer fire d after the fake now.
func (t *fakeTimer) Reset(d time.Duration) bool {
	c := t.clock
	c.mu.Lock()
	was := t.active
	t.deadline, t.active = c.now.Add(d), true
	c.mu.Unlock()
	select {
	case c.armed <- struct{}{}:
	default:
	}
	return was
}

// Stop disarms the timer.
func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

// memStore is an in-memory CheckpointStore.
type memStore struct {
	// mu guards c and saves.
	mu    sync.Mutex
	c     *cdcstreamv1.Cursor
	saves int
}

// Load returns the stored cursor.
func (m *memStore) Load(context.Context) (*cdcstreamv1.Cursor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c, nil
}

// Save stores c.
func (m *memStore) Save(_ context.Context, c *cdcstreamv1.Cursor) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c, m.saves = c, m.saves+1
	return nil
}
