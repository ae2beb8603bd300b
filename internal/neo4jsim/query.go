package neo4jsim

import (
	"fmt"
	"iter"
	"sort"
	"time"
)

// CDC status codes (legacy code, GQLSTATUS).
const (
	codeInvalidIdentifier = "Neo.ClientError.ChangeDataCapture.InvalidIdentifier"
	codeFutureIdentifier  = "Neo.TransientError.ChangeDataCapture.FutureIdentifier"
	codeDisabled          = "Neo.DatabaseError.ChangeDataCapture.Disabled"
	codeForbidden         = "Neo.ClientError.Security.Forbidden"

	// PrunedMessage is the message Neo4j 2025 gives for an id whose transaction is no
	// longer in the retained log.
	PrunedMessage = "Unable to find the transaction entry for the given change identifier"
)

func invalidID(gql, format string, args ...any) *Error {
	return &Error{Code: codeInvalidIdentifier, GQLStatus: gql, Message: fmt.Sprintf(format, args...)}
}

func (db *Database) disabledError() *Error {
	return &Error{Code: codeDisabled, GQLStatus: "51N68",
		Message: fmt.Sprintf("Change Data Capture is not currently enabled for database '%s'.", db.name)}
}

// forbidden is the error for db.cdc.query by a user without admin (or boosted EXECUTE)
// privileges. Choice: GQLSTATUS 42NFF (access denied) and the wording Neo4j uses for
// procedure execution denials.
func forbidden(user string) *Error {
	return &Error{Code: codeForbidden, GQLStatus: "42NFF",
		Message: fmt.Sprintf("Executing procedure is not allowed for user '%s' with roles [PUBLIC].", user)}
}

// Current returns db.cdc.current(): the id of the end of the last committed transaction
// (txId of that transaction, seq MAX). It is exclusive: querying from it returns only later
// changes. It fails with Disabled when capture is OFF.
func (db *Database) Current() (string, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.mode == ModeOff {
		return "", db.disabledError()
	}
	tx, millis, _ := db.headLocked()
	return encodeChangeID(changeID{db: db.uuid, txID: tx, seq: seqEnd, commitMillis: millis}), nil
}

// headLocked returns the last transaction readers see and the absolute log index just after
// its records: the last committed one, or an older one while a replica lag is set.
func (db *Database) headLocked() (txID, commitMillis int64, end int) {
	if db.lag <= 0 || len(db.txs) == 0 {
		return db.lastTx, db.lastMillis, db.recBase + len(db.records)
	}
	i := len(db.txs) - 1 - db.lag
	if i < 0 {
		return db.floor.txID, db.floor.commitMillis, db.recBase
	}
	e := db.txs[i]
	return e.txID, e.commitMillis, e.start + e.n
}

// SetReplicaLag makes readers (Current, Query) see the database as a secondary that is
// behind by n transactions (0 = up to date): ids of newer transactions, for example from
// the leader, fail with the transient FutureIdentifier error (52N30) until the lag shrinks.
func (db *Database) SetReplicaLag(n int) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.lag = max(n, 0)
}

// Earliest returns db.cdc.earliest(): the position just before the oldest retained change,
// i.e. the end of the newest transaction that is no longer retained (or of the transaction
// that started the enrichment epoch). Querying from it returns the oldest retained change
// first.
func (db *Database) Earliest() (string, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.mode == ModeOff {
		return "", db.disabledError()
	}
	return encodeChangeID(changeID{db: db.uuid, txID: db.floor.txID, seq: seqEnd, commitMillis: db.floor.commitMillis}), nil
}

// resolveLocked turns a "from" id into the absolute log index of the first record to return.
// Check order: format, database, future, epoch, retention, commit time, sequence number.
func (db *Database) resolveLocked(from string) (int, error) {
	head, _, end := db.headLocked()
	if from == "" {
		return end, nil
	}
	c, ok := decodeChangeID(from)
	if !ok {
		return 0, invalidID("52N26", "'%s' is not a valid change identifier.", from)
	}
	if c.db != db.uuid {
		return 0, invalidID("52N31", "The change identifier '%s' does not belong to database '%s'.", from, db.name)
	}
	if c.txID > head {
		return 0, &Error{Code: codeFutureIdentifier, GQLStatus: "52N30",
			Message: fmt.Sprintf("The change identifier '%s' points to a future transaction that has not yet happened on this database instance.", from)}
	}
	if c.txID < db.epochTx {
		return 0, invalidID("52N29", "The change identifier '%s' is outdated: it describes a transaction before any enrichment records exist.", from)
	}
	if c.txID < db.floor.txID {
		// Choice: GQLSTATUS 52N28 (transaction does not exist) with Neo4j 2025's message.
		return 0, invalidID("52N28", PrunedMessage)
	}
	if c.txID == db.floor.txID {
		if c.commitMillis != db.floor.commitMillis {
			return 0, commitMismatch(from)
		}
		if c.seq == seqEnd {
			return db.recBase, nil
		}
		if db.floor.n == 0 {
			return 0, badSeq(from, c.seq)
		}
		return 0, invalidID("52N28", PrunedMessage)
	}
	i := sort.Search(len(db.txs), func(i int) bool { return db.txs[i].txID >= c.txID })
	if i == len(db.txs) || db.txs[i].txID != c.txID {
		return 0, invalidID("52N28", "The transaction id %d of change identifier '%s' does not exist.", c.txID, from)
	}
	e := db.txs[i]
	if c.commitMillis != e.commitMillis {
		return 0, commitMismatch(from)
	}
	switch {
	case c.seq == seqEnd:
		return e.start + e.n, nil
	case c.seq >= 0 && c.seq < int64(e.n):
		return e.start + int(c.seq) + 1, nil
	}
	return 0, badSeq(from, c.seq)
}

