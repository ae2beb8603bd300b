package main

import (
	"bufio"
	"context"
	"encoding/json"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/proctest"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/internal/tlsconfig"
	"github.com/cdcstream/cdcstream/internal/tlsconfig/tlstest"
)

// TestTLSTokensAndRotationEndToEnd runs cdcstreamd with mutual TLS, tokens and a short
// maximum stream age (1s), and talks to it with gRPC clients and with the cdctail binary.
func TestTLSTokensAndRotationEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	const token = "e2e-token-0123456789abcdef"
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "server-ca")
	clientCA := tlstest.NewCA(t, "client-ca")
	srv := ca.Server(t, "server")
	good := clientCA.Client(t, "tail")
	rogue := tlstest.NewCA(t, "rogue").Client(t, "mallory")
	tokens := filepath.Join(dir, "tokens.json")
	writeAtomically(t, tokens, `[{"name":"tail","token":"`+token+`","databases":["neo4j"]}]`)
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sim, workload := startSim(t, secretPassword, 30)
	p := startProc(t, []string{"NEO4J_PASSWORD=" + secretPassword},
		"--neo4j-uri", sim.RoutingURI(), "--neo4j-user", "cdc", "--listen", "127.0.0.1:0",
		"--tls-cert", srv.CertFile, "--tls-key", srv.KeyFile, "--tls-client-ca", clientCA.CertFile,
		"--auth-tokens-file", tokens, "--max-stream-age", "1s", "--metrics-listen", "127.0.0.1:0")
	if strings.Contains(p.Log.String(), "INSECURE") {
		t.Errorf("insecure warning on loopback:\n%s", p.Log)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dial := func(creds credentials.TransportCredentials) *grpc.ClientConn {
		return testkit.Dial(t, p.Addr, grpc.WithTransportCredentials(creds))
	}
	tlsCreds := func(opts ...tlsconfig.ClientOption) credentials.TransportCredentials {
		c, err := tlsconfig.ClientCredentials(append([]tlsconfig.ClientOption{tlsconfig.WithCA(ca.CertFile)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	health := func(cc *grpc.ClientConn) error {
		_, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := health(dial(insecure.NewCredentials())); status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext: %v, want Unavailable", err)
	}
	if err := health(dial(tlsCreds())); status.Code(err) != codes.Unavailable {
		t.Errorf("TLS without a client certificate: %v, want Unavailable", err)
	}
	if err := health(dial(tlsCreds(tlsconfig.WithClientCertificate(rogue.CertFile, rogue.KeyFile)))); status.Code(err) != codes.Unavailable {
		t.Errorf("client certificate of another CA: %v, want Unavailable", err)
	}
	cc := dial(tlsCreds(tlsconfig.WithClientCertificate(good.CertFile, good.KeyFile)))
	if err := health(cc); err != nil {
		t.Errorf("health over mTLS without a token: %v", err)
	}
	client := cdcstreamv1.NewChangeStreamServiceClient(cc)
	if _, err := client.GetCursor(ctx, &cdcstreamv1.GetCursorRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("mTLS without a token: %v, want Unauthenticated", err)
	}

	// A stream rotates after about 1s: final checkpoint, then UNAVAILABLE / STREAM_ROTATED.
	sctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	st, err := client.Subscribe(sctx, &cdcstreamv1.SubscribeRequest{
		Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}})
	if err != nil {
		t.Fatal(err)
	}
	var last *cdcstreamv1.SubscribeResponse
	changes := 0
	for {
		msg, err := st.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable || errorReason(err) != cdcstreamv1.ErrorReason_STREAM_ROTATED.String() {
				t.Fatalf("stream ended with %v, want STREAM_ROTATED", err)
			}
			break
		}
		if msg.GetChange() != nil {
			changes++
		}
		last = msg
	}
	if last.GetCheckpoint() == nil || changes == 0 {
		t.Fatalf("%d changes, last message %v: want changes and a final checkpoint", changes, last)
	}

	// The log reaches the test through a pipe: wait for that rotation's line before counting.
	waitFor(t, "the first rotation logged", func() bool { return strings.Contains(p.Log.String(), "stream rotated") })

	// cdctail, with the same TLS material and the token file, reads every change so far, is
	// rotated, resumes, and gets one more transaction's changes: nothing lost, nothing twice.
	_, tail := binaries(t)
	tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
	defer tcancel()
	cmd := exec.CommandContext(tctx, tail, "--address", p.Addr, "--earliest", "--max-events", strconv.Itoa(changes+1),
		"--tls-ca", ca.CertFile, "--tls-cert", good.CertFile, "--tls-key", good.KeyFile, "--token-file", tokenFile)
	var stdout, stderr proctest.Log
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tailDone := make(chan error, 1) // cdctail's exit
	go func() { tailDone <- cmd.Wait() }()
	rotations := strings.Count(p.Log.String(), "stream rotated")
	waitFor(t, "cdctail's stream rotated", func() bool {
		return strings.Count(p.Log.String(), "stream rotated") > rotations && strings.Count(stdout.String(), "\n") == changes
	})
	if _, err := workload.Step(); err != nil {
		t.Fatal(err)
	}
	if err := <-tailDone; err != nil {
		t.Fatalf("cdctail: %v\n%s", err, stderr.String())
	}
	var prev [2]int64
	lines := 0
	for sc := bufio.NewScanner(strings.NewReader(stdout.String())); sc.Scan(); lines++ {
		var ev struct {
			TxID json.Number `json:"txId"`
			Seq  json.Number `json:"seq"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("cdctail line %q: %v", sc.Text(), err)
		}
		tx, _ := ev.TxID.Int64()
		seq, _ := ev.Seq.Int64()
		if lines > 0 && (tx < prev[0] || tx == prev[0] && seq <= prev[1]) {
			t.Fatalf("line %d (%d,%d) after (%d,%d): repeated or out of order", lines, tx, seq, prev[0], prev[1])
		}
		prev = [2]int64{tx, seq}
	}
	if lines != changes+1 {
		t.Fatalf("cdctail printed %d changes, want %d:\n%s", lines, changes+1, stderr.String())
	}
	checkNoSecret(t, "cdctail's output", stdout.String()+stderr.String(), token)

	// Rotations show as rotations: in the log at Info, and in the metrics by reason, never as
	// cancellations (the one canceled stream is cdctail's, ended by --max-events).
	logged := strings.Count(p.Log.String(), `msg="server: stream rotated"`)
	if logged < 2 {
		t.Errorf("%d rotations logged as rotations, want at least 2:\n%s", logged, p.Log)
	}
	metricsText := scrapeMetrics(t, p.MetricsURL)
	ended := func(code, reason string) string {
		m := regexp.MustCompile(`(?m)^cdcstream_streams_ended_total\{code="` + code + `",database="neo4j",reason="` + reason + `"\} ([0-9]+)$`).FindSubmatch(metricsText)
		if m == nil {
			return "0"
		}
		return string(m[1])
	}
	if got, _ := strconv.Atoi(ended("Unavailable", "STREAM_ROTATED")); got < 2 {
		t.Errorf("rotations in the metrics: %d, want at least 2 (logged: %d)", got, logged)
	}
	if got := ended("Canceled", "none"); got != "1" {
		t.Errorf("canceled streams in the metrics: %s, want 1 (cdctail's)", got)
	}
	p.Stop()
	checkNoSecret(t, "the log", p.Log.String(), token, secretPassword)
}

// errorReason is the ErrorInfo reason of err's status ("" for none).
func errorReason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}
