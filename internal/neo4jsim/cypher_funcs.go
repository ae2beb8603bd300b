package neo4jsim

import (
	"slices"
	"strconv"
	"strings"
)

// The scalar functions of the Cypher subset (the parser's functions table lists them with
// their arities); aggregating functions are in cypher_aggregate.go.

// call evaluates a scalar function.
func (x *execCtx) call(f funcExpr, r row) (any, error) {
	args := make([]any, len(f.args))
	for i, a := range f.args {
		v, err := x.eval(a, r)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	if f.name == "coalesce" {
		for _, a := range args {
			if a != nil {
				return a, nil
			}
		}
		return nil, nil
	}
	a := args[0]
	if a == nil {
		return nil, nil
	}
	switch f.name {
	case "elementid":
		switch t := a.(type) {
		case nodeRef:
			return x.db.nodeElementID(t.id), nil
		case relRef:
			return x.db.relElementID(t.id), nil
		}
	case "labels":
		if n, ok := a.(nodeRef); ok {
			st := x.nodeState(n.id)
			if st == nil {
				return nil, deletedEntity("Node", x.db.nodeElementID(n.id))
			}
			return anyStrings(st.labels), nil
		}
	case "type":
		if rr, ok := a.(relRef); ok {
			st := x.relState(rr.id)
			if st == nil {
				return nil, deletedEntity("Relationship", x.db.relElementID(rr.id))
			}
			return st.typ, nil
		}
	case "keys", "properties":
		props, ok, err := x.propsOf(a)
		if err != nil || !ok {
			break
		}
		if f.name == "properties" {
			return cloneMap(props), nil
		}
		return anyStrings(sortedKeys(props)), nil
	case "startnode", "endnode":
		if rr, ok := a.(relRef); ok {
			st := x.relState(rr.id)
			if st == nil {
				return nil, deletedEntity("Relationship", x.db.relElementID(rr.id))
			}
			if f.name == "startnode" {
				return nodeRef{st.start}, nil
			}
			return nodeRef{st.end}, nil
		}
	case "size":
		switch t := a.(type) {
		case []any:
			return int64(len(t)), nil
		case string:
			return int64(len([]rune(t))), nil
		}
	case "head", "last":
		if l, ok := a.([]any); ok {
			if len(l) == 0 {
				return nil, nil
			}
			if f.name == "head" {
				return l[0], nil
			}
			return l[len(l)-1], nil
		}
	case "tostring":
		switch t := a.(type) {
		case string:
			return t, nil
		case int64:
			return strconv.FormatInt(t, 10), nil
		case float64:
			return strconv.FormatFloat(t, 'f', -1, 64), nil
		case bool:
			return strconv.FormatBool(t), nil
		}
	case "tointeger":
		switch t := a.(type) {
		case int64:
			return t, nil
		case float64:
			return int64(t), nil
		case string:
			if i, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
				return i, nil
			}
			if fl, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil {
				return int64(fl), nil
			}
			return nil, nil
		}
	case "tofloat":
		switch t := a.(type) {
		case int64:
			return float64(t), nil
		case float64:
			return t, nil
		case string:
			if fl, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil {
				return fl, nil
			}
			return nil, nil
		}
	}
	return nil, typeMismatch("Invalid argument of type %s for %s()", cypherType(a), f.name)
}

// propsOf returns the properties of a node, relationship or map.
func (x *execCtx) propsOf(v any) (map[string]any, bool, error) {
	switch t := v.(type) {
	case nodeRef:
		st := x.nodeState(t.id)
		if st == nil {
			return nil, false, deletedEntity("Node", x.db.nodeElementID(t.id))
		}
		return st.props, true, nil
	case relRef:
		st := x.relState(t.id)
		if st == nil {
			return nil, false, deletedEntity("Relationship", x.db.relElementID(t.id))
		}
		return st.props, true, nil
	case map[string]any:
		return t, true, nil
	}
	return nil, false, nil
}

func hasLabels(st *nodeState, labels []string) bool {
	for _, l := range labels {
		if !slices.Contains(st.labels, l) {
			return false
		}
	}
	return true
}
