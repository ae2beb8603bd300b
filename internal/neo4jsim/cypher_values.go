package neo4jsim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Runtime values of the Cypher executor beyond the property value model (values.go): nodes
// and relationships are references into the transaction's view of the graph while a query
// runs, and become Bolt Node and Relationship structures when a row is returned.

// nodeRef and relRef are a node and a relationship during execution.
type (
	nodeRef struct{ id int64 }
	relRef  struct{ id int64 }
)

// boltNode is a returned node: PackStream structure 0x4E with id, labels, properties and
// (Bolt 5) element_id.
type boltNode struct {
	id     int64
	eid    string
	labels []string
	props  map[string]any
}

// boltRel is a returned relationship: structure 0x52 with id, start and end ids, type,
// properties and (Bolt 5) element_id, start_node_element_id and end_node_element_id.
type boltRel struct {
	id, start, end      int64
	eid, startEID, eEID string
	typ                 string
	props               map[string]any
}

// Structure tags of graph values (Bolt 5).
const (
	tagNode         = 0x4E
	tagRelationship = 0x52
)

func (e *encoder) node(n boltNode) error {
	e.structHeader(4, tagNode)
	e.integer(n.id)
	e.strings(n.labels)
	if err := e.value(n.props); err != nil {
		return err
	}
	e.str(n.eid)
	return nil
}

func (e *encoder) relationship(r boltRel) error {
	e.structHeader(8, tagRelationship)
	e.integer(r.id)
	e.integer(r.start)
	e.integer(r.end)
	e.str(r.typ)
	if err := e.value(r.props); err != nil {
		return err
	}
	e.str(r.eid)
	e.str(r.startEID)
	e.str(r.eEID)
	return nil
}

// output turns a runtime value into its returned form: references become boltNode and
// boltRel snapshots of their state now. Values without references are returned as they are.
func (x *execCtx) output(v any) any {
	switch t := v.(type) {
	case nodeRef:
		st := x.nodeState(t.id)
		labels := []string{}
		var props map[string]any
		if st != nil {
			labels = slices.Clone(st.labels)
			props = cloneMap(st.props)
		}
		if props == nil {
			props = map[string]any{}
		}
		return boltNode{id: t.id, eid: x.db.nodeElementID(t.id), labels: labels, props: props}
	case relRef:
		st := x.relState(t.id)
		r := boltRel{id: t.id, eid: x.db.relElementID(t.id), props: map[string]any{}}
		if st != nil {
			r.typ, r.start, r.end, r.props = st.typ, st.start, st.end, cloneMap(st.props)
			r.startEID, r.eEID = x.db.nodeElementID(st.start), x.db.nodeElementID(st.end)
		}
		return r
	case []any:
		if !hasRefs(t) {
			return t
		}
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = x.output(e)
		}
		return out
	case map[string]any:
		if !hasRefs(t) {
			return t
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = x.output(e)
		}
		return out
	}
	return v
}

// hasRefs reports whether a value contains a node or relationship reference.
func hasRefs(v any) bool {
	switch t := v.(type) {
	case nodeRef, relRef:
		return true
	case []any:
		return slices.ContainsFunc(t, hasRefs)
	case map[string]any:
		for _, e := range t {
			if hasRefs(e) {
				return true
			}
		}
	}
	return false
}

// typeRank orders values of different types as Cypher's ORDER BY does (ascending):
// maps, nodes, relationships, lists, temporal and spatial values, strings, booleans,
// numbers, and null last.
func typeRank(v any) int {
	switch v.(type) {
	case map[string]any:
		return 0
	case nodeRef:
		return 1
	case relRef:
		return 2
	case []any:
		return 3
	case Point2D, Point3D:
		return 4
	case Date, LocalTime, Time, LocalDateTime, DateTime, Duration:
		return 5
	case string:
		return 6
	case bool:
		return 7
	case int64, float64:
		return 8
	case nil:
		return 10
	}
	return 9
}

// orderCompare is the total order of ORDER BY.
func orderCompare(a, b any) int {
	ra, rb := typeRank(a), typeRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	if c, ok := compareValues(a, b); ok {
		return c
	}
	switch x := a.(type) {
	case nodeRef:
		return cmp.Compare(x.id, b.(nodeRef).id)
	case relRef:
		return cmp.Compare(x.id, b.(relRef).id)
	case []any:
		y := b.([]any)
		for i := range min(len(x), len(y)) {
			if c := orderCompare(x[i], y[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(x), len(y))
	}
	return strings.Compare(fmt.Sprintf("%#v", a), fmt.Sprintf("%#v", b))
}

// compareValues compares two values of one comparable type (numbers, strings, booleans,
// temporal values of the same type); ok is false when Cypher's < is undefined (null).
func compareValues(a, b any) (int, bool) {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmp.Compare(x, y), true
		case float64:
			return compareFloat(float64(x), y)
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return compareFloat(x, float64(y))
		case float64:
			return compareFloat(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case bool:
		if y, ok := b.(bool); ok {
			return cmp.Compare(boolInt(x), boolInt(y)), true
		}
	case Date:
		if y, ok := b.(Date); ok {
			return cmp.Compare(x.EpochDays, y.EpochDays), true
		}
	case LocalTime:
		if y, ok := b.(LocalTime); ok {
			return cmp.Compare(x.NanosOfDay, y.NanosOfDay), true
		}
	case LocalDateTime:
		if y, ok := b.(LocalDateTime); ok {
			return cmp.Or(cmp.Compare(x.EpochSeconds, y.EpochSeconds), cmp.Compare(x.Nanos, y.Nanos)), true
		}
	case DateTime:
		if y, ok := b.(DateTime); ok {
			return cmp.Or(cmp.Compare(x.EpochSeconds, y.EpochSeconds), cmp.Compare(x.Nanos, y.Nanos)), true
		}
	}
	return 0, false
}

func compareFloat(x, y float64) (int, bool) {
	if math.IsNaN(x) || math.IsNaN(y) {
		return 0, false
	}
	return cmp.Compare(x, y), true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// groupKey renders a value so that equal values (as grouping and DISTINCT see them) give
// equal strings.
func groupKey(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("n;")
	case int64:
		fmt.Fprintf(b, "i%d;", x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			fmt.Fprintf(b, "i%d;", int64(x)) // 1 and 1.0 group together, as = says
		} else {
			fmt.Fprintf(b, "f%v;", x)
		}
	case string:
		fmt.Fprintf(b, "s%d:%s;", len(x), x)
	case []any:
		fmt.Fprintf(b, "l%d[", len(x))
		for _, e := range x {
			groupKey(b, e)
		}
		b.WriteString("]")
	case map[string]any:
		fmt.Fprintf(b, "m%d{", len(x))
		for _, k := range sortedKeys(x) {
			fmt.Fprintf(b, "%d:%s=", len(k), k)
			groupKey(b, x[k])
		}
		b.WriteString("}")
	default:
		fmt.Fprintf(b, "%T=%#v;", v, v)
	}
}
