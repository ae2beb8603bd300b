package neo4jsim

import (
	"slices"
	"time"
)

// Record is one row of db.cdc.query: a change identifier, the transaction id and sequence
// number of the change, the transaction metadata and the entity event. Records are built
// once at commit and shared by every query: callers must treat Metadata and Event (and
// everything reachable from them) as read-only.
type Record struct {
	// ID is the change identifier of this change, usable as the next "from".
	ID string
	// TxID is the committing transaction's id.
	TxID int64
	// Seq is the position of the change in its transaction, from 0.
	Seq int64
	// Metadata holds the 11 metadata keys; all records of a transaction share one map.
	Metadata map[string]any
	// Event is the node or relationship event.
	Event map[string]any

	m *matchInfo
}

// matchInfo is what selectors look at, precomputed at commit: full label sets and property
// maps before and after (whatever the capture mode), keys, end points and users.
type matchInfo struct {
	node                    bool
	op                      string
	elementID               string
	typ                     string
	labelsBefore            []string
	labelsAfter             []string
	propsBefore, propsAfter map[string]any
	keys                    []map[string]any
	start, end              endpointInfo
	execUser, authUser      string
	txMeta                  map[string]any
}

type endpointInfo struct {
	elementID string
	labels    []string
	keys      []map[string]any
}

// Operation codes of the event "operation" field.
const (
	opCreate = "c"
	opUpdate = "u"
	opDelete = "d"
)

// Choices where the spec is unsure (see doc.go):
//   - Records of a transaction are ordered nodes first, then relationships, each by
//     ascending internal id, which mirrors the order Neo4j visits its transaction state. It
//     does not follow causality: in a DETACH DELETE the node delete precedes its
//     relationship deletes. Consumers must treat a transaction as a set.
//   - The top-level node "labels" and "keys" (and relationship "keys") describe the entity
//     before the change for updates and deletes, and after it for creates, so a sink can
//     find the entity by the keys it had.
//   - Relationship "start"/"end" describe the end node as it was before the transaction, or
//     as created if the transaction created it.
//   - DIFF updates always carry "labels" lists ([] when no label changed).
//   - txStartTime and txCommitTime are DateTime values at offset 0, truncated to
//     milliseconds (the precision of the transaction log header).
func (tx *Tx) buildRecords(s Session, txID int64, commit time.Time, nodes []nodeChange, rels []relChange) []Record {
	db := tx.db
	mode := db.mode
	md, execUser := metadata(db, s, mode, tx.start, commit)
	commitMillis := commit.UnixMilli()
	recs := make([]Record, 0, len(nodes)+len(rels))
	add := func(ev map[string]any, m *matchInfo) {
		seq := int64(len(recs))
		m.execUser, m.authUser = execUser, s.User
		m.txMeta, _ = md["txMetadata"].(map[string]any)
		recs = append(recs, Record{
			ID:       encodeChangeID(changeID{db: db.uuid, txID: txID, seq: seq, commitMillis: commitMillis}),
			TxID:     txID,
			Seq:      seq,
			Metadata: md,
			Event:    ev,
			m:        m,
		})
	}
	for _, ch := range nodes {
		ev, m := db.nodeEvent(ch, mode)
		add(ev, m)
	}
	for _, ch := range rels {
		ev, m := tx.relEvent(ch, mode)
		add(ev, m)
	}
	return recs
}

