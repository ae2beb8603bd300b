package neo4jsim

import (
	"fmt"
	"strings"
)

// The procedures the simulator offers, and the CDC fast path. Every statement is parsed to
// a syntax tree (cypher_parse*.go); a statement that is just a CDC procedure call, with or
// without YIELD, RETURN of yielded variables and LIMIT, compiles to a statement that
// result.go streams straight from the log's immutable records, with no per-row allocation.
// Every other statement runs in the general executor (cypher_exec*.go).

// procedure identifies the procedure a statement calls.
type procedure int

const (
	procRows            procedure = iota // general executor: rows of values
	procCurrent                          // db.cdc.current()
	procEarliest                         // db.cdc.earliest()
	procQuery                            // db.cdc.query(from, selectors)
	procComponents                       // dbms.components(), for clients that check version and edition
	procShowConstraints                  // SHOW ... CONSTRAINTS (cypher_show.go), general executor only
)

// procDef describes one callable procedure.
type procDef struct {
	name    string // canonical name
	proc    procedure
	columns []string // output columns, in order
	params  []string // argument names, in order; every argument is optional
	// replacement names the procedure that replaces a deprecated one ("" if current).
	replacement string
}

// cdcColumns are the output columns of db.cdc.query, in order; current and earliest yield
// the first one only.
var cdcColumns = []string{"id", "txId", "seq", "metadata", "event"}

// Column indexes into cdcColumns.
const (
	colID = iota
	colTxID
	colSeq
	colMetadata
	colEvent
)

// procedures are the callable procedures. The cdc.* names are the Neo4j 5.x ones,
// deprecated in favour of db.cdc.* and still callable; calling them adds a deprecation
// notification to the result.
var procedures = []*procDef{
	{name: "db.cdc.current", proc: procCurrent, columns: cdcColumns[:1]},
	{name: "db.cdc.earliest", proc: procEarliest, columns: cdcColumns[:1]},
	{name: "db.cdc.query", proc: procQuery, columns: cdcColumns, params: []string{"from", "selectors"}},
	{name: "cdc.current", proc: procCurrent, columns: cdcColumns[:1], replacement: "db.cdc.current"},
	{name: "cdc.earliest", proc: procEarliest, columns: cdcColumns[:1], replacement: "db.cdc.earliest"},
	{name: "cdc.query", proc: procQuery, columns: cdcColumns, params: []string{"from", "selectors"}, replacement: "db.cdc.query"},
	{name: "dbms.components", proc: procComponents, columns: []string{"name", "versions", "edition"}},
}

// lookupProcedure finds a procedure by name, case-insensitively; nil if there is none.
func lookupProcedure(name string) *procDef {
	for _, d := range procedures {
		if strings.EqualFold(d.name, name) {
			return d
		}
	}
	return nil
}

// statement is a compiled CDC procedure call on the fast path.
type statement struct {
	proc     procedure
	call     *callClause
	fields   []string // output column names
	cols     []int    // source column (index into the procedure's columns) of each field
	limit    expr     // LIMIT expression, nil when absent
	hasLimit bool
}

// plan is a compiled query: the fast path, or the syntax tree for the general executor.
type plan struct {
	q     *query
	fast  *statement
	notes []notification
}

// compile parses a query and chooses its execution path.
func compile(text string) (*plan, *Error) {
	q, err := parseQuery(text)
	if err != nil {
		return nil, err
	}
	if err := q.check(); err != nil {
		return nil, err
	}
	pl := &plan{q: q, fast: fastPath(q)}
	for _, c := range q.clauses {
		if call, ok := c.(*callClause); ok && call.proc.replacement != "" {
			pl.notes = append(pl.notes, deprecatedProcedure(text, call))
		}
	}
	return pl, nil
}

// parseStatement compiles a query that must take the fast path (tests use it).
func parseStatement(text string) (*statement, *Error) {
	pl, err := compile(text)
	if err != nil {
		return nil, err
	}
	if pl.fast == nil {
		return nil, syntaxError("not a CDC procedure call")
	}
	return pl.fast, nil
}

// fastPath returns the fast-path statement for a query of the form
// CALL proc(args) [YIELD ...] [RETURN var [AS alias], ... | RETURN *] [LIMIT n], or nil.
func fastPath(q *query) *statement {
	if q.explain || len(q.clauses) > 2 {
		return nil
	}
	call, ok := q.clauses[0].(*callClause)
	if !ok || call.optional || call.where != nil || call.implicit && len(call.proc.params) > 0 || call.proc.proc == procShowConstraints {
		return nil
	}
	st := &statement{proc: call.proc.proc, call: call}
	items := call.yield
	if items == nil {
		if len(q.clauses) > 1 {
			return nil
		}
		for i, c := range call.proc.columns {
			items = append(items, yieldItem{col: i, name: c})
		}
	}
	if len(q.clauses) == 1 {
		for _, it := range items {
			st.fields, st.cols = append(st.fields, it.name), append(st.cols, it.col)
		}
		return st
	}
	ret, ok := q.clauses[1].(*returnClause)
	if !ok || ret.proj.distinct || ret.proj.order != nil || ret.proj.skip != nil {
		return nil
	}
	if ret.proj.star {
		if len(ret.proj.items) > 0 {
			return nil
		}
		for _, it := range items {
			st.fields, st.cols = append(st.fields, it.name), append(st.cols, it.col)
		}
	}
	for _, pi := range ret.proj.items {
		v, ok := pi.e.(varExpr)
		if !ok {
			return nil
		}
		col := -1
		for _, it := range items {
			if it.name == v.name {
				col = it.col
			}
		}
		if col < 0 {
			return nil // the general executor reports the undefined variable
		}
		st.fields, st.cols = append(st.fields, pi.name), append(st.cols, col)
	}
	if ret.proj.limit != nil {
		st.limit, st.hasLimit = ret.proj.limit, true
	}
	return st
}

// notification is a Neo4j notification (Bolt 5.0-5.5 "notifications") and its GQL status
// object (Bolt 5.6+ "statuses").
type notification struct {
	code, title, description, severity, category string
	gqlStatus, statusDescription                 string
	offset, line, column                         int64
}

// deprecatedProcedure is the notification Neo4j 5.26 gives for CALL cdc.query() and the other
// renamed procedures.
func deprecatedProcedure(text string, c *callClause) notification {
	line, col := int64(1), int64(1)
	for _, r := range text[:c.pos] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return notification{
		code:              "Neo.ClientNotification.Statement.FeatureDeprecationWarning",
		title:             "This feature is deprecated and will be removed in future versions.",
		description:       fmt.Sprintf("The query used a deprecated procedure: `%s`.", c.proc.name),
		severity:          "WARNING",
		category:          "DEPRECATION",
		gqlStatus:         "01N01",
		statusDescription: fmt.Sprintf("warn: feature deprecated with replacement. `%s` is deprecated. It is replaced by `%s`.", c.proc.name, c.proc.replacement),
		offset:            int64(c.pos), line: line, column: col,
	}
}
