package client

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// open waits the backoff owed by the last failure, resolves a pinned position and opens a
// stream attempt. It leaves s.stream nil (and returns nil) when a restart gap must be reported
// first.
func (s *Subscription) open() error {
	opts := &s.client.opts
	if s.failures > 0 && !s.backedOff {
		d := opts.backoff(s.failures-1, s.lastErr)
		opts.logger.Info("cdcstream client: reconnecting", "after", d, "attempt", s.failures,
			"cursor", cursorString(s.Cursor()))
		if err := opts.sleep(s.ctx, d); err != nil {
			return err
		}
		s.backedOff = true
	}
	if s.pin != cdcstreamv1.StartPosition_START_POSITION_UNSPECIFIED {
		// The watchdog bounds this call too, so a stuck server cannot hold Receive forever.
		gctx, cancel := context.WithTimeout(s.ctx, s.watchdogTimeout())
		resp, err := s.client.rpc.GetCursor(gctx, &cdcstreamv1.GetCursorRequest{
			Database: s.database(), Position: s.pin,
		}, opts.callOptions...)
		cancel()
		if err != nil {
			return err
		}
		if resp.GetCursor().GetId() == "" {
			return status.Error(codes.Internal, "client: GetCursor returned no cursor")
		}
		s.setCursor(resp.GetCursor())
		s.pin = cdcstreamv1.StartPosition_START_POSITION_UNSPECIFIED
		if s.gapErr != nil {
			s.pendingGap = &Gap{From: s.gapFrom, Resumed: resp.GetCursor(), Reason: ReasonCursorExpired, Err: s.gapErr}
			s.gapFrom, s.gapErr = nil, nil
			return nil
		}
	}
	actx, cancel := context.WithCancelCause(s.ctx)
	stream, err := s.client.rpc.Subscribe(actx, s.attemptRequest(), opts.callOptions...)
	if err != nil {
		cancel(nil)
		return err
	}
	s.stream, s.attemptCtx, s.attemptCancel, s.attemptOK = stream, actx, cancel, false
	s.watchdog = time.AfterFunc(s.watchdogTimeout(), func() { cancel(errWatchdog) })
	return nil
}

// closeAttempt releases the current stream attempt.
func (s *Subscription) closeAttempt() {
	if s.stream == nil {
		return
	}
	s.watchdog.Stop()
	s.attemptCancel(nil)
	s.stream, s.attemptCtx, s.attemptCancel, s.watchdog = nil, nil, nil, nil
}

// retry decides what follows the error that ended an attempt. It returns false when the
// subscription ended (Err set).
func (s *Subscription) retry(err error) bool {
	opts := &s.client.opts
	if s.closed.Load() {
		return s.end(nil)
	}
	if cerr := s.ctx.Err(); cerr != nil {
		return s.end(cerr)
	}
	v := resume
	if !errors.Is(err, errWatchdog) {
		v = classify(err)
	}
	switch v {
	case stop:
		return s.end(err)
	case expired:
		if !s.restartExpired(err) {
			return false
		}
	case planned:
		// The server ended a stream that had been delivering (a rotation or a shutdown): not
		// a failure, so no backoff and no retry budget spent. A planned end of an attempt
		// that delivered nothing counts as a failure, so a server that keeps refusing cannot
		// make the client spin.
		if s.attemptOK {
			s.lastErr, s.backedOff = err, false
			opts.logger.Info("cdcstream client: server ended the stream as planned, resuming",
				"reason", Reason(err), "cursor", cursorString(s.Cursor()))
			return true
		}
	case resumeInternal:
		s.internals++
		if s.internals > opts.maxInternalRetries {
			return s.end(err)
		}
	}
	s.failures++
	if opts.maxRetries > 0 && s.failures > opts.maxRetries {
		return s.end(err)
	}
	s.lastErr, s.backedOff = err, false
	opts.logger.Warn("cdcstream client: stream interrupted, will resume", "error", err,
		"code", status.Code(err).String(), "reason", Reason(err), "cursor", cursorString(s.Cursor()))
	return true
}

// restartExpired applies the expiry policy to err. It returns false when the subscription ended.
func (s *Subscription) restartExpired(err error) bool {
	opts := &s.client.opts
	from := s.Cursor()
	var earliest *cdcstreamv1.Cursor
	if id := errorInfo(err)[MetadataEarliestCursor]; id != "" {
		earliest = &cdcstreamv1.Cursor{Id: id, Database: s.database()}
	}
	st, _ := status.FromError(err)
	switch opts.expiredPolicy {
	case ExpiredRestartEarliest:
		if earliest != nil {
			s.setCursor(earliest)
			s.pendingGap = &Gap{From: from, Resumed: earliest, Reason: ReasonCursorExpired, Err: err}
		} else {
			s.pin, s.gapFrom, s.gapErr = cdcstreamv1.StartPosition_START_POSITION_EARLIEST, from, err
		}
	case ExpiredRestartNow:
		s.pin, s.gapFrom, s.gapErr = cdcstreamv1.StartPosition_START_POSITION_NOW, from, err
	default:
		return s.end(&CursorExpiredError{Expired: from, Earliest: earliest, Status: st})
	}
	// Changes after the restart may legitimately repeat (tx_id, seq) values below the old
	// high-water mark (a recreated database); de-duplication restarts with the gap.
	s.delivered = false
	opts.logger.Warn("cdcstream client: cursor expired, restarting with a gap",
		"policy", opts.expiredPolicy.String(), "expired", cursorString(from), "earliest", cursorString(earliest))
	return true
}
