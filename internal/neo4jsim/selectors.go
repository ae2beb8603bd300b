package neo4jsim

import (
	"fmt"
	"slices"
)

// selector is a validated db.cdc.query selector (the selector language of docs/architecture.md section 3).
type selector struct {
	kind      string // "e", "n" or "r"
	op        string // "" = any
	changesTo []string
	execUser  *string
	authUser  *string
	txMeta    map[string]any
	elementID *string
	labels    []string
	key       map[string]any
	typ       *string
	start     *nodeSelector
	end       *nodeSelector
}

// nodeSelector is the start/end part of a relationship selector.
type nodeSelector struct {
	elementID *string
	key       map[string]any
	labels    []string
}

// Keys allowed per selector kind.
var selectorKeys = map[string][]string{
	"e": {"select", "operation", "changesTo", "executingUser", "authenticatedUser", "txMetadata"},
	"n": {"select", "operation", "changesTo", "executingUser", "authenticatedUser", "txMetadata", "elementId", "labels", "key"},
	"r": {"select", "operation", "changesTo", "executingUser", "authenticatedUser", "txMetadata", "elementId", "key", "type", "start", "end"},
}

var nodeSelectorKeys = []string{"select", "elementId", "key", "labels"}

// Selector validation choices (Neo4j documents only 51N67): every invalid selector fails
// with Neo.ClientError.Procedure.ProcedureCallFailed; a start/end "select" other than "n"
// carries GQLSTATUS 51N67 (invalid CDC selector type), everything else 52N16 (invalid
// procedure argument list). Keys are case-sensitive, "select" and "operation" values are
// lower case. Unknown keys, keys that do not apply to the selector kind and wrong value
// types are rejected. A key whose value is null counts as absent.
func selectorError(gql string, i int, format string, args ...any) *Error {
	return &Error{Code: "Neo.ClientError.Procedure.ProcedureCallFailed", GQLStatus: gql,
		Message: fmt.Sprintf("Failed to invoke procedure `db.cdc.query`: Caused by: invalid selector at index %d: %s", i, fmt.Sprintf(format, args...))}
}

func parseSelectors(raw []any) ([]selector, error) {
	out := make([]selector, 0, len(raw))
	for i, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, selectorError("52N16", i, "expected a map, got %s", typeName(r))
		}
		s, err := parseSelector(i, m)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NULL"
	case string:
		return "STRING"
	case int64:
		return "INTEGER"
	case float64:
		return "FLOAT"
	case bool:
		return "BOOLEAN"
	case []any:
		return "LIST"
	case map[string]any:
		return "MAP"
	}
	return fmt.Sprintf("%T", v)
}

func parseSelector(i int, m map[string]any) (selector, error) {
	var s selector
	kind, ok := m["select"].(string)
	if !ok {
		if m["select"] == nil {
			return s, selectorError("52N16", i, "missing mandatory key 'select'")
		}
		return s, selectorError("52N16", i, "'select' must be a STRING, got %s", typeName(m["select"]))
	}
	allowed, ok := selectorKeys[kind]
	if !ok {
		return s, selectorError("52N16", i, "'select' must be one of \"e\", \"n\", \"r\", got %q", kind)
	}
	s.kind = kind
	for _, k := range sortedKeys(m) {
		v := m[k]
		if v == nil || k == "select" {
			continue
		}
		if !slices.Contains(allowed, k) {
			return s, selectorError("52N16", i, "unexpected key '%s' in a %q selector", k, kind)
		}
		var err error
		switch k {
		case "operation":
			op, ok := v.(string)
			if !ok || (op != opCreate && op != opUpdate && op != opDelete) {
				return s, selectorError("52N16", i, "'operation' must be one of \"c\", \"u\", \"d\", got %v", v)
			}
			s.op = op
		case "changesTo":
			s.changesTo, err = stringList(i, k, v)
		case "executingUser":
			s.execUser, err = stringPtr(i, k, v)
		case "authenticatedUser":
			s.authUser, err = stringPtr(i, k, v)
		case "txMetadata":
			s.txMeta, err = mapValue(i, k, v)
		case "elementId":
			s.elementID, err = stringPtr(i, k, v)
		case "labels":
			s.labels, err = stringList(i, k, v)
		case "key":
			s.key, err = mapValue(i, k, v)
		case "type":
			s.typ, err = stringPtr(i, k, v)
		case "start":
			s.start, err = parseNodeSelector(i, k, v)
		case "end":
			s.end, err = parseNodeSelector(i, k, v)
		}
		if err != nil {
			return s, err
		}
	}
	return s, nil
}

