package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/internal/proctest"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"go.uber.org/goleak"
)

// runMainEnv makes the test binary run main() itself, so that tests can check its exit status.
const runMainEnv = "NEO4JSIM_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Args = append([]string{"neo4jsim"}, strings.Fields(os.Getenv("NEO4JSIM_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
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
	for _, c := range []struct {
		args []string
		want string // in the error or the usage output
	}{
		{[]string{"--capture-mode", "OFF"}, "--capture-mode"},
		{[]string{"--workload-rate", "-1"}, "--workload-rate"},
		{[]string{"--nope"}, "-nope"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"--listen", "256.0.0.1:99999"}, "256.0.0.1"},
		{[]string{"--database", ""}, "empty database name"},
		{[]string{"--fault-drop-every", "-1s"}, "--fault-drop-every"},
		{[]string{"--fault-drop-every", "10us"}, "--fault-drop-every"},
		{[]string{"--fault-drop-every", "often"}, "-fault-drop-every"},
		{[]string{"--fault-fail-fraction", "1.01"}, "--fault-fail-fraction"},
		{[]string{"--fault-fail-fraction", "-0.5"}, "--fault-fail-fraction"},
		{[]string{"--fault-fail-fraction", "NaN"}, "--fault-fail-fraction"},
		{[]string{"--fault-fail-fraction", "some"}, "-fault-fail-fraction"},
		{[]string{"--fault-fail-code", "DatabaseUnavailable"}, "--fault-fail-code"},
		{[]string{"--fault-delay", "-5ms"}, "--fault-delay"},
		{[]string{"--fault-seed", "x"}, "-fault-seed"},
		{[]string{"--admin-listen", "0.0.0.0:7475"}, "loopback"},
		{[]string{"--admin-listen", "192.0.2.1:7475"}, "loopback"},
		{[]string{"--admin-listen", "7475"}, "--admin-listen"},
		{[]string{"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:99999"}, "--admin-listen"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), c.args, &out, &errOut)
		if err == nil {
			t.Errorf("%v: run succeeded", c.args)
			continue
		}
		if !strings.Contains(err.Error()+errOut.String(), c.want) {
			t.Errorf("%v: error %q (output %q) does not name %q", c.args, err, errOut.String(), c.want)
		}
	}
}

func TestBadFlagsExitTwoWithAMessage(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"--fault-fail-fraction 2", "neo4jsim: --fault-fail-fraction must be between 0 and 1, not 2"},
		{"--fault-fail-code Neo.Oops", `neo4jsim: --fault-fail-code "Neo.Oops" is not a Neo4j status code`},
		{"--admin-listen 0.0.0.0:1", "listens on loopback only"},
		{"--fault-delay soon", `invalid value "soon" for flag -fault-delay`},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), runMainEnv+"=1", "NEO4JSIM_TEST_ARGS="+c.args)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%s: %v, want exit status 2 (stderr %q)", c.args, err, stderr.String())
			continue
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s: stderr %q lacks %q", c.args, stderr.String(), c.want)
		}
	}
}

// started is a run of the command in the test process.
type started struct {
	bolt, admin string
	stdout      *proctest.Log
	stop        func() error
}

// startRun runs the command with args (plus a random Bolt port) until the test ends.
func startRun(t *testing.T, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &proctest.Log{}, &proctest.Log{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), stdout, stderr) }()
	boltRE, adminRE := regexp.MustCompile(`bolt://\S+`), regexp.MustCompile(`admin API on (http://\S+)`)
	wantAdmin := slices.Contains(args, "--admin-listen")
	deadline := time.Now().Add(30 * time.Second)
	s := &started{stdout: stdout}
	for s.bolt == "" || (wantAdmin && s.admin == "") {
		if time.Now().After(deadline) {
			t.Fatalf("no URIs printed; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v (stderr %q)", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		s.bolt = boltRE.FindString(stdout.String())
		if m := adminRE.FindStringSubmatch(stdout.String()); m != nil {
			s.admin = m[1]
		}
	}
	var once sync.Once
	var err error
	s.stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = s.stop() })
	return s
}

