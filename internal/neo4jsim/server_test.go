package neo4jsim_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/internal/proctest"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
)

// The tests in this file drive the simulator with the real neo4j-go-driver over TCP.

const cdcQuery = "CALL db.cdc.query($from, $selectors) YIELD id, txId, seq, metadata, event " +
	"RETURN id, txId, seq, metadata, event LIMIT $limit"

// startServer starts a simulator on 127.0.0.1:0 with a two-user DBMS and stops it at cleanup.
// The returned buffer receives the server log.
func startServer(t testing.TB, opts ...neo4jsim.ServerOption) (*neo4jsim.Server, *proctest.Log) {
	t.Helper()
	dbms := neo4jsim.NewDBMS(neo4jsim.Config{
		Users:     []neo4jsim.User{{Name: "neo4j", Password: "password", Admin: true}, {Name: "reader", Password: "secret"}},
		Databases: []string{"neo4j", "other"},
	})
	logs := &proctest.Log{}
	opts = append([]neo4jsim.ServerOption{neo4jsim.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))}, opts...)
	srv, err := neo4jsim.NewServer(dbms, "127.0.0.1:0", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return srv, logs
}

// newDriver connects the real driver as neo4j/password (or the given credentials).
func newDriver(t testing.TB, uri string, auth neo4j.AuthToken, configurers ...func(*config.Config)) neo4j.DriverWithContext {
	t.Helper()
	if auth.Tokens == nil {
		auth = neo4j.BasicAuth("neo4j", "password", "")
	}
	configurers = append([]func(*config.Config){func(c *config.Config) {
		c.MaxTransactionRetryTime = 15 * time.Second
	}}, configurers...)
	drv, err := neo4j.NewDriverWithContext(uri, auth, configurers...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drv.Close(context.Background()) })
	return drv
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// writeNodes commits n node creations in transactions of perTx nodes.
func writeNodes(t testing.TB, db *neo4jsim.Database, n, perTx int) {
	t.Helper()
	s := neo4jsim.Session{User: "neo4j", ClientAddr: "127.0.0.1:1", ServerAddr: "127.0.0.1:7687"}
	for done := 0; done < n; {
		k := min(perTx, n-done)
		_, err := db.Write(s, func(tx *neo4jsim.Tx) error {
			for i := range k {
				props := map[string]any{"id": int64(done + i), "name": fmt.Sprintf("person-%d", done+i), "score": 0.5}
				if _, err := tx.CreateNode([]string{"Person"}, props); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		done += k
	}
}

func neo4jCode(err error) string {
	var ne *neo4j.Neo4jError
	if errors.As(err, &ne) {
		return ne.Code
	}
	return ""
}

func TestExecuteQueryCurrentOverBoltAndRouting(t *testing.T) {
	srv, _ := startServer(t)
	db := srv.DBMS().Database("neo4j")
	writeNodes(t, db, 3, 1)
	for _, uri := range []string{srv.BoltURI(), srv.RoutingURI()} {
		t.Run(uri[:strings.Index(uri, ":")], func(t *testing.T) {
			ctx := testContext(t)
			drv := newDriver(t, uri, neo4j.AuthToken{})
			if err := drv.VerifyConnectivity(ctx); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"CALL db.cdc.current()", "call   DB.CDC.CURRENT ( ) yield ID return id", "CALL db.cdc.current", "CYPHER 25 CALL db.cdc.current() YIELD id AS c RETURN c AS id"} {
				res, err := neo4j.ExecuteQuery(ctx, drv, q, nil, neo4j.EagerResultTransformer,
					neo4j.ExecuteQueryWithDatabase("neo4j"), neo4j.ExecuteQueryWithReadersRouting())
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				want, _ := db.Current()
				if len(res.Records) != 1 || len(res.Keys) != 1 || res.Keys[0] != "id" || res.Records[0].Values[0] != want {
					t.Fatalf("%s: keys %v records %v, want id %q", q, res.Keys, res.Records, want)
				}
				if res.Summary.Database().Name() != "neo4j" || res.Summary.Server().Agent() != "Neo4j/5.26.0" {
					t.Errorf("summary db %q agent %q", res.Summary.Database().Name(), res.Summary.Server().Agent())
				}
			}
			// A second database through the same driver (routing table per database).
			res, err := neo4j.ExecuteQuery(ctx, drv, "CALL db.cdc.earliest()", nil, neo4j.EagerResultTransformer,
				neo4j.ExecuteQueryWithDatabase("other"), neo4j.ExecuteQueryWithReadersRouting())
			if err != nil {
				t.Fatal(err)
			}
			want, _ := srv.DBMS().Database("other").Earliest()
			if len(res.Records) != 1 || res.Records[0].Values[0] != want {
				t.Fatalf("earliest on other: %v, want %q", res.Records, want)
			}
		})
	}
}

// readChanges runs the poll statement in session.ExecuteRead and returns the rows.
func readChanges(ctx context.Context, drv neo4j.DriverWithContext, from string, limit int64, cfg neo4j.SessionConfig) ([]*neo4j.Record, error) {
	cfg.DatabaseName = "neo4j"
	sess := drv.NewSession(ctx, cfg)
	defer func() { _ = sess.Close(ctx) }()
	out, err := sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, cdcQuery, map[string]any{"from": from, "selectors": []any{}, "limit": limit})
		if err != nil {
			return nil, err
		}
		return res.Collect(ctx)
	})
	if err != nil {
		return nil, err
	}
	return out.([]*neo4j.Record), nil
}

