package server_test

import (
	"context"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

func TestSubscribeFromCursorStreamsInOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ids := h.src.Commit(db, 5)
	s := h.subscribe(fromID(servertest.ID(db, 0)), nil)
	msgs := s.rec.wait(t, h.ctx, 5)
	for i, m := range msgs[:5] {
		if got := changeID(t, m); got != ids[i] {
			t.Fatalf("change %d has cursor %q, want %q", i, got, ids[i])
		}
		if m.GetChange().GetTxId() != int64(i+1) {
			t.Fatalf("change %d tx_id %d", i, m.GetChange().GetTxId())
		}
	}
	if p := h.src.Polls()[0]; p.From != servertest.ID(db, 0) || p.Database != db || p.Limit != server.DefaultBatchLimit {
		t.Fatalf("first poll %+v", p)
	}
}

func TestSubscribeNowCheckpointsAtOnceThenFollowsHead(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.src.Commit(db, 3) // before the subscription: not delivered
	s := h.subscribe(now(), nil)
	msgs := s.rec.wait(t, h.ctx, 1)
	if got := checkpointID(t, msgs[0]); got != servertest.ID(db, 3) {
		t.Fatalf("initial checkpoint at %q, want the head %q", got, servertest.ID(db, 3))
	}
	if ts := msgs[0].GetCheckpoint().GetServerTime().AsTime(); !ts.Equal(epoch) {
		t.Fatalf("server_time %v, want the clock's %v", ts, epoch)
	}
	h.waitTimers(2) // the checkpoint timer and the head prober's timer
	h.waitStats("the poller to idle", func(st server.Stats) bool { return st.PollersIdle == 1 })
	if n := h.src.Calls(servertest.MethodPoll); n != 0 {
		t.Fatalf("%d polls before the head moved, want 0", n)
	}
	ids := h.src.Commit(db, 2)
	h.clock.Advance(pollInterval) // the prober sees the head move
	msgs = s.rec.wait(t, h.ctx, 3)
	for i, m := range msgs[1:3] {
		if got := changeID(t, m); got != ids[i] {
			t.Fatalf("change %d at %q, want %q", i, got, ids[i])
		}
	}
	if p := h.src.Polls()[0]; p.From != servertest.ID(db, 3) {
		t.Fatalf("first poll from %q, want the start cursor", p.From)
	}
}

func TestEmptyPollMovesCursorToCurrent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, server.WithDefaultCheckpointInterval(server.MinCheckpointInterval))
	h.src.Skip(db, 5) // five transactions no selector matches
	s := h.subscribe(fromID(servertest.ID(db, 0)), nil)
	h.waitStats("the empty batch", func(st server.Stats) bool { return st.Batches == 1 })
	h.clock.Advance(1100 * time.Millisecond) // past the jittered checkpoint interval
	msgs := s.rec.wait(t, h.ctx, 1)
	if got := checkpointID(t, msgs[0]); got != servertest.ID(db, 5) {
		t.Fatalf("checkpoint at %q, want current %q", got, servertest.ID(db, 5))
	}
	// The next poll starts from the moved cursor.
	h.src.Skip(db, 1)
	h.advanceUntil(pollInterval, func() bool { return h.src.Calls(servertest.MethodPoll) >= 2 })
	if p := h.src.Polls()[1]; p.From != servertest.ID(db, 5) {
		t.Fatalf("second poll from %q, want %q", p.From, servertest.ID(db, 5))
	}
}

func TestFullBatchPollsAgainAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, server.WithBatchLimit(2))
	ids := h.src.Commit(db, 5)
	s := h.subscribe(fromID(servertest.ID(db, 0)), nil)
	msgs := s.rec.wait(t, h.ctx, 5)
	for i, m := range msgs {
		if changeID(t, m) != ids[i] {
			t.Fatalf("change %d out of order", i)
		}
	}
	// Three polls happened without the clock moving: 2 (full), 2 (full), 1.
	polls := h.src.Polls()
	if len(polls) != 3 {
		t.Fatalf("%d polls, want 3 without any wait", len(polls))
	}
	for i, from := range []string{servertest.ID(db, 0), ids[1], ids[3]} {
		if polls[i].From != from || polls[i].Limit != 2 {
			t.Fatalf("poll %d = %+v, want from %q limit 2", i, polls[i], from)
		}
	}
}

