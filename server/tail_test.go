package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
	"google.golang.org/grpc/codes"
)

// TestTailPollErrorEndsSyncedStreams: when the shared tail's poll fails, the synced streams
// end with the status their own poll would have given (UNAVAILABLE, NEO4J_UNAVAILABLE).
func TestTailPollErrorEndsSyncedStreams(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.subscribe(now(), nil)
	a.rec.wait(t, h.ctx, 1)
	b := h.subscribe(now(), nil)
	b.rec.wait(t, h.ctx, 1)
	h.waitStats("two synced subscriptions", func(st server.Stats) bool { return st.Synced == 2 })
	h.src.FailNext(servertest.MethodPoll, fmt.Errorf("fake: %w", server.ErrNeo4jUnavailable))
	h.src.Commit(db, 1)
	var errs [2]error
	for i, s := range []*sub{a, b} {
		h.advanceUntil(pollInterval, func() bool {
			select {
			case errs[i] = <-s.done:
				s.done <- errs[i] // for the cleanup
				return true
			default:
				return false
			}
		})
		wantStatus(t, errs[i], codes.Unavailable, cdcstreamv1.ErrorReason_NEO4J_UNAVAILABLE.String())
	}
	if st := h.srv.Stats(); st.Polls != 0 || st.TailPolls == 0 || uint64(h.src.Calls(servertest.MethodPoll)) != st.TailPolls {
		t.Fatalf("polls by the streams themselves: stats %+v, %d polls in all", st, h.src.Calls(servertest.MethodPoll))
	}
}

// TestTailSelectorsInProcess: a synced stream with selectors gets only the matching changes
// of the tail's unfiltered poll, and its checkpoint moves past the others.
func TestTailSelectorsInProcess(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	req := now()
	req.Selectors = []*cdcstreamv1.Selector{{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: []string{"Keep"}}}}}
	s := h.subscribe(req, nil)
	s.rec.wait(t, h.ctx, 1)
	h.waitStats("a synced subscription", func(st server.Stats) bool { return st.Synced == 1 })
	evs := servertest.NodeEvents(3, 0)
	for i, label := range []string{"Other", "Keep", "Other"} {
		evs[i].GetNode().Labels = []string{label}
		evs[i].GetNode().After.Labels = []string{label}
	}
	ids := h.src.Append(db, evs...)
	h.advanceUntil(pollInterval, func() bool { return len(s.rec.messages()) >= 2 })
	msgs := s.rec.messages()
	if got := msgs[1].GetChange().GetCursor().GetId(); got != ids[1] {
		t.Fatalf("got %v, want only the change labelled Keep (%s)", msgs[1], ids[1])
	}
	for _, p := range h.src.Polls() {
		if len(p.Selectors) != 0 {
			t.Fatalf("a poll carried selectors: %+v", p)
		}
	}
	h.advanceUntil(pollInterval, func() bool {
		m := s.rec.messages()
		return m[len(m)-1].GetCheckpoint().GetCursor().GetId() == ids[2]
	})
}

// TestTrailPausesForAStalledClient: a subscription from an old cursor, without selectors,
// follows a catch-up trail, whose reader stops reading once half its window is unread: a
// client that reads nothing costs a bounded number of polls, not the whole backlog.
func TestTrailPausesForAStalledClient(t *testing.T) {
	t.Parallel()
	// A trail's window is an eighth of the tail's: 64 KiB here, so about 32 KiB are read ahead.
	h := newHarness(t, server.WithBatchLimit(10), server.WithTailWindowBytes(8*server.MinTailWindowBytes))
	h.src.Append(db, servertest.NodeEvents(2000, 100)...) // about 300 KiB encoded
	rec := newRecorder()
	rec.gate = make(chan struct{}) // the client reads nothing until the gate opens
	h.subscribe(fromID(servertest.ID(db, 0)), rec)
	st := h.waitStats("the trail to stop reading", func(st server.Stats) bool {
		return st.PollersWaiting == 1 && st.TailPolls > 0
	})
	// The trail's reader is paced by its readers, not by the clock: give it real time to run
	// (an observation window, not synchronisation), then more, and count.
	time.Sleep(300 * time.Millisecond)
	polls := h.src.Calls(servertest.MethodPoll)
	time.Sleep(300 * time.Millisecond)
	if got := h.src.Calls(servertest.MethodPoll); got != polls {
		t.Fatalf("the trail kept reading for a client that reads nothing: %d -> %d polls", polls, got)
	}
	if polls*10 >= 2000 {
		t.Fatalf("%d polls read the whole backlog for a stalled client (stats %+v)", polls, st)
	}
	rec.open()
	msgs := rec.wait(t, h.ctx, 2000)
	for i, m := range msgs[:2000] {
		if got, want := m.GetChange().GetCursor().GetId(), servertest.ID(db, i+1); got != want {
			t.Fatalf("message %d is %v, want change %s", i, m, want)
		}
	}
}

// TestTailPollsOncePerHeadMove: on a busy database every tail poll reads a current id newer
// than the prober's last probe; the tail must still poll once per probe that saw the head
// move, not again and again until the next probe.
func TestTailPollsOncePerHeadMove(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s := h.subscribe(now(), nil)
	s.rec.wait(t, h.ctx, 1)
	h.waitStats("a synced subscription", func(st server.Stats) bool { return st.Synced == 1 })
	// Every poll finds one more commit after it: the head it reads is never the probe's.
	h.src.SetHook(func(_ context.Context, m servertest.Method) error {
		if m == servertest.MethodPoll {
			h.src.Commit(db, 1)
		}
		return nil
	})
	h.src.Commit(db, 1)
	h.clock.Advance(pollInterval) // one probe sees the head move
	h.waitStats("the tail's poll", func(st server.Stats) bool { return st.TailPolls >= 1 })
	time.Sleep(200 * time.Millisecond) // an observation window, not synchronisation
	if got := h.srv.Stats().TailPolls; got != 1 {
		t.Fatalf("%d tail polls after one probe saw the head move, want 1", got)
	}
}
