package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/server"
)

// TestPerTokenLimitDefault: with tokens on, one tenant cannot take every global slot unless the
// operator says so: the per-token limit defaults to a quarter of --max-subscriptions (at least
// 1); an explicit value, 0 included, wins, from the flag or the environment; without tokens
// there is no per-token limit.
func TestPerTokenLimitDefault(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		env  []string
		want int
	}{
		{"tokens, default slots", []string{"--auth-tokens-file", "/t.json"}, nil, 250},
		{"tokens, 10 slots", []string{"--auth-tokens-file", "/t.json", "--max-subscriptions", "10"}, nil, 2},
		{"tokens, 3 slots", []string{"--auth-tokens-file", "/t.json", "--max-subscriptions", "3"}, nil, 1},
		{"tokens, explicit 0", []string{"--auth-tokens-file", "/t.json", "--max-subscriptions-per-token", "0"}, nil, 0},
		{"tokens, explicit 7", []string{"--auth-tokens-file", "/t.json", "--max-subscriptions-per-token", "7"}, nil, 7},
		{"tokens, env 0", []string{"--auth-tokens-file", "/t.json"}, []string{"CDCSTREAM_MAX_SUBSCRIPTIONS_PER_TOKEN", "0"}, 0},
		{"tokens from env, env 5", nil, []string{"CDCSTREAM_AUTH_TOKENS_FILE", "/t.json", "CDCSTREAM_MAX_SUBSCRIPTIONS_PER_TOKEN", "5"}, 5},
		{"tokens from env", nil, []string{"CDCSTREAM_AUTH_TOKENS_FILE", "/t.json", "CDCSTREAM_MAX_SUBSCRIPTIONS", "40"}, 10},
		{"no tokens", nil, nil, 0},
	} {
		e := env(append([]string{"NEO4J_PASSWORD", "pw"}, c.env...)...)
		cfg, err := parseConfig(c.args, e, io.Discard)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := cfg.hardening.maxSubscriptionsPerToken; got != c.want {
			t.Errorf("%s: per-token limit %d, want %d", c.name, got, c.want)
		}
	}
}

// TestTimeoutFlags: --send-timeout and --future-cursor-timeout default to the server's
// defaults, come from flags or the environment, and are range-checked by the server.
func TestTimeoutFlags(t *testing.T) {
	c, err := parseConfig(nil, env("NEO4J_PASSWORD", "pw"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.hardening.sendTimeout != server.DefaultSendTimeout || c.hardening.futureCursorTimeout != server.DefaultFutureCursorTimeout {
		t.Fatalf("defaults %v %v", c.hardening.sendTimeout, c.hardening.futureCursorTimeout)
	}
	c, err = parseConfig([]string{"--send-timeout", "5s"}, env("NEO4J_PASSWORD", "pw", "CDCSTREAM_FUTURE_CURSOR_TIMEOUT", "2m"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.hardening.sendTimeout != 5*time.Second || c.hardening.futureCursorTimeout != 2*time.Minute {
		t.Fatalf("parsed %v %v", c.hardening.sendTimeout, c.hardening.futureCursorTimeout)
	}
	for _, args := range [][]string{{"--send-timeout", "1ms"}, {"--send-timeout", "2h"}, {"--future-cursor-timeout", "0s"}} {
		if _, err := parseConfig(args, env("NEO4J_PASSWORD", "pw"), io.Discard); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// TestSharedTailFlags: the shared tail is on by default with the server's window and budget
// defaults; the flags and the environment change them, and the server range-checks them.
func TestSharedTailFlags(t *testing.T) {
	c, err := parseConfig(nil, env("NEO4J_PASSWORD", "pw"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.sharedTail || c.tailWindowBytes != server.DefaultTailWindowBytes || c.maxInFlightBytes != server.DefaultMaxInFlightBytes {
		t.Fatalf("defaults %v %d %d", c.sharedTail, c.tailWindowBytes, c.maxInFlightBytes)
	}
	c, err = parseConfig([]string{"--shared-tail=false", "--tail-window-bytes", "1048576"},
		env("NEO4J_PASSWORD", "pw", "CDCSTREAM_MAX_INFLIGHT_BYTES", "2097152"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.sharedTail || c.tailWindowBytes != 1<<20 || c.maxInFlightBytes != 2<<20 {
		t.Fatalf("parsed %v %d %d", c.sharedTail, c.tailWindowBytes, c.maxInFlightBytes)
	}
	for _, args := range [][]string{{"--tail-window-bytes", "10"}, {"--max-inflight-bytes", "0"}} {
		if _, err := parseConfig(args, env("NEO4J_PASSWORD", "pw"), io.Discard); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
