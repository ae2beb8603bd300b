package hubbench

import (
	"context"
	"flag"
	"slices"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/server"
)

// pairs is how many direct-then-service pairs one iteration of BenchmarkOneStream runs, so
// that a run with -benchtime 1x (as make bench-hub runs every benchmark) still alternates.
var pairs = flag.Int("hubbench.pairs", 1, "direct-then-service pairs per BenchmarkOneStream iteration")

// oneStreamLog is the size of BenchmarkOneStream's log in changes.
const oneStreamLog = 10_000

// oneStreamPoll is the poll interval of both readers. Neither waits while it is behind: the
// interval only matters once a reader caught up, which a benchmark iteration never reaches.
const oneStreamPoll = 100 * time.Millisecond

// oneStream is the setup shared by BenchmarkOneStream and its test: a preloaded simulator, the
// direct loop's driver and the in-process service, both reading the same simulator over TCP.
type oneStream struct {
	n       int
	direct  directLoop
	service func(ctx context.Context, keep bool) ([]string, error)
}

func newOneStream(tb testing.TB, changes int) *oneStream {
	tb.Helper()
	s := startSim(tb)
	n := s.preload(tb, changes)
	cli := startInProcess(tb, s.srv.BoltURI(), server.WithPollInterval(oneStreamPoll))
	return &oneStream{
		n:      n,
		direct: directLoop{driver: openDriver(tb, s.srv.BoltURI()), database: simDatabase, pollInterval: oneStreamPoll},
		service: func(ctx context.Context, keep bool) ([]string, error) {
			return readChanges(ctx, cli, earliest(), n, keep)
		},
	}
}

// TestOneStreamReadersSeeTheSameLog proves the two readers BenchmarkOneStream compares read
// the same thing: every change of the log, once, in the same order.
func TestOneStreamReadersSeeTheSameLog(t *testing.T) {
	o := newOneStream(t, 300)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	direct, err := o.direct.readFromEarliest(ctx, o.n, true)
	if err != nil {
		t.Fatal(err)
	}
	service, err := o.service(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(direct) != o.n || !slices.Equal(direct, service) {
		t.Fatalf("the direct loop read %d changes, the service %d, of %d; equal: %v", len(direct), len(service), o.n, slices.Equal(direct, service))
	}
	if len(slices.Compact(slices.Clone(direct))) != o.n {
		t.Fatal("the direct loop read a change twice")
	}
}

// BenchmarkOneStream reads one stream from EARLIEST on a 10 000-change log, alternately with
// the direct loop (Neo4j's documented algorithm in Go, same driver) and through the service
// (server + neo4jcdc + gRPC + a generated-stub consumer): one iteration is -hubbench.pairs
// pairs of one direct read followed by one service read. It reports the changes/s of each,
// summed over the run, and service/direct; each pair is logged.
func BenchmarkOneStream(b *testing.B) {
	o := newOneStream(b, oneStreamLog)
	ctx := context.Background()
	// One untimed read each: connections pooled, code paths warm.
	if _, err := o.direct.readFromEarliest(ctx, o.n, false); err != nil {
		b.Fatal(err)
	}
	if _, err := o.service(ctx, false); err != nil {
		b.Fatal(err)
	}
	var direct, service time.Duration
	b.ResetTimer()
	for i := range b.N * *pairs {
		t0 := time.Now()
		if _, err := o.direct.readFromEarliest(ctx, o.n, false); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := o.service(ctx, false); err != nil {
			b.Fatal(err)
		}
		d, s := t1.Sub(t0), time.Since(t1)
		direct += d
		service += s
		b.Logf("pair %d of %d: direct %.0f changes/s, service %.0f changes/s, service/direct %.2f",
			i+1, b.N**pairs, float64(o.n)/d.Seconds(), float64(o.n)/s.Seconds(), d.Seconds()/s.Seconds())
	}
	b.StopTimer()
	total := float64(o.n * b.N * *pairs)
	b.ReportMetric(total/direct.Seconds(), "direct-changes/s")
	b.ReportMetric(total/service.Seconds(), "service-changes/s")
	b.ReportMetric(direct.Seconds()/service.Seconds(), "service/direct")
	b.ReportMetric(float64(o.n), "log-changes")
}
