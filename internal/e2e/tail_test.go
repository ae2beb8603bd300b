package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
)

// logIDs reads the whole retained log of the target's database through the stack's Source
// (db.cdc.query with selectors: Neo4j's own filtering, the oracle) and returns the change ids.
func (s *stack) logIDs(t *testing.T, selectors ...*cdcstreamv1.Selector) []string {
	t.Helper()
	ctx := context.Background()
	from, err := s.src.Earliest(ctx, s.tg.database())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for {
		b, err := s.src.Poll(ctx, server.PollRequest{Database: s.tg.database(), From: from, Selectors: selectors, Limit: 5000})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range b.Changes {
			ids = append(ids, ev.GetCursor().GetId())
		}
		if len(b.Changes) < 5000 {
			return ids
		}
		from = b.Changes[len(b.Changes)-1].GetCursor().GetId()
	}
}

// collect reads sub until it received the change with id last, and returns the change ids.
func (sub *subscription) collect(last string) []string {
	sub.t.Helper()
	var ids []string
	for {
		msg := sub.next()
		if ev := msg.GetChange(); ev != nil {
			ids = append(ids, ev.GetCursor().GetId())
			if ev.GetCursor().GetId() == last {
				return ids
			}
		}
	}
}

// sameIDs fails unless got is want (same changes, same order: no gap, no repeat).
func sameIDs(t *testing.T, who string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d changes, want %d", who, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: change %d is %s, want %s", who, i, got[i], want[i])
		}
	}
}

// workload writes txs transactions of perTx nodes (label A or B alternately, a 200-byte
// padding) with a short pause between them, then one node labelled Done.
func workload(t *testing.T, tg target, txs, perTx int, pause time.Duration) {
	pad := testkit.String(string(make([]byte, 200)))
	for k := range txs {
		tg.write(t, nil, func(w writer) {
			for i := range perTx {
				label := []string{"A", "B"}[(k+i)%2]
				w.createNode([]string{label}, map[string]*cdcstreamv1.Value{"k": testkit.Int(int64(k)), "pad": pad})
			}
		})
		time.Sleep(pause)
	}
	tg.write(t, nil, func(w writer) { w.createNode([]string{"Done", "A"}, nil) })
}

// TestTailJoin: subscriptions starting at EARLIEST on a long log, one with a selector, while a
// workload runs, catch up with their own polls, join the shared tail and see every change
// once, in order; a subscription at NOW is served by the tail from the start. The Neo4j
// statements for the live part do not grow with the subscribers.
func TestTailJoin(t *testing.T) {
	tg := newSimTarget(t)
	s := newStack(t, tg, server.WithBatchLimit(250))
	workload(t, tg, 40, 100, 0) // 4 000 changes of history
	head := s.cursorNow(t)
	labelA := &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: []string{"A"}}}}
	all := s.subscribe(t, &cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}})
	onlyA := s.subscribe(t, &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{labelA},
		Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}})
	live := s.subscribeFrom(t, head)

	done := make(chan struct{})
	go func() {
		defer close(done)
		workload(t, tg, 60, 20, 5*time.Millisecond) // 1 200 more while they catch up
	}()
	<-done
	wantAll := s.logIDs(t)
	wantA := s.logIDs(t, labelA)
	last := wantAll[len(wantAll)-1]

	var wg sync.WaitGroup
	got := make([][]string, 3)
	for i, sub := range []*subscription{all, onlyA, live} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = sub.collect(last)
		}()
	}
	wg.Wait()
	sameIDs(t, "EARLIEST", got[0], wantAll)
	sameIDs(t, "EARLIEST, label A", got[1], wantA)
	var live0 int
	for i, id := range wantAll {
		if id == got[2][0] {
			live0 = i
		}
	}
	sameIDs(t, "from the head", got[2], wantAll[live0:])
	if live0 != 40*100+1 { // the history and its Done node
		t.Fatalf("the live subscription started at change %d, want %d (right after its cursor)", live0, 40*100+1)
	}
	st := s.svc.Stats()
	if st.Joins < 2 {
		t.Fatalf("%d joins: the EARLIEST subscriptions never joined the tail (stats %+v)", st.Joins, st)
	}
	if st.Synced != 3 {
		t.Fatalf("%d subscriptions synced at the end, want all 3 (stats %+v)", st.Synced, st)
	}
	t.Logf("stats %+v", st)
}

// TestTailFallOut: a client that stops reading while the workload overruns a small window
// falls out of it (its position is evicted; it holds no copies), then, reading again, gets
// every change once, in order, through its own polls and a second join. A subscriber that
// keeps reading stays served by the tail.
func TestTailFallOut(t *testing.T) {
	tg := newSimTarget(t)
	s := newStack(t, tg, server.WithTailWindowBytes(server.MinTailWindowBytes), server.WithBatchLimit(200))
	head := s.cursorNow(t)
	stalled := s.subscribeFrom(t, head) // not read until the workload ended
	reader := s.subscribeFrom(t, head)
	var readerIDs []string
	readerDone := make(chan struct{})
	var last string
	var lastSet sync.WaitGroup
	lastSet.Add(1)
	go func() {
		defer close(readerDone)
		lastSet.Wait()
		readerIDs = reader.collect(last)
	}()
	before := heapAlloc()
	workload(t, tg, 100, 100, 0) // 10 000 changes, about 3 MB encoded: 45 windows
	grown := int64(heapAlloc()) - int64(before)
	want := s.logIDs(t)
	last = want[len(want)-1]
	lastSet.Done()
	waitFor(t, "the stalled subscriber to fall out of the window", 30*time.Second, func() bool { return s.svc.Stats().FellOut >= 1 })
	<-readerDone
	sameIDs(t, "reader", readerIDs, want)
	sameIDs(t, "stalled, then reading", stalled.collect(last), want)
	st := s.svc.Stats()
	if st.Joins < 1 {
		t.Fatalf("the stalled subscriber never joined again (stats %+v)", st)
	}
	t.Logf("heap grew %.1f MiB during the workload; stats %+v", float64(grown)/(1<<20), st)
	if grown > 64<<20 {
		t.Fatalf("heap grew by %d MiB while one subscriber stalled behind a 64 KiB window", grown>>20)
	}
}

// TestTailOffSameStream: with the shared tail off, the same subscriptions get the same
// changes (per-subscription polls, Neo4j filtering).
func TestTailOffSameStream(t *testing.T) {
	tg := newSimTarget(t)
	s := newStack(t, tg, server.WithSharedTail(false))
	workload(t, tg, 10, 50, 0)
	labelB := &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: []string{"B"}}}}
	want := s.logIDs(t, labelB)
	sub := s.subscribe(t, &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{labelB},
		Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}})
	sameIDs(t, "tail off", sub.collect(want[len(want)-1]), want)
	if st := s.svc.Stats(); st.TailPolls != 0 || st.Joins != 0 {
		t.Fatalf("the tail ran while off: %+v", st)
	}
}
