package e2e

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// TestStartPositions: from a cursor, from NOW and (on the simulator) from EARLIEST, a stream
// starts strictly after its start position.
func TestStartPositions(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := newStack(t, tg)
		var first string
		tg.write(t, nil, func(w writer) {
			first = w.createNode([]string{"StartPos"}, map[string]*cdcstreamv1.Value{"n": testkit.Int(1)})
		})
		c1 := s.cursorNow(t)
		var second string
		tg.write(t, nil, func(w writer) {
			second = w.createNode([]string{"StartPos"}, map[string]*cdcstreamv1.Value{"n": testkit.Int(2)})
		})

		// From a cursor: the first change is the one committed after it.
		got := s.subscribeFrom(t, c1).changes(1)[0]
		if got.GetNode().GetElementId() != second {
			t.Fatalf("from cursor: first change is %s, want %s (the first node was %s)", got.GetNode().GetElementId(), second, first)
		}

		// From NOW: nothing committed before the subscription; its first checkpoint marks
		// the start, and the next change is the one written after it.
		now := s.subscribe(t, &cdcstreamv1.SubscribeRequest{
			Database: tg.database(), Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_NOW},
			CheckpointInterval: s1(),
		})
		if cs, _ := now.changesUntilCheckpoint(); len(cs) != 0 {
			t.Fatalf("from NOW: got %d old changes before the first checkpoint", len(cs))
		}
		var third string
		tg.write(t, nil, func(w writer) {
			third = w.createNode([]string{"StartPos"}, map[string]*cdcstreamv1.Value{"n": testkit.Int(3)})
		})
		if got := now.changes(1)[0]; got.GetNode().GetElementId() != third {
			t.Fatalf("from NOW: first change is %s, want %s", got.GetNode().GetElementId(), third)
		}
	})
}

// TestEarliest: EARLIEST starts at the oldest retained change, after pruning.
func TestEarliest(t *testing.T) {
	tg := newSimTarget(t)
	s := newStack(t, tg)
	for i := range 5 {
		tg.write(t, nil, func(w writer) {
			w.createNode([]string{"Early"}, map[string]*cdcstreamv1.Value{"i": testkit.Int(int64(i))})
		})
	}
	tg.db.Prune(2) // keep the last two transactions
	sub := s.subscribe(t, &cdcstreamv1.SubscribeRequest{
		Database: tg.database(), Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST},
		CheckpointInterval: s1(),
	})
	// A stream started at a named position opens with a checkpoint at the resolved cursor.
	if cp := sub.next().GetCheckpoint(); cp == nil || cp.GetCursor().GetId() == "" {
		t.Fatalf("EARLIEST stream did not open with a checkpoint carrying its start cursor")
	}
	cs, _ := sub.changesUntilCheckpoint()
	if len(cs) != 2 {
		t.Fatalf("EARLIEST after pruning to 2 transactions: got %d changes, want 2", len(cs))
	}
	for j, c := range cs {
		if got, want := c.GetNode().GetAfter().GetProperties()["i"].GetIntegerValue(), int64(3+j); got != want {
			t.Errorf("change %d has i=%d, want %d", j, got, want)
		}
	}
}

// TestValueRoundTrip: every Neo4j property type written in Neo4j arrives as exactly the
// expected Value.
func TestValueRoundTrip(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := newStack(t, tg)
		c := s.cursorNow(t)
		want := valueCases()
		tg.write(t, nil, func(w writer) { w.createNode([]string{"Typed"}, want) })
		got := s.subscribeFrom(t, c).changes(1)[0].GetNode().GetAfter().GetProperties()
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Fatalf("properties differ (-written +received):\n%s", diff)
		}
		for k := range want {
			if !proto.Equal(want[k], got[k]) {
				t.Errorf("property %s: got %v, want %v", k, got[k], want[k])
			}
		}
	})
}

