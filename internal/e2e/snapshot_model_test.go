package e2e

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// model is a consumer's reconstruction of a graph from a snapshot and the changes after it,
// applied the way docs/semantics.md "Snapshots" tells consumers to: records as upserts, then
// every change with set semantics (FULL states replace, DIFF states patch).
type model struct {
	nodes map[string]*modelNode
	rels  map[string]*modelRel
}

// modelNode is a node's labels and properties, values rendered as text.
type modelNode struct {
	labels []string
	props  map[string]string
}

// modelRel is a relationship's type, endpoints and properties.
type modelRel struct {
	typ, start, end string
	props           map[string]string
}

func newModel() *model {
	return &model{nodes: map[string]*modelNode{}, rels: map[string]*modelRel{}}
}

// renderValue is the text form of a property value, for comparisons.
func renderValue(v *cdcstreamv1.Value) string {
	switch x := v.GetKind().(type) {
	case *cdcstreamv1.Value_IntegerValue:
		return fmt.Sprintf("int:%d", x.IntegerValue)
	case *cdcstreamv1.Value_StringValue:
		return fmt.Sprintf("str:%q", x.StringValue)
	}
	return fmt.Sprintf("other:%v", v)
}

// renderAny is renderValue for a value the driver returned.
func renderAny(v any) string {
	switch x := v.(type) {
	case int64:
		return fmt.Sprintf("int:%d", x)
	case string:
		return fmt.Sprintf("str:%q", x)
	}
	return fmt.Sprintf("other:%v", v)
}

func renderProps(m map[string]*cdcstreamv1.Value) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = renderValue(v)
	}
	return out
}

// record applies a snapshot record (an upsert).
func (m *model) record(r *cdcstreamv1.SnapshotRecord) {
	if n := r.GetNode(); n != nil {
		m.nodes[n.GetElementId()] = &modelNode{labels: slices.Clone(n.GetState().GetLabels()), props: renderProps(n.GetState().GetProperties())}
		return
	}
	x := r.GetRelationship()
	m.rels[x.GetElementId()] = &modelRel{typ: x.GetType(), start: x.GetStart().GetElementId(), end: x.GetEnd().GetElementId(),
		props: renderProps(x.GetState().GetProperties())}
}

// patch applies a DIFF update's states to labels and props.
func patch(labels []string, props map[string]string, before, after []string, bprops, aprops map[string]*cdcstreamv1.Value) []string {
	for _, l := range before {
		if !slices.Contains(after, l) {
			labels = slices.DeleteFunc(labels, func(x string) bool { return x == l })
		}
	}
	for _, l := range after {
		if !slices.Contains(labels, l) {
			labels = append(labels, l)
		}
	}
	for k := range bprops {
		if _, ok := aprops[k]; !ok {
			delete(props, k)
		}
	}
	for k, v := range aprops {
		props[k] = renderValue(v)
	}
	return labels
}

// change applies one change event.
func (m *model) change(ev *cdcstreamv1.ChangeEvent) {
	full := ev.GetMetadata().GetCaptureMode() == cdcstreamv1.CaptureMode_CAPTURE_MODE_FULL
	if n := ev.GetNode(); n != nil {
		id := n.GetElementId()
		switch n.GetOperation() {
		case cdcstreamv1.Operation_OPERATION_DELETE:
			delete(m.nodes, id)
		case cdcstreamv1.Operation_OPERATION_CREATE:
			m.nodes[id] = &modelNode{labels: slices.Clone(n.GetAfter().GetLabels()), props: renderProps(n.GetAfter().GetProperties())}
		default:
			if full {
				m.nodes[id] = &modelNode{labels: slices.Clone(n.GetAfter().GetLabels()), props: renderProps(n.GetAfter().GetProperties())}
				return
			}
			cur := m.nodes[id]
			if cur == nil {
				cur = &modelNode{props: map[string]string{}}
				m.nodes[id] = cur
			}
			cur.labels = patch(cur.labels, cur.props, n.GetBefore().GetLabels(), n.GetAfter().GetLabels(),
				n.GetBefore().GetProperties(), n.GetAfter().GetProperties())
		}
		return
	}
	r := ev.GetRelationship()
	id := r.GetElementId()
	switch r.GetOperation() {
	case cdcstreamv1.Operation_OPERATION_DELETE:
		delete(m.rels, id)
	case cdcstreamv1.Operation_OPERATION_CREATE:
		m.rels[id] = &modelRel{typ: r.GetType(), start: r.GetStart().GetElementId(), end: r.GetEnd().GetElementId(), props: renderProps(r.GetAfter().GetProperties())}
	default:
		if full {
			m.rels[id] = &modelRel{typ: r.GetType(), start: r.GetStart().GetElementId(), end: r.GetEnd().GetElementId(), props: renderProps(r.GetAfter().GetProperties())}
			return
		}
		cur := m.rels[id]
		if cur == nil {
			cur = &modelRel{typ: r.GetType(), start: r.GetStart().GetElementId(), end: r.GetEnd().GetElementId(), props: map[string]string{}}
			m.rels[id] = cur
		}
		patch(nil, cur.props, nil, nil, r.GetBefore().GetProperties(), r.GetAfter().GetProperties())
	}
}

// String renders the model deterministically, for equality and for failure messages.
func (m *model) String() string {
	var lines []string
	for id, n := range m.nodes {
		ls := slices.Clone(n.labels)
		sort.Strings(ls)
		lines = append(lines, fmt.Sprintf("node %s %v %s", id, ls, renderMap(n.props)))
	}
	for id, r := range m.rels {
		lines = append(lines, fmt.Sprintf("rel %s %s %s->%s %s", id, r.typ, r.start, r.end, renderMap(r.props)))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func renderMap(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}