func parseNodeSelector(i int, at string, v any) (*nodeSelector, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, selectorError("52N16", i, "'%s' must be a MAP, got %s", at, typeName(v))
	}
	ns := &nodeSelector{}
	for _, k := range sortedKeys(m) {
		v := m[k]
		if v == nil {
			continue
		}
		if !slices.Contains(nodeSelectorKeys, k) {
			return nil, selectorError("52N16", i, "unexpected key '%s' in '%s'", k, at)
		}
		var err error
		switch k {
		case "select":
			if sel, ok := v.(string); !ok || sel != "n" {
				return nil, selectorError("51N67", i, "unexpected selector '%v' at '%s', expected a 'n' selector", v, at)
			}
		case "elementId":
			ns.elementID, err = stringPtr(i, at+"."+k, v)
		case "key":
			ns.key, err = mapValue(i, at+"."+k, v)
		case "labels":
			ns.labels, err = stringList(i, at+"."+k, v)
		}
		if err != nil {
			return nil, err
		}
	}
	return ns, nil
}

func stringPtr(i int, k string, v any) (*string, error) {
	s, ok := v.(string)
	if !ok {
		return nil, selectorError("52N16", i, "'%s' must be a STRING, got %s", k, typeName(v))
	}
	return &s, nil
}

func stringList(i int, k string, v any) ([]string, error) {
	l, ok := v.([]any)
	if !ok {
		if ss, ok := v.([]string); ok {
			return slices.Clone(ss), nil
		}
		return nil, selectorError("52N16", i, "'%s' must be a LIST<STRING>, got %s", k, typeName(v))
	}
	out := make([]string, len(l))
	for j, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, selectorError("52N16", i, "'%s' must be a LIST<STRING>, element %d is %s", k, j, typeName(e))
		}
		out[j] = s
	}
	return out, nil
}

func mapValue(i int, k string, v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, selectorError("52N16", i, "'%s' must be a MAP, got %s", k, typeName(v))
	}
	return m, nil
}

// matchAny reports whether a change matches at least one selector (union; a change that
// matches several is still returned once, since each record is tested once).
func matchAny(sels []selector, m *matchInfo) bool {
	for i := range sels {
		if sels[i].matches(m) {
			return true
		}
	}
	return false
}

func (s *selector) matches(m *matchInfo) bool {
	switch s.kind {
	case "n":
		if !m.node {
			return false
		}
	case "r":
		if m.node {
			return false
		}
	}
	if s.op != "" && s.op != m.op {
		return false
	}
	if !changesTo(s.changesTo, m) {
		return false
	}
	if s.execUser != nil && *s.execUser != m.execUser {
		return false
	}
	if s.authUser != nil && *s.authUser != m.authUser {
		return false
	}
	for k, v := range s.txMeta {
		w, ok := m.txMeta[k]
		if !ok || !cypherEqual(v, w) {
			return false
		}
	}
	if s.elementID != nil && *s.elementID != m.elementID {
		return false
	}
	if len(s.labels) > 0 && !containsAll(m.labelsBefore, s.labels) && !containsAll(m.labelsAfter, s.labels) {
		return false
	}
	if !keyMatches(s.key, m.keys) {
		return false
	}
	if s.typ != nil && *s.typ != m.typ {
		return false
	}
	return s.start.matches(m.start) && s.end.matches(m.end)
}

func (ns *nodeSelector) matches(e endpointInfo) bool {
	if ns == nil {
		return true
	}
	if ns.elementID != nil && *ns.elementID != e.elementID {
		return false
	}
	if len(ns.labels) > 0 && !containsAll(e.labels, ns.labels) {
		return false
	}
	return keyMatches(ns.key, e.keys)
}

// changesTo: every listed property was added, modified or removed by the change.
func changesTo(props []string, m *matchInfo) bool {
	for _, p := range props {
		b, inB := m.propsBefore[p]
		a, inA := m.propsAfter[p]
		switch m.op {
		case opCreate:
			if !inA {
				return false
			}
		case opDelete:
			if !inB {
				return false
			}
		default:
			if (!inA && !inB) || (inA && inB && valuesEqual(a, b)) {
				return false
			}
		}
	}
	return true
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// keyMatches: an empty selector key matches everything; otherwise it must equal one of the
// entity's key maps exactly.
func keyMatches(key map[string]any, keys []map[string]any) bool {
	if len(key) == 0 {
		return true
	}
	for _, k := range keys {
		if cypherEqual(key, k) {
			return true
		}
	}
	return false
}
