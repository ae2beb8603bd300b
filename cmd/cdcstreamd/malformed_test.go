package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
)

// rawBytes is a message sent and received as its wire bytes (rawCodec).
type rawBytes []byte

// rawCodec sends rawBytes unchanged under the name "proto", so that the server decodes
// whatever bytes a test chose with its protobuf codec.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*rawBytes)), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*rawBytes)) = append(rawBytes(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

var (
	// rawCall makes a call send and receive rawBytes.
	rawCall = grpc.ForceCodec(rawCodec{})
	// subscribeDesc lets the client send any number of request messages (the server's
	// method is server-streaming).
	subscribeDesc   = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}
	subscribeMethod = "/" + cdcstreamv1.ChangeStreamService_ServiceDesc.ServiceName + "/Subscribe"
	getCursorMethod = "/" + cdcstreamv1.ChangeStreamService_ServiceDesc.ServiceName + "/GetCursor"
)

// rawSubscribe sends msgs as Subscribe's request messages, half-closes, and returns the first
// response's error (nil when a message arrived).
func rawSubscribe(ctx context.Context, cc *grpc.ClientConn, msgs ...[]byte) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := cc.NewStream(ctx, subscribeDesc, subscribeMethod, rawCall)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		b := rawBytes(m)
		if err := s.SendMsg(&b); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	return s.RecvMsg(new(rawBytes))
}

// deepValue is a SubscribeRequest whose selector's tx_metadata value nests depth lists.
func deepValue(depth int) []byte {
	var v []byte // an empty Value
	for i := 0; i < depth; i++ {
		list := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), v) // ListValue.values
		v = protowire.AppendBytes(protowire.AppendTag(nil, 7, protowire.BytesType), list)  // Value.list_value
	}
	entry := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "k")
	entry = protowire.AppendBytes(protowire.AppendTag(entry, 2, protowire.BytesType), v)
	entity := protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), entry) // tx_metadata
	sel := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), entity)   // Selector.entity
	return protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), sel)      // selectors
}

// malformed are the request messages no decoder accepts (issue 15, item 9).
var malformed = map[string][]byte{
	"invalid UTF-8":   {0x0a, 0x02, 0xff, 0xfe}, // database = "\xff\xfe"
	"truncated":       {0x0a, 0x05, 'n', 'e'},   // database announces 5 bytes, has 2
	"bad wire type":   {0x0f},                   // field 1, wire type 7
	"nested too deep": deepValue(protowire.DefaultRecursionLimit + 1),
}

// Malformed requests get INVALID_ARGUMENT with ErrorInfo INVALID_REQUEST, on Subscribe
// (streaming) and on GetCursor (unary), as do a Subscribe with no request message, one with
// two; every one is counted; the server goes on.
func TestMalformedRequestsInvalidArgument(t *testing.T) {
	d, addr := startDaemon(t, env(), "--max-recv-msg-size", "262144")
	cc := dialGRPC(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := 0
	for name, b := range malformed {
		if err := proto.Unmarshal(b, &cdcstreamv1.SubscribeRequest{}); err == nil {
			t.Fatalf("%s: the protobuf decoder accepts it; the case tests nothing", name)
		}
		wantReason(t, "Subscribe: "+name, rawSubscribe(ctx, cc, b), codes.InvalidArgument, cdcstreamv1.ErrorReason_INVALID_REQUEST)
		want++
		in, out := rawBytes(b), rawBytes(nil)
		err := cc.Invoke(ctx, getCursorMethod, &in, &out, rawCall)
		if proto.Unmarshal(b, &cdcstreamv1.GetCursorRequest{}) == nil {
			// GetCursorRequest has no field 4: the deep selector is an unknown field there.
			if err != nil {
				t.Errorf("GetCursor: %s: decodable as GetCursorRequest, yet %v", name, err)
			}
			continue
		}
		wantReason(t, "GetCursor: "+name, err, codes.InvalidArgument, cdcstreamv1.ErrorReason_INVALID_REQUEST)
		want++
	}
	valid, err := proto.Marshal(&cdcstreamv1.SubscribeRequest{
		Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST},
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, msgs := range map[string][][]byte{
		"no request message":   nil,
		"two request messages": {valid, valid},
		"too large":            {bytes.Repeat([]byte{0x0a, 0x7f}, 1<<15)}, // 64 KiB and more
	} {
		wantReason(t, "Subscribe: "+name, rawSubscribe(ctx, cc, msgs...), codes.InvalidArgument, cdcstreamv1.ErrorReason_INVALID_REQUEST)
		want++
	}
	// Over --max-recv-msg-size: gRPC's own RESOURCE_EXHAUSTED (guard.go says why).
	if err := rawSubscribe(ctx, cc, bytes.Repeat([]byte{0x0a, 0x7f}, 1<<17+1)); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("Subscribe over --max-recv-msg-size: %v, want ResourceExhausted", err)
	}
	if got := metricValue(t, d, "cdcstream_requests_rejected_total"); got != float64(want) {
		t.Errorf("cdcstream_requests_rejected_total = %v, want %d", got, want)
	}
	if err := rawSubscribe(ctx, cc, valid); err != nil {
		t.Fatalf("a valid request after the malformed ones: %v", err)
	}
}

// FuzzRawRequest sends raw bytes as the request of Subscribe and of GetCursor to a real
// server. Whatever the bytes, the server never panics (it runs in this process) and answers
// a message or a status with ErrorInfo in the service's domain; a valid request may also
// still be streaming when the call's deadline ends it on the client side.
func FuzzRawRequest(f *testing.F) {
	for _, b := range malformed {
		f.Add(b)
	}
	for _, m := range []proto.Message{
		&cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}},
		&cdcstreamv1.SubscribeRequest{Database: "nope", Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: "x"}}},
		&cdcstreamv1.GetCursorRequest{Position: cdcstreamv1.StartPosition_START_POSITION_NOW},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	_, addr := startDaemon(f, env(), "--checkpoint-interval", "1s")
	cc := dialGRPC(f, addr)
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		answered(t, ctx, "Subscribe", rawSubscribe(ctx, cc, b))
		in, out := rawBytes(b), rawBytes(nil)
		answered(t, ctx, "GetCursor", cc.Invoke(ctx, getCursorMethod, &in, &out, rawCall))
	})
}

// answered checks a call's outcome: a message, or a status with the service's ErrorInfo, or
// the client's own deadline on a stream that is still serving a valid request.
func answered(t *testing.T, ctx context.Context, method string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	st, _ := status.FromError(err)
	if st.Code() == codes.DeadlineExceeded && ctx.Err() != nil {
		return
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == server.ErrorDomain && info.GetReason() != "" {
			return
		}
	}
	t.Fatalf("%s: %v: no ErrorInfo in domain %s", method, err, server.ErrorDomain)
}
