package neo4jcdc

import (
	"slices"

	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Snapshot records are filtered here, not by Neo4j (db.cdc.query filters changes, and no
// Cypher filters states with selector semantics). A record is the state a create of the
// entity would have: a selector matches it when its entity fields match the record (kind,
// element id, labels, key, type, start and end), its operation is unset or CREATE, and every
// changes_to property is in the state. A record belongs to no transaction, so a selector with
// executing_user, authenticated_user or tx_metadata matches no record (docs/semantics.md
// "Snapshots").

// matchesAny reports whether r matches one of sels (every record when there are none).
func matchesAny(r *cdcstreamv1.SnapshotRecord, sels []*cdcstreamv1.Selector) bool {
	if len(sels) == 0 {
		return true
	}
	for _, s := range sels {
		if matches(r, s) {
			return true
		}
	}
	return false
}

// matches reports whether r matches s.
func matches(r *cdcstreamv1.SnapshotRecord, s *cdcstreamv1.Selector) bool {
	node, rel := r.GetNode(), r.GetRelationship()
	props := node.GetState().GetProperties()
	if rel != nil {
		props = rel.GetState().GetProperties()
	}
	switch k := s.GetKind().(type) {
	case *cdcstreamv1.Selector_Entity:
		e := k.Entity
		return common(e.GetOperation(), e.GetChangesTo(), e.GetExecutingUser(), e.GetAuthenticatedUser(), e.GetTxMetadata(), props)
	case *cdcstreamv1.Selector_Node:
		n := k.Node
		if node == nil || !common(n.GetOperation(), n.GetChangesTo(), n.GetExecutingUser(), n.GetAuthenticatedUser(), n.GetTxMetadata(), props) {
			return false
		}
		return nodeMatches(n.GetElementId(), n.GetLabels(), n.GetKey(), node.GetElementId(), node.GetState().GetLabels(), node.GetKeys())
	case *cdcstreamv1.Selector_Relationship:
		x := k.Relationship
		if rel == nil || !common(x.GetOperation(), x.GetChangesTo(), x.GetExecutingUser(), x.GetAuthenticatedUser(), x.GetTxMetadata(), props) {
			return false
		}
		if x.GetElementId() != "" && x.GetElementId() != rel.GetElementId() ||
			x.GetType() != "" && x.GetType() != rel.GetType() ||
			len(x.GetKey()) > 0 && !hasKey(rel.GetKeys(), x.GetKey()) {
			return false
		}
		for _, m := range []struct {
			matcher *cdcstreamv1.NodeMatcher
			ref     *cdcstreamv1.NodeRef
		}{{x.GetStart(), rel.GetStart()}, {x.GetEnd(), rel.GetEnd()}} {
			if m.matcher != nil && !nodeMatches(m.matcher.GetElementId(), m.matcher.GetLabels(), m.matcher.GetKey(),
				m.ref.GetElementId(), m.ref.GetLabels(), m.ref.GetKeys()) {
				return false
			}
		}
		return true
	}
	return false
}

// common checks the fields every selector kind has.
func common(op cdcstreamv1.Operation, changesTo []string, executingUser, authenticatedUser string,
	txMetadata map[string]*cdcstreamv1.Value, props map[string]*cdcstreamv1.Value) bool {
	if op != cdcstreamv1.Operation_OPERATION_UNSPECIFIED && op != cdcstreamv1.Operation_OPERATION_CREATE {
		return false
	}
	if executingUser != "" || authenticatedUser != "" || len(txMetadata) > 0 {
		return false
	}
	for _, p := range changesTo {
		if _, ok := props[p]; !ok {
			return false
		}
	}
	return true
}

// nodeMatches checks a node's element id, labels and keys against a node selector's or a
// NodeMatcher's fields.
func nodeMatches(wantID string, wantLabels []string, wantKey map[string]*cdcstreamv1.Value,
	id string, labels []string, keys map[string]*cdcstreamv1.LabelKeys) bool {
	if wantID != "" && wantID != id {
		return false
	}
	for _, l := range wantLabels {
		if !slices.Contains(labels, l) {
			return false
		}
	}
	if len(wantKey) == 0 {
		return true
	}
	for _, lk := range keys {
		if hasKey(lk.GetKeys(), wantKey) {
			return true
		}
	}
	return false
}

// hasKey reports whether one of keys has exactly the properties of want.
func hasKey(keys []*cdcstreamv1.EntityKey, want map[string]*cdcstreamv1.Value) bool {
	for _, k := range keys {
		if len(k.GetProperties()) != len(want) {
			continue
		}
		equal := true
		for name, v := range want {
			if !proto.Equal(k.GetProperties()[name], v) {
				equal = false
				break
			}
		}
		if equal {
			return true
		}
	}
	return false
}
