package server

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// This file evaluates a subscription's selectors in process, with the semantics Neo4j's
// db.cdc.query applies server side (docs/semantics.md, "Selectors evaluated in process"). A
// differential property test (internal/neo4jcdc/parity_test.go) proves that it selects
// exactly the changes db.cdc.query selects, on random workloads in FULL and DIFF mode.

// Matcher evaluates a subscription's selectors in process with Neo4j's semantics. It is
// immutable once built and safe for concurrent use.
type Matcher struct {
	sels []compiledSelector
}

// selectorKind is the entity kind a selector applies to (Neo4j's "select").
type selectorKind uint8

const (
	kindEntity       selectorKind = iota // "e": nodes and relationships
	kindNode                             // "n"
	kindRelationship                     // "r"
)

// compiledSelector is one selector, with its fields in the forms Match compares directly.
// Empty strings and nil slices are unset fields (proto3 cannot tell unset from empty, and
// validation rejects empty names).
type compiledSelector struct {
	kind       selectorKind
	op         cdcstreamv1.Operation // OPERATION_UNSPECIFIED matches every operation
	changesTo  []string
	execUser   string
	authUser   string
	txMetadata []valueEntry // sorted by name
	elementID  string
	labels     []string // node selectors: all of them, before or after the change
	key        []valueEntry
	relType    string
	start, end *compiledNodeMatcher
}

// compiledNodeMatcher is the start or end part of a relationship selector.
type compiledNodeMatcher struct {
	elementID string
	labels    []string
	key       []valueEntry
}

// valueEntry is one name and value of a selector map (tx_metadata or key).
type valueEntry struct {
	name  string
	value *cdcstreamv1.Value
}

// errNoSelectorKind is returned for a selector with no kind set.
var errNoSelectorKind = errors.New("exactly one of entity, node or relationship must be set")

// NewMatcher compiles validated selectors (nil or empty: every change matches). It returns
// an error, wrapping ErrInvalidSelector, for a selector validation would have refused
// (no kind, an unknown operation, a value without a kind); the matcher keeps no reference
// to sels' slices, only to their immutable values.
func NewMatcher(sels []*cdcstreamv1.Selector) (*Matcher, error) {
	m := &Matcher{sels: make([]compiledSelector, 0, len(sels))}
	for i, s := range sels {
		c, err := compileSelector(s)
		if err != nil {
			return nil, fmt.Errorf("%w: selectors[%d]: %w", ErrInvalidSelector, i, err)
		}
		m.sels = append(m.sels, c)
	}
	return m, nil
}

func compileSelector(s *cdcstreamv1.Selector) (compiledSelector, error) {
	var c compiledSelector
	var err error
	switch k := s.GetKind().(type) {
	case *cdcstreamv1.Selector_Entity:
		e := k.Entity
		c.kind = kindEntity
		err = c.compileCommon(e.GetOperation(), e.GetChangesTo(), e.GetExecutingUser(), e.GetAuthenticatedUser(), e.GetTxMetadata())
	case *cdcstreamv1.Selector_Node:
		n := k.Node
		c.kind = kindNode
		err = c.compileCommon(n.GetOperation(), n.GetChangesTo(), n.GetExecutingUser(), n.GetAuthenticatedUser(), n.GetTxMetadata())
		c.elementID = n.GetElementId()
		c.labels = slices.Clone(n.GetLabels())
		if err == nil {
			c.key, err = compileEntries("key", n.GetKey())
		}
	case *cdcstreamv1.Selector_Relationship:
		r := k.Relationship
		c.kind = kindRelationship
		err = c.compileCommon(r.GetOperation(), r.GetChangesTo(), r.GetExecutingUser(), r.GetAuthenticatedUser(), r.GetTxMetadata())
		c.elementID = r.GetElementId()
		c.relType = r.GetType()
		if err == nil {
			c.key, err = compileEntries("key", r.GetKey())
		}
		if err == nil {
			c.start, err = compileNodeMatcher("start", r.GetStart())
		}
		if err == nil {
			c.end, err = compileNodeMatcher("end", r.GetEnd())
		}
	default:
		return c, errNoSelectorKind
	}
	return c, err
}

