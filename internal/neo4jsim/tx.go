package neo4jsim

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Session describes the connection a write transaction runs on; it becomes the change
// metadata of every record the transaction produces.
type Session struct {
	// User is the authenticated user (metadata authenticatedUser).
	User string
	// ExecutingUser is the impersonated user, if any; it defaults to User.
	ExecutingUser string
	// ConnectionType defaults to "bolt".
	ConnectionType string
	// ClientAddr and ServerAddr are "ip:port" strings; empty values are written as null.
	ClientAddr, ServerAddr string
	// TxMetadata is the metadata the client attached to the transaction; it is copied.
	TxMetadata map[string]any
}

// Tx is a write transaction in progress. Its changes are private until the callback passed
// to Write returns nil; then they are validated, committed and logged as one transaction.
// A Tx must not be used after its callback returns.
type Tx struct {
	db    *Database
	start time.Time

	nodes      map[int64]*nodeState // working state of every touched node; nil = deleted
	nodeBefore map[int64]*nodeState // committed state at first touch; nil = created here
	rels       map[int64]*relState
	relBefore  map[int64]*relState
	nextNode   int64
	nextRel    int64
	newLabels  map[string]int // label tokens first used by this transaction
	closed     bool
	// readOnly marks a read view (readView) or a transaction in read access mode: every
	// change fails.
	readOnly bool
}

// Write runs fn as one write transaction. If fn returns an error, or the changes violate a
// constraint at commit, nothing is applied or logged and the error is returned. Otherwise
// the transaction commits and its id is returned. A transaction whose net effect is empty
// (nothing changed, or everything it created it also deleted) writes nothing to the log,
// consumes no transaction id and returns 0, as Neo4j does not log read-only transactions.
func (db *Database) Write(s Session, fn func(tx *Tx) error) (txID int64, err error) {
	tx := db.beginWrite()
	defer tx.release()
	if fn == nil {
		return 0, nil
	}
	if err := fn(tx); err != nil {
		return 0, err
	}
	return tx.commit(s)
}

// beginWrite waits for the write lock and starts a transaction on the committed graph. The
// caller ends it with release, after commit or instead of it (rollback).
func (db *Database) beginWrite() *Tx {
	db.writeMu.Lock()
	return db.newTx(db)
}

// lockTimeout (a variable for tests) bounds how long a Cypher statement waits for the write lock held by another
// transaction (an explicit transaction holds it from its first write to its end).
var lockTimeout = 10 * time.Second

// beginWriteWait is beginWrite for Cypher statements: it gives up after lockTimeout with
// Neo4j's transient lock timeout, which drivers retry in managed transactions, so a client
// that keeps a write transaction open while it writes through another session gets an error
// instead of a hang.
func (db *Database) beginWriteWait() (*Tx, error) {
	deadline := time.Now().Add(lockTimeout)
	for wait := 100 * time.Microsecond; !db.writeMu.TryLock(); wait = min(2*wait, 20*time.Millisecond) {
		if time.Now().After(deadline) {
			return nil, &Error{Code: "Neo.TransientError.Transaction.LockAcquisitionTimeout", GQLStatus: "50N42",
				Message: fmt.Sprintf("Unable to acquire the write lock of database '%s' within %s: another transaction holds it.", db.name, lockTimeout)}
		}
		time.Sleep(wait)
	}
	return db.newTx(db), nil
}

// newTx starts a transaction whose committed graph is g's: db itself for a writer, or a
// private copy for a read view.
func (db *Database) newTx(g *Database) *Tx {
	return &Tx{
		db:         g,
		start:      db.dbms.now(),
		nodes:      make(map[int64]*nodeState),
		nodeBefore: make(map[int64]*nodeState),
		rels:       make(map[int64]*relState),
		relBefore:  make(map[int64]*relState),
		nextNode:   g.nextNode,
		nextRel:    g.nextRel,
		newLabels:  make(map[string]int),
	}
}

// release ends a transaction from beginWrite and unlocks the database; a transaction not
// committed before is rolled back. It is idempotent.
func (tx *Tx) release() {
	if tx.closed {
		return
	}
	tx.closed = true
	if !tx.readOnly {
		tx.db.writeMu.Unlock()
	}
}

// readView returns a read-only transaction on a snapshot of the committed graph, for
// queries that read the graph without writing: it takes the read lock only to copy the
// graph's maps (committed node and relationship states are immutable and shared).
func (db *Database) readView() *Tx {
	db.mu.RLock()
	defer db.mu.RUnlock()
	g := &Database{dbms: db.dbms, name: db.name, uuid: db.uuid, uuidStr: db.uuidStr,
		nodes: maps.Clone(db.nodes), rels: maps.Clone(db.rels), adj: make(map[int64]map[int64]struct{}, len(db.adj)),
		labelTokens: maps.Clone(db.labelTokens), nextNode: db.nextNode, nextRel: db.nextRel}
	for n, rs := range db.adj {
		g.adj[n] = maps.Clone(rs)
	}
	tx := db.newTx(g)
	tx.readOnly = true
	return tx
}

