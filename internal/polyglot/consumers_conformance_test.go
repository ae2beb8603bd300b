package polyglot

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// runTimeout bounds one run of a consumer against the fake server.
const runTimeout = 60 * time.Second

// Selectors in protobuf JSON, one with .proto names and one with lowerCamelCase names: a
// protobuf JSON parser accepts both.
const (
	selectorRel  = `{"relationship":{"type":"KNOWS","operation":"OPERATION_DELETE","start":{"labels":["Person"]},"key":{"since":{"integer_value":"4611686018427387904"}}}}`
	selectorNode = `{"node":{"labels":["Person"],"changesTo":["name"],"key":{"id":{"integerValue":"9223372036854775807"}},"txMetadata":{"app":{"stringValue":"polyglot"}}}}`
)

// TestConsumers runs each example consumer against a scripted server and checks what it
// prints, what it asks for, and how it resumes, stops and gives up.
func TestConsumers(t *testing.T) {
	for _, c := range consumers {
		t.Run(c.lang, func(t *testing.T) {
			t.Parallel()
			cl := c.prepare(t)
			t.Run("PrintsEveryFieldFollowsCheckpointsAndResumes", func(t *testing.T) { testPrintsAndResumes(t, cl) })
			t.Run("StartPositions", func(t *testing.T) { testStartPositions(t, cl) })
			t.Run("StopsOnPermanentError", func(t *testing.T) { testStopsOnPermanentError(t, cl) })
			t.Run("GivesUpAfterBoundedRetries", func(t *testing.T) { testGivesUp(t, cl) })
			t.Run("RejectsUnknownSelectorField", func(t *testing.T) { testRejectsBadSelector(t, cl) })
		})
	}
}

func testPrintsAndResumes(t *testing.T, c *consumer) {
	evs := scriptedEvents(6)
	at := time.Date(2026, 11, 26, 12, 0, 0, 250_000_000, time.UTC)
	fake := newFake(
		testkit.SendThen(status.Error(codes.Unavailable, "server shutting down"),
			testkit.ChangeMsg(evs[0]), checkpointMsg("ckpt-1", at), unknownKindMsg(),
			testkit.ChangeMsg(evs[1]), checkpointMsg("ckpt-2", at.Add(time.Second))),
		testkit.SendThen(status.Error(codes.ResourceExhausted, "too many subscriptions"),
			testkit.ChangeMsg(evs[2]), testkit.ChangeMsg(evs[3])),
		testkit.SendThenHang(testkit.ChangeMsg(evs[4]), testkit.ChangeMsg(evs[5])), // the consumer has what it wanted and cancels
	)
	addr := serveFake(t, fake)
	res := c.run(t, runTimeout, "--address", addr, "--database", "db1", "--earliest",
		"--selector", selectorRel, "--selector", selectorNode, "--max-events", "6", "--checkpoints",
		"--checkpoint-interval", "2.5", "--backoff", "0.01", "--max-retries", "3")
	if res.code != 0 {
		t.Fatalf("exit status %d, want 0\nstderr:\n%s", res.code, res.stderr)
	}

	// Output: every change identical to what was sent, checkpoints in place, the unknown kind skipped.
	got := parseOutput(t, c.lang, res.stdout)
	want := []outputLine{{change: evs[0]}, {checkpoint: checkpointMsg("ckpt-1", at).GetCheckpoint()}, {change: evs[1]},
		{checkpoint: checkpointMsg("ckpt-2", at.Add(time.Second)).GetCheckpoint()},
		{change: evs[2]}, {change: evs[3]}, {change: evs[4]}, {change: evs[5]}}
	if len(got) != len(want) {
		t.Fatalf("printed %d lines, want %d (6 changes, 2 checkpoints)\nstdout:\n%s\nstderr:\n%s", len(got), len(want), res.stdout, res.stderr)
	}
	for i := range want {
		if (got[i].checkpoint != nil) != (want[i].checkpoint != nil) {
			t.Fatalf("line %d is of the wrong kind (want checkpoint: %v):\n%s", i+1, want[i].checkpoint != nil, lines(res.stdout)[i])
		}
		var g, w proto.Message = got[i].change, want[i].change
		if want[i].checkpoint != nil {
			g, w = got[i].checkpoint, want[i].checkpoint
		}
		if ok, diff := sameMessage(t, g, w); !ok {
			t.Errorf("line %d differs from what the server sent:\n%s", i+1, diff)
		}
	}

	// Requests: the first as asked for, each resume strictly after the newest cursor seen.
	reqs := fake.requests()
	if len(reqs) != 3 {
		t.Fatalf("server saw %d Subscribe calls, want 3 (first, resume after UNAVAILABLE, resume after RESOURCE_EXHAUSTED)", len(reqs))
	}
	var sels []*cdcstreamv1.Selector
	for _, js := range []string{selectorRel, selectorNode} {
		s := new(cdcstreamv1.Selector)
		if err := protojson.Unmarshal([]byte(js), s); err != nil {
			t.Fatal(err)
		}
		sels = append(sels, s)
	}
	first := &cdcstreamv1.SubscribeRequest{
		Database:           "db1",
		Start:              &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST},
		Selectors:          sels,
		CheckpointInterval: durationpb.New(2500 * time.Millisecond),
	}
	resume := func(id string) *cdcstreamv1.SubscribeRequest {
		r := proto.Clone(first).(*cdcstreamv1.SubscribeRequest)
		r.Start = &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: id, Database: "db1"}}
		return r
	}
	for i, w := range []*cdcstreamv1.SubscribeRequest{first, resume("ckpt-2"), resume(evs[3].GetCursor().GetId())} {
		if ok, diff := sameMessage(t, reqs[i], w); !ok {
			t.Errorf("Subscribe call %d:\n%s", i+1, diff)
		}
	}
	for _, code := range []string{"UNAVAILABLE", "RESOURCE_EXHAUSTED"} {
		if !strings.Contains(res.stderr, code) {
			t.Errorf("stderr does not report the %s that caused a resume:\n%s", code, res.stderr)
		}
	}
}

