package neo4jsim

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Byte-level tests of the Bolt layer with a scripted client, for the paths the driver does not
// take on its own (handshake variants, protocol violations, FAILED/IGNORED, NOOPs).

// driverHandshake is what neo4j-go-driver v5.28.4 sends (the Bolt handshake: magic preamble, then four version proposals).
var driverHandshake = []byte{0x60, 0x60, 0xB0, 0x17, 0, 0, 1, 0xFF, 0, 8, 8, 5, 0, 2, 4, 4, 0, 0, 0, 3}

type rawClient struct {
	t  *testing.T
	c  net.Conn
	r  *bufio.Reader
	in []byte
}

func newRawServer(t *testing.T, opts ...ServerOption) *Server {
	t.Helper()
	dbms := NewDBMS(Config{Users: []User{{Name: "neo4j", Password: "password", Admin: true}}})
	srv, err := NewServer(dbms, "127.0.0.1:0", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func dialRaw(t *testing.T, srv *Server) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { _ = c.Close() })
	return &rawClient{t: t, c: c, r: bufio.NewReader(c)}
}

func (rc *rawClient) write(b []byte) {
	rc.t.Helper()
	if _, err := rc.c.Write(b); err != nil {
		rc.t.Fatal(err)
	}
}

func (rc *rawClient) readN(n int) []byte {
	rc.t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(rc.r, b); err != nil {
		rc.t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

// connect performs the legacy handshake for 5.minor, HELLO and (from 5.1) LOGON.
func (rc *rawClient) connect(minor byte) {
	rc.t.Helper()
	rc.write([]byte{0x60, 0x60, 0xB0, 0x17, 0, 0, minor, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	if got := rc.readN(4); !bytes.Equal(got, []byte{0, 0, minor, 5}) {
		rc.t.Fatalf("handshake reply % X", got)
	}
	auth := map[string]any{"scheme": "basic", "principal": "neo4j", "credentials": "password"}
	if minor == 0 {
		auth["user_agent"] = "raw"
		rc.send(msgHello, auth)
		rc.expect(msgSuccess)
		return
	}
	rc.send(msgHello, map[string]any{"user_agent": "raw"})
	rc.send(msgLogon, auth)
	rc.expect(msgSuccess)
	rc.expect(msgSuccess)
}

// send writes one message, split into chunks of at most 1000 bytes to exercise de-chunking.
func (rc *rawClient) send(tag byte, fields ...any) {
	rc.t.Helper()
	var e encoder
	e.structHeader(len(fields), tag)
	for _, f := range fields {
		if err := e.value(f); err != nil {
			rc.t.Fatal(err)
		}
	}
	var out []byte
	for p := e.buf; len(p) > 0; {
		n := min(len(p), 1000)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
		out = append(out, p[:n]...)
		p = p[n:]
	}
	rc.write(append(out, 0, 0))
}

func (rc *rawClient) recv() message {
	rc.t.Helper()
	raw, err := readMessage(rc.r, rc.in)
	rc.in = raw
	if err != nil {
		rc.t.Fatalf("reading message: %v", err)
	}
	m, err := decodeMessage(raw)
	if err != nil {
		rc.t.Fatalf("decoding message % X: %v", raw, err)
	}
	return m
}

// expect reads one message with the given tag and returns its metadata (nil for IGNORED).
func (rc *rawClient) expect(tag byte) map[string]any {
	rc.t.Helper()
	m := rc.recv()
	if m.tag != tag {
		rc.t.Fatalf("got message 0x%02X %v, want 0x%02X", m.tag, m.fields, tag)
	}
	if len(m.fields) == 1 {
		if md, ok := m.fields[0].(map[string]any); ok {
			return md
		}
	}
	return nil
}

// expectClosed checks that the server closed the connection.
func (rc *rawClient) expectClosed() {
	rc.t.Helper()
	if _, err := rc.r.ReadByte(); !errors.Is(err, io.EOF) {
		rc.t.Fatalf("connection still open (read error %v)", err)
	}
}

func TestHandshakeVariants(t *testing.T) {
	withManifest := newRawServer(t)
	legacy := newRawServer(t, WithManifestHandshake(false))

	rc := dialRaw(t, withManifest)
	rc.write(driverHandshake)
	if got := rc.readN(10); !bytes.Equal(got, []byte{0, 0, 1, 0xFF, 1, 0, 8, 8, 5, 0}) {
		t.Fatalf("manifest offer % X", got)
	}
	rc.write([]byte{0, 0, 8, 5, 0})
	rc.send(msgHello, map[string]any{"user_agent": "raw"})
	if md := rc.expect(msgSuccess); md["server"] != "Neo4j/5.26.0" || !strings.HasPrefix(md["connection_id"].(string), "bolt-") {
		t.Fatalf("HELLO reply %v", md)
	}

	rc = dialRaw(t, legacy)
	rc.write(driverHandshake)
	if got := rc.readN(4); !bytes.Equal(got, []byte{0, 0, 8, 5}) {
		t.Fatalf("legacy reply % X", got)
	}

	cases := []struct {
		name      string
		proposals []byte
		want      []byte
	}{
		{"range picks highest supported", []byte{0, 3, 9, 5}, []byte{0, 0, 8, 5}},
		{"never 5.5", []byte{0, 1, 6, 5}, []byte{0, 0, 6, 5}},
		{"only 5.5", []byte{0, 0, 5, 5}, []byte{0, 0, 0, 0}},
		{"only Bolt 4", []byte{0, 2, 4, 4}, []byte{0, 0, 0, 0}},
		{"Bolt 5.0", []byte{0, 0, 0, 5}, []byte{0, 0, 0, 5}},
	}
	for _, c := range cases {
		rc := dialRaw(t, legacy)
		hs := append([]byte{0x60, 0x60, 0xB0, 0x17}, c.proposals...)
		rc.write(append(hs, make([]byte, 12)...))
		if got := rc.readN(4); !bytes.Equal(got, c.want) {
			t.Errorf("%s: reply % X, want % X", c.name, got, c.want)
		}
		if c.want[3] == 0 {
			rc.expectClosed()
		}
	}

	rc = dialRaw(t, legacy)
	rc.write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	rc.expectClosed()

	// A manifest choice outside the offer is refused.
	rc = dialRaw(t, withManifest)
	rc.write(driverHandshake)
	rc.readN(10)
	rc.write([]byte{0, 0, 4, 4, 0})
	rc.expectClosed()
}

func TestFailedStateIgnoresUntilReset(t *testing.T) {
	rc := dialRaw(t, newRawServer(t))
	rc.connect(8)
	rc.send(msgBegin, map[string]any{"db": "missing"})
	rc.send(msgRun, "RETURN 1", map[string]any{}, map[string]any{})
	rc.send(msgPull, map[string]any{"n": int64(1000)})
	if md := rc.expect(msgFailure); md["neo4j_code"] != "Neo.ClientError.Database.DatabaseNotFound" ||
		md["code"] != md["neo4j_code"] || md["gql_status"] != "22N51" ||
		md["diagnostic_record"].(map[string]any)["_classification"] != "CLIENT_ERROR" {
		t.Fatalf("FAILURE %v", md)
	}
	rc.expect(msgIgnored)
	rc.expect(msgIgnored)
	rc.send(msgReset)
	rc.expect(msgSuccess)
	rc.send(msgRun, "RETURN 1 AS one", map[string]any{}, map[string]any{"db": "neo4j"})
	rc.send(msgPull, map[string]any{"n": int64(-1)})
	if md := rc.expect(msgSuccess); len(md["fields"].([]any)) != 1 || md["fields"].([]any)[0] != "one" {
		t.Fatalf("RUN reply %v", md)
	}
	if rec := rc.recv(); rec.tag != msgRecord || rec.fields[0].([]any)[0] != int64(1) {
		t.Fatalf("record %v", rec)
	}
	if md := rc.expect(msgSuccess); md["type"] != "r" || md["db"] != "neo4j" || !strings.HasPrefix(md["bookmark"].(string), "FB:") {
		t.Fatalf("summary %v", md)
	}
}

func TestPullPagingAndQids(t *testing.T) {
	srv := newRawServer(t)
	rc := dialRaw(t, srv)
	rc.connect(8)
	rc.send(msgBegin, map[string]any{"db": "neo4j", "mode": "r"})
	rc.expect(msgSuccess)
	rc.send(msgRun, "RETURN 1 AS a", map[string]any{}, map[string]any{})
	if md := rc.expect(msgSuccess); md["qid"] != int64(0) {
		t.Fatalf("first RUN %v", md)
	}
	rc.send(msgRun, "CALL db.cdc.current() YIELD id AS x RETURN x", map[string]any{}, map[string]any{})
	if md := rc.expect(msgSuccess); md["qid"] != int64(1) {
		t.Fatalf("second RUN %v", md)
	}
	rc.send(msgDiscard, map[string]any{"n": int64(-1)}) // the last result, qid 1
	if md := rc.expect(msgSuccess); md["has_more"] != nil || md["bookmark"] != nil {
		t.Fatalf("DISCARD summary %v", md)
	}
	rc.send(msgPull, map[string]any{"n": int64(5), "qid": int64(1)}) // already closed
	rc.expect(msgFailure)
	rc.send(msgReset)
	rc.expect(msgSuccess)

	// Auto-commit paging with has_more.
	db := srv.DBMS().Database("neo4j")
	from, _ := db.Earliest()
	if _, err := db.Write(Session{User: "neo4j"}, func(tx *Tx) error {
		for range 3 {
			if _, err := tx.CreateNode([]string{"N"}, nil); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rc.send(msgRun, "CALL db.cdc.query($from) YIELD seq RETURN seq", map[string]any{"from": from}, map[string]any{})
	rc.expect(msgSuccess)
	rc.send(msgPull, map[string]any{"n": int64(2)})
	for want := range int64(2) {
		if rec := rc.recv(); rec.tag != msgRecord || rec.fields[0].([]any)[0] != want {
			t.Fatalf("record %v, want seq %d", rec, want)
		}
	}
	if md := rc.expect(msgSuccess); md["has_more"] != true || len(md) != 1 {
		t.Fatalf("page summary %v", md)
	}
	rc.send(msgPull, map[string]any{"n": int64(2)})
	if rec := rc.recv(); rec.tag != msgRecord || rec.fields[0].([]any)[0] != int64(2) {
		t.Fatalf("record %v, want seq 2", rec)
	}
	if md := rc.expect(msgSuccess); md["bookmark"] == nil || md["has_more"] != nil {
		t.Fatalf("summary %v", md)
	}
	rc.send(msgBegin, map[string]any{})
	if md := rc.expect(msgSuccess); md["db"] != "neo4j" {
		t.Fatalf("BEGIN without db should name the home database: %v", md)
	}
	rc.send(msgRun, "RETURN 1", map[string]any{}, map[string]any{})
	rc.expect(msgSuccess)
	rc.send(msgRun, "RETURN 2", map[string]any{}, map[string]any{})
	rc.expect(msgSuccess)
	rc.send(msgPull, map[string]any{"n": int64(1000), "qid": int64(0)})
	if rec := rc.recv(); rec.fields[0].([]any)[0] != int64(1) {
		t.Fatalf("qid 0 record %v", rec)
	}
	rc.expect(msgSuccess)
	rc.send(msgPull, map[string]any{"n": int64(1000)})
	if rec := rc.recv(); rec.fields[0].([]any)[0] != int64(2) {
		t.Fatalf("qid 1 record %v", rec)
	}
	rc.expect(msgSuccess)
	rc.send(msgCommit)
	if md := rc.expect(msgSuccess); !strings.HasPrefix(md["bookmark"].(string), "FB:") {
		t.Fatalf("COMMIT %v", md)
	}
	rc.send(msgGoodbye)
	rc.expectClosed()
}

func TestRouteAndLogoff(t *testing.T) {
	srv := newRawServer(t)
	rc := dialRaw(t, srv)
	rc.connect(8)
	rc.send(msgRoute, map[string]any{"address": "example:1"}, []any{}, map[string]any{})
	rt := rc.expect(msgSuccess)["rt"].(map[string]any)
	if rt["db"] != "neo4j" || rt["ttl"] != int64(300) {
		t.Fatalf("rt %v", rt)
	}
	roles := map[string]bool{}
	for _, s := range rt["servers"].([]any) {
		m := s.(map[string]any)
		roles[m["role"].(string)] = true
		if a := m["addresses"].([]any); len(a) != 1 || a[0] != srv.Addr() {
			t.Errorf("addresses %v, want [%s]", a, srv.Addr())
		}
	}
	if len(roles) != 3 || !roles["READ"] || !roles["WRITE"] || !roles["ROUTE"] {
		t.Errorf("roles %v", roles)
	}
	rc.send(msgTelemetry, int64(0))
	rc.expect(msgSuccess)
	rc.send(msgLogoff)
	rc.expect(msgSuccess)
	rc.send(msgLogon, map[string]any{"scheme": "basic", "principal": "neo4j", "credentials": "password"})
	rc.expect(msgSuccess)
	rc.send(msgLogoff)
	rc.expect(msgSuccess)
	rc.send(msgRun, "RETURN 1", map[string]any{}, map[string]any{}) // not authenticated
	if md := rc.expect(msgFailure); md["neo4j_code"] != "Neo.ClientError.Request.Invalid" {
		t.Fatalf("RUN after LOGOFF %v", md)
	}
	rc.expectClosed()
}

func TestProtocolViolationsCloseTheConnection(t *testing.T) {
	srv := newRawServer(t)
	for name, send := range map[string]func(rc *rawClient){
		"PULL in READY":   func(rc *rawClient) { rc.send(msgPull, map[string]any{"n": int64(1)}) },
		"unknown message": func(rc *rawClient) { rc.send(0x55) },
		"COMMIT in READY": func(rc *rawClient) { rc.send(msgCommit) },
		"RUN arity":       func(rc *rawClient) { rc.send(msgRun, "RETURN 1") },
		"not a struct":    func(rc *rawClient) { rc.write([]byte{0, 1, 0x01, 0, 0}) },
	} {
		rc := dialRaw(t, srv)
		rc.connect(8)
		send(rc)
		if md := rc.expect(msgFailure); md["neo4j_code"] != "Neo.ClientError.Request.Invalid" {
			t.Errorf("%s: %v", name, md)
		}
		rc.expectClosed()
	}
}

func TestBolt50AuthenticatesInHello(t *testing.T) {
	srv := newRawServer(t)
	rc := dialRaw(t, srv)
	rc.connect(0)
	rc.send(msgRun, "RETURN 'ok'", map[string]any{}, map[string]any{})
	rc.expect(msgSuccess)

	rc = dialRaw(t, srv)
	rc.write([]byte{0x60, 0x60, 0xB0, 0x17, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	rc.readN(4)
	rc.send(msgHello, map[string]any{"scheme": "basic", "principal": "neo4j", "credentials": "nope"})
	if md := rc.expect(msgFailure); md["neo4j_code"] != "Neo.ClientError.Security.Unauthorized" {
		t.Fatalf("%v", md)
	}
	rc.expectClosed()
}

func TestNoopKeepAlivesWhileDelayed(t *testing.T) {
	srv := newRawServer(t, WithKeepAliveInterval(time.Millisecond))
	rc := dialRaw(t, srv)
	rc.connect(8)
	srv.SetDelay(5 * time.Millisecond)
	rc.send(msgRun, "RETURN 1", map[string]any{}, map[string]any{})
	noops := 0
	for {
		hdr := rc.readN(2)
		if hdr[0] != 0 || hdr[1] != 0 {
			break
		}
		noops++
	}
	if noops != 5 {
		t.Fatalf("%d NOOP chunks before the reply, want 5 (5 ms delay, 1 ms interval)", noops)
	}
}

func TestLargeMessagesAreChunked(t *testing.T) {
	srv := newRawServer(t)
	rc := dialRaw(t, srv)
	rc.connect(8)
	big := strings.Repeat("x", 200_000)
	rc.send(msgRun, "RETURN $s AS s", map[string]any{"s": big}, map[string]any{})
	rc.expect(msgSuccess)
	rc.send(msgPull, map[string]any{"n": int64(-1)})
	// Read the raw chunks of the RECORD: none may exceed 65 535 bytes, and it needs several.
	chunks := 0
	var body []byte
	for {
		hdr := rc.readN(2)
		n := int(binary.BigEndian.Uint16(hdr))
		if n == 0 {
			break
		}
		chunks++
		body = append(body, rc.readN(n)...)
	}
	m, err := decodeMessage(body)
	if err != nil || m.tag != msgRecord || m.fields[0].([]any)[0] != big || chunks != 4 {
		t.Fatalf("record in %d chunks, err %v", chunks, err)
	}
	rc.expect(msgSuccess)
}

func TestReadMessageSkipsNoopsAndJoinsChunks(t *testing.T) {
	in := []byte{0, 0, 0, 0, 0, 2, 0xB0, 0x0F, 0, 0, 0, 1, 0xB1, 0, 1, 0x01, 0, 0}
	r := bufio.NewReader(bytes.NewReader(in))
	m, err := readMessage(r, nil)
	if err != nil || !bytes.Equal(m, []byte{0xB0, 0x0F}) {
		t.Fatalf("first message % X, %v", m, err)
	}
	m, err = readMessage(r, m)
	if err != nil || !bytes.Equal(m, []byte{0xB1, 0x01}) {
		t.Fatalf("second message % X, %v", m, err)
	}
	if _, err := readMessage(r, m); !errors.Is(err, io.EOF) {
		t.Fatalf("at end: %v", err)
	}
	if _, err := readMessage(bufio.NewReader(bytes.NewReader([]byte{0, 4, 1})), nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated chunk: %v", err)
	}
}

// encodeMessage builds one chunked message for the fuzz harness.
func encodeMessage(tb testing.TB, tag byte, fields ...any) []byte {
	var e encoder
	e.structHeader(len(fields), tag)
	for _, f := range fields {
		if err := e.value(f); err != nil {
			tb.Fatal(err)
		}
	}
	return frame(e.buf)
}

// frame chunks a message body (at most 65 535 bytes per chunk).
func frame(body []byte) []byte {
	var fw frameWriter
	var e encoder
	start := fw.begin(&e)
	e.buf = append(e.buf, body...)
	fw.finish(&e, start)
	return fw.out
}

// FuzzBoltMessage sends an arbitrary message body to a logged-in connection, followed by
// PULL, RESET and a query, and checks that the server neither panics nor hangs.
func FuzzBoltMessage(f *testing.F) {
	dbms := NewDBMS(Config{})
	srv, err := NewServer(dbms, "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	login := append([]byte{0x60, 0x60, 0xB0, 0x17, 0, 0, 8, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		encodeMessage(f, msgHello, map[string]any{"user_agent": "fuzz"})...)
	login = append(login, encodeMessage(f, msgLogon, map[string]any{"scheme": "basic", "principal": "neo4j", "credentials": "password"})...)
	var tail []byte
	tail = append(tail, encodeMessage(f, msgPull, map[string]any{"n": int64(-1)})...)
	tail = append(tail, encodeMessage(f, msgReset)...)
	tail = append(tail, encodeMessage(f, msgRun, "RETURN 1", map[string]any{}, map[string]any{})...)
	tail = append(tail, encodeMessage(f, msgPull, map[string]any{"n": int64(-1)})...)
	tail = append(tail, encodeMessage(f, msgGoodbye)...)
	for _, seed := range [][]any{
		{msgRun, "CALL db.cdc.query($f, $s) YIELD id RETURN id LIMIT $l", map[string]any{"f": "", "s": []any{map[string]any{"select": "n"}}, "l": int64(3)}, map[string]any{}},
		{msgBegin, map[string]any{"db": "neo4j", "mode": "r", "bookmarks": []any{"FB:x"}}},
		{msgRoute, map[string]any{"address": "x:1"}, []any{}, map[string]any{"db": "neo4j"}},
		{msgRoute, map[string]any{}, []any{}, "neo4j"},
		{msgTelemetry, int64(1)},
		{msgPull, map[string]any{"n": int64(0), "qid": int64(7)}},
		{msgLogoff},
		{msgCommit},
		{msgRun, "RETURN $v", map[string]any{"v": DateTime{EpochSeconds: 1, ZoneID: "UTC"}}, map[string]any{"db": "other"}},
	} {
		var e encoder
		e.structHeader(len(seed)-1, byte(seed[0].(int)))
		for _, v := range seed[1:] {
			if err := e.value(v); err != nil {
				f.Fatal(err)
			}
		}
		f.Add(e.buf)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) == 0 || len(body) > 1<<16 {
			return
		}
		client, server := net.Pipe()
		c := newConn(srv, server)
		served := make(chan struct{})
		go func() {
			c.run()
			close(served)
		}()
		drained := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, client)
			close(drained)
		}()
		in := append(append(append([]byte{}, login...), frame(body)...), tail...)
		_, _ = client.Write(in) // fails once the server closed the connection, which is fine
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatalf("server still serving after GOODBYE for message % X", body)
		}
		_ = client.Close()
		<-drained
	})
}

func TestRouteAdvertisesTheConfiguredAddress(t *testing.T) {
	srv := newRawServer(t, WithAdvertisedAddress("sim.example:7687"), WithRoutingTTL(5*time.Second))
	rc := dialRaw(t, srv)
	rc.connect(8)
	rc.send(msgRoute, map[string]any{"address": srv.Addr()}, []any{}, map[string]any{"db": "missing"})
	if md := rc.expect(msgFailure); md["neo4j_code"] != "Neo.ClientError.Database.DatabaseNotFound" {
		t.Fatalf("ROUTE to a missing database: %v", md)
	}
	rc.send(msgReset)
	rc.expect(msgSuccess)
	rc.send(msgRoute, map[string]any{"address": srv.Addr()}, []any{"FB:neo4jsim:neo4j:1"}, map[string]any{"db": "neo4j"})
	rt := rc.expect(msgSuccess)["rt"].(map[string]any)
	if rt["ttl"] != int64(5) {
		t.Errorf("ttl %v", rt["ttl"])
	}
	for _, s := range rt["servers"].([]any) {
		if a := s.(map[string]any)["addresses"].([]any); len(a) != 1 || a[0] != "sim.example:7687" {
			t.Errorf("addresses %v", a)
		}
	}
}
