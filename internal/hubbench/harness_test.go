package hubbench

import (
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// TestFleetReadsEveryChangeThroughTheDaemon proves the harness of the daemon benchmarks: a
// fleet from EARLIEST through a cdcstreamd process receives every change of the log, each
// subscriber all of them; the daemon's /metrics and RSS read as non-zero; the simulator
// counts the statements the daemon sent.
func TestFleetReadsEveryChangeThroughTheDaemon(t *testing.T) {
	s := startSim(t)
	n := s.preload(t, 200)
	d := startDaemon(t, s.srv.BoltURI(), 3)
	f := openFleet(t, d, 3, func(int) *cdcstreamv1.SubscribeRequest { return earliest() }, false, false, int64(n), nil)
	for end := time.Now().Add(60 * time.Second); f.done.Load() < 3; {
		if time.Now().After(end) {
			t.Fatalf("after 60s the fleet read %d of %d changes", f.total.Load(), 3*n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.check(t, false)
	for i := range f.perSub {
		if got := f.perSub[i].Load(); got != int64(n) {
			t.Errorf("subscriber %d read %d changes of %d", i, got, n)
		}
	}
	m := d.metrics(t, "cdcstream_neo4j_statements_total")
	if m["cdcstream_neo4j_statements_total"] < 3 || s.statements() < 3 {
		t.Errorf("statements: daemon counted %v, simulator %d; want at least a poll each", m["cdcstream_neo4j_statements_total"], s.statements())
	}
	if rss := d.rssBytes(t); rss < 1<<20 {
		t.Errorf("RSS %d bytes: not a running Go server's", rss)
	}
}

// TestLatencyQuantiles checks the quantile arithmetic the latency benchmark reports.
func TestLatencyQuantiles(t *testing.T) {
	l := newLatencies()
	for i := 100; i >= 1; i-- {
		l.d = append(l.d, time.Duration(i)*time.Millisecond)
	}
	q, n := l.quantiles(0.5, 0.99, 1)
	if n != 100 || q[0] != 51*time.Millisecond || q[1] != 100*time.Millisecond || q[2] != 100*time.Millisecond {
		t.Fatalf("quantiles %v of %d samples", q, n)
	}
}
