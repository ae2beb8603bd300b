package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of every error this service returns: the
// proto package of cdcstreamv1.ErrorReason ("cdcstream.v1").
var ErrorDomain = string(cdcstreamv1.File_cdcstream_v1_errors_proto.Package())

// ErrorInfo metadata keys (documented on cdcstreamv1.ErrorReason).
const (
	// MetadataDatabase names the database the failed call was about.
	MetadataDatabase = "database"
	// MetadataEarliestCursor holds the id of the database's earliest cursor (CURSOR_EXPIRED).
	MetadataEarliestCursor = "earliest_cursor"
)

// Errors a Source wraps (fmt.Errorf("%w: ...")) so that the server classifies them without
// reading messages. Any other Source error is INTERNAL.
var (
	// ErrInvalidCursor: the change id is malformed or belongs to another database.
	ErrInvalidCursor = errors.New("invalid change identifier")
	// ErrCursorExpired: the change id points before the oldest retained change (pruned, or
	// older than CDC enablement).
	ErrCursorExpired = errors.New("change identifier no longer retained")
	// ErrFutureCursor: the change id is ahead of the member that answered (follower lag);
	// retrying is expected to succeed.
	ErrFutureCursor = errors.New("change identifier is in the future of this member")
	// ErrInvalidSelector: Neo4j rejected a selector.
	ErrInvalidSelector = errors.New("invalid selector")
	// ErrCDCDisabled: CDC (txLogEnrichment) is OFF for the database.
	ErrCDCDisabled = errors.New("change data capture is disabled")
	// ErrDatabaseNotFound: the database does not exist.
	ErrDatabaseNotFound = errors.New("database not found")
	// ErrNeo4jAuth: Neo4j rejected the server's own credentials or privileges.
	ErrNeo4jAuth = errors.New("neo4j rejected the server's credentials")
	// ErrNeo4jUnavailable: Neo4j is unreachable or failed transiently after driver retries.
	ErrNeo4jUnavailable = errors.New("neo4j unavailable")
)

// Errors the edges wrap to refuse a call: an admission function (WithAdmission) returns
// ErrPermissionDenied or ErrTooManySubscriptions, an authenticating interceptor passes
// ErrUnauthenticated to Status, a transport guard ErrMalformedRequest. Their text becomes the status message, so it must name what
// was refused (a token's name, a database) and never hold a secret.
var (
	// ErrUnauthenticated: the call carries no credentials, or unknown ones.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrMalformedRequest: the request is not a well-formed message (undecodable protobuf, no
	// request or two of them), as a transport guard sees it before the service can.
	ErrMalformedRequest = errors.New("malformed request")
	// ErrPermissionDenied: the caller may not read the database.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrTooManySubscriptions: a subscription limit (the server's, or a principal's) is
	// reached.
	ErrTooManySubscriptions = errors.New("too many subscriptions")
)

var (
	// errShuttingDown ends streams and refuses new ones once Shutdown was called.
	errShuttingDown = errors.New("server: shutting down")
	// errStreamRotated ends a stream that reached its maximum age (WithMaxStreamAge).
	errStreamRotated = errors.New("server: stream reached its maximum age")
	// errServerFull is the server's own subscription limit (WithMaxSubscriptions).
	errServerFull = fmt.Errorf("%w on this server", ErrTooManySubscriptions)
	// errSendTimeout ends a stream whose Send stayed blocked for the send timeout
	// (WithSendTimeout): the client does not read.
	errSendTimeout = errors.New("server: client did not read for the send timeout")
	// errCursorInFuture ends a stream whose polls were answered ErrFutureCursor for the
	// future-cursor timeout (WithFutureCursorTimeout): not replica lag but a forged cursor.
	errCursorInFuture = errors.New("server: cursor stayed ahead of Neo4j for the future-cursor timeout")
	// errTooManySnapshots refuses a snapshot beyond the server's limit of concurrent snapshots
	// (WithMaxSnapshots).
	errTooManySnapshots = errors.New("server: too many subscriptions are taking a snapshot")
	// errSnapshotContended ends a snapshot whose chunk kept an entity that changed in every
	// re-read window (snapshot.go).
	errSnapshotContended = errors.New("server: a snapshot entity changed during every re-read")
)

// Retry delays advised through google.rpc.RetryInfo.
const (
	retryDelayNeo4jUnavailable     = time.Second
	retryDelayTooManySubscriptions = 5 * time.Second
	retryDelayTooManySnapshots     = 5 * time.Second
	retryDelaySnapshotContended    = time.Second
)

