package e2e

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// TestGarbageCursor: a cursor that is not a Neo4j change id is INVALID_ARGUMENT / INVALID_CURSOR
// with the field named.
func TestGarbageCursor(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := newStack(t, tg)
		err, _ := s.subscribeFrom(t, &cdcstreamv1.Cursor{Id: "bm90LWEtY3Vyc29y", Database: tg.database()}).recvErr()
		wantStatus(t, err, codes.InvalidArgument, "INVALID_CURSOR")
		var field string
		if fields := testkit.StatusDetails(t, err).Fields; len(fields) > 0 {
			field = fields[0]
		}
		if field != "from_cursor.id" {
			t.Errorf("BadRequest field = %q, want from_cursor.id", field)
		}
	})
}

// TestExpiredCursor: a pruned cursor is OUT_OF_RANGE / CURSOR_EXPIRED with the earliest cursor,
// and subscribing from that earliest cursor works.
func TestExpiredCursor(t *testing.T) {
	tg := newSimTarget(t)
	s := newStack(t, tg)
	tg.write(t, nil, func(w writer) { w.createNode([]string{"Old"}, nil) })
	old := s.cursorNow(t)
	for range 5 {
		tg.write(t, nil, func(w writer) { w.createNode([]string{"New"}, nil) })
	}
	tg.db.Prune(2)
	err, _ := s.subscribeFrom(t, old).recvErr()
	ei := wantStatus(t, err, codes.OutOfRange, "CURSOR_EXPIRED")
	earliest := ei.GetMetadata()["earliest_cursor"]
	if earliest == "" {
		t.Fatalf("no earliest_cursor in %v", ei)
	}
	got, _ := s.subscribeFrom(t, &cdcstreamv1.Cursor{Id: earliest, Database: tg.database()}).changesUntilCheckpoint()
	if len(got) != 2 {
		t.Fatalf("from earliest_cursor: %d changes, want the 2 retained", len(got))
	}
}

// TestCDCDisabled: CDC switched off is FAILED_PRECONDITION / CDC_DISABLED.
func TestCDCDisabled(t *testing.T) {
	tg := newSimTarget(t)
	s := newStack(t, tg)
	c := s.cursorNow(t)
	if err := tg.db.SetCaptureMode("OFF"); err != nil {
		t.Fatal(err)
	}
	err, _ := s.subscribeFrom(t, c).recvErr()
	wantStatus(t, err, codes.FailedPrecondition, "CDC_DISABLED")
	_, err = s.cli.GetCursor(context.Background(), &cdcstreamv1.GetCursorRequest{Database: tg.database()})
	wantStatus(t, err, codes.FailedPrecondition, "CDC_DISABLED")
}

// TestUnknownDatabase: NOT_FOUND / DATABASE_NOT_FOUND.
func TestUnknownDatabase(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := newStack(t, tg)
		_, err := s.cli.GetCursor(context.Background(), &cdcstreamv1.GetCursorRequest{Database: "nosuchdb"})
		wantStatus(t, err, codes.NotFound, "DATABASE_NOT_FOUND")
		err, _ = s.subscribe(t, &cdcstreamv1.SubscribeRequest{Database: "nosuchdb"}).recvErr()
		wantStatus(t, err, codes.NotFound, "DATABASE_NOT_FOUND")
	})
}

// TestNeo4jDown: with Neo4j gone, a stream ends UNAVAILABLE / NEO4J_UNAVAILABLE with RetryInfo.
func TestNeo4jDown(t *testing.T) {
	tg := newSimTarget(t)
	s := newStack(t, tg)
	c := s.cursorNow(t)
	sub := s.subscribeFrom(t, c)
	if _, cp := sub.changesUntilCheckpoint(); cp == nil {
		t.Fatal("no checkpoint")
	}
	tg.srv.RefuseConnections(true)
	tg.srv.DropConnections()
	err, _ := sub.recvErr()
	wantStatus(t, err, codes.Unavailable, "NEO4J_UNAVAILABLE")
	if _, retry := testkit.StatusDetails(t, err).RetryDelay(); !retry {
		t.Errorf("NEO4J_UNAVAILABLE without RetryInfo: %v", status.Convert(err).Details())
	}
}

// TestShutdown: shutdown sends each stream a final checkpoint, then UNAVAILABLE /
// SERVER_SHUTTING_DOWN; resuming from that checkpoint on a new server loses nothing.
func TestShutdown(t *testing.T) {
	tg := newSimTarget(t)
	s := newStack(t, tg)
	c := s.cursorNow(t)
	tg.write(t, nil, func(w writer) { w.createNode([]string{"BeforeShutdown"}, nil) })
	sub := s.subscribeFrom(t, c)
	sub.changes(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shut := make(chan error, 1) // Shutdown's result
	go func() { shut <- s.svc.Shutdown(ctx) }()
	err, before := sub.recvErr()
	wantStatus(t, err, codes.Unavailable, "SERVER_SHUTTING_DOWN")
	if len(before) == 0 || before[len(before)-1].GetCheckpoint() == nil {
		t.Fatalf("no final checkpoint before UNAVAILABLE: %v", before)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	final := before[len(before)-1].GetCheckpoint().GetCursor()

	tg.write(t, nil, func(w writer) { w.createNode([]string{"AfterShutdown"}, nil) })
	s2 := newStack(t, tg)
	got := s2.subscribeFrom(t, final).changes(1)[0]
	if !contains(got.GetNode().GetLabels(), "AfterShutdown") {
		t.Fatalf("resumed at %v, want the change made after shutdown", got.GetNode().GetLabels())
	}
}

// TestIdleCheckpointsAdvance: a stream whose selector matches nothing still receives
// checkpoints, and their cursor moves past the changes it did not match.
func TestIdleCheckpointsAdvance(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := newStack(t, tg)
		c := s.cursorNow(t)
		for range 3 {
			tg.write(t, nil, func(w writer) { w.createNode([]string{"Unwatched"}, nil) })
		}
		none := &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: []string{"NeverWritten"}}}}
		got, cp := s.subscribeFrom(t, c, none).changesUntilCheckpoint()
		if len(got) != 0 {
			t.Fatalf("non-matching selector delivered %d changes", len(got))
		}
		if cp.GetCursor().GetId() == c.GetId() {
			t.Fatalf("checkpoint cursor did not move past the non-matching changes")
		}
		tg.write(t, nil, func(w writer) { w.createNode([]string{"Watched"}, nil) })
		first := s.subscribeFrom(t, cp.GetCursor()).changes(1)[0]
		if !contains(first.GetNode().GetLabels(), "Watched") {
			t.Fatalf("resuming from the checkpoint replayed %v: the cursor did not advance", first.GetNode().GetLabels())
		}
	})
}