func testStartPositions(t *testing.T, c *consumer) {
	ev := scriptedEvents(1)[0]
	for _, tc := range []struct {
		name string
		args []string
		want *cdcstreamv1.SubscribeRequest
	}{
		{"from", []string{"--database", "db1", "--from", "opaque-cursor_-=="},
			&cdcstreamv1.SubscribeRequest{Database: "db1", Start: &cdcstreamv1.SubscribeRequest_FromCursor{
				FromCursor: &cdcstreamv1.Cursor{Id: "opaque-cursor_-==", Database: "db1"}}}},
		{"now", nil, &cdcstreamv1.SubscribeRequest{
			Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_NOW}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake(testkit.SendThenHang(testkit.ChangeMsg(ev)))
			addr := serveFake(t, fake)
			res := c.run(t, runTimeout, append([]string{"--address", addr, "--max-events", "1"}, tc.args...)...)
			if res.code != 0 {
				t.Fatalf("exit status %d, want 0\nstderr:\n%s", res.code, res.stderr)
			}
			if evs := changes(parseOutput(t, c.lang, res.stdout)); len(evs) != 1 {
				t.Fatalf("printed %d changes, want 1:\n%s", len(evs), res.stdout)
			}
			reqs := fake.requests()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d Subscribe calls, want 1", len(reqs))
			}
			if ok, diff := sameMessage(t, reqs[0], tc.want); !ok {
				t.Errorf("Subscribe request:\n%s", diff)
			}
		})
	}
}

func testStopsOnPermanentError(t *testing.T, c *consumer) {
	fake := newFake(testkit.SendThen(status.Error(codes.InvalidArgument, "selectors[0].node.labels[0]: empty label")))
	addr := serveFake(t, fake)
	res := c.run(t, runTimeout, "--address", addr, "--max-retries", "5", "--backoff", "0.01")
	if res.code != 1 {
		t.Errorf("exit status %d, want 1\nstderr:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "INVALID_ARGUMENT") || !strings.Contains(res.stderr, "empty label") {
		t.Errorf("stderr does not name the status and its message:\n%s", res.stderr)
	}
	if n := len(fake.requests()); n != 1 {
		t.Errorf("server saw %d Subscribe calls after INVALID_ARGUMENT, want 1 (no retry)", n)
	}
	if res.stdout != "" {
		t.Errorf("stdout not empty:\n%s", res.stdout)
	}
}

func testGivesUp(t *testing.T, c *consumer) {
	fake := newFake(testkit.SendThen(status.Error(codes.Unavailable, "neo4j unreachable")))
	addr := serveFake(t, fake)
	res := c.run(t, runTimeout, "--address", addr, "--max-retries", "2", "--backoff", "0.01")
	if res.code != 1 {
		t.Errorf("exit status %d, want 1\nstderr:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "giving up") || !strings.Contains(res.stderr, "neo4j unreachable") {
		t.Errorf("stderr does not say it gave up and why:\n%s", res.stderr)
	}
	if n := len(fake.requests()); n != 3 {
		t.Errorf("server saw %d Subscribe calls, want 3 (1 + --max-retries 2)", n)
	}
}

func testRejectsBadSelector(t *testing.T, c *consumer) {
	fake := newFake(nil)
	addr := serveFake(t, fake)
	res := c.run(t, runTimeout, "--address", addr, "--selector", `{"node":{"lables":["Person"]}}`)
	if res.code != 2 {
		t.Errorf("exit status %d, want 2 (usage error)\nstderr:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "lables") {
		t.Errorf("stderr does not name the unknown field:\n%s", res.stderr)
	}
	if n := len(fake.requests()); n != 0 {
		t.Errorf("server saw %d Subscribe calls, want 0: a bad selector must not be sent", n)
	}
}
