package hubbench

import (
	"fmt"
	"sync"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// BenchmarkFanOut's log size in changes, and how long it lets the subscribers read: a run
// ends when every subscriber read the whole log or when the window passed.
const (
	fanOutLog    = 100_000
	fanOutWindow = 20 * time.Second
)

// fanOutOne is the delivered changes/s of BenchmarkFanOut/subs=1 in this invocation.
var fanOutOne struct {
	mu   sync.Mutex // guards rate
	rate float64
}

// BenchmarkFanOut measures changes/s delivered by cdcstreamd (its own process, default flags)
// to 1 and to 100 full-stream subscribers reading from EARLIEST a 100 000-change log,
// counted from the first Subscribe call until every subscriber read the whole log or the
// window (20s per iteration) passed. With subs=1 run in the same invocation, subs=100 also
// reports its rate ÷ subs=1's.
func BenchmarkFanOut(b *testing.B) {
	s := startSim(b)
	n := s.preload(b, fanOutLog)
	for _, subs := range []int{1, 100} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			d := startDaemon(b, s.srv.BoltURI(), subs)
			b.ResetTimer()
			f := openFleet(b, d, subs, func(int) *cdcstreamv1.SubscribeRequest { return earliest() }, false, false, int64(n), nil)
			for end := time.Now().Add(time.Duration(b.N) * fanOutWindow); time.Now().Before(end) && f.done.Load() < int64(subs); {
				time.Sleep(20 * time.Millisecond)
			}
			b.StopTimer()
			delivered := f.total.Load()
			m := d.metrics(b, "cdcstream_neo4j_statements_total", "cdcstream_poll_duration_seconds_count", "cdcstream_poll_duration_seconds_sum", "cdcstream_source_errors_total")
			if errs := firstErrors(d.d.Log.String(), 5); errs != "" {
				b.Logf("cdcstreamd's first error lines:\n%s", errs)
			}
			f.check(b, false)
			rate := float64(delivered) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "delivered-changes/s")
			b.ReportMetric(rate/float64(subs), "changes/s/sub")
			b.ReportMetric(float64(f.done.Load()), "subs-done")
			b.ReportMetric(m["cdcstream_neo4j_statements_total"]/b.Elapsed().Seconds(), "daemon-statements/s")
			b.ReportMetric(m["cdcstream_source_errors_total"], "source-errors")
			if polls := m["cdcstream_poll_duration_seconds_count"]; polls > 0 {
				b.ReportMetric(m["cdcstream_poll_duration_seconds_sum"]/polls*1000, "ms/poll")
			}
			b.ReportMetric(float64(n), "log-changes")
			fanOutOne.mu.Lock()
			defer fanOutOne.mu.Unlock()
			switch {
			case subs == 1:
				fanOutOne.rate = rate
			case fanOutOne.rate > 0:
				b.ReportMetric(rate/fanOutOne.rate, "x-subs=1")
			}
		})
	}
}
