package server

import (
	"context"
	"errors"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Source is the server's only view of Neo4j. internal/neo4jcdc implements it with the Neo4j
// driver; tests use fakes. A Source must be safe for concurrent use by many subscriptions.
//
// Errors: implementations wrap one of the Err* sentinels below (fmt.Errorf("%w: ...")) so the
// server can map them to statuses without reading messages. Any other error is INTERNAL.
type Source interface {
	// Poll runs one poll of database in one read transaction: it reads the current change id
	// first, then the changes strictly after from that match any of selectors (all changes when
	// selectors is empty), at most limit of them, in commit order.
	Poll(ctx context.Context, database, from string, selectors []*cdcstreamv1.Selector, limit int) (Batch, error)
	// Current returns the change id of database's head (db.cdc.current()).
	Current(ctx context.Context, database string) (string, error)
	// Earliest returns the change id just before database's oldest retained change
	// (db.cdc.earliest()).
	Earliest(ctx context.Context, database string) (string, error)
	// Ping reports whether Neo4j is reachable with the server's credentials; health uses it.
	Ping(ctx context.Context) error
}

// Batch is the result of one poll.
type Batch struct {
	// Changes are the matching changes in commit order, each with Cursor.Id set to its change
	// id and Cursor.Database to the polled database.
	Changes []*cdcstreamv1.ChangeEvent
	// Current is the id db.cdc.current() returned at the start of the poll's transaction; the
	// cursor moves to it when Changes is empty.
	Current string
}

// Errors a Source wraps so the server can classify them (see ARCHITECTURE.md's error table).
var (
	// ErrInvalidCursor: the change id is malformed or belongs to another database.
	ErrInvalidCursor = errors.New("invalid change identifier")
	// ErrCursorExpired: the change id points before the oldest retained change (pruned, or
	// older than CDC enablement).
	ErrCursorExpired = errors.New("change identifier no longer retained")
	// ErrFutureCursor: the change id is ahead of the member that answered (follower lag);
	// retrying is expected to succeed.
	ErrFutureCursor = errors.New("change identifier is in the future of this member")
	// ErrInvalidSelector: Neo4j rejected a selector.
	ErrInvalidSelector = errors.New("invalid selector")
	// ErrCDCDisabled: CDC (txLogEnrichment) is OFF for the database.
	ErrCDCDisabled = errors.New("change data capture is disabled")
	// ErrDatabaseNotFound: the database does not exist.
	ErrDatabaseNotFound = errors.New("database not found")
	// ErrNeo4jAuth: Neo4j rejected the server's own credentials or privileges.
	ErrNeo4jAuth = errors.New("neo4j rejected the server's credentials")
	// ErrNeo4jUnavailable: Neo4j is unreachable or failed transiently after driver retries.
	ErrNeo4jUnavailable = errors.New("neo4j unavailable")
)
