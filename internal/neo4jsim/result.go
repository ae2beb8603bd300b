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
	lits []any    // RETURN row
	n    int      // total rows
	pos  int      // rows already sent or discarded
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
		for _, v := range r.lits {
			if err := e.value(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// execute runs a parsed statement against db as user and returns its result; version is the
// Neo4j version dbms.components() reports.
func execute(st *statement, params map[string]any, db *Database, user User, version string) (*result, error) {
	r := &result{fields: st.fields, cols: st.cols, proc: st.proc, db: db.Name(), start: time.Now()}
	limit := -1
	if st.hasLimit {
		v, err := resolve(st.limit, params)
		if err != nil {
			return nil, err
		}
		l, ok := v.(int64)
		if !ok || l < 0 {
			return nil, &Error{Code: "Neo.ClientError.Statement.ArgumentError", GQLStatus: "22N02",
				Message: fmt.Sprintf("Invalid input. '%v' is not a valid value. Must be a non-negative integer.", v)}
		}
		limit = int(min(l, int64(^uint(0)>>1)))
	}
	switch st.proc {
	case procNone:
		r.lits = make([]any, len(st.exprs))
		for i, e := range st.exprs {
			v, err := resolve(e, params)
			if err != nil {
				return nil, err
			}
			r.lits[i] = v
		}
		r.n = 1
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
		from, selectors, err := queryArgs(st.args, params)
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

// queryArgs resolves and type-checks the arguments of db.cdc.query: from defaults to "" and
// selectors to the empty list.
func queryArgs(args []any, params map[string]any) (string, []any, error) {
	from, selectors := "", []any{}
	if len(args) > 0 {
		v, err := resolve(args[0], params)
		if err != nil {
			return "", nil, err
		}
		s, ok := v.(string)
		if !ok {
			return "", nil, argTypeError("from", "STRING", v)
		}
		from = s
	}
	if len(args) > 1 {
		v, err := resolve(args[1], params)
		if err != nil {
			return "", nil, err
		}
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
