package neo4jsim

import "slices"

// Semantic checks made before a query runs, so that they fail the same way whatever the
// data: undefined variables (42N62), misplaced aggregation, in-query procedure calls
// without YIELD, and schema commands mixed with other clauses.

// check validates q and sets its reads/writes flags.
func (q *query) check() *Error {
	var scope []string
	q.fields = []string{}
	for i, c := range q.clauses {
		switch c := c.(type) {
		case *callClause:
			if c.yield == nil && len(q.clauses) > 1 {
				return syntaxError("Procedure call inside a query does not support naming results implicitly (name explicitly using `YIELD` instead)")
			}
			if len(q.clauses) == 1 {
				if c.yield == nil {
					q.fields = slices.Clone(c.proc.columns)
				}
				for _, it := range c.yield {
					q.fields = append(q.fields, it.name)
				}
			}
			for _, a := range c.args {
				if err := checkExpr(a, scope, false); err != nil {
					return err
				}
			}
			for _, it := range c.yield {
				if slices.Contains(scope, it.name) {
					return syntaxError("Variable `%s` already declared", it.name)
				}
				scope = append(scope, it.name)
			}
			if err := checkExpr(c.where, scope, false); err != nil {
				return err
			}
		case *matchClause:
			q.reads = true
			var err *Error
			if scope, err = checkPatterns(c.patterns, scope); err != nil {
				return err
			}
			if err := checkExpr(c.where, scope, false); err != nil {
				return err
			}
		case *withClause:
			next, err := checkProjection(&c.proj, scope)
			if err != nil {
				return err
			}
			scope = next
			if err := checkExpr(c.where, scope, false); err != nil {
				return err
			}
		case *returnClause:
			fields, err := checkProjection(&c.proj, scope)
			if err != nil {
				return err
			}
			q.fields = fields
		case *unwindClause:
			if err := checkExpr(c.e, scope, false); err != nil {
				return err
			}
			scope = addVars(scope, c.name)
		case *createClause:
			q.writes = true
			var err *Error
			if scope, err = checkPatterns(c.patterns, scope); err != nil {
				return err
			}
		case *mergeClause:
			q.reads, q.writes = true, true
			var err *Error
			if scope, err = checkPatterns([]pattern{c.pattern}, scope); err != nil {
				return err
			}
			for _, it := range append(slices.Clip(c.onCreate), c.onMatch...) {
				if err := checkSetItem(it, scope); err != nil {
					return err
				}
			}
		case *setClause:
			q.writes = true
			for _, it := range c.items {
				if err := checkSetItem(it, scope); err != nil {
					return err
				}
			}
		case *removeClause:
			q.writes = true
			for _, it := range c.items {
				if err := checkExpr(it.target, scope, false); err != nil {
					return err
				}
			}
		case *deleteClause:
			q.writes = true
			for _, e := range c.exprs {
				if err := checkExpr(e, scope, false); err != nil {
					return err
				}
			}
		case *constraintClause:
			if len(q.clauses) > 1 || i > 0 {
				return syntaxError("CREATE CONSTRAINT cannot be combined with other clauses")
			}
		}
	}
	return nil
}

// isSchema reports a schema command (CREATE CONSTRAINT).
func (q *query) isSchema() bool {
	_, ok := q.clauses[0].(*constraintClause)
	return ok
}

func checkSetItem(it setItem, scope []string) *Error {
	if err := checkExpr(it.target, scope, false); err != nil {
		return err
	}
	return checkExpr(it.value, scope, false)
}

// checkPatterns checks the property expressions of patterns and returns the scope with the
// pattern variables added.
func checkPatterns(pats []pattern, scope []string) ([]string, *Error) {
	scope = patternVars(scope, pats)
	for _, p := range pats {
		for _, n := range p.nodes {
			if err := checkExpr(n.props, scope, false); err != nil {
				return nil, err
			}
		}
		for _, r := range p.rels {
			if err := checkExpr(r.props, scope, false); err != nil {
				return nil, err
			}
		}
	}
	return scope, nil
}

// checkProjection checks a WITH or RETURN body and returns the scope after it.
func checkProjection(p *projection, scope []string) ([]string, *Error) {
	var next []string
	if p.star {
		if len(scope) == 0 {
			return nil, syntaxError("RETURN * is not allowed when there are no variables in scope")
		}
		next = slices.Clone(scope)
	}
	for i, it := range p.items {
		if err := checkExpr(it.e, scope, true); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(p.items[:i], func(o projItem) bool { return o.name == it.name }) {
			return nil, syntaxError("Multiple result columns with the same name `%s` are not supported", it.name)
		}
		next = addVars(next, it.name)
	}
	sortScope := addVars(slices.Clone(next), scope...)
	for _, o := range p.order {
		if err := checkExpr(o.e, sortScope, false); err != nil {
			return nil, err
		}
	}
	for _, e := range []expr{p.skip, p.limit} {
		if err := checkExpr(e, nil, false); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// checkExpr checks that e uses only variables in scope, and aggregates only at its top level
// when top is set.
func checkExpr(e expr, scope []string, top bool) *Error {
	var walk func(e expr, top bool) *Error
	walk = func(e expr, top bool) *Error {
		switch t := e.(type) {
		case nil, literalExpr, paramExpr:
		case varExpr:
			if !slices.Contains(scope, t.name) {
				return varNotDefined(t.name)
			}
		case propExpr:
			return walk(t.x, false)
		case indexExpr:
			if err := walk(t.x, false); err != nil {
				return err
			}
			return walk(t.i, false)
		case listExpr:
			for _, it := range t.items {
				if err := walk(it, false); err != nil {
					return err
				}
			}
		case mapExpr:
			for _, v := range t.vals {
				if err := walk(v, false); err != nil {
					return err
				}
			}
		case binaryExpr:
			if err := walk(t.l, false); err != nil {
				return err
			}
			return walk(t.r, false)
		case notExpr:
			return walk(t.x, false)
		case negExpr:
			return walk(t.x, false)
		case isNullExpr:
			return walk(t.x, false)
		case labelTestExpr:
			return walk(t.x, false)
		case funcExpr:
			if aggregates[t.name] && !top {
				return misplacedAggregate(t.name)
			}
			for _, a := range t.args {
				if err := walk(a, false); err != nil {
					return err
				}
			}
		case caseExpr:
			for _, x := range append(append([]expr{t.subject, t.els}, t.whens...), t.thens...) {
				if err := walk(x, false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(e, top)
}
