package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/proctest"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRunServesTheWorkloadUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &proctest.Log{}, &proctest.Log{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--user", "admin", "--password", "pw",
			"--database", "alpha", "--database", "beta", "--capture-mode", "diff", "--workload-rate", "200", "--seed", "7"},
			stdout, stderr)
	}()
	uriRE := regexp.MustCompile(`bolt://\S+`)
	deadline := time.Now().Add(30 * time.Second)
	var uri string
	for uri == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no URI printed; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v (stderr %q)", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		uri = uriRE.FindString(stdout.String())
	}
	drv, err := neo4j.NewDriverWithContext(uri, neo4j.BasicAuth("admin", "pw", ""))
	if err != nil {
		t.Fatal(err)
	}
	qctx, qcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer qcancel()
	var first string
	for _, db := range []string{"alpha", "beta"} {
		res, err := neo4j.ExecuteQuery(qctx, drv, "CALL db.cdc.earliest()", nil, neo4j.EagerResultTransformer,
			neo4j.ExecuteQueryWithDatabase(db))
		if err != nil {
			t.Fatalf("%s: %v", db, err)
		}
		if db == "alpha" {
			first = res.Records[0].Values[0].(string)
		}
	}
	// The workload commits changes: poll until db.cdc.query returns some, with a deadline.
	var rows []*neo4j.Record
	for len(rows) == 0 {
		res, err := neo4j.ExecuteQuery(qctx, drv, "CALL db.cdc.query($from, []) YIELD id, metadata RETURN id, metadata LIMIT 5",
			map[string]any{"from": first}, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase("alpha"))
		if err != nil {
			t.Fatal(err)
		}
		rows = res.Records
	}
	md, _ := rows[0].Get("metadata")
	if m := md.(map[string]any); m["captureMode"] != "DIFF" || m["authenticatedUser"] != "admin" ||
		m["connectionServer"] != strings.TrimPrefix(uri, "bolt://") {
		t.Errorf("metadata %v", m)
	}
	_ = drv.Close(qctx)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if log := stderr.String(); !strings.Contains(log, "bolt connection ended") || !strings.Contains(log, "neo4jsim stopped") {
		t.Errorf("log lacks connection or stop lines:\n%s", log)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--capture-mode", "OFF"},
		{"--workload-rate", "-1"},
		{"--nope"},
		{"extra"},
		{"--listen", "256.0.0.1:99999"},
		{"--database", ""},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("%v: run succeeded", args)
		}
	}
}
