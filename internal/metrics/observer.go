package metrics

import (
	"time"

	"google.golang.org/grpc/codes"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
)

// NoReason is the reason label of streams that ended without an ErrorInfo reason (the client
// canceled, a deadline passed). Prometheus treats an empty label value as no label, so the
// series says so explicitly.
const NoReason = "none"

// Observer returns the server.Observer that feeds the stream metrics: the active gauge, the
// streams ended by code and reason (rotations show as reason STREAM_ROTATED), messages sent
// and the delivery lag. Pass it to server.WithObserver. The server hands it the database the
// stream reads, already validated and lower-cased.
func (m *Metrics) Observer() server.Observer { return &observer{m: m} }

// observer is the server.Observer behind Metrics.Observer.
type observer struct {
	server.NopObserver
	m *Metrics
}

// StreamStarted counts the stream in the active gauge.
func (o *observer) StreamStarted(database string) { o.m.streamStarted(database) }

// StreamEnded uncounts the stream and counts how it ended.
func (o *observer) StreamEnded(database string, code codes.Code, reason cdcstreamv1.ErrorReason) {
	o.m.streamEnded(database)
	label := UnknownDatabase
	if o.m.isConfirmed(database) {
		label = database
	}
	r := NoReason
	if reason != cdcstreamv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
		r = reason.String()
	}
	o.m.ended.WithLabelValues(label, code.String(), r).Inc()
}

// ChangeSent counts the change and its delivery lag; the database exists.
func (o *observer) ChangeSent(database string, commitTime time.Time) {
	o.m.confirm(database)
	o.m.changes.WithLabelValues(database).Inc()
	if !commitTime.IsZero() {
		o.m.lag.WithLabelValues(database).Observe(max(o.m.opts.now().Sub(commitTime).Seconds(), 0))
	}
}

// Refused counts a refused call by RPC and reason (cdcstream_refusals_total); both label sets
// are bounded (the service's RPCs, the ErrorReason values).
func (o *observer) Refused(rpc string, reason cdcstreamv1.ErrorReason) {
	o.m.refusals.WithLabelValues(rpc, reason.String()).Inc()
}

// CheckpointSent counts the checkpoint; the database exists.
func (o *observer) CheckpointSent(database string) {
	o.m.confirm(database)
	o.m.checkpoints.WithLabelValues(database).Inc()
}

// SnapshotActive implements server.SnapshotObserver: the snapshots gauge. The server reports
// it only once Neo4j answered for the database, so the database exists.
func (o *observer) SnapshotActive(database string, delta int) {
	o.m.confirm(database)
	o.m.snapshotsActive.WithLabelValues(database).Add(float64(delta))
}

// SnapshotChunk implements server.SnapshotObserver: the snapshot progress counters.
func (o *observer) SnapshotChunk(database string, phase cdcstreamv1.SnapshotPhase, records int) {
	o.m.confirm(database)
	o.m.snapshotChunks.WithLabelValues(database).Inc()
	o.m.snapshotRecords.WithLabelValues(database, snapshotPhaseLabel(phase)).Add(float64(records))
}

// snapshotPhaseLabel is the phase label: "nodes" or "relationships".
func snapshotPhaseLabel(p cdcstreamv1.SnapshotPhase) string {
	if p == cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_RELATIONSHIPS {
		return "relationships"
	}
	return "nodes"
}

var _ server.SnapshotObserver = (*observer)(nil)
