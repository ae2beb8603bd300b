package metrics_test

import (
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/metrics"
)

// TestHeadroomGauges: Observer.Headroom sets each database's two gauges, and an unknown
// headroom deletes that database's series only.
func TestHeadroomGauges(t *testing.T) {
	m := metrics.New()
	obs := m.Observer()
	obs.Headroom("neo4j", 42, 90*time.Second, true)
	obs.Headroom("orders", 7, 3*time.Second, true)
	obs.Headroom("neo4j", 40, 80*time.Second, true) // a newer value replaces the old one
	fams := gather(t, m.Registry().Gather)
	for _, c := range []struct {
		name, db string
		want     float64
	}{
		{"cdcstream_retention_headroom_transactions", "neo4j", 40},
		{"cdcstream_retention_headroom_seconds", "neo4j", 80},
		{"cdcstream_retention_headroom_transactions", "orders", 7},
		{"cdcstream_retention_headroom_seconds", "orders", 3},
	} {
		if got := value(fams, c.name, map[string]string{"database": c.db}); got != c.want {
			t.Errorf("%s{database=%q} = %v, want %v", c.name, c.db, got, c.want)
		}
	}

	obs.Headroom("neo4j", 0, 0, false)
	fams = gather(t, m.Registry().Gather)
	for _, name := range []string{"cdcstream_retention_headroom_transactions", "cdcstream_retention_headroom_seconds"} {
		series := fams[name].GetMetric()
		if len(series) != 1 || series[0].GetLabel()[0].GetValue() != "orders" {
			t.Errorf("%s after neo4j's headroom became unknown: %v, want only orders", name, series)
		}
	}
}
