package neo4jsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
)

// The admin API over real HTTP on loopback, with the real driver seeing what it injects.

// adminClient calls one admin API.
type adminClient struct {
	t   *testing.T
	url string
}

func startAdmin(t *testing.T, srv *neo4jsim.Server) *adminClient {
	hs := httptest.NewServer(srv.AdminHandler())
	t.Cleanup(hs.Close)
	return &adminClient{t: t, url: hs.URL}
}

// call sends method path with body (nil for none) and decodes the reply into out (if not
// nil), returning the status code.
func (a *adminClient) call(method, path string, body any, out any) int {
	a.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.url+path, r)
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: reply %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

func (a *adminClient) post(path string, body, out any) {
	a.t.Helper()
	if code := a.call(http.MethodPost, path, body, out); code != http.StatusOK {
		a.t.Fatalf("POST %s %v: status %d", path, body, code)
	}
}

func (a *adminClient) status() neo4jsim.Status {
	a.t.Helper()
	var st neo4jsim.Status
	if code := a.call(http.MethodGet, "/status", nil, &st); code != http.StatusOK {
		a.t.Fatalf("GET /status: %d", code)
	}
	return st
}

// runOnce runs query as an auto-commit statement, which the driver never retries.
func runOnce(ctx context.Context, drv neo4j.DriverWithContext, query string) error {
	sess := drv.NewSession(ctx, neo4j.SessionConfig{DatabaseName: "neo4j"})
	defer sess.Close(ctx)
	res, err := sess.Run(ctx, query, nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	return err
}

func TestAdminFaultsReachTheDriver(t *testing.T) {
	srv, _ := startServer(t)
	api := startAdmin(t, srv)
	ctx := testContext(t)
	drv := newDriver(t, srv.BoltURI(), neo4j.AuthToken{}, func(c *config.Config) { c.MaxTransactionRetryTime = 0 })
	query := func() error { return runOnce(ctx, drv, "CALL db.cdc.current()") }
	if err := query(); err != nil {
		t.Fatal(err)
	}

	// Fail the next two statements with a client error, which the driver does not retry.
	var pending map[string]int
	api.post("/statements/fail", map[string]any{"count": 2, "code": "Neo.ClientError.Statement.ArgumentError", "message": "bad (admin)"}, &pending)
	if pending["pendingFailures"] != 2 || api.status().Faults.PendingFailures != 2 {
		t.Fatalf("pending %v, status %+v", pending, api.status().Faults)
	}
	for i := range 2 {
		if err := query(); neo4jCode(err) != "Neo.ClientError.Statement.ArgumentError" {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if err := query(); err != nil {
		t.Fatalf("after the injected failures: %v", err)
	}

	// Drop the pooled connection: the driver notices on its next use and, with a retry
	// budget, reconnects.
	retrying := newDriver(t, srv.BoltURI(), neo4j.AuthToken{})
	_ = drv.Close(ctx)
	if _, err := neo4j.ExecuteQuery(ctx, retrying, "RETURN 1", nil, neo4j.EagerResultTransformer); err != nil {
		t.Fatal(err)
	}
	var dropped map[string]int
	api.post("/connections/drop", nil, &dropped)
	if dropped["dropped"] < 1 { // and perhaps the closed driver's connection, not yet reaped
		t.Fatalf("dropped %v, want the driver's idle connection", dropped)
	}
	if _, err := neo4j.ExecuteQuery(ctx, retrying, "RETURN 1", nil, neo4j.EagerResultTransformer); err != nil {
		t.Fatalf("after the drop: %v", err)
	}
	drv = newDriver(t, srv.BoltURI(), neo4j.AuthToken{}, func(c *config.Config) { c.MaxTransactionRetryTime = 0 })

	// Refuse connections: the driver cannot connect until it stops.
	api.post("/connections/refuse", map[string]bool{"refuse": true}, nil)
	api.post("/connections/drop", map[string]any{}, nil)
	if err := query(); err == nil || !neo4j.IsConnectivityError(err) {
		t.Fatalf("while refusing: %v", err)
	}
	api.post("/connections/refuse", map[string]bool{"refuse": false}, nil)
	if err := query(); err != nil {
		t.Fatalf("after refusing: %v", err)
	}

	// A transient failure is retried by a driver with a retry budget.
	api.post("/statements/fail", map[string]any{"count": 1}, nil)
	if _, err := neo4j.ExecuteQuery(ctx, retrying, "RETURN 1", nil, neo4j.EagerResultTransformer); err != nil {
		t.Fatalf("transient failure not retried: %v", err)
	}

	// Delay every response; the delay is reported and counted.
	api.post("/statements/delay", map[string]string{"delay": "2ms"}, nil)
	if err := query(); err != nil {
		t.Fatal(err)
	}
	api.post("/statements/delay", map[string]string{"delay": "0s"}, nil)

	st := api.status()
	if st.Address != srv.Addr() || st.Stats.FailedNext != 3 || st.Stats.Drops != 2 || st.Stats.ConnectionsDropped < 1 ||
		st.Stats.ConnectionsRefused < 1 || st.Stats.Delayed != 1 || st.Stats.Statements < 8 || st.Faults.Delay != "0s" ||
		st.Faults.Refusing || st.Faults.PendingFailures != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestAdminFailFractionFailsEveryStatementAtOne(t *testing.T) {
	srv, _ := startServer(t)
	api := startAdmin(t, srv)
	ctx := testContext(t)
	drv := newDriver(t, srv.BoltURI(), neo4j.AuthToken{}, func(c *config.Config) { c.MaxTransactionRetryTime = 0 })
	api.post("/statements/fail-fraction", map[string]any{"fraction": 1, "code": "Neo.TransientError.Transaction.DeadlockDetected"}, nil)
	for range 3 {
		if err := runOnce(ctx, drv, "RETURN 1"); neo4jCode(err) != "Neo.TransientError.Transaction.DeadlockDetected" {
			t.Fatalf("fraction 1: %v", err)
		}
	}
	api.post("/statements/fail-fraction", map[string]any{"fraction": 0}, nil)
	if _, err := neo4j.ExecuteQuery(ctx, drv, "RETURN 1", nil, neo4j.EagerResultTransformer); err != nil {
		t.Fatalf("fraction 0: %v", err)
	}
	if st := api.status(); st.Stats.FailedFraction != 3 || st.Faults.FailFraction != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestAdminOperatesTheCDCLog(t *testing.T) {
	srv, _ := startServer(t)
	api := startAdmin(t, srv)
	ctx := testContext(t)
	drv := newDriver(t, srv.BoltURI(), neo4j.AuthToken{})
	db := srv.DBMS().Database("neo4j")
	earliest, _ := db.Earliest()
	writeNodes(t, db, 4, 1)

	st := api.status()
	if len(st.Databases) != 2 || st.Databases[0].Name != "neo4j" || st.Databases[0].LastTxID != db.LastTxID() ||
		st.Databases[0].CaptureMode != "FULL" || st.Databases[0].EarliestChangeID != earliest {
		t.Fatalf("databases %+v", st.Databases)
	}
	if cur, _ := db.Current(); st.Databases[0].CurrentChangeID != cur {
		t.Fatalf("current %q, want %q", st.Databases[0].CurrentChangeID, cur)
	}

	// Prune all but the last transaction: the old earliest id is gone for the driver.
	var pruned neo4jsim.DatabaseStatus
	api.post("/databases/neo4j/prune", map[string]int{"keepLast": 1}, &pruned)
	if pruned.EarliestChangeID == earliest {
		t.Fatal("prune did not move earliest")
	}
	_, err := neo4j.ExecuteQuery(ctx, drv, "CALL db.cdc.query($from, [])", map[string]any{"from": earliest},
		neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase("neo4j"))
	if neo4jCode(err) != "Neo.ClientError.ChangeDataCapture.InvalidIdentifier" {
		t.Fatalf("query from a pruned id: %v", err)
	}

	// Switch to DIFF: the next change carries captureMode DIFF.
	api.post("/databases/neo4j/capture-mode", map[string]string{"mode": "DIFF"}, nil)
	from, _ := db.Current()
	writeNodes(t, db, 1, 1)
	res, err := neo4j.ExecuteQuery(ctx, drv, "CALL db.cdc.query($from, []) YIELD metadata RETURN metadata",
		map[string]any{"from": from}, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase("neo4j"))
	if err != nil || len(res.Records) != 1 {
		t.Fatalf("query after DIFF: %v", err)
	}
	if md, _ := res.Records[0].Get("metadata"); md.(map[string]any)["captureMode"] != "DIFF" {
		t.Errorf("metadata %v", md)
	}

	// CDC off: the procedures fail; on again: the mode before is back and old ids are outdated.
	var off neo4jsim.DatabaseStatus
	api.post("/databases/neo4j/cdc", map[string]bool{"enabled": false}, &off)
	if off.CaptureMode != "OFF" || off.CurrentChangeID != "" {
		t.Fatalf("off: %+v", off)
	}
	if _, err := neo4j.ExecuteQuery(ctx, drv, "CALL db.cdc.current()", nil, neo4j.EagerResultTransformer,
		neo4j.ExecuteQueryWithDatabase("neo4j")); neo4jCode(err) != "Neo.DatabaseError.ChangeDataCapture.Disabled" {
		t.Fatalf("current while off: %v", err)
	}
	var on neo4jsim.DatabaseStatus
	api.post("/databases/neo4j/cdc", map[string]bool{"enabled": true}, &on)
	if on.CaptureMode != "DIFF" || on.CurrentChangeID == "" {
		t.Fatalf("on: %+v", on)
	}
	_, err = neo4j.ExecuteQuery(ctx, drv, "CALL db.cdc.query($from, [])", map[string]any{"from": from},
		neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase("neo4j"))
	if neo4jCode(err) != "Neo.ClientError.ChangeDataCapture.InvalidIdentifier" {
		t.Fatalf("query from before the OFF epoch: %v", err)
	}
}

func TestAdminRejectsBadRequests(t *testing.T) {
	srv, _ := startServer(t)
	api := startAdmin(t, srv)
	for _, c := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"POST", "/statements/fail", map[string]any{"count": 1, "cnt": 2}, 400},
		{"POST", "/statements/fail", map[string]any{}, 400},
		{"POST", "/statements/fail", map[string]any{"count": -1}, 400},
		{"POST", "/statements/fail", map[string]any{"count": 1, "code": "Transient"}, 400},
		{"POST", "/statements/fail-fraction", map[string]any{"fraction": 1.5}, 400},
		{"POST", "/statements/fail-fraction", map[string]any{"fraction": 0.5, "code": "Neo.Nope.A.B"}, 400},
		{"POST", "/statements/delay", map[string]any{"delay": "soon"}, 400},
		{"POST", "/statements/delay", map[string]any{"delay": "-1s"}, 400},
		{"POST", "/connections/refuse", map[string]any{}, 400},
		{"POST", "/connections/drop", "not an object", 400},
		{"POST", "/databases/nope/prune", map[string]any{"keepLast": 1}, 404},
		{"POST", "/databases/neo4j/prune", map[string]any{"keepLast": -1}, 400},
		{"POST", "/databases/neo4j/capture-mode", map[string]any{"mode": "SOME"}, 400},
		{"POST", "/databases/neo4j/cdc", map[string]any{}, 400},
		{"GET", "/connections/drop", nil, 405},
		{"GET", "/nowhere", nil, 404},
		{"POST", "/databases/neo4j/prune/now", map[string]any{}, 404},
	} {
		var reply struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		var out any = &reply
		if c.status == 405 || c.method == "GET" || strings.HasSuffix(c.path, "/now") {
			out = nil
		}
		if got := api.call(c.method, c.path, c.body, out); got != c.status {
			t.Errorf("%s %s %v: status %d, want %d", c.method, c.path, c.body, got, c.status)
		} else if out != nil && (reply.Error.Code == "" || reply.Error.Message == "") {
			t.Errorf("%s %s %v: error reply %+v", c.method, c.path, c.body, reply)
		}
	}
	if st := api.status(); st.Stats.Drops != 0 || st.Faults.PendingFailures != 0 || st.Databases[0].CaptureMode != "FULL" {
		t.Errorf("a rejected request changed the server: %+v", st)
	}
}
