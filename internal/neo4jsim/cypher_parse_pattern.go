package neo4jsim

import "strings"

// Patterns, SET and REMOVE items, and CREATE CONSTRAINT.

// patterns parses pattern, pattern, ....
func (p *parser) patterns() ([]pattern, *Error) {
	var out []pattern
	for {
		if p.peek().kind == tokIdent && p.peekAt(1).text == "=" {
			return nil, unsupported("named paths (p = ...)")
		}
		pat, err := p.pattern()
		if err != nil {
			return nil, err
		}
		out = append(out, pat)
		if !p.punct(",") {
			return out, nil
		}
	}
}

// pattern parses (a)-[r:T]->(b)<-[:S]-(c)...
func (p *parser) pattern() (pattern, *Error) {
	var pat pattern
	for _, fn := range []string{"shortestPath", "allShortestPaths"} {
		if isKeyword(p.peek(), fn) {
			return pat, unsupported(fn + "()")
		}
	}
	n, err := p.nodePattern()
	if err != nil {
		return pat, err
	}
	pat.nodes = append(pat.nodes, n)
	for p.isPunct("-") || p.isPunct("<") || p.isPunct("<>") {
		r, err := p.relPattern()
		if err != nil {
			return pat, err
		}
		n, err := p.nodePattern()
		if err != nil {
			return pat, err
		}
		pat.rels = append(pat.rels, r)
		pat.nodes = append(pat.nodes, n)
	}
	return pat, nil
}

func (p *parser) nodePattern() (nodePattern, *Error) {
	var n nodePattern
	if err := p.expect("("); err != nil {
		return n, err
	}
	if t := p.peek(); t.kind == tokIdent {
		n.v = t.text
		p.i++
	}
	for p.punct(":") {
		if p.isPunct("(") || p.isPunct("!") || p.isPunct("%") {
			return n, unsupported("label expressions")
		}
		l, err := p.ident("a label")
		if err != nil {
			return n, err
		}
		n.labels = append(n.labels, l)
		if p.isPunct("|") || p.isPunct("&") {
			return n, unsupported("label expressions")
		}
	}
	if isKeyword(p.peek(), "WHERE") {
		return n, unsupported("WHERE inside a node pattern")
	}
	var err *Error
	if n.props, err = p.patternProps(); err != nil {
		return n, err
	}
	return n, p.expect(")")
}

// patternProps parses an optional {map} or $param of a node or relationship pattern.
func (p *parser) patternProps() (expr, *Error) {
	switch {
	case p.punct("{"):
		return p.mapLiteral(0)
	case p.peek().kind == tokParam:
		return paramExpr{name: p.next().text}, nil
	}
	return nil, nil
}

// relPattern parses -[v:T|U {props}]-> and its variants, including -- and -->.
func (p *parser) relPattern() (relPattern, *Error) {
	var r relPattern
	left := false
	switch {
	case p.punct("<>"):
		return r, p.unexpected("a relationship pattern")
	case p.punct("<"):
		left = true
		if err := p.expect("-"); err != nil {
			return r, err
		}
	default:
		p.i++ // "-"
	}
	if p.punct("[") {
		if t := p.peek(); t.kind == tokIdent {
			r.v = t.text
			p.i++
		}
		if p.punct(":") {
			for {
				t, err := p.ident("a relationship type")
				if err != nil {
					return r, err
				}
				r.types = append(r.types, t)
				if !p.punct("|") {
					break
				}
				p.punct(":")
			}
		}
		if p.isPunct("*") {
			return r, unsupported("variable-length relationships")
		}
		var err *Error
		if r.props, err = p.patternProps(); err != nil {
			return r, err
		}
		if err := p.expect("]"); err != nil {
			return r, err
		}
	}
	if err := p.expect("-"); err != nil {
		return r, err
	}
	right := p.punct(">")
	switch {
	case left && right:
		r.dir = dirBoth
	case left:
		r.dir = dirLeft
	case right:
		r.dir = dirRight
	}
	return r, nil
}

// setItems parses item, item, ... of SET or ON CREATE/MATCH SET.
func (p *parser) setItems() ([]setItem, *Error) {
	var items []setItem
	for {
		it, err := p.setItem()
		if err != nil {
			return nil, err
		}
		items = append(items, it)
		if !p.punct(",") {
			return items, nil
		}
	}
}

