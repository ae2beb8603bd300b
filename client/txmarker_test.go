package client

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// marker is a server's TransactionEnd for tx counting count changes, at cursor c-<tx>-<lastSeq>.
func marker(tx, count, lastSeq int64) *cdcstreamv1.SubscribeResponse {
	return &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_TransactionEnd{
		TransactionEnd: &cdcstreamv1.TransactionEnd{TxId: tx, ChangeCount: count, Cursor: cursor(fmt.Sprintf("c-%d-%d", tx, lastSeq))},
	}}
}

// markersReq is fromReq asking for transaction markers.
func markersReq() *cdcstreamv1.SubscribeRequest {
	req := fromReq()
	req.TransactionMarkers = true
	return req
}

// describe renders msgs as "ch 1/0" (change tx/seq), "end 1 x2 @c-1-1" (marker: tx, count,
// cursor) and "cp <id>" (checkpoint), so a whole sequence compares at once.
func describe(msgs []*cdcstreamv1.SubscribeResponse) []string {
	var out []string
	for _, m := range msgs {
		switch {
		case m.GetChange() != nil:
			out = append(out, fmt.Sprintf("ch %d/%d", m.GetChange().GetTxId(), m.GetChange().GetSeq()))
		case m.GetTransactionEnd() != nil:
			te := m.GetTransactionEnd()
			out = append(out, fmt.Sprintf("end %d x%d @%s", te.GetTxId(), te.GetChangeCount(), te.GetCursor().GetId()))
		case m.GetCheckpoint() != nil:
			out = append(out, "cp "+m.GetCheckpoint().GetCursor().GetId())
		default:
			out = append(out, fmt.Sprintf("other %v", m))
		}
	}
	return out
}

// stopErr ends a script with a status the client does not retry, so endOf can check that
// nothing more was yielded.
var stopErr = status.Error(codes.InvalidArgument, "scripted end")

// expectSequence receives len(want) messages, compares them with want, then checks that the
// subscription ends with stopErr's code and yields nothing more.
func expectSequence(t *testing.T, sub *Subscription, want []string) []*cdcstreamv1.SubscribeResponse {
	t.Helper()
	got := receiveN(t, sub, len(want))
	if !slices.Equal(describe(got), want) {
		t.Fatalf("messages\n %q\nwant\n %q", describe(got), want)
	}
	if err := endOf(t, sub); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("ended with %v, want the scripted end", err)
	}
	return got
}

func TestTransactionMarkersPassThrough(t *testing.T) {
	f, conn := startFake(t,
		sendThen(stopErr, change(1, 0), change(1, 1), marker(1, 2, 1), change(2, 0), marker(2, 1, 0), checkpoint("cp-2")),
	)
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), markersReq())
	defer sub.Close()
	expectSequence(t, sub, []string{"ch 1/0", "ch 1/1", "end 1 x2 @c-1-1", "ch 2/0", "end 2 x1 @c-2-0", "cp cp-2"})
	if reqs := f.subscribeRequests(); !reqs[0].GetTransactionMarkers() {
		t.Fatal("the request sent did not ask for transaction markers")
	}
}

func TestTransactionMarkerCountsSumAcrossAResume(t *testing.T) {
	f, conn := startFake(t,
		sendThen(status.Error(codes.Unavailable, "gone"), change(1, 0), change(1, 1)),
		// The resumed stream repeats c-1-1 (dropped as already delivered) and counts only what
		// it sent itself.
		sendThen(stopErr, change(1, 1), change(1, 2), marker(1, 2, 2), change(2, 0), marker(2, 1, 0)),
	)
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), markersReq())
	defer sub.Close()
	expectSequence(t, sub, []string{"ch 1/0", "ch 1/1", "ch 1/2", "end 1 x3 @c-1-2", "ch 2/0", "end 2 x1 @c-2-0"})
	reqs := f.subscribeRequests()
	if want := []string{"c-0-0", "c-1-1"}; !slices.Equal(fromCursors(reqs), want) {
		t.Fatalf("subscribed from %v, want %v", fromCursors(reqs), want)
	}
	if !reqs[1].GetTransactionMarkers() {
		t.Fatal("the resumed request did not ask for transaction markers")
	}
}

