package neo4jsim

import (
	"strings"
	"time"
)

// Running a statement for RUN: the compiled plan (cached per connection), the fast CDC
// path, EXPLAIN, and the transaction a general statement runs in. Auto-commit statements
// that write take the database's write lock for the statement and commit at its end; an
// explicit transaction takes it at its first write and keeps it until COMMIT, ROLLBACK,
// RESET, a failure or the end of the connection. Commits go through Tx.commit, the path of
// Database.Write, with the session's users, addresses and the driver's tx_metadata.

// planCacheSize bounds the per-connection cache of compiled statements.
const planCacheSize = 128

// compile returns the plan of a statement, from the connection's cache when it has it.
func (c *conn) compile(text string) (*plan, *Error) {
	if pl, ok := c.plans[text]; ok {
		return pl, nil
	}
	pl, err := compile(text)
	if err != nil {
		return nil, err
	}
	if len(c.plans) >= planCacheSize {
		clear(c.plans)
	}
	c.plans[text] = pl
	return pl, nil
}

// session describes the connection for the CDC metadata of a commit by user.
func (c *conn) session(user User, txMeta map[string]any) Session {
	return Session{User: c.authUser, ExecutingUser: user.Name, ConnectionType: "bolt",
		ClientAddr: c.nc.RemoteAddr().String(), ServerAddr: c.nc.LocalAddr().String(), TxMetadata: txMeta}
}

// txMetadata returns the "tx_metadata" map of a BEGIN or RUN extra.
func txMetadata(extra map[string]any) map[string]any {
	m, _ := extra["tx_metadata"].(map[string]any)
	return m
}

// readMode reports whether an extra asks for read access ("mode": "r").
func readMode(extra map[string]any) bool {
	m, _ := extra["mode"].(string)
	return strings.EqualFold(m, "r")
}

// runStatement compiles and runs a statement of RUN. extra is the RUN's extra map; in an
// explicit transaction the BEGIN's metadata and mode apply.
func (c *conn) runStatement(text string, params, extra map[string]any, db *Database, user User) (*result, error) {
	pl, perr := c.compile(text)
	if perr != nil {
		return nil, perr
	}
	version := strings.TrimPrefix(c.srv.opts.agent, "Neo4j/")
	if pl.fast != nil {
		res, err := executeFast(pl.fast, params, db, user, version)
		if err != nil {
			return nil, err
		}
		res.summary.notes = pl.notes
		return res, nil
	}
	start := time.Now()
	if pl.q.explain {
		return &result{fields: pl.q.fields, proc: procRows, db: db.Name(), start: start,
			summary: summary{notes: pl.notes, plan: explainPlan(pl.q), qtype: queryType(pl.q)}}, nil
	}
	explicit := c.state != stReady
	read := readMode(extra)
	if explicit {
		read = c.txRead
	}
	x := &execCtx{db: db, user: user, params: params, version: version}
	var auto *Tx // the auto-commit write transaction
	switch {
	case pl.q.isSchema():
		if read {
			return nil, accessModeError(db.Name())
		}
		if explicit && c.wtx != nil {
			return nil, &Error{Code: "Neo.ClientError.Transaction.ForbiddenDueToTransactionType", GQLStatus: "25N03",
				Message: "Tried to execute Schema modification after executing Write query"}
		}
		x.openTx = func() (*Tx, error) { return db.readView(), nil }
	case explicit && c.wtx != nil:
		x.openTx = func() (*Tx, error) { return c.wtx, nil }
	case pl.q.writes && !read && explicit:
		x.openTx = func() (*Tx, error) {
			tx, err := db.beginWriteWait()
			c.wtx = tx
			return tx, err
		}
	case pl.q.writes && !read:
		x.openTx = func() (*Tx, error) {
			tx, err := db.beginWriteWait()
			auto = tx
			return tx, err
		}
	default:
		x.openTx = func() (*Tx, error) { return db.readView(), nil }
	}
	fields, rows, err := x.run(pl.q)
	if auto != nil {
		defer auto.release()
		if err == nil {
			_, err = auto.commit(c.session(user, txMetadata(extra)))
		}
	}
	if err != nil {
		return nil, err
	}
	return &result{fields: fields, rows: rows, n: len(rows), proc: procRows, db: db.Name(), start: start,
		summary: summary{notes: pl.notes, stats: x.stats, qtype: queryType(pl.q)}}, nil
}

// commitTx commits the explicit transaction's writes, if it has any, and ends it.
func (c *conn) commitTx() error {
	if c.wtx == nil {
		return nil
	}
	tx := c.wtx
	c.wtx = nil
	defer tx.release()
	_, err := tx.commit(c.session(c.txUser, c.txMeta))
	return err
}

// queryType is the statement type of the summary: r, w, rw or s.
func queryType(q *query) string {
	switch {
	case q.isSchema():
		return "s"
	case q.writes && (q.reads || len(q.fields) > 0):
		return "rw"
	case q.writes:
		return "w"
	}
	return "r"
}

// explainPlan describes a query as Neo4j's EXPLAIN does: a tree of operators, the last
// (ProduceResults) at the root, each with args and identifiers.
func explainPlan(q *query) map[string]any {
	var child map[string]any
	var ids []any
	for _, cl := range q.clauses {
		op := clauseOperator(cl)
		node := map[string]any{"operatorType": op + "@neo4j", "args": map[string]any{"Details": cl.clauseName()},
			"identifiers": ids, "children": []any{}}
		if child != nil {
			node["children"] = []any{child}
		}
		child = node
	}
	for _, f := range q.fields {
		ids = append(ids, f)
	}
	root := map[string]any{"operatorType": "ProduceResults@neo4j",
		"args":        map[string]any{"planner": "COST", "runtime": "SLOTTED", "Details": strings.Join(q.fields, ", ")},
		"identifiers": ids, "children": []any{child}}
	if len(q.fields) == 0 {
		root["operatorType"] = "EmptyResult@neo4j"
	}
	return root
}

func clauseOperator(cl clause) string {
	switch c := cl.(type) {
	case *callClause:
		return "ProcedureCall"
	case *matchClause:
		if c.optional {
			return "Optional"
		}
		return "AllNodesScan"
	case *withClause, *returnClause:
		return "Projection"
	case *unwindClause:
		return "Unwind"
	case *createClause:
		return "Create"
	case *mergeClause:
		return "Merge"
	case *setClause:
		return "SetProperty"
	case *removeClause:
		return "RemoveLabels"
	case *deleteClause:
		return "Delete"
	}
	return "CreateConstraint"
}
