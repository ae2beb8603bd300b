package neo4jsim

import (
	"fmt"
	"strconv"
	"strings"
)

// The statements the simulator understands. Recognition is a small tokenizer and
// recursive-descent parser for this subset of Cypher; keywords, procedure names and the
// procedure's column names match case-insensitively, and whitespace and comments are free:
//
//	CALL db.cdc.current() | CALL db.cdc.earliest()
//	CALL db.cdc.query([from [, selectors]])
//	CALL dbms.components()
//	... [YIELD * | YIELD col [AS alias], ...] [RETURN * | RETURN var [AS alias], ...] [LIMIT n]
//	RETURN expr [AS alias], ...            (literals and parameters, e.g. RETURN 1)
//
// Arguments, LIMIT and RETURN expressions are literals (strings, numbers, booleans, null,
// lists, maps) or $parameters. Anything else is Neo.ClientError.Statement.SyntaxError.

// procedure identifies the procedure a statement calls.
type procedure int

const (
	procNone       procedure = iota // RETURN of literals, no procedure
	procCurrent                     // db.cdc.current()
	procEarliest                    // db.cdc.earliest()
	procQuery                       // db.cdc.query(from, selectors)
	procComponents                  // dbms.components(), for clients that check version and edition
)

// cdcColumns are the output columns of db.cdc.query, in order; current and earliest yield
// the first one only.
var cdcColumns = []string{"id", "txId", "seq", "metadata", "event"}

// componentColumns are the output columns of dbms.components().
var componentColumns = []string{"name", "versions", "edition"}

// Column indexes into cdcColumns.
const (
	colID = iota
	colTxID
	colSeq
	colMetadata
	colEvent
)

// paramRef is a $parameter inside a parsed expression.
type paramRef string

// statement is a parsed query.
type statement struct {
	proc     procedure
	args     []any    // procedure arguments (expressions)
	fields   []string // output column names
	cols     []int    // for procedures: source column (index into cdcColumns) of each field
	exprs    []any    // for RETURN without a procedure: the expression of each field
	limit    any      // LIMIT expression, nil when absent
	hasLimit bool
}

// syntaxError builds the FAILURE for an unrecognised statement.
func syntaxError(format string, args ...any) *Error {
	return &Error{Code: "Neo.ClientError.Statement.SyntaxError", GQLStatus: "42001",
		Message: fmt.Sprintf(format, args...)}
}

