package neo4jsim

import (
	"fmt"
	"strings"
)

// SHOW CONSTRAINTS: the Neo4j 5 command that lists constraints, as a procedure-like clause.
// Supported forms: SHOW [ALL | KEY | NODE KEY | RELATIONSHIP KEY | UNIQUE | NODE UNIQUE |
// RELATIONSHIP UNIQUE] CONSTRAINT[S] [YIELD * | YIELD col [AS v], ... [WHERE pred]], then
// optional RETURN, as after CALL. The columns are Neo4j's default ones: id, name, type
// (NODE_KEY, RELATIONSHIP_KEY, UNIQUENESS, RELATIONSHIP_UNIQUENESS), entityType (NODE or
// RELATIONSHIP), labelsOrTypes, properties, ownedIndex and propertyType (always null: the
// simulator has no type constraints). Rows come in creation order, node constraints first.
// Choice: constraint names are "constraint_<id>" (Neo4j generates a hash), and ownedIndex is
// the same name, as Neo4j names a constraint's backing index after it.

// showConstraintsProc is the procedure definition of SHOW CONSTRAINTS; it is not callable
// with CALL.
var showConstraintsProc = &procDef{name: "SHOW CONSTRAINTS", proc: procShowConstraints,
	columns: []string{"id", "name", "type", "entityType", "labelsOrTypes", "properties", "ownedIndex", "propertyType"}}

// show parses the rest of SHOW ... CONSTRAINTS into a callClause.
func (p *parser) show() (clause, *Error) {
	pos := p.peek().pos
	filter := "ALL"
	switch {
	case p.keyword("ALL"):
	case p.keywords("NODE", "KEY"):
		filter = "NODE KEY"
	case p.keywords("RELATIONSHIP", "KEY"), p.keywords("REL", "KEY"):
		filter = "RELATIONSHIP KEY"
	case p.keywords("NODE", "UNIQUE"):
		filter = "NODE UNIQUE"
	case p.keywords("RELATIONSHIP", "UNIQUE"), p.keywords("REL", "UNIQUE"):
		filter = "RELATIONSHIP UNIQUE"
	case p.keyword("KEY"):
		filter = "KEY"
	case p.keyword("UNIQUE"):
		filter = "UNIQUE"
	}
	if !p.keyword("CONSTRAINTS") && !p.keyword("CONSTRAINT") {
		return nil, unsupported("SHOW " + strings.ToUpper(p.peek().text))
	}
	c := &callClause{proc: showConstraintsProc, name: "SHOW " + filter + " CONSTRAINTS", show: filter, pos: pos}
	if !p.keyword("YIELD") {
		return c, nil
	}
	if err := p.yield(c); err != nil {
		return nil, err
	}
	if p.keyword("WHERE") {
		w, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.where = w
	}
	return c, nil
}

// constraintRows returns the SHOW CONSTRAINTS rows of filter (showConstraintsProc.columns).
func (db *Database) constraintRows(filter string) [][]any {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var out [][]any
	id := int64(0)
	for _, rel := range []bool{false, true} {
		list := db.nodeKeys
		entity := "NODE"
		if rel {
			list, entity = db.relKeys, "RELATIONSHIP"
		}
		for _, c := range list {
			id++
			typ := map[[2]bool]string{{false, false}: "NODE_KEY", {true, false}: "RELATIONSHIP_KEY",
				{false, true}: "UNIQUENESS", {true, true}: "RELATIONSHIP_UNIQUENESS"}[[2]bool{rel, c.unique}]
			want := filter == "ALL" ||
				filter == "KEY" && !c.unique || filter == "UNIQUE" && c.unique ||
				filter == entity+" KEY" && !c.unique || filter == entity+" UNIQUE" && c.unique
			if !want {
				continue
			}
			props := make([]any, len(c.props))
			for i, p := range c.props {
				props[i] = p
			}
			name := fmt.Sprintf("constraint_%d", id)
			out = append(out, []any{id, name, typ, entity, []any{c.target}, props, name, nil})
		}
	}
	return out
}
