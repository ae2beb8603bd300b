package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// earliestTimeout bounds the Earliest call that fills CURSOR_EXPIRED's metadata.
const earliestTimeout = 5 * time.Second

// Subscribe streams changes (see the package documentation for the guarantees). It is the
// supervisor: it validates the request before touching Neo4j, resolves the start cursor, runs
// the poller goroutine and the sender, waits for the poller before returning, and turns the
// final error into a status.
func (s *Server) Subscribe(req *cdcstreamv1.SubscribeRequest, stream grpc.ServerStreamingServer[cdcstreamv1.SubscribeResponse]) error {
	return s.subscribe(stream.Context(), req, stream.SendMsg, canSendEncoded(stream))
}

// subscribe is Subscribe with the stream reduced to its context and SendMsg; encoded says
// send takes *encodedMsg (encode.go) as well as *cdcstreamv1.SubscribeResponse.
func (s *Server) subscribe(ctx context.Context, req *cdcstreamv1.SubscribeRequest, send func(any) error, encoded bool) error {
	p, err := validateSubscribe(req, &s.opts)
	if err != nil {
		return s.refuse(ctx, "Subscribe", "", err).Err()
	}
	release, err := s.admit(ctx, cdcstreamv1.ChangeStreamService_Subscribe_FullMethodName, p.database)
	if err != nil {
		return s.refuse(ctx, "Subscribe", p.database, err).Err()
	}
	defer release()
	if err := s.acquireSlot(); err != nil {
		return s.refuse(ctx, "Subscribe", p.database, err).Err()
	}
	defer s.releaseSlot()
	s.obs.StreamStarted(p.database)
	st := s.finish(ctx, "Subscribe", p.database, s.run(ctx, p, send, encoded))
	s.obs.StreamEnded(p.database, st.Code(), statusReason(st))
	return st.Err()
}

// run resolves the start, then runs the poller and the sender until one of them ends the
// subscription. No goroutine outlives it, except a writer goroutine still blocked in a Send
// that timed out: it returns as soon as the handler returned and grpc-go ended the stream.
func (s *Server) run(ctx context.Context, p subscribeParams, send func(any) error, encoded bool) error {
	if p.snapshot != snapshotNone { // snapshot.go: the state, then the changes after its cursor
		from, err := s.snapshot(ctx, p, send)
		if err != nil || p.snapshot == snapshotOnly {
			return err
		}
		p.start, p.cursor = startCursor, from
	}
	pl := &poller{src: s.src, clock: s.opts.clock, obs: s.obs, log: s.log, database: p.database,
		selectors: p.selectors, limit: s.opts.batchLimit, interval: s.opts.pollInterval,
		futureTimeout: s.opts.futureTimeout, unverified: p.start == startCursor, budget: s.budget,
		maxMessage: s.opts.maxMessageBytes}
	// What the stream evaluates in process, compiled once, before it holds any shared reader.
	pl.tx.on = p.markers
	if p.exclude != nil {
		ex, err := NewMatcher([]*cdcstreamv1.Selector{excludeSelector(p.exclude)})
		if err != nil {
			return err
		}
		pl.exclude = ex
	}
	pl.proj = newProjections(p.selectors)
	if s.tails != nil || pl.proj != nil {
		m, err := NewMatcher(p.selectors)
		if err != nil {
			return err
		}
		pl.match = m
	}
	cursor, atHead := "", false
	if s.tails != nil && p.start == startNow {
		// A stream at NOW starts at the newest position of a running tail: no Neo4j query.
		if t := s.tails.running(p.database); t != nil {
			if pos, id, ok := t.win.tip(); ok {
				pl.tail, pl.startPos, pl.startSynced, cursor, atHead = t, pos, true, id, true
			} else {
				s.tails.release(t)
			}
		}
	}
	if pl.tail == nil {
		var err error
		if cursor, atHead, err = s.resolveStart(ctx, p); err != nil {
			return err
		}
	}
	seed := ""
	if atHead {
		seed = cursor
	}
	if s.tails != nil {
		if pl.tail == nil {
			pl.tail = s.tails.acquire(p.database, seed)
		}
		defer s.tails.release(pl.tail)
	} else {
		pl.head = s.heads.acquire(p.database, seed)
		defer s.heads.release(pl.head)
	}

	// The stream's last change sent, for its retention headroom (headroom.go).
	hp := pl.head
	if pl.tail != nil {
		hp = pl.tail.head
	}
	pos := &streamPos{}
	hp.track(pos)
	defer hp.untrack(pos)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(errSubscriptionEnded)
	// results carries batches from the poller to the sender (see poller.out).
	results := make(chan pollResult, 1)
	pl.out = results
	// pollerDone is closed when the poller goroutine has returned.
	pollerDone := make(chan struct{})
	// The poller goroutine: the only caller of Source for this stream; it ends when ctx is
	// canceled (below, once the sender returned) or after handing over its final error.
	go func() {
		defer close(pollerDone)
		pl.run(ctx, cursor, atHead)
	}()
	// Every Send runs under the send timeout's watchdog (sendwatch.go).
	w := newWriter(send, s.opts.sendTimeout, s.shutdown)
	sd := &sender{send: func(m any) error { return w.write(ctx, m) }, encoded: encoded,
		clock: s.opts.clock, obs: s.obs, database: p.database,
		interval: p.checkpointInterval, shutdown: s.shutdown, maxAge: s.opts.maxStreamAge,
		maxMessage: s.opts.maxMessageBytes, pos: pos, head: hp}
	err := sd.run(ctx, results, cursor, p.start != startCursor)
	cancel(errSubscriptionEnded)
	<-pollerDone
	// A batch the sender never took goes back to the in-flight budget.
	select {
	case r := <-results:
		if r.release != nil {
			r.release()
		}
	default:
	}
	w.close()
	return err
}