func (p *parser) setItem() (setItem, *Error) {
	var it setItem
	v, err := p.ident("a variable")
	if err != nil {
		return it, err
	}
	it.target = varExpr{name: v}
	switch {
	case p.punct("."):
		if it.key, err = p.ident("a property key"); err != nil {
			return it, err
		}
		if p.isPunct(".") {
			return it, unsupported("SET of a nested property")
		}
		it.kind = setKindProperty
		if err := p.expect("="); err != nil {
			return it, err
		}
	case p.isPunct(":"):
		it.kind = setKindLabels
		for p.punct(":") {
			l, err := p.ident("a label")
			if err != nil {
				return it, err
			}
			it.labels = append(it.labels, l)
		}
		return it, nil
	case p.punct("="):
		it.kind = setKindReplace
	case p.punct("+="):
		it.kind = setKindMerge
	default:
		return it, p.unexpected("'.', ':', '=' or '+=' in SET")
	}
	it.value, err = p.expr()
	return it, err
}

func (p *parser) remove() (clause, *Error) {
	rc := &removeClause{}
	for {
		v, err := p.ident("a variable")
		if err != nil {
			return nil, err
		}
		it := removeItem{target: varExpr{name: v}}
		switch {
		case p.punct("."):
			if it.key, err = p.ident("a property key"); err != nil {
				return nil, err
			}
		case p.isPunct(":"):
			for p.punct(":") {
				l, err := p.ident("a label")
				if err != nil {
					return nil, err
				}
				it.labels = append(it.labels, l)
			}
		default:
			return nil, p.unexpected("'.' or ':' in REMOVE")
		}
		rc.items = append(rc.items, it)
		if !p.punct(",") {
			return rc, nil
		}
	}
}

// constraint parses the rest of CREATE CONSTRAINT: key and uniqueness constraints.
func (p *parser) constraint() (clause, *Error) {
	c := &constraintClause{}
	if t := p.peek(); t.kind == tokIdent && !isKeyword(t, "FOR") && !isKeyword(t, "IF") {
		p.i++ // the constraint name; the simulator does not keep names
	}
	if p.keywords("IF", "NOT", "EXISTS") {
		c.ifNotExists = true
	}
	if err := p.expectKeyword("FOR"); err != nil {
		return nil, err
	}
	pat, err := p.pattern()
	if err != nil {
		return nil, err
	}
	var v string
	switch {
	case len(pat.nodes) == 1 && len(pat.nodes[0].labels) == 1:
		v, c.target = pat.nodes[0].v, pat.nodes[0].labels[0]
	case len(pat.rels) == 1 && len(pat.rels[0].types) == 1:
		v, c.target, c.rel = pat.rels[0].v, pat.rels[0].types[0], true
	default:
		return nil, syntaxError("CREATE CONSTRAINT needs one label, (v:Label), or one relationship type, ()-[v:TYPE]-()")
	}
	if err := p.expectKeyword("REQUIRE"); err != nil {
		return nil, err
	}
	paren := p.punct("(")
	for {
		name, err := p.ident("a variable")
		if err != nil {
			return nil, err
		}
		if name != v {
			return nil, &Error{Code: "Neo.ClientError.Statement.SyntaxError", GQLStatus: "42N62",
				Message: "Variable `" + name + "` not defined"}
		}
		if err := p.expect("."); err != nil {
			return nil, err
		}
		key, err := p.ident("a property key")
		if err != nil {
			return nil, err
		}
		c.props = append(c.props, key)
		if !paren || !p.punct(",") {
			break
		}
	}
	if paren {
		if err := p.expect(")"); err != nil {
			return nil, err
		}
	}
	if err := p.expectKeyword("IS"); err != nil {
		return nil, err
	}
	switch {
	case p.keyword("UNIQUE"):
		c.unique = true
	case p.keyword("KEY"):
	case p.keywords("NODE", "KEY") && !c.rel, (p.keywords("RELATIONSHIP", "KEY") || p.keywords("REL", "KEY")) && c.rel:
	default:
		t := p.peek()
		if t.kind == tokIdent {
			return nil, unsupported("constraints of kind IS " + strings.ToUpper(t.text))
		}
		return nil, p.unexpected("KEY or UNIQUE")
	}
	if isKeyword(p.peek(), "OPTIONS") {
		return nil, unsupported("constraint OPTIONS")
	}
	return c, nil
}
