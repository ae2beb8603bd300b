package neo4jsim

import (
	"fmt"
	"strings"
)

// The CALL clause: procedure name, arguments (or the implicit form), YIELD and its WHERE.

// call parses a procedure call after CALL.
func (p *parser) call(optional bool) (clause, *Error) {
	if p.isPunct("{") || p.isPunct("(") {
		return nil, unsupported("CALL subqueries")
	}
	pos := p.peek().pos
	var parts []string
	for {
		name, err := p.ident("a procedure name")
		if err != nil {
			return nil, err
		}
		parts = append(parts, name)
		if !p.punct(".") {
			break
		}
	}
	name := strings.Join(parts, ".")
	def := lookupProcedure(name)
	if def == nil {
		return nil, &Error{Code: "Neo.ClientError.Procedure.ProcedureNotFound", GQLStatus: "42N08",
			Message: fmt.Sprintf("There is no procedure with the name `%s` registered for this database instance. "+
				"Please ensure you've spelled the procedure name correctly and that the procedure is properly deployed.", name)}
	}
	c := &callClause{optional: optional, proc: def, name: name, pos: pos}
	if !p.punct("(") {
		c.implicit = true
	} else if !p.punct(")") {
		for {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			if p.punct(")") {
				break
			}
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
	}
	if len(c.args) > len(def.params) {
		return nil, &Error{Code: "Neo.ClientError.Procedure.ProcedureCallFailed", GQLStatus: "42I13",
			Message: fmt.Sprintf("Procedure call provides too many arguments: got %d expected no more than %d.", len(c.args), len(def.params))}
	}
	if !p.keyword("YIELD") {
		return c, nil
	}
	if err := p.yield(c); err != nil {
		return nil, err
	}
	if p.keyword("WHERE") {
		w, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.where = w
	}
	return c, nil
}

// yield parses YIELD * or YIELD col [AS alias], .... Column names match case-insensitively
// (a leniency of the simulator); the variable is the column's own spelling or the alias.
func (p *parser) yield(c *callClause) *Error {
	c.yield = []yieldItem{}
	if p.punct("*") {
		for i, col := range c.proc.columns {
			c.yield = append(c.yield, yieldItem{col: i, name: col})
		}
		return nil
	}
	seen := map[string]bool{}
	for {
		t := p.peek()
		if t.kind != tokIdent {
			return p.unexpected("a column name")
		}
		p.i++
		col := -1
		for i, name := range c.proc.columns {
			if strings.EqualFold(name, t.text) {
				col = i
			}
		}
		if col < 0 {
			return &Error{Code: "Neo.ClientError.Statement.SyntaxError", GQLStatus: "42N13",
				Message: fmt.Sprintf("Unknown procedure output: `%s`", t.text)}
		}
		v, err := p.alias(c.proc.columns[col])
		if err != nil {
			return err
		}
		if seen[v] {
			return syntaxError("Variable `%s` already declared", v)
		}
		seen[v] = true
		c.yield = append(c.yield, yieldItem{col: col, name: v})
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
	return p.ident("an alias")
}
