package client

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"google.golang.org/grpc/codes"
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
	// ctx is the caller's context, also cancelled by Close; it bounds every call and wait.
	ctx    context.Context
	cancel context.CancelFunc
	// closed is set by Close (any goroutine) so Receive ends with a nil Err.
	closed atomic.Bool

	resume  resumePoint   // where the next attempt starts; Cursor reads it from any goroutine
	retry   retryState    // whether and when to resume after an error
	dedup   watermark     // the last change delivered
	snap    snapshotState // the snapshot's progress, when the request asks for one (snapshot.go)
	attempt *attempt      // the open stream; nil between attempts
	frags   reassembly    // the fragments of a change in progress on the open stream
	tx      txState       // transaction boundaries, when the request asks for markers (txmarker.go)
	// pending is a change or checkpoint received and held back while the transaction marker it
	// proved due is yielded first; the next Receive delivers it before reading the stream.
	pending *cdcstreamv1.SubscribeResponse

	started   bool                           // the start position was resolved
	done      bool                           // the subscription ended; err says why
	msg       *cdcstreamv1.SubscribeResponse // the message Msg returns
	gap       *Gap                           // the gap Gap returns, with msg
	msgCursor *cdcstreamv1.Cursor            // cursor of the last message returned by Msg
	err       error
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
		retry:  retryState{opts: &c.opts, clock: c.opts.clock},
		snap:   snapshotState{mode: req.GetSnapshot()},
		tx:     txState{on: req.GetTransactionMarkers()},
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
	if p := s.pending; p != nil {
		s.pending = nil
		s.deliver(p)
		return true
	}
	if !s.started {
		s.started = true
		start := func() error { return s.resume.start(s.ctx, s.store, s.req) }
		if s.snap.wanted() {
			start = func() error { return s.startSnapshot(s.ctx) }
		}
		if err := start(); err != nil {
			return s.end(err)
		}
	}
	for {
		if g := s.resume.dueGap(); g != nil {
			s.gap = g
			s.msg = &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Checkpoint{
				Checkpoint: &cdcstreamv1.Checkpoint{Cursor: g.Resumed},
			}}
			s.msgCursor = g.Resumed
			return true
		}
		if s.attempt == nil {
			if err := s.connect(); err != nil && !s.afterError(err) {
				return false
			}
			continue // a stream is open, or a restart gap is due
		}
		resp, err := s.attempt.stream.Recv()
		if err != nil {
			err = s.attempt.cause(err)
			s.closeAttempt()
			if !s.afterError(err) {
				return false
			}
			continue
		}
		s.attempt.alive()
		if f := resp.GetChangeFragment(); f != nil {
			ch, err := s.frags.add(f, s.client.opts.maxChangeBytes)
			if err != nil {
				s.closeAttempt()
				if !s.afterError(err) {
					return false
				}
				continue
			}
			if ch == nil {
				continue // more fragments of the change are due
			}
			resp = &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Change{Change: ch}}
		}
		// Only a whole message counts as delivered (resets the retry budgets): a server that
		// sends a first fragment and then garbage on every attempt must not retry forever.
		s.retry.delivered()
		switch m := resp.GetMessage().(type) {
		case *cdcstreamv1.SubscribeResponse_Change:
			ch := m.Change
			if !s.dedup.admit(ch) {
				s.client.opts.logger.Debug("cdcstream client: skipped a change already delivered",
					"tx_id", ch.GetTxId(), "seq", ch.GetSeq())
				continue
			}
			s.deliverAfterMarker(resp)
			return true
		case *cdcstreamv1.SubscribeResponse_Checkpoint:
			s.deliverAfterMarker(resp)
			return true
		case *cdcstreamv1.SubscribeResponse_TransactionEnd:
			marker := s.tx.fromServer(m.TransactionEnd)
			if marker == nil {
				if s.tx.on {
					s.client.opts.logger.Debug("cdcstream client: dropped a transaction marker already given or of no delivered change",
						"tx_id", m.TransactionEnd.GetTxId())
				}
				continue
			}
			s.msg, s.msgCursor = marker, marker.GetTransactionEnd().GetCursor()
			return true
		case *cdcstreamv1.SubscribeResponse_SnapshotRecord, *cdcstreamv1.SubscribeResponse_SnapshotProgress,
			*cdcstreamv1.SubscribeResponse_SnapshotEnd:
			s.snapshotMessage(resp)
			return true
		default:
			// A message kind this version does not know: ignored, as the contract asks.
			continue
		}
	}
}

