package hubbench

import (
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// interests are the selectors of typical consumers of the demo workload, each matching a
// share of its changes: the full stream, one label, one relationship type, one operation, a
// property of one label.
var interests = []*cdcstreamv1.Selector{
	{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{}}},
	{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: []string{"Person"}}}},
	{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: []string{"Company"}}}},
	{Kind: &cdcstreamv1.Selector_Relationship{Relationship: &cdcstreamv1.RelationshipSelector{Type: "KNOWS"}}},
	{Kind: &cdcstreamv1.Selector_Relationship{Relationship: &cdcstreamv1.RelationshipSelector{Type: "WORKS_AT"}}},
	{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Operation: cdcstreamv1.Operation_OPERATION_CREATE}}},
	{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{Operation: cdcstreamv1.Operation_OPERATION_DELETE}}},
	{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: []string{"Person"}, ChangesTo: []string{"score"}}}},
}

// distinctSelectors returns subscription i's selectors: interest i mod len(interests), and a
// node selector naming an element id no node has, i in it, so that no two subscriptions have
// the same selectors (a hub must not be measured on deduplicated requests) while each still
// receives what its interest matches.
func distinctSelectors(i int) []*cdcstreamv1.Selector {
	return []*cdcstreamv1.Selector{
		interests[i%len(interests)],
		{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{ElementId: fmt.Sprintf("4:hubbench:%d", i)}}},
	}
}

// fromNow is a subscription from NOW with subscription i's distinct selectors.
func fromNow(i int) *cdcstreamv1.SubscribeRequest {
	return &cdcstreamv1.SubscribeRequest{
		Database:  simDatabase,
		Start:     &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_NOW},
		Selectors: distinctSelectors(i),
	}
}

// Measurement windows of BenchmarkActiveSubscriptions: the subscriptions settle for warmup,
// then statements and memory are measured over window per iteration.
const (
	subsWarmup = 5 * time.Second
	subsWindow = 10 * time.Second
)

// maxRSS bounds cdcstreamd's RSS during a measurement window: on a shared machine a server
// whose memory grows with its subscriptions (4-5 MiB each before the shared tail) must not
// take the machine down. A window is cut short when RSS passes it, which the run logs.
var maxRSS = flag.Int("hubbench.max-rss-mib", 4096, "cut a BenchmarkActiveSubscriptions window short when cdcstreamd's RSS passes this many MiB")

// watchRSS samples d's RSS every 250ms for up to window and returns the peak and whether it
// stopped early because RSS passed maxRSS.
func watchRSS(tb testing.TB, d *daemon, window time.Duration) (peak int64, cut bool) {
	end := time.Now().Add(window)
	for time.Now().Before(end) {
		time.Sleep(min(250*time.Millisecond, time.Until(end)))
		rss := d.rssBytes(tb)
		peak = max(peak, rss)
		if rss > int64(*maxRSS)<<20 {
			return peak, true
		}
	}
	return peak, false
}

// baselineFigures are the figures of BenchmarkActiveSubscriptions/tail=X/subs=1, for the
// ratios of the larger runs of the same mode in the same invocation.
type baselineFigures struct {
	statements float64 // Neo4j statements/s
	rss        int64   // bytes
}

// baselines holds the subs=1 figures by shared-tail mode ("on", "off").
var baselines struct {
	mu sync.Mutex // guards m
	m  map[string]baselineFigures
}

// BenchmarkActiveSubscriptions measures what active subscriptions with distinct selectors
// cost Neo4j and cdcstreamd under the demo workload (100 transactions/s): Neo4j statements/s
// (every Bolt RUN the simulator received, and cdcstream_neo4j_statements_total from
// cdcstreamd's /metrics), cdcstreamd's RSS (VmRSS) and heap in use (go_memstats_heap_inuse_bytes)
// at the end of the window (and RSS's peak during it), and changes delivered/s. After subs=1 has run in the same
// invocation, the larger runs also report statements ÷ subs=1 and MiB per subscription
// beyond subs=1 (per subscription opened). cdcstreamd runs with its default flags (poll interval
// 500ms), with the shared tail (tail=on, the default) and without it (tail=off,
// --shared-tail=false: every subscription polls Neo4j with its selectors), side by side.
func BenchmarkActiveSubscriptions(b *testing.B) {
	for _, mode := range []string{"on", "off"} {
		b.Run("tail="+mode, func(b *testing.B) { activeSubscriptions(b, mode) })
	}
}

