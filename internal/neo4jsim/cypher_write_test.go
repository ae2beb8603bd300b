package neo4jsim_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

var simAdmin = neo4jsim.User{Name: "neo4j", Admin: true}

// eventsJSON renders the events of a log with the store UUID replaced, so that the logs of
// two databases compare.
func eventsJSON(t *testing.T, db *neo4jsim.Database) string {
	t.Helper()
	earliest, _ := db.Earliest()
	recs, err := db.Query(simAdmin, earliest, nil)
	if err != nil {
		t.Fatal(err)
	}
	var evs []any
	for _, r := range recs {
		evs = append(evs, []any{r.Seq, r.Event, r.Metadata["txMetadata"], r.Metadata["captureMode"]})
	}
	b, err := json.MarshalIndent(evs, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), db.UUID(), "UUID")
}

// TestCypherWritesLogLikeTheGoAPI writes the same transactions through Cypher (database
// neo4j, driver over TCP) and through the Go API (database other): the change events are
// the same, and the metadata names the driver's connection, user and tx metadata.
func TestCypherWritesLogLikeTheGoAPI(t *testing.T) {
	f := newCypherFixture(t)
	other := f.srv.DBMS().Database("other")
	meta := map[string]any{"app": "cypher-test", "n": int64(1)}
	sess := f.drv.NewSession(f.ctx, neo4j.SessionConfig{DatabaseName: "neo4j"})
	defer func() { _ = sess.Close(f.ctx) }()
	write := func(stmts ...string) {
		t.Helper()
		_, err := sess.ExecuteWrite(f.ctx, func(tx neo4j.ManagedTransaction) (any, error) {
			for _, s := range stmts {
				res, err := tx.Run(f.ctx, s, map[string]any{"one": int64(1)})
				if err != nil {
					return nil, err
				}
				if _, err := res.Consume(f.ctx); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}, neo4j.WithTxMetadata(meta))
		if err != nil {
			t.Fatalf("%v: %v", stmts, err)
		}
	}
	f.query("CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS NODE KEY", nil)
	write("CREATE (a:Person {id: $one, name: 'Ann'}), (b:Person {id: 2, name: 'Bob'})",
		"MATCH (a:Person {id: 1}), (b:Person {id: 2}) CREATE (a)-[:KNOWS {since: 2020}]->(b)")
	write("MATCH (a:Person {id: 1}) SET a.age = 31, a:Admin REMOVE a.name")
	write("MATCH (:Person {id: 1})-[r:KNOWS]->() SET r += {since: 2021, w: 1.5}")
	write("MATCH (b:Person {id: 2}) DETACH DELETE b")

	s := neo4jsim.Session{User: "neo4j", TxMetadata: meta}
	if err := other.CreateNodeKey("Person", "id"); err != nil {
		t.Fatal(err)
	}
	var a, b, r string
	steps := []func(tx *neo4jsim.Tx) error{
		func(tx *neo4jsim.Tx) (err error) {
			if a, err = tx.CreateNode([]string{"Person"}, map[string]any{"id": int64(1), "name": "Ann"}); err != nil {
				return err
			}
			if b, err = tx.CreateNode([]string{"Person"}, map[string]any{"id": int64(2), "name": "Bob"}); err != nil {
				return err
			}
			r, err = tx.CreateRelationship("KNOWS", a, b, map[string]any{"since": int64(2020)})
			return err
		},
		func(tx *neo4jsim.Tx) error {
			if err := tx.SetNodeProperty(a, "age", int64(31)); err != nil {
				return err
			}
			if err := tx.AddLabels(a, "Admin"); err != nil {
				return err
			}
			return tx.RemoveNodeProperty(a, "name")
		},
		func(tx *neo4jsim.Tx) error {
			if err := tx.SetRelationshipProperty(r, "since", int64(2021)); err != nil {
				return err
			}
			return tx.SetRelationshipProperty(r, "w", 1.5)
		},
		func(tx *neo4jsim.Tx) error { return tx.DeleteNode(b, true) },
	}
	for _, step := range steps {
		if _, err := other.Write(s, step); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := eventsJSON(t, f.db), eventsJSON(t, other); got != want {
		t.Fatalf("Cypher log differs from the Go API log:\n%s\nwant\n%s", got, want)
	}
	earliest, _ := f.db.Earliest()
	recs, _ := f.db.Query(simAdmin, earliest, nil)
	if len(recs) != 7 {
		t.Fatalf("%d records", len(recs))
	}
	m := recs[0].Metadata
	if m["authenticatedUser"] != "neo4j" || m["executingUser"] != "neo4j" || m["connectionType"] != "bolt" ||
		m["connectionServer"] != f.srv.Addr() || !strings.HasPrefix(m["connectionClient"].(string), "127.0.0.1:") {
		t.Errorf("metadata %v", m)
	}
	// Auto-commit with tx metadata and impersonation.
	f.query("CREATE (:Person {id: 9})", nil, neo4j.ExecuteQueryWithImpersonatedUser("reader"),
		neo4j.ExecuteQueryWithTransactionConfig(neo4j.WithTxMetadata(map[string]any{"via": "auto"})))
	recs, _ = f.db.Query(simAdmin, earliest, nil)
	m = recs[len(recs)-1].Metadata
	if m["authenticatedUser"] != "neo4j" || m["executingUser"] != "reader" || m["txMetadata"].(map[string]any)["via"] != "auto" {
		t.Errorf("auto-commit metadata %v", m)
	}
	keys := recs[len(recs)-1].Event["keys"].(map[string]any)["Person"].([]any)[0].(map[string]any)
	if keys["id"] != int64(9) {
		t.Errorf("keys %v", recs[len(recs)-1].Event["keys"])
	}
}

func TestCypherWriteClauses(t *testing.T) {
	f := newCypherFixture(t)
	counters := func(q string, params map[string]any) neo4j.Counters {
		t.Helper()
		return f.query(q, params).Summary.Counters()
	}
	c := counters("UNWIND $rows AS row CREATE (p:Person {id: row.id})-[:LIVES_IN]->(:City {name: row.city})",
		map[string]any{"rows": []any{map[string]any{"id": int64(1), "city": "Oslo"}, map[string]any{"id": int64(2), "city": "Rome"}}})
	if c.NodesCreated() != 4 || c.RelationshipsCreated() != 2 || c.PropertiesSet() != 4 || c.LabelsAdded() != 4 {
		t.Errorf("UNWIND CREATE counters %+v", c)
	}
	const merge = "MERGE (p:Person {id: $id}) ON CREATE SET p.created = true ON MATCH SET p.seen = coalesce(p.seen, 0) + 1 RETURN p.created AS c, p.seen AS s"
	f.expectRows(merge, map[string]any{"id": int64(1)}, "c=<nil> s=1")
	f.expectRows(merge, map[string]any{"id": int64(1)}, "c=<nil> s=2")
	f.expectRows(merge, map[string]any{"id": int64(3)}, "c=true s=<nil>")
	f.expectRows("MATCH (a:Person {id: 1}), (b:Person {id: 3}) MERGE (a)-[r:KNOWS]->(b) RETURN type(r) AS t", nil, "t=KNOWS")
	f.expectRows("MATCH (a:Person {id: 1}), (b:Person {id: 3}) MERGE (a)-[r:KNOWS]->(b) RETURN count(r) AS n", nil, "n=1")
	f.expectRows("MATCH (:Person)-[r:KNOWS]->() RETURN count(r) AS n", nil, "n=1")

	f.expectRows("MATCH (p:Person {id: 3}) SET p = {id: 3, name: 'C'} RETURN properties(p) AS m", nil, "m=map[id:3 name:C]")
	f.expectRows("MATCH (p:Person {id: 3}) SET p += {age: 7, name: null} RETURN properties(p) AS m", nil, "m=map[age:7 id:3]")
	f.expectRows("MATCH (p:Person {id: 3}) SET p:Admin:Staff REMOVE p:Staff, p.age RETURN labels(p) AS l, keys(p) AS k", nil,
		"l=[Person,Admin] k=[id]")
	f.expectRows("MATCH (p:Person {id: 3}) SET p.id = null RETURN p.id AS id", nil, "id=<nil>")

	// DELETE keeps Neo4j's rule: a node with relationships needs DETACH.
	_, err := f.try("MATCH (p:Person {id: 1}) DELETE p", nil)
	if neo4jCode(err) != "Neo.ClientError.Schema.ConstraintValidationFailed" || !strings.Contains(err.Error(), "still has relationships") {
		t.Fatalf("DELETE with relationships: %v", err)
	}
	// ... unless the same statement deletes them.
	c = counters("MATCH (p:Person {id: 2})-[r]-() DELETE r, p", nil)
	if c.NodesDeleted() != 1 || c.RelationshipsDeleted() != 1 {
		t.Errorf("DELETE r, p counters %+v", c)
	}
	c = counters("MATCH (p:Person {id: 1}) DETACH DELETE p", nil)
	if c.NodesDeleted() != 1 || c.RelationshipsDeleted() != 2 {
		t.Errorf("DETACH DELETE counters %+v", c)
	}
	f.expectRows("MATCH (n) RETURN labels(n) AS l, n.name AS name ORDER BY name", nil, "l=[City] name=Oslo", "l=[City] name=Rome",
		"l=[Person,Admin] name=<nil>")
	// A CREATE of a path reuses bound nodes.
	c = counters("MATCH (a:City {name: 'Oslo'}) CREATE (a)<-[:FROM]-(:Trip)-[:TO]->(:City {name: 'Bern'})", nil)
	if c.NodesCreated() != 2 || c.RelationshipsCreated() != 2 {
		t.Errorf("path CREATE counters %+v", c)
	}
	f.expectRows("MATCH (:City {name: 'Oslo'})<-[:FROM]-(t)-[:TO]->(c) RETURN labels(t) AS t, c.name AS c", nil, "t=[Trip] c=Bern")
}

// TestCypherExplicitTransactions checks BEGIN ... COMMIT as one CDC transaction with the
// BEGIN's metadata, that a transaction reads its own writes, and that ROLLBACK and a failed
// statement log nothing.
func TestCypherExplicitTransactions(t *testing.T) {
	f := newCypherFixture(t)
	sess := f.drv.NewSession(f.ctx, neo4j.SessionConfig{DatabaseName: "neo4j"})
	defer func() { _ = sess.Close(f.ctx) }()
	start := f.db.LastTxID()
	tx, err := sess.BeginTransaction(f.ctx, neo4j.WithTxMetadata(map[string]any{"app": "explicit"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"CREATE (:N {i: 1})", "CREATE (:N {i: 2})"} {
		if _, err := tx.Run(f.ctx, q, nil); err != nil {
			t.Fatal(err)
		}
	}
	res, err := tx.Run(f.ctx, "MATCH (n:N) RETURN count(n) AS c", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := res.Single(f.ctx)
	if err != nil || rec.Values[0] != int64(2) {
		t.Fatalf("own writes: %v %v", rec, err)
	}
	if err := tx.Commit(f.ctx); err != nil {
		t.Fatal(err)
	}
	if f.db.LastTxID() != start+1 {
		t.Fatalf("commit: last tx %d, want %d", f.db.LastTxID(), start+1)
	}
	earliest, _ := f.db.Earliest()
	recs, _ := f.db.Query(simAdmin, earliest, nil)
	if len(recs) != 2 || recs[0].TxID != recs[1].TxID || recs[1].Metadata["txMetadata"].(map[string]any)["app"] != "explicit" {
		t.Fatalf("records %v", recs)
	}
	// Rollback, and a failing statement, leave no trace.
	tx, err = sess.BeginTransaction(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Run(f.ctx, "CREATE (:N {i: 3})", nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(f.ctx); err != nil {
		t.Fatal(err)
	}
	_, err = sess.ExecuteWrite(f.ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		if _, err := tx.Run(f.ctx, "CREATE (:N {i: 4})", nil); err != nil {
			return nil, err
		}
		res, err := tx.Run(f.ctx, "RETURN 1 / 0 AS x", nil)
		if err != nil {
			return nil, err
		}
		return res.Consume(f.ctx)
	})
	if neo4jCode(err) != "Neo.ClientError.Statement.ArithmeticError" {
		t.Fatalf("failing transaction: %v", err)
	}
	if f.db.LastTxID() != start+1 {
		t.Fatalf("rolled back writes were committed: last tx %d", f.db.LastTxID())
	}
	f.expectRows("MATCH (n:N) RETURN n.i AS i ORDER BY i", nil, "i=1", "i=2")
	// A read transaction cannot write.
	_, err = sess.ExecuteRead(f.ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(f.ctx, "CREATE (:N {i: 5})", nil)
		if err != nil {
			return nil, err
		}
		return res.Consume(f.ctx)
	})
	if neo4jCode(err) != "Neo.ClientError.Statement.AccessMode" {
		t.Fatalf("write in a read transaction: %v", err)
	}
}

func TestCypherErrors(t *testing.T) {
	f := newCypherFixture(t)
	f.query("CREATE CONSTRAINT FOR (p:Person) REQUIRE p.id IS NODE KEY", nil)
	f.query("CREATE CONSTRAINT FOR (c:City) REQUIRE c.name IS UNIQUE", nil)
	f.query("CREATE (:Person {id: 1})-[:IN]->(:City {name: 'Oslo'})", nil)
	f.query("CREATE (:City)", nil) // a uniqueness constraint does not require the property
	cases := []struct {
		query    string
		code     string
		gql      string
		contains string
	}{
		{"CREATE (:Person {id: 1})", "Neo.ClientError.Schema.ConstraintValidationFailed", "22N79", "already exists with label `Person`"},
		{"CREATE (:City {name: 'Oslo'})", "Neo.ClientError.Schema.ConstraintValidationFailed", "22N79", "`name` = Oslo"},
		{"CREATE (:Person {name: 'x'})", "Neo.ClientError.Schema.ConstraintValidationFailed", "22N77", "must have the property `id`"},
		{"MATCH (p:Person) REMOVE p.id", "Neo.ClientError.Schema.ConstraintValidationFailed", "22N77", "must have the property `id`"},
		{"MERGE (p:Person {id: 1, name: 'dup'})", "Neo.ClientError.Schema.ConstraintValidationFailed", "22N41", "MERGE"},
		{"MATCH (p:Person) DELETE p", "Neo.ClientError.Schema.ConstraintValidationFailed", "", "still has relationships"},
		{"MERGE (p:Person {id: null})", "Neo.ClientError.Statement.SemanticError", "22N31", "null property value"},
		{"CREATE (:X {m: {a: 1}})", "Neo.ClientError.Statement.TypeError", "22G03", "Property values"},
		{"RETURN x", "Neo.ClientError.Statement.SyntaxError", "42N62", "Variable `x` not defined"},
		{"RETURN $nope", "Neo.ClientError.Statement.ParameterMissing", "42N51", "nope"},
		{"RETURN 1 / 0", "Neo.ClientError.Statement.ArithmeticError", "22012", "/ by zero"},
		{"MATCH (n) RETURN n LIMIT -1", "Neo.ClientError.Statement.ArgumentError", "22N02", "LIMIT"},
		{"RETURN 1 +", "Neo.ClientError.Statement.SyntaxError", "42001", "end of input"},
		{"MATCH (n) RETURN n ORDER", "Neo.ClientError.Statement.SyntaxError", "42001", "ORDER"},
		{"MATCH (n)", "Neo.ClientError.Statement.SyntaxError", "42001", "cannot conclude with MATCH"},
		{"MATCH p = (a)-->(b) RETURN p", "Neo.ClientError.Statement.SyntaxError", "42001", "named paths"},
		{"MATCH (a)-[*1..3]->(b) RETURN a", "Neo.ClientError.Statement.SyntaxError", "42001", "variable-length relationships"},
		{"FOREACH (x IN [1] | CREATE ())", "Neo.ClientError.Statement.SyntaxError", "42001", "FOREACH is not supported"},
		{"LOAD CSV FROM 'x' AS l RETURN l", "Neo.ClientError.Statement.SyntaxError", "42001", "LOAD is not supported"},
		{"CALL { RETURN 1 AS x } RETURN x", "Neo.ClientError.Statement.SyntaxError", "42001", "CALL subqueries"},
		{"MATCH (n) RETURN id(n)", "Neo.ClientError.Statement.SyntaxError", "42001", "id()"},
		{"RETURN [x IN [1] | x]", "Neo.ClientError.Statement.SyntaxError", "42001", "list comprehensions"},
		{"MATCH (n) RETURN count(n) + 1", "Neo.ClientError.Statement.SyntaxError", "42001", "aggregating function count"},
		{"PROFILE MATCH (n) RETURN n", "Neo.ClientError.Statement.SyntaxError", "42001", "PROFILE is not supported"},
		{"MATCH (a) RETURN a UNION MATCH (b) RETURN b", "Neo.ClientError.Statement.SyntaxError", "42001", "UNION is not supported"},
		{"CALL db.cdc.current() YIELD id WITH id", "Neo.ClientError.Statement.SyntaxError", "42001", "cannot conclude with WITH"},
		{"CALL db.cdc.current() RETURN 1", "Neo.ClientError.Statement.SyntaxError", "42001", "YIELD"},
		{"RETURN 1 AS a, 2 AS a", "Neo.ClientError.Statement.SyntaxError", "42001", "same name"},
		{"CYPHER 4 RETURN 1", "Neo.ClientError.Statement.SyntaxError", "42001", "Cypher version"},
		{"CREATE (a)-[:R]-(b)", "Neo.ClientError.Statement.SyntaxError", "42001", "directed"},
		{"CREATE CONSTRAINT FOR (p:Person) REQUIRE p.id IS NODE KEY", "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists", "", "equivalent"},
	}
	for _, c := range cases {
		_, err := f.try(c.query, nil)
		var ne *neo4j.Neo4jError
		if !asNeo4jError(err, &ne) || ne.Code != c.code || c.gql != "" && ne.GqlStatus != c.gql || !strings.Contains(ne.Msg, c.contains) {
			t.Errorf("%s: %v (gql %v), want %s %s containing %q", c.query, err, gqlOf(ne), c.code, c.gql, c.contains)
		}
	}
	// Nothing of the failed statements reached the graph or the log.
	f.expectRows("MATCH (n) RETURN count(n) AS n", nil, "n=3")
}

func asNeo4jError(err error, target **neo4j.Neo4jError) bool {
	return err != nil && errors.As(err, target)
}

func gqlOf(e *neo4j.Neo4jError) string {
	if e == nil {
		return ""
	}
	return e.GqlStatus
}
