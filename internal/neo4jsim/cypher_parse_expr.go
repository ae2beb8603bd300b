package neo4jsim

import (
	"fmt"
	"strconv"
	"strings"
)

// Expressions of the Cypher subset, by precedence from loosest to tightest:
// OR, XOR, AND, NOT, comparison (= <> < > <= >= IN STARTS WITH ENDS WITH CONTAINS
// IS [NOT] NULL), + -, * / %, ^, unary -, postfix (.key [index] :Label), atoms.

// maxExprDepth bounds nesting so that no input exhausts the stack.
const maxExprDepth = 200

func (p *parser) expr() (expr, *Error) { return p.exprDepth(0) }

func (p *parser) exprDepth(depth int) (expr, *Error) {
	if depth > maxExprDepth {
		return nil, syntaxError("Invalid input: expression nested too deeply")
	}
	return p.orExpr(depth + 1)
}

func (p *parser) orExpr(d int) (expr, *Error) {
	l, err := p.xorExpr(d)
	for err == nil && p.keyword("OR") {
		var r expr
		if r, err = p.xorExpr(d); err == nil {
			l = binaryExpr{op: "OR", l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) xorExpr(d int) (expr, *Error) {
	l, err := p.andExpr(d)
	for err == nil && p.keyword("XOR") {
		var r expr
		if r, err = p.andExpr(d); err == nil {
			l = binaryExpr{op: "XOR", l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) andExpr(d int) (expr, *Error) {
	l, err := p.notExpr(d)
	for err == nil && p.keyword("AND") {
		var r expr
		if r, err = p.notExpr(d); err == nil {
			l = binaryExpr{op: "AND", l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) notExpr(d int) (expr, *Error) {
	if p.keyword("NOT") {
		if d > maxExprDepth {
			return nil, syntaxError("Invalid input: expression nested too deeply")
		}
		x, err := p.notExpr(d + 1)
		if err != nil {
			return nil, err
		}
		return notExpr{x: x}, nil
	}
	return p.comparison(d)
}

var comparisonOps = map[string]bool{"=": true, "<>": true, "<": true, ">": true, "<=": true, ">=": true}

func (p *parser) comparison(d int) (expr, *Error) {
	l, err := p.additive(d)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		var op string
		switch {
		case t.kind == tokPunct && comparisonOps[t.text]:
			op = t.text
			p.i++
		case p.keyword("IN"):
			op = "IN"
		case p.keywords("STARTS", "WITH"):
			op = "STARTS WITH"
		case p.keywords("ENDS", "WITH"):
			op = "ENDS WITH"
		case p.keyword("CONTAINS"):
			op = "CONTAINS"
		case p.keywords("IS", "NOT", "NULL"):
			l = isNullExpr{x: l, not: true}
			continue
		case p.keywords("IS", "NULL"):
			l = isNullExpr{x: l}
			continue
		case t.kind == tokPunct && t.text == "=" || isKeyword(t, "IS"):
			return nil, p.unexpected("NULL or NOT NULL after IS")
		default:
			return l, nil
		}
		r, err := p.additive(d)
		if err != nil {
			return nil, err
		}
		l = binaryExpr{op: op, l: l, r: r}
	}
}

func (p *parser) additive(d int) (expr, *Error) {
	l, err := p.multiplicative(d)
	for err == nil && (p.isPunct("+") || p.isPunct("-")) {
		op := p.next().text
		var r expr
		if r, err = p.multiplicative(d); err == nil {
			l = binaryExpr{op: op, l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) multiplicative(d int) (expr, *Error) {
	l, err := p.power(d)
	for err == nil && (p.isPunct("*") || p.isPunct("/") || p.isPunct("%")) {
		op := p.next().text
		var r expr
		if r, err = p.power(d); err == nil {
			l = binaryExpr{op: op, l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) power(d int) (expr, *Error) {
	l, err := p.unary(d)
	for err == nil && p.punct("^") {
		var r expr
		if r, err = p.unary(d); err == nil {
			l = binaryExpr{op: "^", l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) unary(d int) (expr, *Error) {
	if p.isPunct("-") || p.isPunct("+") {
		neg := p.next().text == "-"
		if t := p.peek(); neg && (t.kind == tokInt || t.kind == tokFloat) {
			p.i++
			v, err := parseNumber(t, true)
			if err != nil {
				return nil, err
			}
			return p.postfix(literalExpr{v: v}, d)
		}
		if d > maxExprDepth {
			return nil, syntaxError("Invalid input: expression nested too deeply")
		}
		x, err := p.unary(d + 1)
		if err != nil || !neg {
			return x, err
		}
		return negExpr{x: x}, nil
	}
	a, err := p.atom(d)
	if err != nil {
		return nil, err
	}
	return p.postfix(a, d)
}

// postfix parses property access, indexing and label tests after an atom.
func (p *parser) postfix(x expr, d int) (expr, *Error) {
	for {
		switch {
		case p.punct("."):
			key, err := p.ident("a property key")
			if err != nil {
				return nil, err
			}
			x = propExpr{x: x, key: key}
		case p.punct("["):
			i, err := p.exprDepth(d)
			if err != nil {
				return nil, err
			}
			if p.isPunct("..") || p.isPunct(".") {
				return nil, unsupported("list slicing")
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			x = indexExpr{x: x, i: i}
		case p.isPunct(":") && p.peekAt(1).kind == tokIdent:
			var labels []string
			for p.punct(":") {
				l, err := p.ident("a label")
				if err != nil {
					return nil, err
				}
				labels = append(labels, l)
			}
			x = labelTestExpr{x: x, labels: labels}
		default:
			return x, nil
		}
	}
}

func (p *parser) atom(d int) (expr, *Error) {
	t := p.next()
	switch t.kind {
	case tokParam:
		return paramExpr{name: t.text}, nil
	case tokString:
		return literalExpr{v: t.str}, nil
	case tokInt, tokFloat:
		v, err := parseNumber(t, false)
		if err != nil {
			return nil, err
		}
		return literalExpr{v: v}, nil
	case tokIdent:
		switch strings.ToLower(t.text) {
		case "null":
			return literalExpr{v: nil}, nil
		case "true":
			return literalExpr{v: true}, nil
		case "false":
			return literalExpr{v: false}, nil
		case "case":
			return p.caseExpr(d)
		case "exists", "count", "collect":
			if p.isPunct("{") {
				return nil, unsupported(strings.ToUpper(t.text) + " subqueries")
			}
		}
		if p.isPunct("(") || p.isPunct(".") && p.peekAt(1).kind == tokIdent && p.peekAt(2).text == "(" {
			return p.function(t, d)
		}
		return varExpr{name: t.text}, nil
	case tokPunct:
		switch t.text {
		case "(":
			if p.isPunct(")") || p.peek().kind == tokIdent && (p.peekAt(1).text == ":" || p.peekAt(1).text == ")" && (p.peekAt(2).text == "-" || p.peekAt(2).text == "<")) {
				return nil, unsupported("pattern expressions")
			}
			x, err := p.exprDepth(d)
			if err != nil {
				return nil, err
			}
			return x, p.expect(")")
		case "[":
			if p.peek().kind == tokIdent && isKeyword(p.peekAt(1), "IN") {
				return nil, unsupported("list comprehensions")
			}
			l := listExpr{}
			if p.punct("]") {
				return l, nil
			}
			for {
				v, err := p.exprDepth(d)
				if err != nil {
					return nil, err
				}
				l.items = append(l.items, v)
				if p.punct("]") {
					return l, nil
				}
				if err := p.expect(","); err != nil {
					return nil, err
				}
			}
		case "{":
			return p.mapLiteral(d)
		}
	}
	p.i--
	if t.kind == tokEOF {
		p.i = len(p.toks) - 1
	}
	return nil, p.unexpected("an expression")
}

// mapLiteral parses {key: expr, ...} after the opening brace.
func (p *parser) mapLiteral(d int) (expr, *Error) {
	m := mapExpr{}
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
		v, err := p.exprDepth(d)
		if err != nil {
			return nil, err
		}
		m.keys = append(m.keys, key)
		m.vals = append(m.vals, v)
		if p.punct("}") {
			return m, nil
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
	}
}

// functions are the scalar functions of the subset, with their arities (min, max).
var functions = map[string][2]int{
	"elementid": {1, 1}, "labels": {1, 1}, "type": {1, 1}, "keys": {1, 1}, "properties": {1, 1},
	"size": {1, 1}, "coalesce": {1, 1 << 20}, "startnode": {1, 1}, "endnode": {1, 1},
	"tostring": {1, 1}, "tointeger": {1, 1}, "tofloat": {1, 1}, "head": {1, 1}, "last": {1, 1},
	"count": {1, 1}, "collect": {1, 1}, "sum": {1, 1}, "min": {1, 1}, "max": {1, 1}, "avg": {1, 1},
}

// function parses name(args) after its first name token.
func (p *parser) function(first token, d int) (expr, *Error) {
	name := first.text
	for p.punct(".") {
		part, err := p.ident("a function name")
		if err != nil {
			return nil, err
		}
		name += "." + part
	}
	lower := strings.ToLower(name)
	arity, ok := functions[lower]
	if !ok {
		if lower == "id" {
			return nil, unsupported("the function id() (use elementId())")
		}
		return nil, unsupported(fmt.Sprintf("the function %s()", name))
	}
	if err := p.expect("("); err != nil {
		return nil, err
	}
	f := funcExpr{name: lower}
	if lower == "count" && p.isPunct("*") {
		p.i++
		f.star = true
		return f, p.expect(")")
	}
	if aggregates[lower] {
		f.distinct = p.keyword("DISTINCT")
	}
	if !p.punct(")") {
		for {
			a, err := p.exprDepth(d)
			if err != nil {
				return nil, err
			}
			f.args = append(f.args, a)
			if p.punct(")") {
				break
			}
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
	}
	if len(f.args) < arity[0] || len(f.args) > arity[1] {
		return nil, &Error{Code: "Neo.ClientError.Statement.SyntaxError", GQLStatus: "42I13",
			Message: fmt.Sprintf("Function call %s() provides %d arguments, expected %d.", name, len(f.args), arity[0])}
	}
	return f, nil
}

// caseExpr parses CASE [subject] WHEN ... THEN ... [ELSE ...] END after CASE.
func (p *parser) caseExpr(d int) (expr, *Error) {
	c := caseExpr{}
	var err *Error
	if !isKeyword(p.peek(), "WHEN") {
		if c.subject, err = p.exprDepth(d); err != nil {
			return nil, err
		}
	}
	for p.keyword("WHEN") {
		w, err := p.exprDepth(d)
		if err != nil {
			return nil, err
		}
		if err := p.expectKeyword("THEN"); err != nil {
			return nil, err
		}
		t, err := p.exprDepth(d)
		if err != nil {
			return nil, err
		}
		c.whens, c.thens = append(c.whens, w), append(c.thens, t)
	}
	if len(c.whens) == 0 {
		return nil, p.unexpected("WHEN")
	}
	if p.keyword("ELSE") {
		if c.els, err = p.exprDepth(d); err != nil {
			return nil, err
		}
	}
	return c, p.expectKeyword("END")
}

func parseNumber(t token, neg bool) (any, *Error) {
	text := t.text
	if neg {
		text = "-" + text
	}
	if t.kind == tokInt {
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, &Error{Code: "Neo.ClientError.Statement.SyntaxError", GQLStatus: "22003",
				Message: fmt.Sprintf("integer is too large: %s", text)}
		}
		return i, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, syntaxError("Invalid input '%s': not a number", t.text)
	}
	return f, nil
}
