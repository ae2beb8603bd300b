package e2e

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// TestFollowerLag: the service reads from a lagging secondary (neo4j:// routing). A cursor the
// secondary has not reached yet (Neo4j's FutureIdentifier) is retried by the server, not
// turned into an error: once the secondary catches up the stream continues, without a gap
// and without repeating.
func TestFollowerLag(t *testing.T) {
	tg := newSimTarget(t)
	tg.routing = true
	s := newStack(t, tg)
	c0 := s.cursorNow(t)
	tg.write(t, nil, func(w writer) { w.createNode([]string{"A"}, nil) })
	a := s.subscribeFrom(t, c0).changes(1)[0] // read from an up-to-date member

	tg.db.SetReplicaLag(1) // now every read answers as a secondary one transaction behind
	sub := s.subscribeFrom(t, a.GetCursor())
	waitFor(t, "the server to meet FutureIdentifier", 30*time.Second, func() bool { return s.svc.Stats().PollErrors > 0 })
	tg.write(t, nil, func(w writer) { w.createNode([]string{"B"}, nil) })
	tg.db.SetReplicaLag(0) // caught up

	got := sub.changes(1)[0]
	if !contains(got.GetNode().GetLabels(), "B") || got.TxId <= a.TxId {
		t.Fatalf("after the lag: got %v (tx %d), want B after tx %d", got.GetNode().GetLabels(), got.TxId, a.TxId)
	}
}

// TestRoutingFailure: with neo4j:// and every cluster member unreachable (no routing table can
// be fetched), streams end UNAVAILABLE / NEO4J_UNAVAILABLE, and GetCursor fails the same way.
func TestRoutingFailure(t *testing.T) {
	tg := newSimTarget(t)
	tg.routing = true
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
	_, err = s.cli.GetCursor(t.Context(), &cdcstreamv1.GetCursorRequest{})
	wantStatus(t, err, codes.Unavailable, "NEO4J_UNAVAILABLE")
}
