package server_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

// endObserver reports every stream end on ended.
type endObserver struct {
	server.NopObserver
	// ended receives the reason of every ended stream; buffered generously.
	ended chan cdcstreamv1.ErrorReason
}

func (o *endObserver) StreamEnded(_ string, _ codes.Code, reason cdcstreamv1.ErrorReason) {
	o.ended <- reason
}

// stallServer serves the service over real gRPC on loopback and returns a client connection
// whose flow-control windows are as small as grpc-go allows (64 KiB), so a client that stops
// reading blocks the server's Send after a few messages.
func stallServer(tb testing.TB, src *servertest.FakeSource, opts ...server.Option) (*server.Server, *grpc.ClientConn, *endObserver) {
	tb.Helper()
	obs := &endObserver{ended: make(chan cdcstreamv1.ErrorReason, 1024)}
	srv, err := server.New(src, append([]server.Option{server.WithPollInterval(5 * time.Millisecond),
		server.WithObserver(obs)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	gs := grpc.NewServer()
	srv.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	served := make(chan struct{}) // closed when Serve returned
	go func() { defer close(served); _ = gs.Serve(lis) }()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cc.Close()
		gs.Stop()
		<-served
	})
	return srv, cc, obs
}

// stall opens a subscription from EARLIEST and never reads it.
func stall(tb testing.TB, ctx context.Context, cc *grpc.ClientConn) {
	tb.Helper()
	_, err := cdcstreamv1.NewChangeStreamServiceClient(cc).Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
		Database: db, Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}})
	if err != nil {
		tb.Fatal(err)
	}
}

// waitStalled waits until n pollers hold a batch their sender cannot take: every sender is
// blocked in Send.
func waitStalled(tb testing.TB, ctx context.Context, srv *server.Server, n int64) {
	tb.Helper()
	for srv.Stats().PollersWaiting < n {
		if ctx.Err() != nil {
			tb.Fatalf("waiting for %d stalled streams: %d (%+v)", n, srv.Stats().PollersWaiting, srv.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStalledReaderReaped: a client that stops reading (its 64 KiB window full) blocks the
// server in Send; the send timeout ends the stream with SEND_TIMEOUT, its poller stops, and
// goleak (TestMain) shows that no goroutine stays behind.
func TestStalledReaderReaped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	src := servertest.NewFakeSource(db)
	src.Append(db, servertest.NodeEvents(200, 16<<10)...)
	srv, cc, obs := stallServer(t, src, server.WithSendTimeout(300*time.Millisecond), server.WithBatchLimit(10))
	stall(t, ctx, cc)
	select {
	case reason := <-obs.ended:
		if reason != cdcstreamv1.ErrorReason_SEND_TIMEOUT {
			t.Fatalf("stalled stream ended with %v, want SEND_TIMEOUT", reason)
		}
	case <-ctx.Done():
		t.Fatalf("stalled stream not reaped: %+v", srv.Stats())
	}
	st := srv.Stats()
	if st.ActiveSubscriptions != 0 || st.PollersWaiting != 0 {
		t.Fatalf("after the reap: %+v", st)
	}
	// The handler returned after its poller: no poll can follow.
	polls := src.Calls(servertest.MethodPoll)
	src.Commit(db, 5)
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := src.Calls(servertest.MethodPoll); got != polls {
		t.Fatalf("%d polls after the stream ended", got-polls)
	}
}

// TestShutdownNotHeldByStalledReader: with a send timeout far away, Shutdown still ends a
// stream blocked in Send (after a grace of at most a second) instead of waiting for it.
func TestShutdownNotHeldByStalledReader(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	src := servertest.NewFakeSource(db)
	src.Append(db, servertest.NodeEvents(200, 16<<10)...)
	srv, cc, obs := stallServer(t, src, server.WithSendTimeout(server.MaxSendTimeout), server.WithBatchLimit(10))
	stall(t, ctx, cc)
	waitStalled(t, ctx, srv, 1)
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown held by a stalled reader: %v", err)
	}
	if reason := <-obs.ended; reason != cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN {
		t.Fatalf("ended with %v, want SERVER_SHUTTING_DOWN", reason)
	}
}

// BenchmarkStalledStreams measures the memory stalled readers hold on the server while
// blocked (changes of 1 KiB: one batch being sent, one in the hand-off, one held by the
// poller, plus what grpc-go buffers per stream), after the send timeout reaped them, and after
// their connection closed. Client and server share the process; the client's share is bounded
// by its 64 KiB windows.
//
//	go test ./server -run '^$' -bench StalledStreams -benchtime 1x
func BenchmarkStalledStreams(b *testing.B) {
	for _, c := range []struct{ streams, batch int }{{200, 100}, {20, 1000}} {
		b.Run(fmt.Sprintf("streams=%d/batch=%d", c.streams, c.batch), func(b *testing.B) {
			for b.Loop() {
				stalledStreams(b, c.streams, c.batch)
			}
		})
	}
}

func stalledStreams(b *testing.B, streams, batch int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src := servertest.NewFakeSource(db)
	src.Append(db, servertest.NodeEvents(4*batch, 1<<10)...)
	srv, cc, obs := stallServer(b, src, server.WithSendTimeout(15*time.Second), server.WithBatchLimit(batch))
	before := heap()
	for range streams {
		stall(b, ctx, cc)
	}
	waitStalled(b, ctx, srv, int64(streams))
	stalled := heap()
	for range streams {
		<-obs.ended
	}
	reaped := heap()
	cc.Close()
	closed := heap()
	b.ReportMetric(float64(stalled-before)/float64(streams)/(1<<10), "KiB/stalled-stream")
	b.ReportMetric(float64(reaped-before)/float64(streams)/(1<<10), "KiB/reaped-stream")
	b.ReportMetric(float64(closed-before)/float64(streams)/(1<<10), "KiB/stream-after-conn-close")
	if err := srv.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
}

// heap is the live heap after a collection.
func heap() int64 {
	runtime.GC()
	runtime.GC() // a second cycle empties the sync.Pools' victim caches (grpc-go's buffers)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
