package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of every error this service returns.
const ErrorDomain = "cdcstream.v1"

// ErrorInfo reasons. A client decides what to do from the status code and the reason, never
// from the message text.
const (
	// ReasonInvalidRequest: INVALID_ARGUMENT, a malformed request field (with BadRequest).
	ReasonInvalidRequest = "INVALID_REQUEST"
	// ReasonInvalidSelector: INVALID_ARGUMENT, a malformed or rejected selector (with BadRequest).
	ReasonInvalidSelector = "INVALID_SELECTOR"
	// ReasonInvalidCursor: INVALID_ARGUMENT, a malformed cursor or one of another database.
	ReasonInvalidCursor = "INVALID_CURSOR"
	// ReasonCursorExpired: OUT_OF_RANGE, the cursor is no longer in Neo4j's retained log;
	// metadata "earliest_cursor" holds the id of the earliest cursor when it could be read.
	ReasonCursorExpired = "CURSOR_EXPIRED"
	// ReasonCDCDisabled: FAILED_PRECONDITION, CDC is off for the database.
	ReasonCDCDisabled = "CDC_DISABLED"
	// ReasonDatabaseNotFound: NOT_FOUND, the database does not exist.
	ReasonDatabaseNotFound = "DATABASE_NOT_FOUND"
	// ReasonNeo4jAuth: UNAVAILABLE, Neo4j rejected the server's own credentials or privileges.
	ReasonNeo4jAuth = "NEO4J_AUTH"
	// ReasonNeo4jUnavailable: UNAVAILABLE (with RetryInfo), Neo4j unreachable or failing
	// transiently.
	ReasonNeo4jUnavailable = "NEO4J_UNAVAILABLE"
	// ReasonTooManySubscriptions: RESOURCE_EXHAUSTED (with RetryInfo), the server's
	// subscription limit is reached.
	ReasonTooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS"
	// ReasonServerShuttingDown: UNAVAILABLE, the server is shutting down; resume elsewhere.
	ReasonServerShuttingDown = "SERVER_SHUTTING_DOWN"
	// ReasonInternal: INTERNAL, anything else; details are only in the server's log.
	ReasonInternal = "INTERNAL"
)

// ErrorInfo metadata keys.
const (
	// MetadataDatabase names the database the failed call was about.
	MetadataDatabase = "database"
	// MetadataEarliestCursor holds the id of the database's earliest cursor (CURSOR_EXPIRED).
	MetadataEarliestCursor = "earliest_cursor"
)

// Retry delays advised through google.rpc.RetryInfo.
const (
	retryDelayNeo4jUnavailable     = time.Second
	retryDelayTooManySubscriptions = 5 * time.Second
)

var (
	// errShuttingDown ends streams and refuses new ones once Shutdown was called.
	errShuttingDown = errors.New("server: shutting down")
	// errTooManySubscriptions refuses a stream beyond WithMaxSubscriptions.
	errTooManySubscriptions = errors.New("server: too many subscriptions")
)

// requestError is a rejected request: one ErrorInfo reason and the offending fields.
type requestError struct {
	reason     string
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
// error so that toStatus can put them into ErrorInfo metadata.
type databaseError struct {
	database string
	// earliest is the database's earliest cursor id; set only for ErrCursorExpired, empty when
	// it could not be read.
	earliest string
	err      error
}

func (e *databaseError) Error() string { return e.err.Error() }

func (e *databaseError) Unwrap() error { return e.err }

// toStatus is the only place where errors become gRPC statuses (ARCHITECTURE.md's error
// table). It never puts err's text into the status of an INTERNAL error.
func toStatus(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	md := map[string]string{}
	var dbErr *databaseError
	if errors.As(err, &dbErr) && dbErr.database != "" {
		md[MetadataDatabase] = dbErr.database
	}
	var reqErr *requestError
	switch {
	case errors.As(err, &reqErr):
		return build(codes.InvalidArgument, "invalid request: "+describeViolations(reqErr.violations),
			reqErr.reason, md, 0, reqErr.violations)
	case errors.Is(err, errShuttingDown):
		return build(codes.Unavailable, "server is shutting down; resume from the last cursor",
			ReasonServerShuttingDown, md, 0, nil)
	case errors.Is(err, errTooManySubscriptions):
		return build(codes.ResourceExhausted, "too many subscriptions on this server",
			ReasonTooManySubscriptions, md, retryDelayTooManySubscriptions, nil)
	case errors.Is(err, ErrInvalidCursor):
		return build(codes.InvalidArgument, "invalid cursor: Neo4j does not accept the change identifier",
			ReasonInvalidCursor, md, 0, []*errdetails.BadRequest_FieldViolation{{
				Field: "from_cursor.id", Description: "Neo4j rejected the change identifier"}})
	case errors.Is(err, ErrInvalidSelector):
		return build(codes.InvalidArgument, "invalid selector: Neo4j rejected the selectors",
			ReasonInvalidSelector, md, 0, []*errdetails.BadRequest_FieldViolation{{
				Field: "selectors", Description: "Neo4j rejected the selectors"}})
	case errors.Is(err, ErrCursorExpired):
		if dbErr != nil && dbErr.earliest != "" {
			md[MetadataEarliestCursor] = dbErr.earliest
		}
		return build(codes.OutOfRange, "cursor expired: the change is no longer in Neo4j's retained transaction log",
			ReasonCursorExpired, md, 0, nil)
	case errors.Is(err, ErrCDCDisabled):
		return build(codes.FailedPrecondition, "change data capture is disabled for the database",
			ReasonCDCDisabled, md, 0, nil)
	case errors.Is(err, ErrDatabaseNotFound):
		return build(codes.NotFound, "database not found", ReasonDatabaseNotFound, md, 0, nil)
	case errors.Is(err, ErrNeo4jAuth):
		return build(codes.Unavailable, "the server cannot authenticate to Neo4j",
			ReasonNeo4jAuth, md, 0, nil)
	case errors.Is(err, ErrNeo4jUnavailable):
		return build(codes.Unavailable, "Neo4j is unavailable", ReasonNeo4jUnavailable, md,
			retryDelayNeo4jUnavailable, nil)
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "deadline exceeded")
	default:
		return build(codes.Internal, "internal error", ReasonInternal, md, 0, nil)
	}
}

// build makes a status with ErrorInfo, and RetryInfo (retry > 0) and BadRequest (violations)
// when given.
func build(code codes.Code, msg, reason string, md map[string]string, retry time.Duration,
	violations []*errdetails.BadRequest_FieldViolation) *status.Status {
	if len(md) == 0 {
		md = nil
	}
	st := status.New(code, msg)
	ds := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: md}}
	if retry > 0 {
		ds = append(ds, &errdetails.RetryInfo{RetryDelay: durationpb.New(retry)})
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
