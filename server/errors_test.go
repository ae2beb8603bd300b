package server

import (
	"context"
	"errors"
	"fmt"
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// details splits a status's details by type.
func details(t *testing.T, st *status.Status) (*errdetails.ErrorInfo, *errdetails.RetryInfo, *errdetails.BadRequest) {
	t.Helper()
	var (
		info  *errdetails.ErrorInfo
		retry *errdetails.RetryInfo
		bad   *errdetails.BadRequest
	)
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.RetryInfo:
			retry = d
		case *errdetails.BadRequest:
			bad = d
		default:
			t.Fatalf("unexpected detail %T", d)
		}
	}
	return info, retry, bad
}

func TestToStatusErrorTable(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("neo4jcdc: query: %w", err) }
	tests := []struct {
		name      string
		err       error
		code      codes.Code
		reason    cdcstreamv1.ErrorReason // UNSPECIFIED means no ErrorInfo
		retry     time.Duration
		field     string // first BadRequest field, "" means none
		metadata  map[string]string
		secretMsg string // text that must not leak into the message
	}{
		{"invalid request", &requestError{reason: cdcstreamv1.ErrorReason_INVALID_SELECTOR, violations: []*errdetails.BadRequest_FieldViolation{
			{Field: "selectors[2].node.labels[0]", Description: "label must not be empty"}}},
			codes.InvalidArgument, cdcstreamv1.ErrorReason_INVALID_SELECTOR, 0, "selectors[2].node.labels[0]", nil, ""},
		{"neo4j invalid cursor", &databaseError{database: "neo4j", err: wrap(ErrInvalidCursor)},
			codes.InvalidArgument, cdcstreamv1.ErrorReason_INVALID_CURSOR, 0, "from_cursor.id", map[string]string{"database": "neo4j"}, ""},
		{"neo4j invalid selector", wrap(ErrInvalidSelector), codes.InvalidArgument, cdcstreamv1.ErrorReason_INVALID_SELECTOR, 0, "selectors", nil, ""},
		{"cursor expired", &databaseError{database: "orders", earliest: "AAAA", err: wrap(ErrCursorExpired)},
			codes.OutOfRange, cdcstreamv1.ErrorReason_CURSOR_EXPIRED, 0, "", map[string]string{"database": "orders", "earliest_cursor": "AAAA"}, ""},
		{"cursor expired, earliest unknown", &databaseError{database: "orders", err: wrap(ErrCursorExpired)},
			codes.OutOfRange, cdcstreamv1.ErrorReason_CURSOR_EXPIRED, 0, "", map[string]string{"database": "orders"}, ""},
		{"cdc disabled", wrap(ErrCDCDisabled), codes.FailedPrecondition, cdcstreamv1.ErrorReason_CDC_DISABLED, 0, "", nil, ""},
		{"database not found", wrap(ErrDatabaseNotFound), codes.NotFound, cdcstreamv1.ErrorReason_DATABASE_NOT_FOUND, 0, "", nil, ""},
		{"auth", wrap(ErrNeo4jAuth), codes.Unavailable, cdcstreamv1.ErrorReason_NEO4J_AUTH, 0, "", nil, ""},
		{"unavailable", wrap(ErrNeo4jUnavailable), codes.Unavailable, cdcstreamv1.ErrorReason_NEO4J_UNAVAILABLE, time.Second, "", nil, ""},
		{"too many", errServerFull, codes.ResourceExhausted, cdcstreamv1.ErrorReason_TOO_MANY_SUBSCRIPTIONS, 5 * time.Second, "", nil, ""},
		{"shutdown", errShuttingDown, codes.Unavailable, cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN, 0, "", nil, ""},
		{"canceled", context.Canceled, codes.Canceled, cdcstreamv1.ErrorReason_ERROR_REASON_UNSPECIFIED, 0, "", nil, ""},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded, cdcstreamv1.ErrorReason_ERROR_REASON_UNSPECIFIED, 0, "", nil, ""},
		{"other", errors.New("bolt: password=hunter2"), codes.Internal, cdcstreamv1.ErrorReason_INTERNAL, 0, "", nil, "hunter2"},
		{"future cursor leaking out", ErrFutureCursor, codes.Internal, cdcstreamv1.ErrorReason_INTERNAL, 0, "", nil, "future"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := Status(tc.err)
			if st.Code() != tc.code {
				t.Fatalf("code = %v, want %v (%v)", st.Code(), tc.code, st.Message())
			}
			info, retry, bad := details(t, st)
			if tc.reason == cdcstreamv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
				if info != nil {
					t.Fatalf("unexpected ErrorInfo %v", info)
				}
			} else {
				if info == nil || info.GetReason() != tc.reason.String() || info.GetDomain() != ErrorDomain {
					t.Fatalf("ErrorInfo = %v, want reason %s domain %s", info, tc.reason, ErrorDomain)
				}
				if len(info.GetMetadata()) != len(tc.metadata) {
					t.Fatalf("metadata = %v, want %v", info.GetMetadata(), tc.metadata)
				}
				for k, v := range tc.metadata {
					if info.GetMetadata()[k] != v {
						t.Fatalf("metadata[%s] = %q, want %q", k, info.GetMetadata()[k], v)
					}
				}
			}
			if got := retry.GetRetryDelay().AsDuration(); (retry != nil) != (tc.retry > 0) || got != tc.retry {
				t.Fatalf("RetryInfo = %v, want %v", retry, tc.retry)
			}
			if tc.field == "" {
				if bad != nil {
					t.Fatalf("unexpected BadRequest %v", bad)
				}
			} else if len(bad.GetFieldViolations()) == 0 || bad.GetFieldViolations()[0].GetField() != tc.field {
				t.Fatalf("BadRequest = %v, want field %s", bad, tc.field)
			}
			if tc.secretMsg != "" && strings.Contains(st.Message(), tc.secretMsg) {
				t.Fatalf("message %q leaks %q", st.Message(), tc.secretMsg)
			}
		})
	}
}

func TestToStatusNil(t *testing.T) {
	t.Parallel()
	if c := Status(nil).Code(); c != codes.OK {
		t.Fatalf("Status(nil) = %v", c)
	}
}
