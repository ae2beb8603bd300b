package neo4jsim

import (
	"maps"
	"slices"
	"strings"
)

// The general executor: clauses run one after another over a materialised list of rows,
// starting from one empty row. Reads see the graph through a Tx: the statement's write
// transaction, or a read view (Database.readView) for statements that only read.

// execCtx is the state of one statement's execution.
type execCtx struct {
	db      *Database
	user    User
	params  map[string]any
	version string // the Neo4j version dbms.components() reports

	// tx is the graph as the statement sees it, nil until a clause needs the graph;
	// openTx provides it (the write transaction, or a read view).
	tx     *Tx
	openTx func() (*Tx, error)

	stats stats
	// undetached are the nodes this statement deleted without DETACH; they must have no
	// relationships left when the statement ends.
	undetached []int64
}

// stats are the update counters of a statement (SUCCESS "stats").
type stats struct {
	nodesCreated, nodesDeleted, relsCreated, relsDeleted   int64
	propsSet, labelsAdded, labelsRemoved, constraintsAdded int64
}

// rowset is the rows between two clauses and the variables in scope, in declaration order.
type rowset struct {
	vars []string
	rows []row
}

// graph returns the statement's view of the graph, opening it on first use.
func (x *execCtx) graph() (*Tx, error) {
	if x.tx == nil {
		tx, err := x.openTx()
		if err != nil {
			return nil, err
		}
		x.tx = tx
	}
	return x.tx, nil
}

// nodeState returns the current state of a node, nil if it does not exist (any more).
func (x *execCtx) nodeState(id int64) *nodeState {
	if x.tx == nil {
		return nil
	}
	st, ok := x.tx.node(id)
	if !ok {
		return nil
	}
	return st
}

func (x *execCtx) relState(id int64) *relState {
	if x.tx == nil {
		return nil
	}
	st, ok := x.tx.rel(id)
	if !ok {
		return nil
	}
	return st
}

