package neo4jsim

import (
	"fmt"
	"sync"
)

// Database is one simulated Neo4j database: a property graph, its key constraints, its
// capture mode (txLogEnrichment) and its CDC log. It is safe for concurrent use: any number of
// Query, Current and Earliest calls may run while one Write transaction runs.
type Database struct {
	dbms *DBMS
	name string

	// writeMu serialises writers (Write for the whole of its callback, schema changes,
	// capture-mode switches, pruning), so a transaction can read the committed graph
	// without holding mu.
	writeMu sync.Mutex

	// mu guards every field below. Writers hold it only while publishing a commit; readers
	// (Query, Current, Earliest, Snapshot) hold it in read mode.
	mu          sync.RWMutex
	uuid        [16]byte // store UUID; changes only on Restore (under writeMu and mu)
	uuidStr     string
	nodes       map[int64]*nodeState
	rels        map[int64]*relState
	adj         map[int64]map[int64]struct{} // node id -> ids of the relationships touching it
	nextNode    int64
	nextRel     int64
	labelTokens map[string]int // label -> token id, assigned on first use
	nodeKeys    []keyConstraint
	relKeys     []keyConstraint
	mode        string
	retention   int
	lag         int // replica lag in transactions, see SetReplicaLag
	lastTx      int64
	lastMillis  int64
	epochTx     int64     // enrichment epoch anchor: ids with an older txId are outdated (52N29)
	floor       txEntry   // position just before the oldest retained transaction
	txs         []txEntry // retained transactions, ascending txId, captured or not
	records     []Record  // retained change records in log order; elements are immutable
	recBase     int       // absolute log index of records[0]
}

// nodeState is a node's labels (in label-token order) and properties. Values stored in a
// committed state are never mutated, so change records may share them.
type nodeState struct {
	labels []string
	props  map[string]any
}

// relState is a relationship's type, end points and properties.
type relState struct {
	typ        string
	start, end int64
	props      map[string]any
}

// keyConstraint is a NODE KEY (on a label) or RELATIONSHIP KEY (on a type) constraint with
// its uniqueness index (encoded key values -> entity id).
type keyConstraint struct {
	target string
	props  []string
	index  map[string]int64
	unique bool // a property uniqueness constraint: no existence rule, no event keys
}

// txEntry is one committed transaction in the log. start is the absolute index of its first
// record, n the number of records (0 for transactions CDC does not capture).
type txEntry struct {
	txID         int64
	commitMillis int64
	start, n     int
}

// initialTxID is the id of the transaction that created the database; user transactions
// follow it. Real databases start with a few internal transactions, so ids never start at 0.
const initialTxID = 1

func newDatabase(d *DBMS, name string, id [16]byte, mode string, retention int) *Database {
	db := &Database{
		dbms:        d,
		name:        name,
		uuid:        id,
		uuidStr:     formatUUID(id),
		nodes:       make(map[int64]*nodeState),
		rels:        make(map[int64]*relState),
		adj:         make(map[int64]map[int64]struct{}),
		labelTokens: make(map[string]int),
		mode:        mode,
		retention:   max(retention, 0),
		lastTx:      initialTxID,
		lastMillis:  d.now().UnixMilli(),
	}
	db.floor = txEntry{txID: db.lastTx, commitMillis: db.lastMillis}
	db.epochTx = db.lastTx
	return db
}

// Name returns the database name.
func (db *Database) Name() string { return db.name }

// UUID returns the store UUID that appears in element ids and change identifiers.
func (db *Database) UUID() string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.uuidStr
}

// LastTxID returns the id of the last committed transaction.
func (db *Database) LastTxID() int64 {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.lastTx
}

// CaptureMode returns the current txLogEnrichment value: FULL, DIFF or OFF.
func (db *Database) CaptureMode() string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.mode
}

