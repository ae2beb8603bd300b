package main

// The request guard: every call's request messages are read through it, so that
//
//   - a call whose request message does not arrive within --first-message-timeout ends with
//     INVALID_ARGUMENT / INVALID_REQUEST instead of holding its handler goroutine (and its
//     place in the connection's stream quota) forever;
//   - a request that cannot be decoded (invalid wire data, invalid UTF-8 in a string field,
//     nesting deeper than protobuf's recursion limit) ends with INVALID_ARGUMENT /
//     INVALID_REQUEST instead of grpc-go's INTERNAL, on every method;
//   - a server-streaming call with no request message, or with two, ends with INVALID_ARGUMENT
//     / INVALID_REQUEST instead of grpc-go's INTERNAL.
//
// It never parses a cdcstream message: it times RecvMsg, and the codec (guardCodec) reports
// whether the protobuf decoder accepted the bytes. Two facts of grpc-go 1.85 shape it. A
// failing RecvMsg writes its own status (INTERNAL for a decoding error or a wrong number of
// messages) before the handler can answer, so nothing around RecvMsg can change that status;
// hence the codec never fails but records the failure against the message it decoded into,
// and the guard answers it. And grpc-go counts a server-streaming call's messages inside
// RecvMsg; hence such methods are registered as bidirectional (guardRegistrar) and the guard
// counts their messages itself, while the gRPC metrics and the service info keep reporting
// them as server-streaming (metricsStreamInterceptor, serviceInfo). A unary call with no
// request message or two still gets grpc-go's INTERNAL: its RecvMsg cannot be reached.
// A message over --max-recv-msg-size gets grpc-go's RESOURCE_EXHAUSTED, which is gRPC's
// convention for it. Services must be registered through guardRegistrar: a message decoded
// for another one would leave its failure recorded.

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"

	"github.com/cdcstream/cdcstream/internal/metrics"
	"github.com/cdcstream/cdcstream/server"
)

// requestGuard times and counts the reading of request messages.
type requestGuard struct {
	firstMessageTimeout time.Duration
	metrics             *metrics.Transport
	// failures maps a message (the pointer RecvMsg was given) to the decoding error of the
	// bytes received into it; guardCodec stores, the guard loads and deletes.
	failures sync.Map
	// serverStreaming holds the full method names of the server-streaming methods registered
	// as bidirectional. Written only while services are registered, before serving.
	serverStreaming map[string]bool
}

// newRequestGuard is a guard with the given first-message timeout, counting in m.
func newRequestGuard(timeout time.Duration, m *metrics.Transport) *requestGuard {
	return &requestGuard{firstMessageTimeout: timeout, metrics: m, serverStreaming: map[string]bool{}}
}

// guardCodec is the server's codec: protobuf (grpc-go's registered "proto" codec), except
// that a message that does not decode is recorded in the guard and reported as decoded.
type guardCodec struct {
	encoding.CodecV2
	g *requestGuard
}

// newGuardCodec wraps grpc-go's protobuf codec.
func newGuardCodec(g *requestGuard) guardCodec {
	return guardCodec{CodecV2: encoding.GetCodecV2(grpcproto.Name), g: g}
}

// Unmarshal decodes data into v; a failure is recorded against v for the guard.
func (c guardCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if err := c.CodecV2.Unmarshal(data, v); err != nil {
		c.g.failures.Store(v, err)
	}
	return nil
}

// decoded is the decoding error recorded for m, if any, forgetting it.
func (g *requestGuard) decoded(m any) error {
	if err, ok := g.failures.LoadAndDelete(m); ok {
		return err.(error)
	}
	return nil
}

// guardRegistrar registers services with every method's handler reading its requests
// through the guard.
type guardRegistrar struct {
	grpc.ServiceRegistrar
	g *requestGuard
}

// RegisterService registers a copy of desc whose handlers read through the guard, with its
// server-streaming methods made bidirectional (the guard counts their messages).
func (r guardRegistrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	d := *desc
	d.Methods = make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		m.Handler = r.g.unary(m.Handler)
		d.Methods[i] = m
	}
	d.Streams = make([]grpc.StreamDesc, len(desc.Streams))
	for i, s := range desc.Streams {
		single := !s.ClientStreams
		if single {
			r.g.serverStreaming["/"+desc.ServiceName+"/"+s.StreamName] = true
			s.ClientStreams = true
		}
		s.Handler = r.g.stream(s.Handler, single)
		d.Streams[i] = s
	}
	r.ServiceRegistrar.RegisterService(&d, impl)
}

