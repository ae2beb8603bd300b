package neo4jsim

import (
	"bytes"
	"testing"
	"time"
)

// Bolt-level shapes of Cypher results that a driver test cannot see directly.

// TestDeprecationNotificationPerBoltVersion checks that Bolt 5.0-5.5 get a "notifications"
// list and Bolt 5.6+ a "statuses" list, as Neo4j 5.26 sends them.
func TestDeprecationNotificationPerBoltVersion(t *testing.T) {
	srv := newRawServer(t)
	for _, minor := range []byte{4, 8} {
		rc := dialRaw(t, srv)
		rc.connect(minor)
		rc.send(msgRun, "CALL cdc.current()", map[string]any{}, map[string]any{})
		rc.expect(msgSuccess)
		rc.send(msgPull, map[string]any{"n": int64(-1)})
		rc.expect(msgRecord)
		md := rc.expect(msgSuccess)
		key, other := "notifications", "statuses"
		if minor >= 6 {
			key, other = other, key
		}
		list, _ := md[key].([]any)
		if _, dup := md[other]; dup || len(list) != 1 {
			t.Fatalf("Bolt 5.%d: summary %v", minor, md)
		}
		n := list[0].(map[string]any)
		if minor < 6 && (n["code"] != "Neo.ClientNotification.Statement.FeatureDeprecationWarning" || n["category"] != "DEPRECATION") {
			t.Errorf("Bolt 5.%d: notification %v", minor, n)
		}
		if minor >= 6 && (n["gql_status"] != "01N01" || n["neo4j_code"] != "Neo.ClientNotification.Statement.FeatureDeprecationWarning") {
			t.Errorf("Bolt 5.%d: status %v", minor, n)
		}
	}
}

// TestNodeAndRelationshipStructures checks the Bolt 5 layouts: Node 0x4E with 4 fields and
// Relationship 0x52 with 8.
func TestNodeAndRelationshipStructures(t *testing.T) {
	srv := newRawServer(t)
	rc := dialRaw(t, srv)
	rc.connect(8)
	rc.send(msgRun, "CREATE (a:A {k: 1})-[r:R]->(b:B) RETURN a, r", map[string]any{}, map[string]any{})
	md := rc.expect(msgSuccess)
	if fields, _ := md["fields"].([]any); len(fields) != 2 {
		t.Fatalf("fields %v", md)
	}
	rc.send(msgPull, map[string]any{"n": int64(-1)})
	raw, err := readMessage(rc.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte{0xB1, msgRecord, 0x92, 0xB4, 0x4E}) || !bytes.Contains(raw, []byte{0xB8, 0x52}) {
		t.Fatalf("record % X", raw)
	}
	md = rc.expect(msgSuccess)
	stats, _ := md["stats"].(map[string]any)
	if md["type"] != "rw" || stats["nodes-created"] != int64(2) || stats["relationships-created"] != int64(1) || stats["contains-updates"] != true {
		t.Fatalf("summary %v", md)
	}
}

// TestWriteLockWaitIsBounded checks that a write waiting for another connection's open
// write transaction fails with a transient error instead of hanging, and that the lock is
// free again once that transaction ends.
func TestWriteLockWaitIsBounded(t *testing.T) {
	old := lockTimeout
	lockTimeout = 50 * time.Millisecond
	t.Cleanup(func() { lockTimeout = old }) // after the server's cleanup has stopped its goroutines
	srv := newRawServer(t)
	a, b := dialRaw(t, srv), dialRaw(t, srv)
	a.connect(8)
	b.connect(8)
	a.send(msgBegin, map[string]any{})
	a.expect(msgSuccess)
	a.send(msgRun, "CREATE (:A)", map[string]any{}, map[string]any{})
	a.expect(msgSuccess)
	b.send(msgRun, "CREATE (:B)", map[string]any{}, map[string]any{})
	if md := b.expect(msgFailure); md["code"] != "Neo.TransientError.Transaction.LockAcquisitionTimeout" {
		t.Fatalf("blocked write: %v", md)
	}
	b.send(msgReset)
	b.expect(msgSuccess)
	a.send(msgPull, map[string]any{"n": int64(-1)})
	a.expect(msgSuccess)
	a.send(msgCommit)
	a.expect(msgSuccess)
	b.send(msgRun, "CREATE (:B)", map[string]any{}, map[string]any{})
	b.expect(msgSuccess)
	b.send(msgPull, map[string]any{"n": int64(-1)})
	b.expect(msgSuccess)
	if n := len(srv.DBMS().Database("neo4j").Snapshot().Nodes); n != 2 {
		t.Fatalf("%d nodes, want 2", n)
	}
}
