package polyglot

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// cli runs a command-line tool against the daemon and returns stdout, stderr and exit status.
func cli(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &exit) && exit.Exited():
		return stdout.String(), stderr.String(), exit.ExitCode()
	}
	t.Fatalf("%s %s: %v\nstderr:\n%s", bin, strings.Join(args, " "), err, stderr.String())
	return "", "", -1
}

// mustContain fails the test for each want missing from got.
func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// jsonObjects splits grpcurl's output (pretty-printed JSON objects one after another).
func jsonObjects(t *testing.T, out string) []json.RawMessage {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var objs []json.RawMessage
	for {
		var m json.RawMessage
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("grpcurl output is not a sequence of JSON objects: %v\n%s", err, out)
		}
		objs = append(objs, m)
	}
}

// TestGrpcurl debugs cdcstreamd --demo the way a person would: list and describe the service
// through reflection, get a cursor, subscribe with a selector for a few seconds, and see an
// invalid cursor rejected with InvalidArgument (exit status 64+3).
func TestGrpcurl(t *testing.T) {
	gc := grpcurl(t)
	d := startDaemon(t)
	plain := func(args ...string) (string, string, int) {
		t.Helper()
		return cli(t, gc, append([]string{"-plaintext"}, args...)...)
	}

	t.Run("list", func(t *testing.T) {
		out, errOut, code := plain(d.addr, "list")
		if code != 0 {
			t.Fatalf("exit status %d\n%s", code, errOut)
		}
		mustContain(t, "grpcurl list", out, "cdcstream.v1.ChangeStreamService\n", "grpc.health.v1.Health\n", "grpc.reflection.v1.ServerReflection\n")
	})

	t.Run("describe service", func(t *testing.T) {
		out, errOut, code := plain(d.addr, "describe", "cdcstream.v1.ChangeStreamService")
		if code != 0 {
			t.Fatalf("exit status %d\n%s", code, errOut)
		}
		mustContain(t, "describe ChangeStreamService", out,
			"rpc Subscribe ( .cdcstream.v1.SubscribeRequest ) returns ( stream .cdcstream.v1.SubscribeResponse );",
			"rpc GetCursor ( .cdcstream.v1.GetCursorRequest ) returns ( .cdcstream.v1.GetCursorResponse );",
			// Reflection serves the commented descriptors (internal/apidesc): describe is a manual.
			"// ChangeStreamService streams Neo4j Change Data Capture", "Honest failure")
	})

	t.Run("describe message", func(t *testing.T) {
		out, errOut, code := plain(d.addr, "describe", "cdcstream.v1.ChangeEvent")
		if code != 0 {
			t.Fatalf("exit status %d\n%s", code, errOut)
		}
		mustContain(t, "describe ChangeEvent", out, ".cdcstream.v1.Cursor cursor = 1;", "int64 tx_id = 2;", "int64 seq = 3;",
			"oneof event {", ".cdcstream.v1.NodeEvent node = 5;", ".cdcstream.v1.RelationshipEvent relationship = 6;",
			"// Resume strictly after this change.")
		// The same documentation from the .proto files, without reflection.
		out, errOut, code = cli(t, gc, "-import-path", protoDir(), "-proto", "cdcstream/v1/service.proto", "describe", "cdcstream.v1.ChangeEvent")
		if code != 0 {
			t.Fatalf("describe from the .proto files: exit status %d\n%s", code, errOut)
		}
		mustContain(t, "describe ChangeEvent from proto/", out, "// Resume strictly after this change.", "int64 tx_id = 2;")
	})

	var cursor *cdcstreamv1.Cursor
	t.Run("GetCursor", func(t *testing.T) {
		for _, pos := range []string{"START_POSITION_NOW", "START_POSITION_EARLIEST"} {
			out, errOut, code := plain("-d", `{"position":"`+pos+`"}`, d.addr, "cdcstream.v1.ChangeStreamService/GetCursor")
			if code != 0 {
				t.Fatalf("%s: exit status %d\n%s", pos, code, errOut)
			}
			var resp cdcstreamv1.GetCursorResponse
			if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
				t.Fatalf("%s: %v\n%s", pos, err, out)
			}
			if resp.GetCursor().GetId() == "" || resp.GetCursor().GetDatabase() != "neo4j" {
				t.Fatalf("%s: cursor %v, want an id in database neo4j", pos, resp.GetCursor())
			}
			cursor = resp.GetCursor()
		}
	})
	if cursor == nil {
		t.Fatal("no EARLIEST cursor")
	}

	t.Run("Subscribe with a selector", func(t *testing.T) {
		req := `{"from_cursor":{"id":"` + cursor.GetId() + `","database":"neo4j"},` +
			`"selectors":[{"node":{"labels":["Person"],"operation":"OPERATION_CREATE"}}],"checkpoint_interval":"1s"}`
		// A stream does not end by itself: -max-time ends it, and grpcurl then exits 64+4
		// (DeadlineExceeded) after printing what arrived.
		out, errOut, code := plain("-max-time", "5", "-d", req, d.addr, "cdcstream.v1.ChangeStreamService/Subscribe")
		if code != 64+4 {
			t.Fatalf("exit status %d, want 68 (DeadlineExceeded after -max-time)\n%s", code, errOut)
		}
		mustContain(t, "grpcurl stderr", errOut, "DeadlineExceeded")
		var n int
		var last *cdcstreamv1.ChangeEvent
		for _, obj := range jsonObjects(t, out) {
			var resp cdcstreamv1.SubscribeResponse
			if err := protojson.Unmarshal(obj, &resp); err != nil {
				t.Fatalf("not a SubscribeResponse: %v\n%s", err, obj)
			}
			ev := resp.GetChange()
			if ev == nil {
				continue // a checkpoint
			}
			n++
			node := ev.GetNode()
			if node == nil || node.GetOperation() != cdcstreamv1.Operation_OPERATION_CREATE || !hasLabel(node, "Person") {
				t.Fatalf("change does not match the selector (Person, CREATE):\n%s", obj)
			}
			if last != nil && (ev.GetTxId() < last.GetTxId() || ev.GetTxId() == last.GetTxId() && ev.GetSeq() <= last.GetSeq()) {
				t.Fatalf("(tx_id, seq) not ascending: (%d, %d) after (%d, %d)", ev.GetTxId(), ev.GetSeq(), last.GetTxId(), last.GetSeq())
			}
			last = ev
		}
		if n == 0 {
			t.Fatalf("no change in 5s from the earliest cursor of the demo\nstdout:\n%s\nstderr:\n%s", out, errOut)
		}
		t.Logf("grpcurl: %d Person CREATE changes in 5s", n)
	})

	t.Run("invalid cursor", func(t *testing.T) {
		out, errOut, code := plain("-d", `{"from_cursor":{"id":"not-a-cursor","database":"neo4j"}}`, d.addr, "cdcstream.v1.ChangeStreamService/Subscribe")
		if code != 64+3 {
			t.Fatalf("exit status %d, want 67 (64 + InvalidArgument)\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		mustContain(t, "grpcurl stderr", errOut, "Code: InvalidArgument", `"reason": "INVALID_CURSOR"`, `"field": "from_cursor.id"`)
	})
}

func hasLabel(n *cdcstreamv1.NodeEvent, label string) bool {
	for _, l := range n.GetLabels() {
		if l == label {
			return true
		}
	}
	return false
}

// TestHealthProbe checks readiness the way an orchestrator would, with grpc-health-probe.
func TestHealthProbe(t *testing.T) {
	probe := healthProbe(t)
	d := startDaemon(t)
	for _, tc := range []struct {
		service string
		code    int
		out     string
	}{
		{"", 0, "status: SERVING"},
		{"cdcstream.v1.ChangeStreamService", 0, "status: SERVING"},
		{"no.such.Service", 3, "NotFound"},
	} {
		args := []string{"-addr", d.addr}
		if tc.service != "" {
			args = append(args, "-service", tc.service)
		}
		out, errOut, code := cli(t, probe, args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.out) {
			t.Errorf("grpc-health-probe -service %q: exit status %d, output %q; want %d and %q", tc.service, code, out+errOut, tc.code, tc.out)
		}
	}
}
