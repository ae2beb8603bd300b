package metrics_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/metrics"
)

// TestTailMetrics: the shared tail's events move its gauges and counters; a failed poll of a
// database never seen to exist counts under the unknown database, so clients naming random
// databases cannot grow the label set, and such a database gets no window series.
func TestTailMetrics(t *testing.T) {
	m := metrics.New()
	obs := m.Observer()
	obs.TailPolled("nosuchdb", 0, time.Millisecond, errors.New("database not found"))
	obs.Window("nosuchdb", 0, 0)
	obs.TailPolled("neo4j", 3, time.Millisecond, nil)
	obs.TailPolled("neo4j", 0, time.Millisecond, errors.New("unavailable"))
	obs.Window("neo4j", 3, 1500)
	obs.Synced("neo4j", 1)
	obs.Synced("neo4j", 1)
	obs.Synced("neo4j", -1)
	obs.Joined("neo4j")
	obs.FellOut("neo4j")
	obs.FellOut("neo4j")
	obs.InFlight(4096)
	obs.InFlight(-1024)
	fams := gather(t, m.Registry().Gather)
	db := map[string]string{"database": "neo4j"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"cdcstream_tail_polls_total", map[string]string{"database": "neo4j", "result": "ok"}, 1},
		{"cdcstream_tail_polls_total", map[string]string{"database": "neo4j", "result": "error"}, 1},
		{"cdcstream_tail_polls_total", map[string]string{"database": metrics.UnknownDatabase, "result": "error"}, 1},
		{"cdcstream_tail_window_changes", db, 3},
		{"cdcstream_tail_window_bytes", db, 1500},
		{"cdcstream_subscriptions_synced", db, 1},
		{"cdcstream_tail_joins_total", db, 1},
		{"cdcstream_tail_fallouts_total", db, 2},
		{"cdcstream_inflight_bytes", nil, 3072},
	} {
		if got := value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(fams["cdcstream_tail_window_bytes"].GetMetric()); n != 1 {
		t.Errorf("%d window series, want neo4j's only", n)
	}
}
