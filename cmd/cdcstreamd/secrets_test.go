package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// Secrets of the end-to-end secrets tests: distinctive strings that must never be written.
const (
	secretPassword = "pw-Zq8xW3-never-print-me"
	secretToken1   = "tok1-Kd93LmPq-never-print-me"
	secretToken2   = "tok2-Rt55XvBn-never-print-me"
	secretToken3   = "tok3-Hh21CcYy-never-print-me" // only in a broken tokens file
	secretWrong    = "wrong-Mm47JjQq-never-print-me"
)

var allSecrets = []string{secretPassword, secretToken1, secretToken2, secretToken3, secretWrong}

// checkNoSecret fails if text holds a secret or its first 12 characters.
func checkNoSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		if strings.Contains(text, secret[:12]) {
			t.Errorf("%s contains (a fragment of) the secret %q", what, secret)
		}
	}
}

// TestSecretsNeverWritten runs the real cdcstreamd binary against a Neo4j simulator whose
// password is a distinctive NEO4J_PASSWORD, with a tokens file; it makes the server refuse
// calls, reload its tokens (once successfully, once from a broken file) and serve metrics,
// then checks that neither the password nor any token appears in anything it wrote: its log,
// the statuses clients got, its metrics, its command line.
//
// It runs twice: against an external Neo4j (the simulator) that really checks the password,
// and with --demo (embedded simulator; the password is read but not used).
func TestSecretsNeverWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Run("neo4j", func(t *testing.T) {
		sim, _ := startSim(t, secretPassword, 50)
		testSecrets(t, "--neo4j-uri", sim.RoutingURI(), "--neo4j-user", "cdc")
	})
	t.Run("demo", func(t *testing.T) {
		testSecrets(t, "--demo", "--demo-rate", "20")
	})
}

// testSecrets is TestSecretsNeverWritten with the Neo4j arguments.
func testSecrets(t *testing.T, neo4jArgs ...string) {
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	writeAtomically(t, tokens, `[{"name":"app","token":"`+secretToken1+`","databases":["neo4j"]}]`)
	p := startProc(t, []string{"NEO4J_PASSWORD=" + secretPassword}, append(neo4jArgs,
		"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--auth-tokens-file", tokens,
		"--log-level", "debug", "--max-subscriptions-per-token", "5", "--max-stream-age", "1m")...)

	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.Cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(environ), secretPassword) {
		t.Fatal("the password did not reach the process: the test proves nothing")
	}

	cc := testkit.Dial(t, p.Addr)
	client := cdcstreamv1.NewChangeStreamServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bearer := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	var seen strings.Builder // every status the client received, with its details
	record := func(err error) codes.Code {
		st := status.Convert(err)
		seen.WriteString(prototext.Format(st.Proto()) + "\n")
		return st.Code()
	}
	getCursor := func(c context.Context, db string) codes.Code {
		_, err := client.GetCursor(c, &cdcstreamv1.GetCursorRequest{Database: db})
		return record(err)
	}
	subscribe := func(tok, db string, n int) codes.Code {
		sctx, scancel := context.WithCancel(bearer(tok))
		defer scancel()
		st, err := client.Subscribe(sctx, &cdcstreamv1.SubscribeRequest{Database: db,
			Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}})
		if err != nil {
			return record(err)
		}
		for i := 0; i < n; i++ {
			if _, err := st.Recv(); err != nil {
				return record(err)
			}
		}
		return codes.OK
	}
	expect := func(what string, got, want codes.Code) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	expect("no token", getCursor(ctx, ""), codes.Unauthenticated)
	expect("wrong token", getCursor(bearer(secretWrong), ""), codes.Unauthenticated)
	expect("token prefix", getCursor(bearer(secretToken1[:len(secretToken1)-2]), ""), codes.Unauthenticated)
	expect("database not granted", getCursor(bearer(secretToken1), "system"), codes.PermissionDenied)
	expect("granted", getCursor(bearer(secretToken1), ""), codes.OK)
	expect("subscribe, wrong token", subscribe(secretWrong, "", 1), codes.Unauthenticated)
	expect("subscribe, database not granted", subscribe(secretToken1, "other", 1), codes.PermissionDenied)
	expect("subscribe, granted", subscribe(secretToken1, "neo4j", 20), codes.OK)

	// Reload: token 2 replaces token 1.
	writeAtomically(t, tokens, `[{"name":"app2","token":"`+secretToken2+`","databases":["*"]}]`)
	p.Signal(t, syscall.SIGHUP)
	waitFor(t, "token 2 accepted", func() bool { return getCursor(bearer(secretToken2), "") == codes.OK })
	expect("old token after reload", getCursor(bearer(secretToken1), ""), codes.Unauthenticated)
	expect("database unknown to Neo4j", subscribe(secretToken2, "nosuchdb", 1), codes.NotFound)

	// A broken file (token 3 without databases) is refused; token 2 stays in force.
	writeAtomically(t, tokens, `[{"name":"app3","token":"`+secretToken3+`"}]`)
	p.Signal(t, syscall.SIGHUP)
	waitFor(t, "failed reload logged", func() bool { return strings.Contains(p.Log.String(), "NOT reloaded") })
	expect("token 2 after a failed reload", getCursor(bearer(secretToken2), ""), codes.OK)
	expect("token 3 from the broken file", getCursor(bearer(secretToken3), ""), codes.Unauthenticated)

	metricsText := scrapeMetrics(t, p.MetricsURL)
	for _, want := range []string{`cdcstream_changes_sent_total{database="neo4j"} `, `grpc_code="Unauthenticated"`, `grpc_code="PermissionDenied"`} {
		if !strings.Contains(string(metricsText), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	p.Stop()
	logText := p.Log.String()
	for _, want := range []string{"call refused", "auth tokens loaded", "SIGHUP: auth tokens reloaded", "NOT reloaded"} {
		if !strings.Contains(logText, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	checkNoSecret(t, "the log", logText, allSecrets...)
	checkNoSecret(t, "the statuses", seen.String(), allSecrets...)
	checkNoSecret(t, "the metrics", string(metricsText), allSecrets...)
	checkNoSecret(t, "/proc/<pid>/cmdline", string(cmdline), allSecrets...)
	if t.Failed() {
		t.Logf("log:\n%s\nstatuses:\n%s", logText, seen.String())
	}
}

// TestWrongNeo4jPasswordNotWritten starts cdcstreamd with a wrong, distinctive Neo4j password
// (from a password file and from NEO4J_PASSWORD) and checks that what it writes about the
// failure names the cause and does not contain the password.
func TestWrongNeo4jPasswordNotWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const wrong = "pwWRONG-Ls38Nn-never-print-me"
	bin, _ := binaries(t)
	sim, _ := startSim(t, secretPassword, 1)
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(wrong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--neo4j-password-file", pwFile}, nil} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, bin, append([]string{"--neo4j-uri", sim.RoutingURI(), "--neo4j-user", "cdc",
			"--listen", "127.0.0.1:0", "--log-level", "debug"}, args...)...)
		cmd.Env = append(os.Environ(), "NEO4J_PASSWORD="+wrong)
		out, err := cmd.CombinedOutput() // Neo4j refuses it at start: it exits
		cancel()
		if err == nil {
			t.Fatalf("started with a wrong password:\n%s", out)
		}
		if !strings.Contains(string(out), "credentials") {
			t.Errorf("the failure does not name the credentials:\n%s", out)
		}
		checkNoSecret(t, "the output", string(out), wrong)
	}
}
