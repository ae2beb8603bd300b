package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/cdcstream/cdcstream/internal/tlsconfig/tlstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// runTail runs cdctail with args under a deadline and returns its exit code and output.
func runTail(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr strings.Builder
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// decodeLines parses JSON lines, keeping numbers exact.
func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// ids lists the "id" fields of lines.
func ids(lines []map[string]any) []string {
	var out []string
	for _, l := range lines {
		id, _ := l["id"].(string)
		out = append(out, id)
	}
	return out
}

// path walks nested maps: path(m, "event", "type").
func path(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func TestRunPrintsNeo4jShapedJSONLines(t *testing.T) {
	srv := newTailServer(5)
	addr := srv.start(t)
	code, out, errOut := runTail(t, "--address", addr, "-d", "neo4j", "--earliest", "--max-events", "3")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	lines := decodeLines(t, out)
	if got := strings.Join(ids(lines), ","); got != "c-1,c-2,c-3" {
		t.Fatalf("ids %s", got)
	}
	first := lines[0]
	checks := map[string]any{
		"txId":                                    json.Number("11"),
		"seq":                                     json.Number("0"),
		"database":                                "neo4j",
		"event.eventType":                         "r",
		"event.operation":                         "u",
		"event.type":                              "KNOWS",
		"event.start.elementId":                   "4:db:0",
		"event.state.after.properties.big":        json.Number("9007199254740993"),
		"event.state.after.properties.ratio":      json.Number("1.0"),
		"event.state.after.properties.name":       "<Ann & Bob>",
		"event.state.after.properties.raw":        "AAEC/w==",
		"event.state.after.properties.born":       "2024-03-03",
		"event.state.after.properties.since":      "P1M2DT3.5S",
		"event.state.after.properties.at":         "2024-03-03T21:51:56.769+01:00[Europe/Stockholm]",
		"event.state.after.properties.atOffset":   "2024-03-03T15:51:56-05:00",
		"event.state.after.properties.where.srid": json.Number("9157"),
		"event.state.after.properties.where.z":    json.Number("3.0"),
		"metadata.captureMode":                    "DIFF",
		"metadata.txCommitTime":                   "2024-03-03T20:51:56.769Z",
		"metadata.txMetadata.app":                 "cypher-shell",
		"metadata.databaseId":                     "uuid-1",
		"metadata.serverId":                       "7528cb82",
		"metadata.executingUser":                  "neo4j",
		"metadata.connectionType":                 "bolt",
		"event.state.after.properties.where.y":    json.Number("2.5"),
		"event.state.after.properties.where.x":    json.Number("1.0"),
	}
	for key, want := range checks {
		if got := path(first, strings.Split(key, ".")...); got != want {
			t.Errorf("%s = %#v, want %#v", key, got, want)
		}
	}
	if keys, ok := path(first, "event", "start", "keys", "Person").([]any); !ok || len(keys) != 1 {
		t.Errorf("start keys %#v", path(first, "event", "start", "keys"))
	}
	if end, ok := path(first, "event", "end", "keys").(map[string]any); !ok || len(end) != 0 {
		t.Errorf("end keys %#v, want {}", path(first, "event", "end", "keys"))
	}
	if v, present := path(first, "metadata").(map[string]any)["connectionClient"]; !present || v != nil {
		t.Errorf("connectionClient %#v (present %v), want null", v, present)
	}
	second := lines[1]
	if path(second, "event", "eventType") != "n" || path(second, "event", "operation") != "c" ||
		path(second, "event", "state", "before") != nil || path(second, "event", "state", "after", "labels") == nil {
		t.Errorf("node create rendered as %v", second["event"])
	}
	if _, present := path(second, "event", "state").(map[string]any)["before"]; !present {
		t.Error("state.before missing; want null")
	}
	req := srv.firstRequest(t)
	if req.GetDatabase() != "neo4j" || req.GetPosition().String() != "START_POSITION_EARLIEST" {
		t.Errorf("request %v", req)
	}
}

func TestRunPrettyFormat(t *testing.T) {
	addr := newTailServer(2).start(t)
	code, out, errOut := runTail(t, "-a", addr, "--from", "c-1", "--format", "pretty", "--max-events", "1")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil || m["id"] != "c-2" {
		t.Fatalf("pretty output %q: %v", out, err)
	}
	if !strings.Contains(out, "\n  \"txId\": 12,\n") {
		t.Fatalf("output is not indented: %q", out)
	}
}

func TestRunCheckpointFileContinuesWhereThePreviousRunStopped(t *testing.T) {
	addr := newTailServer(6).start(t)
	file := filepath.Join(t.TempDir(), "cursor.json")
	var seen []string
	for range 3 {
		code, out, errOut := runTail(t, "-a", addr, "--earliest", "--checkpoint-file", file, "--max-events", "2")
		if code != exitOK {
			t.Fatalf("exit %d, stderr %s", code, errOut)
		}
		seen = append(seen, ids(decodeLines(t, out))...)
	}
	if got := strings.Join(seen, ","); got != "c-1,c-2,c-3,c-4,c-5,c-6" {
		t.Fatalf("three runs printed %s", got)
	}
	data, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(data), `"id":"c-6"`) {
		t.Fatalf("checkpoint file %q, %v", data, err)
	}
}

func TestRunPrintsCheckpointsAndStopsOnCancel(t *testing.T) {
	addr := newTailServer(1).start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stdout, stderr := newLineWriter(), newLineWriter()
	done := make(chan int, 1) // run's exit code
	go func() { done <- run(ctx, []string{"-a", addr, "--earliest", "--checkpoints"}, stdout, stderr) }()
	var lines []string
	for len(lines) < 2 {
		select {
		case l := <-stdout.lines:
			lines = append(lines, l)
		case code := <-done:
			t.Fatalf("run ended early with %d: %s", code, stderr.String())
		}
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d after cancel, stderr %s", code, stderr.String())
	}
	got := decodeLines(t, strings.Join(lines, "\n"))
	if got[0]["id"] != "c-1" || path(got[1], "checkpoint", "id") != "c-1" ||
		path(got[1], "checkpoint", "serverTime") != "2024-03-04T00:00:00Z" {
		t.Fatalf("lines %v", lines)
	}
}

func TestRunTransactionMarkers(t *testing.T) {
	srv := newTailServer(2)
	addr := srv.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stdout, stderr := newLineWriter(), newLineWriter()
	done := make(chan int, 1) // run's exit code
	go func() { done <- run(ctx, []string{"-a", addr, "--earliest", "--transaction-markers"}, stdout, stderr) }()
	var lines []string
	for len(lines) < 4 {
		select {
		case l := <-stdout.lines:
			lines = append(lines, l)
		case code := <-done:
			t.Fatalf("run ended early with %d: %s", code, stderr.String())
		}
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d after cancel, stderr %s", code, stderr.String())
	}
	if !srv.firstRequest(t).GetTransactionMarkers() {
		t.Fatal("the request did not ask for transaction markers")
	}
	got := decodeLines(t, strings.Join(lines, "\n"))
	if got[0]["id"] != "c-1" || got[2]["id"] != "c-2" {
		t.Fatalf("lines %v", lines)
	}
	for i, want := range []map[string]any{
		{"txId": json.Number("11"), "changeCount": json.Number("1"), "commitTime": "2024-03-03T20:51:56.769Z", "cursor": map[string]any{"id": "c-1", "database": "neo4j"}},
		{"txId": json.Number("12"), "changeCount": json.Number("1"), "commitTime": nil, "cursor": map[string]any{"id": "c-2", "database": "neo4j"}},
	} {
		te, ok := got[2*i+1]["transactionEnd"].(map[string]any)
		if !ok || len(got[2*i+1]) != 1 {
			t.Fatalf("line %d is no transactionEnd: %s", 2*i+1, lines[2*i+1])
		}
		if fmt.Sprint(te) != fmt.Sprint(want) {
			t.Fatalf("line %d: transactionEnd %v, want %v", 2*i+1, te, want)
		}
	}
	// --max-events ends the run after the marker of the transaction that reached it.
	code, out, errOut := runTail(t, "-a", newTailServer(3).start(t), "--earliest", "--transaction-markers", "--max-events", "2")
	if got := decodeLines(t, out); code != exitOK || len(got) != 4 || got[2]["id"] != "c-2" || path(got[3], "transactionEnd", "cursor", "id") != "c-2" {
		t.Fatalf("--max-events 2 with markers: exit %d, output %s, stderr %s", code, out, errOut)
	}
	// Without the flag no marker is asked for, and none is printed.
	srv2 := newTailServer(2)
	code, out, errOut = runTail(t, "-a", srv2.start(t), "--earliest", "--max-events", "2")
	if code != exitOK || strings.Contains(out, "transactionEnd") || srv2.firstRequest(t).GetTransactionMarkers() {
		t.Fatalf("without --transaction-markers: exit %d, output %s, stderr %s", code, out, errOut)
	}
}

func TestRunBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--format", "xml"},
		{"--from", "c-1", "--earliest"},
		{"--snapshot", "later"},
		{"--snapshot", "initial", "--earliest"},
		{"--selector", "{"},
		{"--selector", "{}"},
		{"--selector", `{"node": {"labelz": ["A"]}}`},
		{"--max-events", "-1"},
		{"--pattern", "(:Person{name age})"},
		{"--pattern", ""},
		{"--tls-cert", "x.pem"},
		{"--on-expired", "later"},
		{"--checkpoint-interval", "10ms"},
		{"stray-argument"},
		{"--token-file", "/does/not/exist", "-a", "127.0.0.1:1"},
	} {
		code, _, errOut := runTail(t, args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
		if !strings.HasPrefix(errOut, "cdctail: ") {
			t.Errorf("%q: stderr %q", args, errOut)
		}
	}
}

