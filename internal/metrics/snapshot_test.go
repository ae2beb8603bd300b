package metrics_test

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/metrics"
	"github.com/cdcstream/cdcstream/server"
)

// TestSnapshotMetrics: the Observer is a server.SnapshotObserver and turns its events into the
// snapshots gauge and the chunk and record counters.
func TestSnapshotMetrics(t *testing.T) {
	m := metrics.New()
	so, ok := m.Observer().(server.SnapshotObserver)
	if !ok {
		t.Fatal("the metrics Observer is no server.SnapshotObserver")
	}
	so.SnapshotActive("neo4j", 1)
	so.SnapshotChunk("neo4j", cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_NODES, 3)
	so.SnapshotChunk("neo4j", cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_NODES, 2)
	so.SnapshotChunk("neo4j", cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_RELATIONSHIPS, 4)
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			key := f.GetName()
			for _, l := range mt.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = snapshotValue(mt)
		}
	}
	for key, want := range map[string]float64{
		"cdcstream_snapshots_active,database=neo4j":                           1,
		"cdcstream_snapshot_chunks_total,database=neo4j":                      3,
		"cdcstream_snapshot_records_total,database=neo4j,phase=nodes":         5,
		"cdcstream_snapshot_records_total,database=neo4j,phase=relationships": 4,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	so.SnapshotActive("neo4j", -1)
}

func snapshotValue(m *dto.Metric) float64 {
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}
