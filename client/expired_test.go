package client

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// expiredErr is a CURSOR_EXPIRED status naming earliest.
func expiredErr(t *testing.T, earliest string) error {
	t.Helper()
	return statusErr(t, codes.OutOfRange, cdcstreamv1.ErrorReason_CURSOR_EXPIRED.String(), map[string]string{MetadataEarliestCursor: earliest}, 0)
}

func TestExpiredFailIsTheDefault(t *testing.T) {
	_, conn := startFake(t, sendThen(expiredErr(t, "e-5"), change(1, 0)))
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	receiveN(t, sub, 1)
	err := endOf(t, sub)
	if !IsCursorExpired(err) {
		t.Fatalf("IsCursorExpired(%v) = false", err)
	}
	if c := EarliestCursor(err); c.GetId() != "e-5" || c.GetDatabase() != "neo4j" {
		t.Fatalf("EarliestCursor = %v", c)
	}
	if status.Code(err) != codes.OutOfRange {
		t.Fatalf("status.Code = %v", status.Code(err))
	}
	var ce *CursorExpiredError
	if !errors.As(err, &ce) || ce.Expired.GetId() != "c-1-0" {
		t.Fatalf("CursorExpiredError = %+v", ce)
	}
	// The predicates also work on a bare status.
	bare := expiredErr(t, "e-7")
	if !IsCursorExpired(bare) || EarliestCursor(bare).GetId() != "e-7" {
		t.Fatal("predicates fail on a bare status")
	}
	if IsCursorExpired(status.Error(codes.OutOfRange, "other")) || EarliestCursor(errors.New("x")) != nil {
		t.Fatal("predicates match unrelated errors")
	}
}

// checkGap checks that msg is the synthetic restart message from -> resumed.
func checkGap(t *testing.T, sub *Subscription, msg *cdcstreamv1.SubscribeResponse, from, resumed string) {
	t.Helper()
	g := sub.Gap()
	if g == nil {
		t.Fatalf("no gap reported with %v", msg)
	}
	if g.From.GetId() != from || g.Resumed.GetId() != resumed || g.Reason != cdcstreamv1.ErrorReason_CURSOR_EXPIRED || !IsCursorExpired(g.Err) {
		t.Fatalf("gap %+v, want %s -> %s", g, from, resumed)
	}
	if msg.GetCheckpoint().GetCursor().GetId() != resumed {
		t.Fatalf("gap message %v, want a checkpoint at %s", msg, resumed)
	}
}

func TestExpiredRestartEarliestReportsTheGap(t *testing.T) {
	f, conn := startFake(t,
		sendThen(expiredErr(t, "c-5-0"), change(1, 0)),
		sendThenHang(change(6, 0)),
	)
	store := &memStore{}
	sub := newTestClient(conn, newFakeClock(), WithExpiredPolicy(ExpiredRestartEarliest)).
		Subscribe(testCtx(t), fromReq(), WithCheckpointStore(store))
	defer sub.Close()
	if !sub.Receive() || sub.Gap() != nil || sub.Msg().GetChange().GetTxId() != 1 {
		t.Fatalf("first message %v gap %v", sub.Msg(), sub.Gap())
	}
	if !sub.Receive() {
		t.Fatal(sub.Err())
	}
	checkGap(t, sub, sub.Msg(), "c-1-0", "c-5-0")
	if err := sub.Commit(testCtx(t)); err != nil || store.c.GetId() != "c-5-0" {
		t.Fatalf("commit of the gap message: %v, stored %v", err, store.c)
	}
	if !sub.Receive() || sub.Gap() != nil || sub.Msg().GetChange().GetTxId() != 6 {
		t.Fatalf("message after the gap %v gap %v", sub.Msg(), sub.Gap())
	}
	if want := []string{"c-0-0", "c-5-0"}; !slices.Equal(fromCursors(f.subscribeRequests()), want) {
		t.Fatalf("subscribed from %v, want %v", fromCursors(f.subscribeRequests()), want)
	}
}

func TestExpiredRestartEarliestWithoutMetadataAsksTheServer(t *testing.T) {
	f, conn := startFake(t,
		sendThen(statusErr(t, codes.OutOfRange, cdcstreamv1.ErrorReason_CURSOR_EXPIRED.String(), nil, 0)),
		sendThenHang(change(6, 0)),
	)
	sub := newTestClient(conn, newFakeClock(), WithExpiredPolicy(ExpiredRestartEarliest)).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	msgs := receiveN(t, sub, 1)
	checkGap(t, sub, msgs[0], "c-0-0", "earliest")
	gc := f.getCursorRequests()
	if len(gc) != 1 || gc[0].GetPosition() != cdcstreamv1.StartPosition_START_POSITION_EARLIEST || gc[0].GetDatabase() != "neo4j" {
		t.Fatalf("GetCursor requests %v", gc)
	}
	receiveN(t, sub, 1)
	if want := []string{"c-0-0", "earliest"}; !slices.Equal(fromCursors(f.subscribeRequests()), want) {
		t.Fatalf("subscribed from %v, want %v", fromCursors(f.subscribeRequests()), want)
	}
}

func TestExpiredRestartNowReportsTheGap(t *testing.T) {
	f, conn := startFake(t,
		sendThen(expiredErr(t, "c-5-0"), change(1, 0)),
		sendThenHang(change(9, 0)),
	)
	sub := newTestClient(conn, newFakeClock(), WithExpiredPolicy(ExpiredRestartNow)).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	msgs := receiveN(t, sub, 3)
	if msgs[0].GetChange().GetTxId() != 1 {
		t.Fatalf("first message %v", msgs[0])
	}
	// The gap's fields are checked in TestExpiredRestartNowGapFields.
	if msgs[1].GetCheckpoint().GetCursor().GetId() != "now" || msgs[2].GetChange().GetTxId() != 9 {
		t.Fatalf("messages %v", msgs)
	}
	if want := []string{"c-0-0", "now"}; !slices.Equal(fromCursors(f.subscribeRequests()), want) {
		t.Fatalf("subscribed from %v, want %v", fromCursors(f.subscribeRequests()), want)
	}
	gc := f.getCursorRequests()
	if len(gc) != 1 || gc[0].GetPosition() != cdcstreamv1.StartPosition_START_POSITION_NOW {
		t.Fatalf("GetCursor requests %v", gc)
	}
}

func TestExpiredRestartNowGapFields(t *testing.T) {
	_, conn := startFake(t, sendThen(expiredErr(t, "c-5-0")), sendThenHang())
	sub := newTestClient(conn, newFakeClock(), WithExpiredPolicy(ExpiredRestartNow)).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	msgs := receiveN(t, sub, 1)
	checkGap(t, sub, msgs[0], "c-0-0", "now")
}

func TestDeduplicationRestartsWithTheGap(t *testing.T) {
	// After a restart (say, the database was recreated) tx ids may start lower again; the
	// reported gap resets the high-water mark so those changes are delivered.
	_, conn := startFake(t,
		sendThen(expiredErr(t, "fresh-0"), change(50, 0)),
		sendThenHang(change(1, 0), change(1, 1)),
	)
	sub := newTestClient(conn, newFakeClock(), WithExpiredPolicy(ExpiredRestartEarliest)).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	if got := txIDs(receiveN(t, sub, 4)); !slices.Equal(got, []int64{50, -1, 1, 1}) {
		t.Fatalf("tx ids %v, want [50 gap 1 1]", got)
	}
}
