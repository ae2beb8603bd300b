package client

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// attempt is one call to the server, a Subscribe stream or the GetCursor that pins a position,
// with its own context and its watchdog: when nothing arrives for timeout, the watchdog cancels
// the context with errWatchdog, so a silent stream or a stuck server cannot hold Receive.
type attempt struct {
	ctx    context.Context // the call's context, a child of the subscription's
	cancel context.CancelCauseFunc
	// stream is the Subscribe stream; nil for a GetCursor call.
	stream   grpc.ServerStreamingClient[cdcstreamv1.SubscribeResponse]
	timeout  time.Duration
	watchdog timer // nil until armed
}

// newAttempt returns an attempt under parent whose watchdog allows timeout of silence.
func newAttempt(parent context.Context, timeout time.Duration) *attempt {
	ctx, cancel := context.WithCancelCause(parent)
	return &attempt{ctx: ctx, cancel: cancel, timeout: timeout}
}

// arm starts the watchdog on clk.
func (a *attempt) arm(clk clock) {
	a.watchdog = clk.AfterFunc(a.timeout, func() { a.cancel(errWatchdog) })
}

// alive restarts the watchdog after a message.
func (a *attempt) alive() { a.watchdog.Reset(a.timeout) }

// cause returns errWatchdog when the watchdog ended the call, else err.
func (a *attempt) cause(err error) error {
	if errors.Is(context.Cause(a.ctx), errWatchdog) {
		return errWatchdog
	}
	return err
}

// close stops the watchdog and releases the call.
func (a *attempt) close() {
	if a.watchdog != nil {
		a.watchdog.Stop()
	}
	a.cancel(nil)
}

// connect waits the backoff owed by the last failure, resolves a pinned position and opens a
// stream attempt. It opens none (and returns nil) when resolving a pin made a restart gap due:
// Receive reports it first.
func (s *Subscription) connect() error {
	opts := &s.client.opts
	if d, n, owed := s.retry.pending(); owed {
		opts.logger.Info("cdcstream client: reconnecting", "after", d, "attempt", n,
			"cursor", cursorString(s.resume.current()))
		if err := s.retry.wait(s.ctx, d); err != nil {
			return err
		}
	}
	if pos, ok := s.resume.pinned(); ok {
		c, err := s.getCursor(pos)
		if err != nil {
			return err
		}
		if s.resume.resolved(c) {
			return nil
		}
	}
	a := newAttempt(s.ctx, s.watchdogTimeout())
	stream, err := s.client.rpc.Subscribe(a.ctx, s.attemptRequest(), opts.callOptions...)
	if err != nil {
		a.close()
		return err
	}
	a.stream = stream
	a.arm(opts.clock)
	s.attempt = a
	s.tx.newAttempt()
	return nil
}

// getCursor resolves pos to a cursor with GetCursor, bounded by the watchdog.
func (s *Subscription) getCursor(pos cdcstreamv1.StartPosition) (*cdcstreamv1.Cursor, error) {
	opts := &s.client.opts
	a := newAttempt(s.ctx, s.watchdogTimeout())
	a.arm(opts.clock)
	defer a.close()
	resp, err := s.client.rpc.GetCursor(a.ctx, &cdcstreamv1.GetCursorRequest{
		Database: s.resume.database(s.req), Position: pos,
	}, opts.callOptions...)
	if err != nil {
		return nil, a.cause(err)
	}
	if resp.GetCursor().GetId() == "" {
		return nil, status.Error(codes.Internal, "client: GetCursor returned no cursor")
	}
	return resp.GetCursor(), nil
}

// closeAttempt releases the current stream attempt, if any, and drops a change partly
// received on it: its cursor was not delivered, so the next attempt sends it again whole.
func (s *Subscription) closeAttempt() {
	s.frags.reset()
	if s.attempt != nil {
		s.attempt.close()
		s.attempt = nil
	}
}

// attemptRequest is the caller's request resumed from the newest cursor.
func (s *Subscription) attemptRequest() *cdcstreamv1.SubscribeRequest {
	req := proto.Clone(s.req).(*cdcstreamv1.SubscribeRequest)
	if c := s.resume.current(); c != nil {
		req.Start = &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: c}
	}
	s.snapshotRequest(req)
	return req
}

// watchdogTimeout is how long an attempt may stay silent.
func (s *Subscription) watchdogTimeout() time.Duration {
	if d := s.client.opts.watchdog; d > 0 {
		return d
	}
	interval := DefaultCheckpointInterval
	if ci := s.req.GetCheckpointInterval(); ci != nil && ci.AsDuration() > 0 {
		interval = ci.AsDuration()
	}
	return watchdogIntervals * interval
}
