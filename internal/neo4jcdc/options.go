package neo4jcdc

import (
	"io"
	"log/slog"
	"time"
)

// AccessMode chooses which cluster members answer the CDC procedures.
type AccessMode int

const (
	// AccessRead (the default) runs every call in a read transaction, routed to any member
	// that serves reads (primaries or secondaries). Events trail the leader by the
	// replication lag; a cursor from a fresher member may get ErrFutureCursor, which the
	// caller retries.
	AccessRead AccessMode = iota
	// AccessWrite pins every call to the leader with a write transaction, like the Neo4j
	// Kafka connector's neo4j.cdc.use-leader=true: freshest events, at the cost of loading
	// the leader.
	AccessWrite
)

// String names the mode.
func (m AccessMode) String() string {
	switch m {
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	default:
		return "unknown"
	}
}

// Option configures a Source.
type Option func(*options)

// options holds a Source's configuration.
type options struct {
	accessMode   AccessMode
	txTimeout    time.Duration
	logger       *slog.Logger
	fetchSize    int
	maxRetryTime time.Duration
}

// defaultOptions are the values New and Open start from.
func defaultOptions() options {
	return options{
		accessMode: AccessRead,
		logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// WithAccessMode sets where the procedures run (AccessRead by default).
func WithAccessMode(m AccessMode) Option {
	return func(o *options) { o.accessMode = m }
}

// WithTxTimeout bounds every transaction on the Neo4j side (the driver's transaction
// timeout); zero (the default) uses the server's db.transaction.timeout.
func WithTxTimeout(d time.Duration) Option {
	return func(o *options) { o.txTimeout = d }
}

// WithLogger sets the logger for poll diagnostics (debug) and connection problems (warn);
// by default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithFetchSize sets how many records the driver pulls per round trip while streaming a
// poll's rows; zero (the default) keeps the driver's default (1000), -1 fetches all at once.
func WithFetchSize(n int) Option {
	return func(o *options) { o.fetchSize = n }
}

// WithMaxRetryTime bounds how long the driver retries a transaction that failed transiently
// (its MaxTransactionRetryTime, default 30s) before Poll, Current or Earliest give up with
// ErrNeo4jUnavailable or ErrFutureCursor. It applies only to drivers created by Open; a
// driver passed to New keeps its own configuration.
func WithMaxRetryTime(d time.Duration) Option {
	return func(o *options) { o.maxRetryTime = d }
}
