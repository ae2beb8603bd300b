package limits_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/auth"
	"github.com/cdcstream/cdcstream/internal/limits"
	"github.com/cdcstream/cdcstream/internal/rpcstatus"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// principalFromMetadata stands in for internal/auth: it names the call after its
// "x-principal" metadata.
func principalFromMetadata(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	if v := md.Get("x-principal"); len(v) == 1 {
		return handler(srv, &ctxStream{ServerStream: ss, ctx: auth.ContextWithName(ss.Context(), v[0])})
	}
	return handler(srv, ss)
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }

// startServer serves a real server.Server over src behind the limiter on loopback.
func startServer(t *testing.T, src server.Source, lim *limits.Limiter) cdcstreamv1.ChangeStreamServiceClient {
	t.Helper()
	svc, err := server.New(src, server.WithPollInterval(time.Millisecond), server.WithBatchLimit(7))
	if err != nil {
		t.Fatal(err)
	}
	cc, _ := testkit.Serve(t, svc.Register,
		testkit.ServerOptions(grpc.ChainStreamInterceptor(principalFromMetadata, lim.StreamInterceptor())),
		testkit.BeforeStop(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = svc.Shutdown(ctx)
		}))
	return cdcstreamv1.NewChangeStreamServiceClient(cc)
}

func cursorOf(r *cdcstreamv1.SubscribeResponse) *cdcstreamv1.Cursor {
	if c := r.GetChange().GetCursor(); c != nil {
		return c
	}
	return r.GetCheckpoint().GetCursor()
}

