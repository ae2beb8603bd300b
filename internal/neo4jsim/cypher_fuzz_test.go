package neo4jsim

import (
	"errors"
	"strings"
	"testing"
)

// FuzzCypher checks that no statement makes the parser or the executor panic, that every
// error is a Neo4j error with a code and a message, and that what compiles also runs (on a
// small graph, in a transaction that is rolled back) without a panic.
func FuzzCypher(f *testing.F) {
	for _, s := range []string{
		"CALL db.cdc.current()", "CALL db.cdc.earliest", "CYPHER 25 CALL cdc.query($from, $selectors) YIELD id RETURN id LIMIT 2",
		"CALL db.cdc.query($from, $selectors) YIELD id, txId, seq, metadata, event RETURN id, txId, seq, metadata, event LIMIT $limit",
		"CALL db.cdc.current() YIELD id AS currentId OPTIONAL CALL db.cdc.query($from, $selectors) YIELD id, txId, seq, metadata, event " +
			"WITH * ORDER BY txId ASC, seq ASC RETURN currentId, collect({id: id, txId: txId, seq: seq, metadata: metadata, event: event}) AS events, count(id) AS eventCount",
		"EXPLAIN MATCH (n:Person {name: $p})-[r:KNOWS|LIKES]->(m) WHERE n.age > 3 AND NOT m.x IS NULL RETURN n, r, m ORDER BY m.x DESC SKIP 1 LIMIT 3",
		"MATCH (a)<-[r]-(b) WITH a, count(r) AS c WHERE c > 0 RETURN DISTINCT labels(a), keys(a), elementId(a), type(r) AS t",
		"UNWIND [1, 2, null] AS x MERGE (n:K {k: x}) ON CREATE SET n += {a: 1} ON MATCH SET n.b = x REMOVE n:K RETURN n",
		"MATCH (n) DETACH DELETE n", "MATCH (n:A) SET n = {k: 1}, n:B DELETE n", "CREATE (a:A {k: 1})-[:R {w: 2.5}]->(b:B)<-[:S]-(a)",
		"RETURN CASE 1 WHEN 1 THEN 'a' ELSE 'b' END, coalesce(null, [1][0]), 'x' + 1, 2 ^ -1, 7 % 3, {a: {b: [1]}}.a.b[0]",
		"CREATE CONSTRAINT c IF NOT EXISTS FOR (n:A) REQUIRE (n.k) IS UNIQUE", "/* c */ RETURN [ {a:[]}, null, true ] AS x;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		pl, err := compile(q)
		if err != nil {
			if err.Code == "" || err.Message == "" {
				t.Fatalf("%q: empty error %#v", q, err)
			}
			return
		}
		if pl.fast != nil && len(pl.fast.cols) != len(pl.fast.fields) {
			t.Fatalf("%q: fields %v cols %v", q, pl.fast.fields, pl.fast.cols)
		}
		if len(q) > 400 || strings.Count(q, "(") > 12 || pl.q.isSchema() {
			return // bound the size of cartesian products; schema changes are not rolled back
		}
		db := fuzzGraph(t)
		earliest, _ := db.Earliest()
		x := &execCtx{db: db, user: admin, version: "5.26.0",
			params: map[string]any{"p": int64(1), "from": earliest, "selectors": []any{}, "limit": int64(2)}}
		tx := db.beginWrite()
		defer tx.release()
		x.openTx = func() (*Tx, error) { return tx, nil }
		if _, _, err := x.run(pl.q); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" || e.Message == "" {
				t.Fatalf("%q: error %v is not a Neo4j error", q, err)
			}
		}
	})
}

// fuzzGraph is a database with a handful of nodes and relationships and a key constraint.
func fuzzGraph(t tb) *Database {
	db := newTestDB(t, ModeFull)
	if err := db.CreateNodeKey("K", "k"); err != nil {
		t.Fatalf("key: %v", err)
	}
	mustWrite(t, db, func(tx *Tx) error {
		a, _ := tx.CreateNode([]string{"A", "Person"}, map[string]any{"k": int64(1), "name": "a", "age": int64(3)})
		b, _ := tx.CreateNode([]string{"B"}, map[string]any{"x": 1.5})
		c, _ := tx.CreateNode([]string{"K"}, map[string]any{"k": int64(2)})
		for _, r := range [][2]string{{a, b}, {b, c}, {c, c}} {
			if _, err := tx.CreateRelationship("R", r[0], r[1], map[string]any{"w": int64(1)}); err != nil {
				return err
			}
		}
		return nil
	})
	return db
}