func (c *compiledSelector) compileCommon(op cdcstreamv1.Operation, changesTo []string, execUser, authUser string,
	txMetadata map[string]*cdcstreamv1.Value) error {
	switch op {
	case cdcstreamv1.Operation_OPERATION_UNSPECIFIED, cdcstreamv1.Operation_OPERATION_CREATE,
		cdcstreamv1.Operation_OPERATION_UPDATE, cdcstreamv1.Operation_OPERATION_DELETE:
	default:
		return fmt.Errorf("operation: unknown value %d", op)
	}
	c.op = op
	c.changesTo = slices.Clone(changesTo)
	c.execUser, c.authUser = execUser, authUser
	var err error
	c.txMetadata, err = compileEntries("tx_metadata", txMetadata)
	return err
}

func compileNodeMatcher(field string, nm *cdcstreamv1.NodeMatcher) (*compiledNodeMatcher, error) {
	if nm == nil {
		return nil, nil
	}
	key, err := compileEntries(field+".key", nm.GetKey())
	if err != nil {
		return nil, err
	}
	if nm.GetElementId() == "" && len(nm.GetLabels()) == 0 && len(key) == 0 {
		return nil, nil // an empty matcher matches every node
	}
	return &compiledNodeMatcher{elementID: nm.GetElementId(), labels: slices.Clone(nm.GetLabels()), key: key}, nil
}