// SetCaptureMode switches txLogEnrichment. DIFF<->FULL takes effect with the next commit and
// keeps every id valid. OFF drops the CDC log; switching back on from OFF starts a new
// enrichment epoch, modelled as an internal, uncaptured transaction, so every id handed out
// before is outdated (52N29), as on Neo4j, where disabling CDC breaks the chain for good.
func (db *Database) SetCaptureMode(mode string) error {
	m, ok := normalizeMode(mode)
	if !ok || mode == "" {
		return &Error{Code: "Neo.ClientError.Statement.ArgumentError", GQLStatus: "22N05",
			Message: fmt.Sprintf("Invalid value '%s' for option 'txLogEnrichment'. Expected one of FULL, DIFF, OFF.", mode)}
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	db.mu.Lock()
	defer db.mu.Unlock()
	prev := db.mode
	db.mode = m
	switch {
	case m == ModeOff && prev != ModeOff:
		db.dropLogLocked()
	case m != ModeOff && prev == ModeOff:
		db.appendTxLocked(db.dbms.now().UnixMilli(), nil)
		db.dropLogLocked()
		db.epochTx = db.lastTx
	}
	return nil
}

// dropLogLocked forgets every retained transaction; the floor becomes the last transaction.
func (db *Database) dropLogLocked() {
	db.recBase += len(db.records)
	db.records = nil
	db.txs = nil
	db.floor = txEntry{txID: db.lastTx, commitMillis: db.lastMillis, start: db.recBase}
}

// SetRetention bounds the log to the last n transactions (0 = unbounded) and prunes now.
func (db *Database) SetRetention(n int) {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	db.mu.Lock()
	defer db.mu.Unlock()
	db.retention = max(n, 0)
	if db.retention > 0 {
		db.pruneLocked(db.retention)
	}
}

// Prune drops every transaction but the last keepLast ones from the log (as a checkpoint
// with log rotation would); ids pointing into dropped transactions become invalid.
func (db *Database) Prune(keepLast int) {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	db.mu.Lock()
	defer db.mu.Unlock()
	db.pruneLocked(max(keepLast, 0))
}

func (db *Database) pruneLocked(keep int) {
	drop := len(db.txs) - keep
	if drop <= 0 {
		return
	}
	last := db.txs[drop-1]
	db.floor = last
	nrec := last.start + last.n - db.recBase
	db.records = db.records[nrec:]
	db.recBase += nrec
	db.txs = db.txs[drop:] // appends reallocate, dropping the pruned prefix
}

// appendTxLocked publishes a committed transaction and its records, then applies retention.
func (db *Database) appendTxLocked(commitMillis int64, recs []Record) int64 {
	db.lastTx++
	db.lastMillis = commitMillis
	if db.mode == ModeOff {
		db.floor = txEntry{txID: db.lastTx, commitMillis: commitMillis, start: db.recBase}
		return db.lastTx
	}
	e := txEntry{txID: db.lastTx, commitMillis: commitMillis, start: db.recBase + len(db.records), n: len(recs)}
	db.txs = append(db.txs, e)
	db.records = append(db.records, recs...)
	if db.retention > 0 {
		db.pruneLocked(db.retention)
	}
	return db.lastTx
}

func (db *Database) nodeElementID(id int64) string {
	return fmt.Sprintf("4:%s:%d", db.uuidStr, id)
}

func (db *Database) relElementID(id int64) string {
	return fmt.Sprintf("5:%s:%d", db.uuidStr, id)
}

// parseElementID returns the numeric id of an element id of the given kind ('4' nodes,
// '5' relationships) that belongs to this database.
func (db *Database) parseElementID(eid string, kind byte) (int64, bool) {
	prefix := len("4:") + len(db.uuidStr) + 1
	if len(eid) <= prefix || eid[0] != kind || eid[1] != ':' || eid[2:prefix-1] != db.uuidStr || eid[prefix-1] != ':' {
		return 0, false
	}
	var n int64
	for _, c := range eid[prefix:] {
		if c < '0' || c > '9' || n > (1<<62)/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// Restore models restoring the database from a backup of its current state. The graph is
// kept, but the store gets a new UUID, so every element id changes, the CDC log starts empty
// and every change id handed out before fails with InvalidIdentifier (52N31: the id names
// the old store). The capture mode is kept, as on a self-managed server where the operator
// sets the same txLogEnrichment again; Aura would switch it OFF (use SetCaptureMode).
func (db *Database) Restore() {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	db.mu.Lock()
	defer db.mu.Unlock()
	db.uuid = randomUUID()
	db.uuidStr = formatUUID(db.uuid)
	db.appendTxLocked(db.dbms.now().UnixMilli(), nil)
	db.dropLogLocked()
	db.epochTx = db.lastTx
}