func TestExecuteReadReturnsChangesLikeTheLog(t *testing.T) {
	srv, _ := startServer(t)
	db := srv.DBMS().Database("neo4j")
	from, _ := db.Current()
	writeNodes(t, db, 5, 2)
	want, err := db.Query(neo4jsim.User{Name: "neo4j", Admin: true}, from, nil)
	if err != nil || len(want) != 5 {
		t.Fatalf("log query: %d records, %v", len(want), err)
	}
	for _, uri := range []string{srv.BoltURI(), srv.RoutingURI()} {
		ctx := testContext(t)
		drv := newDriver(t, uri, neo4j.AuthToken{})
		recs, err := readChanges(ctx, drv, from, 100, neo4j.SessionConfig{})
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		if len(recs) != len(want) {
			t.Fatalf("%s: %d records, want %d", uri, len(recs), len(want))
		}
		for i, r := range recs {
			if strings.Join(r.Keys, ",") != "id,txId,seq,metadata,event" {
				t.Fatalf("keys %v", r.Keys)
			}
			id, _ := r.Get("id")
			txID, _ := r.Get("txId")
			seq, _ := r.Get("seq")
			md, _ := r.Get("metadata")
			ev, _ := r.Get("event")
			if id != want[i].ID || txID != want[i].TxID || seq != want[i].Seq {
				t.Errorf("row %d: (%v,%v,%v), want (%v,%v,%v)", i, id, txID, seq, want[i].ID, want[i].TxID, want[i].Seq)
			}
			m, ok := md.(map[string]any)
			if !ok {
				t.Fatalf("metadata is %T", md)
			}
			if _, ok := m["txCommitTime"].(time.Time); !ok {
				t.Errorf("metadata.txCommitTime is %T, want time.Time", m["txCommitTime"])
			}
			if m["databaseName"] != "neo4j" {
				t.Errorf("metadata.databaseName = %v", m["databaseName"])
			}
			e, ok := ev.(map[string]any)
			if !ok || e["eventType"] != "n" || e["operation"] != "c" {
				t.Errorf("event = %#v", ev)
			}
		}
		// LIMIT and exclusive cursors: from the third row on.
		rest, err := readChanges(ctx, drv, want[2].ID, 1, neo4j.SessionConfig{})
		if err != nil || len(rest) != 1 {
			t.Fatalf("limit 1: %d rows, %v", len(rest), err)
		}
		if id, _ := rest[0].Get("id"); id != want[3].ID {
			t.Errorf("after %s got %v, want %s", want[2].ID, id, want[3].ID)
		}
	}
}

func TestWrongPasswordIsUnauthorized(t *testing.T) {
	srv, logs := startServer(t)
	for _, uri := range []string{srv.BoltURI(), srv.RoutingURI()} {
		ctx := testContext(t)
		drv := newDriver(t, uri, neo4j.BasicAuth("neo4j", "wrong", ""))
		_, err := neo4j.ExecuteQuery(ctx, drv, "RETURN 1", nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase("neo4j"))
		if got := neo4jCode(err); got != "Neo.ClientError.Security.Unauthorized" {
			t.Fatalf("%s: error %v (code %q), want Unauthorized", uri, err, got)
		}
	}
	if !strings.Contains(logs.String(), "Neo.ClientError.Security.Unauthorized") {
		t.Error("the server did not log the authentication failure")
	}
}

