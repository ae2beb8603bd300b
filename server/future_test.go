package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

// futureServer is a server on the system clock with short polls and the given future-cursor
// timeout, over a fake source whose head is at position 10.
func futureServer(t *testing.T, timeout time.Duration) (*server.Server, *servertest.FakeSource) {
	t.Helper()
	src := servertest.NewFakeSource(db)
	src.Commit(db, 10)
	// The subscription's own polls: with the shared tail, a cursor at the head is served from
	// the window without a poll.
	srv, err := server.New(src, server.WithPollInterval(5*time.Millisecond), server.WithFutureCursorTimeout(timeout),
		server.WithSharedTail(false))
	if err != nil {
		t.Fatal(err)
	}
	return srv, src
}

// everySecond asks for a checkpoint after each quiet second (the shortest interval).
func everySecond(req *cdcstreamv1.SubscribeRequest) *cdcstreamv1.SubscribeRequest {
	req.CheckpointInterval = durationpb.New(time.Second)
	return req
}

// TestForgedFutureCursorEnds: a cursor a million positions past the head is answered "in the
// future" on every poll; after the future-cursor timeout the stream ends with OUT_OF_RANGE,
// reason CURSOR_IN_FUTURE, and meanwhile (several checkpoint intervals) it got no Checkpoint
// certifying the forged cursor.
func TestForgedFutureCursorEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	srv, src := futureServer(t, 2500*time.Millisecond)
	forged := servertest.ID(db, 1_000_010)
	rec := newRecorder()
	err := srv.SubscribeSend(ctx, everySecond(fromID(forged)), rec.send)
	info := wantStatus(t, err, codes.OutOfRange, cdcstreamv1.ErrorReason_CURSOR_IN_FUTURE.String())
	if info.GetMetadata()[server.MetadataDatabase] != db {
		t.Errorf("metadata %v", info.GetMetadata())
	}
	if _, _, _, bad := statusInfo(t, err); len(bad.GetFieldViolations()) != 1 || bad.GetFieldViolations()[0].GetField() != "from_cursor.id" {
		t.Errorf("BadRequest %v", bad)
	}
	if msgs := rec.messages(); len(msgs) != 0 {
		t.Fatalf("the forged cursor got %d messages, first %v", len(msgs), msgs[0])
	}
	if n := src.Calls(servertest.MethodPoll); n < 2 {
		t.Fatalf("%d polls: the stream ended before retrying", n)
	}
}

// TestLaggingMemberCatchesUp: a member that answers "in the future" a few times and then
// catches up is replica lag: the stream goes on, and its checkpoints, certifying the cursor
// only after a poll accepted it, follow.
func TestLaggingMemberCatchesUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	srv, src := futureServer(t, time.Minute)
	lag := fmt.Errorf("fake: %w: lagging follower", server.ErrFutureCursor)
	src.FailNext(servertest.MethodPoll, lag, lag, lag)
	rec := newRecorder()
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.SubscribeSend(sctx, everySecond(fromID(servertest.ID(db, 10))), rec.send) }()
	msgs := rec.wait(t, ctx, 1)
	if got := checkpointID(t, msgs[0]); got != servertest.ID(db, 10) {
		t.Fatalf("checkpoint at %q", got)
	}
	if n := src.Calls(servertest.MethodPoll); n < 4 {
		t.Fatalf("checkpoint after %d polls: before the cursor was accepted", n)
	}
	stop()
	wantStatus(t, <-done, codes.Canceled, "")
}
