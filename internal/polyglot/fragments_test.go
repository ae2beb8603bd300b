package polyglot

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

// bigPropertyBytes is the size of the big property: more than the 4 MiB that gRPC clients of
// every language accept in one message by default, so only fragments can deliver it.
const bigPropertyBytes = 5 << 20

// fragmentLog is a small change, a change with a bigPropertyBytes property and a small change,
// served by the real server (over a FakeSource, with its default maximum message size of
// 4 MiB and fragments of 1 MiB), and the messages that server sent for them, as a Go client at
// gRPC's default limits received them.
type fragmentLog struct {
	addr   string                           // the real server
	events []*cdcstreamv1.ChangeEvent       // small, big, small
	msgs   []*cdcstreamv1.SubscribeResponse // change, fragments of the big one, change
}

func newFragmentLog(t *testing.T) *fragmentLog {
	t.Helper()
	src := servertest.NewFakeSource(server.DefaultDatabase)
	evs := append(servertest.NodeEvents(1, 10), servertest.NodeEvents(1, bigPropertyBytes)...)
	evs = append(evs, servertest.NodeEvents(1, 20)...)
	// Not one repeated byte: a piece lost, repeated or reordered changes the property.
	big := []byte(evs[1].GetNode().GetAfter().GetProperties()["payload"].GetStringValue())
	for i := range big {
		big[i] = 'a' + byte(i%23) + byte(i/4096%3)
	}
	evs[1].GetNode().GetAfter().GetProperties()["payload"] = testkit.String(string(big))
	src.Append(server.DefaultDatabase, evs...)
	svc, err := server.New(src, server.WithPollInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	conn, addr := testkit.Serve(t, svc.Register, testkit.BeforeStop(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = svc.Shutdown(ctx)
	}))
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	stream, err := cdcstreamv1.NewChangeStreamServiceClient(conn).Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
		Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}})
	if err != nil {
		t.Fatal(err)
	}
	l := &fragmentLog{addr: addr, events: evs}
	for changes := 0; changes < 2; {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("the real server's stream after %d messages: %v", len(l.msgs), err)
		}
		switch {
		case m.GetChange() != nil:
			changes++
		case m.GetChangeFragment() == nil:
			continue // a checkpoint
		}
		l.msgs = append(l.msgs, m)
	}
	if n := len(l.msgs) - 2; n != 6 {
		t.Fatalf("the big change came in %d fragments, want 6 (5 MiB in pieces of 1 MiB)", n)
	}
	return l
}

// TestConsumersReassembleFragments runs each example consumer, at its gRPC library's default
// receive limit, on a change with a 5 MiB property: from the real server; from a server whose
// stream breaks in the middle of the change (the consumer drops the pieces, resumes from the
// change before and prints the change once, whole); and with fragments it must refuse.
func TestConsumersReassembleFragments(t *testing.T) {
	l := newFragmentLog(t)
	frags := l.msgs[1 : len(l.msgs)-1]
	for _, c := range consumers {
		t.Run(c.lang, func(t *testing.T) {
			t.Parallel()
			cl := c.prepare(t)
			t.Run("RealServer", func(t *testing.T) {
				res := cl.run(t, runTimeout, "--address", l.addr, "--earliest", "--max-events", "3")
				wantChanges(t, cl.lang, res, l.events)
			})
			t.Run("BrokenStreamResumesBeforeTheChange", func(t *testing.T) {
				first := append([]*cdcstreamv1.SubscribeResponse{l.msgs[0]}, frags[:3]...)
				second := append(append([]*cdcstreamv1.SubscribeResponse{}, frags...), l.msgs[len(l.msgs)-1])
				fake := newFake(testkit.SendThen(status.Error(codes.Unavailable, "connection lost"), first...),
					testkit.SendThenHang(second...))
				res := cl.run(t, runTimeout, "--address", serveFake(t, fake), "--earliest", "--max-events", "3", "--backoff", "0.01")
				wantChanges(t, cl.lang, res, l.events)
				reqs := fake.requests()
				if len(reqs) != 2 || reqs[1].GetFromCursor().GetId() != l.events[0].GetCursor().GetId() {
					t.Fatalf("requests %v, want a resume strictly after the change before the big one", reqs)
				}
			})
			t.Run("RefusesAGap", func(t *testing.T) {
				fake := newFake(testkit.SendThenHang(l.msgs[0], frags[0], frags[2]))
				res := cl.run(t, runTimeout, "--address", serveFake(t, fake), "--earliest")
				wantRefusal(t, cl.lang, res, "bad change fragment 2 of 6", "expected fragment 1")
			})
			t.Run("RefusesTooLarge", func(t *testing.T) {
				fake := newFake(testkit.SendThenHang(l.msgs[0], frags[0]))
				res := cl.run(t, runTimeout, "--address", serveFake(t, fake), "--earliest", "--max-change-bytes", "1000000")
				wantRefusal(t, cl.lang, res, "more than --max-change-bytes 1000000")
			})
		})
	}
}

// wantChanges checks that res printed exactly want and exited 0.
func wantChanges(t *testing.T, lang string, res result, want []*cdcstreamv1.ChangeEvent) {
	t.Helper()
	if res.code != 0 {
		t.Fatalf("exit status %d, want 0\nstderr:\n%s", res.code, res.stderr)
	}
	got := changes(parseOutput(t, lang, res.stdout))
	if len(got) != len(want) {
		t.Fatalf("printed %d changes, want %d\nstderr:\n%s", len(got), len(want), res.stderr)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("change %d differs from what the server sent (%d bytes printed, %d sent)",
				i, proto.Size(got[i]), proto.Size(want[i]))
		}
	}
}

// wantRefusal checks that res printed the change before the refused one, then exited 1 naming
// why.
func wantRefusal(t *testing.T, lang string, res result, why ...string) {
	t.Helper()
	if res.code != 1 {
		t.Fatalf("exit status %d, want 1\nstderr:\n%s", res.code, res.stderr)
	}
	if n := len(changes(parseOutput(t, lang, res.stdout))); n != 1 {
		t.Fatalf("printed %d changes, want the 1 before the refused one", n)
	}
	for _, w := range why {
		if !strings.Contains(res.stderr, w) {
			t.Fatalf("stderr does not say %q:\n%s", w, res.stderr)
		}
	}
}
