package e2e

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
)

// writer applies changes inside one transaction of a target.
type writer interface {
	createNode(labels []string, props map[string]*cdcstreamv1.Value) string
	setNodeProperties(id string, props map[string]*cdcstreamv1.Value)
	removeNodeProperty(id, key string)
	addLabel(id, label string)
	removeLabel(id, label string)
	deleteNode(id string)
	createRelationship(typ, start, end string, props map[string]*cdcstreamv1.Value) string
	deleteRelationship(id string)
}

// target is a Neo4j the suite runs against: the simulator, or a real server.
type target interface {
	// uri, user and password are what cdcstream's Source connects with.
	uri() string
	user() string
	password() string
	// database is the database under test.
	database() string
	// write runs fn in one transaction with the given tx metadata.
	write(t *testing.T, txMeta map[string]any, fn func(w writer))
	// sim is the simulator, or nil for a real Neo4j.
	sim() *neo4jsim.Server
	// nodeKey and relationshipKey create a node key / relationship key constraint.
	nodeKey(t *testing.T, label, prop string)
	relationshipKey(t *testing.T, relType, prop string)
}

// eachTarget runs fn as subtest "sim" and as subtest "neo4j" (skipped unless NEO4J_TEST_URI is set).
func eachTarget(t *testing.T, fn func(t *testing.T, tg target)) {
	t.Run("sim", func(t *testing.T) { fn(t, newSimTarget(t)) })
	t.Run("neo4j", func(t *testing.T) {
		uri := os.Getenv("NEO4J_TEST_URI")
		if uri == "" {
			t.Skip("real Neo4j not configured: set NEO4J_TEST_URI, NEO4J_TEST_USER, NEO4J_TEST_PASSWORD (and NEO4J_TEST_DATABASE, default neo4j) to run this case against Neo4j Enterprise")
		}
		fn(t, newNeo4jTarget(t, uri))
	})
}

// simTarget is an embedded neo4jsim on loopback with CDC FULL.
type simTarget struct {
	srv *neo4jsim.Server
	db  *neo4jsim.Database
	// routing makes the service connect with neo4j:// (routing table from ROUTE) instead of bolt://.
	routing bool
}

const (
	simUser     = "neo4j"
	simPassword = "password"
	simDatabase = "neo4j"
)

func newSimTarget(t *testing.T) *simTarget { return newSimTargetTB(t) }

