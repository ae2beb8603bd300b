package client

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// ErrNoCheckpointStore is returned by Subscription.Commit when the subscription was created
// without WithCheckpointStore.
var ErrNoCheckpointStore = errors.New("client: subscription has no checkpoint store")

// errWatchdog is the cancellation cause of a call (a stream attempt, or the GetCursor that pins
// a position) on which nothing arrived in time.
var errWatchdog = errors.New("client: no message within the watchdog timeout")

// CursorExpiredError ends a Subscription whose cursor fell out of Neo4j's retained change log
// (status OUT_OF_RANGE, reason [cdcstreamv1.ErrorReason_CURSOR_EXPIRED]) under the ExpiredFail
// policy. It wraps the gRPC status: status.Code(err) is codes.OutOfRange.
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

// IsCursorExpired reports whether err is, or wraps, an OUT_OF_RANGE status with reason
// [cdcstreamv1.ErrorReason_CURSOR_EXPIRED].
func IsCursorExpired(err error) bool {
	var ce *CursorExpiredError
	if errors.As(err, &ce) {
		return true
	}
	return isExpiry(err)
}

// isExpiry reports whether err is an OUT_OF_RANGE status with reason CURSOR_EXPIRED.
func isExpiry(err error) bool {
	d, _ := ErrorDetails(err)
	return d.Code == codes.OutOfRange && d.Reason == cdcstreamv1.ErrorReason_CURSOR_EXPIRED
}

// EarliestCursor returns the earliest retained cursor carried by a CURSOR_EXPIRED error, or nil
// when err carries none. The database is known only when err is a *CursorExpiredError.
func EarliestCursor(err error) *cdcstreamv1.Cursor {
	var ce *CursorExpiredError
	if errors.As(err, &ce) {
		return ce.Earliest
	}
	return earliestIn(err, "")
}

// earliestIn returns the earliest retained cursor named by err's ErrorInfo metadata, in
// database, or nil.
func earliestIn(err error, database string) *cdcstreamv1.Cursor {
	d, _ := ErrorDetails(err)
	if id := d.Metadata[MetadataEarliestCursor]; id != "" {
		return &cdcstreamv1.Cursor{Id: id, Database: database}
	}
	return nil
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