// deliverAfterMarker delivers resp, a change or a checkpoint, or, when it proves the open
// transaction ended, yields that transaction's marker and holds resp back for the next Receive.
func (s *Subscription) deliverAfterMarker(resp *cdcstreamv1.SubscribeResponse) {
	if marker := s.tx.before(resp); marker != nil {
		s.pending = resp
		s.msg, s.msgCursor = marker, marker.GetTransactionEnd().GetCursor()
		return
	}
	s.deliver(resp)
}

// deliver makes resp, a change or a checkpoint, the current message and advances the resume
// point to its cursor.
func (s *Subscription) deliver(resp *cdcstreamv1.SubscribeResponse) {
	var c *cdcstreamv1.Cursor
	if ch := resp.GetChange(); ch != nil {
		s.tx.delivered(ch)
		c = ch.GetCursor()
	} else {
		c = resp.GetCheckpoint().GetCursor()
	}
	s.resume.advance(c)
	s.msg, s.msgCursor = resp, c
}

// Msg returns the message the last successful Receive advanced to: a change, a checkpoint, a
// snapshot message, a transaction end marker (when the request asked for them; see the package
// doc), or (right after a restart, when Gap is non-nil) a synthetic checkpoint holding the
// restart cursor.
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
func (s *Subscription) Cursor() *cdcstreamv1.Cursor { return s.resume.current() }

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

// afterError decides what follows the error that ended a call. It returns false when the
// subscription ended (Err set).
func (s *Subscription) afterError(err error) bool {
	logger := s.client.opts.logger
	if s.closed.Load() {
		return s.end(nil)
	}
	if cerr := s.ctx.Err(); cerr != nil {
		return s.end(cerr)
	}
	v := classify(err)
	if s.snap.snapshotOnlyDone() && (errors.Is(err, io.EOF) || status.Code(err) == codes.OK) {
		return s.end(nil) // SNAPSHOT_MODE_ONLY: the server ended the stream after SnapshotEnd
	}
	switch v {
	case stop:
		return s.end(err)
	case expired:
		if s.snap.inProgress() {
			// The snapshot's start cursor expired while it was resumed: take it again.
			s.snap.token = ""
			break
		}
		if !s.restartExpired(err) {
			return false
		}
	}
	switch s.retry.failed(v, err) {
	case giveUp:
		return s.end(err)
	case resumeFree:
		logger.Info("cdcstream client: server ended the stream as planned, resuming",
			"reason", Reason(err), "cursor", cursorString(s.resume.current()))
	default:
		logger.Warn("cdcstream client: stream interrupted, will resume", "error", err,
			"code", status.Code(err).String(), "reason", Reason(err), "cursor", cursorString(s.resume.current()))
	}
	return true
}

// restartExpired applies the expiry policy to err. It returns false when the subscription ended.
func (s *Subscription) restartExpired(err error) bool {
	opts := &s.client.opts
	earliest := earliestIn(err, s.resume.database(s.req))
	var from *cdcstreamv1.Cursor
	switch opts.expiredPolicy {
	case ExpiredRestartEarliest:
		from = s.resume.restart(err, earliest, cdcstreamv1.StartPosition_START_POSITION_EARLIEST)
	case ExpiredRestartNow:
		from = s.resume.restart(err, nil, cdcstreamv1.StartPosition_START_POSITION_NOW)
	default:
		st, _ := status.FromError(err)
		return s.end(&CursorExpiredError{Expired: s.resume.current(), Earliest: earliest, Status: st})
	}
	// Changes after the restart may legitimately repeat (tx_id, seq) values below the old
	// high-water mark (a recreated database); de-duplication restarts with the gap.
	s.dedup.reset()
	s.tx.reset()
	opts.logger.Warn("cdcstream client: cursor expired, restarting with a gap",
		"policy", opts.expiredPolicy.String(), "expired", cursorString(from), "earliest", cursorString(earliest))
	return true
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
