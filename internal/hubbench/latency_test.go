package hubbench

import (
	"fmt"
	"testing"
	"time"
)

// latencyWindow is how long BenchmarkCommitLatency records latencies per iteration.
const latencyWindow = 10 * time.Second

// BenchmarkCommitLatency measures commit -> client latency under the demo workload (100
// transactions/s) with cdcstreamd (its own process) at --poll-interval 100ms, for 1 and
// 1 000 active subscriptions with distinct selectors (those of BenchmarkActiveSubscriptions),
// from NOW. A latency is the time a generated-stub consumer received a change minus Neo4j's
// txCommitTime of its transaction (millisecond precision, truncated: overstated by under
// 1ms), over every change every subscription received during the window: a subscriber that
// lags shows as the age of what it receives. With 1 000 subscriptions, those not open within
// 60s are counted (subs-opened, stream-failures) and measured without.
func BenchmarkCommitLatency(b *testing.B) {
	for _, subs := range []int{1, 1000} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			s := startSim(b)
			s.preload(b, 100)
			s.runWorkload(b, demoRate)
			d := startDaemon(b, s.srv.BoltURI(), subs, "--poll-interval", "100ms")
			lat := newLatencies()
			f := openFleet(b, d, subs, fromNow, true, true, 0, lat)
			time.Sleep(subsWarmup)
			b.ResetTimer()
			lat.start()
			time.Sleep(time.Duration(b.N) * latencyWindow)
			b.StopTimer()
			f.check(b, true)
			q, samples := lat.quantiles(0.5, 0.99, 1)
			if samples == 0 {
				b.Log("no subscription received a change during the window")
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(ms(q[0]), "p50-ms")
			b.ReportMetric(ms(q[1]), "p99-ms")
			b.ReportMetric(ms(q[2]), "max-ms")
			b.ReportMetric(float64(samples), "deliveries")
			b.ReportMetric(float64(f.live), "subs-opened")
			b.ReportMetric(float64(f.failures.Load()), "stream-failures")
		})
	}
}