// parser walks the token list.
type parser struct {
	q    string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// keyword consumes the identifier kw (case-insensitive) if it comes next.
func (p *parser) keyword(kw string) bool {
	if t := p.peek(); t.kind == tokIdent && strings.EqualFold(t.text, kw) {
		p.i++
		return true
	}
	return false
}

// punct consumes the punctuation s if it comes next.
func (p *parser) punct(s string) bool {
	if t := p.peek(); t.kind == tokPunct && t.text == s {
		p.i++
		return true
	}
	return false
}

func (p *parser) unexpected(want string) *Error {
	t := p.peek()
	if t.kind == tokEOF {
		return syntaxError("Invalid input: unexpected end of input, expected %s", want)
	}
	return syntaxError("Invalid input '%s': expected %s (offset %d)", p.q[t.pos:min(len(p.q), t.pos+max(1, len(t.text)))], want, t.pos)
}

func (p *parser) expect(s string) *Error {
	if !p.punct(s) {
		return p.unexpected("'" + s + "'")
	}
	return nil
}

// parseStatement parses one query.
func parseStatement(q string) (*statement, *Error) {
	toks, err := tokenize(q)
	if err != nil {
		return nil, err
	}
	p := &parser{q: q, toks: toks}
	st := &statement{}
	switch {
	case p.keyword("CALL"):
		err = p.call(st)
	case p.keyword("RETURN"):
		err = p.returnExprs(st)
	default:
		err = p.unexpected("CALL or RETURN")
	}
	if err != nil {
		return nil, err
	}
	if p.keyword("LIMIT") {
		if st.limit, err = p.expr(); err != nil {
			return nil, err
		}
		st.hasLimit = true
	}
	p.punct(";")
	if p.peek().kind != tokEOF {
		return nil, p.unexpected("end of input")
	}
	return st, nil
}

// call parses the procedure call, its arguments and the optional YIELD and RETURN.
func (p *parser) call(st *statement) *Error {
	var parts []string
	for {
		t := p.next()
		if t.kind != tokIdent {
			p.i--
			return p.unexpected("a procedure name")
		}
		parts = append(parts, t.text)
		if !p.punct(".") {
			break
		}
	}
	name := strings.Join(parts, ".")
	switch strings.ToLower(name) {
	case "db.cdc.current":
		st.proc = procCurrent
	case "db.cdc.earliest":
		st.proc = procEarliest
	case "db.cdc.query":
		st.proc = procQuery
	case "dbms.components":
		st.proc = procComponents
	default:
		return &Error{Code: "Neo.ClientError.Procedure.ProcedureNotFound", GQLStatus: "42N08",
			Message: fmt.Sprintf("There is no procedure with the name `%s` registered for this database instance. "+
				"Please ensure you've spelled the procedure name correctly and that the procedure is properly deployed.", name)}
	}
	if err := p.expect("("); err != nil {
		return err
	}
	if !p.punct(")") {
		for {
			a, err := p.expr()
			if err != nil {
				return err
			}
			st.args = append(st.args, a)
			if p.punct(")") {
				break
			}
			if err := p.expect(","); err != nil {
				return err
			}
		}
	}
	maxArgs := 0
	if st.proc == procQuery {
		maxArgs = 2
	}
	if len(st.args) > maxArgs {
		return &Error{Code: "Neo.ClientError.Procedure.ProcedureCallFailed", GQLStatus: "42I13",
			Message: fmt.Sprintf("Procedure call provides too many arguments: got %d expected no more than %d.", len(st.args), maxArgs)}
	}
	available := cdcColumns[:1]
	switch st.proc {
	case procQuery:
		available = cdcColumns
	case procComponents:
		available = componentColumns
	}
	if !p.keyword("YIELD") {
		st.fields = append(st.fields, available...)
		for i := range available {
			st.cols = append(st.cols, i)
		}
		return nil
	}
	// vars maps each yielded variable to its source column.
	vars := map[string]int{}
	var order []string
	if p.punct("*") {
		for i, c := range available {
			vars[c] = i
			order = append(order, c)
		}
	} else {
		for {
			t := p.next()
			if t.kind != tokIdent {
				p.i--
				return p.unexpected("a column name")
			}
			col := -1
			for i, c := range available {
				if strings.EqualFold(c, t.text) {
					col = i
				}
			}
			if col < 0 {
				return &Error{Code: "Neo.ClientError.Statement.SyntaxError", GQLStatus: "42N13",
					Message: fmt.Sprintf("Unknown procedure output: `%s`", t.text)}
			}
			v := available[col]
			if p.keyword("AS") {
				a := p.next()
				if a.kind != tokIdent {
					p.i--
					return p.unexpected("an alias")
				}
				v = a.text
			}
			if _, dup := vars[v]; dup {
				return syntaxError("Variable `%s` already declared", v)
			}
			vars[v] = col
			order = append(order, v)
			if !p.punct(",") {
				break
			}
		}
	}
	if !p.keyword("RETURN") {
		for _, v := range order {
			st.fields = append(st.fields, v)
			st.cols = append(st.cols, vars[v])
		}
		return nil
	}
	if p.punct("*") {
		for _, v := range order {
			st.fields = append(st.fields, v)
			st.cols = append(st.cols, vars[v])
		}
		return nil
	}
	for {
		t := p.next()
		if t.kind != tokIdent {
			p.i--
			return p.unexpected("a variable")
		}
		name := ""
		for _, v := range order { // variables match case-insensitively, like the rest
			if strings.EqualFold(v, t.text) {
				name = v
			}
		}
		if name == "" {
			return &Error{Code: "Neo.ClientError.Statement.SyntaxError", GQLStatus: "42N62",
				Message: fmt.Sprintf("Variable `%s` not defined", t.text)}
		}
		col := vars[name]
		name, err := p.alias(name)
		if err != nil {
			return err
		}
		st.fields = append(st.fields, name)
		st.cols = append(st.cols, col)
		if !p.punct(",") {
			return nil
		}
	}
}

// alias parses an optional `AS alias` and returns the alias, or name when there is none.
func (p *parser) alias(name string) (string, *Error) {
	if !p.keyword("AS") {
		return name, nil
	}
	a := p.next()
	if a.kind != tokIdent {
		p.i--
		return "", p.unexpected("an alias")
	}
	return a.text, nil
}

// returnExprs parses RETURN expr [AS alias], ... without a procedure.
func (p *parser) returnExprs(st *statement) *Error {
	for {
		start := p.peek().pos
		e, err := p.expr()
		if err != nil {
			return err
		}
		name := strings.TrimSpace(p.q[start:p.peek().pos])
		name, err = p.alias(name)
		if err != nil {
			return err
		}
		st.fields = append(st.fields, name)
		st.exprs = append(st.exprs, e)
		if !p.punct(",") {
			return nil
		}
	}
}

// expr parses a literal or parameter: the result is a value of the simulator's value model
// in which parameters appear as paramRef.
func (p *parser) expr() (any, *Error) {
	t := p.next()
	switch t.kind {
	case tokParam:
		return paramRef(t.text), nil
	case tokString:
		return t.str, nil
	case tokInt:
		return parseInt(t.text, false)
	case tokFloat:
		return parseFloat(t.text, false)
	case tokIdent:
		switch strings.ToLower(t.text) {
		case "null":
			return nil, nil
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	case tokPunct:
		switch t.text {
		case "-":
			n := p.next()
			switch n.kind {
			case tokInt:
				return parseInt(n.text, true)
			case tokFloat:
				return parseFloat(n.text, true)
			}
		case "[":
			list := []any{}
			if p.punct("]") {
				return list, nil
			}
			for {
				v, err := p.expr()
				if err != nil {
					return nil, err
				}
				list = append(list, v)
				if p.punct("]") {
					return list, nil
				}
				if err := p.expect(","); err != nil {
					return nil, err
				}
			}
		case "{":
			m := map[string]any{}
			if p.punct("}") {
				return m, nil
			}
			for {
				k := p.next()
				var key string
				switch k.kind {
				case tokIdent:
					key = k.text
				case tokString:
					key = k.str
				default:
					p.i--
					return nil, p.unexpected("a map key")
				}
				if err := p.expect(":"); err != nil {
					return nil, err
				}
				v, err := p.expr()
				if err != nil {
					return nil, err
				}
				m[key] = v
				if p.punct("}") {
					return m, nil
				}
				if err := p.expect(","); err != nil {
					return nil, err
				}
			}
		}
	}
	p.i--
	if t.kind == tokEOF {
		p.i = len(p.toks) - 1
	}
	return nil, p.unexpected("a literal or parameter")
}

func parseInt(text string, neg bool) (any, *Error) {
	if neg {
		text = "-" + text
	}
	i, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return nil, &Error{Code: "Neo.ClientError.Statement.SyntaxError", GQLStatus: "22003",
			Message: fmt.Sprintf("integer is too large: %s", text)}
	}
	return i, nil
}

func parseFloat(text string, neg bool) (any, *Error) {
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, syntaxError("Invalid input '%s': not a number", text)
	}
	if neg {
		f = -f
	}
	return f, nil
}

// resolve replaces parameters in a parsed expression by their values.
func resolve(e any, params map[string]any) (any, *Error) {
	switch x := e.(type) {
	case paramRef:
		v, ok := params[string(x)]
		if !ok {
			return nil, &Error{Code: "Neo.ClientError.Statement.ParameterMissing", GQLStatus: "42N51",
				Message: fmt.Sprintf("Expected parameter(s): %s", string(x))}
		}
		return v, nil
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			r, err := resolve(v, params)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			r, err := resolve(v, params)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return e, nil
}