// TestRotatedStreamResumesWithoutLoss subscribes through many rotations while changes are
// committed, resuming each time from the final checkpoint, and checks that every change
// arrives exactly once, in order.
func TestRotatedStreamResumesWithoutLoss(t *testing.T) {
	const total, chunk, minRotations = 600, 10, 4
	src := servertest.NewFakeSource("neo4j")
	client := startServer(t, src, limits.New(limits.WithMaxStreamAge(15*time.Millisecond)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	committed := chunk
	src.Commit("neo4j", chunk)
	req := &cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}}
	var got []int64
	rotations := 0
	for len(got) < total || rotations < minRotations {
		st, err := client.Subscribe(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var last *cdcstreamv1.SubscribeResponse
		for {
			msg, err := st.Recv()
			if err != nil {
				if status.Code(err) != codes.Unavailable || rpcstatus.Reason(err) != rpcstatus.ReasonStreamRotated {
					t.Fatalf("stream ended with %v (reason %q), want STREAM_ROTATED", err, rpcstatus.Reason(err))
				}
				if d, ok := rpcstatus.RetryDelay(err); !ok || d != 0 {
					t.Fatalf("RetryInfo %v %v, want 0s", d, ok)
				}
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
	t.Logf("%d changes over %d rotations", len(got), rotations)
}

func TestMaxPerPrincipal(t *testing.T) {
	src := servertest.NewFakeSource("neo4j")
	lim := limits.New(limits.WithMaxPerPrincipal(2), limits.WithPrincipal(auth.NameFromContext))
	client := startServer(t, src, lim)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	open := func(principal string) (context.CancelFunc, error) {
		sctx, scancel := context.WithCancel(ctx)
		if principal != "" {
			sctx = metadata.AppendToOutgoingContext(sctx, "x-principal", principal)
		}
		st, err := client.Subscribe(sctx, &cdcstreamv1.SubscribeRequest{})
		if err != nil {
			scancel()
			return nil, err
		}
		if _, err := st.Recv(); err != nil { // the initial checkpoint
			scancel()
			return nil, err
		}
		return scancel, nil
	}
	var cancels []context.CancelFunc
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	for i := 0; i < 2; i++ {
		c, err := open("a")
		if err != nil {
			t.Fatalf("stream %d of a: %v", i, err)
		}
		cancels = append(cancels, c)
	}
	_, err := open("a")
	if status.Code(err) != codes.ResourceExhausted || rpcstatus.Reason(err) != rpcstatus.ReasonTooManySubscriptions {
		t.Fatalf("third stream of a: %v, want RESOURCE_EXHAUSTED TOO_MANY_SUBSCRIPTIONS", err)
	}
	if d, ok := rpcstatus.RetryDelay(err); !ok || d != limits.RetryAfterTooMany {
		t.Fatalf("RetryInfo %v %v", d, ok)
	}
	c, err := open("b")
	if err != nil {
		t.Fatalf("b is limited by a's streams: %v", err)
	}
	cancels = append(cancels, c)
	for i := 0; i < 3; i++ { // no principal: not limited here
		c, err := open("")
		if err != nil {
			t.Fatalf("anonymous stream %d: %v", i, err)
		}
		cancels = append(cancels, c)
	}
	if lim.Open("a") != 2 || lim.Open("b") != 1 {
		t.Fatalf("open a=%d b=%d", lim.Open("a"), lim.Open("b"))
	}
	cancels[0]()
	// The slot is released when the server side notices the cancellation; poll for it.
	for lim.Open("a") != 1 {
		select {
		case <-ctx.Done():
			t.Fatal("slot of a cancelled stream never released")
		case <-time.After(time.Millisecond):
		}
	}
	c, err = open("a")
	if err != nil {
		t.Fatalf("a after closing a stream: %v", err)
	}
	cancels = append(cancels, c)
}

// fakeStream is a grpc.ServerStream that records what is sent.
type fakeStream struct {
	grpc.ServerStream
	ctx  context.Context
	req  *cdcstreamv1.SubscribeRequest
	mu   sync.Mutex // guards sent
	sent []*cdcstreamv1.SubscribeResponse
}

func (f *fakeStream) Context() context.Context { return f.ctx }

func (f *fakeStream) RecvMsg(m any) error {
	proto.Merge(m.(proto.Message), f.req)
	return nil
}

func (f *fakeStream) SendMsg(m any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m.(*cdcstreamv1.SubscribeResponse))
	return nil
}

func TestRotationEdgeCases(t *testing.T) {
	info := &grpc.StreamServerInfo{FullMethod: cdcstreamv1.ChangeStreamService_Subscribe_FullMethodName, IsServerStream: true}
	cursor := &cdcstreamv1.Cursor{Id: "abc", Database: "sales"}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lim := limits.New(limits.WithMaxStreamAge(time.Millisecond), limits.WithNow(func() time.Time { return now }))
	waitThen := func(err error) grpc.StreamHandler {
		return func(_ any, ss grpc.ServerStream) error {
			if rerr := ss.RecvMsg(&cdcstreamv1.SubscribeRequest{}); rerr != nil {
				return rerr
			}
			<-ss.Context().Done()
			return err
		}
	}
	cases := []struct {
		name       string
		req        *cdcstreamv1.SubscribeRequest
		handlerErr error
		wantReason string
		wantFinal  *cdcstreamv1.Cursor
	}{
		{"nothing sent, start cursor", &cdcstreamv1.SubscribeRequest{Database: "sales",
			Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: "abc"}}},
			status.Error(codes.Canceled, "canceled"), rpcstatus.ReasonStreamRotated, cursor},
		{"nothing sent, no cursor", &cdcstreamv1.SubscribeRequest{}, nil, rpcstatus.ReasonStreamRotated, nil},
		{"handler error wins", &cdcstreamv1.SubscribeRequest{},
			rpcstatus.Error(codes.FailedPrecondition, "cdc off", "CDC_DISABLED", nil), "CDC_DISABLED", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := &fakeStream{ctx: context.Background(), req: c.req}
			err := lim.StreamInterceptor()(nil, fs, info, waitThen(c.handlerErr))
			if rpcstatus.Reason(err) != c.wantReason {
				t.Fatalf("got %v, want reason %s", err, c.wantReason)
			}
			if c.wantFinal == nil {
				if len(fs.sent) != 0 {
					t.Fatalf("sent %v", fs.sent)
				}
				return
			}
			if len(fs.sent) != 1 || !proto.Equal(fs.sent[0].GetCheckpoint().GetCursor(), c.wantFinal) ||
				!fs.sent[0].GetCheckpoint().GetServerTime().AsTime().Equal(now) {
				t.Fatalf("sent %v, want one checkpoint at %v", fs.sent, c.wantFinal)
			}
		})
	}
	t.Run("other methods untouched", func(t *testing.T) {
		fs := &fakeStream{ctx: context.Background(), req: &cdcstreamv1.SubscribeRequest{}}
		called := false
		err := lim.StreamInterceptor()(nil, fs, &grpc.StreamServerInfo{FullMethod: "/grpc.health.v1.Health/Watch"},
			func(any, grpc.ServerStream) error { called = true; return nil })
		if err != nil || !called {
			t.Fatalf("err %v called %v", err, called)
		}
	})
}
