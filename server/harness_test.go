package server_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
)

const (
	db           = "neo4j"
	pollInterval = 500 * time.Millisecond
	testTimeout  = 20 * time.Second
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// harness is a Server over a FakeSource with a ManualClock.
type harness struct {
	t     *testing.T
	ctx   context.Context // ends with the test (or its timeout)
	src   *servertest.FakeSource
	clock *servertest.ManualClock
	srv   *server.Server
}

func newHarness(t *testing.T, opts ...server.Option) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, src: servertest.NewFakeSource(db, "orders"), clock: servertest.NewManualClock(epoch)}
	all := append([]server.Option{server.WithClock(h.clock), server.WithPollInterval(pollInterval)}, opts...)
	srv, err := server.New(h.src, all...)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	return h
}

// recorder collects what a subscription sends. When gate is set, each send first takes a
// token from it (a client that reads only when told to).
type recorder struct {
	// gate, when set, is closed by open (once) to let sends through.
	gate     chan struct{}
	openOnce sync.Once
	// mu protects msgs and changed.
	mu   sync.Mutex
	msgs []*cdcstreamv1.SubscribeResponse
	// changed is closed and replaced on every message.
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) send(m *cdcstreamv1.SubscribeResponse) error {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	close(r.changed)
	r.changed = make(chan struct{})
	return nil
}

// open lets every send through from now on.
func (r *recorder) open() {
	if r.gate != nil {
		r.openOnce.Do(func() { close(r.gate) })
	}
}

func (r *recorder) messages() []*cdcstreamv1.SubscribeResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*cdcstreamv1.SubscribeResponse(nil), r.msgs...)
}

// wait blocks until at least n messages arrived and returns them.
func (r *recorder) wait(t *testing.T, ctx context.Context, n int) []*cdcstreamv1.SubscribeResponse {
	t.Helper()
	for {
		r.mu.Lock()
		msgs, changed := append([]*cdcstreamv1.SubscribeResponse(nil), r.msgs...), r.changed
		r.mu.Unlock()
		if len(msgs) >= n {
			return msgs
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d messages, have %d: %v", n, len(msgs), msgs)
		case <-changed:
		}
	}
}

// sub is a running subscription.
type sub struct {
	rec    *recorder
	cancel context.CancelFunc
	// done receives Subscribe's result once.
	done chan error
}

// subscribe starts req on h's server with rec (nil: a new recorder); the test's cleanup
// cancels it and waits for it.
func (h *harness) subscribe(req *cdcstreamv1.SubscribeRequest, rec *recorder) *sub {
	h.t.Helper()
	if rec == nil {
		rec = newRecorder()
	}
	ctx, cancel := context.WithCancel(h.ctx)
	s := &sub{rec: rec, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- h.srv.SubscribeSend(ctx, req, rec.send) }()
	h.t.Cleanup(func() {
		cancel()
		rec.open()
		<-s.done
	})
	return s
}

// result waits for the subscription to end and returns its error.
func (s *sub) result(t *testing.T, ctx context.Context) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err // keep it for the cleanup
		return err
	case <-ctx.Done():
		t.Fatal("subscription did not end")
		return nil
	}
}

// advance moves the clock and waits until exactly timers timers are armed again.
func (h *harness) advance(d time.Duration, timers int) {
	h.t.Helper()
	h.clock.Advance(d)
	if err := h.clock.WaitTimers(h.ctx, timers); err != nil {
		h.t.Fatalf("after advancing %v: waiting for %d timers (have %d): %v", d, timers, h.clock.Timers(), err)
	}
}

func (h *harness) waitTimers(n int) {
	h.t.Helper()
	if err := h.clock.WaitTimers(h.ctx, n); err != nil {
		h.t.Fatalf("waiting for %d timers (have %d): %v", n, h.clock.Timers(), err)
	}
}

func (h *harness) waitCalls(m servertest.Method, n int) {
	h.t.Helper()
	if err := h.src.WaitCalls(h.ctx, m, n); err != nil {
		h.t.Fatal(err)
	}
}

// waitStats polls the server's stats until cond holds (with the test's deadline).
func (h *harness) waitStats(what string, cond func(server.Stats) bool) server.Stats {
	h.t.Helper()
	for {
		st := h.srv.Stats()
		if cond(st) {
			return st
		}
		select {
		case <-h.ctx.Done():
			h.t.Fatalf("waiting for %s: stats %+v", what, st)
		case <-time.After(time.Millisecond):
		}
	}
}

func now() *cdcstreamv1.SubscribeRequest { return &cdcstreamv1.SubscribeRequest{} }

func fromID(id string) *cdcstreamv1.SubscribeRequest {
	return &cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_FromCursor{
		FromCursor: &cdcstreamv1.Cursor{Id: id, Database: db}}}
}

// checkpointID returns the cursor id of a checkpoint message, failing on a change.
func checkpointID(t *testing.T, m *cdcstreamv1.SubscribeResponse) string {
	t.Helper()
	c := m.GetCheckpoint()
	if c == nil {
		t.Fatalf("message %v is not a checkpoint", m)
	}
	if c.GetCursor().GetDatabase() != db && c.GetCursor().GetDatabase() != "orders" {
		t.Fatalf("checkpoint cursor database %q", c.GetCursor().GetDatabase())
	}
	return c.GetCursor().GetId()
}

// changeID returns the cursor id of a change message, failing on a checkpoint.
func changeID(t *testing.T, m *cdcstreamv1.SubscribeResponse) string {
	t.Helper()
	c := m.GetChange()
	if c == nil {
		t.Fatalf("message %v is not a change", m)
	}
	if c.GetCursor().GetDatabase() == "" {
		t.Fatalf("change cursor without database: %v", c)
	}
	return c.GetCursor().GetId()
}

// statusInfo returns err's status code, ErrorInfo (checked to be in the cdcstream domain),
// RetryInfo and BadRequest.
func statusInfo(t *testing.T, err error) (codes.Code, *errdetails.ErrorInfo, *errdetails.RetryInfo, *errdetails.BadRequest) {
	t.Helper()
	d := testkit.StatusDetails(t, err)
	return d.Code, d.Info, d.Retry, d.BadRequest
}

// wantStatus checks err's code and reason.
func wantStatus(t *testing.T, err error, code codes.Code, reason string) *errdetails.ErrorInfo {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %v %s", code, reason)
	}
	c, info, _, _ := statusInfo(t, err)
	if c != code || info.GetReason() != reason {
		t.Fatalf("got %v %q (%v), want %v %q", c, info.GetReason(), err, code, reason)
	}
	return info
}

var errTest = errors.New("test failure")