// run executes a query and returns its columns and rows in output form.
func (x *execCtx) run(q *query) ([]string, [][]any, error) {
	rs := rowset{rows: []row{{}}}
	var fields []string
	for _, c := range q.clauses {
		var err error
		switch c := c.(type) {
		case *callClause:
			rs, err = x.callProc(c, rs)
			if len(q.clauses) == 1 {
				fields = rs.vars
			}
		case *matchClause:
			rs, err = x.match(c, rs)
		case *withClause:
			rs, err = x.project(&c.proj, rs)
			if err == nil && c.where != nil {
				rs.rows, err = x.filter(rs.rows, c.where)
			}
		case *returnClause:
			rs, err = x.project(&c.proj, rs)
			fields = rs.vars
		case *unwindClause:
			rs, err = x.unwind(c, rs)
		case *createClause:
			rs, err = x.create(c, rs)
		case *mergeClause:
			rs, err = x.merge(c, rs)
		case *setClause:
			err = x.set(c.items, rs.rows)
		case *removeClause:
			err = x.remove(c, rs.rows)
		case *deleteClause:
			err = x.delete(c, rs.rows)
		case *constraintClause:
			err = x.createConstraint(c)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if err := x.finishWrites(); err != nil {
		return nil, nil, err
	}
	if fields == nil {
		return []string{}, nil, nil
	}
	out := make([][]any, len(rs.rows))
	for i, r := range rs.rows {
		vals := make([]any, len(fields))
		for j, f := range fields {
			vals[j] = x.output(r[f])
		}
		out[i] = vals
	}
	return fields, out, nil
}

// filter keeps the rows for which where is true.
func (x *execCtx) filter(rows []row, where expr) ([]row, error) {
	out := rows[:0:0]
	for _, r := range rows {
		ok, err := x.holds(where, r)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// holds evaluates a predicate: true only for true (null and false reject).
func (x *execCtx) holds(e expr, r row) (bool, error) {
	v, err := x.eval(e, r)
	if err != nil {
		return false, err
	}
	b, isNull, err := truth(v)
	return b && !isNull, err
}

// addVars returns vars followed by the names not yet in it.
func addVars(vars []string, names ...string) []string {
	out := slices.Clip(vars)
	for _, n := range names {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// callProc runs [OPTIONAL] CALL for every row.
func (x *execCtx) callProc(c *callClause, in rowset) (rowset, error) {
	items := c.yield
	if items == nil {
		for i, col := range c.proc.columns {
			items = append(items, yieldItem{col: i, name: col})
		}
	}
	out := rowset{vars: slices.Clone(in.vars)}
	for _, it := range items {
		out.vars = addVars(out.vars, it.name)
	}
	for _, r := range in.rows {
		args, err := x.procArgs(c, r)
		if err != nil {
			return out, err
		}
		var tuples [][]any
		if c.proc.proc == procShowConstraints {
			tuples = x.db.constraintRows(c.show)
		} else {
			tuples, err = x.procedureRows(c.proc, args)
		}
		if err != nil {
			return out, err
		}
		matched := false
		for _, t := range tuples {
			nr := maps.Clone(r)
			for _, it := range items {
				nr[it.name] = t[it.col]
			}
			if c.where != nil {
				ok, err := x.holds(c.where, nr)
				if err != nil {
					return out, err
				}
				if !ok {
					continue
				}
			}
			out.rows = append(out.rows, nr)
			matched = true
		}
		if !matched && c.optional {
			nr := maps.Clone(r)
			for _, it := range items {
				nr[it.name] = nil
			}
			out.rows = append(out.rows, nr)
		}
	}
	return out, nil
}

// procedureRows runs a procedure and returns its rows, one value per output column.
func (x *execCtx) procedureRows(p *procDef, args []any) ([][]any, error) {
	switch p.proc {
	case procCurrent, procEarliest:
		get := x.db.Current
		if p.proc == procEarliest {
			get = x.db.Earliest
		}
		id, err := get()
		if err != nil {
			return nil, err
		}
		return [][]any{{id}}, nil
	case procComponents:
		return [][]any{{"Neo4j Kernel", []any{x.version}, "enterprise"}}, nil
	}
	from, selectors, err := queryArgs(args)
	if err != nil {
		return nil, err
	}
	seq, n, err := x.db.QueryIter(x.user, from, selectors)
	if err != nil {
		return nil, err
	}
	out := make([][]any, 0, n)
	for rec := range seq {
		out = append(out, []any{rec.ID, rec.TxID, rec.Seq, rec.Metadata, rec.Event})
	}
	return out, nil
}

func (x *execCtx) unwind(c *unwindClause, in rowset) (rowset, error) {
	out := rowset{vars: addVars(in.vars, c.name)}
	for _, r := range in.rows {
		v, err := x.eval(c.e, r)
		if err != nil {
			return out, err
		}
		var elems []any
		switch t := v.(type) {
		case nil:
		case []any:
			elems = t
		default:
			elems = []any{t}
		}
		for _, e := range elems {
			nr := maps.Clone(r)
			nr[c.name] = e
			out.rows = append(out.rows, nr)
		}
	}
	return out, nil
}

// project runs the body of WITH or RETURN: items (grouped when some are aggregates),
// DISTINCT, ORDER BY, SKIP and LIMIT.
func (x *execCtx) project(p *projection, in rowset) (rowset, error) {
	items := p.items
	if p.star {
		var star []projItem
		for _, v := range in.vars {
			if !slices.ContainsFunc(items, func(it projItem) bool { return it.name == v }) {
				star = append(star, projItem{e: varExpr{name: v}, name: v})
			}
		}
		items = append(star, items...)
	}
	out := rowset{}
	for _, it := range items {
		out.vars = addVars(out.vars, it.name)
	}
	aggregating := slices.ContainsFunc(items, func(it projItem) bool { return isAggregate(it.e) })
	var sortRows []row // rows the ORDER BY expressions see, parallel to out.rows
	if aggregating {
		rows, err := x.aggregate(items, in.rows)
		if err != nil {
			return out, err
		}
		out.rows, sortRows = rows, rows
	} else {
		seen := map[string]bool{}
		for _, r := range in.rows {
			nr := make(row, len(items))
			for _, it := range items {
				v, err := x.eval(it.e, r)
				if err != nil {
					return out, err
				}
				nr[it.name] = v
			}
			if p.distinct {
				k := rowKey(nr, out.vars)
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			out.rows = append(out.rows, nr)
			if p.distinct {
				sortRows = append(sortRows, nr)
			} else {
				merged := maps.Clone(r)
				maps.Copy(merged, nr)
				sortRows = append(sortRows, merged)
			}
		}
	}
	if len(p.order) > 0 {
		if err := x.sortRows(p.order, out.rows, sortRows); err != nil {
			return out, err
		}
	}
	if p.skip != nil {
		n, err := evalCount(p.skip, x.params, "SKIP")
		if err != nil {
			return out, err
		}
		out.rows = out.rows[min(n, len(out.rows)):]
	}
	if p.limit != nil {
		n, err := evalCount(p.limit, x.params, "LIMIT")
		if err != nil {
			return out, err
		}
		out.rows = out.rows[:min(n, len(out.rows))]
	}
	return out, nil
}

// rowKey renders the values of vars in r for grouping and DISTINCT.
func rowKey(r row, vars []string) string {
	var b strings.Builder
	for _, v := range vars {
		groupKey(&b, r[v])
	}
	return b.String()
}

func isAggregate(e expr) bool {
	f, ok := e.(funcExpr)
	return ok && aggregates[f.name]
}

// sortRows sorts rows (stably) by the order items evaluated on the parallel keyRows.
func (x *execCtx) sortRows(order []sortItem, rows, keyRows []row) error {
	type keyed struct {
		r    row
		keys []any
	}
	ks := make([]keyed, len(rows))
	for i := range rows {
		ks[i].r = rows[i]
		for _, o := range order {
			v, err := x.eval(o.e, keyRows[i])
			if err != nil {
				return err
			}
			ks[i].keys = append(ks[i].keys, v)
		}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		for i, o := range order {
			c := orderCompare(a.keys[i], b.keys[i])
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	for i := range ks {
		rows[i] = ks[i].r
	}
	return nil
}
