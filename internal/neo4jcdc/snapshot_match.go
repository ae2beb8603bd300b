package neo4jcdc

import (
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Snapshot records are filtered here, not by Neo4j (db.cdc.query filters changes, and no
// Cypher filters states with selector semantics). A record is the state a create of the
// entity would have, so it is selected exactly as that create would be: by server.Matcher, the
// one statement of the selector rules (server/match.go), applied to the create. A record
// belongs to no transaction, so a selector with executing_user, authenticated_user or
// tx_metadata matches no record (docs/semantics.md "Snapshots"); a selector's operation must
// be unset or CREATE, and every changes_to property must be in the state.

// asCreate returns the change that would create r's entity with its current state.
func asCreate(r *cdcstreamv1.SnapshotRecord) *cdcstreamv1.ChangeEvent {
	if n := r.GetNode(); n != nil {
		return &cdcstreamv1.ChangeEvent{Event: &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
			ElementId: n.GetElementId(),
			Operation: cdcstreamv1.Operation_OPERATION_CREATE,
			Labels:    n.GetState().GetLabels(),
			Keys:      n.GetKeys(),
			After:     n.GetState(),
		}}}
	}
	rel := r.GetRelationship()
	return &cdcstreamv1.ChangeEvent{Event: &cdcstreamv1.ChangeEvent_Relationship{Relationship: &cdcstreamv1.RelationshipEvent{
		ElementId: rel.GetElementId(),
		Operation: cdcstreamv1.Operation_OPERATION_CREATE,
		Type:      rel.GetType(),
		Start:     rel.GetStart(),
		End:       rel.GetEnd(),
		Keys:      rel.GetKeys(),
		After:     rel.GetState(),
	}}}
}
