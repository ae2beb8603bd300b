package metrics_test

import (
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/metrics"
)

// BenchmarkObservedSend measures what the stream observer adds to each ChangeEvent sent
// (counter, lag histogram).
func BenchmarkObservedSend(b *testing.B) {
	obs := metrics.New().Observer()
	obs.StreamStarted("neo4j")
	commit := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		obs.ChangeSent("neo4j", commit)
	}
}
