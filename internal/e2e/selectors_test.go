package e2e

import (
	"fmt"
	"sort"
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// TestSelectors: every selector key filters with Neo4j's semantics, end to end.
func TestSelectors(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := newStack(t, tg)
		tg.nodeKey(t, "SelPerson", "id")
		tg.relationshipKey(t, "SEL_WORKS_AT", "rid")
		c := s.cursorNow(t)

		var p1, p2, co, r1, r2 string
		tg.write(t, map[string]any{"app": "sel", "kind": "one"}, func(w writer) {
			p1 = w.createNode([]string{"SelPerson"}, map[string]*cdcstreamv1.Value{"id": testkit.Int(1), "name": testkit.String("Ann")})
			p2 = w.createNode([]string{"SelPerson"}, map[string]*cdcstreamv1.Value{"id": testkit.Int(2), "name": testkit.String("Bob")})
			co = w.createNode([]string{"SelCompany"}, map[string]*cdcstreamv1.Value{"name": testkit.String("Acme")})
			r1 = w.createRelationship("SEL_WORKS_AT", p1, co, map[string]*cdcstreamv1.Value{"rid": testkit.Int(10), "since": testkit.Int(2020)})
			r2 = w.createRelationship("SEL_KNOWS", p1, p2, nil)
		})
		tg.write(t, map[string]any{"app": "sel", "kind": "two"}, func(w writer) {
			w.setNodeProperties(p1, map[string]*cdcstreamv1.Value{"name": testkit.String("Anna")})
			w.setNodeProperties(p2, map[string]*cdcstreamv1.Value{"age": testkit.Int(30)})
			w.addLabel(p2, "SelManager")
		})
		tg.write(t, map[string]any{"app": "sel", "kind": "three"}, func(w writer) {
			w.deleteRelationship(r2)
			w.deleteNode(co) // detach: deletes r1 too
		})

		c_, u_, d_ := "c", "u", "d"
		ev := func(op, id string) string { return op + ":" + id }
		entity := func(e *cdcstreamv1.EntitySelector) *cdcstreamv1.Selector {
			return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Entity{Entity: e}}
		}
		node := func(n *cdcstreamv1.NodeSelector) *cdcstreamv1.Selector {
			return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: n}}
		}
		rel := func(r *cdcstreamv1.RelationshipSelector) *cdcstreamv1.Selector {
			return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: r}}
		}
		all := []string{ev(c_, p1), ev(c_, p2), ev(c_, co), ev(c_, r1), ev(c_, r2), ev(u_, p1), ev(u_, p2), ev(d_, r2), ev(d_, r1), ev(d_, co)}
		cases := []struct {
			name string
			sels []*cdcstreamv1.Selector
			want []string
		}{
			{"none", nil, all},
			{"entity/operation", []*cdcstreamv1.Selector{entity(&cdcstreamv1.EntitySelector{Operation: cdcstreamv1.Operation_OPERATION_CREATE})},
				[]string{ev(c_, p1), ev(c_, p2), ev(c_, co), ev(c_, r1), ev(c_, r2)}},
			{"entity/changes_to", []*cdcstreamv1.Selector{entity(&cdcstreamv1.EntitySelector{ChangesTo: []string{"name"}})},
				[]string{ev(c_, p1), ev(c_, p2), ev(c_, co), ev(u_, p1), ev(d_, co)}},
			{"entity/executing_user", []*cdcstreamv1.Selector{entity(&cdcstreamv1.EntitySelector{ExecutingUser: tg.user()})}, all},
			{"entity/authenticated_user_other", []*cdcstreamv1.Selector{entity(&cdcstreamv1.EntitySelector{AuthenticatedUser: "nobody-" + tg.user()})}, nil},
			{"entity/tx_metadata", []*cdcstreamv1.Selector{entity(&cdcstreamv1.EntitySelector{TxMetadata: map[string]*cdcstreamv1.Value{"kind": testkit.String("two")}})},
				[]string{ev(u_, p1), ev(u_, p2)}},
			{"node/element_id", []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{ElementId: p2})}, []string{ev(c_, p2), ev(u_, p2)}},
			{"node/labels_after", []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{Labels: []string{"SelManager"}})}, []string{ev(u_, p2)}},
			{"node/labels", []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{Labels: []string{"SelPerson"}})},
				[]string{ev(c_, p1), ev(c_, p2), ev(u_, p1), ev(u_, p2)}},
			{"node/key", []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{Key: map[string]*cdcstreamv1.Value{"id": testkit.Int(1)}})}, []string{ev(c_, p1), ev(u_, p1)}},
			{"node/operation", []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{Operation: cdcstreamv1.Operation_OPERATION_DELETE})}, []string{ev(d_, co)}},
			{"relationship/type", []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{Type: "SEL_KNOWS"})}, []string{ev(c_, r2), ev(d_, r2)}},
			{"relationship/element_id", []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{ElementId: r1})}, []string{ev(c_, r1), ev(d_, r1)}},
			{"relationship/start_key", []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{Start: &cdcstreamv1.NodeMatcher{Key: map[string]*cdcstreamv1.Value{"id": testkit.Int(1)}}})},
				[]string{ev(c_, r1), ev(c_, r2), ev(d_, r2), ev(d_, r1)}},
			{"relationship/end_labels", []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{End: &cdcstreamv1.NodeMatcher{Labels: []string{"SelCompany"}}})},
				[]string{ev(c_, r1), ev(d_, r1)}},
			{"relationship/end_element_id", []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{End: &cdcstreamv1.NodeMatcher{ElementId: p2}})},
				[]string{ev(c_, r2), ev(d_, r2)}},
			{"relationship/key", []*cdcstreamv1.Selector{rel(&cdcstreamv1.RelationshipSelector{Key: map[string]*cdcstreamv1.Value{"rid": testkit.Int(10)}})}, []string{ev(c_, r1), ev(d_, r1)}},
			{"union", []*cdcstreamv1.Selector{node(&cdcstreamv1.NodeSelector{ElementId: p2}), rel(&cdcstreamv1.RelationshipSelector{Type: "SEL_KNOWS"}),
				entity(&cdcstreamv1.EntitySelector{Operation: cdcstreamv1.Operation_OPERATION_UPDATE})},
				[]string{ev(c_, p2), ev(u_, p2), ev(u_, p1), ev(c_, r2), ev(d_, r2)}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				got, _ := s.subscribeFrom(t, c, tc.sels...).changesUntilCheckpoint()
				if g, w := describe(got), sorted(tc.want); fmt.Sprint(g) != fmt.Sprint(w) {
					t.Fatalf("selector %v:\n got  %v\n want %v", tc.sels, g, w)
				}
			})
		}
	})
}

// describe renders changes as sorted "op:elementId" strings.
func describe(evs []*cdcstreamv1.ChangeEvent) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		var op cdcstreamv1.Operation
		var id string
		if n := e.GetNode(); n != nil {
			op, id = n.GetOperation(), n.GetElementId()
		} else {
			op, id = e.GetRelationship().GetOperation(), e.GetRelationship().GetElementId()
		}
		out = append(out, map[cdcstreamv1.Operation]string{
			cdcstreamv1.Operation_OPERATION_CREATE: "c", cdcstreamv1.Operation_OPERATION_UPDATE: "u", cdcstreamv1.Operation_OPERATION_DELETE: "d",
		}[op]+":"+id)
	}
	return sorted(out)
}

func sorted(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}
