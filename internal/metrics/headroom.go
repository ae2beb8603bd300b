package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// headroomMetrics are the retention headroom gauges (server.Observer.Headroom): how far the
// database's worst-placed stream is from falling out of Neo4j's retained change log.
type headroomMetrics struct {
	transactions *prometheus.GaugeVec
	seconds      *prometheus.GaugeVec
}

func newHeadroomMetrics() headroomMetrics {
	return headroomMetrics{
		transactions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "cdcstream", Name: "retention_headroom_transactions",
			Help: "Smallest retention headroom among the database's open streams, in transactions: the tx_id of the last change a stream sent minus that of the oldest change Neo4j retains (read every 30 s). Absent while unknown.",
		}, []string{"database"}),
		seconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "cdcstream", Name: "retention_headroom_seconds",
			Help: "Commit time of the last change sent by the stream with the smallest retention headroom minus the commit time of the oldest change Neo4j retains. Absent while unknown.",
		}, []string{"database"}),
	}
}

func (h headroomMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{h.transactions, h.seconds}
}

// Headroom sets the database's headroom gauges, or deletes them when the headroom is not
// known. A known headroom comes from a successful read of the database's change log, so the
// database exists and its series is bounded like the others (confirm).
func (o *observer) Headroom(database string, transactions int64, age time.Duration, known bool) {
	h := o.m.headroom
	if !known {
		h.transactions.DeleteLabelValues(database)
		h.seconds.DeleteLabelValues(database)
		return
	}
	o.m.confirm(database)
	h.transactions.WithLabelValues(database).Set(float64(transactions))
	h.seconds.WithLabelValues(database).Set(age.Seconds())
}
