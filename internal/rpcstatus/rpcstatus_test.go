package rpcstatus

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestErrorCarriesReason(t *testing.T) {
	err := Error(codes.PermissionDenied, "no", ReasonPermissionDenied, map[string]string{"database": "x"})
	if status.Code(err) != codes.PermissionDenied || Reason(err) != ReasonPermissionDenied {
		t.Fatalf("got %v reason %q", err, Reason(err))
	}
	if _, ok := RetryDelay(err); ok {
		t.Fatal("unexpected RetryInfo")
	}
}

func TestRetryErrorZeroDelay(t *testing.T) {
	err := RetryError(codes.Unavailable, "rotated", ReasonStreamRotated, nil, 0)
	d, ok := RetryDelay(err)
	if !ok || d != 0 || Reason(err) != ReasonStreamRotated {
		t.Fatalf("delay %v ok %v reason %q", d, ok, Reason(err))
	}
	err = RetryError(codes.ResourceExhausted, "busy", ReasonTooManySubscriptions, nil, 5*time.Second)
	if d, ok := RetryDelay(err); !ok || d != 5*time.Second {
		t.Fatalf("delay %v ok %v", d, ok)
	}
}

func TestReasonOfPlainError(t *testing.T) {
	if Reason(status.Error(codes.Internal, "x")) != "" {
		t.Fatal("plain status has no reason")
	}
}
