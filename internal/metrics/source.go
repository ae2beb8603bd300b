package metrics

import (
	"context"
	"errors"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
)

// UnknownDatabase is the database label of Neo4j calls for a database not known to exist
// (Neo4j answered DATABASE_NOT_FOUND, or could not be asked, and never answered for it), so
// that clients naming random databases cannot grow the label set. Neo4j database names cannot
// contain "_", so it never collides with a real name.
const UnknownDatabase = "_unknown"

// existing are the reasons that show the database exists.
var existing = map[cdcstreamv1.ErrorReason]bool{
	cdcstreamv1.ErrorReason_CURSOR_EXPIRED: true, cdcstreamv1.ErrorReason_INVALID_CURSOR: true,
	cdcstreamv1.ErrorReason_CDC_DISABLED: true, cdcstreamv1.ErrorReason_FUTURE_CURSOR: true,
	cdcstreamv1.ErrorReason_INVALID_SELECTOR: true,
}

// InstrumentSource returns src observed by m: poll durations, statements issued and errors.
// Ping is passed through unobserved. When src is also a server.Snapshotter, so is the result,
// and its snapshot reads count too (operation "snapshot", 2 statements each: the key
// constraints and the chunk).
func InstrumentSource(src server.Source, m *Metrics) server.Source {
	is := &instrumentedSource{src: src, m: m}
	if snap, ok := src.(server.Snapshotter); ok {
		return &instrumentedSnapshotter{instrumentedSource: is, snap: snap}
	}
	return is
}

// instrumentedSnapshotter is InstrumentSource's decorator for a Source that takes snapshots.
type instrumentedSnapshotter struct {
	*instrumentedSource
	snap server.Snapshotter
}

// ReadSnapshot implements server.Snapshotter.
func (s *instrumentedSnapshotter) ReadSnapshot(ctx context.Context, req server.SnapshotRequest) (server.SnapshotChunk, error) {
	c, err := s.snap.ReadSnapshot(ctx, req)
	label := s.label(req.Database, err)
	s.m.statements.WithLabelValues(label).Add(2)
	s.observeError(ctx, label, "snapshot", err)
	return c, err
}

// instrumentedSource is the decorator behind InstrumentSource.
type instrumentedSource struct {
	src server.Source
	m   *Metrics
}

func (s *instrumentedSource) Poll(ctx context.Context, req server.PollRequest) (server.Batch, error) {
	start := time.Now()
	b, err := s.src.Poll(ctx, req)
	took := time.Since(start)
	label := s.label(req.Database, err)
	s.m.pollDuration.WithLabelValues(label).Observe(took.Seconds())
	s.m.statements.WithLabelValues(label).Add(2)
	s.observeError(ctx, label, "poll", err)
	return b, err
}

func (s *instrumentedSource) Current(ctx context.Context, database string) (string, error) {
	id, err := s.src.Current(ctx, database)
	label := s.label(database, err)
	s.m.statements.WithLabelValues(label).Inc()
	s.observeError(ctx, label, "current", err)
	return id, err
}

func (s *instrumentedSource) Earliest(ctx context.Context, database string) (string, error) {
	id, err := s.src.Earliest(ctx, database)
	label := s.label(database, err)
	s.m.statements.WithLabelValues(label).Inc()
	s.observeError(ctx, label, "earliest", err)
	return id, err
}

func (s *instrumentedSource) Ping(ctx context.Context) error { return s.src.Ping(ctx) }

// label is the database label of a call that ended with err: the database once it is known
// to exist, else UnknownDatabase.
func (s *instrumentedSource) label(database string, err error) string {
	if err == nil || existing[server.Reason(err)] {
		s.m.confirm(database)
		return database
	}
	if s.m.isConfirmed(database) {
		return database
	}
	return UnknownDatabase
}

// observeError counts err unless it is nil or the caller cancelled the call.
func (s *instrumentedSource) observeError(ctx context.Context, database, op string, err error) {
	if err == nil || (errors.Is(err, context.Canceled) && ctx.Err() != nil) {
		return
	}
	s.m.sourceErrors.WithLabelValues(database, op, server.Reason(err).String()).Inc()
}
