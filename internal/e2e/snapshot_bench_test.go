package e2e

import (
	"context"
	"fmt"
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/server"
)

// BenchmarkSnapshot measures a snapshot of the same graph side by side with streaming the
// changes that built it: records/s of SNAPSHOT_MODE_ONLY at two chunk sizes, and changes/s of a
// plain stream from the cursor before the graph was written (same entities, same properties).
func BenchmarkSnapshot(b *testing.B) {
	const nodes = 5000
	for _, mode := range []string{"snapshot/chunk=100", "snapshot/chunk=1000", "stream"} {
		b.Run(mode, func(b *testing.B) {
			tg := newSimTargetTB(b)
			chunk := 1000
			if mode == "snapshot/chunk=100" {
				chunk = 100
			}
			s := newStackTB(b, tg, server.WithSnapshotChunkSize(chunk))
			start, err := tg.db.Current()
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < nodes; i += 500 {
				if _, err := tg.db.Write(neo4jsim.Session{User: simUser}, func(tx *neo4jsim.Tx) error {
					for j := i; j < i+500; j++ {
						if _, err := tx.CreateNode([]string{"Item"}, map[string]any{"k": int64(j), "name": fmt.Sprint("item-", j)}); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			req := &cdcstreamv1.SubscribeRequest{Snapshot: cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY}
			if mode == "stream" {
				req = &cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: start, Database: simDatabase}}}
			}
			b.ResetTimer()
			total := 0
			for range b.N {
				ctx, cancel := context.WithCancel(context.Background())
				stream, err := s.cli.Subscribe(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for got < nodes {
					msg, err := stream.Recv()
					if err != nil {
						b.Fatal(err)
					}
					if msg.GetChange() != nil || msg.GetSnapshotRecord() != nil {
						got++
					}
				}
				cancel()
				total += got
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "entities/s")
		})
	}
}
