package neo4jsim

import (
	"testing"

	"pgregory.net/rapid"
)

// The replay property for workloads written through Cypher: replaying the CDC log onto an
// empty graph gives the graph.

// cypherStatements are the statement templates of the random workload.
var cypherStatements = []string{
	"CREATE (:L {k: $k, v: $v})",
	"CREATE (:K {k: $k})",
	"UNWIND $list AS x CREATE (:L {k: x})",
	"MATCH (n:L {k: $k}) SET n.v = $v",
	"MATCH (n {k: $k}) SET n += {w: $v}, n:M",
	"MATCH (n {k: $k}) SET n = {k: $k2, z: $v}",
	"MATCH (n {k: $k}) REMOVE n:L, n.v",
	"MATCH (n {k: $k}) REMOVE n.k",
	"MATCH (a {k: $k}), (b {k: $k2}) CREATE (a)-[:R {v: $v}]->(b)",
	"MATCH (a {k: $k})-[r]->() SET r.v = $v, r.u = 1",
	"MATCH (a {k: $k})-[r]-() SET r = {}",
	"MATCH ()-[r:R]->({k: $k}) DELETE r",
	"MATCH (n {k: $k}) DETACH DELETE n",
	"MATCH (n {k: $k}) DELETE n",
	"MERGE (n:K {k: $k}) ON CREATE SET n.c = 1 ON MATCH SET n.m = $v",
	"MATCH (a:L {k: $k}) MERGE (a)-[r:S]->(b:L {k: $k2}) ON CREATE SET r.new = true",
	"MATCH (n) WHERE n.k = $k SET n:K",
}

// runCypherTx runs statements as one write transaction, committed as a Bolt auto-commit or
// explicit transaction is (bolt_run.go): through Tx.commit, after each statement's checks.
func runCypherTx(db *Database, s Session, stmts []string, params map[string]any) error {
	tx := db.beginWrite()
	defer tx.release()
	for _, q := range stmts {
		pl, perr := compile(q)
		if perr != nil {
			return perr
		}
		x := &execCtx{db: db, user: admin, params: params, openTx: func() (*Tx, error) { return tx, nil }}
		if _, _, err := x.run(pl.q); err != nil {
			return err
		}
	}
	_, err := tx.commit(s)
	return err
}

func checkCypherReplay(t *rapid.T, mode string) {
	db := newTestDB(t, mode)
	if err := db.createKey(false, true, "L", []string{"k"}); err != nil { // uniqueness only
		t.Fatal(err)
	}
	if err := db.CreateNodeKey("K", "k"); err != nil {
		t.Fatal(err)
	}
	vals := rapid.SampledFrom([]any{int64(1), "x", 2.5, true, []any{int64(1), int64(2)}, nil})
	keys := rapid.Int64Range(0, 6)
	for range rapid.IntRange(1, 60).Draw(t, "txs") {
		n := rapid.IntRange(1, 3).Draw(t, "statements")
		stmts := make([]string, n)
		for i := range stmts {
			stmts[i] = rapid.SampledFrom(cypherStatements).Draw(t, "stmt")
		}
		params := map[string]any{"k": keys.Draw(t, "k"), "k2": keys.Draw(t, "k2"), "v": vals.Draw(t, "v"),
			"list": []any{keys.Draw(t, "l1"), keys.Draw(t, "l2")}}
		last := db.LastTxID()
		if err := runCypherTx(db, Session{User: "neo4j", TxMetadata: map[string]any{"stmts": int64(n)}}, stmts, params); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%v: %v is not a Neo4j error", stmts, err)
			}
			if db.LastTxID() != last {
				t.Fatalf("failed transaction %v was logged: %v", stmts, err)
			}
		}
	}
	recs, err := db.Query(admin, mustEarliest(t, db), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := replay(recs)
	if err != nil {
		t.Fatal(err)
	}
	if err := graphsEqual(rep.g, db.Snapshot()); err != nil {
		t.Fatal(err)
	}
}

func TestCypherReplayReproducesGraphFull(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { checkCypherReplay(t, ModeFull) })
}

func TestCypherReplayReproducesGraphDiff(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { checkCypherReplay(t, ModeDiff) })
}
