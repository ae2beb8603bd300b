package neo4jcdc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
)

// The statements, in the exact forms of docs/architecture.md section 4.
const (
	stmtCurrent  = "CALL db.cdc.current()"
	stmtEarliest = "CALL db.cdc.earliest()"
	stmtQuery    = "CALL db.cdc.query($from, $selectors) YIELD id, txId, seq, metadata, event " +
		"RETURN id, txId, seq, metadata, event LIMIT $limit"
)

// Source reads Neo4j CDC through the driver. It implements server.Source and is safe for
// concurrent use: it holds no state besides the driver, which pools connections itself.
type Source struct {
	driver neo4j.DriverWithContext
	opts   options
	// owned is true when Open created the driver, so Close closes it.
	owned bool
}

var _ server.Source = (*Source)(nil)

// New returns a Source that uses driver. The caller keeps ownership of driver: Close does
// not close it.
func New(driver neo4j.DriverWithContext, opts ...Option) *Source {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return &Source{driver: driver, opts: o}
}

// Open creates a driver for uri (bolt://, neo4j://, with +s/+ssc variants) with basic
// authentication, verifies within ctx that Neo4j accepts the connection and the credentials,
// and returns a Source owning the driver (Close closes it). On failure the driver is closed
// and the error wraps server.ErrNeo4jAuth or server.ErrNeo4jUnavailable where it applies.
func Open(ctx context.Context, uri, user, password string, opts ...Option) (*Source, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	driver, err := neo4j.NewDriverWithContext(uri, neo4j.BasicAuth(user, password, ""), func(c *config.Config) {
		c.Log = driverLogger{l: o.logger}
		if o.maxRetryTime > 0 {
			c.MaxTransactionRetryTime = o.maxRetryTime
		}
	})
	if err != nil {
		return nil, fmt.Errorf("neo4jcdc: open %s: %w", uri, err)
	}
	if err := driver.VerifyConnectivity(ctx); err != nil {
		cerr := classify(err, false)
		if closeErr := driver.Close(context.WithoutCancel(ctx)); closeErr != nil {
			o.logger.Warn("closing neo4j driver after failed open", "error", closeErr)
		}
		return nil, fmt.Errorf("neo4jcdc: open %s: %w", uri, cerr)
	}
	return &Source{driver: driver, opts: o, owned: true}, nil
}

// Close closes the driver when Open created it; with New it does nothing.
func (s *Source) Close(ctx context.Context) error {
	if !s.owned {
		return nil
	}
	return s.driver.Close(ctx)
}

// Poll implements server.Source: one transaction that reads db.cdc.current() and then at most
// limit changes after from matching any of selectors.
func (s *Source) Poll(ctx context.Context, req server.PollRequest) (server.Batch, error) {
	database, from, selectors, limit := req.Database, req.From, req.Selectors, req.Limit
	if limit <= 0 {
		return server.Batch{}, fmt.Errorf("neo4jcdc: poll %q: limit %d, want > 0", database, limit)
	}
	sel, err := preparedSelectors(req.Prepared, selectors)
	if err != nil {
		return server.Batch{}, fmt.Errorf("neo4jcdc: poll %q: %w", database, err)
	}
	params := map[string]any{"from": from, "selectors": sel, "limit": int64(limit)}
	start := time.Now()
	res, err := s.execute(ctx, database, func(tx neo4j.ManagedTransaction) (any, error) {
		current, err := readID(ctx, tx, stmtCurrent)
		if err != nil {
			return nil, err
		}
		result, err := tx.Run(ctx, stmtQuery, params)
		if err != nil {
			return nil, err
		}
		changes := make([]*cdcstreamv1.ChangeEvent, 0, min(limit, 256))
		for result.Next(ctx) {
			ev, err := changeFromRecord(database, result.Record())
			if err != nil {
				return nil, err
			}
			changes = append(changes, ev)
		}
		if err := result.Err(); err != nil {
			return nil, err
		}
		return server.Batch{Changes: changes, Current: current}, nil
	})
	if err != nil {
		return server.Batch{}, s.fail(ctx, "poll", database, len(selectors) > 0, err)
	}
	batch := res.(server.Batch)
	if s.opts.logger.Enabled(ctx, slog.LevelDebug) {
		s.opts.logger.LogAttrs(ctx, slog.LevelDebug, "cdc poll",
			slog.String("database", database), slog.String("from", from),
			slog.Int("changes", len(batch.Changes)), slog.String("current", batch.Current),
			slog.Duration("elapsed", time.Since(start)))
	}
	return batch, nil
}

