package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/server"
)

// preload commits txs workload transactions and returns the cursor before them and the number
// of changes they made.
func preload(tb testing.TB, db *neo4jsim.Database, txs int) (string, int) {
	tb.Helper()
	start, err := db.Current()
	if err != nil {
		tb.Fatal(err)
	}
	w := neo4jsim.NewWorkload(db, 1)
	for range txs {
		if _, err := w.Step(); err != nil {
			tb.Fatal(err)
		}
	}
	recs, err := db.Query(neo4jsim.User{Name: simUser, Admin: true}, start, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return start, len(recs)
}

// BenchmarkEndToEnd measures changes per second from the simulator's log through the real
// driver, neo4jcdc, the server and gRPC over loopback to a client that decodes every message.
func BenchmarkEndToEnd(b *testing.B) {
	for _, limit := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("batch=%d", limit), func(b *testing.B) {
			tg := newSimTargetTB(b)
			s := newStackTB(b, tg, server.WithBatchLimit(limit))
			start, n := preload(b, tg.db, 20000)
			b.ResetTimer()
			total := 0
			for range b.N {
				ctx, cancel := context.WithCancel(context.Background())
				stream, err := s.cli.Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
					Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: start, Database: simDatabase}},
				})
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for got < n {
					msg, err := stream.Recv()
					if err != nil {
						b.Fatal(err)
					}
					if msg.GetChange() != nil {
						got++
					}
				}
				cancel()
				total += got
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "changes/s")
		})
	}
}

// BenchmarkIdleSubscribers measures what idle subscribers cost Neo4j: statements per second
// with 1 and with 500 subscribers whose database does not change.
func BenchmarkIdleSubscribers(b *testing.B) {
	for _, subs := range []int{1, 500} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			tg := newSimTargetTB(b)
			s := newStackTB(b, tg, server.WithPollInterval(100*time.Millisecond), server.WithMaxSubscriptions(1000))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for range subs {
				stream, err := s.cli.Subscribe(ctx, &cdcstreamv1.SubscribeRequest{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := stream.Recv(); err != nil { // the opening checkpoint: the stream is live
					b.Fatal(err)
				}
			}
			before := s.svc.Stats()
			b.ResetTimer()
			time.Sleep(time.Duration(b.N) * 100 * time.Millisecond) // b.N poll intervals of idleness
			after := s.svc.Stats()
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(after.HeadProbes-before.HeadProbes)/secs, "head-probes/s")
			b.ReportMetric(float64(after.Polls-before.Polls)/secs, "polls/s")
		})
	}
}
