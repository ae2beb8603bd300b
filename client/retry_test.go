package client

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want verdict
	}{
		{"watchdog", errWatchdog, resume},
		{"end without status", io.EOF, resume},
		{"transport", errors.New("connection reset by peer"), resume},
		{"context hiccup", context.DeadlineExceeded, resume},
		{"unavailable", status.Error(codes.Unavailable, "x"), resume},
		{"rotated", statusErr(t, codes.Unavailable, cdcstreamv1.ErrorReason_STREAM_ROTATED.String(), nil, 0), planned},
		{"shutting down", statusErr(t, codes.Unavailable, cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN.String(), nil, 0), planned},
		{"rotation reason on another code", statusErr(t, codes.Internal, cdcstreamv1.ErrorReason_STREAM_ROTATED.String(), nil, 0), resumeInternal},
		{"too many", statusErr(t, codes.ResourceExhausted, cdcstreamv1.ErrorReason_TOO_MANY_SUBSCRIPTIONS.String(), nil, time.Second), resume},
		{"aborted", status.Error(codes.Aborted, "x"), resume},
		{"internal", status.Error(codes.Internal, "x"), resumeInternal},
		{"unknown", status.Error(codes.Unknown, "x"), resumeInternal},
		{"expired", statusErr(t, codes.OutOfRange, cdcstreamv1.ErrorReason_CURSOR_EXPIRED.String(), nil, 0), expired},
		{"out of range without reason", status.Error(codes.OutOfRange, "x"), stop},
		{"misleading message", status.Error(codes.InvalidArgument, "unavailable, retry"), stop},
		{"canceled by a proxy", status.Error(codes.Canceled, "x"), stop},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := classify(c.err); got != c.want {
				t.Fatalf("classify(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

// retryEvent is one step fed to a retryState: a message (err nil) or an error ending a call.
type retryEvent struct {
	err  error
	want outcome // for an error: what follows it
}

func TestRetryState(t *testing.T) {
	ms := time.Millisecond
	msg := retryEvent{}
	unavailable := retryEvent{status.Error(codes.Unavailable, "gone"), resumeAfterBackoff}
	internal := retryEvent{status.Error(codes.Internal, "boom"), resumeAfterBackoff}
	// A rotation as the server sends it: RetryInfo 0s.
	rotatedErr := withDetails(t, codes.Unavailable, info(cdcstreamv1.ErrorReason_STREAM_ROTATED.String(), nil), retryAfter(0))
	var doubling []time.Duration // 100ms, 200ms, ... capped at DefaultMaxBackoff, 20 of them
	for d := DefaultInitialBackoff; len(doubling) < 20; d = min(2*d, DefaultMaxBackoff) {
		doubling = append(doubling, d)
	}
	for _, c := range []struct {
		name   string
		opts   []Option
		events []retryEvent
		waits  []time.Duration // what the backoff waited on the clock, in order
	}{
		{"doubles up to the maximum", []Option{WithBackoff(10*ms, 40*ms)},
			[]retryEvent{unavailable, unavailable, unavailable, unavailable},
			[]time.Duration{10 * ms, 20 * ms, 40 * ms, 40 * ms}},
		{"a message resets the backoff", []Option{WithBackoff(10*ms, 40*ms)},
			[]retryEvent{unavailable, unavailable, msg, unavailable},
			[]time.Duration{10 * ms, 20 * ms, 10 * ms}},
		{"retry info replaces the jitter", nil,
			[]retryEvent{
				{statusErr(t, codes.Unavailable, cdcstreamv1.ErrorReason_NEO4J_UNAVAILABLE.String(), nil, 7*time.Second), resumeAfterBackoff},
				unavailable,
			},
			[]time.Duration{7 * time.Second, 200 * ms}},
		{"a zero retry info resumes without waiting", nil,
			[]retryEvent{{rotatedErr, resumeAfterBackoff}}, nil},
		{"a planned end after a message is free", []Option{WithMaxRetries(1)},
			[]retryEvent{msg, {rotatedErr, resumeFree}, msg, {rotatedErr, resumeFree}, msg, unavailable},
			[]time.Duration{100 * ms}},
		{"a planned end without a message is a failure", []Option{WithMaxRetries(1)},
			[]retryEvent{msg, {rotatedErr, resumeFree}, {rotatedErr, resumeAfterBackoff}, {rotatedErr, giveUp}},
			nil},
		{"max retries", []Option{WithMaxRetries(2)},
			[]retryEvent{unavailable, unavailable, {unavailable.err, giveUp}},
			[]time.Duration{100 * ms, 200 * ms}},
		{"unbounded by default", nil,
			slices.Repeat([]retryEvent{unavailable}, 20), doubling},
		{"internal budget", []Option{WithMaxInternalRetries(2)},
			[]retryEvent{internal, internal, {internal.err, giveUp}},
			[]time.Duration{100 * ms, 200 * ms}},
		{"internal budget resets with a message", []Option{WithMaxInternalRetries(1)},
			[]retryEvent{internal, msg, internal, unavailable, {internal.err, giveUp}},
			[]time.Duration{100 * ms, 100 * ms, 200 * ms}},
		{"no internal retries", []Option{WithMaxInternalRetries(0)},
			[]retryEvent{{internal.err, giveUp}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := newFakeClock()
			cl := newTestClient(nil, clk, c.opts...)
			r := retryState{opts: &cl.opts, clock: clk}
			for i, e := range c.events {
				if e.err == nil {
					r.delivered()
					if _, _, owed := r.pending(); owed {
						t.Fatalf("event %d: a backoff is owed after a message", i)
					}
					continue
				}
				got := r.failed(classify(e.err), e.err)
				if got != e.want {
					t.Fatalf("event %d (%v): outcome %v, want %v", i, e.err, got, e.want)
				}
				if got == giveUp {
					break
				}
				d, _, owed := r.pending()
				if owed != (got == resumeAfterBackoff) {
					t.Fatalf("event %d: backoff owed = %v after outcome %v", i, owed, got)
				}
				if !owed {
					continue
				}
				if err := r.wait(t.Context(), d); err != nil {
					t.Fatal(err)
				}
				if _, _, owed := r.pending(); owed {
					t.Fatalf("event %d: the backoff is still owed after waiting it", i)
				}
			}
			if got := clk.recorded(); !slices.Equal(got, c.waits) {
				t.Fatalf("waits %v, want %v", got, c.waits)
			}
		})
	}
}

func TestRetryWaitEndsWithTheContext(t *testing.T) {
	clk := newFakeClock()
	cl := newTestClient(nil, clk)
	r := retryState{opts: &cl.opts, clock: clk}
	r.failed(resume, status.Error(codes.Unavailable, "gone"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	d, _, _ := r.pending()
	if err := r.wait(ctx, d); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait after cancel = %v", err)
	}
	if _, _, owed := r.pending(); !owed {
		t.Fatal("a backoff cut short by the context is no longer owed")
	}
	if w := clk.recorded(); len(w) != 0 {
		t.Fatalf("waited %v on a cancelled context", w)
	}
}
