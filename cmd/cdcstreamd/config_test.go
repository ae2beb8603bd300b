package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, env("NEO4J_PASSWORD", "pw"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.listen != "127.0.0.1:50051" || c.neo4jURI != "neo4j://localhost:7687" || c.database != "neo4j" ||
		c.pollInterval != 500*time.Millisecond || c.batchLimit != 1000 || c.checkpointInterval != 10*time.Second ||
		c.maxSubscriptions != 1000 || c.neo4jPassword != "pw" || c.logFormat != "text" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigEnvAndFlags(t *testing.T) {
	e := env("NEO4J_PASSWORD", "pw", "CDCSTREAM_LISTEN", "127.0.0.1:1", "NEO4J_URI", "bolt://x:1",
		"NEO4J_USERNAME", "cdc", "NEO4J_DATABASE", "orders", "CDCSTREAM_POLL_INTERVAL", "2s", "CDCSTREAM_BATCH_LIMIT", "7")
	c, err := parseConfig(nil, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.listen != "127.0.0.1:1" || c.neo4jURI != "bolt://x:1" || c.neo4jUser != "cdc" || c.database != "orders" || c.pollInterval != 2*time.Second || c.batchLimit != 7 {
		t.Fatalf("env not applied: %+v", c)
	}
	c, err = parseConfig([]string{"--listen", "127.0.0.1:2", "--batch-limit", "9"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.listen != "127.0.0.1:2" || c.batchLimit != 9 {
		t.Fatalf("flags must win over env: %+v", c)
	}
}

func TestConfigPasswordFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(f, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parseConfig([]string{"--neo4j-password-file", f}, env("NEO4J_PASSWORD", "from-env"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.neo4jPassword != "from-file" {
		t.Fatalf("password = %q, want the file's (trailing newline trimmed)", c.neo4jPassword)
	}
}

func TestConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		e    func(string) string
		want string
	}{
		{nil, env(), "no Neo4j password"},
		{[]string{"--neo4j-password", "x"}, env(), "flag provided but not defined"},
		{[]string{"--checkpoint-interval", "500ms"}, env("NEO4J_PASSWORD", "p"), "--checkpoint-interval"},
		{[]string{"--batch-limit", "0"}, env("NEO4J_PASSWORD", "p"), "--batch-limit"},
		{[]string{"--max-stream-age", "1ms"}, env("NEO4J_PASSWORD", "p"), "--max-stream-age"},
		{[]string{"--poll-interval", "2m"}, env("NEO4J_PASSWORD", "p"), "--poll-interval"},
		{[]string{"--database", "x"}, env("NEO4J_PASSWORD", "p"), "--database"},
		{[]string{"--log-format", "xml"}, env("NEO4J_PASSWORD", "p"), "--log-format"},
		{[]string{"--log-level", "loud"}, env("NEO4J_PASSWORD", "p"), "--log-level"},
		{[]string{"--demo", "--demo-rate", "-1"}, env(), "--demo-rate"},
		{[]string{"stray"}, env("NEO4J_PASSWORD", "p"), "unexpected arguments"},
		{[]string{"--neo4j-password-file", "/nonexistent/pw"}, env(), "--neo4j-password-file"},
	} {
		_, err := parseConfig(tc.args, tc.e, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseConfig(%v): error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}

func TestDemoNeedsNoPassword(t *testing.T) {
	if _, err := parseConfig([]string{"--demo"}, env(), io.Discard); err != nil {
		t.Fatalf("--demo: %v", err)
	}
}

func TestRunUsageErrors(t *testing.T) {
	err := run(t.Context(), []string{"--batch-limit", "0", "--demo"}, env(), io.Discard, io.Discard)
	if !errors.As(err, new(usageError)) {
		t.Fatalf("bad flag: got %v, want a usageError (exit 2)", err)
	}
	if err := run(t.Context(), []string{"-h"}, env(), io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: got %v, want flag.ErrHelp (exit 0)", err)
	}
}

func TestRedactURI(t *testing.T) {
	for in, want := range map[string]string{
		"neo4j://db.example:7687":            "neo4j://db.example:7687",
		"neo4j://cdc:s3cret@db.example:7687": "neo4j://cdc:xxxxx@db.example:7687",
		"bolt://%zz":                         "<unparseable Neo4j URI>",
	} {
		if got := redactURI(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("redactURI(%q) = %q, want %q", in, got, want)
		}
	}
}
