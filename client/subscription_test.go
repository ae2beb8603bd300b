package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/proctest"
)

// testCtx bounds a test so a bug hangs it for seconds, not minutes.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newTestClient returns a client on the fake clock clk, which records its backoff waits, and
// whose jitter is the identity (the bound itself), so waits are deterministic.
func newTestClient(conn grpc.ClientConnInterface, clk *fakeClock, opts ...Option) *Client {
	base := []Option{withClock(clk), withJitter(func(d time.Duration) time.Duration { return d })}
	return New(conn, append(base, opts...)...)
}

// fromReq is a request resuming after c-0-0 in database neo4j.
func fromReq() *cdcstreamv1.SubscribeRequest {
	return &cdcstreamv1.SubscribeRequest{
		Database: "neo4j",
		Start:    &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: cursor("c-0-0")},
	}
}

// receiveN receives n messages and returns them; it fails the test if the subscription ends.
func receiveN(t *testing.T, sub *Subscription, n int) []*cdcstreamv1.SubscribeResponse {
	t.Helper()
	var got []*cdcstreamv1.SubscribeResponse
	for len(got) < n {
		if !sub.Receive() {
			t.Fatalf("subscription ended after %d of %d messages: %v", len(got), n, sub.Err())
		}
		got = append(got, sub.Msg())
	}
	return got
}

// txIDs lists the tx ids of the changes in msgs, and -1 for checkpoints.
func txIDs(msgs []*cdcstreamv1.SubscribeResponse) []int64 {
	var ids []int64
	for _, m := range msgs {
		if ch := m.GetChange(); ch != nil {
			ids = append(ids, ch.GetTxId())
		} else {
			ids = append(ids, -1)
		}
	}
	return ids
}

// fromCursors lists the from_cursor ids of requests ("" when none).
func fromCursors(reqs []*cdcstreamv1.SubscribeRequest) []string {
	var ids []string
	for _, r := range reqs {
		ids = append(ids, r.GetFromCursor().GetId())
	}
	return ids
}

// endOf receives until the subscription ends and returns its error; messages fail the test.
func endOf(t *testing.T, sub *Subscription) error {
	t.Helper()
	for sub.Receive() {
		t.Fatalf("unexpected message %v", sub.Msg())
	}
	return sub.Err()
}

func TestResumeAfterUnavailableFromNewestCursor(t *testing.T) {
	f, conn := startFake(t,
		sendThen(status.Error(codes.Unavailable, "gone"), change(1, 0), change(1, 1), checkpoint("cp-1")),
		sendThenHang(change(2, 0)),
	)
	clk := newFakeClock()
	sub := newTestClient(conn, clk).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	got := receiveN(t, sub, 4)
	if want := []int64{1, 1, -1, 2}; !slices.Equal(txIDs(got), want) {
		t.Fatalf("tx ids %v, want %v", txIDs(got), want)
	}
	if want := []string{"c-0-0", "cp-1"}; !slices.Equal(fromCursors(f.subscribeRequests()), want) {
		t.Fatalf("subscribed from %v, want %v", fromCursors(f.subscribeRequests()), want)
	}
	if got := sub.Cursor().GetId(); got != "c-2-0" {
		t.Fatalf("Cursor() = %q, want c-2-0", got)
	}
	if n := len(clk.recorded()); n != 1 {
		t.Fatalf("backoff waits %v, want exactly one", clk.recorded())
	}
	// The resumed request keeps the caller's other fields.
	if db := f.subscribeRequests()[1].GetDatabase(); db != "neo4j" {
		t.Fatalf("resumed request database %q", db)
	}
}

func TestResumesOnStreamEndWithoutStatusAndResourceExhausted(t *testing.T) {
	f, conn := startFake(t,
		sendThen(nil, change(1, 0)), // io.EOF at the client: the stream ended "OK"
		sendThen(status.Error(codes.ResourceExhausted, "busy")),
		sendThen(status.Error(codes.Aborted, "aborted")),
		sendThenHang(change(2, 0)),
	)
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	got := receiveN(t, sub, 2)
	if want := []int64{1, 2}; !slices.Equal(txIDs(got), want) {
		t.Fatalf("tx ids %v, want %v", txIDs(got), want)
	}
	if want := []string{"c-0-0", "c-1-0", "c-1-0", "c-1-0"}; !slices.Equal(fromCursors(f.subscribeRequests()), want) {
		t.Fatalf("subscribed from %v, want %v", fromCursors(f.subscribeRequests()), want)
	}
}