func TestUnknownDatabaseIsNotFound(t *testing.T) {
	srv, _ := startServer(t)
	for _, uri := range []string{srv.BoltURI(), srv.RoutingURI()} {
		ctx := testContext(t)
		drv := newDriver(t, uri, neo4j.AuthToken{})
		_, err := neo4j.ExecuteQuery(ctx, drv, "CALL db.cdc.current()", nil, neo4j.EagerResultTransformer,
			neo4j.ExecuteQueryWithDatabase("nope"), neo4j.ExecuteQueryWithReadersRouting())
		if got := neo4jCode(err); got != "Neo.ClientError.Database.DatabaseNotFound" {
			t.Fatalf("%s: error %v (code %q), want DatabaseNotFound", uri, err, got)
		}
		var ne *neo4j.Neo4jError
		if errors.As(err, &ne) && ne.GqlStatus != "22N51" {
			t.Errorf("gql status %q, want 22N51", ne.GqlStatus)
		}
	}
}

func TestStatementErrors(t *testing.T) {
	srv, _ := startServer(t)
	ctx := testContext(t)
	drv := newDriver(t, srv.BoltURI(), neo4j.AuthToken{})
	cases := []struct {
		query  string
		params map[string]any
		auth   neo4j.AuthToken
		code   string
	}{
		{"MATCH p = (n) RETURN p", nil, neo4j.AuthToken{}, "Neo.ClientError.Statement.SyntaxError"},
		{"FOREACH (x IN [1] | CREATE ())", nil, neo4j.AuthToken{}, "Neo.ClientError.Statement.SyntaxError"},
		{"CALL db.cdc.nope()", nil, neo4j.AuthToken{}, "Neo.ClientError.Procedure.ProcedureNotFound"},
		{"CALL db.cdc.query($from)", nil, neo4j.AuthToken{}, "Neo.ClientError.Statement.ParameterMissing"},
		{"CALL db.cdc.query($from)", map[string]any{"from": 1}, neo4j.AuthToken{}, "Neo.ClientError.Statement.TypeError"},
		{"CALL db.cdc.query('not-an-id')", nil, neo4j.AuthToken{}, "Neo.ClientError.ChangeDataCapture.InvalidIdentifier"},
		{"CALL db.cdc.query()", nil, neo4j.BasicAuth("reader", "secret", ""), "Neo.ClientError.Security.Forbidden"},
	}
	for _, c := range cases {
		opts := []neo4j.ExecuteQueryConfigurationOption{neo4j.ExecuteQueryWithDatabase("neo4j")}
		if c.auth.Tokens != nil {
			opts = append(opts, neo4j.ExecuteQueryWithAuthToken(c.auth))
		}
		_, err := neo4j.ExecuteQuery(ctx, drv, c.query, c.params, neo4j.EagerResultTransformer, opts...)
		if got := neo4jCode(err); got != c.code {
			t.Errorf("%s: error %v, want code %s", c.query, err, c.code)
		}
	}
	comp, err := neo4j.ExecuteQuery(ctx, drv, "CALL dbms.components()", nil, neo4j.EagerResultTransformer)
	if err != nil || fmt.Sprint(comp.Records[0].Values) != "[Neo4j Kernel [5.26.0] enterprise]" {
		t.Fatalf("dbms.components: %v, %v", comp, err)
	}
	// The connection pool is still usable after the failures.
	res, err := neo4j.ExecuteQuery(ctx, drv, "RETURN 1", nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase("neo4j"))
	if err != nil || len(res.Records) != 1 || res.Records[0].Values[0] != int64(1) || res.Keys[0] != "1" {
		t.Fatalf("RETURN 1 after failures: %v, %v", res, err)
	}
}

