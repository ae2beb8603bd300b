package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/neo4jcdc"
	"github.com/cdcstream/cdcstream/internal/proctest"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
)

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Remove()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// stack is every real part between a target Neo4j and a gRPC client: driver, neo4jcdc,
// server, a gRPC server on 127.0.0.1:0 and a client connection to it.
type stack struct {
	tg   target
	src  *neo4jcdc.Source
	svc  *server.Server
	addr string
	conn *grpc.ClientConn
	cli  cdcstreamv1.ChangeStreamServiceClient
}

// quietLogger discards the service's logs: tests judge behaviour by what clients receive.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newStack starts the service in front of tg. opts are appended to test-friendly defaults
// (fast polling).
func newStack(t *testing.T, tg target, opts ...server.Option) *stack {
	return newStackTB(t, tg, opts...)
}

func newStackTB(t testing.TB, tg target, opts ...server.Option) *stack {
	t.Helper()
	ctx := context.Background()
	src, err := neo4jcdc.Open(ctx, tg.uri(), tg.user(), tg.password(),
		neo4jcdc.WithLogger(quietLogger()), neo4jcdc.WithMaxRetryTime(2*time.Second))
	if err != nil {
		t.Fatalf("neo4jcdc.Open: %v", err)
	}
	all := append([]server.Option{
		server.WithDefaultDatabase(tg.database()),
		server.WithPollInterval(20 * time.Millisecond),
		server.WithLogger(quietLogger()),
	}, opts...)
	svc, err := server.New(src, all...)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	s := &stack{tg: tg, src: src, svc: svc}
	// When the test ends: the connection closes, the service shuts down gracefully, the server
	// stops (Stop waits for handlers, so the driver closes after its last use), the driver
	// closes (registered first, so it runs last).
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	s.conn, s.addr = testkit.Serve(t, s.svc.Register, testkit.ServerOptions(grpc.WaitForHandlers(true)),
		testkit.BeforeStop(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.svc.Shutdown(sctx)
		}))
	s.cli = cdcstreamv1.NewChangeStreamServiceClient(s.conn)
	return s
}

// cursorNow returns the head cursor of the target database.
func (s *stack) cursorNow(t *testing.T) *cdcstreamv1.Cursor {
	t.Helper()
	resp, err := s.cli.GetCursor(context.Background(), &cdcstreamv1.GetCursorRequest{
		Database: s.tg.database(), Position: cdcstreamv1.StartPosition_START_POSITION_NOW})
	if err != nil {
		t.Fatalf("GetCursor NOW: %v", err)
	}
	return resp.GetCursor()
}

// s1 is a one-second checkpoint interval, the shortest allowed.
func s1() *durationpb.Duration { return durationpb.New(time.Second) }

// subscription wraps a Subscribe stream with a deadline for every test read.
type subscription struct {
	t      *testing.T
	stream grpc.ServerStreamingClient[cdcstreamv1.SubscribeResponse]
	cancel context.CancelFunc
}

// subscribeFrom subscribes strictly after cursor with selectors and a 1s checkpoint interval.
func (s *stack) subscribeFrom(t *testing.T, cursor *cdcstreamv1.Cursor, selectors ...*cdcstreamv1.Selector) *subscription {
	t.Helper()
	return s.subscribe(t, &cdcstreamv1.SubscribeRequest{
		Database:           s.tg.database(),
		Start:              &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: cursor},
		Selectors:          selectors,
		CheckpointInterval: durationpb.New(time.Second),
	})
}

func (s *stack) subscribe(t *testing.T, req *cdcstreamv1.SubscribeRequest) *subscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	stream, err := s.cli.Subscribe(ctx, req)
	if err != nil {
		cancel()
		t.Fatalf("Subscribe: %v", err)
	}
	sub := &subscription{t: t, stream: stream, cancel: cancel}
	t.Cleanup(cancel)
	return sub
}

// next returns the next message, failing the test on an error.
func (sub *subscription) next() *cdcstreamv1.SubscribeResponse {
	sub.t.Helper()
	msg, err := sub.stream.Recv()
	if err != nil {
		sub.t.Fatalf("Recv: %v", err)
	}
	return msg
}

// changesUntilCheckpoint collects changes until the first checkpoint, which proves nothing
// more matched up to its cursor. It returns the changes and the checkpoint.
func (sub *subscription) changesUntilCheckpoint() ([]*cdcstreamv1.ChangeEvent, *cdcstreamv1.Checkpoint) {
	sub.t.Helper()
	var out []*cdcstreamv1.ChangeEvent
	for {
		msg := sub.next()
		if cp := msg.GetCheckpoint(); cp != nil {
			return out, cp
		}
		if ch := msg.GetChange(); ch != nil {
			out = append(out, ch)
		}
	}
}

// changes reads exactly n changes, skipping checkpoints.
func (sub *subscription) changes(n int) []*cdcstreamv1.ChangeEvent {
	sub.t.Helper()
	var out []*cdcstreamv1.ChangeEvent
	for len(out) < n {
		if ch := sub.next().GetChange(); ch != nil {
			out = append(out, ch)
		}
	}
	return out
}

// recvErr reads until the stream fails and returns that error (a change or checkpoint is
// allowed before it).
func (sub *subscription) recvErr() (error, []*cdcstreamv1.SubscribeResponse) {
	sub.t.Helper()
	var before []*cdcstreamv1.SubscribeResponse
	for {
		msg, err := sub.stream.Recv()
		if err != nil {
			return err, before
		}
		before = append(before, msg)
	}
}

// errorInfo returns the status code and the ErrorInfo of err.
func errorInfo(t *testing.T, err error) (codes.Code, *errdetails.ErrorInfo) {
	t.Helper()
	d := testkit.StatusDetails(t, err)
	if d.Info == nil {
		t.Fatalf("status %v has no ErrorInfo", err)
	}
	return d.Code, d.Info
}

// wantStatus checks err's code and ErrorInfo reason and domain.
func wantStatus(t *testing.T, err error, code codes.Code, reason string) *errdetails.ErrorInfo {
	t.Helper()
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("want %v %s, got %v", code, reason, err)
	}
	c, ei := errorInfo(t, err)
	if c != code || ei.GetReason() != reason || ei.GetDomain() != "cdcstream.v1" {
		t.Fatalf("want %v/%s in domain cdcstream.v1, got %v/%s/%s: %v", code, reason, c, ei.GetReason(), ei.GetDomain(), err)
	}
	return ei
}
