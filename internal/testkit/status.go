package testkit

import (
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Domain is the google.rpc.ErrorInfo domain of every cdcstream error: the proto package of
// errors.proto, where the ErrorReason vocabulary is declared.
var Domain = string(cdcstreamv1.File_cdcstream_v1_errors_proto.Package())

// Details is what a status error says, read the way a client must read it.
type Details struct {
	// Code is the status code.
	Code codes.Code
	// Message is the status message.
	Message string
	// Info is the google.rpc.ErrorInfo, or nil.
	Info *errdetails.ErrorInfo
	// Reason is Info's reason as an ErrorReason: ERROR_REASON_UNSPECIFIED when there is no
	// ErrorInfo or its reason is not a value of the enum (RawReason then tells which).
	Reason cdcstreamv1.ErrorReason
	// RawReason is Info's reason string, verbatim.
	RawReason string
	// Metadata is Info's metadata (nil without ErrorInfo).
	Metadata map[string]string
	// Retry is the google.rpc.RetryInfo, or nil.
	Retry *errdetails.RetryInfo
	// BadRequest is the google.rpc.BadRequest, or nil.
	BadRequest *errdetails.BadRequest
	// Fields are BadRequest's field names, in order.
	Fields []string
	// Other are the details of any other type (or decoding errors), in order.
	Other []any
}

// RetryDelay returns RetryInfo's delay and whether there is one.
func (d Details) RetryDelay() (time.Duration, bool) {
	if d.Retry == nil {
		return 0, false
	}
	return d.Retry.GetRetryDelay().AsDuration(), true
}

// StatusDetails reads err's status and its details. The test fails when err is not a gRPC
// status, or when an ErrorInfo is present in a domain other than Domain (the reason of such an
// ErrorInfo would mean nothing to a cdcstream client).
func StatusDetails(tb testing.TB, err error) Details {
	tb.Helper()
	st, ok := status.FromError(err)
	if !ok {
		tb.Fatalf("testkit: error %v is not a gRPC status", err)
	}
	d := Details{Code: st.Code(), Message: st.Message()}
	for _, x := range st.Details() {
		switch x := x.(type) {
		case *errdetails.ErrorInfo:
			d.Info = x
		case *errdetails.RetryInfo:
			d.Retry = x
		case *errdetails.BadRequest:
			d.BadRequest = x
			for _, v := range x.GetFieldViolations() {
				d.Fields = append(d.Fields, v.GetField())
			}
		default:
			d.Other = append(d.Other, x)
		}
	}
	if d.Info != nil {
		if d.Info.GetDomain() != Domain {
			tb.Fatalf("testkit: ErrorInfo domain %q, want %q (%v)", d.Info.GetDomain(), Domain, err)
		}
		d.RawReason = d.Info.GetReason()
		d.Reason = cdcstreamv1.ErrorReason(cdcstreamv1.ErrorReason_value[d.RawReason])
		d.Metadata = d.Info.GetMetadata()
	}
	return d
}

// ErrorInfo returns a google.rpc.ErrorInfo in Domain with reason's name and meta.
func ErrorInfo(reason cdcstreamv1.ErrorReason, meta map[string]string) *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: reason.String(), Domain: Domain, Metadata: meta}
}

// RetryInfo returns a google.rpc.RetryInfo asking to wait delay.
func RetryInfo(delay time.Duration) *errdetails.RetryInfo {
	return &errdetails.RetryInfo{RetryDelay: durationpb.New(delay)}
}

// StatusError returns a status error with code, msg and details, for fake servers.
func StatusError(tb testing.TB, code codes.Code, msg string, details ...protoadapt.MessageV1) error {
	tb.Helper()
	st, err := status.New(code, msg).WithDetails(details...)
	if err != nil {
		tb.Fatalf("testkit: status details: %v", err)
	}
	return st.Err()
}
