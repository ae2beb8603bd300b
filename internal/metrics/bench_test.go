package metrics_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/metrics"
)

// nopStream is a grpc.ServerStream whose sends cost nothing.
type nopStream struct{ grpc.ServerStream }

func (nopStream) Context() context.Context { return context.Background() }
func (nopStream) SendMsg(any) error        { return nil }
func (nopStream) RecvMsg(any) error        { return nil }

// BenchmarkObservedSend measures what the stream interceptor adds to each ChangeEvent sent
// (counter, lag histogram).
func BenchmarkObservedSend(b *testing.B) {
	m := metrics.New()
	msg := &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Change{Change: &cdcstreamv1.ChangeEvent{
		Cursor:   &cdcstreamv1.Cursor{Id: "x", Database: "neo4j"},
		Metadata: &cdcstreamv1.Metadata{TxCommitTime: timestamppb.New(time.Now())},
	}}}
	info := &grpc.StreamServerInfo{FullMethod: cdcstreamv1.ChangeStreamService_Subscribe_FullMethodName}
	err := m.StreamInterceptor()(nil, nopStream{}, info, func(_ any, ss grpc.ServerStream) error {
		if err := ss.RecvMsg(&cdcstreamv1.SubscribeRequest{}); err != nil {
			return err
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := ss.SendMsg(msg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
