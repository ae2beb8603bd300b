package neo4jsim

import (
	"fmt"
	"strings"
)

// The parser of the Cypher subset: statement prefixes and clauses. Expressions are in
// cypher_parse_expr.go, patterns and SET/REMOVE items in cypher_parse_pattern.go. Keywords
// match case-insensitively; variables, labels, types and property keys are case-sensitive.

// parser walks the token list.
type parser struct {
	q    string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

// peekAt returns the token n places ahead (EOF past the end).
func (p *parser) peekAt(n int) token { return p.toks[min(p.i+n, len(p.toks)-1)] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// isKeyword reports whether t is the identifier kw (case-insensitive).
func isKeyword(t token, kw string) bool { return t.kind == tokIdent && strings.EqualFold(t.text, kw) }

// keyword consumes the identifier kw (case-insensitive) if it comes next.
func (p *parser) keyword(kw string) bool {
	if isKeyword(p.peek(), kw) {
		p.i++
		return true
	}
	return false
}

// keywords consumes a sequence of keywords if all of them come next.
func (p *parser) keywords(kws ...string) bool {
	for i, kw := range kws {
		if !isKeyword(p.peekAt(i), kw) {
			return false
		}
	}
	p.i += len(kws)
	return true
}

// punct consumes the punctuation s if it comes next.
func (p *parser) punct(s string) bool {
	if t := p.peek(); t.kind == tokPunct && t.text == s {
		p.i++
		return true
	}
	return false
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tokPunct && t.text == s
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

func (p *parser) expectKeyword(kw string) *Error {
	if !p.keyword(kw) {
		return p.unexpected(kw)
	}
	return nil
}

// ident consumes a name (variable, label, key); what names it for errors.
func (p *parser) ident(what string) (string, *Error) {
	t := p.peek()
	if t.kind != tokIdent {
		return "", p.unexpected(what)
	}
	p.i++
	return t.text, nil
}

// parseQuery parses one statement.
func parseQuery(q string) (*query, *Error) {
	toks, err := tokenize(q)
	if err != nil {
		return nil, err
	}
	p := &parser{q: q, toks: toks}
	qu := &query{}
	if err := p.prefixes(qu); err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind == tokEOF || p.isPunct(";") {
			break
		}
		if len(qu.clauses) > 0 {
			if _, ok := qu.clauses[len(qu.clauses)-1].(*returnClause); ok {
				if isKeyword(t, "UNION") {
					return nil, unsupported("UNION")
				}
				return nil, p.unexpected("end of input after RETURN")
			}
		}
		c, err := p.clause()
		if err != nil {
			return nil, err
		}
		qu.clauses = append(qu.clauses, c)
	}
	p.punct(";")
	if p.peek().kind != tokEOF {
		return nil, p.unexpected("end of input")
	}
	if len(qu.clauses) == 0 {
		return nil, p.unexpected("a clause")
	}
	if err := qu.checkEnd(); err != nil {
		return nil, err
	}
	return qu, nil
}

// prefixes parses CYPHER [version] and EXPLAIN in either order.
func (p *parser) prefixes(qu *query) *Error {
	for {
		switch {
		case p.keyword("CYPHER"):
			if t := p.peek(); t.kind == tokInt || t.kind == tokFloat {
				if t.text != "5" && t.text != "25" {
					return &Error{Code: "Neo.ClientError.Statement.SyntaxError", GQLStatus: "42001",
						Message: fmt.Sprintf("Invalid Cypher version '%s': expected 5 or 25", t.text)}
				}
				p.i++
			}
			if t, eq := p.peek(), p.peekAt(1); t.kind == tokIdent && eq.kind == tokPunct && eq.text == "=" {
				return unsupported("CYPHER options (" + t.text + "=...)")
			}
		case p.keyword("EXPLAIN"):
			qu.explain = true
		case isKeyword(p.peek(), "PROFILE"):
			return unsupported("PROFILE")
		default:
			return nil
		}
	}
}

// checkEnd applies Cypher's rule for the last clause: a query ends with RETURN, an updating
// clause, or a procedure call.
func (qu *query) checkEnd() *Error {
	switch c := qu.clauses[len(qu.clauses)-1].(type) {
	case *returnClause, *createClause, *mergeClause, *setClause, *removeClause, *deleteClause, *constraintClause:
		return nil
	case *callClause:
		if len(qu.clauses) == 1 || c.yield == nil {
			return nil
		}
		return syntaxError("Query cannot conclude with CALL together with YIELD (must be a RETURN clause, an update clause or a procedure call with no YIELD)")
	default:
		return syntaxError("Query cannot conclude with %s (must be a RETURN clause, an update clause or a procedure call with no YIELD)", c.clauseName())
	}
}

// clause parses the next clause.
func (p *parser) clause() (clause, *Error) {
	t := p.peek()
	switch {
	case p.keyword("OPTIONAL"):
		switch {
		case p.keyword("CALL"):
			return p.call(true)
		case p.keyword("MATCH"):
			return p.match(true)
		}
		return nil, p.unexpected("CALL or MATCH after OPTIONAL")
	case p.keyword("CALL"):
		return p.call(false)
	case p.keyword("MATCH"):
		return p.match(false)
	case p.keyword("WITH"):
		proj, err := p.projection()
		if err != nil {
			return nil, err
		}
		w := &withClause{proj: proj}
		if p.keyword("WHERE") {
			if w.where, err = p.expr(); err != nil {
				return nil, err
			}
		}
		return w, nil
	case p.keyword("RETURN"):
		proj, err := p.projection()
		if err != nil {
			return nil, err
		}
		return &returnClause{proj: proj}, nil
	case p.keyword("UNWIND"):
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expectKeyword("AS"); err != nil {
			return nil, err
		}
		name, err := p.ident("a variable")
		if err != nil {
			return nil, err
		}
		return &unwindClause{e: e, name: name}, nil
	case p.keyword("CREATE"):
		if p.keyword("CONSTRAINT") {
			return p.constraint()
		}
		if p.keyword("INDEX") || isKeyword(p.peek(), "RANGE") || isKeyword(p.peek(), "TEXT") || isKeyword(p.peek(), "OR") {
			return nil, unsupported("CREATE INDEX")
		}
		pats, err := p.patterns()
		if err != nil {
			return nil, err
		}
		return &createClause{patterns: pats}, nil
	case p.keyword("SHOW"):
		return p.show()
	case p.keyword("MERGE"):
		return p.merge()
	case p.keyword("SET"):
		items, err := p.setItems()
		if err != nil {
			return nil, err
		}
		return &setClause{items: items}, nil
	case p.keyword("REMOVE"):
		return p.remove()
	case p.keywords("DETACH", "DELETE"):
		return p.delete(true)
	case p.keyword("DELETE"):
		return p.delete(false)
	case isKeyword(p.peek(), "NODETACH"):
		return nil, unsupported("NODETACH DELETE")
	case t.kind == tokIdent:
		for _, kw := range []string{"FOREACH", "LOAD", "USE", "UNION", "SHOW", "DROP", "ALTER", "GRANT", "DENY", "REVOKE",
			"START", "STOP", "TERMINATE", "FINISH", "FILTER", "LET", "ORDER", "INSERT", "NEXT", "WHEN"} {
			if isKeyword(t, kw) {
				return nil, unsupported(strings.ToUpper(kw))
			}
		}
	}
	return nil, p.unexpected("a clause (CALL, MATCH, OPTIONAL, WITH, RETURN, UNWIND, CREATE, MERGE, SET, REMOVE, DELETE)")
}

func (p *parser) match(optional bool) (clause, *Error) {
	pats, err := p.patterns()
	if err != nil {
		return nil, err
	}
	m := &matchClause{optional: optional, patterns: pats}
	if p.keyword("WHERE") {
		if m.where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// projection parses the body of WITH or RETURN.
func (p *parser) projection() (projection, *Error) {
	var pr projection
	pr.distinct = p.keyword("DISTINCT")
	if p.punct("*") {
		pr.star = true
		if !p.punct(",") {
			return pr, p.orderSkipLimit(&pr)
		}
	}
	for {
		start := p.peek().pos
		e, err := p.expr()
		if err != nil {
			return pr, err
		}
		name := strings.TrimSpace(p.q[start:p.peek().pos])
		if v, ok := e.(varExpr); ok {
			name = v.name
		}
		if name, err = p.alias(name); err != nil {
			return pr, err
		}
		pr.items = append(pr.items, projItem{e: e, name: name})
		if !p.punct(",") {
			break
		}
	}
	return pr, p.orderSkipLimit(&pr)
}

func (p *parser) orderSkipLimit(pr *projection) *Error {
	var err *Error
	if p.keywords("ORDER", "BY") {
		for {
			var s sortItem
			if s.e, err = p.expr(); err != nil {
				return err
			}
			switch {
			case p.keyword("DESC"), p.keyword("DESCENDING"):
				s.desc = true
			case p.keyword("ASC"), p.keyword("ASCENDING"):
			}
			pr.order = append(pr.order, s)
			if !p.punct(",") {
				break
			}
		}
	}
	if p.keyword("SKIP") || p.keyword("OFFSET") {
		if pr.skip, err = p.expr(); err != nil {
			return err
		}
	}
	if p.keyword("LIMIT") {
		if pr.limit, err = p.expr(); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) merge() (clause, *Error) {
	pats, err := p.patterns()
	if err != nil {
		return nil, err
	}
	if len(pats) != 1 {
		return nil, syntaxError("MERGE takes exactly one pattern")
	}
	m := &mergeClause{pattern: pats[0]}
	for p.keyword("ON") {
		var target *[]setItem
		switch {
		case p.keyword("CREATE"):
			target = &m.onCreate
		case p.keyword("MATCH"):
			target = &m.onMatch
		default:
			return nil, p.unexpected("CREATE or MATCH after ON")
		}
		if err := p.expectKeyword("SET"); err != nil {
			return nil, err
		}
		items, err := p.setItems()
		if err != nil {
			return nil, err
		}
		*target = append(*target, items...)
	}
	return m, nil
}

func (p *parser) delete(detach bool) (clause, *Error) {
	d := &deleteClause{detach: detach}
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		d.exprs = append(d.exprs, e)
		if !p.punct(",") {
			return d, nil
		}
	}
}