func TestRunHelpExits0(t *testing.T) {
	code, out, _ := runTail(t, "-help")
	if code != exitOK || !strings.Contains(out, "Exit codes: 0 ok") || !strings.Contains(out, "-checkpoint-file") {
		t.Fatalf("exit %d, usage %q", code, out)
	}
}

func TestRunUnreachableServerExit3(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there any more
	code, _, errOut := runTail(t, "-a", addr, "--earliest")
	if code != exitUnreachable || !strings.Contains(errOut, "unreachable") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestRunExpiredCursorExit4(t *testing.T) {
	addr := newTailServer(2).start(t)
	code, _, errOut := runTail(t, "-a", addr, "--from", "expired")
	if code != exitExpired || !strings.Contains(errOut, `earliest retained cursor is "c-0"`) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestRunExpiredCursorRestartPrintsTheGap(t *testing.T) {
	addr := newTailServer(2).start(t)
	code, out, errOut := runTail(t, "-a", addr, "--from", "expired", "--on-expired", "earliest", "--max-events", "2")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	lines := decodeLines(t, out)
	if len(lines) != 3 || path(lines[0], "gap", "from", "id") != "expired" || path(lines[0], "gap", "resumed", "id") != "c-0" ||
		lines[1]["id"] != "c-1" || lines[2]["id"] != "c-2" {
		t.Fatalf("output %s", out)
	}
}

func TestRunSelectorsAreSent(t *testing.T) {
	srv := newTailServer(1)
	addr := srv.start(t)
	code, _, errOut := runTail(t, "-a", addr, "--earliest", "--max-events", "1",
		"--selector", `{"node": {"labels": ["Person"], "operation": "OPERATION_UPDATE"}}`,
		"--selector", `{"relationship": {"type": "KNOWS", "key": {"id": {"integerValue": "42"}}}}`)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	sels := srv.firstRequest(t).GetSelectors()
	if len(sels) != 2 || sels[0].GetNode().GetLabels()[0] != "Person" ||
		sels[1].GetRelationship().GetKey()["id"].GetIntegerValue() != 42 {
		t.Fatalf("selectors %v", sels)
	}
}

func TestRunPatternsAreSent(t *testing.T) {
	srv := newTailServer(1)
	addr := srv.start(t)
	code, _, errOut := runTail(t, "-a", addr, "--earliest", "--max-events", "1",
		"--pattern", "(:Person{name,-age})", "--pattern", "(:Person)-[:KNOWS]->(:Person),(:Company)",
		"--selector", `{"node": {"labels": ["Typed"]}}`)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	req := srv.firstRequest(t)
	if p := req.GetPatterns(); len(p) != 2 || p[0] != "(:Person{name,-age})" || p[1] != "(:Person)-[:KNOWS]->(:Person),(:Company)" {
		t.Fatalf("patterns %q", p)
	}
	if len(req.GetSelectors()) != 1 {
		t.Fatalf("selectors %v", req.GetSelectors())
	}
}

func TestRunBadPatternNamesThePosition(t *testing.T) {
	code, _, errOut := runTail(t, "--pattern", "(:Person{name age})")
	if code != exitUsage || !strings.Contains(errOut, "at character 15") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestRunTLSWithClientCertificateAndToken(t *testing.T) {
	ca := tlstest.NewCA(t, "test")
	serverPair := ca.Server(t, "server", "cdc.test")
	clientPair := ca.Client(t, "tail")
	cert, err := tls.LoadX509KeyPair(serverPair.CertFile, serverPair.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	srv := newTailServer(2)
	srv.wantToken = "s3cret"
	addr := srv.start(t, grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
		MinVersion: tls.VersionTLS12,
	})))
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsArgs := []string{"-a", addr, "--earliest", "--max-events", "2", "--tls-ca", ca.CertFile,
		"--tls-cert", clientPair.CertFile, "--tls-key", clientPair.KeyFile, "--tls-server-name", "cdc.test"}

	code, out, errOut := runTail(t, append(tlsArgs, "--token-file", tokenFile)...)
	if code != exitOK || strings.Join(ids(decodeLines(t, out)), ",") != "c-1,c-2" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	wrong := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrong, []byte("guess"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runTail(t, append(tlsArgs, "--token-file", wrong)...)
	if code != exitOther || !strings.Contains(errOut, "Unauthenticated") {
		t.Fatalf("wrong token: exit %d, stderr %q", code, errOut)
	}

	// Plain text against the TLS server never connects.
	code, _, errOut = runTail(t, "-a", addr, "--earliest", "--connect-timeout", "5s")
	if code != exitUnreachable {
		t.Fatalf("plaintext to TLS: exit %d, stderr %q", code, errOut)
	}
}
