package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/tlsconfig"
	"github.com/cdcstream/cdcstream/internal/tlsconfig/tlstest"
)

// writeExpiredPair writes a self-signed certificate that expired an hour ago, and its key.
func writeExpiredPair(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-48 * time.Hour),
		NotAfter:     time.Now().Add(-time.Hour),
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "expired.pem"), filepath.Join(dir, "expired-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// writeFile writes content into dir/name with mode.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, mode); err != nil { // umask must not hide the mode under test
		t.Fatal(err)
	}
	return f
}

// An expired gRPC certificate, a metrics certificate expiring within 30 days, a
// world-readable tokens file and a group-readable password file are each warned about; a
// 0600 secret file is not.
func TestFileWarnings(t *testing.T) {
	dir := t.TempDir()
	expiredCert, expiredKey := writeExpiredPair(t, dir)
	soon := tlstest.NewCA(t, "ca").Server(t, "metrics") // valid for 24 hours
	h := &hardeningConfig{
		maxRecvMsgSize: defaultMaxRecvMsgSize, transport: defaultTransport(),
		tlsCert: expiredCert, tlsKey: expiredKey,
		metricsListen: "127.0.0.1:0", metricsTLSCert: soon.CertFile, metricsTLSKey: soon.KeyFile,
		authTokensFile:   writeFile(t, dir, "tokens.json", `[{"name":"a","token":"0123456789abcdef0123","databases":["*"]}]`, 0o644),
		metricsTokenFile: writeFile(t, dir, "metrics-token", "fedcba9876543210fedcba\n", 0o600),
	}
	var buf bytes.Buffer
	hd, err := startHardening(context.Background(), h, "127.0.0.1:0", slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer hd.stop()
	hd.neo4jPasswordFile = writeFile(t, dir, "password", "pw\n", 0o640)
	hd.checkFiles(time.Now())
	logs := buf.String()
	for _, want := range []string{
		`level=WARN msg="TLS certificate EXPIRED: clients will refuse it; replace it and send SIGHUP" flag=--tls-cert`,
		`level=WARN msg="TLS certificate expires soon: replace it and send SIGHUP" flag=--metrics-tls-cert`,
		`level=WARN msg="secret file is accessible to others than its owner: chmod 600 it" flag=--auth-tokens-file`,
		`level=WARN msg="secret file is accessible to others than its owner: chmod 600 it" flag=--neo4j-password-file`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q in\n%s", want, logs)
		}
	}
	for _, quiet := range []string{"flag=--metrics-token-file", "flag=--tls-key", "flag=--metrics-tls-key"} {
		if strings.Contains(logs, quiet) {
			t.Errorf("a 0600 file was warned about (%s):\n%s", quiet, logs)
		}
	}
}

// /metrics with --metrics-tls-cert and --metrics-token-file: TLS only, 401 without the
// token or with a wrong one, the metrics with it; a new token is in force after a reload.
func TestMetricsTLSAndToken(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "ca")
	pair := ca.Server(t, "metrics")
	const token = "fedcba9876543210fedcba"
	h := &hardeningConfig{
		maxRecvMsgSize: defaultMaxRecvMsgSize, transport: defaultTransport(),
		metricsListen: "127.0.0.1:0", metricsTLSCert: pair.CertFile, metricsTLSKey: pair.KeyFile,
		metricsTokenFile: writeFile(t, dir, "metrics-token", token+"\n", 0o600),
	}
	if err := h.validate(); err != nil {
		t.Fatal(err)
	}
	hd, err := startHardening(context.Background(), h, "127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer hd.stop()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1) // serveMetricsHTTP's result
	go func() { served <- hd.serveMetricsHTTP(ctx, lis) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()

	clientTLS, err := tlsconfig.Client(tlsconfig.WithCA(ca.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: clientTLS}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func(scheme, bearer string) (int, string) {
		req, err := http.NewRequest("GET", scheme+"://"+lis.Addr().String()+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("https", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _ := get("https", "wrong-token-0123456789"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}
	if code, body := get("https", token); code != http.StatusOK || !strings.Contains(body, "cdcstream_connections_open") {
		t.Errorf("token: %d, want 200 with the metrics:\n%.300s", code, body)
	}
	if code, _ := get("http", token); code == http.StatusOK {
		t.Error("plain HTTP served the metrics")
	}
	writeAtomically(t, h.metricsTokenFile, "0123456789abcdef-new\n")
	hd.reloadMetricsAuth()
	if code, _ := get("https", token); code != http.StatusUnauthorized {
		t.Errorf("old token after reload: %d, want 401", code)
	}
	if code, _ := get("https", "0123456789abcdef-new"); code != http.StatusOK {
		t.Errorf("new token after reload: %d, want 200", code)
	}
}

// lockedBuffer is a buffer safe for concurrent writes and reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The file checks run again on SIGHUP: a tokens file made world-readable after the start is
// warned about on the next reload.
func TestFileWarningsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	tokens := writeFile(t, dir, "tokens.json", `[{"name":"a","token":"0123456789abcdef0123","databases":["*"]}]`, 0o600)
	var logs lockedBuffer
	startDaemonLogged(t, env(), &logs, nil, "--auth-tokens-file", tokens)
	const warning = `msg="secret file is accessible to others than its owner: chmod 600 it" flag=--auth-tokens-file`
	if strings.Contains(logs.String(), warning) {
		t.Fatalf("a 0600 tokens file was warned about:\n%s", logs.String())
	}
	if err := os.Chmod(tokens, 0o644); err != nil {
		t.Fatal(err)
	}
	// The daemon's SIGHUP loop (hardening.start) is listening: the signal reloads, not kills.
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "warning after SIGHUP", func() bool { return strings.Contains(logs.String(), warning) })
}
