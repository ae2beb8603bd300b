package neo4jsim

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"
)

// BenchmarkServerQuery measures the simulator alone: rows per second of db.cdc.query that it
// encodes and writes to a client that reads the RECORD messages without decoding them. Compare
// with BenchmarkDriverQuery (neo4jsim_test), where the real driver decodes the rows.
func BenchmarkServerQuery(b *testing.B) {
	const changes = 100_000
	dbms := NewDBMS(Config{})
	db := dbms.Database("neo4j")
	from, _ := db.Earliest()
	s := Session{User: "neo4j", ClientAddr: "127.0.0.1:50000", ServerAddr: "127.0.0.1:7687", TxMetadata: map[string]any{"app": "bench"}}
	for done := 0; done < changes; done += 100 {
		if _, err := db.Write(s, func(tx *Tx) error {
			for i := done; i < done+100; i++ {
				props := map[string]any{"id": int64(i), "name": fmt.Sprintf("person-%d", i), "score": float64(i) / 3,
					"born": Date{EpochDays: int64(i % 20000)}}
				if _, err := tx.CreateNode([]string{"Person"}, props); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	srv, err := NewServer(dbms, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	r := bufio.NewReaderSize(c, 64<<10)
	send := func(tag byte, fields ...any) {
		var e encoder
		e.structHeader(len(fields), tag)
		for _, f := range fields {
			if err := e.value(f); err != nil {
				b.Fatal(err)
			}
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(len(e.buf)))
		if _, err := c.Write(append(append(out, e.buf...), 0, 0)); err != nil {
			b.Fatal(err)
		}
	}
	var buf []byte
	// next returns the tag of the next message.
	next := func() byte {
		buf, err = readMessage(r, buf)
		if err != nil || len(buf) < 2 {
			b.Fatalf("read: %v", err)
		}
		return buf[1]
	}
	if _, err := c.Write([]byte{0x60, 0x60, 0xB0, 0x17, 0, 0, 8, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		b.Fatal(err)
	}
	if _, err := r.Discard(4); err != nil {
		b.Fatal(err)
	}
	send(msgHello, map[string]any{"user_agent": "bench"})
	send(msgLogon, map[string]any{"scheme": "basic", "principal": "neo4j", "credentials": "password"})
	if next() != msgSuccess || next() != msgSuccess {
		b.Fatal("login failed")
	}
	b.ResetTimer()
	start := time.Now()
	rows := 0
	for range b.N {
		send(msgRun, "CALL db.cdc.query($from, [])", map[string]any{"from": from}, map[string]any{"db": "neo4j", "mode": "r"})
		if next() != msgSuccess {
			b.Fatal("RUN failed")
		}
		for more := true; more; {
			send(msgPull, map[string]any{"n": int64(1000)})
			for {
				tag := next()
				if tag == msgRecord {
					rows++
					continue
				}
				if tag != msgSuccess {
					b.Fatalf("PULL answered 0x%02X", tag)
				}
				more = len(buf) > 2 && buf[2] == 0xA1 // {has_more: true}; the final summary has more keys
				break
			}
		}
	}
	if rows != b.N*changes {
		b.Fatalf("read %d rows, want %d", rows, b.N*changes)
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
}