// Current implements server.Source (db.cdc.current()).
func (s *Source) Current(ctx context.Context, database string) (string, error) {
	return s.readPosition(ctx, "current", database, stmtCurrent)
}

// Earliest implements server.Source (db.cdc.earliest()).
func (s *Source) Earliest(ctx context.Context, database string) (string, error) {
	return s.readPosition(ctx, "earliest", database, stmtEarliest)
}

// Ping implements server.Source: it verifies that the driver can connect and authenticate.
func (s *Source) Ping(ctx context.Context) error {
	if err := s.driver.VerifyConnectivity(ctx); err != nil {
		return s.fail(ctx, "ping", "", false, err)
	}
	return nil
}

// readPosition runs stmt (current or earliest) in its own transaction.
func (s *Source) readPosition(ctx context.Context, op, database, stmt string) (string, error) {
	res, err := s.execute(ctx, database, func(tx neo4j.ManagedTransaction) (any, error) {
		return readID(ctx, tx, stmt)
	})
	if err != nil {
		return "", s.fail(ctx, op, database, false, err)
	}
	return res.(string), nil
}

// execute runs work in one managed transaction on database: a read transaction routed to
// readers, or a write transaction on the leader with AccessWrite. The driver retries
// transient failures.
func (s *Source) execute(ctx context.Context, database string, work neo4j.ManagedTransactionWork) (any, error) {
	mode := neo4j.AccessModeRead
	if s.opts.accessMode == AccessWrite {
		mode = neo4j.AccessModeWrite
	}
	session := s.driver.NewSession(ctx, neo4j.SessionConfig{
		AccessMode:   mode,
		DatabaseName: database,
		FetchSize:    s.opts.fetchSize,
	})
	defer func() {
		if err := session.Close(context.WithoutCancel(ctx)); err != nil {
			s.opts.logger.Debug("closing neo4j session", "database", database, "error", err)
		}
	}()
	var txConfig []func(*neo4j.TransactionConfig)
	if s.opts.txTimeout > 0 {
		txConfig = append(txConfig, neo4j.WithTxTimeout(s.opts.txTimeout))
	}
	if mode == neo4j.AccessModeWrite {
		return session.ExecuteWrite(ctx, work, txConfig...)
	}
	return session.ExecuteRead(ctx, work, txConfig...)
}

// readID runs a statement that yields one row with a string column id.
func readID(ctx context.Context, tx neo4j.ManagedTransaction, stmt string) (string, error) {
	result, err := tx.Run(ctx, stmt, nil)
	if err != nil {
		return "", err
	}
	rec, err := result.Single(ctx)
	if err != nil {
		return "", err
	}
	v, _ := rec.Get("id")
	id, ok := v.(string)
	if !ok || id == "" {
		return "", fmt.Errorf("%s returned id %T %v, want a non-empty string", stmt, v, v)
	}
	return id, nil
}

// fail classifies err for the server (withSelectors: the call passed selectors) and logs the
// classes operators must see.
func (s *Source) fail(ctx context.Context, op, database string, withSelectors bool, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		// The caller gave up; report that, whatever the driver made of it.
		err = fmt.Errorf("%w (driver: %v)", ctxErr, err)
	}
	err = classify(err, withSelectors)
	if errors.Is(err, server.ErrNeo4jAuth) || errors.Is(err, server.ErrNeo4jUnavailable) {
		s.opts.logger.Warn("neo4j call failed", "op", op, "database", database, "error", err)
	}
	return fmt.Errorf("neo4jcdc: %s %q: %w", op, database, err)
}
