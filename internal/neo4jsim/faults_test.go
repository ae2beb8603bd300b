package neo4jsim_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
)

// Run-level faults (FaultPlan) seen through the real driver.

func TestFaultPlanIsValidated(t *testing.T) {
	dbms := neo4jsim.NewDBMS(neo4jsim.Config{})
	for _, c := range []struct {
		plan  neo4jsim.FaultPlan
		field string
	}{
		{neo4jsim.FaultPlan{DropEvery: -time.Second}, "DropEvery"},
		{neo4jsim.FaultPlan{DropEvery: time.Microsecond}, "DropEvery"},
		{neo4jsim.FaultPlan{FailFraction: -0.1}, "FailFraction"},
		{neo4jsim.FaultPlan{FailFraction: 1.5}, "FailFraction"},
		{neo4jsim.FaultPlan{FailFraction: math.NaN()}, "FailFraction"},
		{neo4jsim.FaultPlan{Delay: -time.Millisecond}, "Delay"},
		{neo4jsim.FaultPlan{FailFraction: 0.1, FailCode: "DatabaseUnavailable"}, "FailCode"},
		{neo4jsim.FaultPlan{FailCode: "Neo.TransientError.General"}, "FailCode"},
		{neo4jsim.FaultPlan{FailCode: "Neo.Weird.General.DatabaseUnavailable"}, "FailCode"},
	} {
		srv, err := neo4jsim.NewServer(dbms, "127.0.0.1:0", neo4jsim.WithFaultPlan(c.plan))
		if err == nil {
			_ = srv.Close()
			t.Errorf("%+v: NewServer accepted the plan", c.plan)
			continue
		}
		var pe *neo4jsim.FaultPlanError
		if !errors.As(err, &pe) || pe.Field != c.field {
			t.Errorf("%+v: error %v, want one about %s", c.plan, err, c.field)
		}
	}
	ok := neo4jsim.FaultPlan{DropEvery: time.Second, FailFraction: 1, FailCode: "Neo.ClientError.Statement.ArgumentError", Delay: time.Millisecond}
	if err := ok.Validate(); err != nil {
		t.Errorf("%+v: %v", ok, err)
	}
}

// runOutcomes runs n auto-commit statements one after the other and returns, for each, the
// Neo4j code it failed with ("" for success).
func runOutcomes(t *testing.T, srv *neo4jsim.Server, n int) []string {
	t.Helper()
	ctx := testContext(t)
	drv := newDriver(t, srv.BoltURI(), neo4j.AuthToken{}, func(c *config.Config) { c.MaxTransactionRetryTime = 0 })
	out := make([]string, n)
	for i := range n {
		sess := drv.NewSession(ctx, neo4j.SessionConfig{DatabaseName: "neo4j"})
		res, err := sess.Run(ctx, "RETURN 1 AS one", nil)
		if err == nil {
			_, err = res.Consume(ctx)
		}
		_ = sess.Close(ctx)
		if err != nil {
			out[i] = neo4jCode(err)
			if out[i] == "" {
				t.Fatalf("statement %d: not a Neo4j error: %v", i, err)
			}
		}
	}
	return out
}

func TestFailFractionIsSeededAndObservedStatistically(t *testing.T) {
	const n, fraction = 400, 0.25
	plan := neo4jsim.FaultPlan{FailFraction: fraction, Seed: 42}
	srv, _ := startServer(t, neo4jsim.WithFaultPlan(plan))
	first := runOutcomes(t, srv, n)
	failed := 0
	for i, code := range first {
		switch code {
		case "":
		case neo4jsim.DefaultFaultCode:
			failed++
		default:
			t.Fatalf("statement %d failed with %s, want %s", i, code, neo4jsim.DefaultFaultCode)
		}
	}
	// Binomial(400, 0.25): mean 100, standard deviation 8.7; five deviations either side.
	if failed < 57 || failed > 143 {
		t.Errorf("%d of %d statements failed, want about %d", failed, n, int(n*fraction))
	}
	st := srv.Stats()
	if st.Statements != n || st.FailedFraction != int64(failed) || st.FailedNext != 0 {
		t.Errorf("stats %+v, want %d statements and %d fraction failures", st, n, failed)
	}

	// The same seed gives the same outcome for every statement; another seed does not.
	again, _ := startServer(t, neo4jsim.WithFaultPlan(plan))
	if second := runOutcomes(t, again, n); strings.Join(second, ",") != strings.Join(first, ",") {
		t.Error("the same seed gave a different sequence of failures")
	}
	plan.Seed = 43
	other, _ := startServer(t, neo4jsim.WithFaultPlan(plan))
	if third := runOutcomes(t, other, n); strings.Join(third, ",") == strings.Join(first, ",") {
		t.Error("another seed gave the same sequence of failures")
	}
}

