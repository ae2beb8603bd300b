package client

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// SubscribeOption configures one Subscription.
type SubscribeOption func(*subscribeOptions)

// subscribeOptions holds the per-subscription configuration.
type subscribeOptions struct {
	store CheckpointStore
}

// WithCheckpointStore makes the subscription start from the cursor stored in store when there
// is one (overriding the request's start) and enables Subscription.Commit, which saves the
// cursor of the last message returned by Msg. Default: no store.
func WithCheckpointStore(store CheckpointStore) SubscribeOption {
	return func(o *subscribeOptions) { o.store = store }
}

// Gap reports that a subscription restarted after its cursor expired, under the
// ExpiredRestartEarliest or ExpiredRestartNow policy: the changes strictly after From up to and
// including Resumed were not delivered (some may have been pruned, some skipped on purpose).
type Gap struct {
	// From is the cursor that expired; nil when the subscription had none yet.
	From *cdcstreamv1.Cursor
	// Resumed is where the subscription continues: strictly after this cursor.
	Resumed *cdcstreamv1.Cursor
	// Reason is the ErrorInfo reason that caused the restart (ReasonCursorExpired).
	Reason string
	// Err is the server's error.
	Err error
}

// Subscription is a change stream that resumes by itself. Use it as a pull iterator:
//
//	for sub.Receive() {
//		msg := sub.Msg()
//		...
//	}
//	if err := sub.Err(); err != nil { ... }
//
// Receive, Msg, Gap, Err and Commit must be called from one goroutine at a time; Cursor and
// Close are safe to call from any goroutine.
type Subscription struct {
	client *Client
	req    *cdcstreamv1.SubscribeRequest // private copy of the caller's request
	store  CheckpointStore
	// ctx is the caller's context, also cancelled by Close; it bounds every RPC and sleep.
	ctx    context.Context
	cancel context.CancelFunc
	// closed is set by Close (any goroutine) so Receive ends with a nil Err.
	closed atomic.Bool

	// mu guards cursor, which Cursor reads from any goroutine.
	mu     sync.Mutex
	cursor *cdcstreamv1.Cursor // newest cursor received (change, checkpoint or resolved start)

	// The current stream attempt; stream is nil between attempts.
	stream        grpc.ServerStreamingClient[cdcstreamv1.SubscribeResponse]
	attemptCtx    context.Context
	attemptCancel context.CancelCauseFunc
	watchdog      *time.Timer // cancels attemptCtx with errWatchdog after a silence

	started    bool
	pin        cdcstreamv1.StartPosition // nonzero: resolve this position with GetCursor first
	gapFrom    *cdcstreamv1.Cursor       // with pin: the expired cursor, for the Gap to report
	gapErr     error                     // with pin: the expiry error, for the Gap to report
	pendingGap *Gap                      // a restart to report before anything else

	// De-duplication: the (tx_id, seq) of the last delivered change.
	delivered bool
	lastTx    int64
	lastSeq   int64

	failures  int   // consecutive failed attempts without a message
	attemptOK bool  // the current attempt has delivered at least one message
	internals int   // consecutive INTERNAL/UNKNOWN errors without a message
	lastErr   error // the error that ended the last attempt
	backedOff bool  // the backoff for lastErr has been waited

	msg       *cdcstreamv1.SubscribeResponse
	gap       *Gap
	msgCursor *cdcstreamv1.Cursor // cursor of the last message returned by Msg
	err       error
	done      bool
}

// Subscribe returns a Subscription for req; nothing happens on the network until the first
// Receive. The request is copied. The caller must call Close (or cancel ctx) to release the
// stream. Start position: the cursor in the checkpoint store if one is stored, else
// req.from_cursor, else req.position; a NOW start is pinned to a cursor with GetCursor first,
// so a reconnect before the first message cannot skip changes.
func (c *Client) Subscribe(ctx context.Context, req *cdcstreamv1.SubscribeRequest, opts ...SubscribeOption) *Subscription {
	var so subscribeOptions
	for _, opt := range opts {
		opt(&so)
	}
	if req == nil {
		req = &cdcstreamv1.SubscribeRequest{}
	}
	sctx, cancel := context.WithCancel(ctx)
	req = proto.Clone(req).(*cdcstreamv1.SubscribeRequest)
	if req.CheckpointInterval == nil {
		// Pin the interval the watchdog assumes: a server's operator may configure another
		// default, and a watchdog shorter than the server's cadence would reconnect idle
		// streams for nothing.
		req.CheckpointInterval = durationpb.New(DefaultCheckpointInterval)
	}
	return &Subscription{
		client: c,
		req:    req,
		store:  so.store,
		ctx:    sctx,
		cancel: cancel,
	}
}

