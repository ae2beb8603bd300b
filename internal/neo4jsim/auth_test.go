package neo4jsim

import (
	"testing"
)

// Wrong credentials: FAILURE Unauthorized for the LOGON (or the Bolt 5.0 HELLO), IGNORED for
// every request pipelined behind it, then the connection closes.

func TestWrongLogonAnswersPipelinedRequestsIgnored(t *testing.T) {
	srv := newRawServer(t)
	rc := dialRaw(t, srv)
	rc.connect(8)
	// Session-level auth on a pooled connection: the driver pipelines LOGOFF, LOGON and the
	// query in one write.
	var batch []byte
	batch = append(batch, encodeMessage(t, msgLogoff)...)
	batch = append(batch, encodeMessage(t, msgLogon, map[string]any{"scheme": "basic", "principal": "neo4j", "credentials": "wrong"})...)
	batch = append(batch, encodeMessage(t, msgRun, "RETURN 1", map[string]any{}, map[string]any{})...)
	batch = append(batch, encodeMessage(t, msgPull, map[string]any{"n": int64(1000)})...)
	rc.write(batch)
	rc.expect(msgSuccess)
	md := rc.expect(msgFailure)
	if md["neo4j_code"] != "Neo.ClientError.Security.Unauthorized" || md["gql_status"] != "42NFF" {
		t.Fatalf("LOGON failure %v", md)
	}
	rc.expect(msgIgnored)
	rc.expect(msgIgnored)
	rc.expectClosed()
}

func TestWrongHelloAuthOnBolt50AnswersPipelinedRequestsIgnored(t *testing.T) {
	srv := newRawServer(t)
	rc := dialRaw(t, srv)
	rc.write([]byte{0x60, 0x60, 0xB0, 0x17, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	rc.readN(4)
	var batch []byte
	batch = append(batch, encodeMessage(t, msgHello, map[string]any{"user_agent": "raw", "scheme": "basic", "principal": "neo4j", "credentials": "nope"})...)
	batch = append(batch, encodeMessage(t, msgBegin, map[string]any{})...)
	batch = append(batch, encodeMessage(t, msgGoodbye)...)
	batch = append(batch, encodeMessage(t, msgRun, "RETURN 1", map[string]any{}, map[string]any{})...)
	rc.write(batch)
	if md := rc.expect(msgFailure); md["neo4j_code"] != "Neo.ClientError.Security.Unauthorized" {
		t.Fatalf("HELLO failure %v", md)
	}
	rc.expect(msgIgnored) // BEGIN; GOODBYE ends the connection without a reply
	rc.expectClosed()
}

func TestWrongLogonAloneIsAnsweredAndClosed(t *testing.T) {
	srv := newRawServer(t)
	rc := dialRaw(t, srv)
	rc.write([]byte{0x60, 0x60, 0xB0, 0x17, 0, 0, 8, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	rc.readN(4)
	rc.send(msgHello, map[string]any{"user_agent": "raw"})
	rc.expect(msgSuccess)
	rc.send(msgLogon, map[string]any{"scheme": "basic", "principal": "nobody", "credentials": "x"})
	if md := rc.expect(msgFailure); md["neo4j_code"] != "Neo.ClientError.Security.Unauthorized" {
		t.Fatalf("LOGON failure %v", md)
	}
	rc.expectClosed()
}