// post sends body to the admin API and decodes the reply into out.
func post(t *testing.T, url string, body string, out any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s %s: %d %s", url, body, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

func status(t *testing.T, url string) neo4jsim.Status {
	t.Helper()
	resp, err := http.Get(url + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st neo4jsim.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// runOnce runs query as one auto-commit statement (never retried by the driver) and returns
// the Neo4j code it failed with, "" on success.
func runOnce(t *testing.T, ctx context.Context, drv neo4j.DriverWithContext, query string) string {
	t.Helper()
	sess := drv.NewSession(ctx, neo4j.SessionConfig{})
	defer sess.Close(ctx)
	res, err := sess.Run(ctx, query, nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	if err == nil {
		return ""
	}
	var ne *neo4j.Neo4jError
	if !errors.As(err, &ne) {
		t.Fatalf("%s: not a Neo4j error: %v", query, err)
	}
	return ne.Code
}

func TestAdminEndpointDrivesFaultsSeenByTheDriver(t *testing.T) {
	s := startRun(t, "--admin-listen", "127.0.0.1:0", "--workload-rate", "100")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	drv, err := neo4j.NewDriverWithContext(s.bolt, neo4j.BasicAuth("neo4j", "password", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close(ctx)

	post(t, s.admin+"/statements/fail", `{"count": 2, "code": "Neo.TransientError.General.DatabaseUnavailable"}`, nil)
	for i := range 2 {
		if code := runOnce(t, ctx, drv, "CALL db.cdc.current"); code != "Neo.TransientError.General.DatabaseUnavailable" {
			t.Fatalf("statement %d: code %q, want the injected failure", i, code)
		}
	}
	if code := runOnce(t, ctx, drv, "CALL db.cdc.current()"); code != "" {
		t.Fatalf("after the injected failures: %s", code)
	}
	var dropped map[string]int
	post(t, s.admin+"/connections/drop", `{}`, &dropped)
	post(t, s.admin+"/databases/neo4j/capture-mode", `{"mode": "DIFF"}`, nil)

	// The workload keeps committing; status reports its position and the faults.
	var st neo4jsim.Status
	for i := 0; ; i++ {
		st = status(t, s.admin)
		if st.Databases[0].LastTxID > 0 && st.Databases[0].CurrentChangeID != "" {
			break
		}
		if i == 3000 {
			t.Fatalf("the workload committed nothing: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.Stats.FailedNext != 2 || st.Stats.Statements < 3 || st.Stats.Drops != 1 || st.Stats.ConnectionsAccepted < 1 ||
		st.Databases[0].CaptureMode != "DIFF" || "bolt://"+st.Address != s.bolt {
		t.Errorf("status %+v", st)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := http.Get(s.admin + "/status"); err == nil {
		t.Error("the admin API still answers after the run stopped")
	}
}

func TestFaultFlagsFailASeededFraction(t *testing.T) {
	const n, fraction = 300, 0.2
	outcomes := func(seed string) []string {
		s := startRun(t, "--admin-listen", "127.0.0.1:0", "--fault-fail-fraction", "0.2", "--fault-seed", seed,
			"--fault-fail-code", "Neo.TransientError.Transaction.DeadlockDetected")
		if !strings.Contains(s.stdout.String(), "fail 0.2 of statements with Neo.TransientError.Transaction.DeadlockDetected (seed "+seed+")") {
			t.Errorf("the faults were not announced: %q", s.stdout.String())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		drv, err := neo4j.NewDriverWithContext(s.bolt, neo4j.BasicAuth("neo4j", "password", ""))
		if err != nil {
			t.Fatal(err)
		}
		defer drv.Close(ctx)
		out := make([]string, n)
		failed := 0
		for i := range out {
			out[i] = runOnce(t, ctx, drv, "RETURN 1")
			switch out[i] {
			case "":
			case "Neo.TransientError.Transaction.DeadlockDetected":
				failed++
			default:
				t.Fatalf("statement %d: %s", i, out[i])
			}
		}
		// Binomial(300, 0.2): mean 60, standard deviation 6.9; five deviations either side.
		if failed < 25 || failed > 95 {
			t.Errorf("seed %s: %d of %d failed, want about %d", seed, failed, n, int(n*fraction))
		}
		if st := status(t, s.admin); st.Stats.FailedFraction != int64(failed) || st.Faults.FailFraction != fraction {
			t.Errorf("status %+v, want %d fraction failures", st, failed)
		}
		return out
	}
	first := outcomes("11")
	if again := outcomes("11"); !slices.Equal(first, again) {
		t.Error("--fault-seed 11 twice gave different failures")
	}
	if other := outcomes("12"); slices.Equal(first, other) {
		t.Error("--fault-seed 12 gave the same failures as 11")
	}
}