// class is one row of the error table: the status an error of one kind becomes.
type class struct {
	// err is the sentinel the error wraps.
	err    error
	code   codes.Code
	reason cdcstreamv1.ErrorReason
	// msg is the status message; empty means the error's own text (the refusals, whose text
	// is written by this service's edges to name what was refused).
	msg string
	// retry, when set, is advised through RetryInfo (0 is "at once" for retryAtOnce).
	retry       time.Duration
	retryAtOnce bool
	// field and desc are the BadRequest violation of a Neo4j rejection.
	field, desc string
}

// classes is the error table (docs/semantics.md), checked in order.
var classes = []class{
	{err: errShuttingDown, code: codes.Unavailable, reason: cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN,
		msg: "server is shutting down; resume from the last cursor"},
	{err: errStreamRotated, code: codes.Unavailable, reason: cdcstreamv1.ErrorReason_STREAM_ROTATED,
		msg: "stream reached its maximum age; resume from the last cursor", retryAtOnce: true},
	{err: errSendTimeout, code: codes.Unavailable, reason: cdcstreamv1.ErrorReason_SEND_TIMEOUT,
		msg: "the client did not read for the server's send timeout; resume from the last cursor received"},
	{err: errCursorInFuture, code: codes.OutOfRange, reason: cdcstreamv1.ErrorReason_CURSOR_IN_FUTURE,
		msg:   "cursor in the future: Neo4j never reached the change identifier; it was not issued by this database",
		field: "from_cursor.id", desc: "ahead of the database's transaction log for the future-cursor timeout"},
	{err: errTooManySnapshots, code: codes.ResourceExhausted, reason: cdcstreamv1.ErrorReason_TOO_MANY_SNAPSHOTS,
		msg: "too many subscriptions are taking a snapshot on this server; retry with backoff", retry: retryDelayTooManySnapshots},
	{err: errSnapshotContended, code: codes.Aborted, reason: cdcstreamv1.ErrorReason_SNAPSHOT_CONTENDED,
		msg: "an entity kept changing while the snapshot read it; resume with the newest snapshot_token", retry: retryDelaySnapshotContended},
	{err: ErrUnauthenticated, code: codes.Unauthenticated, reason: cdcstreamv1.ErrorReason_UNAUTHENTICATED},
	{err: ErrMalformedRequest, code: codes.InvalidArgument, reason: cdcstreamv1.ErrorReason_INVALID_REQUEST},
	{err: ErrPermissionDenied, code: codes.PermissionDenied, reason: cdcstreamv1.ErrorReason_PERMISSION_DENIED},
	{err: ErrTooManySubscriptions, code: codes.ResourceExhausted, reason: cdcstreamv1.ErrorReason_TOO_MANY_SUBSCRIPTIONS,
		retry: retryDelayTooManySubscriptions},
	{err: ErrInvalidCursor, code: codes.InvalidArgument, reason: cdcstreamv1.ErrorReason_INVALID_CURSOR,
		msg:   "invalid cursor: Neo4j does not accept the change identifier",
		field: "from_cursor.id", desc: "Neo4j rejected the change identifier"},
	{err: ErrInvalidSelector, code: codes.InvalidArgument, reason: cdcstreamv1.ErrorReason_INVALID_SELECTOR,
		msg:   "invalid selector: Neo4j rejected the selectors",
		field: "selectors", desc: "Neo4j rejected the selectors"},
	{err: ErrCursorExpired, code: codes.OutOfRange, reason: cdcstreamv1.ErrorReason_CURSOR_EXPIRED,
		msg: "cursor expired: the change is no longer in Neo4j's retained transaction log"},
	{err: ErrCDCDisabled, code: codes.FailedPrecondition, reason: cdcstreamv1.ErrorReason_CDC_DISABLED,
		msg: "change data capture is disabled for the database"},
	{err: ErrDatabaseNotFound, code: codes.NotFound, reason: cdcstreamv1.ErrorReason_DATABASE_NOT_FOUND,
		msg: "database not found"},
	{err: ErrNeo4jAuth, code: codes.Unavailable, reason: cdcstreamv1.ErrorReason_NEO4J_AUTH,
		msg: "the server cannot authenticate to Neo4j"},
	{err: ErrNeo4jUnavailable, code: codes.Unavailable, reason: cdcstreamv1.ErrorReason_NEO4J_UNAVAILABLE,
		msg: "Neo4j is unavailable", retry: retryDelayNeo4jUnavailable},
}

