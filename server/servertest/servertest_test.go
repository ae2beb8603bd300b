package servertest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

func TestManualClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := servertest.NewManualClock(start)
	a, b := c.NewTimer(time.Second), c.NewTimer(2*time.Second)
	if c.Timers() != 2 {
		t.Fatalf("%d timers", c.Timers())
	}
	c.Advance(time.Second)
	select {
	case got := <-a.C():
		if !got.Equal(start.Add(time.Second)) {
			t.Fatalf("fired at %v", got)
		}
	default:
		t.Fatal("timer a did not fire")
	}
	select {
	case <-b.C():
		t.Fatal("timer b fired early")
	default:
	}
	if !b.Stop() || b.Stop() || c.Timers() != 0 {
		t.Fatal("Stop did not disarm b exactly once")
	}
	select {
	case <-c.NewTimer(0).C():
	default:
		t.Fatal("zero timer did not fire at once")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.WaitTimers(ctx, 5); err == nil {
		t.Fatal("WaitTimers returned nil for an unreachable count")
	}
}

func TestFakeSourceLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := servertest.NewFakeSource("neo4j")
	ids := f.Commit("neo4j", 3)
	head := f.Skip("neo4j", 2)
	b, err := f.Poll(ctx, server.PollRequest{Database: "neo4j", From: servertest.ID("neo4j", 0), Selectors: nil, Limit: 2})
	if err != nil || len(b.Changes) != 2 || b.Changes[1].GetCursor().GetId() != ids[1] || b.Current != head {
		t.Fatalf("Poll = %v, %v", b, err)
	}
	b, err = f.Poll(ctx, server.PollRequest{Database: "neo4j", From: ids[2], Selectors: nil, Limit: 10})
	if err != nil || len(b.Changes) != 0 || b.Current != head {
		t.Fatalf("Poll after the last change = %v, %v", b, err)
	}
	f.Prune("neo4j", 2)
	for _, tc := range []struct {
		db, from string
		want     error
	}{
		{"neo4j", servertest.ID("neo4j", 1), server.ErrCursorExpired},
		{"neo4j", servertest.ID("neo4j", 9), server.ErrFutureCursor},
		{"neo4j", "garbage!", server.ErrInvalidCursor},
		{"neo4j", servertest.ID("other", 1), server.ErrInvalidCursor},
		{"other", servertest.ID("other", 1), server.ErrDatabaseNotFound},
	} {
		if _, err := f.Poll(ctx, server.PollRequest{Database: tc.db, From: tc.from, Selectors: nil, Limit: 1}); !errors.Is(err, tc.want) {
			t.Errorf("Poll(%s, %s) = %v, want %v", tc.db, tc.from, err, tc.want)
		}
	}
	if e, err := f.Earliest(ctx, "neo4j"); err != nil || e != servertest.ID("neo4j", 2) {
		t.Fatalf("Earliest = %q, %v", e, err)
	}
	f.FailNext(servertest.MethodCurrent, server.ErrNeo4jAuth)
	if _, err := f.Current(ctx, "neo4j"); !errors.Is(err, server.ErrNeo4jAuth) {
		t.Fatalf("scripted Current error: %v", err)
	}
	if _, err := f.Current(ctx, "neo4j"); err != nil {
		t.Fatalf("second Current: %v", err)
	}
	if f.Calls(servertest.MethodCurrent) != 2 || f.Calls(servertest.MethodPoll) != 7 || len(f.Polls()) != 7 {
		t.Fatalf("calls: current %d poll %d", f.Calls(servertest.MethodCurrent), f.Calls(servertest.MethodPoll))
	}
	f.SetCDCDisabled("neo4j", true)
	if _, err := f.Current(ctx, "neo4j"); !errors.Is(err, server.ErrCDCDisabled) {
		t.Fatalf("Current with CDC off: %v", err)
	}
}
