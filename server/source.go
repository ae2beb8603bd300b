package server

import (
	"context"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Source is the server's only view of Neo4j. internal/neo4jcdc implements it with the Neo4j
// driver; tests use fakes. A Source must be safe for concurrent use by many subscriptions.
//
// Errors: implementations wrap one of the Err* sentinels of errors.go (fmt.Errorf("%w: ..."))
// so the server can map them to statuses without reading messages. Any other error is
// INTERNAL.
type Source interface {
	// Poll runs one poll in one read transaction: it reads the current change id first, then
	// the changes strictly after req.From that match any of req.Selectors (all changes when
	// there are none), at most req.Limit of them, in commit order.
	Poll(ctx context.Context, req PollRequest) (Batch, error)
	// Current returns the change id of database's head (db.cdc.current()).
	Current(ctx context.Context, database string) (string, error)
	// Earliest returns the change id just before database's oldest retained change
	// (db.cdc.earliest()).
	Earliest(ctx context.Context, database string) (string, error)
	// Ping reports whether Neo4j is reachable with the server's credentials; health uses it.
	Ping(ctx context.Context) error
}

// PollRequest is one poll of one database.
type PollRequest struct {
	// Database is the validated, lower-cased database name.
	Database string
	// From is the change id the poll reads strictly after.
	From string
	// Selectors are the validated selectors (OR); empty means every change.
	Selectors []*cdcstreamv1.Selector
	// Limit is the most changes to return (at least 1).
	Limit int
	// Prepared is the subscription's own storage for the Source: the same pointer on every
	// poll of one subscription (nil in direct calls). A Source keeps there what it derives
	// from the subscription's fixed fields (Database, Selectors), so that it is built once per
	// subscription rather than once per poll (neo4jcdc keeps the Neo4j selectors parameter).
	// Only the subscription's poller uses it, so it needs no lock.
	Prepared *Prepared
}

// Prepared holds what a Source derived from a subscription's fixed fields (PollRequest).
type Prepared struct {
	// Value is the Source's own; the server never reads it.
	Value any
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
