package neo4jsim

import (
	"fmt"
	"maps"
	"slices"
)

// The updating clauses. They change the graph through the same Tx methods as the Go API
// (tx.go), so a statement's changes are committed, validated and logged exactly like a
// Database.Write transaction.

// writable returns the statement's transaction for a change.
func (x *execCtx) writable() (*Tx, error) {
	tx, err := x.graph()
	if err != nil {
		return nil, err
	}
	if err := tx.check(); err != nil {
		return nil, err
	}
	return tx, nil
}

func (x *execCtx) create(c *createClause, in rowset) (rowset, error) {
	out := rowset{vars: patternVars(slices.Clone(in.vars), c.patterns)}
	tx, err := x.writable()
	if err != nil {
		return out, err
	}
	for _, r := range in.rows {
		nr := maps.Clone(r)
		for _, p := range c.patterns {
			if err := x.createPattern(tx, p, nr); err != nil {
				return out, err
			}
		}
		out.rows = append(out.rows, nr)
	}
	return out, nil
}

// createPattern creates the unbound nodes and all relationships of p, binding them in r.
func (x *execCtx) createPattern(tx *Tx, p pattern, r row) error {
	ids := make([]int64, len(p.nodes))
	for i, np := range p.nodes {
		if v, bound := r[np.v]; np.v != "" && bound {
			n, ok := v.(nodeRef)
			if !ok || x.nodeState(n.id) == nil {
				return typeMismatch("Expected `%s` to be a node, but it was %s", np.v, cypherType(v))
			}
			if len(np.labels) > 0 || np.props != nil {
				return syntaxError("Can't create node `%s` with labels or properties here. The variable is already declared in this context", np.v)
			}
			ids[i] = n.id
			continue
		}
		props, err := x.patternMap(np.props, r)
		if np.props == nil {
			props, err = nil, nil
		}
		if err != nil {
			return err
		}
		eid, err := tx.CreateNode(np.labels, props)
		if err != nil {
			return err
		}
		id, _ := tx.db.parseElementID(eid, '4')
		ids[i] = id
		x.stats.nodesCreated++
		x.stats.labelsAdded += int64(len(np.labels))
		x.stats.propsSet += countNonNull(props)
		if np.v != "" {
			r[np.v] = nodeRef{id}
		}
	}
	for i, rp := range p.rels {
		if rp.v != "" {
			if _, bound := r[rp.v]; bound {
				return syntaxError("Can't create relationship `%s`: the variable is already declared in this context", rp.v)
			}
		}
		if len(rp.types) != 1 {
			return syntaxError("Exactly one relationship type must be specified for CREATE. Did you forget to prefix your relationship type with a ':'?")
		}
		if rp.dir == dirBoth {
			return syntaxError("Only directed relationships are supported in CREATE and MERGE")
		}
		var props map[string]any
		if rp.props != nil {
			var err error
			if props, err = x.patternMap(rp.props, r); err != nil {
				return err
			}
		}
		start, end := ids[i], ids[i+1]
		if rp.dir == dirLeft {
			start, end = end, start
		}
		eid, err := tx.CreateRelationship(rp.types[0], tx.db.nodeElementID(start), tx.db.nodeElementID(end), props)
		if err != nil {
			return err
		}
		id, _ := tx.db.parseElementID(eid, '5')
		x.stats.relsCreated++
		x.stats.propsSet += countNonNull(props)
		if rp.v != "" {
			r[rp.v] = relRef{id}
		}
	}
	return nil
}

func countNonNull(m map[string]any) int64 {
	var n int64
	for _, v := range m {
		if v != nil {
			n++
		}
	}
	return n
}

func (x *execCtx) merge(c *mergeClause, in rowset) (rowset, error) {
	pats := []pattern{c.pattern}
	out := rowset{vars: patternVars(slices.Clone(in.vars), pats)}
	tx, err := x.writable()
	if err != nil {
		return out, err
	}
	for _, r := range in.rows {
		if err := x.mergeNulls(c.pattern, r); err != nil {
			return out, err
		}
		var matches []row
		if err := x.matchPatterns(pats, r, map[int64]bool{}, func(m row) error {
			matches = append(matches, m)
			return nil
		}); err != nil {
			return out, err
		}
		if len(matches) > 0 {
			if err := x.set(c.onMatch, matches); err != nil {
				return out, err
			}
			out.rows = append(out.rows, matches...)
			continue
		}
		nr := maps.Clone(r)
		if err := x.createPattern(tx, c.pattern, nr); err != nil {
			return out, err
		}
		if err := x.mergeConflict(tx, c.pattern); err != nil {
			return out, err
		}
		if err := x.set(c.onCreate, []row{nr}); err != nil {
			return out, err
		}
		out.rows = append(out.rows, nr)
	}
	return out, nil
}

