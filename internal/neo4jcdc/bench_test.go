package neo4jcdc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/neo4jcdc"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/server"
)

// BenchmarkPoll measures changes converted per second through Poll (driver decoding plus
// conversion) over a log of 20,000 node changes with nine properties each.
func BenchmarkPoll(b *testing.B) {
	s := startSim(b)
	db := s.dbms.Database("neo4j")
	src := open(b, s.srv.BoltURI(), neo4jcdc.WithMaxRetryTime(5*time.Second))
	c := context.Background()
	start := must(src.Current(c, "neo4j"))(b)
	const txs, perTx = 200, 100
	for i := range txs {
		write(b, db, neo4jsim.Session{TxMetadata: map[string]any{"app": "bench"}}, func(tx *neo4jsim.Tx) error {
			for j := range perTx {
				if _, err := tx.CreateNode([]string{"Item", "Bench"}, map[string]any{
					"id": int64(i*perTx + j), "name": fmt.Sprintf("item-%d", j), "price": 9.99, "active": true,
					"tags":    []any{"a", "b", "c"},
					"created": neo4jsim.DateTime{EpochSeconds: 1704067200 + int64(j), OffsetSeconds: 3600},
					"day":     neo4jsim.Date{EpochDays: 19723}, "loc": neo4jsim.Point2D{SRID: 4326, X: 1, Y: 2},
					"ttl": neo4jsim.Duration{Days: 1},
				}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	const limit = 1000
	from := start
	total := 0
	b.ResetTimer()
	for b.Loop() {
		batch, err := src.Poll(c, server.PollRequest{Database: "neo4j", From: from, Selectors: nil, Limit: limit})
		if err != nil {
			b.Fatal(err)
		}
		total += len(batch.Changes)
		if len(batch.Changes) < limit {
			from = start
		} else {
			from = batch.Changes[len(batch.Changes)-1].GetCursor().GetId()
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "changes/s")
}
