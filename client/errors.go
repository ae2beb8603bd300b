package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of every cdcstream error.
const ErrorDomain = "cdcstream.v1"

// ErrorInfo reasons the library acts on (the full list is in proto/cdcstream/v1/service.proto).
const (
	// ReasonCursorExpired: OUT_OF_RANGE, the cursor fell out of Neo4j's retained log.
	ReasonCursorExpired = "CURSOR_EXPIRED"
	// ReasonStreamRotated: UNAVAILABLE, the stream reached the server's maximum age; resume.
	ReasonStreamRotated = "STREAM_ROTATED"
	// ReasonServerShuttingDown: UNAVAILABLE, the server is shutting down; resume elsewhere.
	ReasonServerShuttingDown = "SERVER_SHUTTING_DOWN"
	// MetadataEarliestCursor is the ErrorInfo metadata key holding the id of the earliest
	// retained cursor when the reason is ReasonCursorExpired.
	MetadataEarliestCursor = "earliest_cursor"
)

// ErrNoCheckpointStore is returned by Subscription.Commit when the subscription was created
// without WithCheckpointStore.
var ErrNoCheckpointStore = errors.New("client: subscription has no checkpoint store")

// errWatchdog is the cancellation cause of a stream attempt on which nothing arrived in time.
var errWatchdog = errors.New("client: no message within the watchdog timeout")

// CursorExpiredError ends a Subscription whose cursor fell out of Neo4j's retained change log
// (status OUT_OF_RANGE, reason CURSOR_EXPIRED) under the ExpiredFail policy. It wraps the
// gRPC status: status.Code(err) is codes.OutOfRange.
type CursorExpiredError struct {
	// Expired is the cursor the subscription tried to resume from; nil if it had none.
	Expired *cdcstreamv1.Cursor
	// Earliest is the earliest retained cursor the server reported; nil if it reported none.
	Earliest *cdcstreamv1.Cursor
	// Status is the server's status.
	Status *status.Status
}

// Error implements error.
func (e *CursorExpiredError) Error() string {
	return fmt.Sprintf("client: cursor %s expired (earliest retained: %s): %s",
		cursorString(e.Expired), cursorString(e.Earliest), e.Status.Message())
}

// GRPCStatus lets status.FromError and status.Code see the server's status.
func (e *CursorExpiredError) GRPCStatus() *status.Status { return e.Status }

// Unwrap returns the status error.
func (e *CursorExpiredError) Unwrap() error { return e.Status.Err() }

// IsCursorExpired reports whether err is, or wraps, an OUT_OF_RANGE status with ErrorInfo
// reason CURSOR_EXPIRED.
func IsCursorExpired(err error) bool {
	var ce *CursorExpiredError
	if errors.As(err, &ce) {
		return true
	}
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.OutOfRange && Reason(err) == ReasonCursorExpired
}

// EarliestCursor returns the earliest retained cursor carried by a CURSOR_EXPIRED error, or nil
// when err carries none. The database is known only when err is a *CursorExpiredError.
func EarliestCursor(err error) *cdcstreamv1.Cursor {
	var ce *CursorExpiredError
	if errors.As(err, &ce) {
		return ce.Earliest
	}
	if id := errorInfo(err)[MetadataEarliestCursor]; id != "" {
		return &cdcstreamv1.Cursor{Id: id}
	}
	return nil
}

// Reason returns the google.rpc.ErrorInfo reason of err when its domain is ErrorDomain, or "".
func Reason(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == ErrorDomain {
			return info.GetReason()
		}
	}
	return ""
}

// errorInfo returns the metadata of err's cdcstream ErrorInfo, or nil.
func errorInfo(err error) map[string]string {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == ErrorDomain {
			return info.GetMetadata()
		}
	}
	return nil
}

// retryDelay returns the google.rpc.RetryInfo delay of err, if it has one.
func retryDelay(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			if delay := ri.GetRetryDelay().AsDuration(); delay >= 0 {
				return delay, true
			}
		}
	}
	return 0, false
}

// verdict is what the subscription does after a stream attempt ended with an error.
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

// classify sorts the error that ended a stream attempt, by status code and ErrorInfo reason
// only, never by message text. Caller cancellation and the watchdog are handled before this.
func classify(err error) verdict {
	if errors.Is(err, io.EOF) {
		// The server ended the stream without a status; a Subscribe stream never ends OK.
		return resume
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// A context error that is not the caller's (checked before) is a transport hiccup.
		return resume
	}
	st, ok := status.FromError(err)
	if !ok {
		// Not a status: an error from below gRPC's status layer, such as a reset connection.
		return resume
	}
	switch st.Code() {
	case codes.Unavailable:
		if r := Reason(err); r == ReasonStreamRotated || r == ReasonServerShuttingDown {
			return planned
		}
		return resume
	case codes.OK, codes.ResourceExhausted, codes.Aborted, codes.DeadlineExceeded:
		return resume
	case codes.Internal, codes.Unknown:
		return resumeInternal
	case codes.OutOfRange:
		if Reason(err) == ReasonCursorExpired {
			return expired
		}
		return stop
	default:
		// INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, PERMISSION_DENIED, UNAUTHENTICATED,
		// CANCELED (sent by a server or proxy), UNIMPLEMENTED and the rest.
		return stop
	}
}

// cursorString renders a cursor for messages and logs.
func cursorString(c *cdcstreamv1.Cursor) string {
	if c == nil {
		return "<none>"
	}
	if c.GetDatabase() == "" {
		return c.GetId()
	}
	return c.GetDatabase() + "/" + c.GetId()
}
