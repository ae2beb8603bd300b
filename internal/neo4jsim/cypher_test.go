package neo4jsim_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// The Cypher subset through the real driver over TCP: every construct of the table in
// doc.go, its errors, and how writes reach the CDC log.

// cypherFixture is a server, a driver and its "neo4j" database.
type cypherFixture struct {
	t   *testing.T
	ctx context.Context
	srv *neo4jsim.Server
	drv neo4j.DriverWithContext
	db  *neo4jsim.Database
}

func newCypherFixture(t *testing.T) *cypherFixture {
	srv, _ := startServer(t)
	f := &cypherFixture{t: t, ctx: testContext(t), srv: srv, drv: newDriver(t, srv.BoltURI(), neo4j.AuthToken{})}
	f.db = srv.DBMS().Database("neo4j")
	return f
}

// query runs an auto-commit statement and fails the test on error.
func (f *cypherFixture) query(q string, params map[string]any, opts ...neo4j.ExecuteQueryConfigurationOption) *neo4j.EagerResult {
	f.t.Helper()
	res, err := f.try(q, params, opts...)
	if err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return res
}

func (f *cypherFixture) try(q string, params map[string]any, opts ...neo4j.ExecuteQueryConfigurationOption) (*neo4j.EagerResult, error) {
	opts = append([]neo4j.ExecuteQueryConfigurationOption{neo4j.ExecuteQueryWithDatabase("neo4j")}, opts...)
	return neo4j.ExecuteQuery(f.ctx, f.drv, q, params, neo4j.EagerResultTransformer, opts...)
}