// Reason classifies err by the sentinel it wraps: the ErrorInfo reason its status carries
// (metrics label errors with it). A request error is its own reason; an error of no known kind
// is INTERNAL.
func Reason(err error) cdcstreamv1.ErrorReason {
	var reqErr *requestError
	if errors.As(err, &reqErr) {
		return reqErr.reason
	}
	for _, c := range classes {
		if errors.Is(err, c.err) {
			return c.reason
		}
	}
	if errors.Is(err, ErrFutureCursor) {
		// Retried by the poller, never a stream's end: a reason for metrics only.
		return cdcstreamv1.ErrorReason_FUTURE_CURSOR
	}
	return cdcstreamv1.ErrorReason_INTERNAL
}

// requestError is a rejected request: one ErrorInfo reason and the offending fields.
type requestError struct {
	reason     cdcstreamv1.ErrorReason
	violations []*errdetails.BadRequest_FieldViolation
}

func (e *requestError) Error() string {
	if len(e.violations) == 0 {
		return "server: invalid request"
	}
	v := e.violations[0]
	return "server: invalid request: " + v.GetField() + ": " + v.GetDescription()
}

// databaseError attaches the database, and for expired cursors the earliest cursor, to an
// error so that Status can put them into ErrorInfo metadata.
type databaseError struct {
	database string
	// earliest is the database's earliest cursor id; set only for ErrCursorExpired, empty when
	// it could not be read.
	earliest string
	err      error
}

func (e *databaseError) Error() string { return e.err.Error() }

func (e *databaseError) Unwrap() error { return e.err }

// Status is the only place where errors become gRPC statuses (the error table of
// docs/semantics.md): with ErrorInfo (domain ErrorDomain, reason, metadata), and RetryInfo
// and BadRequest where the table says so. It never puts err's text into the status of an
// INTERNAL error. Interceptors outside the service use it too, so every status has one shape.
func Status(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	md := map[string]string{}
	var dbErr *databaseError
	if errors.As(err, &dbErr) && dbErr.database != "" {
		md[MetadataDatabase] = dbErr.database
	}
	var reqErr *requestError
	if errors.As(err, &reqErr) {
		return build(codes.InvalidArgument, "invalid request: "+describeViolations(reqErr.violations),
			reqErr.reason, md, nil, reqErr.violations)
	}
	for _, c := range classes {
		if !errors.Is(err, c.err) {
			continue
		}
		msg := c.msg
		if msg == "" {
			msg = refusalMessage(err)
		}
		var retry *time.Duration
		if c.retry > 0 || c.retryAtOnce {
			retry = &c.retry
		}
		var vs []*errdetails.BadRequest_FieldViolation
		if c.field != "" {
			vs = []*errdetails.BadRequest_FieldViolation{{Field: c.field, Description: c.desc}}
		}
		if c.err == ErrCursorExpired && dbErr != nil && dbErr.earliest != "" {
			md[MetadataEarliestCursor] = dbErr.earliest
		}
		return build(c.code, msg, c.reason, md, retry, vs)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "deadline exceeded")
	}
	return build(codes.Internal, "internal error", cdcstreamv1.ErrorReason_INTERNAL, md, nil, nil)
}

// maxRefusalMessage bounds a refusal's status message, which repeats text the edges wrote
// (and may hold a client's input, such as a decoder's complaint), so that every status fits a
// peer's header limit.
const maxRefusalMessage = 512

// refusalMessage is the status message of a refusal: the error's text without the database
// wrapper, cut to maxRefusalMessage bytes.
func refusalMessage(err error) string {
	var dbErr *databaseError
	if errors.As(err, &dbErr) {
		err = dbErr.err
	}
	return truncate(err.Error(), maxRefusalMessage)
}

// build makes a status with ErrorInfo, and RetryInfo (retry != nil) and BadRequest
// (violations) when given.
func build(code codes.Code, msg string, reason cdcstreamv1.ErrorReason, md map[string]string,
	retry *time.Duration, violations []*errdetails.BadRequest_FieldViolation) *status.Status {
	if len(md) == 0 {
		md = nil
	}
	st := status.New(code, msg)
	ds := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason.String(), Domain: ErrorDomain, Metadata: md}}
	if retry != nil {
		ds = append(ds, &errdetails.RetryInfo{RetryDelay: durationpb.New(*retry)})
	}
	if len(violations) > 0 {
		ds = append(ds, &errdetails.BadRequest{FieldViolations: violations})
	}
	withDetails, err := st.WithDetails(ds...)
	if err != nil {
		return st
	}
	return withDetails
}

// describeViolations summarises field violations for the status message.
func describeViolations(vs []*errdetails.BadRequest_FieldViolation) string {
	if len(vs) == 0 {
		return "malformed request"
	}
	msg := vs[0].GetField() + ": " + vs[0].GetDescription()
	if len(vs) > 1 {
		msg += " (and more; see BadRequest details)"
	}
	return msg
}
