package main

import (
	"io"
	"testing"
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