func TestRetryInfoDelayIsHonoured(t *testing.T) {
	_, conn := startFake(t,
		sendThen(statusErr(t, codes.Unavailable, "NEO4J_UNAVAILABLE", nil, 7*time.Second)),
		sendThen(statusErr(t, codes.ResourceExhausted, "TOO_MANY_SUBSCRIPTIONS", nil, 3*time.Second)),
		sendThenHang(change(1, 0)),
	)
	clk := newFakeClock()
	sub := newTestClient(conn, clk).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	receiveN(t, sub, 1)
	if want := []time.Duration{7 * time.Second, 3 * time.Second}; !slices.Equal(clk.recorded(), want) {
		t.Fatalf("waits %v, want %v", clk.recorded(), want)
	}
}

func TestBackoffDoublesUpToMaxAndResetsAfterAMessage(t *testing.T) {
	unavailable := sendThen(status.Error(codes.Unavailable, "gone"))
	_, conn := startFake(t,
		unavailable, unavailable, unavailable, unavailable,
		sendThen(status.Error(codes.Unavailable, "gone"), change(1, 0)),
		sendThenHang(change(2, 0)),
	)
	clk := newFakeClock()
	sub := newTestClient(conn, clk, WithBackoff(10*time.Millisecond, 40*time.Millisecond)).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	receiveN(t, sub, 2)
	ms := time.Millisecond
	if want := []time.Duration{10 * ms, 20 * ms, 40 * ms, 40 * ms, 10 * ms}; !slices.Equal(clk.recorded(), want) {
		t.Fatalf("waits %v, want %v", clk.recorded(), want)
	}
}

func TestFullJitterStaysWithinBound(t *testing.T) {
	for range 1000 {
		if d := fullJitter(50 * time.Millisecond); d < 0 || d > 50*time.Millisecond {
			t.Fatalf("fullJitter(50ms) = %v", d)
		}
	}
	if d := fullJitter(0); d != 0 {
		t.Fatalf("fullJitter(0) = %v", d)
	}
}

func TestStopCodes(t *testing.T) {
	for _, code := range []codes.Code{
		codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.PermissionDenied,
		codes.Unauthenticated, codes.Unimplemented, codes.OutOfRange, codes.Canceled,
	} {
		t.Run(code.String(), func(t *testing.T) {
			f, conn := startFake(t, sendThen(statusErr(t, code, "SOME_REASON", nil, 0), change(1, 0)))
			sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), fromReq())
			defer sub.Close()
			receiveN(t, sub, 1)
			err := endOf(t, sub)
			if status.Code(err) != code {
				t.Fatalf("Err() = %v, want code %v", err, code)
			}
			if Reason(err) != "SOME_REASON" {
				t.Fatalf("Reason = %q", Reason(err))
			}
			if n := len(f.subscribeRequests()); n != 1 {
				t.Fatalf("%d Subscribe calls, want 1", n)
			}
			if sub.Receive() {
				t.Fatal("Receive after the end returned true")
			}
		})
	}
}

func TestInternalIsRetriedABoundedNumberOfTimes(t *testing.T) {
	internal := sendThen(status.Error(codes.Internal, "boom"))
	t.Run("gives up", func(t *testing.T) {
		f, conn := startFake(t, internal, internal, internal, internal)
		sub := newTestClient(conn, newFakeClock(), WithMaxInternalRetries(2)).Subscribe(testCtx(t), fromReq())
		defer sub.Close()
		if err := endOf(t, sub); status.Code(err) != codes.Internal {
			t.Fatalf("Err() = %v, want INTERNAL", err)
		}
		if n := len(f.subscribeRequests()); n != 3 {
			t.Fatalf("%d Subscribe calls, want 3 (1 + 2 retries)", n)
		}
	})
	t.Run("default is 5", func(t *testing.T) {
		f, conn := startFake(t, internal, internal, internal, internal, internal, internal, internal)
		sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), fromReq())
		defer sub.Close()
		if err := endOf(t, sub); status.Code(err) != codes.Internal {
			t.Fatalf("Err() = %v, want INTERNAL", err)
		}
		if n := len(f.subscribeRequests()); n != 6 {
			t.Fatalf("%d Subscribe calls, want 6", n)
		}
	})
	t.Run("a message resets the count", func(t *testing.T) {
		_, conn := startFake(t, internal, internal,
			sendThen(status.Error(codes.Internal, "boom"), change(1, 0)),
			internal, sendThenHang(change(2, 0)))
		sub := newTestClient(conn, newFakeClock(), WithMaxInternalRetries(2)).Subscribe(testCtx(t), fromReq())
		defer sub.Close()
		if got := txIDs(receiveN(t, sub, 2)); !slices.Equal(got, []int64{1, 2}) {
			t.Fatalf("tx ids %v", got)
		}
	})
}

