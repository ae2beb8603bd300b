package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLoopbackOnly(t *testing.T) {
	cases := map[string]bool{
		"127.0.0.1:50051": true, "[::1]:50051": true, "localhost:1": true, "127.1.2.3:0": true,
		":50051": false, "0.0.0.0:50051": false, "[::]:1": false, "10.0.0.5:50051": false,
		"example.com:1": false, "garbage": false,
	}
	for addr, want := range cases {
		if got := loopbackOnly(addr); got != want {
			t.Errorf("loopbackOnly(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestHardeningFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	h := addHardeningFlags(fs, env("CDCSTREAM_MAX_STREAM_AGE", "30m", "CDCSTREAM_NEO4J_USE_LEADER", "true",
		"CDCSTREAM_AUTH_TOKENS_FILE", "/t.json", "CDCSTREAM_MAX_SUBSCRIPTIONS_PER_TOKEN", "3"))
	if err := fs.Parse([]string{"--metrics-listen", "127.0.0.1:9095", "--max-subscriptions-per-token", "4"}); err != nil {
		t.Fatal(err)
	}
	if h.maxStreamAge != 30*time.Minute || !h.neo4jUseLeader || h.authTokensFile != "/t.json" ||
		h.maxSubscriptionsPerToken != 4 || h.metricsListen != "127.0.0.1:9095" || h.maxRecvMsgSize != defaultMaxRecvMsgSize {
		t.Fatalf("parsed %+v", h)
	}
	if h.transport != defaultTransport() {
		t.Fatalf("transport defaults: %+v, want %+v", h.transport, defaultTransport())
	}
	if err := h.validate(); err != nil {
		t.Fatal(err)
	}
}

func TestHardeningValidate(t *testing.T) {
	ok := func() hardeningConfig {
		return hardeningConfig{maxRecvMsgSize: defaultMaxRecvMsgSize, transport: defaultTransport()}
	}
	cases := map[string]func(*hardeningConfig){
		"cert without key":         func(h *hardeningConfig) { h.tlsCert = "c" },
		"client CA without TLS":    func(h *hardeningConfig) { h.tlsClientCA = "ca" },
		"negative per token":       func(h *hardeningConfig) { h.maxSubscriptionsPerToken = -1 },
		"per token, no tokens":     func(h *hardeningConfig) { h.maxSubscriptionsPerToken = 2 },
		"tiny message size":        func(h *hardeningConfig) { h.maxRecvMsgSize = 10 },
		"no streams":               func(h *hardeningConfig) { h.transport.maxConcurrentStreams = 0 },
		"tiny header list":         func(h *hardeningConfig) { h.transport.maxHeaderListSize = 100 },
		"huge header list":         func(h *hardeningConfig) { h.transport.maxHeaderListSize = 2 << 20 },
		"no handshake time":        func(h *hardeningConfig) { h.transport.handshakeTimeout = 0 },
		"no first message time":    func(h *hardeningConfig) { h.transport.firstMessageTimeout = 0 },
		"no connections":           func(h *hardeningConfig) { h.transport.maxConnections = 0 },
		"negative idle":            func(h *hardeningConfig) { h.transport.maxConnectionIdle = -time.Second },
		"negative age":             func(h *hardeningConfig) { h.transport.maxConnectionAge = -time.Second },
		"negative age grace":       func(h *hardeningConfig) { h.transport.maxConnectionAgeGrace = -time.Second },
		"metrics cert, no key":     func(h *hardeningConfig) { h.metricsListen, h.metricsTLSCert = "127.0.0.1:0", "c" },
		"metrics TLS, no listen":   func(h *hardeningConfig) { h.metricsTLSCert, h.metricsTLSKey = "c", "k" },
		"metrics token, no listen": func(h *hardeningConfig) { h.metricsTokenFile = "t" },
	}
	for name, mutate := range cases {
		h := ok()
		mutate(&h)
		if h.validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	h := ok()
	if err := h.validate(); err != nil {
		t.Fatalf("defaults rejected: %v", err)
	}
}

func TestInsecureWarnings(t *testing.T) {
	for _, c := range []struct {
		listen string
		warns  int
	}{{"127.0.0.1:0", 0}, {"0.0.0.0:50051", 2}, {":50051", 2}} {
		var buf bytes.Buffer
		hd, err := startHardening(context.Background(), nil, c.listen, slog.New(slog.NewTextHandler(&buf, nil)))
		if err != nil {
			t.Fatal(err)
		}
		hd.stop()
		if got := strings.Count(buf.String(), "level=WARN msg=\"INSECURE"); got != c.warns {
			t.Errorf("%s: %d warnings, want %d:\n%s", c.listen, got, c.warns, buf.String())
		}
	}
}

func TestTransportFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	h := addHardeningFlags(fs, env("CDCSTREAM_MAX_CONCURRENT_STREAMS", "7", "CDCSTREAM_MAX_HEADER_LIST_SIZE", "4096",
		"CDCSTREAM_HANDSHAKE_TIMEOUT", "3s", "CDCSTREAM_FIRST_MESSAGE_TIMEOUT", "4s", "CDCSTREAM_MAX_CONNECTIONS", "50",
		"CDCSTREAM_MAX_CONNECTION_IDLE", "1m", "CDCSTREAM_MAX_CONNECTION_AGE", "2h", "CDCSTREAM_MAX_CONNECTION_AGE_GRACE", "5m"))
	if err := fs.Parse([]string{"--max-connections", "60"}); err != nil {
		t.Fatal(err)
	}
	want := transportConfig{maxConcurrentStreams: 7, maxHeaderListSize: 4096, handshakeTimeout: 3 * time.Second,
		firstMessageTimeout: 4 * time.Second, maxConnections: 60, maxConnectionIdle: time.Minute,
		maxConnectionAge: 2 * time.Hour, maxConnectionAgeGrace: 5 * time.Minute}
	if h.transport != want {
		t.Fatalf("parsed %+v, want %+v", h.transport, want)
	}
	if err := h.validate(); err != nil {
		t.Fatal(err)
	}
}
