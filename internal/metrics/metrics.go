package metrics

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
)

// Option configures Metrics.
type Option func(*options)

// options are the settings of New.
type options struct {
	now func() time.Time
}

// WithNow sets the clock the delivery lag is measured with. Default time.Now.
func WithNow(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// Metrics holds cdcstream's collectors and their registry. It is safe for concurrent use.
type Metrics struct {
	opts options
	reg  *prometheus.Registry
	grpc *grpcprom.ServerMetrics

	active       *prometheus.GaugeVec
	changes      *prometheus.CounterVec
	checkpoints  *prometheus.CounterVec
	lag          *prometheus.HistogramVec
	ended        *prometheus.CounterVec
	pollDuration *prometheus.HistogramVec
	statements   *prometheus.CounterVec
	sourceErrors *prometheus.CounterVec
	refusals     *prometheus.CounterVec
	tail         tailMetrics
	headroom     headroomMetrics
	// The snapshot progress metrics (server.SnapshotObserver).
	snapshotsActive *prometheus.GaugeVec
	snapshotChunks  *prometheus.CounterVec
	snapshotRecords *prometheus.CounterVec

	// mu guards open and confirmed, which keep the active gauge's label set bounded.
	mu sync.Mutex
	// open counts the streams counted in the active gauge, per database label.
	open map[string]int
	// confirmed holds the databases a message was sent for (so they exist); the gauge series
	// of other databases is deleted when their last stream ends, so clients naming random
	// databases cannot grow the label set.
	confirmed map[string]bool
}

// New creates the metrics in a new registry (with the Go and process collectors).
func New(opts ...Option) *Metrics {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	m := &Metrics{
		opts:      o,
		open:      map[string]int{},
		confirmed: map[string]bool{},
		reg:       prometheus.NewRegistry(),
		grpc: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets([]float64{.001, .01, .1, 1, 10, 60, 600, 3600, 6 * 3600, 24 * 3600}))),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "cdcstream", Name: "subscriptions_active",
			Help: "Open Subscribe streams.",
		}, []string{"database"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "changes_sent_total",
			Help: "ChangeEvents sent to subscribers.",
		}, []string{"database"}),
		checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "checkpoints_sent_total",
			Help: "Checkpoints sent to subscribers.",
		}, []string{"database"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "cdcstream", Name: "delivery_lag_seconds",
			Help:    "Time from a change's commit in Neo4j (tx_commit_time) to its send to a subscriber.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"database"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "streams_ended_total",
			Help: "Subscribe streams ended, by status code and ErrorInfo reason (STREAM_ROTATED: rotated by --max-stream-age; SERVER_SHUTTING_DOWN: shutdown; none: no reason, e.g. the client canceled).",
		}, []string{"database", "code", "reason"}),
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "cdcstream", Name: "poll_duration_seconds",
			Help:    "Duration of one CDC poll (one read transaction: db.cdc.current() and db.cdc.query()).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"database"}),
		statements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "neo4j_statements_total",
			Help: "Cypher statements issued to Neo4j (a poll is 2, current and earliest are 1 each).",
		}, []string{"database"}),
		sourceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "source_errors_total",
			Help: "Failed Neo4j calls by operation (poll, current, earliest) and reason.",
		}, []string{"database", "operation", "reason"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "refusals_total",
			Help: "Calls refused before any Neo4j work (invalid request, authentication, authorisation, limits, shutdown), by RPC and ErrorInfo reason.",
		}, []string{"rpc", "reason"}),
		tail:     newTailMetrics(),
		headroom: newHeadroomMetrics(),
		snapshotsActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "cdcstream", Name: "snapshots_active",
			Help: "Subscriptions taking a snapshot (SubscribeRequest.snapshot).",
		}, []string{"database"}),
		snapshotChunks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "snapshot_chunks_total",
			Help: "Snapshot chunks read, settled against the change log and sent.",
		}, []string{"database"}),
		snapshotRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cdcstream", Name: "snapshot_records_total",
			Help: "SnapshotRecords sent, by phase (nodes, relationships).",
		}, []string{"database", "phase"}),
	}
	m.reg.MustRegister(m.tail.collectors()...)
	m.reg.MustRegister(m.headroom.collectors()...)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.grpc, m.active, m.changes, m.checkpoints, m.lag, m.ended, m.pollDuration, m.statements, m.sourceErrors, m.refusals,
		m.snapshotsActive, m.snapshotChunks, m.snapshotRecords,
	)
	return m
}

// Registry is the registry holding every metric; more collectors may be registered on it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// UnaryInterceptor records gRPC server metrics of unary calls.
func (m *Metrics) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return m.grpc.UnaryServerInterceptor()
}

// GRPCStreamInterceptor records gRPC server metrics of streams. Put it first in the chain so
// that refused calls are counted too.
func (m *Metrics) GRPCStreamInterceptor() grpc.StreamServerInterceptor {
	return m.grpc.StreamServerInterceptor()
}

// InitializeGRPC pre-creates the gRPC series (at zero) of every method registered on s; call
// it after registering the services.
func (m *Metrics) InitializeGRPC(s reflection.ServiceInfoProvider) {
	m.grpc.InitializeMetrics(s)
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ServeOption configures Serve.
type ServeOption func(*serveOptions)

// serveOptions are the settings of Serve.
type serveOptions struct {
	wrap     func(http.Handler) http.Handler
	errorLog *log.Logger
}

// WithHandlerWrap wraps the /metrics handler (for example to require a bearer token).
func WithHandlerWrap(wrap func(http.Handler) http.Handler) ServeOption {
	return func(o *serveOptions) { o.wrap = wrap }
}

// WithErrorLog sets the HTTP server's error log (failed TLS handshakes, malformed requests).
// Default: the standard logger.
func WithErrorLog(l *log.Logger) ServeOption {
	return func(o *serveOptions) { o.errorLog = l }
}

// Serve serves /metrics on lis (which may be a TLS listener) until ctx is done, then shuts
// the HTTP server down (waiting at most 5s for scrapes in flight). It returns nil after a
// shutdown caused by ctx.
func (m *Metrics) Serve(ctx context.Context, lis net.Listener, opts ...ServeOption) error {
	var o serveOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	h := m.Handler()
	if o.wrap != nil {
		h = o.wrap(h)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          o.errorLog,
	}
	// served carries Serve's result.
	served := make(chan error, 1)
	go func() { served <- hs.Serve(lis) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// streamStarted counts a stream of database in the active gauge.
func (m *Metrics) streamStarted(database string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.open[database]++
	m.active.WithLabelValues(database).Inc()
}

// streamEnded uncounts a stream; the series of a database never confirmed goes away with
// its last stream.
func (m *Metrics) streamEnded(database string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.open[database]--
	m.active.WithLabelValues(database).Dec()
	if m.open[database] <= 0 {
		delete(m.open, database)
		if !m.confirmed[database] {
			m.active.DeleteLabelValues(database)
		}
	}
}

// isConfirmed reports whether database is known to exist.
func (m *Metrics) isConfirmed(database string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.confirmed[database]
}

// confirm records that database exists (a message was sent for it, or Neo4j answered for it).
func (m *Metrics) confirm(database string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.confirmed[database] = true
}
