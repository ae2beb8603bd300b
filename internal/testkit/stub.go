package testkit

import (
	"context"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Stub is a ChangeStreamService whose methods are function fields, in the shape of grpc-go's
// internal/stubserver: a test sets the methods it needs, and an unset one answers
// UNIMPLEMENTED, as a server of an older contract would.
type Stub struct {
	cdcstreamv1.UnimplementedChangeStreamServiceServer
	// SubscribeF serves Subscribe.
	SubscribeF func(req *cdcstreamv1.SubscribeRequest, stream cdcstreamv1.ChangeStreamService_SubscribeServer) error
	// GetCursorF serves GetCursor.
	GetCursorF func(ctx context.Context, req *cdcstreamv1.GetCursorRequest) (*cdcstreamv1.GetCursorResponse, error)
}

// Subscribe calls SubscribeF.
func (s *Stub) Subscribe(req *cdcstreamv1.SubscribeRequest, stream cdcstreamv1.ChangeStreamService_SubscribeServer) error {
	if s.SubscribeF == nil {
		return status.Error(codes.Unimplemented, "testkit: Stub.SubscribeF not set")
	}
	return s.SubscribeF(req, stream)
}

// GetCursor calls GetCursorF.
func (s *Stub) GetCursor(ctx context.Context, req *cdcstreamv1.GetCursorRequest) (*cdcstreamv1.GetCursorResponse, error) {
	if s.GetCursorF == nil {
		return nil, status.Error(codes.Unimplemented, "testkit: Stub.GetCursorF not set")
	}
	return s.GetCursorF(ctx, req)
}

// Register registers s as the ChangeStreamService of r.
func (s *Stub) Register(r grpc.ServiceRegistrar) {
	cdcstreamv1.RegisterChangeStreamServiceServer(r, s)
}

// Start serves s with Serve and returns the connection and the address.
func (s *Stub) Start(tb testing.TB, opts ...Option) (*grpc.ClientConn, string) {
	tb.Helper()
	return Serve(tb, s.Register, opts...)
}

// Script plays one Subscribe call: what it sends with send, then how the stream ends (the
// returned error; nil ends it with OK).
type Script func(ctx context.Context, req *cdcstreamv1.SubscribeRequest, send func(*cdcstreamv1.SubscribeResponse) error) error

// SendThen sends msgs, then ends the stream with err.
func SendThen(err error, msgs ...*cdcstreamv1.SubscribeResponse) Script {
	return func(_ context.Context, _ *cdcstreamv1.SubscribeRequest, send func(*cdcstreamv1.SubscribeResponse) error) error {
		if e := sendAll(send, msgs); e != nil {
			return e
		}
		return err
	}
}

// SendThenHang sends msgs, then keeps the stream open until the client leaves.
func SendThenHang(msgs ...*cdcstreamv1.SubscribeResponse) Script {
	return func(ctx context.Context, _ *cdcstreamv1.SubscribeRequest, send func(*cdcstreamv1.SubscribeResponse) error) error {
		if e := sendAll(send, msgs); e != nil {
			return e
		}
		<-ctx.Done()
		return ctx.Err()
	}
}

func sendAll(send func(*cdcstreamv1.SubscribeResponse) error, msgs []*cdcstreamv1.SubscribeResponse) error {
	for _, m := range msgs {
		if err := send(m); err != nil {
			return err
		}
	}
	return nil
}

// Scripts is a scripted Subscribe: the n-th call plays the n-th Script. After the last one,
// calls hang until the client leaves, or, with RepeatLast, play the last script again. A nil
// Script hangs. Every request is recorded (a copy) and announced on Subscribed.
type Scripts struct {
	// Subscribed receives every Subscribe request (buffered for 1000; when full, requests are
	// only recorded, so the server never blocks on a test that does not read it).
	Subscribed chan *cdcstreamv1.SubscribeRequest

	// mu guards scripts, repeatLast and requests.
	mu         sync.Mutex
	scripts    []Script
	repeatLast bool
	requests   []*cdcstreamv1.SubscribeRequest
}

// NewScripts returns Scripts playing scripts in order.
func NewScripts(scripts ...Script) *Scripts {
	return &Scripts{scripts: scripts, Subscribed: make(chan *cdcstreamv1.SubscribeRequest, 1000)}
}

// RepeatLast makes every call after the last script play the last script again; it returns s.
func (s *Scripts) RepeatLast() *Scripts {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repeatLast = true
	return s
}

// Subscribe records req and plays the next script; it has the type of Stub.SubscribeF.
func (s *Scripts) Subscribe(req *cdcstreamv1.SubscribeRequest, stream cdcstreamv1.ChangeStreamService_SubscribeServer) error {
	s.mu.Lock()
	n := len(s.requests)
	s.requests = append(s.requests, proto.Clone(req).(*cdcstreamv1.SubscribeRequest))
	var play Script
	switch {
	case n < len(s.scripts):
		play = s.scripts[n]
	case s.repeatLast && len(s.scripts) > 0:
		play = s.scripts[len(s.scripts)-1]
	}
	s.mu.Unlock()
	select {
	case s.Subscribed <- req:
	default:
	}
	ctx := stream.Context()
	if play == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	return play(ctx, req, stream.Send)
}

// Requests returns the Subscribe requests received so far, in order.
func (s *Scripts) Requests() []*cdcstreamv1.SubscribeRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*cdcstreamv1.SubscribeRequest(nil), s.requests...)
}
