package server

import (
	"bytes"
	"math"
	"strings"
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"google.golang.org/protobuf/proto"
)

// bigChange is a node change with a string property of n bytes and a Neo4j-sized cursor.
func bigChange(n int) *cdcstreamv1.ChangeEvent {
	return &cdcstreamv1.ChangeEvent{
		Cursor: &cdcstreamv1.Cursor{Id: "A3Qc5ZIZ_Eo5v5xsONVo8KUAAAAAAAAADAAAAAAAAAAA", Database: "neo4j"},
		TxId:   math.MaxInt64 - 1, Seq: 7,
		Event: &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
			ElementId: "4:db:1", Operation: cdcstreamv1.Operation_OPERATION_CREATE,
			After: &cdcstreamv1.NodeState{Properties: map[string]*cdcstreamv1.Value{
				"payload": {Kind: &cdcstreamv1.Value_StringValue{StringValue: strings.Repeat("x", n)}},
			}},
		}},
	}
}

// checkMessages asserts that msgs carry ev within max bytes each, following the ChangeFragment
// contract, and returns how many fragments there were (0 for one whole change).
func checkMessages(t *testing.T, ev *cdcstreamv1.ChangeEvent, max int, msgs []*cdcstreamv1.SubscribeResponse) int {
	t.Helper()
	for i, m := range msgs {
		if size := proto.Size(m); size > max {
			t.Fatalf("message %d of %d is %d bytes, more than the maximum %d", i, len(msgs), size, max)
		}
	}
	if len(msgs) == 1 {
		if !proto.Equal(msgs[0].GetChange(), ev) {
			t.Fatalf("one message that is not the change: %v", msgs[0])
		}
		return 0
	}
	var buf bytes.Buffer
	for i, m := range msgs {
		f := m.GetChangeFragment()
		if f == nil {
			t.Fatalf("message %d of %d is not a fragment: %T", i, len(msgs), m.GetMessage())
		}
		if f.GetIndex() != uint32(i) || f.GetCount() != uint32(len(msgs)) || len(f.GetData()) == 0 {
			t.Fatalf("fragment %d: index %d count %d data %d bytes", i, f.GetIndex(), f.GetCount(), len(f.GetData()))
		}
		if f.GetTxId() != ev.GetTxId() || f.GetSeq() != ev.GetSeq() || f.GetTotalSize() != uint64(proto.Size(ev)) {
			t.Fatalf("fragment %d: tx_id %d seq %d total %d", i, f.GetTxId(), f.GetSeq(), f.GetTotalSize())
		}
		last := i == len(msgs)-1
		if last != (f.GetCursor() != nil) || (last && !proto.Equal(f.GetCursor(), ev.GetCursor())) {
			t.Fatalf("fragment %d of %d has cursor %v", i, len(msgs), f.GetCursor())
		}
		buf.Write(f.GetData())
	}
	got := &cdcstreamv1.ChangeEvent{}
	if err := proto.Unmarshal(buf.Bytes(), got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, ev) {
		t.Fatal("the reassembled change differs from the change")
	}
	return len(msgs)
}

func TestChangeMessagesSmallChangeIsOneMessage(t *testing.T) {
	ev := bigChange(100)
	msgs := changeMessages(ev, DefaultMaxMessageBytes)
	if n := checkMessages(t, ev, DefaultMaxMessageBytes, msgs); n != 0 {
		t.Fatalf("a small change went out in %d fragments", n)
	}
	if msgs[0].GetChange() != ev {
		t.Fatal("a whole change is copied instead of sent as is")
	}
}

func TestChangeMessagesSplitsA10MiBChange(t *testing.T) {
	ev := bigChange(10 << 20)
	msgs := changeMessages(ev, DefaultMaxMessageBytes)
	n := checkMessages(t, ev, FragmentBytes, msgs)
	// 10 MiB in pieces of just under 1 MiB: 11 fragments.
	if n != 11 {
		t.Fatalf("%d fragments, want 11", n)
	}
}

// A change that a client at gRPC's default 4 MiB limit can receive whole goes whole: a client
// that does not know fragments still gets it.
func TestChangeMessagesUnderTheDefaultLimitGoWhole(t *testing.T) {
	ev := bigChange(DefaultMaxMessageBytes - 1000)
	if n := checkMessages(t, ev, DefaultMaxMessageBytes, changeMessages(ev, DefaultMaxMessageBytes)); n != 0 {
		t.Fatalf("a change of just under 4 MiB went out in %d fragments", n)
	}
	ev = bigChange(DefaultMaxMessageBytes)
	if n := checkMessages(t, ev, FragmentBytes, changeMessages(ev, DefaultMaxMessageBytes)); n != 5 {
		t.Fatalf("a change of just over 4 MiB went out in %d fragments, want 5 of at most 1 MiB", n)
	}
}

// The boundary: a message of exactly max bytes goes whole, one byte more goes in fragments,
// and no fragment ever passes max, for every size around the boundary and the chunk size.
func TestChangeMessagesBoundary(t *testing.T) {
	const max = MinMaxMessageBytes
	base := proto.Size(&cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Change{Change: bigChange(0)}})
	sawWhole, sawSplit := false, false
	for n := max - base - 64; n < 3*max; n += 1 + n%97 {
		ev := bigChange(n)
		whole := proto.Size(&cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Change{Change: ev}})
		frags := checkMessages(t, ev, max, changeMessages(ev, max))
		if (whole <= max) != (frags == 0) {
			t.Fatalf("property of %d bytes, message %d bytes: %d fragments", n, whole, frags)
		}
		sawWhole = sawWhole || frags == 0
		sawSplit = sawSplit || frags > 0
	}
	if !sawWhole || !sawSplit {
		t.Fatalf("the sweep missed a side of the boundary: whole %v, split %v", sawWhole, sawSplit)
	}
}

func FuzzChangeMessages(f *testing.F) {
	f.Add(uint32(0), uint32(0))
	f.Add(uint32(20000), uint32(0))
	f.Add(uint32(200000), uint32(5000))
	f.Fuzz(func(t *testing.T, payload, extra uint32) {
		max := MinMaxMessageBytes + int(extra%(64<<10))
		ev := bigChange(int(payload % (256 << 10)))
		checkMessages(t, ev, max, changeMessages(ev, max))
	})
}

// BenchmarkLargeChange compares what the server spends on a 10 MiB change sent whole (the
// encoding gRPC makes of the message) with what it spends on the same change in fragments (the
// change's encoding, then gRPC's encoding of every fragment): the price of fragmenting.
func BenchmarkLargeChange(b *testing.B) {
	ev := bigChange(10 << 20)
	b.Run("whole", func(b *testing.B) {
		msg := &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Change{Change: ev}}
		b.SetBytes(int64(proto.Size(msg)))
		for b.Loop() {
			if _, err := proto.Marshal(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fragments", func(b *testing.B) {
		b.SetBytes(int64(proto.Size(ev)))
		for b.Loop() {
			for _, m := range changeMessages(ev, DefaultMaxMessageBytes) {
				if _, err := proto.Marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