func (tx *Tx) check() error {
	if tx.closed {
		return &Error{Code: "Neo.ClientError.Transaction.TransactionNotFound", GQLStatus: "25N05",
			Message: "The transaction has been closed."}
	}
	if tx.readOnly {
		return accessModeError(tx.db.name)
	}
	return nil
}

func notFound(kind, eid string) *Error {
	return &Error{Code: "Neo.ClientError.Statement.EntityNotFound", GQLStatus: "",
		Message: fmt.Sprintf("%s with elementId %s not found (it does not exist or was deleted).", kind, eid)}
}

// node returns the current (in-transaction) state of a node.
func (tx *Tx) node(id int64) (*nodeState, bool) {
	if st, ok := tx.nodes[id]; ok {
		return st, st != nil
	}
	st, ok := tx.db.nodes[id]
	return st, ok
}

func (tx *Tx) rel(id int64) (*relState, bool) {
	if st, ok := tx.rels[id]; ok {
		return st, st != nil
	}
	st, ok := tx.db.rels[id]
	return st, ok
}

// touchNode returns a private, mutable copy of a live node's state.
func (tx *Tx) touchNode(eid string) (int64, *nodeState, error) {
	if err := tx.check(); err != nil {
		return 0, nil, err
	}
	id, ok := tx.db.parseElementID(eid, '4')
	if !ok {
		return 0, nil, notFound("Node", eid)
	}
	if st, ok := tx.nodes[id]; ok {
		if st == nil {
			return 0, nil, notFound("Node", eid)
		}
		return id, st, nil
	}
	st, ok := tx.db.nodes[id]
	if !ok {
		return 0, nil, notFound("Node", eid)
	}
	tx.nodeBefore[id] = st
	cp := &nodeState{labels: slices.Clone(st.labels), props: maps.Clone(st.props)}
	tx.nodes[id] = cp
	return id, cp, nil
}

func (tx *Tx) touchRel(eid string) (int64, *relState, error) {
	if err := tx.check(); err != nil {
		return 0, nil, err
	}
	id, ok := tx.db.parseElementID(eid, '5')
	if !ok {
		return 0, nil, notFound("Relationship", eid)
	}
	if st, ok := tx.rels[id]; ok {
		if st == nil {
			return 0, nil, notFound("Relationship", eid)
		}
		return id, st, nil
	}
	st, ok := tx.db.rels[id]
	if !ok {
		return 0, nil, notFound("Relationship", eid)
	}
	tx.relBefore[id] = st
	cp := *st
	cp.props = maps.Clone(st.props)
	tx.rels[id] = &cp
	return id, &cp, nil
}

func normalizeProps(props map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(props))
	for _, k := range sortedKeys(props) {
		v, err := normalizeProperty(k, props[k])
		if err != nil {
			return nil, err
		}
		if v != nil {
			out[k] = v
		}
	}
	return out, nil
}

// CreateNode creates a node and returns its element id. Null property values are ignored.
func (tx *Tx) CreateNode(labels []string, props map[string]any) (string, error) {
	if err := tx.check(); err != nil {
		return "", err
	}
	p, err := normalizeProps(props)
	if err != nil {
		return "", err
	}
	st := &nodeState{props: p}
	tx.addLabels(st, labels)
	id := tx.nextNode
	tx.nextNode++
	tx.nodes[id] = st
	tx.nodeBefore[id] = nil
	return tx.db.nodeElementID(id), nil
}

// labelToken returns the token id of a label, allocating one for a new label.
func (tx *Tx) labelToken(l string) int {
	if t, ok := tx.db.labelTokens[l]; ok {
		return t
	}
	if t, ok := tx.newLabels[l]; ok {
		return t
	}
	t := len(tx.db.labelTokens) + len(tx.newLabels)
	tx.newLabels[l] = t
	return t
}

// addLabels adds labels to st, keeping them in label-token order (Neo4j lists a node's
// labels by token id, i.e. in the order the labels were first used in the database).
func (tx *Tx) addLabels(st *nodeState, labels []string) {
	for _, l := range labels {
		if l == "" || slices.Contains(st.labels, l) {
			continue
		}
		tx.labelToken(l)
		st.labels = append(st.labels, l)
	}
	slices.SortStableFunc(st.labels, func(a, b string) int { return tx.labelToken(a) - tx.labelToken(b) })
}

// SetNodeProperty sets a property; a nil value removes it (Cypher SET n.p = null).
func (tx *Tx) SetNodeProperty(id, key string, v any) error {
	_, st, err := tx.touchNode(id)
	if err != nil {
		return err
	}
	return setProperty(st.props, key, v)
}

// RemoveNodeProperty removes a property; removing an absent property is a no-op.
func (tx *Tx) RemoveNodeProperty(id, key string) error {
	return tx.SetNodeProperty(id, key, nil)
}

