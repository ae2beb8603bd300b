package neo4jsim

import (
	"fmt"
	"time"
)

// result is one open query result on a connection: its column names and its rows, which are
// encoded into RECORD messages page by page as PULL asks for them. Results are materialised
// at RUN (the CDC log hands out immutable records), so a PULL never blocks.
type result struct {
	fields []string
	qid    int64
	db     string
	start  time.Time

	proc procedure
	cols []int    // source column per field (procedures)
	recs []Record // db.cdc.query rows
	id   string   // db.cdc.current / db.cdc.earliest row; the version for dbms.components
	rows [][]any  // general executor rows, already in output form (boltNode, boltRel)
	n    int      // total rows
	pos  int      // rows already sent or discarded

	summary summary // extra metadata of the final PULL SUCCESS
}

// remaining reports the rows not yet pulled.
func (r *result) remaining() int { return r.n - r.pos }

// encodeRow appends row i as the RECORD's single List field.
func (r *result) encodeRow(e *encoder, i int) error {
	e.listHeader(len(r.fields))
	switch r.proc {
	case procQuery:
		rec := &r.recs[i]
		for _, c := range r.cols {
			switch c {
			case colID:
				e.str(rec.ID)
			case colTxID:
				e.integer(rec.TxID)
			case colSeq:
				e.integer(rec.Seq)
			case colMetadata:
				if err := e.value(rec.Metadata); err != nil {
					return err
				}
			case colEvent:
				if err := e.value(rec.Event); err != nil {
					return err
				}
			}
		}
	case procCurrent, procEarliest:
		for range r.cols {
			e.str(r.id)
		}
	case procComponents:
		for _, c := range r.cols {
			switch c {
			case 0:
				e.str("Neo4j Kernel")
			case 1:
				e.strings([]string{r.id})
			case 2:
				e.str("enterprise")
			}
		}
	default:
		for _, v := range r.rows[i] {
			if err := e.value(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// executeFast runs a fast-path statement against db as user and returns its result;
// version is the Neo4j version dbms.components() reports.
func executeFast(st *statement, params map[string]any, db *Database, user User, version string) (*result, error) {
	r := &result{fields: st.fields, cols: st.cols, proc: st.proc, db: db.Name(), start: time.Now()}
	limit := -1
	if st.hasLimit {
		l, err := evalCount(st.limit, params, "LIMIT")
		if err != nil {
			return nil, err
		}
		limit = l
	}
	switch st.proc {
	case procCurrent, procEarliest:
		var err error
		if st.proc == procCurrent {
			r.id, err = db.Current()
		} else {
			r.id, err = db.Earliest()
		}
		if err != nil {
			return nil, err
		}
		r.n = 1
	case procComponents:
		r.id, r.n = version, 1
	case procQuery:
		args, err := constArgs(st.call, params)
		if err != nil {
			return nil, err
		}
		from, selectors, err := queryArgs(args)
		if err != nil {
			return nil, err
		}
		// QueryLimit treats 0 as "no limit"; LIMIT 0 still validates, then returns no rows.
		qlimit := 0
		if limit >= 0 {
			qlimit = max(limit, 1)
		}
		recs, qerr := db.QueryLimit(user, from, selectors, qlimit)
		if qerr != nil {
			return nil, qerr
		}
		r.recs = recs
		r.n = len(recs)
	}
	if limit >= 0 && r.n > limit {
		r.n = limit
	}
	return r, nil
}

// evalCount evaluates a SKIP or LIMIT expression: a non-negative integer.
func evalCount(e expr, params map[string]any, what string) (int, error) {
	v, err := evalConst(e, params)
	if err != nil {
		return 0, err
	}
	l, ok := v.(int64)
	if !ok || l < 0 {
		return 0, &Error{Code: "Neo.ClientError.Statement.ArgumentError", GQLStatus: "22N02",
			Message: fmt.Sprintf("Invalid input. '%v' is not a valid value for %s. Must be a non-negative integer.", v, what)}
	}
	return int(min(l, int64(^uint(0)>>1))), nil
}

// queryArgs type-checks the evaluated arguments of db.cdc.query: from defaults to "" and
// selectors to the empty list.
func queryArgs(args []any) (string, []any, error) {
	from, selectors := "", []any{}
	if len(args) > 0 {
		v := args[0]
		s, ok := v.(string)
		if !ok {
			return "", nil, argTypeError("from", "STRING", v)
		}
		from = s
	}
	if len(args) > 1 {
		v := args[1]
		l, ok := v.([]any)
		if !ok {
			return "", nil, argTypeError("selectors", "LIST<MAP>", v)
		}
		selectors = l
	}
	return from, selectors, nil
}

func argTypeError(name, want string, got any) *Error {
	return &Error{Code: "Neo.ClientError.Statement.TypeError", GQLStatus: "22G03",
		Message: fmt.Sprintf("Wrong argument type: db.cdc.query argument `%s` must be %s, got %s", name, want, cypherType(got))}
}

// cypherType names the Cypher type of a decoded value for error messages.
func cypherType(v any) string {
	switch v.(type) {
	case nil:
		return "NULL"
	case bool:
		return "BOOLEAN"
	case int64:
		return "INTEGER"
	case float64:
		return "FLOAT"
	case string:
		return "STRING"
	case []byte:
		return "BYTE[]"
	case []any:
		return "LIST<ANY>"
	case map[string]any:
		return "MAP"
	case Date:
		return "DATE"
	case LocalTime:
		return "LOCAL TIME"
	case Time:
		return "ZONED TIME"
	case LocalDateTime:
		return "LOCAL DATETIME"
	case DateTime:
		return "ZONED DATETIME"
	case Duration:
		return "DURATION"
	case Point2D, Point3D:
		return "POINT"
	}
	return fmt.Sprintf("%T", v)
}

// summary is the metadata a result adds to its final PULL SUCCESS beyond type, t_last, db
// and bookmark.
type summary struct {
	qtype string // statement type: r (default), w, rw or s
	stats stats
	notes []notification
	plan  map[string]any // EXPLAIN
}

// fields returns the number of extra metadata entries and the statement type.
func (s *summary) fields(minor int) (int, string) {
	n := 0
	if s.stats != (stats{}) {
		n++
	}
	if len(s.notes) > 0 {
		n++
	}
	if s.plan != nil {
		n++
	}
	t := s.qtype
	if t == "" {
		t = "r"
	}
	return n, t
}

// encode writes the extra metadata entries. Bolt 5.6 and later carry notifications as GQL
// status objects ("statuses"), earlier versions as "notifications", as Neo4j 5.26 does.
func (s *summary) encode(e *encoder, minor int) {
	if st := s.stats; st != (stats{}) {
		counters := []struct {
			key string
			n   int64
		}{{"nodes-created", st.nodesCreated}, {"nodes-deleted", st.nodesDeleted},
			{"relationships-created", st.relsCreated}, {"relationships-deleted", st.relsDeleted},
			{"properties-set", st.propsSet}, {"labels-added", st.labelsAdded}, {"labels-removed", st.labelsRemoved},
			{"constraints-added", st.constraintsAdded}}
		n := 0
		for _, c := range counters {
			if c.n != 0 {
				n++
			}
		}
		e.str("stats")
		e.mapHeader(n + 1)
		for _, c := range counters {
			if c.n != 0 {
				e.str(c.key)
				e.integer(c.n)
			}
		}
		e.str("contains-updates")
		e.boolean(st.nodesCreated+st.nodesDeleted+st.relsCreated+st.relsDeleted+st.propsSet+st.labelsAdded+st.labelsRemoved > 0)
	}
	if len(s.notes) > 0 {
		if minor >= 6 {
			e.str("statuses")
		} else {
			e.str("notifications")
		}
		e.listHeader(len(s.notes))
		for _, nt := range s.notes {
			position := func() {
				e.mapHeader(3)
				e.str("offset")
				e.integer(nt.offset)
				e.str("line")
				e.integer(nt.line)
				e.str("column")
				e.integer(nt.column)
			}
			if minor < 6 {
				e.mapHeader(6)
				e.str("code")
				e.str(nt.code)
				e.str("title")
				e.str(nt.title)
				e.str("description")
				e.str(nt.description)
				e.str("severity")
				e.str(nt.severity)
				e.str("category")
				e.str(nt.category)
				e.str("position")
				position()
				continue
			}
			e.mapHeader(6)
			e.str("gql_status")
			e.str(nt.gqlStatus)
			e.str("status_description")
			e.str(nt.statusDescription)
			e.str("neo4j_code")
			e.str(nt.code)
			e.str("title")
			e.str(nt.title)
			e.str("description")
			e.str(nt.description)
			e.str("diagnostic_record")
			e.mapHeader(7)
			e.str("OPERATION")
			e.str("")
			e.str("OPERATION_CODE")
			e.str("0")
			e.str("CURRENT_SCHEMA")
			e.str("/")
			e.str("_severity")
			e.str(nt.severity)
			e.str("_classification")
			e.str(nt.category)
			e.str("_status_parameters")
			e.mapHeader(0)
			e.str("_position")
			position()
		}
	}
	if s.plan != nil {
		e.str("plan")
		_ = e.value(s.plan)
	}
}