// compileEntries turns a selector map into entries sorted by name; every value must have a
// kind (validation also refuses nulls and NaN, which never match anyway).
func compileEntries(field string, m map[string]*cdcstreamv1.Value) ([]valueEntry, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make([]valueEntry, 0, len(m))
	for k, v := range m {
		if !hasKinds(v) {
			return nil, fmt.Errorf("%s[%q]: value must have a kind", field, k)
		}
		out = append(out, valueEntry{name: k, value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// hasKinds reports whether v and every value nested in it have a kind.
func hasKinds(v *cdcstreamv1.Value) bool {
	switch k := v.GetKind().(type) {
	case nil:
		return false
	case *cdcstreamv1.Value_ListValue:
		for _, e := range k.ListValue.GetValues() {
			if !hasKinds(e) {
				return false
			}
		}
	case *cdcstreamv1.Value_MapValue:
		for _, e := range k.MapValue.GetFields() {
			if !hasKinds(e) {
				return false
			}
		}
	}
	return true
}

// Len returns the number of selectors (0: every change matches).
func (m *Matcher) Len() int {
	if m == nil {
		return 0
	}
	return len(m.sels)
}

// Match reports whether ev matches any selector (union), and the index of the FIRST matching
// selector (-1 when none; 0 when there are no selectors, or m is nil). It does not allocate.
func (m *Matcher) Match(ev *cdcstreamv1.ChangeEvent) (index int, ok bool) {
	if m == nil || len(m.sels) == 0 {
		return 0, true
	}
	var v eventView
	if !v.init(ev) {
		return -1, false
	}
	for i := range m.sels {
		if m.sels[i].matches(&v) {
			return i, true
		}
	}
	return -1, false
}

// eventView is what selectors look at, read once per event without copying.
type eventView struct {
	md        *cdcstreamv1.Metadata
	node      *cdcstreamv1.NodeEvent
	rel       *cdcstreamv1.RelationshipEvent
	op        cdcstreamv1.Operation
	elementID string
	// before and after are the property maps of the states (nil when absent).
	before, after map[string]*cdcstreamv1.Value
	// labels is computed by the first selector with labels (labelsSet).
	labels    nodeLabels
	labelsSet bool
}

func (v *eventView) init(ev *cdcstreamv1.ChangeEvent) bool {
	v.md = ev.GetMetadata()
	switch e := ev.GetEvent().(type) {
	case *cdcstreamv1.ChangeEvent_Node:
		n := e.Node
		v.node, v.op, v.elementID = n, n.GetOperation(), n.GetElementId()
		v.before, v.after = n.GetBefore().GetProperties(), n.GetAfter().GetProperties()
	case *cdcstreamv1.ChangeEvent_Relationship:
		r := e.Relationship
		v.rel, v.op, v.elementID = r, r.GetOperation(), r.GetElementId()
		v.before, v.after = r.GetBefore().GetProperties(), r.GetAfter().GetProperties()
	default:
		return false // no event: nothing to select on
	}
	return true
}

func (s *compiledSelector) matches(v *eventView) bool {
	switch s.kind {
	case kindNode:
		if v.node == nil {
			return false
		}
	case kindRelationship:
		if v.rel == nil {
			return false
		}
	}
	if s.op != cdcstreamv1.Operation_OPERATION_UNSPECIFIED && s.op != v.op {
		return false
	}
	if s.execUser != "" && s.execUser != v.md.GetExecutingUser() {
		return false
	}
	if s.authUser != "" && s.authUser != v.md.GetAuthenticatedUser() {
		return false
	}
	if s.elementID != "" && s.elementID != v.elementID {
		return false
	}
	if len(s.txMetadata) > 0 && !containsEntries(v.md.GetTxMetadata(), s.txMetadata) {
		return false
	}
	for _, p := range s.changesTo {
		if !changed(v.op, v.before, v.after, p) {
			return false
		}
	}
	if v.node != nil {
		if len(s.labels) > 0 {
			if !v.labelsSet {
				v.labels, v.labelsSet = labelsOf(v.node, v.md.GetCaptureMode()), true
			}
			if !v.labels.hasAllBeforeOrAfter(s.labels) {
				return false
			}
		}
		return len(s.key) == 0 || nodeKeyMatches(v.node.GetKeys(), s.key)
	}
	if s.relType != "" && s.relType != v.rel.GetType() {
		return false
	}
	if len(s.key) > 0 && !relKeyMatches(v.rel.GetKeys(), s.key) {
		return false
	}
	return s.start.matches(v.rel.GetStart()) && s.end.matches(v.rel.GetEnd())
}

func (nm *compiledNodeMatcher) matches(n *cdcstreamv1.NodeRef) bool {
	if nm == nil {
		return true
	}
	if nm.elementID != "" && nm.elementID != n.GetElementId() {
		return false
	}
	labels := n.GetLabels()
	for _, l := range nm.labels {
		if !slices.Contains(labels, l) {
			return false
		}
	}
	return len(nm.key) == 0 || nodeKeyMatches(n.GetKeys(), nm.key)
}

// changed reports whether property p was affected (added, modified or removed) by a change
// with operation op and the given before and after property maps: for a create, p is in the
// after state; for a delete, in the before state; for an update, it is in either state and
// not the same value in both. In DIFF mode an update's states hold only changed properties,
// so the same rule holds there.
func changed(op cdcstreamv1.Operation, before, after map[string]*cdcstreamv1.Value, p string) bool {
	switch op {
	case cdcstreamv1.Operation_OPERATION_CREATE:
		_, ok := after[p]
		return ok
	case cdcstreamv1.Operation_OPERATION_DELETE:
		_, ok := before[p]
		return ok
	default:
		b, inB := before[p]
		a, inA := after[p]
		if inA && inB {
			return !sameValue(a, b)
		}
		return inA || inB
	}
}

// containsEntries reports whether every entry of want is in have with a Cypher-equal value.
func containsEntries(have map[string]*cdcstreamv1.Value, want []valueEntry) bool {
	for _, e := range want {
		h, ok := have[e.name]
		if !ok || !cypherEqual(e.value, h) {
			return false
		}
	}
	return true
}

// keyEquals reports whether a key map equals the selector's key exactly: the same property
// names, with Cypher-equal values.
func keyEquals(have map[string]*cdcstreamv1.Value, want []valueEntry) bool {
	return len(have) == len(want) && containsEntries(have, want)
}

// nodeKeyMatches reports whether one of a node's keys (under any label) equals want.
func nodeKeyMatches(keys map[string]*cdcstreamv1.LabelKeys, want []valueEntry) bool {
	for _, lk := range keys {
		for _, k := range lk.GetKeys() {
			if keyEquals(k.GetProperties(), want) {
				return true
			}
		}
	}
	return false
}

// relKeyMatches reports whether one of a relationship's keys equals want.
func relKeyMatches(keys []*cdcstreamv1.EntityKey, want []valueEntry) bool {
	for _, k := range keys {
		if keyEquals(k.GetProperties(), want) {
			return true
		}
	}
	return false
}