func TestTransactionMarkerSynthesizedWhenTheResumeLandsBetweenTransactions(t *testing.T) {
	commit := timestamppb.New(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	withTime := func(tx, seq int64) *cdcstreamv1.SubscribeResponse {
		m := change(tx, seq)
		m.GetChange().Metadata = &cdcstreamv1.Metadata{TxCommitTime: commit}
		return m
	}
	t.Run("a change of the next transaction", func(t *testing.T) {
		_, conn := startFake(t,
			sendThen(status.Error(codes.Unavailable, "gone"), withTime(1, 0), withTime(1, 1)),
			// The server never saw transaction 1 on this stream, so it cannot mark it.
			sendThen(stopErr, change(2, 0), marker(2, 1, 0)),
		)
		store := &memStore{}
		sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), markersReq(), WithCheckpointStore(store))
		defer sub.Close()
		got := receiveN(t, sub, 3)
		if want := []string{"ch 1/0", "ch 1/1", "end 1 x2 @c-1-1"}; !slices.Equal(describe(got), want) {
			t.Fatalf("messages %q, want %q", describe(got), want)
		}
		if ct := got[2].GetTransactionEnd().GetCommitTime(); !ct.AsTime().Equal(commit.AsTime()) {
			t.Fatalf("synthesized marker commit time %v, want %v", ct, commit)
		}
		if err := sub.Commit(t.Context()); err != nil || store.c.GetId() != "c-1-1" {
			t.Fatalf("Commit after the marker stored %v (%v), want c-1-1", store.c, err)
		}
		if got := sub.Cursor().GetId(); got != "c-1-1" {
			t.Fatalf("Cursor() before the held-back change = %q, want c-1-1", got)
		}
		expectSequence(t, sub, []string{"ch 2/0", "end 2 x1 @c-2-0"})
	})
	t.Run("a checkpoint past the last change", func(t *testing.T) {
		_, conn := startFake(t,
			sendThen(status.Error(codes.Unavailable, "gone"), change(1, 0), change(1, 1)),
			// A checkpoint at the last change's own cursor proves nothing; one past it does.
			sendThen(stopErr, checkpoint("c-1-1"), checkpoint("cp-9"), checkpoint("cp-10")),
		)
		sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), markersReq())
		defer sub.Close()
		expectSequence(t, sub, []string{"ch 1/0", "ch 1/1", "cp c-1-1", "end 1 x2 @c-1-1", "cp cp-9", "cp cp-10"})
	})
}

func TestTransactionMarkerNotSynthesizedAtACheckpointInsideTheStreamsTransaction(t *testing.T) {
	// The stream that sent changes of transaction 1 checkpoints inside it (a read that stopped
	// within a large transaction, at a change no selector matched), then sends the rest and the
	// marker: the checkpoint proves nothing on that attempt.
	_, conn := startFake(t,
		sendThen(stopErr, change(1, 0), checkpoint("c-1-1"), change(1, 2), marker(1, 2, 2), checkpoint("cp-5")),
	)
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), markersReq())
	defer sub.Close()
	expectSequence(t, sub, []string{"ch 1/0", "cp c-1-1", "ch 1/2", "end 1 x2 @c-1-2", "cp cp-5"})
}

func TestTransactionMarkerNeverTwiceForOneTransaction(t *testing.T) {
	_, conn := startFake(t,
		sendThen(status.Error(codes.Unavailable, "gone"), change(1, 0)),
		// Transaction 1 is marked by the library at change 2/0; the server's late marker for it,
		// a repeated marker for 2, a marker for a transaction none of whose changes were
		// delivered, and a stray change of a marked transaction earn no further marker.
		sendThen(status.Error(codes.Unavailable, "gone"), change(2, 0), marker(1, 1, 0), marker(2, 1, 0), marker(2, 1, 0)),
		sendThen(stopErr, change(2, 0), marker(2, 1, 0), marker(7, 4, 3), checkpoint("cp-3"), change(3, 0), change(3, 1), marker(3, 2, 1), marker(3, 2, 1), checkpoint("cp-4")),
	)
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), markersReq())
	defer sub.Close()
	expectSequence(t, sub, []string{"ch 1/0", "end 1 x1 @c-1-0", "ch 2/0", "end 2 x1 @c-2-0", "cp cp-3",
		"ch 3/0", "ch 3/1", "end 3 x2 @c-3-1", "cp cp-4"})
}

func TestTransactionMarkersOffByDefault(t *testing.T) {
	_, conn := startFake(t,
		sendThen(status.Error(codes.Unavailable, "gone"), change(1, 0), change(1, 1), marker(1, 2, 1)),
		sendThen(stopErr, change(2, 0), checkpoint("cp-2")),
	)
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	// Without transaction_markers the library neither passes on a marker nor makes one.
	expectSequence(t, sub, []string{"ch 1/0", "ch 1/1", "ch 2/0", "cp cp-2"})
}

func TestTransactionMarkerForgottenAtAGap(t *testing.T) {
	var s txState
	s.on = true
	s.delivered(change(5, 0).GetChange())
	s.reset()
	if m := s.before(change(6, 0)); m != nil {
		t.Fatalf("a marker after a gap for a transaction that may have lost changes: %v", m)
	}
	// After the gap the log may start lower; transaction ids below the old ones are marked again.
	s.delivered(change(1, 0).GetChange())
	if m := s.fromServer(marker(1, 1, 0).GetTransactionEnd()); m.GetTransactionEnd().GetChangeCount() != 1 {
		t.Fatalf("marker after the gap %v", m)
	}
}