// mergeNulls rejects null property values in a MERGE pattern, as Neo4j does.
func (x *execCtx) mergeNulls(p pattern, r row) error {
	check := func(e expr) error {
		if e == nil {
			return nil
		}
		m, err := x.patternMap(e, r)
		if err != nil {
			return err
		}
		for _, k := range sortedKeys(m) {
			if m[k] == nil {
				return &Error{Code: "Neo.ClientError.Statement.SemanticError", GQLStatus: "22N31",
					Message: fmt.Sprintf("Cannot merge the following node because of null property value for '%s'", k)}
			}
		}
		return nil
	}
	for _, n := range p.nodes {
		if err := check(n.props); err != nil {
			return err
		}
	}
	for _, rp := range p.rels {
		if err := check(rp.props); err != nil {
			return err
		}
	}
	return nil
}

// mergeConflict reports a MERGE whose created entity clashes with a key or uniqueness
// constraint: Neo4j fails it with 22N41 rather than creating a duplicate.
func (x *execCtx) mergeConflict(tx *Tx, p pattern) error {
	nodes, rels := tx.netChanges()
	if _, err := tx.planKeys(nodes, rels); err != nil {
		if e, ok := err.(*Error); ok && e.GQLStatus == "22N79" {
			v := ""
			if len(p.nodes) > 0 {
				v = p.nodes[0].v
			}
			return &Error{Code: "Neo.ClientError.Schema.ConstraintValidationFailed", GQLStatus: "22N41",
				Message: fmt.Sprintf("The MERGE clause did not find a matching node (%s) and cannot create a new node due to conflicts with existing uniqueness constraints: %s", v, e.Message)}
		}
		return err
	}
	return nil
}

