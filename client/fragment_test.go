package client

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// bigEvent is change (tx, 0) with a string property of n bytes, cursor c-<tx>-0.
func bigEvent(tx int64, n int) *cdcstreamv1.ChangeEvent {
	ev := proto.Clone(testkit.Change(tx, 0).GetChange()).(*cdcstreamv1.ChangeEvent)
	ev.GetNode().After = &cdcstreamv1.NodeState{Properties: map[string]*cdcstreamv1.Value{
		"payload": {Kind: &cdcstreamv1.Value_StringValue{StringValue: strings.Repeat("p", n)}},
	}}
	return ev
}

// fragments splits ev the way the server does (see ChangeFragment in service.proto): pieces of
// chunk bytes, the cursor on the last one.
func fragments(t testing.TB, ev *cdcstreamv1.ChangeEvent, chunk int) []*cdcstreamv1.ChangeFragment {
	t.Helper()
	data, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	count := (len(data) + chunk - 1) / chunk
	var out []*cdcstreamv1.ChangeFragment
	for i := range count {
		f := &cdcstreamv1.ChangeFragment{
			Data: data[i*chunk : min((i+1)*chunk, len(data))], Index: uint32(i), Count: uint32(count),
			TotalSize: uint64(len(data)), TxId: ev.GetTxId(), Seq: ev.GetSeq(),
		}
		if i == count-1 {
			f.Cursor = ev.GetCursor()
		}
		out = append(out, f)
	}
	return out
}

// fragmentMsgs wraps fragments in SubscribeResponses.
func fragmentMsgs(fs []*cdcstreamv1.ChangeFragment) []*cdcstreamv1.SubscribeResponse {
	out := make([]*cdcstreamv1.SubscribeResponse, len(fs))
	for i, f := range fs {
		out[i] = &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_ChangeFragment{ChangeFragment: f}}
	}
	return out
}

// feed adds fs to r in order and returns the change and error of the last add, failing the
// test if an earlier one completed or failed.
func feed(t *testing.T, r *reassembly, max int, fs []*cdcstreamv1.ChangeFragment) (*cdcstreamv1.ChangeEvent, error) {
	t.Helper()
	for i, f := range fs {
		ev, err := r.add(f, max)
		if i == len(fs)-1 {
			return ev, err
		}
		if ev != nil || err != nil {
			t.Fatalf("fragment %d of %d: %v, %v", i, len(fs), ev, err)
		}
	}
	return nil, nil
}

func TestReassemblyJoinsFragments(t *testing.T) {
	ev := bigEvent(2, 10000)
	var r reassembly
	got, err := feed(t, &r, DefaultMaxChangeBytes, fragments(t, ev, 1000))
	if err != nil || !proto.Equal(got, ev) {
		t.Fatalf("got %v, %v", got != nil, err)
	}
	if r.active() {
		t.Fatal("buffer kept after the change completed")
	}
}

func TestReassemblyRefusesATooLargeChange(t *testing.T) {
	ev := bigEvent(2, 10000)
	fs := fragments(t, ev, 1000)
	var r reassembly
	_, err := r.add(fs[0], 9999)
	var tl *ChangeTooLargeError
	if !errors.As(err, &tl) || tl.TxID != 2 || tl.Size != fs[0].GetTotalSize() || tl.Max != 9999 {
		t.Fatalf("error %v", err)
	}
	if r.active() {
		t.Fatal("a refused change was buffered")
	}
	if classify(err) != stop {
		t.Fatal("a change too large would be retried forever")
	}
}

func TestReassemblyRefusesBrokenSequences(t *testing.T) {
	ev := bigEvent(2, 5000)
	other := fragments(t, bigEvent(3, 5000), 1000)
	mutate := func(i int, f func(*cdcstreamv1.ChangeFragment)) []*cdcstreamv1.ChangeFragment {
		fs := fragments(t, ev, 1000)
		fs[i] = proto.Clone(fs[i]).(*cdcstreamv1.ChangeFragment)
		f(fs[i])
		return fs[:i+1]
	}
	for _, tc := range []struct {
		name string
		fs   []*cdcstreamv1.ChangeFragment
		want string
	}{
		{"first fragment missing", fragments(t, ev, 1000)[1:2], "first fragment is missing"},
		{"index skipped", append(fragments(t, ev, 1000)[:1], fragments(t, ev, 1000)[2]), "expected fragment 1"},
		{"index repeated", append(fragments(t, ev, 1000)[:2], fragments(t, ev, 1000)[1]), "expected fragment 2"},
		{"new change inside a change", append(fragments(t, ev, 1000)[:2], other[0]), "new change began"},
		{"other change's fragment", append(fragments(t, ev, 1000)[:1], other[1]), "does not belong"},
		{"count changes", mutate(1, func(f *cdcstreamv1.ChangeFragment) { f.Count++ }), "does not belong"},
		{"count 1", mutate(0, func(f *cdcstreamv1.ChangeFragment) { f.Count = 1 }), "count >= 2"},
		{"no total", mutate(0, func(f *cdcstreamv1.ChangeFragment) { f.TotalSize = 0 }), "total_size > 0"},
		{"empty data", mutate(1, func(f *cdcstreamv1.ChangeFragment) { f.Data = nil }), "data of 0 bytes"},
		{"more data than announced", mutate(0, func(f *cdcstreamv1.ChangeFragment) { f.TotalSize = 10 }), "data of 1000 bytes after 0 of 10"},
		{"cursor early", mutate(0, func(f *cdcstreamv1.ChangeFragment) { f.Cursor = ev.GetCursor() }), "only the last fragment"},
		{"less data than announced", mutate(5, func(f *cdcstreamv1.ChangeFragment) { f.Data = f.Data[:1] }), "announced"},
		{"garbage", mutate(5, func(f *cdcstreamv1.ChangeFragment) { f.Data = []byte{0xff, 0xff, 0xff}[:len(f.Data)%3+1] }), "bad change fragment"},
		{"cursor differs", mutate(5, func(f *cdcstreamv1.ChangeFragment) { f.Cursor = cursor("c-9-9") }), "cursor neo4j/c-9-9"},
		{"tx_id differs", func() []*cdcstreamv1.ChangeFragment {
			fs := fragments(t, ev, 1000)
			for _, f := range fs {
				f.TxId = 7
			}
			return fs
		}(), "fragments said tx_id 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r reassembly
			_, err := feed(t, &r, DefaultMaxChangeBytes, tc.fs)
			if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want INTERNAL mentioning %q", err, tc.want)
			}
			if r.active() {
				t.Fatal("the buffer outlived the violation")
			}
			// The next change reassembles normally.
			if got, err := feed(t, &r, DefaultMaxChangeBytes, fragments(t, ev, 1000)); err != nil || !proto.Equal(got, ev) {
				t.Fatalf("after the violation: %v", err)
			}
		})
	}
}