func metadata(db *Database, s Session, mode string, start, commit time.Time) (map[string]any, string) {
	exec := s.ExecutingUser
	if exec == "" {
		exec = s.User
	}
	ct := s.ConnectionType
	if ct == "" {
		ct = "bolt"
	}
	txMeta := cloneMap(s.TxMetadata)
	if txMeta == nil {
		txMeta = map[string]any{}
	}
	return map[string]any{
		"executingUser":     exec,
		"authenticatedUser": s.User,
		"captureMode":       mode,
		"connectionType":    ct,
		"connectionClient":  nullIfEmpty(s.ClientAddr),
		"connectionServer":  nullIfEmpty(s.ServerAddr),
		"serverId":          db.dbms.serverID,
		"databaseName":      db.name,
		"txStartTime":       utcMillis(start),
		"txCommitTime":      utcMillis(commit),
		"txMetadata":        txMeta,
	}, exec
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// utcMillis converts t to a DateTime at offset 0 with millisecond precision.
func utcMillis(t time.Time) DateTime {
	ms := t.UnixMilli()
	sec, rem := ms/1000, ms%1000
	if rem < 0 {
		sec, rem = sec-1, rem+1000
	}
	return DateTime{EpochSeconds: sec, Nanos: rem * 1e6}
}

func anyStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// nodeKeys returns the keys of a node state: label -> one map per key constraint, for the
// node's labels in token order.
func (db *Database) nodeKeysOf(st *nodeState) (map[string]any, []map[string]any) {
	keys := map[string]any{}
	var flat []map[string]any
	for _, l := range st.labels {
		var list []any
		for i := range db.nodeKeys {
			c := &db.nodeKeys[i]
			if c.target != l || c.unique {
				continue
			}
			km, ok := keyMap(c, st.props)
			if !ok {
				continue
			}
			list = append(list, km)
			flat = append(flat, km)
		}
		if list != nil {
			keys[l] = list
		}
	}
	return keys, flat
}

func (db *Database) relKeysOf(st *relState) ([]any, []map[string]any) {
	keys := []any{}
	var flat []map[string]any
	for i := range db.relKeys {
		c := &db.relKeys[i]
		if c.target != st.typ || c.unique {
			continue
		}
		km, ok := keyMap(c, st.props)
		if !ok {
			continue
		}
		keys = append(keys, km)
		flat = append(flat, km)
	}
	return keys, flat
}

// diffProps returns the properties of from that are absent from, or different in, other.
func diffProps(from, other map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range from {
		if w, ok := other[k]; !ok || !valuesEqual(v, w) {
			out[k] = v
		}
	}
	return out
}

func minus(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func nodeStateMap(labels []string, props map[string]any) map[string]any {
	return map[string]any{"labels": anyStrings(labels), "properties": props}
}

func (db *Database) nodeEvent(ch nodeChange, mode string) (map[string]any, *matchInfo) {
	m := &matchInfo{node: true, elementID: db.nodeElementID(ch.id)}
	var before, after any
	var ident *nodeState
	switch {
	case ch.before == nil:
		m.op, ident = opCreate, ch.after
		after = nodeStateMap(ch.after.labels, ch.after.props)
	case ch.after == nil:
		m.op, ident = opDelete, ch.before
		before = nodeStateMap(ch.before.labels, ch.before.props)
	default:
		m.op, ident = opUpdate, ch.before
		if mode == ModeDiff {
			before = nodeStateMap(minus(ch.before.labels, ch.after.labels), diffProps(ch.before.props, ch.after.props))
			after = nodeStateMap(minus(ch.after.labels, ch.before.labels), diffProps(ch.after.props, ch.before.props))
		} else {
			before = nodeStateMap(ch.before.labels, ch.before.props)
			after = nodeStateMap(ch.after.labels, ch.after.props)
		}
	}
	if ch.before != nil {
		m.labelsBefore, m.propsBefore = ch.before.labels, ch.before.props
	}
	if ch.after != nil {
		m.labelsAfter, m.propsAfter = ch.after.labels, ch.after.props
	}
	keys, flat := db.nodeKeysOf(ident)
	m.keys = flat
	ev := map[string]any{
		"elementId": m.elementID,
		"eventType": "n",
		"operation": m.op,
		"labels":    anyStrings(ident.labels),
		"keys":      keys,
		"state":     map[string]any{"before": before, "after": after},
	}
	return ev, m
}

// endpoint describes a relationship's end node as it was before the transaction, or as the
// transaction created it.
func (tx *Tx) endpoint(id int64) (map[string]any, endpointInfo) {
	db := tx.db
	st, ok := db.nodes[id]
	if !ok {
		st = tx.nodes[id]
		if st == nil {
			st = &nodeState{}
		}
	}
	keys, flat := db.nodeKeysOf(st)
	info := endpointInfo{elementID: db.nodeElementID(id), labels: st.labels, keys: flat}
	return map[string]any{"elementId": info.elementID, "labels": anyStrings(st.labels), "keys": keys}, info
}

func (tx *Tx) relEvent(ch relChange, mode string) (map[string]any, *matchInfo) {
	db := tx.db
	m := &matchInfo{elementID: db.relElementID(ch.id)}
	var before, after any
	ident := ch.before
	switch {
	case ch.before == nil:
		m.op, ident = opCreate, ch.after
		after = map[string]any{"properties": ch.after.props}
	case ch.after == nil:
		m.op = opDelete
		before = map[string]any{"properties": ch.before.props}
	default:
		m.op = opUpdate
		if mode == ModeDiff {
			before = map[string]any{"properties": diffProps(ch.before.props, ch.after.props)}
			after = map[string]any{"properties": diffProps(ch.after.props, ch.before.props)}
		} else {
			before = map[string]any{"properties": ch.before.props}
			after = map[string]any{"properties": ch.after.props}
		}
	}
	if ch.before != nil {
		m.propsBefore = ch.before.props
	}
	if ch.after != nil {
		m.propsAfter = ch.after.props
	}
	m.typ = ident.typ
	keys, flat := db.relKeysOf(ident)
	m.keys = flat
	start, si := tx.endpoint(ident.start)
	end, ei := tx.endpoint(ident.end)
	m.start, m.end = si, ei
	ev := map[string]any{
		"elementId": m.elementID,
		"eventType": "r",
		"operation": m.op,
		"type":      ident.typ,
		"start":     start,
		"end":       end,
		"keys":      keys,
		"state":     map[string]any{"before": before, "after": after},
	}
	return ev, m
}

// keyMap is the key of constraint c for an entity with props: property name to value, or
// false when the entity lacks one of the key properties.
func keyMap(c *keyConstraint, props map[string]any) (map[string]any, bool) {
	vals, missing := keyValues(c, props)
	if missing != "" {
		return nil, false
	}
	km := make(map[string]any, len(vals))
	for j, p := range c.props {
		km[p] = vals[j]
	}
	return km, true
}
