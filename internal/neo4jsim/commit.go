package neo4jsim

import (
	"fmt"
	"slices"
	"strings"
)

// nodeChange and relChange are the net effect of a transaction on one entity. before is nil
// for a create, after is nil for a delete.
type nodeChange struct {
	id            int64
	before, after *nodeState
}

type relChange struct {
	id            int64
	before, after *relState
}

// keyPlan is how a commit changes one constraint's uniqueness index.
type keyPlan struct {
	c       *keyConstraint
	removed []string
	added   map[string]int64
}

// netChanges reduces the transaction state to one change per entity, ascending by id.
func (tx *Tx) netChanges() ([]nodeChange, []relChange) {
	var nodes []nodeChange
	for _, id := range slices.Sorted(mapsKeys(tx.nodes)) {
		b, a := tx.nodeBefore[id], tx.nodes[id]
		if b == nil && a == nil {
			continue
		}
		if b != nil && a != nil && slices.Equal(b.labels, a.labels) && propsEqual(b.props, a.props) {
			continue
		}
		nodes = append(nodes, nodeChange{id: id, before: b, after: a})
	}
	var rels []relChange
	for _, id := range slices.Sorted(mapsKeys(tx.rels)) {
		b, a := tx.relBefore[id], tx.rels[id]
		if b == nil && a == nil {
			continue
		}
		if b != nil && a != nil && propsEqual(b.props, a.props) {
			continue
		}
		rels = append(rels, relChange{id: id, before: b, after: a})
	}
	return nodes, rels
}

func mapsKeys[V any](m map[int64]V) func(func(int64) bool) {
	return func(yield func(int64) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// keyValues returns the values of a constraint's properties, or the first missing property.
func keyValues(c *keyConstraint, props map[string]any) ([]any, string) {
	vals := make([]any, len(c.props))
	for i, p := range c.props {
		v, ok := props[p]
		if !ok {
			return nil, p
		}
		vals[i] = v
	}
	return vals, ""
}

// constraintError is a commit-time constraint violation. GQLSTATUS (a choice: Neo4j 5.26's
// values are not documented per message): 22N77 (property presence verification failed) for
// a missing key property, 22N79 (property uniqueness constraint violated) for a duplicate.
func constraintError(gql, msg string, args ...any) *Error {
	return &Error{Code: "Neo.ClientError.Schema.ConstraintValidationFailed", GQLStatus: gql, Message: fmt.Sprintf(msg, args...)}
}

// planKeys validates key constraints (existence and uniqueness) against the net changes and
// returns the index updates to apply at commit.
func (tx *Tx) planKeys(nodes []nodeChange, rels []relChange) ([]keyPlan, error) {
	var plans []keyPlan
	for i := range tx.db.nodeKeys {
		c := &tx.db.nodeKeys[i]
		p := keyPlan{c: c, added: map[string]int64{}}
		for _, ch := range nodes {
			if ch.before != nil && slices.Contains(ch.before.labels, c.target) {
				if vals, missing := keyValues(c, ch.before.props); missing == "" {
					p.removed = append(p.removed, encodeKeyValues(vals))
				}
			}
		}
		for _, ch := range nodes {
			if ch.after == nil || !slices.Contains(ch.after.labels, c.target) {
				continue
			}
			vals, missing := keyValues(c, ch.after.props)
			if missing != "" && c.unique {
				continue
			}
			if missing != "" {
				return nil, constraintError("22N77", "Node(%d) with label `%s` must have the property `%s`", ch.id, c.target, missing)
			}
			if err := p.add(encodeKeyValues(vals), ch.id); err != nil {
				return nil, constraintError("22N79", "Node(%d) already exists with label `%s` and %s", err.other, c.target, describeKey(c, vals))
			}
		}
		plans = append(plans, p)
	}
	for i := range tx.db.relKeys {
		c := &tx.db.relKeys[i]
		p := keyPlan{c: c, added: map[string]int64{}}
		for _, ch := range rels {
			if ch.before != nil && ch.before.typ == c.target {
				if vals, missing := keyValues(c, ch.before.props); missing == "" {
					p.removed = append(p.removed, encodeKeyValues(vals))
				}
			}
		}
		for _, ch := range rels {
			if ch.after == nil || ch.after.typ != c.target {
				continue
			}
			vals, missing := keyValues(c, ch.after.props)
			if missing != "" && c.unique {
				continue
			}
			if missing != "" {
				return nil, constraintError("22N77", "Relationship(%d) with type `%s` must have the property `%s`", ch.id, c.target, missing)
			}
			if err := p.add(encodeKeyValues(vals), ch.id); err != nil {
				return nil, constraintError("22N79", "Relationship(%d) already exists with type `%s` and %s", err.other, c.target, describeKey(c, vals))
			}
		}
		plans = append(plans, p)
	}
	return plans, nil
}

type dupKey struct{ other int64 }

func (p *keyPlan) add(enc string, id int64) *dupKey {
	if other, ok := p.added[enc]; ok && other != id {
		return &dupKey{other}
	}
	if other, ok := p.c.index[enc]; ok && other != id && !slices.Contains(p.removed, enc) {
		return &dupKey{other}
	}
	p.added[enc] = id
	return nil
}

func describeKey(c *keyConstraint, vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprintf("`%s` = %v", c.props[i], v)
	}
	if len(parts) == 1 {
		return "property " + parts[0]
	}
	return "properties " + strings.Join(parts, ", ")
}

// commit validates, logs and publishes the transaction.
func (tx *Tx) commit(s Session) (int64, error) {
	db := tx.db
	nodes, rels := tx.netChanges()
	if len(nodes) == 0 && len(rels) == 0 {
		return 0, nil
	}
	plans, err := tx.planKeys(nodes, rels)
	if err != nil {
		return 0, err
	}
	commitTime := db.dbms.now()
	// Only writers change mode and lastTx, and this goroutine holds writeMu: no lock needed
	// to read them here.
	txID := db.lastTx + 1
	var recs []Record
	if db.mode != ModeOff {
		recs = tx.buildRecords(s, txID, commitTime, nodes, rels)
	}

	db.mu.Lock()
	defer db.mu.Unlock()
	for l, t := range tx.newLabels {
		db.labelTokens[l] = t
	}
	for _, p := range plans {
		for _, k := range p.removed {
			delete(p.c.index, k)
		}
		for k, id := range p.added {
			p.c.index[k] = id
		}
	}
	for _, ch := range rels {
		if ch.after == nil {
			delete(db.rels, ch.id)
			delete(db.adj[ch.before.start], ch.id)
			delete(db.adj[ch.before.end], ch.id)
			continue
		}
		db.rels[ch.id] = ch.after
		for _, n := range []int64{ch.after.start, ch.after.end} {
			if db.adj[n] == nil {
				db.adj[n] = make(map[int64]struct{})
			}
			db.adj[n][ch.id] = struct{}{}
		}
	}
	for _, ch := range nodes {
		if ch.after == nil {
			delete(db.nodes, ch.id)
			delete(db.adj, ch.id)
			continue
		}
		db.nodes[ch.id] = ch.after
	}
	db.nextNode, db.nextRel = tx.nextNode, tx.nextRel
	return db.appendTxLocked(commitTime.UnixMilli(), recs), nil
}
