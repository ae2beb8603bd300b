package neo4jcdc

import (
	"context"
	"fmt"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
)

// The snapshot reads (server.Snapshotter), verbatim; docs/operations.md "Snapshots" prints
// them for operators. A range read scans entities in element id order after $after with a
// LIMIT; a re-read looks entities up by element id. Endpoint properties are read only when
// a node key constraint exists, to fill the endpoints' keys.
const (
	stmtSnapshotNodes = "MATCH (n) WHERE elementId(n) > $after WITH n ORDER BY elementId(n) LIMIT $limit " +
		"RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS properties"
	stmtSnapshotNodesByID = "MATCH (n) WHERE elementId(n) IN $ids " +
		"RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS properties"
	stmtSnapshotRels = "MATCH (s)-[r]->(e) WHERE elementId(r) > $after WITH s, r, e ORDER BY elementId(r) LIMIT $limit " +
		"RETURN elementId(r) AS id, type(r) AS type, properties(r) AS properties, " +
		"elementId(s) AS startId, labels(s) AS startLabels, elementId(e) AS endId, labels(e) AS endLabels"
	stmtSnapshotRelsByID = "MATCH (s)-[r]->(e) WHERE elementId(r) IN $ids " +
		"RETURN elementId(r) AS id, type(r) AS type, properties(r) AS properties, " +
		"elementId(s) AS startId, labels(s) AS startLabels, elementId(e) AS endId, labels(e) AS endLabels"
	// The variants with endpoint properties, for node keys of relationship endpoints.
	stmtSnapshotRelsKeyed = "MATCH (s)-[r]->(e) WHERE elementId(r) > $after WITH s, r, e ORDER BY elementId(r) LIMIT $limit " +
		"RETURN elementId(r) AS id, type(r) AS type, properties(r) AS properties, " +
		"elementId(s) AS startId, labels(s) AS startLabels, properties(s) AS startProperties, " +
		"elementId(e) AS endId, labels(e) AS endLabels, properties(e) AS endProperties"
	stmtSnapshotRelsKeyedByID = "MATCH (s)-[r]->(e) WHERE elementId(r) IN $ids " +
		"RETURN elementId(r) AS id, type(r) AS type, properties(r) AS properties, " +
		"elementId(s) AS startId, labels(s) AS startLabels, properties(s) AS startProperties, " +
		"elementId(e) AS endId, labels(e) AS endLabels, properties(e) AS endProperties"
	// stmtKeyConstraints lists the key constraints that give records their keys.
	stmtKeyConstraints = "SHOW KEY CONSTRAINTS YIELD entityType, labelsOrTypes, properties"
)

var _ server.Snapshotter = (*Source)(nil)

// ReadSnapshot implements server.Snapshotter: one read transaction that lists the key
// constraints and reads one chunk, filtered by the selectors here (snapshot_match.go).
func (s *Source) ReadSnapshot(ctx context.Context, req server.SnapshotRequest) (server.SnapshotChunk, error) {
	database := req.Database
	if req.Limit <= 0 {
		return server.SnapshotChunk{}, fmt.Errorf("neo4jcdc: snapshot %q: limit %d, want > 0", database, req.Limit)
	}
	nodes := req.Phase == cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_NODES
	if !nodes && req.Phase != cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_RELATIONSHIPS {
		return server.SnapshotChunk{}, fmt.Errorf("neo4jcdc: snapshot %q: unknown phase %v", database, req.Phase)
	}
	params := map[string]any{"after": req.After, "limit": int64(req.Limit)}
	byID := len(req.ElementIDs) > 0
	if byID {
		ids := make([]any, len(req.ElementIDs))
		for i, id := range req.ElementIDs {
			ids[i] = id
		}
		params = map[string]any{"ids": ids}
	}
	match, err := server.NewMatcher(req.Selectors)
	if err != nil {
		return server.SnapshotChunk{}, err
	}
	res, err := s.execute(ctx, database, func(tx neo4j.ManagedTransaction) (any, error) {
		keys, err := readKeyConstraints(ctx, tx)
		if err != nil {
			return nil, err
		}
		stmt := stmtSnapshotNodes
		switch {
		case nodes && byID:
			stmt = stmtSnapshotNodesByID
		case !nodes && len(keys.node) > 0 && byID:
			stmt = stmtSnapshotRelsKeyedByID
		case !nodes && len(keys.node) > 0:
			stmt = stmtSnapshotRelsKeyed
		case !nodes && byID:
			stmt = stmtSnapshotRelsByID
		case !nodes:
			stmt = stmtSnapshotRels
		}
		result, err := tx.Run(ctx, stmt, params)
		if err != nil {
			return nil, err
		}
		var chunk server.SnapshotChunk
		for result.Next(ctx) {
			rec := result.Record()
			var sr *cdcstreamv1.SnapshotRecord
			if nodes {
				sr, err = nodeRecord(rec, keys)
			} else {
				sr, err = relationshipRecord(rec, keys)
			}
			if err != nil {
				return nil, fmt.Errorf("snapshot row: %w", err)
			}
			chunk.Scanned++
			if id := recordElementID(sr); id > chunk.Last {
				chunk.Last = id
			}
			if _, ok := match.Match(asCreate(sr)); ok {
				chunk.Records = append(chunk.Records, sr)
			}
		}
		if err := result.Err(); err != nil {
			return nil, err
		}
		return chunk, nil
	})
	if err != nil {
		return server.SnapshotChunk{}, s.fail(ctx, "snapshot", database, false, err)
	}
	return res.(server.SnapshotChunk), nil
}