func TestFailFractionIsRetriedByExecuteQuery(t *testing.T) {
	srv, _ := startServer(t, neo4jsim.WithFaultPlan(neo4jsim.FaultPlan{FailFraction: 0.3, Seed: 1,
		FailCode: "Neo.TransientError.Transaction.DeadlockDetected", FailMessage: "deadlock (injected)"}))
	ctx := testContext(t)
	drv := newDriver(t, srv.RoutingURI(), neo4j.AuthToken{})
	for i := range 20 {
		res, err := neo4j.ExecuteQuery(ctx, drv, "CALL db.cdc.current()", nil, neo4j.EagerResultTransformer,
			neo4j.ExecuteQueryWithDatabase("neo4j"))
		if err != nil || len(res.Records) != 1 {
			t.Fatalf("query %d: %v", i, err)
		}
	}
	if st := srv.Stats(); st.FailedFraction == 0 || st.Statements != 20+st.FailedFraction {
		t.Errorf("stats %+v: want some retried failures and one extra statement per failure", st)
	}
}

func TestDropEveryCutsConnectionsAndTheDriverRecovers(t *testing.T) {
	srv, logs := startServer(t, neo4jsim.WithFaultPlan(neo4jsim.FaultPlan{DropEvery: 40 * time.Millisecond}))
	ctx := testContext(t)
	drv := newDriver(t, srv.BoltURI(), neo4j.AuthToken{})
	// Query until the plan has cut at least three open connections, at most 5000 queries. A
	// connection cut during COMMIT is not retried by the driver (the outcome is unknown), so
	// connectivity errors are expected; every other error is not, and most queries succeed.
	succeeded := 0
	for i := 0; srv.Stats().ConnectionsDropped < 3; i++ {
		if i == 5000 {
			t.Fatalf("after %d queries only %+v", i, srv.Stats())
		}
		res, err := neo4j.ExecuteQuery(ctx, drv, "RETURN 1 AS one", nil, neo4j.EagerResultTransformer,
			neo4j.ExecuteQueryWithDatabase("neo4j"))
		switch {
		case err == nil && len(res.Records) == 1:
			succeeded++
		case cutConnection(err):
		default:
			t.Fatalf("query %d: %v", i, err)
		}
	}
	if succeeded == 0 {
		t.Error("no query succeeded between the drops")
	}
	if st := srv.Stats(); st.Drops < 3 || st.ConnectionsAccepted < 2 {
		t.Errorf("stats %+v: want drop rounds and reconnects", st)
	}
	if !strings.Contains(logs.String(), "bolt connections dropped (fault plan)") {
		t.Error("the drops were not logged")
	}
}

// cutConnection reports a connectivity error, or a retry budget spent on nothing else.
func cutConnection(err error) bool {
	if neo4j.IsConnectivityError(err) {
		return true
	}
	var limit *neo4j.TransactionExecutionLimit
	if !errors.As(err, &limit) || len(limit.Errors) == 0 {
		return false
	}
	for _, e := range limit.Errors {
		if !neo4j.IsConnectivityError(e) {
			return false
		}
	}
	return true
}

func TestPlanDelayIsCounted(t *testing.T) {
	srv, _ := startServer(t, neo4jsim.WithFaultPlan(neo4jsim.FaultPlan{Delay: time.Millisecond}))
	ctx := testContext(t)
	drv := newDriver(t, srv.BoltURI(), neo4j.AuthToken{})
	if _, err := neo4j.ExecuteQuery(ctx, drv, "RETURN 1", nil, neo4j.EagerResultTransformer); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Delayed != 1 || st.Statements != 1 {
		t.Errorf("stats %+v, want one delayed statement", st)
	}
	if fs := srv.FaultState(); fs.Delay != "1ms" {
		t.Errorf("fault state %+v", fs)
	}
}
