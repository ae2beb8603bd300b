package neo4jcdc_test

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/server"
)

// TestIntegrationSnapshotReads: ReadSnapshot against the simulator over the driver: chunks in
// element id order with LIMIT, look-ups by element id, keys from the key constraints (also on
// relationship endpoints), and every entity selector field applied to the states.
func TestIntegrationSnapshotReads(t *testing.T) {
	s := startSim(t)
	db := s.dbms.Database("neo4j")
	if err := db.CreateNodeKey("Person", "id"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRelationshipKey("KNOWS", "rid"); err != nil {
		t.Fatal(err)
	}
	src := open(t, s.srv.BoltURI())
	ids := map[string]string{}
	write(t, db, neo4jsim.Session{}, func(tx *neo4jsim.Tx) error {
		var errs []error
		node := func(name string, labels []string, props map[string]any) {
			id, err := tx.CreateNode(labels, props)
			ids[name] = id
			errs = append(errs, err)
		}
		node("ann", []string{"Person"}, map[string]any{"id": int64(1), "name": "Ann"})
		node("bob", []string{"Person", "Admin"}, map[string]any{"id": int64(2)})
		node("acme", []string{"Company"}, map[string]any{"cid": "acme"})
		rel := func(name, typ, a, b string, props map[string]any) {
			id, err := tx.CreateRelationship(typ, ids[a], ids[b], props)
			ids[name] = id
			errs = append(errs, err)
		}
		rel("k", "KNOWS", "ann", "bob", map[string]any{"rid": int64(7)})
		rel("w", "WORKS_AT", "bob", "acme", map[string]any{"since": int64(2020)})
		return errors.Join(errs...)
	})
	read := func(req server.SnapshotRequest) server.SnapshotChunk {
		t.Helper()
		req.Database = "neo4j"
		if req.Limit == 0 {
			req.Limit = 100
		}
		return must(src.ReadSnapshot(ctx(t), req))(t)
	}
	nodes := cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_NODES
	rels := cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_RELATIONSHIPS
	names := func(c server.SnapshotChunk) []string {
		var out []string
		for _, r := range c.Records {
			id := r.GetNode().GetElementId()
			if r.GetRelationship() != nil {
				id = r.GetRelationship().GetElementId()
			}
			for n, eid := range ids {
				if eid == id {
					out = append(out, n)
				}
			}
		}
		slices.Sort(out)
		return out
	}

	// Chunks: two, then one, then none; the second starts after the first's Last.
	first := read(server.SnapshotRequest{Phase: nodes, Limit: 2})
	second := read(server.SnapshotRequest{Phase: nodes, Limit: 2, After: first.Last})
	if first.Scanned != 2 || second.Scanned != 1 || second.Last <= first.Last {
		t.Fatalf("chunks scanned %d then %d (last %q, %q), want 2 then 1 in element id order", first.Scanned, second.Scanned, first.Last, second.Last)
	}
	if got := append(names(first), names(second)...); len(got) != 3 {
		t.Fatalf("chunked nodes %v", got)
	}
	if c := read(server.SnapshotRequest{Phase: nodes, Limit: 2, After: second.Last}); c.Scanned != 0 || c.Last != "" {
		t.Fatalf("read after the last node: %+v", c)
	}

	// Keys, labels, properties.
	all := read(server.SnapshotRequest{Phase: nodes})
	var ann *cdcstreamv1.NodeSnapshot
	for _, r := range all.Records {
		if r.GetNode().GetElementId() == ids["ann"] {
			ann = r.GetNode()
		}
	}
	wantKey := &cdcstreamv1.EntityKey{Properties: map[string]*cdcstreamv1.Value{"id": {Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: 1}}}}
	if ann == nil || !slices.Equal(ann.GetState().GetLabels(), []string{"Person"}) || ann.GetState().GetProperties()["name"].GetStringValue() != "Ann" ||
		len(ann.GetKeys()["Person"].GetKeys()) != 1 || !proto.Equal(ann.GetKeys()["Person"].GetKeys()[0], wantKey) {
		t.Fatalf("Ann's record %v", ann)
	}
	rall := read(server.SnapshotRequest{Phase: rels})
	var knows *cdcstreamv1.RelationshipSnapshot
	for _, r := range rall.Records {
		if r.GetRelationship().GetElementId() == ids["k"] {
			knows = r.GetRelationship()
		}
	}
	if knows == nil || knows.GetType() != "KNOWS" || knows.GetStart().GetElementId() != ids["ann"] || knows.GetEnd().GetElementId() != ids["bob"] ||
		len(knows.GetKeys()) != 1 || knows.GetKeys()[0].GetProperties()["rid"].GetIntegerValue() != 7 ||
		!proto.Equal(knows.GetStart().GetKeys()["Person"].GetKeys()[0], wantKey) || !slices.Equal(knows.GetEnd().GetLabels(), []string{"Person", "Admin"}) {
		t.Fatalf("KNOWS record %v", knows)
	}

	// Look-ups by element id, including one that does not exist.
	if got := names(read(server.SnapshotRequest{Phase: nodes, ElementIDs: []string{ids["bob"], ids["acme"], "4:none:1"}})); !slices.Equal(got, []string{"acme", "bob"}) {
		t.Fatalf("by id: %v", got)
	}
	if got := names(read(server.SnapshotRequest{Phase: rels, ElementIDs: []string{ids["w"]}})); !slices.Equal(got, []string{"w"}) {
		t.Fatalf("relationships by id: %v", got)
	}

	// Selectors.
	node := func(n *cdcstreamv1.NodeSelector) *cdcstreamv1.Selector {
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: n}}
	}
	rel := func(r *cdcstreamv1.RelationshipSelector) *cdcstreamv1.Selector {
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: r}}
	}
	entity := func(e *cdcstreamv1.EntitySelector) *cdcstreamv1.Selector {
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Entity{Entity: e}}
	}
	for _, tc := range []struct {
		name  string
		phase cdcstreamv1.SnapshotPhase
		sels  []*cdcstreamv1.Selector
		want  []string
	}{
		{"labels", nodes, []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{Labels: []string{"Person"}})}, []string{"ann", "bob"}},
		{"two labels", nodes, []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{Labels: []string{"Person", "Admin"}})}, []string{"bob"}},
		{"key", nodes, []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{Key: wantKey.GetProperties()})}, []string{"ann"}},
		{"element id", nodes, []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{ElementId: ids["acme"]})}, []string{"acme"}},
		{"OR", nodes, []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{ElementId: ids["acme"]}), node(&cdcstreamv1.NodeSelector{Labels: []string{"Admin"}})}, []string{"acme", "bob"}},
		{"changes_to", nodes, []*cdcstreamv1.Selector{entity(&cdcstreamv1.EntitySelector{ChangesTo: []string{"name"}})}, []string{"ann"}},
		{"operation create", nodes, []*cdcstreamv1.Selector{entity(&cdcstreamv1.EntitySelector{Operation: cdcstreamv1.Operation_OPERATION_CREATE})}, []string{"acme", "ann", "bob"}},
		{"operation update", nodes, []*cdcstreamv1.Selector{entity(&cdcstreamv1.EntitySelector{Operation: cdcstreamv1.Operation_OPERATION_UPDATE})}, nil},
		{"transaction metadata", nodes, []*cdcstreamv1.Selector{entity(&cdcstreamv1.EntitySelector{ExecutingUser: "neo4j"})}, nil},
		{"relationship selector on nodes", nodes, []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{})}, nil},
		{"type", rels, []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{Type: "WORKS_AT"})}, []string{"w"}},
		{"relationship key", rels, []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{Key: knows.GetKeys()[0].GetProperties()})}, []string{"k"}},
		{"start labels", rels, []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{Start: &cdcstreamv1.NodeMatcher{Labels: []string{"Admin"}}})}, []string{"w"}},
		{"end key", rels, []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{End: &cdcstreamv1.NodeMatcher{Key: map[string]*cdcstreamv1.Value{
			"id": {Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: 2}}}}})}, []string{"k"}},
		{"end element id", rels, []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{End: &cdcstreamv1.NodeMatcher{ElementId: ids["acme"]}})}, []string{"w"}},
		{"node selector on relationships", rels, []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{})}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := read(server.SnapshotRequest{Phase: tc.phase, Selectors: tc.sels})
			if got := names(c); !slices.Equal(got, tc.want) {
				t.Fatalf("selected %v, want %v", got, tc.want)
			}
			if c.Scanned != 3 && tc.phase == nodes || c.Scanned != 2 && tc.phase == rels {
				t.Fatalf("scanned %d: selectors must not change what a chunk scans", c.Scanned)
			}
		})
	}
}