// A stream that breaks in the middle of a change resumes from the cursor before it, and the
// change comes again whole: delivered once, intact, between its neighbours.
func TestSubscriptionReassemblesAcrossABrokenStream(t *testing.T) {
	ev := bigEvent(2, 50000)
	frags := fragmentMsgs(fragments(t, ev, 16000))
	unavailable := statusErr(t, codes.Unavailable, "", nil, 0)
	first := append([]*cdcstreamv1.SubscribeResponse{change(1, 0)}, frags[:2]...)
	second := append(append([]*cdcstreamv1.SubscribeResponse{}, frags...), change(3, 0))
	f, conn := startFake(t, sendThen(unavailable, first...), sendThenHang(second...))
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	msgs := receiveN(t, sub, 3)
	if got := txIDs(msgs); !equalInts(got, []int64{1, 2, 3}) {
		t.Fatalf("tx ids %v", got)
	}
	if !proto.Equal(msgs[1].GetChange(), ev) {
		t.Fatal("the reassembled change differs")
	}
	reqs := f.subscribeRequests()
	if len(reqs) != 2 || reqs[1].GetFromCursor().GetId() != "c-1-0" {
		t.Fatalf("requests %v", reqs)
	}
	if sub.Cursor().GetId() != "c-3-0" {
		t.Fatalf("cursor %v", sub.Cursor())
	}
}

func TestSubscriptionEndsOnATooLargeChange(t *testing.T) {
	ev := bigEvent(2, 50000)
	f, conn := startFake(t, sendThenHang(append([]*cdcstreamv1.SubscribeResponse{change(1, 0)}, fragmentMsgs(fragments(t, ev, 16000))...)...))
	sub := newTestClient(conn, newFakeClock(), WithMaxChangeBytes(40000)).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	receiveN(t, sub, 1)
	if sub.Receive() {
		t.Fatalf("received %v", sub.Msg())
	}
	var tl *ChangeTooLargeError
	if !errors.As(sub.Err(), &tl) || tl.TxID != 2 || tl.Max != 40000 {
		t.Fatalf("error %v", sub.Err())
	}
	if n := len(f.subscribeRequests()); n != 1 {
		t.Fatalf("%d subscribe calls, want 1 (no retry)", n)
	}
	if sub.Cursor().GetId() != "c-1-0" {
		t.Fatalf("cursor %v, want the change before", sub.Cursor())
	}
}

// A server that sends a good first fragment and then a bad one on every attempt exhausts the
// INTERNAL budget: fragments do not count as delivered messages.
func TestSubscriptionBadFragmentsExhaustTheInternalBudget(t *testing.T) {
	fs := fragments(t, bigEvent(2, 50000), 16000)
	bad := fragmentMsgs([]*cdcstreamv1.ChangeFragment{fs[0], fs[2]})
	f, conn := startFake(t, sendThenHang(bad...))
	f.RepeatLast()
	sub := newTestClient(conn, newFakeClock(), WithMaxInternalRetries(2)).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	if sub.Receive() {
		t.Fatalf("received %v", sub.Msg())
	}
	if status.Code(sub.Err()) != codes.Internal || !strings.Contains(sub.Err().Error(), "expected fragment 1") {
		t.Fatalf("error %v", sub.Err())
	}
	if n := len(f.subscribeRequests()); n != 3 {
		t.Fatalf("%d subscribe calls, want 3 (the first and 2 retries)", n)
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// BenchmarkLargeChange compares decoding a 10 MiB change received whole with reassembling it
// from 1 MiB fragments and decoding it: the client's price of fragments.
func BenchmarkLargeChange(b *testing.B) {
	ev := bigEvent(2, 10<<20)
	data, err := proto.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	fs := fragments(b, ev, 1<<20)
	b.Run("whole", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := proto.Unmarshal(data, &cdcstreamv1.ChangeEvent{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fragments", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		var r reassembly
		for b.Loop() {
			for _, f := range fs {
				if _, err := r.add(f, DefaultMaxChangeBytes); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
