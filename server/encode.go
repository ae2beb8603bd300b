package server

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Encode once (docs/architecture.md, "The shared tail"): the tail serializes every change
// once, and every synced subscription sends those bytes as they are. grpc-go offers two ways
// to send bytes already encoded: grpc.PreparedMsg, which is encoded with one stream's codec
// and compressor and so cannot be shared by streams that negotiated different compression,
// and a codec that passes pre-encoded messages through. cdcstream uses the second: this
// package registers, at init, a "proto" codec that marshals an *encodedMsg as its bytes and
// delegates everything else to grpc-go's protobuf codec (a server that forces its own codec
// with grpc.ForceServerCodecV2 must delegate Marshal to encoding.GetCodecV2("proto"), as
// cmd/cdcstreamd's request guard does). Compression, when a client asks for it, still
// happens per stream in the transport. A stream whose codec cannot pass the bytes through
// (canSendEncoded) is sent the messages encoded per stream instead.

// encodedMsg is one SubscribeResponse, already serialized. It is shared by many streams and
// never modified.
type encodedMsg struct {
	data []byte
}

// passThroughCodec is grpc-go's protobuf codec plus encodedMsg.
type passThroughCodec struct {
	encoding.CodecV2
}

func init() {
	encoding.RegisterCodecV2(passThroughCodec{CodecV2: encoding.GetCodecV2(grpcproto.Name)})
}

// Marshal returns an encodedMsg's bytes without copying (a SliceBuffer, whose Free does
// nothing, so the shared bytes are never returned to a pool) and marshals anything else.
func (c passThroughCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*encodedMsg); ok {
		return mem.BufferSlice{mem.SliceBuffer(m.data)}, nil
	}
	return c.CodecV2.Marshal(v)
}

// encodeProbe is a valid, empty SubscribeResponse used to test a stream's codec.
var encodeProbe = &encodedMsg{data: []byte{}}

// canSendEncoded reports whether stream's codec passes encodedMsg through: it encodes a probe
// with the stream's own codec (grpc.PreparedMsg.Encode) without sending anything.
func canSendEncoded(stream grpc.ServerStream) bool {
	var pm grpc.PreparedMsg
	return pm.Encode(stream, encodeProbe) == nil
}

// encodeChange serializes the messages that carry ev to a client (one, or ChangeFragments
// when it is larger than maxMessage bytes: fragment.go), once for every stream.
func encodeChange(ev *cdcstreamv1.ChangeEvent, maxMessage int) (*entry, error) {
	// Marshal whole first: one sizing pass for the common change; only one over maxMessage
	// goes through changeMessages (which sizes it again, then splits it).
	whole, err := proto.Marshal(&cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Change{Change: ev}})
	if err != nil {
		return nil, fmt.Errorf("server: encode change %s: %w", ev.GetCursor().GetId(), err)
	}
	if len(whole) <= maxMessage {
		return &entry{ev: ev, msgs: [][]byte{whole}, size: len(whole)}, nil
	}
	msgs := changeMessages(ev, maxMessage)
	e := &entry{ev: ev, msgs: make([][]byte, len(msgs))}
	for i, msg := range msgs {
		data, err := proto.Marshal(msg)
		if err != nil {
			return nil, fmt.Errorf("server: encode change %s: %w", ev.GetCursor().GetId(), err)
		}
		e.msgs[i] = data
		e.size += len(data)
	}
	return e, nil
}
