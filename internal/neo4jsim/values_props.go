package neo4jsim

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
)

// normalizeProperty checks that v is a storable property value and returns the canonical
// form the graph keeps: Go int kinds become int64, float32 becomes float64, typed slices
// become []any, and []byte and lists are copied so later changes by the caller cannot reach
// the graph. A nil v means "remove the property" and is returned as nil.
func normalizeProperty(key string, v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return bytes.Clone(x), nil
	case []any:
		return normalizeList(key, x)
	case []string:
		return normalizeList(key, toAnySlice(x))
	case []int64:
		return normalizeList(key, toAnySlice(x))
	case []int:
		return normalizeList(key, toAnySlice(x))
	case []float64:
		return normalizeList(key, toAnySlice(x))
	case []bool:
		return normalizeList(key, toAnySlice(x))
	}
	s, ok := normalizeScalar(v)
	if !ok {
		return nil, typeError(key, v)
	}
	return s, nil
}

func toAnySlice[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func normalizeList(key string, xs []any) (any, error) {
	out := make([]any, len(xs))
	var kind reflect.Type
	for i, x := range xs {
		s, ok := normalizeScalar(x)
		if !ok {
			return nil, typeError(key, x)
		}
		t := reflect.TypeOf(s)
		if kind != nil && t != kind {
			return nil, &Error{Code: "Neo.ClientError.Statement.TypeError", GQLStatus: "22G03",
				Message: fmt.Sprintf("Neo4j only supports a subset of Cypher types for storage as singleton or array properties. Property `%s` is a list with mixed types, which can not be stored in properties.", key)}
		}
		kind = t
		out[i] = s
	}
	return out, nil
}

// normalizeScalar accepts the scalar property types (everything but lists and []byte).
func normalizeScalar(v any) (any, bool) {
	switch x := v.(type) {
	case bool, int64, float64, string, Date, LocalTime, Time, LocalDateTime, DateTime, Duration, Point2D, Point3D:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case float32:
		return float64(x), true
	}
	return nil, false
}

func typeError(key string, v any) *Error {
	return &Error{Code: "Neo.ClientError.Statement.TypeError", GQLStatus: "22G03",
		Message: fmt.Sprintf("Property values can only be of primitive types or arrays thereof. Encountered: %T for property `%s`.", v, key)}
}

// valuesEqual compares two normalized values. Floats compare by value, and NaN equals NaN
// (the storage-level equality Neo4j uses to decide whether a property changed).
func valuesEqual(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || (math.IsNaN(x) && math.IsNaN(y)))
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, valuesEqual)
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && propsEqual(x, y)
	case Point2D:
		y, ok := b.(Point2D)
		return ok && x.SRID == y.SRID && valuesEqual(x.X, y.X) && valuesEqual(x.Y, y.Y)
	case Point3D:
		y, ok := b.(Point3D)
		return ok && x.SRID == y.SRID && valuesEqual(x.X, y.X) && valuesEqual(x.Y, y.Y) && valuesEqual(x.Z, y.Z)
	case nil:
		return b == nil
	}
	if reflect.TypeOf(a) != reflect.TypeOf(b) || !reflect.TypeOf(a).Comparable() {
		return false
	}
	return a == b
}

// cypherEqual is Cypher's = for selector matching: like valuesEqual, except that integers
// and floats compare numerically (1 = 1.0) and NaN equals nothing.
func cypherEqual(a, b any) bool {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y && y == math.Trunc(y) && math.Abs(y) < 1<<63 && int64(y) == x
		}
		return false
	case float64:
		switch y := b.(type) {
		case float64:
			return x == y
		case int64:
			return cypherEqual(y, x)
		}
		return false
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, cypherEqual)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !cypherEqual(v, w) {
				return false
			}
		}
		return true
	}
	return valuesEqual(a, b)
}

func propsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !valuesEqual(v, w) {
			return false
		}
	}
	return true
}

// cloneValue deep-copies a value of the value model.
func cloneValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return bytes.Clone(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	case map[string]any:
		return cloneMap(x)
	}
	return v
}

// cloneMap deep-copies a map of the value model; nil stays nil.
func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

// encodeKeyValues renders values into a string that is equal for equal values; it is the
// key of a constraint's uniqueness index.
func encodeKeyValues(vals []any) string {
	var b strings.Builder
	for _, v := range vals {
		fmt.Fprintf(&b, "%T=%#v;", v, v)
	}
	return b.String()
}

// sortedKeys returns a map's keys in ascending order (deterministic iteration).
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