func TestTransientFailureIsRetriedByTheDriver(t *testing.T) {
	srv, logs := startServer(t)
	db := srv.DBMS().Database("neo4j")
	from, _ := db.Earliest()
	writeNodes(t, db, 3, 3)
	for _, uri := range []string{srv.BoltURI(), srv.RoutingURI()} {
		ctx := testContext(t)
		drv := newDriver(t, uri, neo4j.AuthToken{})
		srv.FailNext(1, "Neo.TransientError.General.DatabaseUnavailable", "database is unavailable (injected)")
		recs, err := readChanges(ctx, drv, from, 10, neo4j.SessionConfig{})
		if err != nil || len(recs) != 3 {
			t.Fatalf("%s: %d records, %v", uri, len(recs), err)
		}
	}
	if n := strings.Count(logs.String(), "Neo.TransientError.General.DatabaseUnavailable"); n != 2 {
		t.Errorf("server logged %d injected failures, want 2", n)
	}
	// A client error is not retried.
	ctx := testContext(t)
	drv := newDriver(t, srv.BoltURI(), neo4j.AuthToken{})
	srv.FailNext(1, "Neo.ClientError.Statement.ArgumentError", "bad (injected)")
	if _, err := readChanges(ctx, drv, from, 10, neo4j.SessionConfig{}); neo4jCode(err) != "Neo.ClientError.Statement.ArgumentError" {
		t.Fatalf("injected client error: %v", err)
	}
}

// boltLog counts the messages the driver sends.
type boltLog struct {
	// mu guards client.
	mu     sync.Mutex
	client []string
}

func (l *boltLog) LogClientMessage(_, msg string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.client = append(l.client, fmt.Sprintf(msg, args...))
}

func (l *boltLog) LogServerMessage(string, string, ...any) {}