// values renders the records of a result as "k=v k=v" lines.
func values(res *neo4j.EagerResult) []string {
	var out []string
	for _, r := range res.Records {
		var parts []string
		for i, k := range r.Keys {
			parts = append(parts, fmt.Sprintf("%s=%v", k, render(r.Values[i])))
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

// render prints nodes and relationships compactly and deterministically.
func render(v any) string {
	switch x := v.(type) {
	case neo4j.Node:
		return fmt.Sprintf("(%v %v)", x.Labels, x.Props)
	case neo4j.Relationship:
		return fmt.Sprintf("[%s %v]", x.Type, x.Props)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = render(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprint(v)
}

func (f *cypherFixture) expectRows(q string, params map[string]any, want ...string) {
	f.t.Helper()
	got := values(f.query(q, params))
	if !slices.Equal(got, want) {
		f.t.Errorf("%s:\n got %q\nwant %q", q, got, want)
	}
}

func TestCypherCDCProcedureForms(t *testing.T) {
	f := newCypherFixture(t)
	writeNodes(t, f.db, 3, 1)
	cur, _ := f.db.Current()
	earliest, _ := f.db.Earliest()
	for q, want := range map[string]string{
		"CALL db.cdc.current":                                   cur,
		"CALL db.cdc.earliest":                                  earliest,
		"CALL db.cdc.current()":                                 cur,
		"CYPHER 5 CALL db.cdc.current()":                        cur,
		"CYPHER 25 CALL db.cdc.earliest() YIELD id RETURN id":   earliest,
		"cypher 25 call db.cdc.earliest yield id as e return e": earliest,
	} {
		res := f.query(q, nil)
		if len(res.Records) != 1 || res.Records[0].Values[0] != want {
			t.Errorf("%s: %v, want %s", q, values(res), want)
		}
		if n := res.Summary.Notifications(); len(n) != 0 {
			t.Errorf("%s: notifications %v", q, n)
		}
	}
	// The bare form of db.cdc.query takes its arguments from parameters of the same names.
	res := f.query("CALL db.cdc.query", map[string]any{"from": earliest, "selectors": []any{}})
	if len(res.Records) != 3 {
		t.Errorf("bare db.cdc.query: %d rows", len(res.Records))
	}
	// Chained calls, WHERE on YIELD, property access and aliases.
	f.expectRows("CALL db.cdc.current() YIELD id AS c CALL db.cdc.earliest() YIELD id AS e RETURN c = $cur AS isCur, e = $e AS isE",
		map[string]any{"cur": cur, "e": earliest}, "isCur=true isE=true")
	f.expectRows("CALL db.cdc.query($from, []) YIELD event WHERE event.eventType = 'n' RETURN event.operation AS op, event.labels AS l",
		map[string]any{"from": earliest}, "op=c l=[Person]", "op=c l=[Person]", "op=c l=[Person]")
	f.expectRows("CALL db.cdc.query($from, []) YIELD seq, txId, event WHERE event.eventType = 'r' RETURN count(*) AS n",
		map[string]any{"from": earliest}, "n=0")
	f.expectRows("CALL db.cdc.query($from) YIELD txId RETURN txId ORDER BY txId DESC SKIP 1 LIMIT 1",
		map[string]any{"from": earliest}, "txId=3")
}

func TestCypherLegacyProceduresAreDeprecated(t *testing.T) {
	f := newCypherFixture(t)
	writeNodes(t, f.db, 2, 1)
	cur, _ := f.db.Current()
	earliest, _ := f.db.Earliest()
	// The text @neo4j/graphql's CDC engine sends (Cypher Builder output with a literal).
	for q, rows := range map[string]int{
		"CALL cdc.current()":                         1,
		"CALL cdc.earliest()":                        1,
		`CALL cdc.query("` + earliest + `")`:         2,
		"CALL cdc.query($from, $selectors) YIELD id": 2,
	} {
		res := f.query(q, map[string]any{"from": earliest, "selectors": []any{}})
		if len(res.Records) != rows {
			t.Errorf("%s: %d rows, want %d", q, len(res.Records), rows)
		}
		// Bolt 5.8: the notification arrives as a GQL status object; the driver derives the
		// Notification from it.
		n := res.Summary.Notifications()
		g := res.Summary.GqlStatusObjects()
		if len(n) != 1 || n[0].Code() != "Neo.ClientNotification.Statement.FeatureDeprecationWarning" ||
			!strings.Contains(n[0].Description(), "deprecated procedure") || n[0].Position().Offset() != 5 {
			t.Errorf("%s: notifications %v", q, n)
			continue
		}
		if len(g) != 1 || g[0].GqlStatus() != "01N01" || !strings.Contains(g[0].StatusDescription(), "is replaced by `db.cdc.") ||
			g[0].RawClassification() != "DEPRECATION" || g[0].RawSeverity() != "WARNING" {
			t.Errorf("%s: statuses %+v", q, g)
		}
	}
	if res := f.query("CALL cdc.current()", nil); res.Records[0].Values[0] != cur {
		t.Errorf("cdc.current() = %v, want %s", res.Records[0].Values[0], cur)
	}
}

// TestCypherGraphQLPollStatement runs the poll statement of the task (a GraphQL-style
// poll: current id, then the changes since $from, ordered, aggregated in one row).
func TestCypherGraphQLPollStatement(t *testing.T) {
	f := newCypherFixture(t)
	const poll = "CALL db.cdc.current() YIELD id AS currentId OPTIONAL CALL db.cdc.query($from, $selectors) " +
		"YIELD id, txId, seq, metadata, event WITH * ORDER BY txId ASC, seq ASC " +
		"RETURN currentId, collect({id: id, txId: txId, seq: seq, metadata: metadata, event: event}) AS events, count(id) AS eventCount"
	from, _ := f.db.Current()
	writeNodes(t, f.db, 4, 2)
	res := f.query(poll, map[string]any{"from": from, "selectors": []any{}})
	cur, _ := f.db.Current()
	if len(res.Records) != 1 || !slices.Equal(res.Keys, []string{"currentId", "events", "eventCount"}) {
		t.Fatalf("poll: keys %v rows %d", res.Keys, len(res.Records))
	}
	r := res.Records[0]
	events := r.Values[1].([]any)
	if r.Values[0] != cur || r.Values[2] != int64(4) || len(events) != 4 {
		t.Fatalf("poll: %v", values(res))
	}
	log, _ := f.db.Query(neo4jsim.User{Name: "neo4j", Admin: true}, from, nil)
	for i, e := range events {
		m := e.(map[string]any)
		if m["id"] != log[i].ID || m["txId"] != log[i].TxID || m["seq"] != log[i].Seq {
			t.Errorf("event %d: %v, want %s %d %d", i, m, log[i].ID, log[i].TxID, log[i].Seq)
		}
		if ev := m["event"].(map[string]any); ev["elementId"] != log[i].Event["elementId"] {
			t.Errorf("event %d: element %v", i, ev["elementId"])
		}
	}
	// Nothing new: OPTIONAL CALL yields one row of nulls; count(id) is 0.
	res = f.query(poll, map[string]any{"from": cur, "selectors": []any{}})
	if len(res.Records) != 1 || res.Records[0].Values[2] != int64(0) {
		t.Fatalf("empty poll: %v", values(res))
	}
}

func TestCypherExplain(t *testing.T) {
	f := newCypherFixture(t)
	writeNodes(t, f.db, 2, 1)
	last := f.db.LastTxID()
	for _, q := range []string{"EXPLAIN MATCH (n:Person) RETURN n.name AS name", "EXPLAIN CREATE (n:X) RETURN n",
		"CYPHER 25 EXPLAIN CALL db.cdc.current() YIELD id RETURN id"} {
		res := f.query(q, nil)
		if len(res.Records) != 0 || res.Summary.Plan() == nil || len(res.Keys) != 1 {
			t.Fatalf("%s: keys %v rows %d plan %v", q, res.Keys, len(res.Records), res.Summary.Plan())
		}
		if op := res.Summary.Plan().Operator(); op != "ProduceResults@neo4j" || len(res.Summary.Plan().Children()) != 1 {
			t.Errorf("%s: plan root %s", q, op)
		}
	}
	if f.db.LastTxID() != last {
		t.Fatal("EXPLAIN CREATE wrote")
	}
}

func TestCypherReads(t *testing.T) {
	f := newCypherFixture(t)
	f.query(`CREATE (a:Person {name: 'Ann', age: 31})-[:KNOWS {since: 2020}]->(b:Person:Admin {name: 'Bob', age: 45}),
		(b)-[:WORKS_AT]->(c:Company {name: 'Acme'}), (a)-[:WORKS_AT {role: 'dev'}]->(c), (:Person {name: 'Cid'})`, nil)
	f.expectRows("MATCH (n:Person) RETURN n.name AS name ORDER BY name", nil, "name=Ann", "name=Bob", "name=Cid")
	f.expectRows("MATCH (n:Person {name: $n}) RETURN n", map[string]any{"n": "Bob"}, "n=([Person Admin] map[age:45 name:Bob])")
	f.expectRows("MATCH (n) RETURN count(n) AS c, count(*) AS s", nil, "c=4 s=4")
	f.expectRows("MATCH (a)-[r:KNOWS]->(b) RETURN a.name, type(r), r.since, b.name", nil, "a.name=Ann type(r)=KNOWS r.since=2020 b.name=Bob")
	f.expectRows("MATCH (b {name: 'Bob'})<-[:KNOWS]-(a) RETURN a.name AS a", nil, "a=Ann")
	f.expectRows("MATCH (b {name: 'Bob'})-[:KNOWS]-(a) RETURN a.name AS a", nil, "a=Ann")
	f.expectRows("MATCH (b {name: 'Bob'})-[:KNOWS]->(a) RETURN a.name AS a", nil)
	f.expectRows("MATCH (p:Person)-[:WORKS_AT|KNOWS]->(x) RETURN p.name AS p, x.name AS x ORDER BY p, x", nil,
		"p=Ann x=Acme", "p=Ann x=Bob", "p=Bob x=Acme")
	f.expectRows("MATCH (a)-->(c:Company)<--(b) WHERE a.name < b.name RETURN a.name, b.name", nil, "a.name=Ann b.name=Bob")
	f.expectRows("MATCH (n:Person) WHERE n.age > 30 AND NOT n.name = 'Bob' OR n.age IS NULL RETURN n.name ORDER BY n.name", nil,
		"n.name=Ann", "n.name=Cid")
	f.expectRows("MATCH (n:Person) WHERE n.age IS NOT NULL AND n.name IN ['Bob', 'Zed'] RETURN labels(n) AS l, keys(n) AS k", nil,
		"l=[Person,Admin] k=[age,name]")
	f.expectRows("MATCH (n:Person) WHERE n.name STARTS WITH 'A' OR n.name ENDS WITH 'd' OR n.name CONTAINS 'zz' RETURN n.name ORDER BY n.name DESC", nil,
		"n.name=Cid", "n.name=Ann")
	// DESC puts null first, as Neo4j does.
	f.expectRows("MATCH (n:Person) RETURN n.name AS name ORDER BY n.age DESC SKIP 1 LIMIT $l", map[string]any{"l": int64(1)}, "name=Bob")
	f.expectRows("MATCH (n:Person) WITH n.age > 40 AS old, n RETURN old, collect(n.name) AS names ORDER BY old", nil,
		"old=false names=[Ann]", "old=true names=[Bob]", "old=<nil> names=[Cid]")
	f.expectRows("MATCH (n:Person) OPTIONAL MATCH (n)-[:WORKS_AT]->(c) RETURN n.name AS n, c.name AS c ORDER BY n", nil,
		"n=Ann c=Acme", "n=Bob c=Acme", "n=Cid c=<nil>")
	f.expectRows("MATCH (n:Person) RETURN DISTINCT size(labels(n)) AS k ORDER BY k", nil, "k=1", "k=2")
	f.expectRows("MATCH (n:Person) RETURN sum(n.age) AS s, min(n.age) AS lo, max(n.name) AS hi, avg(n.age) AS a", nil,
		"s=76 lo=31 hi=Cid a=38")
	f.expectRows("UNWIND [3, 1, 2] AS x WITH x WHERE x > 1 RETURN x * 10 AS y ORDER BY y", nil, "y=20", "y=30")
	f.expectRows("RETURN {a: [1, $p], b: {c: null}} AS m, [1, 2][1] AS i, 'x' + 1 AS s, 7 / 2 AS d, 2 ^ 3 AS pw, -(1) AS neg",
		map[string]any{"p": "q"}, "m=map[a:[1 q] b:map[c:<nil>]] i=2 s=x1 d=3 pw=8 neg=-1")
	f.expectRows("RETURN coalesce(null, 2) AS c, CASE WHEN 1 > 2 THEN 'a' ELSE 'b' END AS w, toString(12) AS s", nil, "c=2 w=b s=12")
	f.expectRows("MATCH (n:Person {name: 'Cid'}) RETURN n:Person AS p, n:Admin AS a, properties(n) AS props", nil,
		"p=true a=false props=map[name:Cid]")

	// Nodes and relationships are Bolt structures with element ids.
	res := f.query("MATCH (a:Person {name: 'Ann'})-[r:KNOWS]->(b) RETURN a, r, b, elementId(a) AS ea, elementId(r) AS er", nil)
	rec := res.Records[0]
	a, r, b := rec.Values[0].(neo4j.Node), rec.Values[1].(neo4j.Relationship), rec.Values[2].(neo4j.Node)
	if a.ElementId != rec.Values[3] || r.ElementId != rec.Values[4] || r.StartElementId != a.ElementId || r.EndElementId != b.ElementId ||
		!strings.HasPrefix(a.ElementId, "4:"+f.db.UUID()+":") || !strings.HasPrefix(r.ElementId, "5:"+f.db.UUID()+":") ||
		r.Type != "KNOWS" || r.Props["since"] != int64(2020) || a.Props["name"] != "Ann" {
		t.Fatalf("structures: %+v %+v %+v", a, r, b)
	}
	g := f.db.Snapshot()
	if n := g.Nodes[a.ElementId]; n.Properties["name"] != "Ann" {
		t.Errorf("element id %s is not Ann in the graph: %+v", a.ElementId, n)
	}
	// A read opened while another session holds an explicit write transaction is not blocked
	// and does not see the uncommitted write.
	sess := f.drv.NewSession(f.ctx, neo4j.SessionConfig{DatabaseName: "neo4j"})
	defer func() { _ = sess.Close(f.ctx) }()
	tx, err := sess.BeginTransaction(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Run(f.ctx, "CREATE (:Person {name: 'Dee'})", nil); err != nil {
		t.Fatal(err)
	}
	f.expectRows("MATCH (n:Person) RETURN count(n) AS c", nil, "c=3")
	if err := tx.Rollback(f.ctx); err != nil {
		t.Fatal(err)
	}
}