// set applies SET items to every row.
func (x *execCtx) set(items []setItem, rows []row) error {
	if len(items) == 0 {
		return nil
	}
	tx, err := x.writable()
	if err != nil {
		return err
	}
	for _, r := range rows {
		for _, it := range items {
			if err := x.setOne(tx, it, r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (x *execCtx) setOne(tx *Tx, it setItem, r row) error {
	target, err := x.eval(it.target, r)
	if err != nil || target == nil {
		return err
	}
	eid, isNode, err := x.entity(target)
	if err != nil {
		return err
	}
	setProp := tx.SetNodeProperty
	if !isNode {
		setProp = tx.SetRelationshipProperty
	}
	switch it.kind {
	case setKindLabels:
		if !isNode {
			return typeMismatch("Type mismatch: expected Node but was Relationship for SET of labels")
		}
		st := x.nodeState(mustID(tx, eid, '4'))
		for _, l := range it.labels {
			if !slices.Contains(st.labels, l) {
				x.stats.labelsAdded++
			}
		}
		return tx.AddLabels(eid, it.labels...)
	case setKindProperty:
		v, err := x.eval(it.value, r)
		if err != nil {
			return err
		}
		x.stats.propsSet++
		return setProp(eid, it.key, v)
	}
	v, err := x.eval(it.value, r)
	if err != nil {
		return err
	}
	m, ok, err := x.propsOf(v)
	if err != nil {
		return err
	}
	if !ok && v != nil {
		return typeMismatch("Expected a MAP, node or relationship to SET %s, got %s", map[int]string{setKindReplace: "=", setKindMerge: "+="}[it.kind], cypherType(v))
	}
	m = maps.Clone(m)
	if it.kind == setKindReplace {
		current, _, err := x.propsOf(target)
		if err != nil {
			return err
		}
		for _, k := range sortedKeys(current) {
			if _, keep := m[k]; !keep {
				m[k] = nil
			}
		}
	}
	for _, k := range sortedKeys(m) {
		x.stats.propsSet++
		if err := setProp(eid, k, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// entity returns the element id of a node or relationship value.
func (x *execCtx) entity(v any) (eid string, isNode bool, err error) {
	switch t := v.(type) {
	case nodeRef:
		if x.nodeState(t.id) == nil {
			return "", false, deletedEntity("Node", x.db.nodeElementID(t.id))
		}
		return x.db.nodeElementID(t.id), true, nil
	case relRef:
		if x.relState(t.id) == nil {
			return "", false, deletedEntity("Relationship", x.db.relElementID(t.id))
		}
		return x.db.relElementID(t.id), false, nil
	}
	return "", false, typeMismatch("Expected a node or relationship, got %s", cypherType(v))
}

func mustID(tx *Tx, eid string, kind byte) int64 {
	id, _ := tx.db.parseElementID(eid, kind)
	return id
}

func (x *execCtx) remove(c *removeClause, rows []row) error {
	tx, err := x.writable()
	if err != nil {
		return err
	}
	for _, r := range rows {
		for _, it := range c.items {
			target, err := x.eval(it.target, r)
			if err != nil {
				return err
			}
			if target == nil {
				continue
			}
			eid, isNode, err := x.entity(target)
			if err != nil {
				return err
			}
			if it.labels != nil {
				if !isNode {
					return typeMismatch("Type mismatch: expected Node but was Relationship for REMOVE of labels")
				}
				st := x.nodeState(mustID(tx, eid, '4'))
				for _, l := range it.labels {
					if slices.Contains(st.labels, l) {
						x.stats.labelsRemoved++
					}
				}
				if err := tx.RemoveLabels(eid, it.labels...); err != nil {
					return err
				}
				continue
			}
			props, _, _ := x.propsOf(target)
			if _, had := props[it.key]; had {
				x.stats.propsSet++
			}
			if isNode {
				err = tx.RemoveNodeProperty(eid, it.key)
			} else {
				err = tx.RemoveRelationshipProperty(eid, it.key)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// delete deletes nodes and relationships. A node deleted without DETACH may still have
// relationships until the statement ends (the same statement may delete them); finishWrites
// checks that none are left.
func (x *execCtx) delete(c *deleteClause, rows []row) error {
	tx, err := x.writable()
	if err != nil {
		return err
	}
	for _, r := range rows {
		for _, e := range c.exprs {
			v, err := x.eval(e, r)
			if err != nil {
				return err
			}
			if err := x.deleteValue(tx, v, c.detach); err != nil {
				return err
			}
		}
	}
	return nil
}

func (x *execCtx) deleteValue(tx *Tx, v any, detach bool) error {
	switch t := v.(type) {
	case nil:
		return nil
	case nodeRef:
		if x.nodeState(t.id) == nil {
			return nil // already deleted by this transaction
		}
		eid := tx.db.nodeElementID(t.id)
		if detach {
			x.stats.relsDeleted += int64(len(tx.relsOf(t.id)))
			x.stats.nodesDeleted++
			return tx.DeleteNode(eid, true)
		}
		if _, _, err := tx.touchNode(eid); err != nil {
			return err
		}
		tx.nodes[t.id] = nil
		x.undetached = append(x.undetached, t.id)
		x.stats.nodesDeleted++
		return nil
	case relRef:
		if x.relState(t.id) == nil {
			return nil
		}
		x.stats.relsDeleted++
		return tx.DeleteRelationship(tx.db.relElementID(t.id))
	case []any:
		for _, e := range t {
			if err := x.deleteValue(tx, e, detach); err != nil {
				return err
			}
		}
		return nil
	}
	return typeMismatch("Expected a node or relationship to DELETE, got %s", cypherType(v))
}

// finishWrites ends a statement that wrote: nodes deleted without DETACH must have no
// relationships left, and the key and uniqueness constraints must hold (Neo4j checks them
// per statement, so the failing statement is the one that breaks them).
func (x *execCtx) finishWrites() error {
	tx := x.tx
	if tx == nil || tx.readOnly {
		return nil
	}
	for _, id := range x.undetached {
		if _, live := tx.node(id); live {
			continue
		}
		if len(tx.relsOf(id)) > 0 {
			return &Error{Code: "Neo.ClientError.Schema.ConstraintValidationFailed",
				Message: fmt.Sprintf("Cannot delete node<%d>, because it still has relationships. To delete this node, you must first delete its relationships.", id)}
		}
	}
	x.undetached = nil
	nodes, rels := tx.netChanges()
	_, err := tx.planKeys(nodes, rels)
	return err
}

// createConstraint runs CREATE CONSTRAINT. Schema commands run alone in their own
// transaction (the Bolt layer makes sure no write transaction is open).
func (x *execCtx) createConstraint(c *constraintClause) error {
	err := x.db.createKey(c.rel, c.unique, c.target, c.props)
	if e, ok := err.(*Error); ok && e.Code == "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists" && c.ifNotExists {
		return nil
	}
	if err == nil {
		x.stats.constraintsAdded++
	}
	return err
}