func TestCheckpointTiming(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // checkpoint interval 10s, jittered to [9s, 11s)
	s := h.subscribe(now(), nil)
	s.rec.wait(t, h.ctx, 1)
	h.waitTimers(2)

	h.advance(11*time.Second, 2) // t=11s: checkpoint
	msgs := s.rec.wait(t, h.ctx, 2)
	checkpointID(t, msgs[1])
	if ts := msgs[1].GetCheckpoint().GetServerTime().AsTime(); !ts.Equal(epoch.Add(11 * time.Second)) {
		t.Fatalf("checkpoint at %v", ts)
	}

	h.advance(5*time.Second, 2) // t=16s: quiet, the next checkpoint is due at 20s..22s
	h.waitStats("the poller to idle", func(st server.Stats) bool { return st.PollersIdle == 1 })
	ids := h.src.Commit(db, 1)
	h.clock.Advance(pollInterval) // t=16.5s: the change goes out and re-arms the checkpoint timer
	h.waitStats("the change", func(st server.Stats) bool { return st.ChangesSent == 1 && st.Batches == 1 })
	h.waitTimers(2)
	h.advance(6500*time.Millisecond, 2) // t=23s: past the old due time, before the new one
	h.advance(5500*time.Millisecond, 2) // t=28.5s: past the new due time (25.5s..27.5s)
	msgs = s.rec.wait(t, h.ctx, 4)
	if len(msgs) != 4 {
		t.Fatalf("got %d messages, want 4: %v", len(msgs), msgs)
	}
	if changeID(t, msgs[2]) != ids[0] {
		t.Fatalf("third message %v", msgs[2])
	}
	if checkpointID(t, msgs[3]) != ids[0] {
		t.Fatalf("checkpoint after the change at %q, want the change's cursor", checkpointID(t, msgs[3]))
	}
	if ts := msgs[3].GetCheckpoint().GetServerTime().AsTime(); ts.Before(epoch.Add(25500 * time.Millisecond)) {
		t.Fatalf("checkpoint sent at %v, less than an interval after the change", ts.Sub(epoch))
	}
}

// TestIdleSubscribersShareOneHeadProbe: n idle subscriptions cost one head probe per poll
// interval. When the head moves, the shared tail polls once for all of them; without it, each
// polls once. With the tail, subscriptions at NOW after the first start at the tail's newest
// position without reading Current.
func TestIdleSubscribersShareOneHeadProbe(t *testing.T) {
	t.Parallel()
	const n = 20
	for _, tc := range []struct {
		name                  string
		shared                bool
		wantStarts, wantPolls int
	}{{"shared tail", true, 1, 1}, {"per subscription", false, n, n}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			idleSubscribers(t, n, tc.shared, tc.wantStarts, tc.wantPolls)
		})
	}
}

func idleSubscribers(t *testing.T, n int, shared bool, wantStarts, wantPolls int) {
	h := newHarness(t, server.WithSharedTail(shared))
	subs := make([]*sub, n)
	for i := range subs {
		subs[i] = h.subscribe(now(), nil)
		subs[i].rec.wait(t, h.ctx, 1)
	}
	h.waitTimers(n + 1) // n checkpoint timers and one prober
	h.waitStats("idle pollers", func(st server.Stats) bool { return st.PollersIdle == int64(n) })
	starts := h.src.Calls(servertest.MethodCurrent)
	if starts != wantStarts {
		t.Fatalf("%d Current calls to start %d subscriptions, want %d", starts, n, wantStarts)
	}
	const intervals = 6
	for k := 1; k <= intervals; k++ {
		h.advance(pollInterval, n+1)
		if got := h.src.Calls(servertest.MethodCurrent) - starts; got != k {
			t.Fatalf("after %d intervals: %d head probes, want %d", k, got, k)
		}
		if got := h.src.Calls(servertest.MethodPoll); got != 0 {
			t.Fatalf("after %d idle intervals: %d polls, want 0", k, got)
		}
	}
	// A transaction no selector matches moves the head: one poll (the tail's, or each
	// subscriber's) finds nothing and moves every cursor to the new head.
	head := h.src.Skip(db, 1)
	h.clock.Advance(pollInterval)
	h.waitStats("a batch per subscriber", func(st server.Stats) bool { return st.Batches == uint64(n) && st.PollersIdle == int64(n) })
	h.advance(pollInterval, n+1)
	h.waitStats("the next probe", func(st server.Stats) bool { return st.HeadProbes == intervals+2 })
	if got := h.src.Calls(servertest.MethodPoll); got != wantPolls {
		t.Fatalf("%d polls after the head moved once, want %d", got, wantPolls)
	}
	h.clock.Advance(11 * time.Second)
	for i, s := range subs {
		msgs := s.rec.wait(t, h.ctx, 2)
		if got := checkpointID(t, msgs[1]); got != head {
			t.Fatalf("subscriber %d checkpoint at %q, want the new head %q", i, got, head)
		}
	}
}

