package client

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// verdict is what the subscription does after a call (a stream attempt or a GetCursor) ended
// with an error.
type verdict int

const (
	// resume: reconnect from the newest cursor after a backoff.
	resume verdict = iota
	// resumeInternal: like resume, but counts towards the consecutive INTERNAL budget.
	resumeInternal
	// planned: the server ended the stream on purpose (rotation, shutdown); resume at once.
	planned
	// expired: the cursor fell out of retention; the expiry policy decides.
	expired
	// stop: end the subscription with the error.
	stop
)

// classify sorts the error that ended a call, by status code and ErrorInfo reason only, never
// by message text. Caller cancellation is handled before this.
func classify(err error) verdict {
	if errors.Is(err, errWatchdog) {
		return resume
	}
	var tooLarge *ChangeTooLargeError
	if errors.As(err, &tooLarge) {
		// The same change would come again on every resumption.
		return stop
	}
	if errors.Is(err, io.EOF) {
		// The server ended the stream without a status; a Subscribe stream never ends OK
		// (but a SNAPSHOT_MODE_ONLY one after SnapshotEnd, which Subscription handles first).
		return resume
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// A context error that is not the caller's (checked before) is a transport hiccup.
		return resume
	}
	d, ok := ErrorDetails(err)
	if !ok {
		// Not a status: an error from below gRPC's status layer, such as a reset connection.
		return resume
	}
	switch d.Code {
	case codes.Unavailable:
		if d.Reason == cdcstreamv1.ErrorReason_STREAM_ROTATED || d.Reason == cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN {
			return planned
		}
		return resume
	case codes.OK, codes.ResourceExhausted, codes.Aborted, codes.DeadlineExceeded:
		return resume
	case codes.Internal, codes.Unknown:
		return resumeInternal
	case codes.OutOfRange:
		if d.Reason == cdcstreamv1.ErrorReason_CURSOR_EXPIRED {
			return expired
		}
		return stop
	default:
		// INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, PERMISSION_DENIED, UNAUTHENTICATED,
		// CANCELED (sent by a server or proxy), UNIMPLEMENTED and the rest.
		return stop
	}
}

// retryState decides whether and when a subscription resumes: the failure budgets and the
// backoff owed between calls. A message arriving resets it. It is used from Receive's
// goroutine only.
type retryState struct {
	opts  *options // backoff bounds, budgets and jitter
	clock clock    // waits the backoff

	failures  int   // consecutive failed calls without a message in between
	internals int   // consecutive INTERNAL/UNKNOWN errors without a message in between
	progress  bool  // a message arrived since the last error was counted
	lastErr   error // the last error counted, whose RetryInfo may set the wait
	owed      bool  // the backoff for lastErr has not been waited yet
}

// delivered records that a message arrived: every budget starts again, no backoff is owed.
func (r *retryState) delivered() {
	r.failures, r.internals, r.progress, r.owed = 0, 0, true, false
}

// outcome is what follows an error that retryState counted.
type outcome int

const (
	// resumeFree: resume at once; nothing is owed and no budget was spent.
	resumeFree outcome = iota
	// resumeAfterBackoff: the error counted as a failure; resume after the backoff it owes.
	resumeAfterBackoff
	// giveUp: a budget is exhausted; end the subscription with the error.
	giveUp
)

// failed counts err, of verdict v (resume, resumeInternal, planned or expired), which ended a
// call, and says what follows. A planned end after a message since the last error is free: the
// server ended a stream that had been delivering (a rotation or a shutdown). A planned end
// without such a message is an ordinary failure, so a server that keeps refusing cannot make
// the client spin. INTERNAL and UNKNOWN spend the INTERNAL budget as well.
func (r *retryState) failed(v verdict, err error) outcome {
	progress := r.progress
	r.progress = false
	if v == planned && progress {
		return resumeFree
	}
	if v == resumeInternal {
		r.internals++
		if r.internals > r.opts.maxInternalRetries {
			return giveUp
		}
	}
	r.failures++
	if r.opts.maxRetries > 0 && r.failures > r.opts.maxRetries {
		return giveUp
	}
	r.lastErr, r.owed = err, true
	return resumeAfterBackoff
}

// pending returns the backoff owed before the next call and the number of failures it
// follows, and whether one is owed.
func (r *retryState) pending() (d time.Duration, failures int, owed bool) {
	if !r.owed {
		return 0, r.failures, false
	}
	return r.opts.backoff(r.failures-1, r.lastErr), r.failures, true
}

// wait waits d on the clock, or until ctx ends, and marks the backoff as waited.
func (r *retryState) wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		select {
		case <-r.clock.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.owed = false
	return nil
}

// backoff returns the wait before reconnect number n (from 0) after lastErr: the server's
// RetryInfo delay when it sent one, else full jitter below min(max, initial*2^n).
func (o *options) backoff(n int, lastErr error) time.Duration {
	if d, _ := ErrorDetails(lastErr); d.HasRetryDelay {
		return d.RetryDelay
	}
	bound := o.initialBackoff
	for i := 0; i < n && bound < o.maxBackoff; i++ {
		bound *= 2
	}
	bound = min(bound, o.maxBackoff)
	return o.jitter(bound)
}

// fullJitter returns a uniformly random duration in [0, d].
func fullJitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}