// TestChangeShapes: create, update and delete of nodes and relationships arrive as typed
// events with before/after states, keys, metadata and ascending (tx_id, seq).
func TestChangeShapes(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := newStack(t, tg)
		c := s.cursorNow(t)
		var a, b, r string
		tg.write(t, map[string]any{"app": "e2e"}, func(w writer) {
			a = w.createNode([]string{"Shape"}, map[string]*cdcstreamv1.Value{"name": testkit.String("a"), "age": testkit.Int(1)})
			b = w.createNode([]string{"Shape"}, map[string]*cdcstreamv1.Value{"name": testkit.String("b")})
			r = w.createRelationship("LINKS", a, b, map[string]*cdcstreamv1.Value{"w": testkit.Float(0.5)})
		})
		tg.write(t, nil, func(w writer) {
			w.setNodeProperties(a, map[string]*cdcstreamv1.Value{"age": testkit.Int(2)})
			w.removeNodeProperty(a, "name")
			w.addLabel(a, "Extra")
		})
		tg.write(t, nil, func(w writer) { w.deleteRelationship(r) })

		evs := s.subscribeFrom(t, c).changes(5)
		for i := 1; i < len(evs); i++ {
			p, q := evs[i-1], evs[i]
			if q.TxId < p.TxId || (q.TxId == p.TxId && q.Seq <= p.Seq) {
				t.Fatalf("order: (%d,%d) after (%d,%d)", q.TxId, q.Seq, p.TxId, p.Seq)
			}
		}
		for _, e := range evs {
			if e.GetCursor().GetId() == "" || e.GetCursor().GetDatabase() != tg.database() {
				t.Fatalf("change without a usable cursor: %v", e.GetCursor())
			}
			md := e.GetMetadata()
			if md.GetCaptureMode() != cdcstreamv1.CaptureMode_CAPTURE_MODE_FULL || md.GetTxCommitTime() == nil || md.GetDatabaseName() != tg.database() || md.GetServerId() == "" {
				t.Fatalf("metadata incomplete: %v", md)
			}
		}
		if got := evs[0].GetMetadata().GetTxMetadata()["app"].GetStringValue(); got != "e2e" {
			t.Errorf("tx metadata app = %q, want e2e", got)
		}
		var rel, upd, del *cdcstreamv1.ChangeEvent
		for _, e := range evs {
			switch {
			case e.GetRelationship() != nil && e.GetRelationship().GetOperation() == cdcstreamv1.Operation_OPERATION_CREATE:
				rel = e
			case e.GetNode() != nil && e.GetNode().GetOperation() == cdcstreamv1.Operation_OPERATION_UPDATE:
				upd = e
			case e.GetRelationship() != nil && e.GetRelationship().GetOperation() == cdcstreamv1.Operation_OPERATION_DELETE:
				del = e
			}
		}
		if rel == nil || upd == nil || del == nil {
			t.Fatalf("missing events: create rel %v, update node %v, delete rel %v", rel != nil, upd != nil, del != nil)
		}
		re := rel.GetRelationship()
		if re.GetType() != "LINKS" || re.GetStart().GetElementId() != a || re.GetEnd().GetElementId() != b || re.GetBefore() != nil {
			t.Errorf("relationship create: %v", re)
		}
		u := upd.GetNode()
		if u.GetBefore().GetProperties()["age"].GetIntegerValue() != 1 || u.GetAfter().GetProperties()["age"].GetIntegerValue() != 2 {
			t.Errorf("update before/after age: %v / %v", u.GetBefore(), u.GetAfter())
		}
		if _, ok := u.GetAfter().GetProperties()["name"]; ok {
			t.Errorf("removed property still in after: %v", u.GetAfter())
		}
		if !contains(u.GetAfter().GetLabels(), "Extra") || contains(u.GetBefore().GetLabels(), "Extra") {
			t.Errorf("label change not in states: before %v after %v", u.GetBefore().GetLabels(), u.GetAfter().GetLabels())
		}
		if d := del.GetRelationship(); d.GetAfter() != nil || d.GetBefore().GetProperties()["w"].GetFloatValue() != 0.5 {
			t.Errorf("relationship delete states: %v", d)
		}
	})
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
