package server_test

import (
	"sync"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// headroomEvent is one Observer.Headroom call.
type headroomEvent struct {
	database     string
	transactions int64
	age          time.Duration
	known        bool
}

// headroomObserver records Observer.Headroom calls.
type headroomObserver struct {
	server.NopObserver
	// mu protects events.
	mu     sync.Mutex
	events []headroomEvent
}

func (o *headroomObserver) Headroom(database string, transactions int64, age time.Duration, known bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, headroomEvent{database, transactions, age, known})
}

// last returns the last event, and whether there was one.
func (o *headroomObserver) last() (headroomEvent, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.events) == 0 {
		return headroomEvent{}, false
	}
	return o.events[len(o.events)-1], true
}

// lastCheckpoint returns the newest message if it is a checkpoint, else nil.
func lastCheckpoint(r *recorder) *cdcstreamv1.Checkpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) == 0 {
		return nil
	}
	return r.msgs[len(r.msgs)-1].GetCheckpoint()
}

// TestRetentionHeadroom: a stream that sent tx 10 while Neo4j retains from tx 5 on has a
// headroom of 5 transactions and 5 minutes, in its checkpoints and in Observer.Headroom,
// once the prober read the oldest retained change (after 30 s); pruning shrinks it at the
// next read, and the value goes away with the last stream.
func TestRetentionHeadroom(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{true, false} {
		t.Run(map[bool]string{true: "shared tail", false: "per subscription"}[shared], func(t *testing.T) {
			t.Parallel()
			retentionHeadroom(t, shared)
		})
	}
}

func retentionHeadroom(t *testing.T, shared bool) {
	obs := &headroomObserver{}
	h := newHarness(t, server.WithSharedTail(shared), server.WithObserver(obs))
	evs := servertest.NodeEvents(10, 0)
	for i, ev := range evs { // tx i+1 commits i+1 minutes after epoch
		ev.Metadata = &cdcstreamv1.Metadata{TxCommitTime: timestamppb.New(epoch.Add(time.Duration(i+1) * time.Minute))}
	}
	h.src.Append(db, evs...)
	h.src.Prune(db, 4) // the oldest retained change is position 5, tx 5
	s := h.subscribe(fromID(servertest.ID(db, 4)), nil)
	s.rec.wait(t, h.ctx, 6) // tx 5 to 10
	h.waitStats("the batch", func(st server.Stats) bool { return st.Batches >= 1 })

	// The first checkpoint (about 10 s in) comes before the first read of the oldest
	// retained change (30 s in): no headroom yet.
	h.advanceUntil(pollInterval, func() bool { return lastCheckpoint(s.rec) != nil })
	if cp := lastCheckpoint(s.rec); cp.RetentionHeadroomTransactions != nil {
		t.Fatalf("checkpoint before the first read has headroom %d", cp.GetRetentionHeadroomTransactions())
	}
	if h.src.Calls(servertest.MethodEarliest) != 0 {
		t.Fatalf("%d Earliest calls before 30 s", h.src.Calls(servertest.MethodEarliest))
	}

	known := func(tx int64) func() bool {
		return func() bool { e, ok := obs.last(); return ok && e.known && e.transactions == tx }
	}
	h.advanceUntil(pollInterval, known(5))
	if e, _ := obs.last(); e.database != db || e.age != 5*time.Minute {
		t.Fatalf("headroom event %+v, want %s, 5 transactions, 5m", e, db)
	}
	n := len(s.rec.messages())
	h.advanceUntil(pollInterval, func() bool { return len(s.rec.messages()) > n && lastCheckpoint(s.rec) != nil })
	if cp := lastCheckpoint(s.rec); cp.RetentionHeadroomTransactions == nil || cp.GetRetentionHeadroomTransactions() != 5 {
		t.Fatalf("checkpoint %v, want retention headroom 5", cp)
	}

	// Pruning moves the oldest retained change to tx 9: the next read (30 s later) sees it.
	h.src.Prune(db, 8)
	h.advanceUntil(pollInterval, known(1))
	if e, _ := obs.last(); e.age != time.Minute {
		t.Fatalf("headroom event %+v after pruning, want 1 transaction, 1m", e)
	}
	n = len(s.rec.messages())
	h.advanceUntil(pollInterval, func() bool { return len(s.rec.messages()) > n && lastCheckpoint(s.rec) != nil })
	if got := lastCheckpoint(s.rec).GetRetentionHeadroomTransactions(); got != 1 {
		t.Fatalf("checkpoint headroom %d after pruning, want 1", got)
	}

	// The last stream ends: the database's value goes away.
	s.cancel()
	s.result(t, h.ctx)
	if e, ok := obs.last(); !ok || e.known {
		t.Fatalf("last headroom event %+v after the last stream ended, want unknown", e)
	}
}
