package neo4jsim

// The syntax tree of the Cypher subset (doc.go lists it). cypher_parse*.go build it,
// cypher_plan.go decides whether a query takes the CDC fast path (statements.go), and
// cypher_exec*.go and cypher_write.go run it against the graph.

// query is one parsed statement: optional CYPHER and EXPLAIN prefixes, then clauses.
type query struct {
	explain bool
	clauses []clause
	writes  bool     // some clause changes the graph
	reads   bool     // some clause reads the graph (MATCH or MERGE)
	fields  []string // the result columns, known before it runs (set by check)
}

// clause is one of the clause types below.
type clause interface{ clauseName() string }

// callClause is [OPTIONAL] CALL proc[(args)] [YIELD ... [WHERE ...]].
type callClause struct {
	optional bool
	proc     *procDef
	name     string // as written
	args     []expr
	implicit bool // bare form without parentheses: arguments come from parameters of the same names
	yield    []yieldItem
	where    expr
	pos      int    // offset of the procedure name, for notifications
	show     string // the filter of SHOW ... CONSTRAINTS (cypher_show.go); "" for CALL
}

// yieldItem binds procedure output column col (index into proc.columns) to a variable.
type yieldItem struct {
	col  int
	name string
}

// matchClause is [OPTIONAL] MATCH patterns [WHERE expr].
type matchClause struct {
	optional bool
	patterns []pattern
	where    expr
}

// projection is the body of WITH and RETURN.
type projection struct {
	star     bool // WITH * / RETURN *: every variable in scope, before the items
	distinct bool
	items    []projItem
	order    []sortItem
	skip     expr
	limit    expr
}

// projItem is expr [AS name]; name is the expression text when there is no alias.
type projItem struct {
	e    expr
	name string
}

type sortItem struct {
	e    expr
	desc bool
}

// withClause is WITH projection [WHERE expr].
type withClause struct {
	proj  projection
	where expr
}

// returnClause is RETURN projection; it ends the query.
type returnClause struct{ proj projection }

// unwindClause is UNWIND expr AS name.
type unwindClause struct {
	e    expr
	name string
}

// createClause is CREATE patterns.
type createClause struct{ patterns []pattern }

// mergeClause is MERGE pattern [ON CREATE SET ...] [ON MATCH SET ...].
type mergeClause struct {
	pattern  pattern
	onCreate []setItem
	onMatch  []setItem
}

// setClause is SET items.
type setClause struct{ items []setItem }

// removeClause is REMOVE items.
type removeClause struct{ items []removeItem }

// deleteClause is [DETACH] DELETE exprs.
type deleteClause struct {
	detach bool
	exprs  []expr
}

// constraintClause is CREATE CONSTRAINT [name] [IF NOT EXISTS] FOR (v:L) | ()-[v:T]-()
// REQUIRE (v.p, ...) IS [NODE | RELATIONSHIP] KEY | IS UNIQUE.
type constraintClause struct {
	rel         bool
	target      string
	props       []string
	unique      bool // IS UNIQUE rather than IS KEY
	ifNotExists bool
}

func (*callClause) clauseName() string       { return "CALL" }
func (*matchClause) clauseName() string      { return "MATCH" }
func (*withClause) clauseName() string       { return "WITH" }
func (*returnClause) clauseName() string     { return "RETURN" }
func (*unwindClause) clauseName() string     { return "UNWIND" }
func (*createClause) clauseName() string     { return "CREATE" }
func (*mergeClause) clauseName() string      { return "MERGE" }
func (*setClause) clauseName() string        { return "SET" }
func (*removeClause) clauseName() string     { return "REMOVE" }
func (*deleteClause) clauseName() string     { return "DELETE" }
func (*constraintClause) clauseName() string { return "CREATE CONSTRAINT" }

// pattern is a chain of node patterns joined by relationship patterns: rels[i] joins
// nodes[i] and nodes[i+1].
type pattern struct {
	nodes []nodePattern
	rels  []relPattern
}

// nodePattern is (v:L1:L2 {props}); every part is optional.
type nodePattern struct {
	v      string
	labels []string
	props  expr // mapExpr or paramExpr; nil when absent
}

// Relationship directions as written: <-[]-, -[]-, -[]->.
const (
	dirLeft  = -1
	dirBoth  = 0
	dirRight = 1
)

// relPattern is -[v:T1|T2 {props}]- with a direction.
type relPattern struct {
	v     string
	types []string
	props expr
	dir   int
}

// setItem kinds.
const (
	setKindProperty = iota // v.key = value
	setKindReplace         // v = map
	setKindMerge           // v += map
	setKindLabels          // v:L1:L2
)

type setItem struct {
	kind   int
	target expr // the entity: a variable, or any expression giving a node or relationship
	key    string
	value  expr
	labels []string
}

// removeItem is v.key or v:L1:L2.
type removeItem struct {
	target expr
	key    string
	labels []string
}

// Expressions.
type expr interface{}

type (
	literalExpr struct{ v any }
	paramExpr   struct{ name string }
	varExpr     struct{ name string }
	propExpr    struct {
		x   expr
		key string
	}
	indexExpr struct{ x, i expr }
	listExpr  struct{ items []expr }
	mapExpr   struct {
		keys []string
		vals []expr
	}
	binaryExpr struct {
		op   string // OR XOR AND = <> < > <= >= IN + - * / % ^ STARTS ENDS CONTAINS
		l, r expr
	}
	notExpr    struct{ x expr }
	negExpr    struct{ x expr }
	isNullExpr struct {
		x   expr
		not bool
	}
	labelTestExpr struct {
		x      expr
		labels []string
	}
	funcExpr struct {
		name     string // lower case
		distinct bool
		star     bool // count(*)
		args     []expr
	}
	caseExpr struct {
		subject expr // nil for the searched form
		whens   []expr
		thens   []expr
		els     expr
	}
)

// aggregates are the aggregating functions of the subset.
var aggregates = map[string]bool{"count": true, "collect": true, "sum": true, "min": true, "max": true, "avg": true}
