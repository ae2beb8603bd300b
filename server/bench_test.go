package server_test

import (
	"context"
	"sync/atomic"
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

// BenchmarkStreamThroughput measures changes per second through poller and sender (no gRPC):
// a backlog of b.N changes drained in full batches.
func BenchmarkStreamThroughput(b *testing.B) {
	src := servertest.NewFakeSource(db)
	src.Append(db, servertest.NodeEvents(b.N, 64)...)
	srv, err := server.New(src, server.WithBatchLimit(1000))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got atomic.Int64
	// done is closed by the send func once every change arrived.
	done := make(chan struct{})
	send := func(m *cdcstreamv1.SubscribeResponse) error {
		if m.GetChange() != nil && got.Add(1) == int64(b.N) {
			close(done)
		}
		return nil
	}
	// ended receives Subscribe's result.
	ended := make(chan error, 1)
	b.ResetTimer()
	go func() { ended <- srv.SubscribeSend(ctx, fromID(servertest.ID(db, 0)), send) }()
	<-done
	b.StopTimer()
	cancel()
	<-ended
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
}
