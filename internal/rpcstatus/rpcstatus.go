// Package rpcstatus builds the gRPC statuses that the hardening layers (internal/auth,
// internal/limits) return, in one place, with the same google.rpc.ErrorInfo domain as the
// service itself ("cdcstream.v1") so that clients decide by code and reason alone.
//
// Messages passed in must never contain secrets: statuses travel to clients and into logs.
package rpcstatus

import (
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Domain is the google.rpc.ErrorInfo domain of every cdcstream error.
const Domain = "cdcstream.v1"

// ErrorInfo reasons returned by the hardening layers (the service's own reasons are in package
// server).
const (
	// ReasonUnauthenticated: UNAUTHENTICATED, no bearer token or an unknown one.
	ReasonUnauthenticated = "UNAUTHENTICATED"
	// ReasonPermissionDenied: PERMISSION_DENIED, the token may not read the database.
	ReasonPermissionDenied = "PERMISSION_DENIED"
	// ReasonTooManySubscriptions: RESOURCE_EXHAUSTED (with RetryInfo), a per-token limit.
	ReasonTooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS"
	// ReasonStreamRotated: UNAVAILABLE (with RetryInfo 0s), the stream reached its maximum age
	// after a final checkpoint; resume from that checkpoint's cursor, on any replica.
	ReasonStreamRotated = "STREAM_ROTATED"
)

// Error returns a status error with code, msg and an ErrorInfo carrying reason and md.
func Error(code codes.Code, msg, reason string, md map[string]string) error {
	return build(code, msg, reason, md, nil).Err()
}

// RetryError is Error plus a google.rpc.RetryInfo advising retry after delay (which may be 0:
// retry at once).
func RetryError(code codes.Code, msg, reason string, md map[string]string, delay time.Duration) error {
	return build(code, msg, reason, md, &errdetails.RetryInfo{RetryDelay: durationpb.New(delay)}).Err()
}

func build(code codes.Code, msg, reason string, md map[string]string, retry *errdetails.RetryInfo) *status.Status {
	if len(md) == 0 {
		md = nil
	}
	st := status.New(code, msg)
	var err error
	var withDetails *status.Status
	if retry != nil {
		withDetails, err = st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: Domain, Metadata: md}, retry)
	} else {
		withDetails, err = st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: Domain, Metadata: md})
	}
	if err != nil {
		return st
	}
	return withDetails
}

// Reason returns the ErrorInfo reason of err's status, or "" when it has none.
func Reason(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// RetryDelay returns the RetryInfo delay of err's status and whether it has one.
func RetryDelay(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}
