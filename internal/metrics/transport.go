package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Causes of cdcstream_requests_rejected_total: why the transport guard of cdcstreamd answered
// a call before the service saw it.
const (
	// CauseMalformedRequest: the request message could not be decoded (invalid wire data,
	// invalid UTF-8, nesting too deep, too large, none or two for a server-streaming call).
	CauseMalformedRequest = "malformed_request"
	// CauseFirstMessageTimeout: the request message did not arrive within the first-message
	// timeout.
	CauseFirstMessageTimeout = "first_message_timeout"
)

// Transport holds the collectors of the connection and request guards below the service:
//
//	cdcstream_connections_accepted_total       counter: TCP connections accepted within the cap
//	cdcstream_connections_open                 gauge: accepted TCP connections not yet closed
//	cdcstream_connections_rejected_total       counter: connections closed at accept because
//	                                           the connection cap was reached
//	cdcstream_requests_rejected_total{cause}   counter: calls answered INVALID_ARGUMENT /
//	                                           INVALID_REQUEST by the guard (CauseMalformedRequest,
//	                                           CauseFirstMessageTimeout)
//	cdcstream_handler_panics_total             counter: panics recovered in a handler (answered
//	                                           INTERNAL)
//
// Every label value is one of the constants above, so the label set is bounded. Its methods
// are safe for concurrent use.
type Transport struct {
	accepted prometheus.Counter
	open     prometheus.Gauge
	rejected prometheus.Counter
	requests *prometheus.CounterVec
	panics   prometheus.Counter
}

// NewTransport creates the transport collectors and registers them on reg (Metrics.Registry
// for the process's /metrics). The request series start at zero for every cause.
func NewTransport(reg prometheus.Registerer) *Transport {
	t := &Transport{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "connections_accepted_total",
			Help: "TCP connections of the gRPC listener accepted within --max-connections.",
		}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "cdcstream", Name: "connections_open",
			Help: "Accepted TCP connections of the gRPC listener not yet closed (bounded by --max-connections).",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "connections_rejected_total",
			Help: "TCP connections closed at accept because --max-connections were open.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "requests_rejected_total",
			Help: "Calls answered INVALID_ARGUMENT/INVALID_REQUEST before the service saw them, by cause (malformed_request, first_message_timeout).",
		}, []string{"cause"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "handler_panics_total",
			Help: "Panics recovered in a gRPC handler; each call was answered INTERNAL.",
		}),
	}
	for _, c := range []string{CauseMalformedRequest, CauseFirstMessageTimeout} {
		t.requests.WithLabelValues(c)
	}
	reg.MustRegister(t.accepted, t.open, t.rejected, t.requests, t.panics)
	return t
}

// ConnectionOpened counts an accepted connection, and counts it as open.
func (t *Transport) ConnectionOpened() {
	t.accepted.Inc()
	t.open.Inc()
}

// ConnectionClosed uncounts an open connection.
func (t *Transport) ConnectionClosed() { t.open.Dec() }

// ConnectionRejected counts a connection closed at accept.
func (t *Transport) ConnectionRejected() { t.rejected.Inc() }

// RequestRejected counts a call the guard answered, by cause (one of the Cause constants).
func (t *Transport) RequestRejected(cause string) { t.requests.WithLabelValues(cause).Inc() }

// Panic counts a recovered panic.
func (t *Transport) Panic() { t.panics.Inc() }
