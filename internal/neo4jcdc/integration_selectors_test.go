package neo4jcdc_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
)

// TestIntegrationSelectors checks that every selector key filters as Neo4j's server-side
// selectors do, over a scenario of three transactions.
func TestIntegrationSelectors(t *testing.T) {
	s := startSim(t)
	db := s.dbms.Database("neo4j")
	for _, k := range [][]string{{"Person", "id"}, {"Company", "cid"}, {"Event", "day"}, {"Event", "at"}} {
		if err := db.CreateNodeKey(k[0], k[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateRelationshipKey("KNOWS", "rid"); err != nil {
		t.Fatal(err)
	}
	src := open(t, s.srv.BoltURI())
	from := must(src.Current(ctx(t), "neo4j"))(t)

	names := map[string]string{} // element id -> name
	ids := map[string]string{}   // name -> element id
	create := func(tx *neo4jsim.Tx, name string, labels []string, props map[string]any) error {
		id, err := tx.CreateNode(labels, props)
		names[id], ids[name] = name, id
		return err
	}
	relate := func(tx *neo4jsim.Tx, name, typ, a, b string, props map[string]any) error {
		id, err := tx.CreateRelationship(typ, ids[a], ids[b], props)
		names[id], ids[name] = name, id
		return err
	}
	day := neo4jsim.Date{EpochDays: 19723}
	at := neo4jsim.DateTime{EpochSeconds: 1719835200, ZoneID: "Europe/Stockholm"}
	// tx1: creates, authenticated and executing neo4j, tx metadata app=a.
	write(t, db, neo4jsim.Session{TxMetadata: map[string]any{"app": "a", "n": int64(1)}}, func(tx *neo4jsim.Tx) error {
		return errors.Join(
			create(tx, "A", []string{"Person"}, map[string]any{"id": int64(1), "name": "Ann"}),
			create(tx, "B", []string{"Person"}, map[string]any{"id": int64(2), "name": "Bob"}),
			create(tx, "C", []string{"Company"}, map[string]any{"cid": "acme"}),
			create(tx, "D", []string{"Event"}, map[string]any{"day": day, "at": at}),
			relate(tx, "R1", "KNOWS", "A", "B", map[string]any{"rid": int64(10), "since": int64(2020)}),
			relate(tx, "R2", "WORKS_AT", "A", "C", map[string]any{"role": "dev"}),
		)
	})
	// tx2: updates, executed by alice (impersonated), app=b.
	write(t, db, neo4jsim.Session{ExecutingUser: "alice", TxMetadata: map[string]any{"app": "b"}}, func(tx *neo4jsim.Tx) error {
		return errors.Join(
			tx.SetNodeProperty(ids["A"], "name", "Annie"),
			tx.SetRelationshipProperty(ids["R1"], "since", int64(2021)),
		)
	})
	// tx3: deletes and a label change, authenticated as "other".
	write(t, db, neo4jsim.Session{User: "other"}, func(tx *neo4jsim.Tx) error {
		return errors.Join(
			tx.DeleteRelationship(ids["R2"]),
			tx.DeleteNode(ids["C"], false),
			tx.AddLabels(ids["B"], "Hero"),
		)
	})

	ent := func(e *cdcstreamv1.EntitySelector) *cdcstreamv1.Selector {
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Entity{Entity: e}}
	}
	node := func(n *cdcstreamv1.NodeSelector) *cdcstreamv1.Selector {
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: n}}
	}
	rel := func(r *cdcstreamv1.RelationshipSelector) *cdcstreamv1.Selector {
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: r}}
	}
	const (
		opC = cdcstreamv1.Operation_OPERATION_CREATE
		opU = cdcstreamv1.Operation_OPERATION_UPDATE
		opD = cdcstreamv1.Operation_OPERATION_DELETE
	)
	dayV := testkit.Date(2024, 1, 1)
	atV := &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
		Instant: &timestamppb.Timestamp{Seconds: 1719835200}, Zone: &cdcstreamv1.DateTime_ZoneId{ZoneId: "Europe/Stockholm"}}}}
	kv := func(k string, v *cdcstreamv1.Value) map[string]*cdcstreamv1.Value {
		return map[string]*cdcstreamv1.Value{k: v}
	}
	cases := []struct {
		name string
		sels []func() *cdcstreamv1.Selector
		want []string // "name op" in transaction order, sorted within each transaction
	}{
		{"none: everything", nil, []string{"A c", "B c", "C c", "D c", "R1 c", "R2 c", "A u", "R1 u", "B u", "C d", "R2 d"}},
		{"entity create", sel(ent(&cdcstreamv1.EntitySelector{Operation: opC})), []string{"A c", "B c", "C c", "D c", "R1 c", "R2 c"}},
		{"entity update", sel(ent(&cdcstreamv1.EntitySelector{Operation: opU})), []string{"A u", "R1 u", "B u"}},
		{"entity delete", sel(ent(&cdcstreamv1.EntitySelector{Operation: opD})), []string{"C d", "R2 d"}},
		{"entity changesTo name", sel(ent(&cdcstreamv1.EntitySelector{ChangesTo: []string{"name"}})), []string{"A c", "B c", "A u"}},
		{"entity changesTo id+name", sel(ent(&cdcstreamv1.EntitySelector{ChangesTo: []string{"id", "name"}})), []string{"A c", "B c"}},
		{"entity executingUser", sel(ent(&cdcstreamv1.EntitySelector{ExecutingUser: "alice"})), []string{"A u", "R1 u"}},
		{"entity authenticatedUser", sel(ent(&cdcstreamv1.EntitySelector{AuthenticatedUser: "other"})), []string{"B u", "C d", "R2 d"}},
		{"entity txMetadata", sel(ent(&cdcstreamv1.EntitySelector{TxMetadata: map[string]*cdcstreamv1.Value{"app": testkit.String("a"), "n": testkit.Int(1)}})),
			[]string{"A c", "B c", "C c", "D c", "R1 c", "R2 c"}},
		{"entity txMetadata no match", sel(ent(&cdcstreamv1.EntitySelector{TxMetadata: kv("n", testkit.Int(2))})), nil},
		{"node", sel(node(&cdcstreamv1.NodeSelector{})), []string{"A c", "B c", "C c", "D c", "A u", "B u", "C d"}},
		{"node labels", sel(node(&cdcstreamv1.NodeSelector{Labels: []string{"Person"}})), []string{"A c", "B c", "A u", "B u"}},
		{"node labels added", sel(node(&cdcstreamv1.NodeSelector{Labels: []string{"Person", "Hero"}})), []string{"B u"}},
		{"node elementId", func() []func() *cdcstreamv1.Selector {
			return sel(node(&cdcstreamv1.NodeSelector{ElementId: ids["C"]}))
		}(), []string{"C c", "C d"}},
		{"node key", sel(node(&cdcstreamv1.NodeSelector{Key: kv("id", testkit.Int(2))})), []string{"B c", "B u"}},
		{"node key date", sel(node(&cdcstreamv1.NodeSelector{Key: kv("day", dayV)})), []string{"D c"}},
		{"node key zoned datetime", sel(node(&cdcstreamv1.NodeSelector{Key: kv("at", atV)})), []string{"D c"}},
		{"node key wrong type", sel(node(&cdcstreamv1.NodeSelector{Key: kv("id", testkit.String("2"))})), nil},
		{"node operation+changesTo+user", sel(node(&cdcstreamv1.NodeSelector{Operation: opU, ChangesTo: []string{"name"}, AuthenticatedUser: adminUser})), []string{"A u"}},
		{"relationship", sel(rel(&cdcstreamv1.RelationshipSelector{})), []string{"R1 c", "R2 c", "R1 u", "R2 d"}},
		{"relationship type", sel(rel(&cdcstreamv1.RelationshipSelector{Type: "KNOWS"})), []string{"R1 c", "R1 u"}},
		{"relationship start/end labels", sel(rel(&cdcstreamv1.RelationshipSelector{
			Start: &cdcstreamv1.NodeMatcher{Labels: []string{"Person"}}, End: &cdcstreamv1.NodeMatcher{Labels: []string{"Company"}}})),
			[]string{"R2 c", "R2 d"}},
		{"relationship end key", sel(rel(&cdcstreamv1.RelationshipSelector{End: &cdcstreamv1.NodeMatcher{Key: kv("cid", testkit.String("acme"))}})), []string{"R2 c", "R2 d"}},
		{"relationship key", sel(rel(&cdcstreamv1.RelationshipSelector{Key: kv("rid", testkit.Int(10))})), []string{"R1 c", "R1 u"}},
		{"relationship elementId", func() []func() *cdcstreamv1.Selector {
			return sel(rel(&cdcstreamv1.RelationshipSelector{ElementId: ids["R1"]}))
		}(), []string{"R1 c", "R1 u"}},
		{"relationship end elementId", func() []func() *cdcstreamv1.Selector {
			return sel(rel(&cdcstreamv1.RelationshipSelector{End: &cdcstreamv1.NodeMatcher{ElementId: ids["B"]}}))
		}(), []string{"R1 c", "R1 u"}},
		{"relationship changesTo+executingUser+txMetadata", sel(rel(&cdcstreamv1.RelationshipSelector{
			ChangesTo: []string{"since"}, ExecutingUser: "alice", TxMetadata: kv("app", testkit.String("b"))})), []string{"R1 u"}},
		{"relationship delete by other", sel(rel(&cdcstreamv1.RelationshipSelector{Operation: opD, AuthenticatedUser: "other"})), []string{"R2 d"}},
		{"two selectors are OR, each change once", func() []func() *cdcstreamv1.Selector {
			return append(sel(node(&cdcstreamv1.NodeSelector{ElementId: ids["C"]})), sel(rel(&cdcstreamv1.RelationshipSelector{Type: "KNOWS"}), ent(&cdcstreamv1.EntitySelector{Operation: opD}))...)
		}(), []string{"C c", "R1 c", "R1 u", "C d", "R2 d"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sels []*cdcstreamv1.Selector
			for _, f := range tc.sels {
				sels = append(sels, f())
			}
			b := must(src.Poll(ctx(t), server.PollRequest{Database: "neo4j", From: from, Selectors: sels, Limit: 100}))(t)
			// Neo4j does not order the changes of one transaction causally, so within a
			// transaction the comparison is by name.
			var got []string
			txStart, lastTx := 0, int64(-1)
			for _, c := range b.Changes {
				if c.GetTxId() != lastTx {
					slices.Sort(got[txStart:])
					txStart, lastTx = len(got), c.GetTxId()
				}
				id, op := c.GetNode().GetElementId(), c.GetNode().GetOperation()
				if r := c.GetRelationship(); r != nil {
					id, op = r.GetElementId(), r.GetOperation()
				}
				got = append(got, names[id]+" "+strings.ToLower(strings.TrimPrefix(op.String(), "OPERATION_"))[:1])
			}
			slices.Sort(got[txStart:])
			if !slices.Equal(got, tc.want) {
				t.Fatalf("selectors %v\n got %v\nwant %v", sels, got, tc.want)
			}
		})
	}
}

// sel wraps selectors for the case table.
func sel(ss ...*cdcstreamv1.Selector) []func() *cdcstreamv1.Selector {
	out := make([]func() *cdcstreamv1.Selector, len(ss))
	for i, s := range ss {
		out[i] = func() *cdcstreamv1.Selector { return s }
	}
	return out
}
