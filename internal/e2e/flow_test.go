package e2e

import (
	"runtime"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
)

// waitFor polls cond every 10ms until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestSlowClientPausesPolling: a client that stops reading stops its poller. Once gRPC flow
// control fills, the poller waits on the hand-off, polls no more, and the server holds at most
// one batch for it: memory stays flat however large the backlog.
func TestSlowClientPausesPolling(t *testing.T) {
	tg := newSimTarget(t)
	const batch = 500
	s := newStack(t, tg, server.WithBatchLimit(batch))
	c := s.cursorNow(t)
	const txs, perTx = 80, 250 // a 20 000-change backlog, far more than flow control buffers
	pad := testkit.String(string(make([]byte, 200)))
	for range txs {
		tg.write(t, nil, func(w writer) {
			for i := range perTx {
				w.createNode([]string{"Backlog"}, map[string]*cdcstreamv1.Value{"i": testkit.Int(int64(i)), "pad": pad})
			}
		})
	}
	before := heapAlloc()
	sub := s.subscribeFrom(t, c) // and never read from it
	_ = sub
	waitFor(t, "the poller to wait on a client that does not read", 60*time.Second, func() bool {
		return s.svc.Stats().PollersWaiting == 1
	})
	st1 := s.svc.Stats()
	grown := int64(heapAlloc()) - int64(before)
	// The poller is parked: more time passing must not mean more polls.
	time.Sleep(500 * time.Millisecond) // observation window, not synchronisation
	st2 := s.svc.Stats()
	if st2.Polls != st1.Polls {
		t.Fatalf("poller kept polling for a client that does not read: %d -> %d polls", st1.Polls, st2.Polls)
	}
	polled := st1.Batches*batch + batch // sent batches plus the one held at the hand-off
	if polled >= txs*perTx {
		t.Fatalf("the whole backlog (%d changes) was read from Neo4j for a client that reads nothing", txs*perTx)
	}
	t.Logf("backlog %d changes; server sent %d (held by gRPC flow control) and polled %d before pausing; heap grew %.1f MiB",
		txs*perTx, st1.ChangesSent, polled, float64(grown)/(1<<20))
	if grown > 64<<20 {
		t.Fatalf("heap grew by %d MiB for one stalled subscriber", grown>>20)
	}
}