// Receive advances to the next message, reconnecting as needed, and reports whether there is
// one. It returns false when the subscription ended: Err then says why. A change already
// delivered by this Subscription is never delivered again.
func (s *Subscription) Receive() bool {
	if s.done {
		return false
	}
	s.msg, s.gap = nil, nil
	if !s.started {
		s.started = true
		if err := s.resolveStart(); err != nil {
			return s.end(err)
		}
	}
	for {
		if g := s.pendingGap; g != nil {
			s.pendingGap = nil
			s.gap = g
			s.msg = &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Checkpoint{
				Checkpoint: &cdcstreamv1.Checkpoint{Cursor: g.Resumed},
			}}
			s.msgCursor = g.Resumed
			return true
		}
		if s.stream == nil {
			if err := s.open(); err != nil {
				if !s.retry(err) {
					return false
				}
				continue
			}
			if s.stream == nil {
				continue // a restart resolved its cursor; report the gap first
			}
		}
		resp, err := s.stream.Recv()
		if err != nil {
			if errors.Is(context.Cause(s.attemptCtx), errWatchdog) {
				err = errWatchdog
			}
			s.closeAttempt()
			if !s.retry(err) {
				return false
			}
			continue
		}
		s.watchdog.Reset(s.watchdogTimeout())
		s.failures, s.internals, s.attemptOK = 0, 0, true
		switch m := resp.GetMessage().(type) {
		case *cdcstreamv1.SubscribeResponse_Change:
			ch := m.Change
			if s.delivered && (ch.GetTxId() < s.lastTx || ch.GetTxId() == s.lastTx && ch.GetSeq() <= s.lastSeq) {
				s.client.opts.logger.Debug("cdcstream client: skipped a change already delivered",
					"tx_id", ch.GetTxId(), "seq", ch.GetSeq())
				continue
			}
			s.delivered, s.lastTx, s.lastSeq = true, ch.GetTxId(), ch.GetSeq()
			s.setCursor(ch.GetCursor())
			s.msg, s.msgCursor = resp, ch.GetCursor()
			return true
		case *cdcstreamv1.SubscribeResponse_Checkpoint:
			s.setCursor(m.Checkpoint.GetCursor())
			s.msg, s.msgCursor = resp, m.Checkpoint.GetCursor()
			return true
		default:
			// A message kind this version does not know: ignored, as the contract asks.
			continue
		}
	}
}

// Msg returns the message the last successful Receive advanced to: a change, a checkpoint, or
// (right after a restart, when Gap is non-nil) a synthetic checkpoint holding the restart cursor.
func (s *Subscription) Msg() *cdcstreamv1.SubscribeResponse { return s.msg }

// Gap is non-nil exactly when the current message is the synthetic checkpoint that Receive
// yields right after an expired cursor was restarted under ExpiredRestartEarliest or
// ExpiredRestartNow. Changes were lost there; the library never hides that.
func (s *Subscription) Gap() *Gap { return s.gap }

// Err returns why the subscription ended, after Receive returned false: nil after Close, the
// context's error when the caller's context ended, a *CursorExpiredError under ExpiredFail, or
// the gRPC status error that stopped it (see the package doc for which codes stop).
func (s *Subscription) Err() error { return s.err }

// Cursor returns the newest cursor received (from a change, a checkpoint, or a resolved start),
// or nil. Subscribing from it continues strictly after it. It returns a copy. Safe for
// concurrent use.
func (s *Subscription) Cursor() *cdcstreamv1.Cursor {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cursor == nil {
		return nil
	}
	return proto.Clone(s.cursor).(*cdcstreamv1.Cursor)
}

// Commit saves the cursor of the last message returned by Msg to the checkpoint store. Call it
// after acting on the message: a restarted program then continues strictly after it. It returns
// ErrNoCheckpointStore without a store, and nil when no message was returned yet.
func (s *Subscription) Commit(ctx context.Context) error {
	if s.store == nil {
		return ErrNoCheckpointStore
	}
	if s.msgCursor.GetId() == "" {
		return nil // no message yet, or one without a cursor: nothing new to store
	}
	return s.store.Save(ctx, s.msgCursor)
}

// Close ends the subscription and releases its stream. Receive then returns false and Err nil
// (unless it had already ended with an error). Safe to call from any goroutine, more than once.
func (s *Subscription) Close() error {
	s.closed.Store(true)
	s.cancel()
	return nil
}

// resolveStart decides where the first attempt starts.
func (s *Subscription) resolveStart() error {
	if s.store != nil {
		c, err := s.store.Load(s.ctx)
		if err != nil {
			return err
		}
		if c != nil {
			s.setCursor(c)
			return nil
		}
	}
	if c := s.req.GetFromCursor(); c != nil {
		s.setCursor(c)
		return nil
	}
	if s.req.GetPosition() != cdcstreamv1.StartPosition_START_POSITION_EARLIEST {
		s.pin = cdcstreamv1.StartPosition_START_POSITION_NOW
	}
	return nil
}

// end finishes the subscription with err and returns false.
func (s *Subscription) end(err error) bool {
	s.closeAttempt()
	s.done, s.err, s.msg, s.gap = true, err, nil, nil
	if err != nil && !errors.Is(err, context.Canceled) {
		s.client.opts.logger.Warn("cdcstream client: subscription ended", "error", err,
			"code", status.Code(err).String(), "reason", Reason(err))
	}
	s.cancel()
	return false
}

// attemptRequest is the caller's request resumed from the newest cursor.
func (s *Subscription) attemptRequest() *cdcstreamv1.SubscribeRequest {
	req := proto.Clone(s.req).(*cdcstreamv1.SubscribeRequest)
	if c := s.Cursor(); c != nil {
		req.Start = &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: c}
	}
	return req
}

// database is the database the subscription follows, "" meaning the server's default.
func (s *Subscription) database() string {
	if db := s.req.GetDatabase(); db != "" {
		return db
	}
	if c := s.Cursor(); c != nil {
		return c.GetDatabase()
	}
	return s.req.GetFromCursor().GetDatabase()
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

// setCursor records c as the newest cursor; nil is ignored.
func (s *Subscription) setCursor(c *cdcstreamv1.Cursor) {
	if c == nil || c.GetId() == "" {
		return
	}
	s.mu.Lock()
	s.cursor = c
	s.mu.Unlock()
}