func newSimTargetTB(t testing.TB) *simTarget {
	t.Helper()
	dbms := neo4jsim.NewDBMS(neo4jsim.Config{
		Users:       []neo4jsim.User{{Name: simUser, Password: simPassword, Admin: true}},
		Databases:   []string{simDatabase},
		CaptureMode: "FULL",
	})
	srv, err := neo4jsim.NewServer(dbms, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return &simTarget{srv: srv, db: dbms.Database(simDatabase)}
}

func (s *simTarget) uri() string           { return s.srv.BoltURI() }
func (s *simTarget) user() string          { return simUser }
func (s *simTarget) password() string      { return simPassword }
func (s *simTarget) database() string      { return simDatabase }
func (s *simTarget) sim() *neo4jsim.Server { return s.srv }
func (s *simTarget) write(t *testing.T, txMeta map[string]any, fn func(w writer)) {
	t.Helper()
	_, err := s.db.Write(neo4jsim.Session{User: simUser, TxMetadata: txMeta}, func(tx *neo4jsim.Tx) error {
		w := &simWriter{tx: tx}
		fn(w)
		return w.err
	})
	if err != nil {
		t.Fatalf("simulator write: %v", err)
	}
}

func (s *simTarget) nodeKey(t *testing.T, label, prop string) {
	t.Helper()
	if err := s.db.CreateNodeKey(label, prop); err != nil {
		t.Fatalf("node key %s(%s): %v", label, prop, err)
	}
}

func (s *simTarget) relationshipKey(t *testing.T, relType, prop string) {
	t.Helper()
	if err := s.db.CreateRelationshipKey(relType, prop); err != nil {
		t.Fatalf("relationship key %s(%s): %v", relType, prop, err)
	}
}

// simWriter records the first error; later calls are no-ops.
type simWriter struct {
	tx  *neo4jsim.Tx
	err error
}

func (w *simWriter) do(f func() error) {
	if w.err == nil {
		w.err = f()
	}
}

func (w *simWriter) createNode(labels []string, props map[string]*cdcstreamv1.Value) string {
	var id string
	w.do(func() (err error) { id, err = w.tx.CreateNode(labels, toSimProps(props)); return })
	return id
}
func (w *simWriter) setNodeProperties(id string, props map[string]*cdcstreamv1.Value) {
	for _, k := range sortedKeys(props) {
		w.do(func() error { return w.tx.SetNodeProperty(id, k, toSim(props[k])) })
	}
}
func (w *simWriter) removeNodeProperty(id, key string) {
	w.do(func() error { return w.tx.RemoveNodeProperty(id, key) })
}
func (w *simWriter) addLabel(id, label string) {
	w.do(func() error { return w.tx.AddLabels(id, label) })
}
func (w *simWriter) removeLabel(id, label string) {
	w.do(func() error { return w.tx.RemoveLabels(id, label) })
}
func (w *simWriter) deleteNode(id string) { w.do(func() error { return w.tx.DeleteNode(id, true) }) }
func (w *simWriter) createRelationship(typ, start, end string, props map[string]*cdcstreamv1.Value) string {
	var id string
	w.do(func() (err error) { id, err = w.tx.CreateRelationship(typ, start, end, toSimProps(props)); return })
	return id
}
func (w *simWriter) deleteRelationship(id string) {
	w.do(func() error { return w.tx.DeleteRelationship(id) })
}

// neo4jTarget is a real Neo4j Enterprise server, written to with Cypher.
type neo4jTarget struct {
	u, usr, pw, db string
	driver         neo4j.DriverWithContext
}

func newNeo4jTarget(t *testing.T, uri string) *neo4jTarget {
	t.Helper()
	n := &neo4jTarget{u: uri, usr: os.Getenv("NEO4J_TEST_USER"), pw: os.Getenv("NEO4J_TEST_PASSWORD"), db: os.Getenv("NEO4J_TEST_DATABASE")}
	if n.db == "" {
		n.db = "neo4j"
	}
	d, err := neo4j.NewDriverWithContext(uri, neo4j.BasicAuth(n.usr, n.pw, ""))
	if err != nil {
		t.Fatalf("neo4j driver: %v", err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	if err := d.VerifyConnectivity(context.Background()); err != nil {
		t.Fatalf("NEO4J_TEST_URI %s unreachable: %v", uri, err)
	}
	n.driver = d
	return n
}

func (n *neo4jTarget) uri() string           { return n.u }
func (n *neo4jTarget) user() string          { return n.usr }
func (n *neo4jTarget) password() string      { return n.pw }
func (n *neo4jTarget) database() string      { return n.db }
func (n *neo4jTarget) sim() *neo4jsim.Server { return nil }
func (n *neo4jTarget) write(t *testing.T, txMeta map[string]any, fn func(w writer)) {
	t.Helper()
	ctx := context.Background()
	sess := n.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: n.db, AccessMode: neo4j.AccessModeWrite})
	defer sess.Close(ctx)
	var opts []func(*neo4j.TransactionConfig)
	if txMeta != nil {
		opts = append(opts, neo4j.WithTxMetadata(txMeta))
	}
	tx, err := sess.BeginTransaction(ctx, opts...)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	w := &cypherWriter{ctx: ctx, tx: tx}
	fn(w)
	if w.err != nil {
		tx.Rollback(ctx)
		t.Fatalf("cypher write: %v", w.err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

func (n *neo4jTarget) schema(t *testing.T, q string) {
	t.Helper()
	_, err := neo4j.ExecuteQuery(context.Background(), n.driver, q, nil, neo4j.EagerResultTransformer,
		neo4j.ExecuteQueryWithDatabase(n.db))
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (n *neo4jTarget) nodeKey(t *testing.T, label, prop string) {
	n.schema(t, "CREATE CONSTRAINT IF NOT EXISTS FOR (n"+labelExpr([]string{label})+") REQUIRE (n.`"+prop+"`) IS NODE KEY")
}

func (n *neo4jTarget) relationshipKey(t *testing.T, relType, prop string) {
	n.schema(t, "CREATE CONSTRAINT IF NOT EXISTS FOR ()-[r"+labelExpr([]string{relType})+"]-() REQUIRE (r.`"+prop+"`) IS RELATIONSHIP KEY")
}

// cypherWriter writes with Cypher in an explicit transaction; it records the first error.
type cypherWriter struct {
	ctx context.Context
	tx  neo4j.ExplicitTransaction
	err error
}

func (w *cypherWriter) run(q string, params map[string]any) any {
	if w.err != nil {
		return nil
	}
	res, err := w.tx.Run(w.ctx, q, params)
	if err != nil {
		w.err = fmt.Errorf("%s: %w", q, err)
		return nil
	}
	recs, err := res.Collect(w.ctx)
	if err != nil {
		w.err = fmt.Errorf("%s: %w", q, err)
		return nil
	}
	if len(recs) > 0 && len(recs[0].Values) > 0 {
		return recs[0].Values[0]
	}
	return nil
}

func labelExpr(labels []string) string {
	var b strings.Builder
	for _, l := range labels {
		b.WriteString(":`" + strings.ReplaceAll(l, "`", "``") + "`")
	}
	return b.String()
}

func (w *cypherWriter) createNode(labels []string, props map[string]*cdcstreamv1.Value) string {
	id, _ := w.run("CREATE (n"+labelExpr(labels)+") SET n = $props RETURN elementId(n)", map[string]any{"props": toDriverProps(props)}).(string)
	return id
}
func (w *cypherWriter) setNodeProperties(id string, props map[string]*cdcstreamv1.Value) {
	w.run("MATCH (n) WHERE elementId(n) = $id SET n += $props", map[string]any{"id": id, "props": toDriverProps(props)})
}
func (w *cypherWriter) removeNodeProperty(id, key string) {
	w.run("MATCH (n) WHERE elementId(n) = $id SET n += $props", map[string]any{"id": id, "props": map[string]any{key: nil}})
}
func (w *cypherWriter) addLabel(id, label string) {
	w.run("MATCH (n) WHERE elementId(n) = $id SET n"+labelExpr([]string{label}), map[string]any{"id": id})
}
func (w *cypherWriter) removeLabel(id, label string) {
	w.run("MATCH (n) WHERE elementId(n) = $id REMOVE n"+labelExpr([]string{label}), map[string]any{"id": id})
}
func (w *cypherWriter) deleteNode(id string) {
	w.run("MATCH (n) WHERE elementId(n) = $id DETACH DELETE n", map[string]any{"id": id})
}
func (w *cypherWriter) createRelationship(typ, start, end string, props map[string]*cdcstreamv1.Value) string {
	q := "MATCH (a), (b) WHERE elementId(a) = $s AND elementId(b) = $e CREATE (a)-[r:`" +
		strings.ReplaceAll(typ, "`", "``") + "`]->(b) SET r = $props RETURN elementId(r)"
	id, _ := w.run(q, map[string]any{"s": start, "e": end, "props": toDriverProps(props)}).(string)
	return id
}
func (w *cypherWriter) deleteRelationship(id string) {
	w.run("MATCH ()-[r]->() WHERE elementId(r) = $id DELETE r", map[string]any{"id": id})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