func (l *boltLog) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.client {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

func TestPagingTenThousandRows(t *testing.T) {
	srv, _ := startServer(t)
	db := srv.DBMS().Database("neo4j")
	from, _ := db.Earliest()
	writeNodes(t, db, 10_000, 250)
	ctx := testContext(t)
	drv := newDriver(t, srv.RoutingURI(), neo4j.AuthToken{})
	bl := &boltLog{}
	recs, err := readChanges(ctx, drv, from, 1_000_000, neo4j.SessionConfig{FetchSize: 1000, BoltLogger: bl})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 10_000 {
		t.Fatalf("%d records, want 10000", len(recs))
	}
	var lastTx, lastSeq int64 = -1, -1
	for i, r := range recs {
		tx, _ := r.Get("txId")
		seq, _ := r.Get("seq")
		ti, si := tx.(int64), seq.(int64)
		if ti < lastTx || ti == lastTx && si <= lastSeq {
			t.Fatalf("row %d (%d,%d) not after (%d,%d)", i, ti, si, lastTx, lastSeq)
		}
		lastTx, lastSeq = ti, si
	}
	if pulls := bl.count("PULL"); pulls != 10 {
		t.Errorf("driver sent %d PULLs, want 10 pages of 1000", pulls)
	}
}

func TestTwoOpenResultsInOneTransaction(t *testing.T) {
	srv, _ := startServer(t)
	db := srv.DBMS().Database("neo4j")
	from, _ := db.Earliest()
	writeNodes(t, db, 2500, 500)
	ctx := testContext(t)
	drv := newDriver(t, srv.BoltURI(), neo4j.AuthToken{})
	bl := &boltLog{}
	sess := drv.NewSession(ctx, neo4j.SessionConfig{DatabaseName: "neo4j", FetchSize: 1000, BoltLogger: bl})
	defer func() { _ = sess.Close(ctx) }()
	tx, err := sess.BeginTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := tx.Run(ctx, "CALL db.cdc.query($from) YIELD txId, seq RETURN txId, seq", map[string]any{"from": from})
	if err != nil {
		t.Fatal(err)
	}
	if !r1.Next(ctx) { // read one row so the first stream is open with records left
		t.Fatal(r1.Err())
	}
	r2, err := tx.Run(ctx, "CALL db.cdc.query($from) YIELD id AS changeId RETURN changeId LIMIT 1200", map[string]any{"from": from})
	if err != nil {
		t.Fatal(err)
	}
	rows2, err := r2.Collect(ctx)
	if err != nil || len(rows2) != 1200 || rows2[0].Keys[0] != "changeId" {
		t.Fatalf("second result: %d rows, %v", len(rows2), err)
	}
	rows1, err := r1.Collect(ctx)
	if err != nil || len(rows1) != 2499 {
		t.Fatalf("first result: %d more rows, %v", len(rows1), err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// The first result was left open when the second started, so the driver addressed it by qid.
	qidPulls := 0
	bl.mu.Lock()
	for _, m := range bl.client {
		if strings.HasPrefix(m, "PULL") && strings.Contains(m, "qid") {
			qidPulls++
		}
	}
	bl.mu.Unlock()
	if qidPulls == 0 {
		t.Errorf("the driver never addressed the first result by qid: %v", bl.client)
	}
}

func TestDriverRecoversFromDroppedConnections(t *testing.T) {
	srv, _ := startServer(t)
	for _, uri := range []string{srv.BoltURI(), srv.RoutingURI()} {
		ctx := testContext(t)
		drv := newDriver(t, uri, neo4j.AuthToken{})
		for i := range 3 {
			res, err := neo4j.ExecuteQuery(ctx, drv, "CALL db.cdc.current()", nil, neo4j.EagerResultTransformer,
				neo4j.ExecuteQueryWithDatabase("neo4j"), neo4j.ExecuteQueryWithReadersRouting())
			if err != nil || len(res.Records) != 1 {
				t.Fatalf("%s attempt %d: %v", uri, i, err)
			}
			srv.DropConnections()
		}
	}
}

func TestRefusedConnectionsFailThenRecover(t *testing.T) {
	srv, _ := startServer(t)
	ctx := testContext(t)
	drv := newDriver(t, srv.BoltURI(), neo4j.AuthToken{}, func(c *config.Config) { c.MaxTransactionRetryTime = 0 })
	srv.RefuseConnections(true)
	if _, err := neo4j.ExecuteQuery(ctx, drv, "RETURN 1", nil, neo4j.EagerResultTransformer); err == nil {
		t.Fatal("query succeeded while the server refuses connections")
	}
	srv.RefuseConnections(false)
	if _, err := neo4j.ExecuteQuery(ctx, drv, "RETURN 1", nil, neo4j.EagerResultTransformer); err != nil {
		t.Fatalf("after refusing stopped: %v", err)
	}
}

func TestDelayedResponsesAndTelemetry(t *testing.T) {
	srv, _ := startServer(t, neo4jsim.WithTelemetry(true), neo4jsim.WithKeepAliveInterval(5*time.Millisecond),
		neo4jsim.WithRecvTimeoutHint(time.Second), neo4jsim.WithManifestHandshake(false))
	srv.SetDelay(30 * time.Millisecond)
	ctx := testContext(t)
	drv := newDriver(t, srv.RoutingURI(), neo4j.AuthToken{})
	res, err := neo4j.ExecuteQuery(ctx, drv, "RETURN 'x' AS x, [1, 2.5, null, {a: true}] AS l", nil, neo4j.EagerResultTransformer,
		neo4j.ExecuteQueryWithDatabase("neo4j"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.Keys, res.Records[0].Values); got != "[x l] [x [1 2.5 <nil> map[a:true]]]" {
		t.Fatalf("got %s", got)
	}
}

func TestWrongSessionPasswordIsUnauthorized(t *testing.T) {
	srv, _ := startServer(t)
	for _, uri := range []string{srv.BoltURI(), srv.RoutingURI()} {
		ctx := testContext(t)
		drv := newDriver(t, uri, neo4j.AuthToken{})
		// Warm the pool with the driver's own credentials, so that the session's token is
		// applied by re-authenticating a pooled connection (LOGOFF, LOGON).
		if _, err := neo4j.ExecuteQuery(ctx, drv, "RETURN 1", nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase("neo4j")); err != nil {
			t.Fatal(err)
		}
		_, err := neo4j.ExecuteQuery(ctx, drv, "RETURN 1", nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase("neo4j"),
			neo4j.ExecuteQueryWithAuthToken(neo4j.BasicAuth("reader", "wrong", "")))
		if got := neo4jCode(err); got != "Neo.ClientError.Security.Unauthorized" {
			t.Fatalf("%s: error %v (code %q), want Unauthorized", uri, err, got)
		}
		res, err := neo4j.ExecuteQuery(ctx, drv, "RETURN 2 AS two", nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase("neo4j"),
			neo4j.ExecuteQueryWithAuthToken(neo4j.BasicAuth("reader", "secret", "")))
		if err != nil || len(res.Records) != 1 {
			t.Fatalf("%s: right session credentials after the wrong ones: %v", uri, err)
		}
	}
}
