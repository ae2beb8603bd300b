package server

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Projection (docs/semantics.md, "Projection"): a selector's Projection chooses the properties
// of the before and after states of the changes it is the first to match. Element ids,
// operations, labels, types, start and end nodes and keys are never touched.
//
// The events are shared: the tail hands one ChangeEvent to every subscriber, so projecting
// never modifies an event. A projected event is a new message that shares every part it does
// not change (cursor, metadata, keys, the property values themselves) with the original; both
// must be treated as read-only.

// compiledProjection is a Projection prepared for lookups.
type compiledProjection struct {
	// include holds the only properties kept; nil keeps every property.
	include map[string]struct{}
	// exclude holds properties always dropped.
	exclude map[string]struct{}
}

// compileProjection prepares p; nil when p keeps every property.
func compileProjection(p *cdcstreamv1.Projection) *compiledProjection {
	if len(p.GetInclude()) == 0 && len(p.GetExclude()) == 0 {
		return nil
	}
	c := &compiledProjection{}
	set := func(names []string) map[string]struct{} {
		if len(names) == 0 {
			return nil
		}
		m := make(map[string]struct{}, len(names))
		for _, n := range names {
			m[n] = struct{}{}
		}
		return m
	}
	c.include, c.exclude = set(p.GetInclude()), set(p.GetExclude())
	return c
}

// keeps reports whether the projection keeps property name.
func (c *compiledProjection) keeps(name string) bool {
	if _, out := c.exclude[name]; out {
		return false
	}
	if c.include == nil {
		return true
	}
	_, in := c.include[name]
	return in
}

// projections holds the compiled projection of each selector of a subscription, by the
// selector's index (typed selectors first, then those from patterns, as in
// subscribeParams.selectors); nil entries keep every property.
type projections []*compiledProjection

// newProjections compiles the projections of sels; the result is nil when no selector
// projects, so that projectFor costs nothing for the common subscription.
func newProjections(sels []*cdcstreamv1.Selector) projections {
	var ps projections
	for i, s := range sels {
		var p *cdcstreamv1.Projection
		switch k := s.GetKind().(type) {
		case *cdcstreamv1.Selector_Entity:
			p = k.Entity.GetProjection()
		case *cdcstreamv1.Selector_Node:
			p = k.Node.GetProjection()
		case *cdcstreamv1.Selector_Relationship:
			p = k.Relationship.GetProjection()
		}
		if c := compileProjection(p); c != nil {
			if ps == nil {
				ps = make(projections, len(sels))
			}
			ps[i] = c
		}
	}
	return ps
}

// projectFor applies the projection of the selector at index, the first selector that matched
// ev (as server.Matcher reports it). It returns ev itself when that projection removes nothing
// (or index names no projecting selector, such as -1 for a subscription without selectors).
func (ps projections) projectFor(ev *cdcstreamv1.ChangeEvent, index int) *cdcstreamv1.ChangeEvent {
	if index < 0 || index >= len(ps) || ps[index] == nil {
		return ev
	}
	return ps[index].apply(ev)
}

// project returns ev with p applied to its before and after states: ev itself when p removes
// nothing, else a new event (ev is never modified).
func project(ev *cdcstreamv1.ChangeEvent, p *cdcstreamv1.Projection) *cdcstreamv1.ChangeEvent {
	c := compileProjection(p)
	if c == nil {
		return ev
	}
	return c.apply(ev)
}

// apply projects ev; see project.
func (c *compiledProjection) apply(ev *cdcstreamv1.ChangeEvent) *cdcstreamv1.ChangeEvent {
	switch e := ev.GetEvent().(type) {
	case *cdcstreamv1.ChangeEvent_Node:
		n := e.Node
		before, bOK := c.properties(n.GetBefore().GetProperties())
		after, aOK := c.properties(n.GetAfter().GetProperties())
		if bOK && aOK {
			return ev
		}
		nn := shallowCopy(n)
		if !bOK {
			s := shallowCopy(n.GetBefore())
			s.Properties = before
			nn.Before = s
		}
		if !aOK {
			s := shallowCopy(n.GetAfter())
			s.Properties = after
			nn.After = s
		}
		out := shallowCopy(ev)
		out.Event = &cdcstreamv1.ChangeEvent_Node{Node: nn}
		return out
	case *cdcstreamv1.ChangeEvent_Relationship:
		r := e.Relationship
		before, bOK := c.properties(r.GetBefore().GetProperties())
		after, aOK := c.properties(r.GetAfter().GetProperties())
		if bOK && aOK {
			return ev
		}
		nr := shallowCopy(r)
		if !bOK {
			s := shallowCopy(r.GetBefore())
			s.Properties = before
			nr.Before = s
		}
		if !aOK {
			s := shallowCopy(r.GetAfter())
			s.Properties = after
			nr.After = s
		}
		out := shallowCopy(ev)
		out.Event = &cdcstreamv1.ChangeEvent_Relationship{Relationship: nr}
		return out
	}
	return ev
}

// properties returns the kept subset of props and whether that is all of them (then the
// returned map is props itself).
func (c *compiledProjection) properties(props map[string]*cdcstreamv1.Value) (map[string]*cdcstreamv1.Value, bool) {
	drop := 0
	for k := range props {
		if !c.keeps(k) {
			drop++
		}
	}
	if drop == 0 {
		return props, true
	}
	kept := make(map[string]*cdcstreamv1.Value, len(props)-drop)
	for k, v := range props {
		if c.keeps(k) {
			kept[k] = v
		}
	}
	return kept, false
}

// shallowCopy returns a new message of m's type whose fields (also ones added to the schema
// later, and unknown fields) refer to m's values: sub-messages, lists and maps are shared, not
// copied, so the copy must be treated as read-only like m.
func shallowCopy[M proto.Message](m M) M {
	src := m.ProtoReflect()
	dst := src.New()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(fd, v)
		return true
	})
	if u := src.GetUnknown(); len(u) > 0 {
		dst.SetUnknown(u)
	}
	return dst.Interface().(M)
}