// AddLabels adds labels to a node; labels it already has are ignored.
func (tx *Tx) AddLabels(id string, labels ...string) error {
	_, st, err := tx.touchNode(id)
	if err != nil {
		return err
	}
	tx.addLabels(st, labels)
	return nil
}

// RemoveLabels removes labels from a node; labels it lacks are ignored.
func (tx *Tx) RemoveLabels(id string, labels ...string) error {
	_, st, err := tx.touchNode(id)
	if err != nil {
		return err
	}
	st.labels = slices.DeleteFunc(st.labels, func(l string) bool { return slices.Contains(labels, l) })
	return nil
}

// relsOf returns the ids of the live relationships touching a node, ascending.
func (tx *Tx) relsOf(id int64) []int64 {
	var out []int64
	for r := range tx.db.adj[id] {
		if _, live := tx.rel(r); live {
			out = append(out, r)
		}
	}
	for r, st := range tx.rels {
		if st != nil && tx.relBefore[r] == nil && (st.start == id || st.end == id) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// DeleteNode deletes a node. Without detach, a node that still has relationships cannot be
// deleted; with detach (DETACH DELETE) its relationships are deleted too.
func (tx *Tx) DeleteNode(id string, detach bool) error {
	n, _, err := tx.touchNode(id)
	if err != nil {
		return err
	}
	rels := tx.relsOf(n)
	if len(rels) > 0 && !detach {
		return &Error{Code: "Neo.ClientError.Schema.ConstraintValidationFailed", GQLStatus: "",
			Message: fmt.Sprintf("Cannot delete node<%d>, because it still has relationships. To delete this node, you must first delete its relationships.", n)}
	}
	for _, r := range rels {
		if err := tx.DeleteRelationship(tx.db.relElementID(r)); err != nil {
			return err
		}
	}
	tx.nodes[n] = nil
	return nil
}

// CreateRelationship creates a relationship of the given type between two live nodes.
func (tx *Tx) CreateRelationship(typ, startID, endID string, props map[string]any) (string, error) {
	if err := tx.check(); err != nil {
		return "", err
	}
	if typ == "" {
		return "", &Error{Code: "Neo.ClientError.Statement.SyntaxError", GQLStatus: "42000",
			Message: "A relationship type must be given."}
	}
	s, ok := tx.db.parseElementID(startID, '4')
	if _, live := tx.node(s); !ok || !live {
		return "", notFound("Node", startID)
	}
	e, ok := tx.db.parseElementID(endID, '4')
	if _, live := tx.node(e); !ok || !live {
		return "", notFound("Node", endID)
	}
	p, err := normalizeProps(props)
	if err != nil {
		return "", err
	}
	id := tx.nextRel
	tx.nextRel++
	tx.rels[id] = &relState{typ: typ, start: s, end: e, props: p}
	tx.relBefore[id] = nil
	return tx.db.relElementID(id), nil
}

// SetRelationshipProperty sets a relationship property; nil removes it.
func (tx *Tx) SetRelationshipProperty(id, key string, v any) error {
	_, st, err := tx.touchRel(id)
	if err != nil {
		return err
	}
	return setProperty(st.props, key, v)
}

// setProperty sets props[key] to the normalised v; nil removes it (Cypher SET x.p = null).
func setProperty(props map[string]any, key string, v any) error {
	nv, err := normalizeProperty(key, v)
	if err != nil {
		return err
	}
	if nv == nil {
		delete(props, key)
	} else {
		props[key] = nv
	}
	return nil
}

// RemoveRelationshipProperty removes a relationship property.
func (tx *Tx) RemoveRelationshipProperty(id, key string) error {
	return tx.SetRelationshipProperty(id, key, nil)
}

// DeleteRelationship deletes a relationship.
func (tx *Tx) DeleteRelationship(id string) error {
	r, _, err := tx.touchRel(id)
	if err != nil {
		return err
	}
	tx.rels[r] = nil
	return nil
}

// NodeExists reports whether a node is live in this transaction's view.
func (tx *Tx) NodeExists(id string) bool {
	n, ok := tx.db.parseElementID(id, '4')
	if !ok {
		return false
	}
	_, live := tx.node(n)
	return live
}

// RelationshipExists reports whether a relationship is live in this transaction's view.
func (tx *Tx) RelationshipExists(id string) bool {
	r, ok := tx.db.parseElementID(id, '5')
	if !ok {
		return false
	}
	_, live := tx.rel(r)
	return live
}

// NodeProperties returns a copy of a live node's labels and properties.
func (tx *Tx) NodeProperties(id string) (labels []string, props map[string]any, ok bool) {
	n, ok := tx.db.parseElementID(id, '4')
	if !ok {
		return nil, nil, false
	}
	st, live := tx.node(n)
	if !live {
		return nil, nil, false
	}
	return slices.Clone(st.labels), cloneMap(st.props), true
}
