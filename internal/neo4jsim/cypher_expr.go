package neo4jsim

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Expression evaluation with Cypher's null semantics: most operators and functions give null
// for a null operand, and AND, OR, XOR and NOT use three-valued logic.

// row binds variables to values.
type row map[string]any

// evalConst evaluates an expression that may use parameters but no variables.
func evalConst(e expr, params map[string]any) (any, error) {
	x := &execCtx{params: params}
	return x.eval(e, nil)
}

// constArgs evaluates the arguments of a procedure call without variables. In the implicit
// form (no parentheses) each argument is the parameter of the argument's name, if given.
func constArgs(c *callClause, params map[string]any) ([]any, error) {
	return (&execCtx{params: params}).procArgs(c, nil)
}

func (x *execCtx) procArgs(c *callClause, r row) ([]any, error) {
	var args []any
	if c.implicit {
		for _, name := range c.proc.params {
			v, ok := x.params[name]
			if !ok {
				break
			}
			args = append(args, v)
		}
		return args, nil
	}
	for _, a := range c.args {
		v, err := x.eval(a, r)
		if err != nil {
			return nil, err
		}
		args = append(args, x.output(v))
	}
	return args, nil
}

// eval evaluates e in row r.
func (x *execCtx) eval(e expr, r row) (any, error) {
	switch t := e.(type) {
	case literalExpr:
		return t.v, nil
	case paramExpr:
		v, ok := x.params[t.name]
		if !ok {
			return nil, &Error{Code: "Neo.ClientError.Statement.ParameterMissing", GQLStatus: "42N51",
				Message: fmt.Sprintf("Expected parameter(s): %s", t.name)}
		}
		return v, nil
	case varExpr:
		v, ok := r[t.name]
		if !ok {
			return nil, varNotDefined(t.name)
		}
		return v, nil
	case propExpr:
		v, err := x.eval(t.x, r)
		if err != nil {
			return nil, err
		}
		return x.property(v, t.key)
	case indexExpr:
		return x.index(t, r)
	case listExpr:
		out := make([]any, len(t.items))
		for i, it := range t.items {
			v, err := x.eval(it, r)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case mapExpr:
		out := make(map[string]any, len(t.keys))
		for i, k := range t.keys {
			v, err := x.eval(t.vals[i], r)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case notExpr:
		v, err := x.eval(t.x, r)
		if err != nil {
			return nil, err
		}
		b, isNull, err := truth(v)
		if err != nil || isNull {
			return nil, err
		}
		return !b, nil
	case negExpr:
		v, err := x.eval(t.x, r)
		if err != nil {
			return nil, err
		}
		return arithmetic("-", int64(0), v)
	case isNullExpr:
		v, err := x.eval(t.x, r)
		if err != nil {
			return nil, err
		}
		return (v == nil) != t.not, nil
	case labelTestExpr:
		v, err := x.eval(t.x, r)
		if err != nil || v == nil {
			return nil, err
		}
		n, ok := v.(nodeRef)
		if !ok {
			return nil, typeMismatch("Expected a node for a label test, got %s", cypherType(v))
		}
		st := x.nodeState(n.id)
		return st != nil && hasLabels(st, t.labels), nil
	case binaryExpr:
		return x.binary(t, r)
	case funcExpr:
		if aggregates[t.name] {
			return nil, misplacedAggregate(t.name)
		}
		return x.call(t, r)
	case caseExpr:
		return x.caseValue(t, r)
	}
	return nil, fmt.Errorf("neo4jsim: unknown expression %T", e)
}

// truth converts a predicate value: ok, null, or a type error.
func truth(v any) (b, isNull bool, err error) {
	switch t := v.(type) {
	case nil:
		return false, true, nil
	case bool:
		return t, false, nil
	}
	return false, false, typeMismatch("Expected a BOOLEAN, got %s", cypherType(v))
}

// property returns v.key for a node, relationship or map; null for null.
func (x *execCtx) property(v any, key string) (any, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case nodeRef:
		st := x.nodeState(t.id)
		if st == nil {
			return nil, deletedEntity("Node", x.db.nodeElementID(t.id))
		}
		return st.props[key], nil
	case relRef:
		st := x.relState(t.id)
		if st == nil {
			return nil, deletedEntity("Relationship", x.db.relElementID(t.id))
		}
		return st.props[key], nil
	case map[string]any:
		return t[key], nil
	case DateTime, Date, LocalDateTime, Duration, Point2D, Point3D, Time, LocalTime:
		return nil, unsupported("property access on temporal and spatial values")
	}
	return nil, typeMismatch("Type mismatch: expected a map, node or relationship for .%s but was %s", key, cypherType(v))
}

func (x *execCtx) index(t indexExpr, r row) (any, error) {
	v, err := x.eval(t.x, r)
	if err != nil {
		return nil, err
	}
	i, err := x.eval(t.i, r)
	if err != nil || v == nil || i == nil {
		return nil, err
	}
	if key, ok := i.(string); ok {
		return x.property(v, key)
	}
	l, ok := v.([]any)
	n, ok2 := i.(int64)
	if !ok || !ok2 {
		return nil, typeMismatch("Cannot index %s with %s", cypherType(v), cypherType(i))
	}
	if n < 0 {
		n += int64(len(l))
	}
	if n < 0 || n >= int64(len(l)) {
		return nil, nil
	}
	return l[n], nil
}

func (x *execCtx) binary(t binaryExpr, r row) (any, error) {
	l, err := x.eval(t.l, r)
	if err != nil {
		return nil, err
	}
	switch t.op {
	case "AND", "OR", "XOR":
		lb, lnull, err := truth(l)
		if err != nil {
			return nil, err
		}
		if !lnull && (t.op == "AND" && !lb || t.op == "OR" && lb) {
			return lb, nil // short circuit
		}
		rv, err := x.eval(t.r, r)
		if err != nil {
			return nil, err
		}
		rb, rnull, err := truth(rv)
		if err != nil {
			return nil, err
		}
		switch t.op {
		case "AND":
			if !rnull && !rb {
				return false, nil
			}
			if lnull || rnull {
				return nil, nil
			}
			return true, nil
		case "OR":
			if !rnull && rb {
				return true, nil
			}
			if lnull || rnull {
				return nil, nil
			}
			return false, nil
		}
		if lnull || rnull {
			return nil, nil
		}
		return lb != rb, nil
	}
	rv, err := x.eval(t.r, r)
	if err != nil {
		return nil, err
	}
	switch t.op {
	case "=", "<>":
		if l == nil || rv == nil {
			return nil, nil
		}
		eq := cypherEqual(l, rv)
		return eq == (t.op == "="), nil
	case "<", ">", "<=", ">=":
		if l == nil || rv == nil {
			return nil, nil
		}
		c, ok := compareValues(l, rv)
		if !ok {
			return nil, nil
		}
		switch t.op {
		case "<":
			return c < 0, nil
		case ">":
			return c > 0, nil
		case "<=":
			return c <= 0, nil
		}
		return c >= 0, nil
	case "IN":
		if rv == nil {
			return nil, nil
		}
		list, ok := rv.([]any)
		if !ok {
			return nil, typeMismatch("Expected a LIST for IN, got %s", cypherType(rv))
		}
		if l == nil {
			if len(list) == 0 {
				return false, nil
			}
			return nil, nil
		}
		sawNull := false
		for _, e := range list {
			if e == nil {
				sawNull = true
			} else if cypherEqual(l, e) {
				return true, nil
			}
		}
		if sawNull {
			return nil, nil
		}
		return false, nil
	case "STARTS WITH", "ENDS WITH", "CONTAINS":
		ls, ok1 := l.(string)
		rs, ok2 := rv.(string)
		if !ok1 || !ok2 {
			return nil, nil
		}
		switch t.op {
		case "STARTS WITH":
			return strings.HasPrefix(ls, rs), nil
		case "ENDS WITH":
			return strings.HasSuffix(ls, rs), nil
		}
		return strings.Contains(ls, rs), nil
	}
	return arithmetic(t.op, l, rv)
}

// arithmetic applies + - * / % ^ to numbers, + to strings and lists.
func arithmetic(op string, l, r any) (any, error) {
	if l == nil || r == nil {
		return nil, nil
	}
	if op == "+" {
		switch a := l.(type) {
		case []any:
			if b, ok := r.([]any); ok {
				return append(slices.Clip(a), b...), nil
			}
			return append(slices.Clip(a), r), nil
		case string:
			switch b := r.(type) {
			case string:
				return a + b, nil
			case int64, float64, bool:
				return a + fmt.Sprint(b), nil
			}
		}
		if b, ok := r.([]any); ok {
			return append([]any{l}, b...), nil
		}
		if b, ok := r.(string); ok {
			switch l.(type) {
			case int64, float64, bool:
				return fmt.Sprint(l) + b, nil
			}
		}
	}
	ai, aInt := l.(int64)
	bi, bInt := r.(int64)
	if aInt && bInt && op != "^" {
		switch op {
		case "+":
			s := ai + bi
			if (s > ai) != (bi > 0) {
				return nil, arithmeticError("long overflow")
			}
			return s, nil
		case "-":
			s := ai - bi
			if (s < ai) != (bi > 0) {
				return nil, arithmeticError("long overflow")
			}
			return s, nil
		case "*":
			if ai != 0 && (ai*bi/ai != bi || ai == -1 && bi == math.MinInt64 || bi == -1 && ai == math.MinInt64) {
				return nil, arithmeticError("long overflow")
			}
			return ai * bi, nil
		case "/", "%":
			if bi == 0 {
				return nil, arithmeticError("/ by zero")
			}
			if op == "/" {
				return ai / bi, nil
			}
			return ai % bi, nil
		}
	}
	af, ok1 := toFloat(l)
	bf, ok2 := toFloat(r)
	if !ok1 || !ok2 {
		return nil, typeMismatch("Cannot apply %s to %s and %s", op, cypherType(l), cypherType(r))
	}
	switch op {
	case "+":
		return af + bf, nil
	case "-":
		return af - bf, nil
	case "*":
		return af * bf, nil
	case "/":
		return af / bf, nil
	case "%":
		return math.Mod(af, bf), nil
	}
	return math.Pow(af, bf), nil
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

func (x *execCtx) caseValue(t caseExpr, r row) (any, error) {
	var subject any
	if t.subject != nil {
		v, err := x.eval(t.subject, r)
		if err != nil {
			return nil, err
		}
		subject = v
	}
	for i, w := range t.whens {
		v, err := x.eval(w, r)
		if err != nil {
			return nil, err
		}
		hit := false
		if t.subject != nil {
			hit = subject != nil && v != nil && cypherEqual(subject, v)
		} else {
			b, isNull, err := truth(v)
			if err != nil {
				return nil, err
			}
			hit = b && !isNull
		}
		if hit {
			return x.eval(t.thens[i], r)
		}
	}
	if t.els == nil {
		return nil, nil
	}
	return x.eval(t.els, r)
}