func TestMaxRetriesBoundsUnavailable(t *testing.T) {
	unavailable := sendThen(status.Error(codes.Unavailable, "gone"))
	f, conn := startFake(t, unavailable, unavailable, unavailable, unavailable)
	sub := newTestClient(conn, newFakeClock(), WithMaxRetries(2)).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	if err := endOf(t, sub); status.Code(err) != codes.Unavailable {
		t.Fatalf("Err() = %v, want UNAVAILABLE", err)
	}
	if n := len(f.subscribeRequests()); n != 3 {
		t.Fatalf("%d Subscribe calls, want 3", n)
	}
}

func TestDeduplicatesResentChanges(t *testing.T) {
	f, conn := startFake(t,
		sendThen(status.Error(codes.Unavailable, "gone"), change(1, 0), change(1, 1), change(2, 0)),
		// A server resuming from an older position re-sends what was delivered.
		sendThenHang(change(1, 0), change(1, 1), change(2, 0), checkpoint("cp-2"), change(2, 1), change(3, 0)),
	)
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	got := receiveN(t, sub, 6)
	var pairs []string
	for _, m := range got {
		if ch := m.GetChange(); ch != nil {
			pairs = append(pairs, fmt.Sprintf("%d/%d", ch.GetTxId(), ch.GetSeq()))
		} else {
			pairs = append(pairs, "cp")
		}
	}
	if want := []string{"1/0", "1/1", "2/0", "cp", "2/1", "3/0"}; !slices.Equal(pairs, want) {
		t.Fatalf("delivered %v, want %v", pairs, want)
	}
	if n := len(f.subscribeRequests()); n != 2 {
		t.Fatalf("%d Subscribe calls, want 2", n)
	}
}

func TestUnknownMessageKindsAreIgnored(t *testing.T) {
	_, conn := startFake(t, sendThenHang(&cdcstreamv1.SubscribeResponse{}, change(1, 0)))
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	if got := txIDs(receiveN(t, sub, 1)); !slices.Equal(got, []int64{1}) {
		t.Fatalf("tx ids %v", got)
	}
}

func TestWatchdogReconnectsASilentStream(t *testing.T) {
	silent := sendThenHang()
	f, conn := startFake(t, silent, sendThenHang(change(1, 0)))
	clk := newFakeClock()
	tripWatchdog(t, clk, 20*time.Millisecond, f.subscribed) // the first stream stays silent that long
	sub := newTestClient(conn, clk, WithWatchdog(20*time.Millisecond)).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	if got := txIDs(receiveN(t, sub, 1)); !slices.Equal(got, []int64{1}) {
		t.Fatalf("tx ids %v", got)
	}
	if want := []string{"c-0-0", "c-0-0"}; !slices.Equal(fromCursors(f.subscribeRequests()), want) {
		t.Fatalf("subscribed from %v, want %v", fromCursors(f.subscribeRequests()), want)
	}
}

func TestWatchdogDefaultIsThreeCheckpointIntervals(t *testing.T) {
	c := New(nil)
	req := fromReq()
	if d := c.Subscribe(context.Background(), req).watchdogTimeout(); d != 30*time.Second {
		t.Fatalf("default watchdog %v", d)
	}
	req.CheckpointInterval = durationpb.New(2 * time.Second)
	if d := c.Subscribe(context.Background(), req).watchdogTimeout(); d != 6*time.Second {
		t.Fatalf("watchdog with 2s interval %v", d)
	}
	if d := New(nil, WithWatchdog(time.Second)).Subscribe(context.Background(), req).watchdogTimeout(); d != time.Second {
		t.Fatalf("WithWatchdog(1s) gives %v", d)
	}
}

