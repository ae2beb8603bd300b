package server_test

import (
	"context"
	"fmt"
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"testing"

	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
	"google.golang.org/grpc/codes"
)

func TestShutdownSendsFinalCheckpointThenUnavailable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ids := h.src.Commit(db, 3)
	idle := h.subscribe(now(), nil)
	idle.rec.wait(t, h.ctx, 1)
	busy := h.subscribe(fromID(servertest.ID(db, 0)), nil)
	busy.rec.wait(t, h.ctx, 3)

	if err := h.srv.Shutdown(h.ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for name, tc := range map[string]struct {
		s    *sub
		want string
	}{"idle": {idle, servertest.ID(db, 3)}, "busy": {busy, ids[2]}} {
		wantStatus(t, tc.s.result(t, h.ctx), codes.Unavailable, cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN.String())
		msgs := tc.s.rec.messages()
		if got := checkpointID(t, msgs[len(msgs)-1]); got != tc.want {
			t.Fatalf("%s: final checkpoint at %q, want %q", name, got, tc.want)
		}
	}
	err := h.srv.SubscribeSend(h.ctx, now(), newRecorder().send)
	wantStatus(t, err, codes.Unavailable, cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN.String())
	if err := h.srv.Ready(h.ctx); err == nil {
		t.Fatal("Ready after Shutdown")
	}
	if st := h.srv.Stats(); st.ActiveSubscriptions != 0 {
		t.Fatalf("%d active subscriptions after Shutdown", st.ActiveSubscriptions)
	}
	if err := h.srv.Shutdown(h.ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestShutdownGivesUpWhenContextEnds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rec := newRecorder()
	rec.gate = make(chan struct{}) // the client never reads: the final checkpoint blocks
	h.subscribe(now(), rec)
	h.waitStats("the subscription", func(st server.Stats) bool { return st.ActiveSubscriptions == 1 })
	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	if err := h.srv.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown returned nil with a stream still open")
	}
	rec.open()
	if err := h.srv.Shutdown(h.ctx); err != nil {
		t.Fatalf("Shutdown after the client read: %v", err)
	}
}

func TestShutdownAbortsStartResolution(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// entered is closed when the subscription's Current call is blocked in Neo4j.
	entered := make(chan struct{})
	h.src.SetHook(func(ctx context.Context, m servertest.Method) error {
		if m != servertest.MethodCurrent {
			return nil
		}
		close(entered)
		<-ctx.Done()
		return fmt.Errorf("fake: %w: %w", server.ErrNeo4jUnavailable, ctx.Err())
	})
	s := h.subscribe(now(), nil)
	select {
	case <-entered:
	case <-h.ctx.Done():
		t.Fatal("Current not called")
	}
	if err := h.srv.Shutdown(h.ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wantStatus(t, s.result(t, h.ctx), codes.Unavailable, cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN.String())
	if msgs := s.rec.messages(); len(msgs) != 0 {
		t.Fatalf("messages without a start cursor: %v", msgs)
	}
}
