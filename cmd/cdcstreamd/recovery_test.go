package main

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/emptypb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// panickyDesc is a service whose unary method and stream panic in their handlers.
var panickyDesc = grpc.ServiceDesc{
	ServiceName: "cdcstream.test.Panicky",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Unary", Handler: func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
		req := new(emptypb.Empty)
		if err := dec(req); err != nil {
			return nil, err
		}
		return in(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/cdcstream.test.Panicky/Unary"},
			func(context.Context, any) (any, error) { panic("unary handler bug") })
	}}},
	Streams: []grpc.StreamDesc{{StreamName: "Stream", ServerStreams: true, Handler: func(any, grpc.ServerStream) error {
		panic("stream handler bug")
	}}},
}

// A panicking handler, unary or streaming, answers INTERNAL with ErrorInfo INTERNAL, is
// counted, and the server keeps serving.
func TestPanicRecovered(t *testing.T) {
	d, addr := startDaemonWith(t, env(), func(d *daemon) {
		d.hd.registrar(d.gs).RegisterService(&panickyDesc, struct{}{})
	})
	cc := dialGRPC(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in, out := rawBytes(nil), rawBytes(nil)
	wantReason(t, "unary", cc.Invoke(ctx, "/cdcstream.test.Panicky/Unary", &in, &out, rawCall), codes.Internal, cdcstreamv1.ErrorReason_INTERNAL)
	s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/cdcstream.test.Panicky/Stream", rawCall)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(&in); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	wantReason(t, "stream", s.RecvMsg(&out), codes.Internal, cdcstreamv1.ErrorReason_INTERNAL)
	if got := metricValue(t, d, "cdcstream_handler_panics_total"); got != 2 {
		t.Errorf("cdcstream_handler_panics_total = %v, want 2", got)
	}
	served(t, addr)
}

// The guard registers server-streaming methods as bidirectional; the gRPC metrics still
// report their declared kind, pre-created and observed.
func TestGRPCMetricsKeepDeclaredKinds(t *testing.T) {
	d, addr := startDaemon(t, env())
	served(t, addr)
	mfs, err := d.hd.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]map[string]bool{} // method -> grpc_type values seen
	for _, mf := range mfs {
		if mf.GetName() != "grpc_server_started_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if kinds[l["grpc_method"]] == nil {
				kinds[l["grpc_method"]] = map[string]bool{}
			}
			kinds[l["grpc_method"]][l["grpc_type"]] = true
			if l["grpc_method"] == "Subscribe" && m.GetCounter().GetValue() < 1 {
				t.Errorf("Subscribe started counter %v after a subscription", m.GetCounter().GetValue())
			}
		}
	}
	for method, want := range map[string]string{"Subscribe": "server_stream", "Watch": "server_stream", "GetCursor": "unary", "ServerReflectionInfo": "bidi_stream"} {
		if len(kinds[method]) != 1 || !kinds[method][want] {
			t.Errorf("%s: grpc_type %v, want only %s", method, kinds[method], want)
		}
	}
}