func TestNowStartIsPinnedWithGetCursor(t *testing.T) {
	f, conn := startFake(t, sendThen(status.Error(codes.Unavailable, "gone")), sendThenHang(change(1, 0)))
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), &cdcstreamv1.SubscribeRequest{Database: "neo4j"})
	defer sub.Close()
	receiveN(t, sub, 1)
	if want := []string{"now", "now"}; !slices.Equal(fromCursors(f.subscribeRequests()), want) {
		t.Fatalf("subscribed from %v, want %v", fromCursors(f.subscribeRequests()), want)
	}
}

func TestHangingGetCursorIsBoundedByTheWatchdog(t *testing.T) {
	f, conn := startFake(t, sendThenHang(change(1, 0)))
	f.mu.Lock()
	f.cursorHangs = 1
	f.mu.Unlock()
	clk := newFakeClock()
	tripWatchdog(t, clk, 20*time.Millisecond, f.askedCursor) // the first GetCursor hangs that long
	sub := newTestClient(conn, clk, WithWatchdog(20*time.Millisecond)).
		Subscribe(testCtx(t), &cdcstreamv1.SubscribeRequest{Database: "neo4j"})
	defer sub.Close()
	receiveN(t, sub, 1)
	if n := len(f.getCursorRequests()); n != 2 {
		t.Fatalf("%d GetCursor calls, want 2", n)
	}
	if want := []string{"now"}; !slices.Equal(fromCursors(f.subscribeRequests()), want) {
		t.Fatalf("subscribed from %v, want %v", fromCursors(f.subscribeRequests()), want)
	}
}

func TestEarliestStartIsSentAsIs(t *testing.T) {
	f, conn := startFake(t, sendThenHang(change(1, 0)))
	req := &cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}}
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), req)
	defer sub.Close()
	receiveN(t, sub, 1)
	got := f.subscribeRequests()[0]
	want := proto.Clone(req).(*cdcstreamv1.SubscribeRequest)
	want.CheckpointInterval = durationpb.New(DefaultCheckpointInterval) // pinned for the watchdog
	if !proto.Equal(got, want) || len(f.getCursorRequests()) != 0 {
		t.Fatalf("request %v, GetCursor calls %d", got, len(f.getCursorRequests()))
	}
}

func TestExplicitCheckpointIntervalIsKept(t *testing.T) {
	f, conn := startFake(t, sendThenHang(change(1, 0)))
	req := &cdcstreamv1.SubscribeRequest{
		Start:              &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST},
		CheckpointInterval: durationpb.New(3 * time.Second),
	}
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), req)
	defer sub.Close()
	receiveN(t, sub, 1)
	if got := f.subscribeRequests()[0].GetCheckpointInterval().AsDuration(); got != 3*time.Second {
		t.Fatalf("checkpoint_interval sent = %v, want the caller's 3s", got)
	}
}

func TestCheckpointStoreResumeAndCommit(t *testing.T) {
	f, conn := startFake(t, sendThenHang(change(8, 0), checkpoint("cp-8")))
	store := &memStore{c: cursor("c-7-3")}
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), fromReq(), WithCheckpointStore(store))
	defer sub.Close()
	if err := sub.Commit(testCtx(t)); err != nil || store.saves != 0 {
		t.Fatalf("commit before any message: %v, %d saves", err, store.saves)
	}
	receiveN(t, sub, 1)
	if want := []string{"c-7-3"}; !slices.Equal(fromCursors(f.subscribeRequests()), want) {
		t.Fatalf("subscribed from %v, want %v", fromCursors(f.subscribeRequests()), want)
	}
	if err := sub.Commit(testCtx(t)); err != nil || store.c.GetId() != "c-8-0" {
		t.Fatalf("commit: %v, stored %v", err, store.c)
	}
	receiveN(t, sub, 1)
	if err := sub.Commit(testCtx(t)); err != nil || store.c.GetId() != "cp-8" {
		t.Fatalf("commit: %v, stored %v", err, store.c)
	}
	if err := New(conn).Subscribe(testCtx(t), fromReq()).Commit(testCtx(t)); !errors.Is(err, ErrNoCheckpointStore) {
		t.Fatalf("Commit without store = %v", err)
	}
}

func TestEmptyStoreUsesTheRequestStart(t *testing.T) {
	f, conn := startFake(t, sendThenHang(change(1, 0)))
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), fromReq(), WithCheckpointStore(&memStore{}))
	defer sub.Close()
	receiveN(t, sub, 1)
	if want := []string{"c-0-0"}; !slices.Equal(fromCursors(f.subscribeRequests()), want) {
		t.Fatalf("subscribed from %v, want %v", fromCursors(f.subscribeRequests()), want)
	}
}

