package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	// mu guards b.
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveLoopback serves srv on 127.0.0.1 and returns a client; when the test ends the
// connection closes, srv shuts down gracefully and the gRPC server stops.
func serveLoopback(t *testing.T, srv *server.Server) cdcstreamv1.ChangeStreamServiceClient {
	t.Helper()
	cc, _ := testkit.Serve(t, srv.Register, testkit.BeforeStop(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}))
	return cdcstreamv1.NewChangeStreamServiceClient(cc)
}

// rotationOf checks that err is the rotation status (UNAVAILABLE, STREAM_ROTATED, RetryInfo 0s).
func rotationOf(t *testing.T, err error) {
	t.Helper()
	var reason string
	var retry *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		case *errdetails.RetryInfo:
			retry = d
		}
	}
	if status.Code(err) != codes.Unavailable || reason != cdcstreamv1.ErrorReason_STREAM_ROTATED.String() {
		t.Fatalf("stream ended with %v (reason %q), want UNAVAILABLE STREAM_ROTATED", err, reason)
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() != 0 {
		t.Fatalf("RetryInfo %v, want 0s", retry)
	}
}

func cursorOf(r *cdcstreamv1.SubscribeResponse) *cdcstreamv1.Cursor {
	if c := r.GetChange().GetCursor(); c != nil {
		return c
	}
	return r.GetCheckpoint().GetCursor()
}

// TestRotatedStreamResumesWithoutLoss subscribes through many rotations (WithMaxStreamAge)
// while changes are committed, resuming each time from the final checkpoint, and checks that
// every change arrives exactly once, in order, and that rotations are counted and logged as
// rotations, not as cancellations.
func TestRotatedStreamResumesWithoutLoss(t *testing.T) {
	const total, chunk, minRotations = 600, 10, 4
	src := servertest.NewFakeSource("neo4j")
	logs := &syncBuffer{}
	srv, err := server.New(src, server.WithPollInterval(time.Millisecond), server.WithBatchLimit(7),
		server.WithMaxStreamAge(server.MinMaxStreamAge),
		server.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	client := serveLoopback(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	committed := chunk
	src.Commit("neo4j", chunk)
	req := &cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}}
	var got []int64
	rotations := 0
	for len(got) < committed || len(got) < total || rotations < minRotations {
		st, err := client.Subscribe(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var last *cdcstreamv1.SubscribeResponse
		for {
			msg, err := st.Recv()
			if err != nil {
				rotationOf(t, err)
				if last == nil || last.GetCheckpoint() == nil {
					t.Fatalf("last message before rotation is %v, want a checkpoint", last)
				}
				if last.GetCheckpoint().GetServerTime() == nil {
					t.Fatal("final checkpoint without server_time")
				}
				break
			}
			if cursorOf(msg).GetId() == "" {
				t.Fatalf("message without a cursor: %v", msg)
			}
			last = msg
			if ch := msg.GetChange(); ch != nil {
				got = append(got, ch.GetTxId())
				if len(got) == committed && (committed < total || rotations < minRotations) {
					src.Commit("neo4j", chunk)
					committed += chunk
				}
			}
		}
		rotations++
		req = &cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: cursorOf(last)}}
	}
	for i, tx := range got {
		if tx != int64(i+1) {
			t.Fatalf("change %d has tx_id %d, want %d (lost or repeated across a rotation)", i, tx, i+1)
		}
	}
	if len(got) != committed {
		t.Fatalf("received %d changes, committed %d", len(got), committed)
	}
	if n := srv.Stats().Rotations; n != uint64(rotations) {
		t.Fatalf("Stats().Rotations = %d, want %d", n, rotations)
	}
	if n := strings.Count(logs.String(), `msg="server: stream rotated"`); n != rotations {
		t.Fatalf("%d rotations logged as rotations, want %d:\n%s", n, rotations, logs.String())
	}
	if strings.Contains(logs.String(), "code=Canceled") {
		t.Fatalf("a rotation was logged as a cancellation:\n%s", logs.String())
	}
}

// TestRotationWithNothingSent rotates a stream started from a cursor that received nothing:
// its final checkpoint is the start cursor, so the client resumes exactly where it began.
func TestRotationWithNothingSent(t *testing.T) {
	src := servertest.NewFakeSource("sales")
	srv, err := server.New(src, server.WithMaxStreamAge(server.MinMaxStreamAge))
	if err != nil {
		t.Fatal(err)
	}
	client := serveLoopback(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := &cdcstreamv1.Cursor{Id: servertest.ID("sales", 0), Database: "sales"}
	st, err := client.Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
		Start:              &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: start},
		CheckpointInterval: durationpb.New(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if c := msg.GetCheckpoint().GetCursor(); c.GetId() != start.GetId() || c.GetDatabase() != "sales" {
		t.Fatalf("final checkpoint %v, want the start cursor %v", msg, start)
	}
	_, err = st.Recv()
	rotationOf(t, err)
}

// TestMaxStreamAgeValidated rejects a maximum stream age below the minimum.
func TestMaxStreamAgeValidated(t *testing.T) {
	if _, err := server.New(servertest.NewFakeSource("neo4j"), server.WithMaxStreamAge(time.Millisecond)); err == nil {
		t.Fatal("a 1ms maximum stream age was accepted")
	}
}