func commitMismatch(from string) *Error {
	return invalidID("52N27", "The commit timestamp of change identifier '%s' does not match the one in the transaction log.", from)
}

func badSeq(from string, seq int64) *Error {
	return invalidID("52N32", "The change identifier '%s' has an invalid sequence number %d.", from, seq)
}

// Query runs db.cdc.query(from, selectors) for user: every retained change strictly after
// from, in (txId, seq) order, that matches at least one selector (all changes when there are
// none). from "" means Current. selectors is the decoded Bolt list of maps. Errors are
// *Error: Forbidden for non-admins, Disabled when capture is OFF, a client error for invalid
// selectors, and the InvalidIdentifier/FutureIdentifier family for bad ids.
func (db *Database) Query(user User, from string, selectors []any) ([]Record, error) {
	return db.QueryLimit(user, from, selectors, 0)
}

// QueryLimit is Query returning at most limit records (limit <= 0: no limit). Without
// selectors the result is a read-only view of the log (capacity-capped, so appending to it
// copies): no per-call work beyond locating the start.
func (db *Database) QueryLimit(user User, from string, selectors []any, limit int) ([]Record, error) {
	if len(selectors) == 0 {
		recs, err := db.tail(user, from)
		if err != nil {
			return nil, err
		}
		if limit > 0 && limit < len(recs) {
			recs = recs[:limit:limit]
		}
		return recs, nil
	}
	seq, n, err := db.QueryIter(user, from, selectors)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > n {
		limit = n
	}
	out := make([]Record, 0, limit)
	for r := range seq {
		if len(out) == limit {
			break
		}
		out = append(out, r)
	}
	return out, nil
}

// QueryIter validates a query like Query and returns the matching records as a sequence,
// plus an upper bound of their number. The sequence reads a snapshot of the log taken at the
// call (later commits are not included), holds no lock and never allocates per record, so
// a Bolt layer can stream a large result as the client PULLs.
func (db *Database) QueryIter(user User, from string, selectors []any) (iter.Seq[Record], int, error) {
	if !user.Admin {
		return nil, 0, forbidden(user.Name)
	}
	if db.CaptureMode() == ModeOff {
		return nil, 0, db.disabledError()
	}
	sels, err := parseSelectors(selectors)
	if err != nil {
		return nil, 0, err
	}
	recs, err := db.tail(user, from)
	if err != nil {
		return nil, 0, err
	}
	seq := func(yield func(Record) bool) {
		for i := range recs {
			if len(sels) > 0 && !matchAny(sels, recs[i].m) {
				continue
			}
			if !yield(recs[i]) {
				return
			}
		}
	}
	return seq, len(recs), nil
}

// tail checks the caller and capture mode and returns the retained records after from, as
// a capacity-capped view of the log taken under the read lock. The log's elements are never
// modified and appends land beyond the view, so the view stays valid without the lock.
func (db *Database) tail(user User, from string) ([]Record, error) {
	if !user.Admin {
		return nil, forbidden(user.Name)
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.mode == ModeOff {
		return nil, db.disabledError()
	}
	start, err := db.resolveLocked(from)
	if err != nil {
		return nil, err
	}
	_, _, end := db.headLocked()
	return db.records[start-db.recBase : end-db.recBase : end-db.recBase], nil
}

// CurrentWithCommitTime is db.cdc.current() as Cypher 25 on Neo4j 2026.06+ yields it: the
// current id and the commit time of the last committed transaction (offset 0, ms).
func (db *Database) CurrentWithCommitTime() (string, DateTime, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.mode == ModeOff {
		return "", DateTime{}, db.disabledError()
	}
	tx, millis, _ := db.headLocked()
	id := encodeChangeID(changeID{db: db.uuid, txID: tx, seq: seqEnd, commitMillis: millis})
	return id, utcMillis(time.UnixMilli(millis)), nil
}
