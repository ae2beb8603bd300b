package server_test

import (
	"bytes"
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
	"google.golang.org/protobuf/proto"
)

// A change larger than the maximum message size reaches the stream as fragments, between
// whole changes, in order; the stream then goes on.
func TestSubscribeSendsALargeChangeAsFragments(t *testing.T) {
	t.Parallel()
	const max = server.MinMaxMessageBytes
	h := newHarness(t, server.WithMaxMessageBytes(max))
	evs := append(servertest.NodeEvents(1, 10), servertest.NodeEvents(1, 5*max)...)
	evs = append(evs, servertest.NodeEvents(1, 10)...)
	ids := h.src.Append(db, evs...)
	s := h.subscribe(fromID(servertest.ID(db, 0)), nil)

	first := s.rec.wait(t, h.ctx, 1)
	if changeID(t, first[0]) != ids[0] {
		t.Fatalf("first message %v", first[0])
	}
	f0 := s.rec.wait(t, h.ctx, 2)[1].GetChangeFragment()
	if f0 == nil || f0.GetCount() < 5 {
		t.Fatalf("second message is not the first of at least 5 fragments: %v", f0)
	}
	n := int(f0.GetCount())
	msgs := s.rec.wait(t, h.ctx, 2+n)
	var data bytes.Buffer
	for i, m := range msgs[1 : 1+n] {
		if size := proto.Size(m); size > max {
			t.Fatalf("fragment %d is %d bytes", i, size)
		}
		f := m.GetChangeFragment()
		if f.GetIndex() != uint32(i) || f.GetCount() != uint32(n) {
			t.Fatalf("fragment %d: index %d of %d", i, f.GetIndex(), f.GetCount())
		}
		data.Write(f.GetData())
	}
	if got := msgs[n].GetChangeFragment().GetCursor().GetId(); got != ids[1] {
		t.Fatalf("last fragment has cursor %q, want %q", got, ids[1])
	}
	ev := &cdcstreamv1.ChangeEvent{}
	if err := proto.Unmarshal(data.Bytes(), ev); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(ev, evs[1]) {
		t.Fatal("reassembled change differs")
	}
	if changeID(t, msgs[1+n]) != ids[2] {
		t.Fatalf("after the fragments: %v", msgs[1+n])
	}
}

func TestMaxMessageBytesBounds(t *testing.T) {
	t.Parallel()
	for _, n := range []int{server.MinMaxMessageBytes, server.DefaultMaxMessageBytes, server.MaxMaxMessageBytes} {
		if err := server.CheckOptions(server.WithMaxMessageBytes(n)); err != nil {
			t.Errorf("%d refused: %v", n, err)
		}
	}
	for _, n := range []int{0, -1, server.MinMaxMessageBytes - 1, server.MaxMaxMessageBytes + 1} {
		if err := server.CheckOptions(server.WithMaxMessageBytes(n)); err == nil {
			t.Errorf("%d accepted", n)
		}
	}
}
