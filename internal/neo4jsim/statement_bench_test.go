package neo4jsim

import (
	"bufio"
	"net"
	"testing"
)

// BenchmarkServerStatements measures the per-statement path: one auto-commit RUN "RETURN 1"
// and its PULL per iteration, pipelined, answered by the server, read back raw.
func BenchmarkServerStatements(b *testing.B) {
	srv, err := NewServer(NewDBMS(Config{}), "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	r := bufio.NewReader(c)
	write := func(p []byte) {
		if _, err := c.Write(p); err != nil {
			b.Fatal(err)
		}
	}
	write([]byte{0x60, 0x60, 0xB0, 0x17, 0, 0, 8, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	var hs [4]byte
	if _, err := r.Read(hs[:]); err != nil {
		b.Fatal(err)
	}
	var in []byte
	next := func() byte {
		raw, err := readMessage(r, in)
		in = raw
		if err != nil {
			b.Fatal(err)
		}
		return raw[1]
	}
	write(append(encodeMessage(b, msgHello, map[string]any{"user_agent": "bench"}),
		encodeMessage(b, msgLogon, map[string]any{"scheme": "basic", "principal": "neo4j", "credentials": "password"})...))
	next()
	next()
	batch := append(encodeMessage(b, msgRun, "RETURN 1 AS one", map[string]any{}, map[string]any{"db": "neo4j"}),
		encodeMessage(b, msgPull, map[string]any{"n": int64(1000)})...)
	b.ResetTimer()
	for range b.N {
		write(batch)
		for next() != msgSuccess { // RUN SUCCESS
		}
		for next() != msgSuccess { // RECORD, then the PULL SUCCESS
		}
	}
}