func TestCloseFromAnotherGoroutineEndsReceive(t *testing.T) {
	f, conn := startFake(t)
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), fromReq())
	go func() {
		<-f.subscribed // the stream is open and silent
		sub.Close()
	}()
	if err := endOf(t, sub); err != nil {
		t.Fatalf("Err after Close = %v", err)
	}
}

func TestCallerCancellationStops(t *testing.T) {
	f, conn := startFake(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	sub := newTestClient(conn, newFakeClock()).Subscribe(ctx, fromReq())
	defer sub.Close()
	go func() {
		<-f.subscribed
		cancel()
	}()
	if err := endOf(t, sub); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after cancel = %v", err)
	}
	if n := len(f.subscribeRequests()); n != 1 {
		t.Fatalf("%d Subscribe calls, want 1", n)
	}
}

func TestClassifyWithoutStatus(t *testing.T) {
	if v := classify(errors.New("connection reset by peer")); v != resume {
		t.Fatalf("plain error: %v", v)
	}
	// The message text never matters.
	if v := classify(status.Error(codes.InvalidArgument, "unavailable, retry")); v != stop {
		t.Fatalf("INVALID_ARGUMENT with a misleading message: %v", v)
	}
}

func TestReconnectsAreLogged(t *testing.T) {
	_, conn := startFake(t, sendThen(statusErr(t, codes.Unavailable, "NEO4J_UNAVAILABLE", nil, 0)), sendThenHang(change(1, 0)))
	var buf proctest.Log
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sub := newTestClient(conn, newFakeClock(), WithLogger(logger)).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	receiveN(t, sub, 1)
	out := buf.String()
	for _, want := range []string{"level=WARN", "will resume", "code=Unavailable", "reason=NEO4J_UNAVAILABLE", "level=INFO", "reconnecting"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestCursorReturnsACopy(t *testing.T) {
	_, conn := startFake(t, sendThenHang(change(1, 0)))
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	receiveN(t, sub, 1)
	sub.Cursor().Id = "mutated"
	if got := sub.Cursor().GetId(); got != "c-1-0" {
		t.Fatalf("Cursor() = %q after mutating a returned copy", got)
	}
}

func TestPlannedEndsResumeAtOnce(t *testing.T) {
	for _, reason := range []string{cdcstreamv1.ErrorReason_STREAM_ROTATED.String(), cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN.String()} {
		t.Run(reason, func(t *testing.T) {
			planned := statusErr(t, codes.Unavailable, reason, nil, 0)
			f, conn := startFake(t,
				sendThen(planned, change(1, 0), checkpoint("cp-1")),
				sendThen(planned, change(2, 0)),
				sendThenHang(change(3, 0)),
			)
			clk := newFakeClock()
			sub := newTestClient(conn, clk, WithMaxRetries(1)).Subscribe(testCtx(t), fromReq())
			defer sub.Close()
			got := receiveN(t, sub, 4)
			if want := []int64{1, -1, 2, 3}; !slices.Equal(txIDs(got), want) {
				t.Fatalf("tx ids %v, want %v", txIDs(got), want)
			}
			if w := clk.recorded(); len(w) != 0 {
				t.Fatalf("a planned end waited %v; it must resume at once", w)
			}
			if want := []string{"c-0-0", "cp-1", "c-2-0"}; !slices.Equal(fromCursors(f.subscribeRequests()), want) {
				t.Fatalf("subscribed from %v, want %v", fromCursors(f.subscribeRequests()), want)
			}
		})
	}
}

func TestPlannedEndWithoutMessagesCountsAsFailure(t *testing.T) {
	refused := sendThen(statusErr(t, codes.Unavailable, cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN.String(), nil, 0))
	_, conn := startFake(t, refused, refused, refused)
	clk := newFakeClock()
	sub := newTestClient(conn, clk, WithMaxRetries(2)).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	if sub.Receive() {
		t.Fatalf("got a message from a server that only refuses")
	}
	if Reason(sub.Err()) != cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN.String() {
		t.Fatalf("Err = %v, want the refusal after the retry budget", sub.Err())
	}
	if n := len(clk.recorded()); n != 2 {
		t.Fatalf("%d backoff waits, want 2 (a refusal with no message is a failure)", n)
	}
}
