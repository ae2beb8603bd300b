package server_test

import (
	"context"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// serve runs h's server on loopback and returns a generated client. The server and the
// connection stop with the test.
func (h *harness) serve(dialOpts ...grpc.DialOption) cdcstreamv1.ChangeStreamServiceClient {
	h.t.Helper()
	conn, _ := testkit.Serve(h.t, h.srv.Register, testkit.DialOptions(dialOpts...))
	return cdcstreamv1.NewChangeStreamServiceClient(conn)
}

func recvChange(t *testing.T, stream grpc.ServerStreamingClient[cdcstreamv1.SubscribeResponse]) *cdcstreamv1.ChangeEvent {
	t.Helper()
	m, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if m.GetChange() == nil {
		t.Fatalf("got %v, want a change", m)
	}
	return m.GetChange()
}

func TestServiceSubscribeResumeAndGetCursor(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	client := h.serve()
	ids := h.src.Commit(db, 3)

	cur, err := client.GetCursor(h.ctx, &cdcstreamv1.GetCursorRequest{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	stream, err := client.Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
		Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: cur.GetCursor()}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if got := recvChange(t, stream).GetCursor(); got.GetId() != ids[i] || got.GetDatabase() != db {
			t.Fatalf("change %d at %v", i, got)
		}
	}
	cancel()
	for {
		_, err := stream.Recv()
		if err == nil {
			continue // already buffered
		}
		if c, _, _, _ := statusInfo(t, err); c != codes.Canceled {
			t.Fatalf("Recv after cancel: %v", err)
		}
		break
	}

	// Resume strictly after the second change.
	stream, err = client.Subscribe(h.ctx, &cdcstreamv1.SubscribeRequest{
		Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: ids[1], Database: db}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := recvChange(t, stream).GetCursor().GetId(); got != ids[2] {
		t.Fatalf("resumed at %q, want %q", got, ids[2])
	}
}

func TestServiceErrorDetailsCrossTheWire(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	client := h.serve()
	h.src.Commit(db, 3)
	h.src.Prune(db, 2)

	stream, err := client.Subscribe(h.ctx, &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{
		{Kind: &cdcstreamv1.Selector_Relationship{Relationship: &cdcstreamv1.RelationshipSelector{
			End: &cdcstreamv1.NodeMatcher{Labels: []string{"A", ""}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	wantStatus(t, err, codes.InvalidArgument, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String())
	if _, _, _, bad := statusInfo(t, err); bad.GetFieldViolations()[0].GetField() != "selectors[0].relationship.end.labels[1]" {
		t.Fatalf("BadRequest %v", bad)
	}

	stream, err = client.Subscribe(h.ctx, fromID(servertest.ID(db, 1)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	info := wantStatus(t, err, codes.OutOfRange, cdcstreamv1.ErrorReason_CURSOR_EXPIRED.String())
	if info.GetMetadata()[server.MetadataEarliestCursor] != servertest.ID(db, 2) {
		t.Fatalf("metadata %v", info.GetMetadata())
	}

	_, err = client.GetCursor(h.ctx, &cdcstreamv1.GetCursorRequest{Database: "missing"})
	wantStatus(t, err, codes.NotFound, cdcstreamv1.ErrorReason_DATABASE_NOT_FOUND.String())
}

func TestServiceShutdown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	client := h.serve()
	stream, err := client.Subscribe(h.ctx, now())
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	start := checkpointID(t, first)
	if err := h.srv.Shutdown(h.ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	final, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if got := checkpointID(t, final); got != start {
		t.Fatalf("final checkpoint at %q, want %q", got, start)
	}
	_, err = stream.Recv()
	wantStatus(t, err, codes.Unavailable, cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN.String())

	stream, err = client.Subscribe(h.ctx, now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	wantStatus(t, err, codes.Unavailable, cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN.String())
}

// TestServiceSlowClientBoundsPolling: a client that never reads fills the HTTP/2 windows;
// then Send blocks, the sender stops taking batches, and the poller stops polling. Polls stay
// bounded by what the windows hold, far below what the source has.
func TestServiceSlowClientBoundsPolling(t *testing.T) {
	t.Parallel()
	const (
		changes = 200
		payload = 16 << 10
		bound   = 40 // 64 KiB client window + 64 KiB server write quota ≈ 8 changes, plus 3 in the pipeline
	)
	h := newHarness(t, server.WithBatchLimit(1))
	client := h.serve(grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	ids := h.src.Append(db, servertest.NodeEvents(changes, payload)...)
	stream, err := client.Subscribe(h.ctx, fromID(servertest.ID(db, 0)))
	if err != nil {
		t.Fatal(err)
	}
	// Wait until polling has stopped: the poller waits for the sender and the poll count
	// stays put over consecutive observations.
	var polls uint64
	for stable := 0; stable < 20; {
		st := h.srv.Stats()
		if st.PollersWaiting == 1 && st.Polls == polls {
			stable++
		} else {
			stable, polls = 0, st.Polls
		}
		select {
		case <-h.ctx.Done():
			t.Fatalf("polling did not stop: %+v", st)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if polls > bound {
		t.Fatalf("%d polls while the client read nothing, want at most %d", polls, bound)
	}
	t.Logf("polls while the client read nothing: %d of %d", polls, changes)
	for i := range changes {
		if got := recvChange(t, stream).GetCursor().GetId(); got != ids[i] {
			t.Fatalf("change %d at %q, want %q", i, got, ids[i])
		}
	}
}
