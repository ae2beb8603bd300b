package neo4jsim

import (
	"maps"
	"slices"
)

// Pattern matching for MATCH and MERGE. Nodes are scanned in id order and relationships
// expanded in id order; within one MATCH a relationship is matched at most once per row, as
// Cypher's relationship isomorphism requires.

// liveNodeIDs returns the ids of every node in the transaction's view, ascending.
func (tx *Tx) liveNodeIDs() []int64 {
	ids := make([]int64, 0, len(tx.db.nodes)+len(tx.nodes))
	for id := range tx.db.nodes {
		if st, touched := tx.nodes[id]; touched && st == nil {
			continue
		}
		ids = append(ids, id)
	}
	for id, st := range tx.nodes {
		if _, committed := tx.db.nodes[id]; st != nil && !committed {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// patternVars returns the variables the patterns introduce that are not in vars.
func patternVars(vars []string, pats []pattern) []string {
	out := vars
	for _, p := range pats {
		for i, n := range p.nodes {
			out = addVars(out, n.v)
			if i < len(p.rels) {
				out = addVars(out, p.rels[i].v)
			}
		}
	}
	return out
}

func (x *execCtx) match(c *matchClause, in rowset) (rowset, error) {
	out := rowset{vars: patternVars(slices.Clone(in.vars), c.patterns)}
	if _, err := x.graph(); err != nil {
		return out, err
	}
	for _, r := range in.rows {
		matched := false
		err := x.matchPatterns(c.patterns, r, map[int64]bool{}, func(m row) error {
			if c.where != nil {
				ok, err := x.holds(c.where, m)
				if err != nil || !ok {
					return err
				}
			}
			out.rows = append(out.rows, m)
			matched = true
			return nil
		})
		if err != nil {
			return out, err
		}
		if !matched && c.optional {
			nr := maps.Clone(r)
			for _, v := range out.vars {
				if _, ok := nr[v]; !ok {
					nr[v] = nil
				}
			}
			out.rows = append(out.rows, nr)
		}
	}
	return out, nil
}

// matchPatterns calls emit with r extended by every match of all the patterns.
func (x *execCtx) matchPatterns(pats []pattern, r row, used map[int64]bool, emit func(row) error) error {
	if len(pats) == 0 {
		return emit(maps.Clone(r))
	}
	return x.matchFrom(pats[0], 0, r, used, func(m row) error {
		return x.matchPatterns(pats[1:], m, used, emit)
	})
}

// matchFrom matches node i of pat and everything after it.
func (x *execCtx) matchFrom(pat pattern, i int, r row, used map[int64]bool, emit func(row) error) error {
	np := pat.nodes[i]
	try := func(id int64) error {
		ok, err := x.nodeMatches(np, id, r)
		if err != nil || !ok {
			return err
		}
		bound := false
		if np.v != "" {
			if _, bound = r[np.v]; !bound {
				r[np.v] = nodeRef{id}
			}
		}
		err = x.expand(pat, i, id, r, used, emit)
		if np.v != "" && !bound {
			delete(r, np.v)
		}
		return err
	}
	if np.v != "" {
		if v, ok := r[np.v]; ok {
			n, isNode := v.(nodeRef)
			if v == nil {
				return nil
			}
			if !isNode {
				return typeMismatch("Type mismatch: expected Node but was %s for `%s`", cypherType(v), np.v)
			}
			return try(n.id)
		}
	}
	if i > 0 {
		return nil // reached only through expand, which binds the node
	}
	for _, id := range x.tx.liveNodeIDs() {
		if err := try(id); err != nil {
			return err
		}
	}
	return nil
}

// expand follows relationship i of pat from node id, then matches node i+1.
func (x *execCtx) expand(pat pattern, i int, id int64, r row, used map[int64]bool, emit func(row) error) error {
	if i == len(pat.rels) {
		return emit(maps.Clone(r))
	}
	rp := pat.rels[i]
	for _, rid := range x.tx.relsOf(id) {
		if used[rid] {
			continue
		}
		st, _ := x.tx.rel(rid)
		var others []int64
		if (rp.dir == dirRight || rp.dir == dirBoth) && st.start == id {
			others = append(others, st.end)
		}
		if (rp.dir == dirLeft || rp.dir == dirBoth) && st.end == id && !(rp.dir == dirBoth && st.start == id) {
			others = append(others, st.start)
		}
		if len(others) == 0 {
			continue
		}
		ok, err := x.relMatches(rp, rid, st, r)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		bound := false
		if rp.v != "" {
			if _, bound = r[rp.v]; !bound {
				r[rp.v] = relRef{rid}
			}
		}
		used[rid] = true
		for _, other := range others {
			next := pat.nodes[i+1]
			if next.v != "" {
				if v, ok := r[next.v]; ok {
					if n, isNode := v.(nodeRef); !isNode || n.id != other {
						continue
					}
				}
			}
			if err := x.matchNext(pat, i+1, other, r, used, emit); err != nil {
				return err
			}
		}
		used[rid] = false
		if rp.v != "" && !bound {
			delete(r, rp.v)
		}
	}
	return nil
}

// matchNext matches node i (reached by a relationship) as the node id.
func (x *execCtx) matchNext(pat pattern, i int, id int64, r row, used map[int64]bool, emit func(row) error) error {
	np := pat.nodes[i]
	ok, err := x.nodeMatches(np, id, r)
	if err != nil || !ok {
		return err
	}
	bound := false
	if np.v != "" {
		if _, bound = r[np.v]; !bound {
			r[np.v] = nodeRef{id}
		}
	}
	err = x.expand(pat, i, id, r, used, emit)
	if np.v != "" && !bound {
		delete(r, np.v)
	}
	return err
}

// nodeMatches checks labels and properties of a node pattern.
func (x *execCtx) nodeMatches(np nodePattern, id int64, r row) (bool, error) {
	st, ok := x.tx.node(id)
	if !ok || !hasLabels(st, np.labels) {
		return false, nil
	}
	return x.propsMatch(np.props, st.props, r)
}

func (x *execCtx) relMatches(rp relPattern, id int64, st *relState, r row) (bool, error) {
	if rp.v != "" {
		if v, ok := r[rp.v]; ok {
			if rr, isRel := v.(relRef); !isRel || rr.id != id {
				return false, nil
			}
		}
	}
	if len(rp.types) > 0 && !slices.Contains(rp.types, st.typ) {
		return false, nil
	}
	return x.propsMatch(rp.props, st.props, r)
}

// propsMatch checks the property map of a pattern against an entity's properties.
func (x *execCtx) propsMatch(e expr, props map[string]any, r row) (bool, error) {
	if e == nil {
		return true, nil
	}
	m, err := x.patternMap(e, r)
	if err != nil {
		return false, err
	}
	for k, want := range m {
		have, ok := props[k]
		if !ok || want == nil || !cypherEqual(have, want) {
			return false, nil
		}
	}
	return true, nil
}

// patternMap evaluates the property map of a pattern.
func (x *execCtx) patternMap(e expr, r row) (map[string]any, error) {
	v, err := x.eval(e, r)
	if err != nil {
		return nil, err
	}
	switch m := v.(type) {
	case map[string]any:
		return m, nil
	case nil:
		return map[string]any{}, nil
	}
	return nil, typeMismatch("Expected a MAP of properties in a pattern, got %s", cypherType(v))
}
