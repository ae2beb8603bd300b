package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// tailMetrics are the shared tail's collectors (server.WithSharedTail): what an operator reads
// to see why a subscriber is slow, synced subscriptions read the window, unsynced ones poll
// Neo4j themselves, fall-outs say a client reads slower than the window turns over.
type tailMetrics struct {
	windowChanges *prometheus.GaugeVec
	windowBytes   *prometheus.GaugeVec
	polls         *prometheus.CounterVec
	synced        *prometheus.GaugeVec
	joins         *prometheus.CounterVec
	fallOuts      *prometheus.CounterVec
	inFlight      prometheus.Gauge
}

func newTailMetrics() tailMetrics {
	return tailMetrics{
		windowChanges: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "cdcstream", Name: "tail_window_changes",
			Help: "Changes held in the database's shared tail window.",
		}, []string{"database"}),
		windowBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "cdcstream", Name: "tail_window_bytes",
			Help: "Encoded bytes of the changes in the database's shared tail window (bounded by --tail-window-bytes).",
		}, []string{"database"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "tail_polls_total",
			Help: "Polls of the database's shared tail (one per head move, without selectors), by result (ok, error).",
		}, []string{"database", "result"}),
		synced: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "cdcstream", Name: "subscriptions_synced",
			Help: "Subscriptions served from the shared tail window; the others (cdcstream_subscriptions_active minus these) poll Neo4j themselves.",
		}, []string{"database"}),
		joins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "tail_joins_total",
			Help: "Subscriptions that caught up with the shared tail window and are served from it.",
		}, []string{"database"}),
		fallOuts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "tail_fallouts_total",
			Help: "Synced subscriptions that fell out of the window (their client read slower than the window turned over) and poll Neo4j themselves.",
		}, []string{"database"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "cdcstream", Name: "inflight_bytes",
			Help: "Encoded bytes read by per-subscription polls and not sent yet (bounded by --max-inflight-bytes).",
		}),
	}
}

func (t tailMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{t.windowChanges, t.windowBytes, t.polls, t.synced, t.joins, t.fallOuts, t.inFlight}
}

// TailPolled counts a shared tail poll; a successful one confirms the database exists.
func (o *observer) TailPolled(database string, _ int, _ time.Duration, err error) {
	if err != nil {
		label := UnknownDatabase
		if o.m.isConfirmed(database) {
			label = database
		}
		o.m.tail.polls.WithLabelValues(label, "error").Inc()
		return
	}
	o.m.confirm(database)
	o.m.tail.polls.WithLabelValues(database, "ok").Inc()
}

// Window sets the window gauges (the tail polled the database successfully, so it exists).
func (o *observer) Window(database string, changes int, bytes int64) {
	if !o.m.isConfirmed(database) {
		return
	}
	o.m.tail.windowChanges.WithLabelValues(database).Set(float64(changes))
	o.m.tail.windowBytes.WithLabelValues(database).Set(float64(bytes))
}

// Synced moves the synced gauge (a window only serves databases the tail read).
func (o *observer) Synced(database string, delta int) {
	o.m.tail.synced.WithLabelValues(database).Add(float64(delta))
}

// Joined counts a join.
func (o *observer) Joined(database string) { o.m.tail.joins.WithLabelValues(database).Inc() }

// FellOut counts a fall-out.
func (o *observer) FellOut(database string) { o.m.tail.fallOuts.WithLabelValues(database).Inc() }

// InFlight moves the in-flight gauge.
func (o *observer) InFlight(delta int64) { o.m.tail.inFlight.Add(float64(delta)) }
