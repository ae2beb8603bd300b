package client

import (
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// errorDomain is the google.rpc.ErrorInfo domain of every cdcstream error: the proto package
// that declares the reasons (proto/cdcstream/v1/errors.proto).
var errorDomain = string(cdcstreamv1.File_cdcstream_v1_errors_proto.Package())

// MetadataEarliestCursor is the ErrorInfo metadata key holding the id of the earliest retained
// cursor when the reason is [cdcstreamv1.ErrorReason_CURSOR_EXPIRED].
const MetadataEarliestCursor = "earliest_cursor"

// Details is what a cdcstream error status says to a program: its code and the standard
// details the server attaches (proto/cdcstream/v1/errors.proto documents them, and
// docs/semantics.md lists which status carries which).
type Details struct {
	// Code is the status code.
	Code codes.Code
	// Reason is the reason of the status's cdcstream ErrorInfo (domain "cdcstream.v1").
	// It is ERROR_REASON_UNSPECIFIED when there is no such ErrorInfo, or when its reason is
	// newer than this library; ReasonName then still has it.
	Reason cdcstreamv1.ErrorReason
	// ReasonName is that ErrorInfo's reason verbatim, "" when there is no cdcstream ErrorInfo.
	ReasonName string
	// Metadata is that ErrorInfo's metadata (for example MetadataEarliestCursor), nil when
	// there is none. It is the status's own map: read it, do not change it.
	Metadata map[string]string
	// RetryDelay is the google.rpc.RetryInfo delay; meaningful only when HasRetryDelay.
	RetryDelay time.Duration
	// HasRetryDelay reports whether the status carries a RetryInfo with a non-negative delay
	// (0 means resume at once).
	HasRetryDelay bool
	// FieldViolations are the google.rpc.BadRequest field violations, naming the request fields
	// at fault; nil when there are none.
	FieldViolations []*errdetails.BadRequest_FieldViolation
}

// ErrorDetails reads the status err is or wraps (see status.FromError). It returns false when
// err is nil or carries no gRPC status. An ErrorInfo of another domain than cdcstream's is
// ignored, as are details of other types.
func ErrorDetails(err error) (Details, bool) {
	if err == nil {
		return Details{}, false
	}
	st, ok := status.FromError(err)
	if !ok {
		return Details{}, false
	}
	d := Details{Code: st.Code()}
	var haveInfo bool // the first cdcstream ErrorInfo counts
	for _, detail := range st.Details() {
		switch x := detail.(type) {
		case *errdetails.ErrorInfo:
			if x.GetDomain() != errorDomain || haveInfo {
				continue // another service's, or a second one
			}
			haveInfo = true
			d.ReasonName, d.Metadata = x.GetReason(), x.GetMetadata()
			if v, known := cdcstreamv1.ErrorReason_value[x.GetReason()]; known {
				d.Reason = cdcstreamv1.ErrorReason(v)
			}
		case *errdetails.RetryInfo:
			if x.GetRetryDelay() == nil || d.HasRetryDelay {
				continue
			}
			if delay := x.GetRetryDelay().AsDuration(); delay >= 0 {
				d.RetryDelay, d.HasRetryDelay = delay, true
			}
		case *errdetails.BadRequest:
			d.FieldViolations = append(d.FieldViolations, x.GetFieldViolations()...)
		}
	}
	return d, true
}

// Reason returns the reason of err's cdcstream ErrorInfo verbatim (including reasons newer than
// this library), or "". ErrorDetails gives it typed, as [cdcstreamv1.ErrorReason].
func Reason(err error) string {
	d, _ := ErrorDetails(err)
	return d.ReasonName
}