// unary wraps a unary handler: its request decoding is timed and checked.
func (g *requestGuard) unary(h grpc.MethodHandler) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
		return h(srv, ctx, func(m any) error {
			return g.first(func() error { return g.check(m, dec(m)) })
		}, in)
	}
}

// stream wraps a streaming handler: its first RecvMsg is timed, every one checked; single
// marks a method that takes exactly one request message.
func (g *requestGuard) stream(h grpc.StreamHandler, single bool) grpc.StreamHandler {
	return func(srv any, ss grpc.ServerStream) error {
		return h(srv, &guardedStream{ServerStream: ss, g: g, single: single})
	}
}

// guardedStream is a server stream read through the guard. Like any ServerStream, it is
// used by one goroutine at a time.
type guardedStream struct {
	grpc.ServerStream
	g *requestGuard
	// single: the method takes exactly one request message, then the client half-closes.
	single bool
	// received is set once the first RecvMsg was called.
	received bool
}

// RecvMsg receives a request message: the first within the first-message timeout. For a
// single-message method, the first RecvMsg also waits for the client's half-close (as
// grpc-go does for such methods) and every later one returns io.EOF.
func (s *guardedStream) RecvMsg(m any) error {
	switch {
	case s.received && s.single:
		return io.EOF
	case s.received:
		return s.g.check(m, s.ServerStream.RecvMsg(m))
	}
	s.received = true
	return s.g.first(func() error {
		err := s.g.check(m, s.ServerStream.RecvMsg(m))
		if !s.single || err != nil {
			if s.single && err == io.EOF {
				return s.g.reject("no request message")
			}
			return err
		}
		switch err := s.g.check(m, s.ServerStream.RecvMsg(m)); err {
		case io.EOF:
			return nil
		case nil:
			return s.g.reject("more than one request message")
		default:
			return err
		}
	})
}

// check turns a decoding failure recorded for m into INVALID_ARGUMENT / INVALID_REQUEST; err
// is RecvMsg's own result.
func (g *requestGuard) check(m any, err error) error {
	if derr := g.decoded(m); derr != nil {
		return g.reject("malformed request message: " + derr.Error())
	}
	return err
}

// reject counts a malformed request and returns its status.
func (g *requestGuard) reject(msg string) error {
	g.metrics.RequestRejected(metrics.CauseMalformedRequest)
	return invalidRequest(msg)
}

// first runs recv, the reading of a call's first request message, and returns its result,
// or the timeout status when it takes longer than the first-message timeout. recv then goes
// on in its own goroutine until grpc-go ends the stream, which it does as soon as the handler
// returns that status (the stream's context is cancelled, and with it the read).
func (g *requestGuard) first(recv func() error) error {
	done := make(chan error, 1) // recv's result
	go func() { done <- recv() }()
	t := time.NewTimer(g.firstMessageTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		g.metrics.RequestRejected(metrics.CauseFirstMessageTimeout)
		return invalidRequest(fmt.Sprintf("no request message within %v (--first-message-timeout)", g.firstMessageTimeout))
	}
}

// metricsStreamInterceptor gives in (the gRPC metrics' stream interceptor) the method's
// declared kind: a server-streaming method registered as bidirectional is reported as
// server-streaming.
func (g *requestGuard) metricsStreamInterceptor(in grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if g.serverStreaming[info.FullMethod] {
			declared := *info
			declared.IsClientStream = false
			info = &declared
		}
		return in(srv, ss, info, h)
	}
}

// serviceInfo reports the services of p with their methods' declared kinds (see
// metricsStreamInterceptor).
type serviceInfo struct {
	p interface {
		GetServiceInfo() map[string]grpc.ServiceInfo
	}
	g *requestGuard
}

// GetServiceInfo is p's service info with server-streaming methods reported as such.
func (s serviceInfo) GetServiceInfo() map[string]grpc.ServiceInfo {
	infos := s.p.GetServiceInfo()
	for name, info := range infos {
		ms := make([]grpc.MethodInfo, len(info.Methods))
		for i, m := range info.Methods {
			if s.g.serverStreaming["/"+name+"/"+m.Name] {
				m.IsClientStream = false
			}
			ms[i] = m
		}
		info.Methods = ms
		infos[name] = info
	}
	return infos
}

// invalidRequest is an INVALID_ARGUMENT status with ErrorInfo reason INVALID_REQUEST in the
// service's domain: the shape server.Status gives every request error.
func invalidRequest(msg string) error {
	return server.Status(fmt.Errorf("%w: %s", server.ErrMalformedRequest, msg)).Err()
}