func activeSubscriptions(b *testing.B, mode string) {
	for _, subs := range []int{1, 200, 2000} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			s := startSim(b)
			s.preload(b, 100) // a history, as --demo-preload gives
			s.runWorkload(b, demoRate)
			d := startDaemon(b, s.srv.BoltURI(), subs, "--shared-tail="+map[string]string{"on": "true", "off": "false"}[mode])
			f := openFleet(b, d, subs, fromNow, true, true, 0, nil)
			// Settle, watching RSS already: past maxRSS the window below ends at its first sample.
			if _, cut := watchRSS(b, d, subsWarmup); cut {
				b.Logf("cdcstreamd's RSS passed %d MiB while the subscriptions settled", *maxRSS)
			}
			f.check(b, true)
			metricNames := []string{"cdcstream_neo4j_statements_total"}
			st0, m0, ch0 := s.statements(), d.metrics(b, metricNames...), f.total.Load()
			b.ResetTimer()
			peak, cut := watchRSS(b, d, time.Duration(b.N)*subsWindow)
			b.StopTimer()
			if cut {
				b.Logf("window cut short after %v: cdcstreamd's RSS passed %d MiB (-hubbench.max-rss-mib)", b.Elapsed().Round(time.Millisecond), *maxRSS)
			}
			secs := b.Elapsed().Seconds()
			st1, m1, ch1 := s.statements(), d.metrics(b, append(metricNames, "go_memstats_heap_inuse_bytes")...), f.total.Load()
			rss := d.rssBytes(b)
			peak = max(peak, rss)
			f.check(b, true)
			statements := float64(st1-st0) / secs
			b.ReportMetric(statements, "neo4j-statements/s")
			b.ReportMetric((m1[metricNames[0]]-m0[metricNames[0]])/secs, "daemon-statements/s")
			b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
			b.ReportMetric(float64(peak)/(1<<20), "rss-peak-MiB")
			b.ReportMetric(m1["go_memstats_heap_inuse_bytes"]/(1<<20), "heap-inuse-MiB")
			b.ReportMetric(float64(ch1-ch0)/secs, "changes/s")
			b.ReportMetric(float64(f.active()), "subs-with-changes")
			b.ReportMetric(float64(f.live), "subs-opened")
			b.ReportMetric(float64(f.failures.Load()), "stream-failures")
			if err := f.failed.Load(); err != nil {
				b.Logf("%d streams failed or were refused; first: %v", f.failures.Load(), *err)
				if broken := f.firstBroken.Load(); broken != nil {
					b.Logf("first error of a stream that had opened: %v", *broken)
				}
				b.Logf("cdcstreamd's first error lines:\n%s", firstErrors(d.d.Log.String(), 5))
			}
			baselines.mu.Lock()
			defer baselines.mu.Unlock()
			if baselines.m == nil {
				baselines.m = map[string]baselineFigures{}
			}
			base, ok := baselines.m[mode]
			switch {
			case subs == 1:
				baselines.m[mode] = baselineFigures{statements: statements, rss: rss}
			case ok:
				b.ReportMetric(statements/base.statements, "statements-x-subs=1")
				b.ReportMetric(float64(rss-base.rss)/float64(max(1, f.live-1))/(1<<10), "KiB/sub")
			default:
				b.Log("run subs=1 in the same invocation for the ratios to one subscription")
			}
		})
	}
}

// firstErrors returns the first n lines of a daemon log at level ERROR or WARN.
func firstErrors(log string, n int) string {
	var out []string
	for line := range strings.SplitSeq(log, "\n") {
		if len(out) < n && (strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN")) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
