package client

import (
	"context"
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// BenchmarkReceive measures changes delivered per second through Receive over loopback gRPC,
// including de-duplication and cursor tracking.
func BenchmarkReceive(b *testing.B) {
	msgs := make([]*cdcstreamv1.SubscribeResponse, b.N)
	for i := range msgs {
		msgs[i] = change(int64(i+1), 0)
	}
	_, conn := startFakeTB(b, sendThenHang(msgs...))
	sub := New(conn).Subscribe(context.Background(), fromReq())
	defer sub.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if !sub.Receive() {
			b.Fatal(sub.Err())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
}
