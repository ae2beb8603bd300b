package metrics

import (
	"context"
	"errors"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
)

// Error reasons of cdcstream_source_errors_total.
const (
	ReasonCursorExpired    = "CURSOR_EXPIRED"
	ReasonInvalidCursor    = "INVALID_CURSOR"
	ReasonCDCDisabled      = "CDC_DISABLED"
	ReasonDatabaseNotFound = "DATABASE_NOT_FOUND"
	ReasonNeo4jAuth        = "NEO4J_AUTH"
	ReasonNeo4jUnavailable = "NEO4J_UNAVAILABLE"
	ReasonFutureCursor     = "FUTURE_CURSOR"
	ReasonInvalidSelector  = "INVALID_SELECTOR"
	ReasonInternal         = "INTERNAL"
)

// reasons maps the server.Err* sentinels to reasons, checked in order.
var reasons = []struct {
	err    error
	reason string
}{
	{server.ErrCursorExpired, ReasonCursorExpired},
	{server.ErrInvalidCursor, ReasonInvalidCursor},
	{server.ErrCDCDisabled, ReasonCDCDisabled},
	{server.ErrDatabaseNotFound, ReasonDatabaseNotFound},
	{server.ErrNeo4jAuth, ReasonNeo4jAuth},
	{server.ErrNeo4jUnavailable, ReasonNeo4jUnavailable},
	{server.ErrFutureCursor, ReasonFutureCursor},
	{server.ErrInvalidSelector, ReasonInvalidSelector},
}

// ErrorReason classifies a Source error by the server.Err* sentinel it wraps; any other error
// is INTERNAL.
func ErrorReason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ReasonInternal
}

// InstrumentSource returns src observed by m: poll durations, statements issued and errors.
// Ping is passed through unobserved.
func InstrumentSource(src server.Source, m *Metrics) server.Source {
	return &instrumentedSource{src: src, m: m}
}

// instrumentedSource is the decorator behind InstrumentSource.
type instrumentedSource struct {
	src server.Source
	m   *Metrics
}

func (s *instrumentedSource) Poll(ctx context.Context, database, from string, selectors []*cdcstreamv1.Selector, limit int) (server.Batch, error) {
	start := time.Now()
	b, err := s.src.Poll(ctx, database, from, selectors, limit)
	s.m.pollDuration.WithLabelValues(database).Observe(time.Since(start).Seconds())
	s.m.statements.WithLabelValues(database).Add(2)
	s.observeError(ctx, database, "poll", err)
	return b, err
}

func (s *instrumentedSource) Current(ctx context.Context, database string) (string, error) {
	id, err := s.src.Current(ctx, database)
	s.m.statements.WithLabelValues(database).Inc()
	s.observeError(ctx, database, "current", err)
	return id, err
}

func (s *instrumentedSource) Earliest(ctx context.Context, database string) (string, error) {
	id, err := s.src.Earliest(ctx, database)
	s.m.statements.WithLabelValues(database).Inc()
	s.observeError(ctx, database, "earliest", err)
	return id, err
}

func (s *instrumentedSource) Ping(ctx context.Context) error { return s.src.Ping(ctx) }

// observeError counts err unless it is nil or the caller cancelled the call.
func (s *instrumentedSource) observeError(ctx context.Context, database, op string, err error) {
	if err == nil || (errors.Is(err, context.Canceled) && ctx.Err() != nil) {
		return
	}
	s.m.sourceErrors.WithLabelValues(database, op, ErrorReason(err)).Inc()
}
