package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
)

// TestPatternsEqualTypedSelectors is the differential test of SubscribeRequest.patterns: a
// pattern of Neo4j's Kafka connector and the typed selectors it stands for give the same
// stream, change for change, end to end through the driver and Neo4j's own selector
// evaluation; and both select what Neo4j's semantics say.
func TestPatternsEqualTypedSelectors(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := newStack(t, tg)
		tg.nodeKey(t, "PatPerson", "id")
		tg.relationshipKey(t, "PAT_WORKS_AT", "rid")
		c := s.cursorNow(t)

		var p1, p2, co, r1, r2 string
		tg.write(t, nil, func(w writer) {
			p1 = w.createNode([]string{"PatPerson"}, map[string]*cdcstreamv1.Value{"id": testkit.Int(1), "name": testkit.String("Ann")})
			p2 = w.createNode([]string{"PatPerson"}, map[string]*cdcstreamv1.Value{"id": testkit.Int(2), "name": testkit.String("Bob")})
			co = w.createNode([]string{"PatCompany"}, map[string]*cdcstreamv1.Value{"name": testkit.String("Acme")})
			r1 = w.createRelationship("PAT_WORKS_AT", p1, co, map[string]*cdcstreamv1.Value{"rid": testkit.Int(10), "since": testkit.Int(2020)})
			r2 = w.createRelationship("PAT_KNOWS", p2, p1, nil)
		})
		tg.write(t, nil, func(w writer) {
			w.setNodeProperties(p1, map[string]*cdcstreamv1.Value{"name": testkit.String("Anna"), "age": testkit.Int(41)})
		})
		tg.write(t, nil, func(w writer) {
			w.deleteRelationship(r2)
			w.deleteNode(co) // detach: deletes r1 too
		})

		node := func(n *cdcstreamv1.NodeSelector) *cdcstreamv1.Selector {
			return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: n}}
		}
		rel := func(r *cdcstreamv1.RelationshipSelector) *cdcstreamv1.Selector {
			return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: r}}
		}
		labels := func(l ...string) *cdcstreamv1.NodeMatcher { return &cdcstreamv1.NodeMatcher{Labels: l} }
		person, company := labels("PatPerson"), labels("PatCompany")
		cases := []struct {
			pattern string
			typed   []*cdcstreamv1.Selector
			want    []string
		}{
			{"(:PatPerson)", []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{Labels: []string{"PatPerson"}})},
				[]string{"c:" + p1, "c:" + p2, "u:" + p1}},
			{"(:PatPerson{id: 1})", []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{Labels: []string{"PatPerson"},
				Key: map[string]*cdcstreamv1.Value{"id": testkit.Int(1)}})}, []string{"c:" + p1, "u:" + p1}},
			{"(:PatPerson{name,-age})", []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{Labels: []string{"PatPerson"},
				Projection: &cdcstreamv1.Projection{Include: []string{"name"}, Exclude: []string{"age"}}})},
				[]string{"c:" + p1, "c:" + p2, "u:" + p1}},
			{"(:PatPerson)-[:PAT_WORKS_AT]->(:PatCompany)", []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{
				Type: "PAT_WORKS_AT", Start: person, End: company})}, []string{"c:" + r1, "d:" + r1}},
			{"(:PatCompany)<-[:PAT_WORKS_AT]-(:PatPerson)", []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{
				Type: "PAT_WORKS_AT", Start: person, End: company})}, []string{"c:" + r1, "d:" + r1}},
			{"(:PatCompany)-[:PAT_WORKS_AT]-(:PatPerson)", []*cdcstreamv1.Selector{
				rel(&cdcstreamv1.RelationshipSelector{Type: "PAT_WORKS_AT", Start: company, End: person}),
				rel(&cdcstreamv1.RelationshipSelector{Type: "PAT_WORKS_AT", Start: person, End: company})}, []string{"c:" + r1, "d:" + r1}},
			{"(:PatCompany)-[:PAT_WORKS_AT]->(:PatPerson)", []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{
				Type: "PAT_WORKS_AT", Start: company, End: person})}, nil},
			{"()-[{rid: 10}]->()", []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{
				Key: map[string]*cdcstreamv1.Value{"rid": testkit.Int(10)}})}, []string{"c:" + r1, "d:" + r1}},
			{"(:PatPerson{id: 2})-->()", []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{
				Start: &cdcstreamv1.NodeMatcher{Labels: []string{"PatPerson"}, Key: map[string]*cdcstreamv1.Value{"id": testkit.Int(2)}}})},
				[]string{"c:" + r2, "d:" + r2}},
			{"(:PatCompany),()-[:PAT_KNOWS]-()", []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{Labels: []string{"PatCompany"}}),
				rel(&cdcstreamv1.RelationshipSelector{Type: "PAT_KNOWS"})}, []string{"c:" + co, "c:" + r2, "d:" + r2, "d:" + co}},
		}
		for _, tc := range cases {
			t.Run(tc.pattern, func(t *testing.T) {
				t.Parallel()
				fromPattern, _ := s.subscribe(t, &cdcstreamv1.SubscribeRequest{
					Database:           tg.database(),
					Start:              &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: c},
					Patterns:           []string{tc.pattern},
					CheckpointInterval: s1(),
				}).changesUntilCheckpoint()
				fromTyped, _ := s.subscribeFrom(t, c, tc.typed...).changesUntilCheckpoint()
				if g, w := describe(fromPattern), sorted(tc.want); fmt.Sprint(g) != fmt.Sprint(w) {
					t.Fatalf("pattern %s:\n got  %v\n want %v", tc.pattern, g, w)
				}
				if len(fromPattern) != len(fromTyped) {
					t.Fatalf("pattern %s: %d changes, typed selectors %d", tc.pattern, len(fromPattern), len(fromTyped))
				}
				for i := range fromPattern {
					if !proto.Equal(fromPattern[i], fromTyped[i]) {
						t.Fatalf("pattern %s, change %d:\n%v\ntyped selectors:\n%v", tc.pattern, i, fromPattern[i], fromTyped[i])
					}
				}
			})
		}
	})
}

