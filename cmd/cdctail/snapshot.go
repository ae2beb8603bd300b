package main

import (
	"fmt"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// --snapshot: the stream starts with the current state. Each SnapshotRecord prints as
// {"snapshot": event}, event being the Neo4j-shaped event map of a create of that entity
// (operation "c", state.before null), SnapshotEnd as {"snapshotEnd": {"cursor",
// "consistentCursor", "recordsSent"}}, and with --checkpoints each SnapshotProgress as
// {"snapshotProgress": {"token", "recordsSent", "phase"}}. The Go client resumes a broken
// snapshot at its next chunk by itself.

// snapshotModes maps --snapshot values to the request's mode.
var snapshotModes = map[string]cdcstreamv1.SnapshotMode{
	"":        cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_NONE,
	"none":    cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_NONE,
	"initial": cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_INITIAL,
	"only":    cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY,
}

// parseSnapshotMode checks a --snapshot value.
func parseSnapshotMode(v string) (cdcstreamv1.SnapshotMode, error) {
	m, ok := snapshotModes[v]
	if !ok {
		return 0, fmt.Errorf("--snapshot %q: want none, initial or only", v)
	}
	return m, nil
}

// snapshotRecord prints a SnapshotRecord.
func (p *printer) snapshotRecord(r *cdcstreamv1.SnapshotRecord) error {
	var ev any
	if n := r.GetNode(); n != nil {
		e := nodeEvent{ElementID: n.GetElementId(), EventType: "n", Operation: "c",
			Labels: orEmpty(n.GetState().GetLabels()), Keys: labelKeys(n.GetKeys())}
		e.State.After = nodeState{Labels: orEmpty(n.GetState().GetLabels()), Properties: valueMap(n.GetState().GetProperties())}
		ev = e
	} else {
		rel := r.GetRelationship()
		e := relationshipEvent{ElementID: rel.GetElementId(), EventType: "r", Operation: "c", Type: rel.GetType(),
			Start: newNodeRef(rel.GetStart()), End: newNodeRef(rel.GetEnd()), Keys: entityKeys(rel.GetKeys())}
		e.State.After = relationshipState{Properties: valueMap(rel.GetState().GetProperties())}
		ev = e
	}
	return p.write(map[string]any{"snapshot": ev})
}

// snapshotEnd prints a SnapshotEnd.
func (p *printer) snapshotEnd(e *cdcstreamv1.SnapshotEnd) error {
	return p.write(map[string]any{"snapshotEnd": map[string]any{
		"cursor": cursorJSON(e.GetCursor()), "consistentCursor": cursorJSON(e.GetConsistentCursor()), "recordsSent": e.GetRecordsSent(),
	}})
}

// snapshotProgress prints a SnapshotProgress.
func (p *printer) snapshotProgress(sp *cdcstreamv1.SnapshotProgress) error {
	return p.write(map[string]any{"snapshotProgress": map[string]any{
		"token": sp.GetSnapshotToken(), "recordsSent": sp.GetRecordsSent(), "phase": sp.GetPhase().String(),
	}})
}
