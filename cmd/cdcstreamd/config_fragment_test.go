package main

import (
	"io"
	"strings"
	"testing"

	"github.com/cdcstream/cdcstream/server"
)

func TestConfigMaxMessageBytes(t *testing.T) {
	c, err := parseConfig(nil, env("NEO4J_PASSWORD", "p"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.maxMessageBytes != server.DefaultMaxMessageBytes {
		t.Fatalf("default %d, want %d", c.maxMessageBytes, server.DefaultMaxMessageBytes)
	}
	e := env("NEO4J_PASSWORD", "p", "CDCSTREAM_MAX_MESSAGE_BYTES", "65536")
	if c, err = parseConfig(nil, e, io.Discard); err != nil || c.maxMessageBytes != 65536 {
		t.Fatalf("env: %d, %v", c.maxMessageBytes, err)
	}
	if c, err = parseConfig([]string{"--max-message-bytes", "2097152"}, e, io.Discard); err != nil || c.maxMessageBytes != 2<<20 {
		t.Fatalf("flag over env: %d, %v", c.maxMessageBytes, err)
	}
	for _, v := range []string{"1024", "67108865", "0"} {
		_, err := parseConfig([]string{"--max-message-bytes", v}, env("NEO4J_PASSWORD", "p"), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--max-message-bytes") {
			t.Errorf("--max-message-bytes %s: error %v", v, err)
		}
	}
}
