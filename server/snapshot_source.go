package server

import (
	"context"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Snapshotter is the optional part of a Source that reads the current state of the graph for
// snapshots (SubscribeRequest.snapshot). A Source that does not implement it refuses snapshot
// requests with INVALID_ARGUMENT; internal/neo4jcdc implements it with chunked Cypher reads.
// It must be safe for concurrent use, and wraps the same Err* sentinels as Source.
type Snapshotter interface {
	// ReadSnapshot reads one chunk of entities of req.Phase, in one read transaction: the
	// first req.Limit entities whose element id is greater than req.After (all of them when
	// After is empty), in ascending element id order (byte-wise string order), or, when
	// req.ElementIDs is set, exactly those entities that still exist. It returns the records
	// of the entities that match any of req.Selectors (every entity when there are none), in
	// the order read.
	ReadSnapshot(ctx context.Context, req SnapshotRequest) (SnapshotChunk, error)
}

// SnapshotRequest is one chunk read of a snapshot.
type SnapshotRequest struct {
	// Database is the validated, lower-cased database name.
	Database string
	// Phase is the entity kind read: SNAPSHOT_PHASE_NODES or SNAPSHOT_PHASE_RELATIONSHIPS.
	Phase cdcstreamv1.SnapshotPhase
	// After is the exclusive lower bound of the element ids read; empty means from the first.
	After string
	// ElementIDs, when not empty, asks for exactly these entities (the re-read of the
	// watermark algorithm) instead of a range; After and Limit are then ignored.
	ElementIDs []string
	// Selectors are the validated selectors (OR); empty means every entity.
	Selectors []*cdcstreamv1.Selector
	// Limit is the most entities to scan (at least 1).
	Limit int
	// Prepared is the subscription's storage for the Snapshotter, as PollRequest.Prepared: the
	// same pointer on every read of one snapshot.
	Prepared *Prepared
}

// SnapshotChunk is the result of one chunk read.
type SnapshotChunk struct {
	// Records are the matching entities' states, in the order read, each with its element id.
	Records []*cdcstreamv1.SnapshotRecord
	// Last is the element id of the last entity scanned, matching or not; empty when none was.
	Last string
	// Scanned counts the entities scanned, matching or not. Less than the request's Limit
	// means the phase has no entity after Last.
	Scanned int
}

// recordID is the element id of a snapshot record.
func recordID(r *cdcstreamv1.SnapshotRecord) string {
	if n := r.GetNode(); n != nil {
		return n.GetElementId()
	}
	return r.GetRelationship().GetElementId()
}