// recordElementID is a record's element id.
func recordElementID(r *cdcstreamv1.SnapshotRecord) string {
	if n := r.GetNode(); n != nil {
		return n.GetElementId()
	}
	return r.GetRelationship().GetElementId()
}

// keyConstraints are the key constraints of a database: label (or type) to the property
// lists of its key constraints, in the order Neo4j listed them.
type keyConstraints struct {
	node, relationship map[string][][]string
}

// readKeyConstraints runs stmtKeyConstraints.
func readKeyConstraints(ctx context.Context, tx neo4j.ManagedTransaction) (keyConstraints, error) {
	kc := keyConstraints{node: map[string][][]string{}, relationship: map[string][][]string{}}
	result, err := tx.Run(ctx, stmtKeyConstraints, nil)
	if err != nil {
		return kc, err
	}
	for result.Next(ctx) {
		rec := result.Record()
		et, _ := rec.Get("entityType")
		lt, _ := rec.Get("labelsOrTypes")
		pr, _ := rec.Get("properties")
		names, err := stringList(lt)
		if err != nil || len(names) != 1 {
			return kc, fmt.Errorf("key constraint labelsOrTypes %v, want one name", lt)
		}
		props, err := stringList(pr)
		if err != nil || len(props) == 0 {
			return kc, fmt.Errorf("key constraint properties %v, want a list of names", pr)
		}
		switch et {
		case "NODE":
			kc.node[names[0]] = append(kc.node[names[0]], props)
		case "RELATIONSHIP":
			kc.relationship[names[0]] = append(kc.relationship[names[0]], props)
		default:
			return kc, fmt.Errorf("key constraint entityType %v, want NODE or RELATIONSHIP", et)
		}
	}
	return kc, result.Err()
}

// keysOf returns one EntityKey per constraint whose properties props all holds.
func keysOf(constraints [][]string, props map[string]*cdcstreamv1.Value) []*cdcstreamv1.EntityKey {
	var out []*cdcstreamv1.EntityKey
	for _, c := range constraints {
		k := &cdcstreamv1.EntityKey{Properties: make(map[string]*cdcstreamv1.Value, len(c))}
		for _, p := range c {
			v, ok := props[p]
			if !ok {
				k = nil
				break
			}
			k.Properties[p] = v
		}
		if k != nil {
			out = append(out, k)
		}
	}
	return out
}

// nodeKeysOf returns a node's keys under each of its labels with key constraints.
func nodeKeysOf(kc keyConstraints, labels []string, props map[string]*cdcstreamv1.Value) map[string]*cdcstreamv1.LabelKeys {
	var out map[string]*cdcstreamv1.LabelKeys
	for _, l := range labels {
		if ks := keysOf(kc.node[l], props); len(ks) > 0 {
			if out == nil {
				out = map[string]*cdcstreamv1.LabelKeys{}
			}
			out[l] = &cdcstreamv1.LabelKeys{Keys: ks}
		}
	}
	return out
}

// nodeRecord converts a row of stmtSnapshotNodes.
func nodeRecord(rec *neo4j.Record, kc keyConstraints) (*cdcstreamv1.SnapshotRecord, error) {
	m := rec.AsMap()
	id, err := reqString(m, "id")
	if err != nil {
		return nil, err
	}
	labels, err := stringList(m["labels"])
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	props, err := optValueMap(m["properties"])
	if err != nil {
		return nil, fmt.Errorf("properties: %w", err)
	}
	return &cdcstreamv1.SnapshotRecord{Entity: &cdcstreamv1.SnapshotRecord_Node{Node: &cdcstreamv1.NodeSnapshot{
		ElementId: id, Keys: nodeKeysOf(kc, labels, props),
		State: &cdcstreamv1.NodeState{Labels: labels, Properties: props}}}}, nil
}

// relationshipRecord converts a row of the relationship reads.
func relationshipRecord(rec *neo4j.Record, kc keyConstraints) (*cdcstreamv1.SnapshotRecord, error) {
	m := rec.AsMap()
	id, err := reqString(m, "id")
	if err != nil {
		return nil, err
	}
	typ, err := reqString(m, "type")
	if err != nil {
		return nil, err
	}
	props, err := optValueMap(m["properties"])
	if err != nil {
		return nil, fmt.Errorf("properties: %w", err)
	}
	ref := func(prefix string) (*cdcstreamv1.NodeRef, error) {
		id, err := reqString(m, prefix+"Id")
		if err != nil {
			return nil, err
		}
		labels, err := stringList(m[prefix+"Labels"])
		if err != nil {
			return nil, fmt.Errorf("%sLabels: %w", prefix, err)
		}
		r := &cdcstreamv1.NodeRef{ElementId: id, Labels: labels}
		if p, ok := m[prefix+"Properties"]; ok {
			props, err := optValueMap(p)
			if err != nil {
				return nil, fmt.Errorf("%sProperties: %w", prefix, err)
			}
			r.Keys = nodeKeysOf(kc, labels, props)
		}
		return r, nil
	}
	start, err := ref("start")
	if err != nil {
		return nil, err
	}
	end, err := ref("end")
	if err != nil {
		return nil, err
	}
	return &cdcstreamv1.SnapshotRecord{Entity: &cdcstreamv1.SnapshotRecord_Relationship{Relationship: &cdcstreamv1.RelationshipSnapshot{
		ElementId: id, Type: typ, Start: start, End: end, Keys: keysOf(kc.relationship[typ], props),
		State: &cdcstreamv1.RelationshipState{Properties: props}}}}, nil
}