// resolveStart returns the start cursor id, and whether it is the head just read. Shutdown
// aborts it.
func (s *Server) resolveStart(ctx context.Context, p subscribeParams) (cursor string, atHead bool, err error) {
	if p.start == startCursor {
		return p.cursor, false, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(s.shutdownCtx, func() { cancel(errShuttingDown) })
	defer stop()
	cursor, err = s.position(ctx, p.database, p.start == startEarliest)
	switch {
	case errors.Is(context.Cause(ctx), errShuttingDown):
		return "", false, errShuttingDown
	case err != nil:
		return "", false, err
	}
	return cursor, p.start == startNow, nil
}

// finish classifies the error that ended an RPC, logs it, and returns its status. When the
// client's context ended, that is the cause whatever the error says; an expired cursor gets
// the database's earliest cursor for the ErrorInfo metadata.
func (s *Server) finish(ctx context.Context, rpc, database string, err error) *status.Status {
	if ctx.Err() != nil && !errors.Is(err, errShuttingDown) {
		err = context.Cause(ctx)
	}
	if err == nil { // a stream that completed (SNAPSHOT_MODE_ONLY)
		return status.New(codes.OK, "")
	}
	dbErr := &databaseError{database: database, err: err}
	if errors.Is(err, ErrCursorExpired) && database != "" {
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), earliestTimeout)
		earliest, eerr := s.src.Earliest(ectx, database)
		cancel()
		if eerr == nil {
			dbErr.earliest = earliest
		} else {
			s.log.Warn("server: cannot read the earliest cursor for CURSOR_EXPIRED", "database", database, "error", eerr)
		}
	}
	st := Status(dbErr)
	reason := statusReason(st)
	level, msg := slog.LevelWarn, "server: rpc ended"
	switch reason {
	case cdcstreamv1.ErrorReason_STREAM_ROTATED:
		level, msg = slog.LevelInfo, "server: stream rotated"
	case cdcstreamv1.ErrorReason_NEO4J_AUTH, cdcstreamv1.ErrorReason_INTERNAL:
		level = slog.LevelError
	}
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded, codes.InvalidArgument, codes.OutOfRange,
		codes.NotFound, codes.FailedPrecondition:
		level = slog.LevelDebug
	}
	s.logs.Log(context.WithoutCancel(ctx), level, reason.String(), msg, "rpc", rpc, "database", database,
		"code", st.Code().String(), "reason", reason.String(), "error", err)
	return st
}

// refuse is finish for a call refused before any Neo4j work (validation, admission, slots):
// it also counts the refusal (Observer.Refused).
func (s *Server) refuse(ctx context.Context, rpc, database string, err error) *status.Status {
	st := s.finish(ctx, rpc, database, err)
	s.obs.Refused(rpc, statusReason(st))
	return st
}

// statusReason is the ErrorInfo reason of a status Status built (UNSPECIFIED for none).
func statusReason(st *status.Status) cdcstreamv1.ErrorReason {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == ErrorDomain {
			return cdcstreamv1.ErrorReason(cdcstreamv1.ErrorReason_value[info.GetReason()])
		}
	}
	return cdcstreamv1.ErrorReason_ERROR_REASON_UNSPECIFIED
}
