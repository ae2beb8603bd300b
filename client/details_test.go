package client

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// withDetails builds a status error of code carrying details, in order.
func withDetails(t *testing.T, code codes.Code, details ...protoadapt.MessageV1) error {
	t.Helper()
	st, err := status.New(code, "scripted").WithDetails(details...)
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

// info is a cdcstream ErrorInfo.
func info(reason string, meta map[string]string) *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: reason, Domain: errorDomain, Metadata: meta}
}

// retryAfter is a RetryInfo of delay d.
func retryAfter(d time.Duration) *errdetails.RetryInfo {
	return &errdetails.RetryInfo{RetryDelay: durationpb.New(d)}
}

func TestErrorDomainIsTheProtoPackage(t *testing.T) {
	if errorDomain != "cdcstream.v1" {
		t.Fatalf("errorDomain = %q", errorDomain)
	}
}

func TestErrorDetails(t *testing.T) {
	expired := cdcstreamv1.ErrorReason_CURSOR_EXPIRED
	meta := map[string]string{MetadataEarliestCursor: "e-1", "database": "neo4j"}
	violations := []*errdetails.BadRequest_FieldViolation{
		{Field: "database", Description: "bad name"},
		{Field: "selectors[0].node.labels", Description: "empty label"},
	}
	for _, c := range []struct {
		name string
		err  func(t *testing.T) error
		ok   bool
		want Details
	}{
		{"nil", func(*testing.T) error { return nil }, false, Details{}},
		{"not a status", func(*testing.T) error { return errors.New("connection reset") }, false, Details{}},
		{"bare status", func(*testing.T) error { return status.Error(codes.Unavailable, "x") }, true,
			Details{Code: codes.Unavailable}},
		{"error info", func(t *testing.T) error {
			return withDetails(t, codes.OutOfRange, info(expired.String(), meta))
		}, true, Details{Code: codes.OutOfRange, Reason: expired, ReasonName: "CURSOR_EXPIRED", Metadata: meta}},
		{"reason newer than the library", func(t *testing.T) error {
			return withDetails(t, codes.Unavailable, info("SOME_NEW_REASON", nil))
		}, true, Details{Code: codes.Unavailable, ReasonName: "SOME_NEW_REASON"}},
		{"other domain ignored", func(t *testing.T) error {
			return withDetails(t, codes.OutOfRange, &errdetails.ErrorInfo{Reason: "CURSOR_EXPIRED", Domain: "googleapis.com"})
		}, true, Details{Code: codes.OutOfRange}},
		{"other domain first", func(t *testing.T) error {
			return withDetails(t, codes.OutOfRange,
				&errdetails.ErrorInfo{Reason: "QUOTA", Domain: "proxy.example"}, info(expired.String(), nil))
		}, true, Details{Code: codes.OutOfRange, Reason: expired, ReasonName: "CURSOR_EXPIRED"}},
		{"first cdcstream error info counts", func(t *testing.T) error {
			return withDetails(t, codes.Unavailable,
				info(cdcstreamv1.ErrorReason_STREAM_ROTATED.String(), nil), info(expired.String(), nil))
		}, true, Details{Code: codes.Unavailable, Reason: cdcstreamv1.ErrorReason_STREAM_ROTATED, ReasonName: "STREAM_ROTATED"}},
		{"retry info", func(t *testing.T) error {
			return withDetails(t, codes.ResourceExhausted, retryAfter(7*time.Second))
		}, true, Details{Code: codes.ResourceExhausted, RetryDelay: 7 * time.Second, HasRetryDelay: true}},
		{"retry info of zero", func(t *testing.T) error {
			return withDetails(t, codes.Unavailable, retryAfter(0))
		}, true, Details{Code: codes.Unavailable, HasRetryDelay: true}},
		{"retry info without a delay", func(t *testing.T) error {
			return withDetails(t, codes.Unavailable, &errdetails.RetryInfo{})
		}, true, Details{Code: codes.Unavailable}},
		{"negative retry info ignored", func(t *testing.T) error {
			return withDetails(t, codes.Unavailable, retryAfter(-time.Second), retryAfter(2*time.Second))
		}, true, Details{Code: codes.Unavailable, RetryDelay: 2 * time.Second, HasRetryDelay: true}},
		{"bad request", func(t *testing.T) error {
			return withDetails(t, codes.InvalidArgument, info(cdcstreamv1.ErrorReason_INVALID_REQUEST.String(), nil),
				&errdetails.BadRequest{FieldViolations: violations})
		}, true, Details{Code: codes.InvalidArgument, Reason: cdcstreamv1.ErrorReason_INVALID_REQUEST,
			ReasonName: "INVALID_REQUEST", FieldViolations: violations}},
		{"all three, wrapped", func(t *testing.T) error {
			return fmt.Errorf("subscribe: %w", withDetails(t, codes.ResourceExhausted,
				&errdetails.BadRequest{FieldViolations: violations[:1]}, retryAfter(time.Second),
				info(cdcstreamv1.ErrorReason_TOO_MANY_SUBSCRIPTIONS.String(), map[string]string{"database": "neo4j"})))
		}, true, Details{Code: codes.ResourceExhausted, Reason: cdcstreamv1.ErrorReason_TOO_MANY_SUBSCRIPTIONS,
			ReasonName: "TOO_MANY_SUBSCRIPTIONS", Metadata: map[string]string{"database": "neo4j"},
			RetryDelay: time.Second, HasRetryDelay: true, FieldViolations: violations[:1]}},
		{"cursor expired error", func(t *testing.T) error {
			st, _ := status.FromError(withDetails(t, codes.OutOfRange, info(expired.String(), meta)))
			return &CursorExpiredError{Status: st}
		}, true, Details{Code: codes.OutOfRange, Reason: expired, ReasonName: "CURSOR_EXPIRED", Metadata: meta}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.err(t)
			got, ok := ErrorDetails(err)
			if ok != c.ok {
				t.Fatalf("ErrorDetails(%v) ok = %v, want %v", err, ok, c.ok)
			}
			if diff := cmp.Diff(c.want, got, protocmp.Transform()); diff != "" {
				t.Fatalf("ErrorDetails(%v) (-want +got):\n%s", err, diff)
			}
			if r := Reason(err); r != c.want.ReasonName {
				t.Fatalf("Reason = %q, want %q", r, c.want.ReasonName)
			}
		})
	}
}