func TestSlowClientPausesPolling(t *testing.T) {
	t.Parallel()
	// The subscription's own polls (tail_test.go: a catch-up trail pauses the same way).
	h := newHarness(t, server.WithBatchLimit(1), server.WithSharedTail(false))
	ids := h.src.Commit(db, 100)
	rec := newRecorder()
	rec.gate = make(chan struct{}) // the client reads nothing until the gate opens
	h.subscribe(fromID(servertest.ID(db, 0)), rec)
	// The sender blocks on batch 1, batch 2 waits in the channel, the poller holds batch 3.
	st := h.waitStats("the poller to wait for the sender", func(st server.Stats) bool {
		return st.PollersWaiting == 1 && st.Polls == 3
	})
	if got := h.src.Calls(servertest.MethodPoll); got != 3 {
		t.Fatalf("%d polls while the client reads nothing (stats %+v), want 3", got, st)
	}
	rec.open()
	msgs := rec.wait(t, h.ctx, 100)
	for i, m := range msgs {
		if changeID(t, m) != ids[i] {
			t.Fatalf("change %d out of order", i)
		}
	}
}

func TestMaxSubscriptions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, server.WithMaxSubscriptions(2))
	a := h.subscribe(now(), nil)
	a.rec.wait(t, h.ctx, 1)
	b := h.subscribe(now(), nil)
	b.rec.wait(t, h.ctx, 1)
	err := h.srv.SubscribeSend(h.ctx, now(), newRecorder().send)
	wantStatus(t, err, 8 /* RESOURCE_EXHAUSTED */, cdcstreamv1.ErrorReason_TOO_MANY_SUBSCRIPTIONS.String())
	if _, _, retry, _ := statusInfo(t, err); retry.GetRetryDelay().AsDuration() <= 0 {
		t.Fatalf("no RetryInfo in %v", err)
	}
	a.cancel()
	wantStatus(t, a.result(t, h.ctx), 1 /* CANCELED */, "")
	c := h.subscribe(now(), nil)
	c.rec.wait(t, h.ctx, 1)
	if st := h.srv.Stats(); st.ActiveSubscriptions != 2 {
		t.Fatalf("active subscriptions %d, want 2", st.ActiveSubscriptions)
	}
}

func TestFutureCursorIsRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t, server.WithSharedTail(false)) // counts the subscription's own polls
	ids := h.src.Commit(db, 1)
	h.src.FailNext(servertest.MethodPoll, server.ErrFutureCursor, server.ErrFutureCursor)
	s := h.subscribe(fromID(servertest.ID(db, 0)), nil)
	var change *cdcstreamv1.ChangeEvent
	h.advanceUntil(pollInterval, func() bool {
		for _, m := range s.rec.messages() {
			if m.GetChange() != nil {
				change = m.GetChange()
				return true
			}
		}
		return false
	})
	if got := change.GetCursor().GetId(); got != ids[0] {
		t.Fatalf("change %q, want %q", got, ids[0])
	}
	if got := h.src.Calls(servertest.MethodPoll); got != 3 {
		t.Fatalf("%d polls, want 2 failures and 1 success", got)
	}
	select {
	case err := <-s.done:
		t.Fatalf("stream ended: %v", err)
	default:
	}
}

func TestStartSelectorsReachSource(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.src.Commit(db, 1)
	sel := &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: []string{"Person"}}}}
	req := fromID(servertest.ID(db, 0))
	req.Selectors = []*cdcstreamv1.Selector{sel}
	s := h.subscribe(req, nil)
	s.rec.wait(t, h.ctx, 1)
	p := h.src.Polls()[0]
	if len(p.Selectors) != 1 || p.Selectors[0].GetNode().GetLabels()[0] != "Person" {
		t.Fatalf("poll selectors %v", p.Selectors)
	}
}

// advanceUntil advances the clock by step until cond holds, pacing itself on real time
// only to let the server's goroutines run (a poll with the test's deadline).
func (h *harness) advanceUntil(step time.Duration, cond func() bool) {
	h.t.Helper()
	for !cond() {
		h.clock.Advance(step)
		select {
		case <-h.ctx.Done():
			h.t.Fatal("condition not reached")
		case <-time.After(time.Millisecond):
		}
	}
}

func TestChangeCursorGetsDatabase(t *testing.T) {
	t.Parallel()
	h := newHarness(t, server.WithSharedTail(false)) // the subscription's own poll
	h.src.SetPollFunc(func(_ context.Context, call servertest.PollCall) (server.Batch, error) {
		return server.Batch{Changes: []*cdcstreamv1.ChangeEvent{{Cursor: &cdcstreamv1.Cursor{Id: "QUJD"}}}}, nil
	})
	s := h.subscribe(&cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_FromCursor{
		FromCursor: &cdcstreamv1.Cursor{Id: servertest.ID("orders", 0), Database: "Orders"}}}, nil)
	msgs := s.rec.wait(t, h.ctx, 1)
	if c := msgs[0].GetChange().GetCursor(); c.GetId() != "QUJD" || c.GetDatabase() != "orders" {
		t.Fatalf("change cursor %v, want database from the request's cursor", c)
	}
	if p := h.src.Polls()[0]; p.Database != "orders" {
		t.Fatalf("polled database %q", p.Database)
	}
}