// TestProjectionApplied: a pattern's projection reaches the client, from the shared tail and
// from the subscription's own polls (tail off), while a subscription without projection, served
// from the same shared events, still gets every property; the first matching pattern decides.
func TestProjectionApplied(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared-tail=%v", shared), func(t *testing.T) {
			tg := newSimTarget(t)
			tg.nodeKey(t, "Person", "id") // a pattern's {id: 1} is a key: it needs the constraint
			s := newStack(t, tg, server.WithSharedTail(shared))
			head := s.cursorNow(t)
			sub := func(patterns ...string) *subscription {
				return s.subscribe(t, &cdcstreamv1.SubscribeRequest{Patterns: patterns,
					Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: head}})
			}
			projected := sub("(:Person{id: 1, *})", "(:Person{name})")
			full := sub()
			tg.write(t, nil, func(w writer) {
				for _, id := range []int64{1, 2} {
					w.createNode([]string{"Person"}, map[string]*cdcstreamv1.Value{
						"id": testkit.Int(id), "name": testkit.String("n"), "age": testkit.Int(40)})
				}
			})
			props := func(ev *cdcstreamv1.ChangeEvent) string {
				var names []string
				for k := range ev.GetNode().GetAfter().GetProperties() {
					names = append(names, k)
				}
				sort.Strings(names)
				return strings.Join(names, ",")
			}
			got := projected.changes(2)
			if p0, p1 := props(got[0]), props(got[1]); p0 != "age,id,name" || p1 != "name" {
				t.Fatalf("projected properties %q and %q, want every property for Person 1 and only name for Person 2", p0, p1)
			}
			for _, ev := range full.changes(2) {
				if p := props(ev); p != "age,id,name" {
					t.Fatalf("the unprojected subscription got %q: a projection leaked into shared events", p)
				}
			}
		})
	}
}
