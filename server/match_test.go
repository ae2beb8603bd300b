package server_test

import (
	"errors"
	"math"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
)

// The rules these cases pin down are docs/semantics.md, "Selectors evaluated in process";
// internal/neo4jcdc/parity_test.go proves them against db.cdc.query on random workloads.

type vmap = map[string]*cdcstreamv1.Value

const (
	opC = cdcstreamv1.Operation_OPERATION_CREATE
	opU = cdcstreamv1.Operation_OPERATION_UPDATE
	opD = cdcstreamv1.Operation_OPERATION_DELETE
)

func entitySel(e *cdcstreamv1.EntitySelector) *cdcstreamv1.Selector {
	return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Entity{Entity: e}}
}
func nodeSel(n *cdcstreamv1.NodeSelector) *cdcstreamv1.Selector {
	return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: n}}
}
func relSel(r *cdcstreamv1.RelationshipSelector) *cdcstreamv1.Selector {
	return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: r}}
}

// nodeEv builds a node change; before or after nil means the state is absent.
func nodeEv(mode cdcstreamv1.CaptureMode, op cdcstreamv1.Operation, top []string, before, after *cdcstreamv1.NodeState) *cdcstreamv1.ChangeEvent {
	return &cdcstreamv1.ChangeEvent{
		TxId:     7,
		Metadata: &cdcstreamv1.Metadata{ExecutingUser: "alice", AuthenticatedUser: "neo4j", CaptureMode: mode, TxMetadata: vmap{"app": testkit.String("a"), "n": testkit.Int(1), "l": testkit.List(testkit.Int(1), testkit.Float(2.5)), "m": testkit.Map(vmap{"k": testkit.Int(3)})}},
		Event: &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
			ElementId: "4:db:1", Operation: op, Labels: top, Before: before, After: after,
			Keys: map[string]*cdcstreamv1.LabelKeys{
				"Person":  {Keys: []*cdcstreamv1.EntityKey{{Properties: vmap{"id": testkit.Int(1)}}}},
				"Company": {Keys: []*cdcstreamv1.EntityKey{{Properties: vmap{"cid": testkit.String("acme"), "size": testkit.Float(2)}}}},
			},
		}},
	}
}

func state(labels []string, props vmap) *cdcstreamv1.NodeState {
	return &cdcstreamv1.NodeState{Labels: labels, Properties: props}
}

func relEv(op cdcstreamv1.Operation, before, after vmap) *cdcstreamv1.ChangeEvent {
	rs := func(p vmap) *cdcstreamv1.RelationshipState {
		if p == nil {
			return nil
		}
		return &cdcstreamv1.RelationshipState{Properties: p}
	}
	return &cdcstreamv1.ChangeEvent{
		Metadata: &cdcstreamv1.Metadata{ExecutingUser: "bob", AuthenticatedUser: "bob", CaptureMode: cdcstreamv1.CaptureMode_CAPTURE_MODE_FULL},
		Event: &cdcstreamv1.ChangeEvent_Relationship{Relationship: &cdcstreamv1.RelationshipEvent{
			ElementId: "5:db:9", Operation: op, Type: "KNOWS",
			Start: &cdcstreamv1.NodeRef{ElementId: "4:db:1", Labels: []string{"Person"},
				Keys: map[string]*cdcstreamv1.LabelKeys{"Person": {Keys: []*cdcstreamv1.EntityKey{{Properties: vmap{"id": testkit.Int(1)}}}}}},
			End:    &cdcstreamv1.NodeRef{ElementId: "4:db:2", Labels: []string{"Company"}},
			Keys:   []*cdcstreamv1.EntityKey{{Properties: vmap{"rid": testkit.Int(10)}}},
			Before: rs(before), After: rs(after),
		}},
	}
}

var (
	full = cdcstreamv1.CaptureMode_CAPTURE_MODE_FULL
	diff = cdcstreamv1.CaptureMode_CAPTURE_MODE_DIFF
	// A node created as Person {id: 1, name: "Ann"}.
	created = nodeEv(full, opC, []string{"Person"}, nil, state([]string{"Person"}, vmap{"id": testkit.Int(1), "name": testkit.String("Ann")}))
	// The same node deleted.
	deleted = nodeEv(full, opD, []string{"Person"}, state([]string{"Person"}, vmap{"id": testkit.Int(1), "name": testkit.String("Ann")}), nil)
	// FULL update: Villain -> Hero, name changed, age removed, score added, id kept, n 1 -> 1.0, x NaN -> NaN.
	fullUpdate = nodeEv(full, opU, []string{"Person", "Villain"},
		state([]string{"Person", "Villain"}, vmap{"id": testkit.Int(1), "name": testkit.String("Ann"), "age": testkit.Int(3), "n": testkit.Int(1), "x": testkit.Float(math.NaN())}),
		state([]string{"Person", "Hero"}, vmap{"id": testkit.Int(1), "name": testkit.String("Annie"), "score": testkit.Float(1), "n": testkit.Float(1), "x": testkit.Float(math.NaN())}))
	// The same update in DIFF mode, with Neo4j's top-level labels (before the change).
	diffUpdate = nodeEv(diff, opU, []string{"Person", "Villain"},
		state([]string{"Villain"}, vmap{"name": testkit.String("Ann"), "age": testkit.Int(3)}),
		state([]string{"Hero"}, vmap{"name": testkit.String("Annie"), "score": testkit.Float(1)}))
	// The same DIFF update with top-level labels after the change.
	diffUpdateTopAfter = nodeEv(diff, opU, []string{"Person", "Hero"}, diffUpdate.GetNode().GetBefore(), diffUpdate.GetNode().GetAfter())
	relCreated         = relEv(opC, nil, vmap{"since": testkit.Int(2020)})
	relUpdated         = relEv(opU, vmap{"since": testkit.Int(2020)}, vmap{"since": testkit.Int(2021)})
)

func TestMatch(t *testing.T) {
	cases := []struct {
		name string
		sels []*cdcstreamv1.Selector
		ev   *cdcstreamv1.ChangeEvent
		want int // index of the first matching selector, -1 for none
	}{
		{"no selectors", nil, created, 0},
		{"entity matches nodes", sel(entitySel(&cdcstreamv1.EntitySelector{})), created, 0},
		{"entity matches relationships", sel(entitySel(&cdcstreamv1.EntitySelector{})), relCreated, 0},
		{"node selector skips relationships", sel(nodeSel(&cdcstreamv1.NodeSelector{})), relCreated, -1},
		{"relationship selector skips nodes", sel(relSel(&cdcstreamv1.RelationshipSelector{})), created, -1},
		{"union: first matching index", sel(nodeSel(&cdcstreamv1.NodeSelector{Operation: opD}), relSel(&cdcstreamv1.RelationshipSelector{}), entitySel(&cdcstreamv1.EntitySelector{}), nodeSel(&cdcstreamv1.NodeSelector{})), created, 2},
		{"union: none", sel(nodeSel(&cdcstreamv1.NodeSelector{Operation: opD}), relSel(&cdcstreamv1.RelationshipSelector{})), created, -1},

		{"operation", sel(entitySel(&cdcstreamv1.EntitySelector{Operation: opC})), created, 0},
		{"operation other", sel(entitySel(&cdcstreamv1.EntitySelector{Operation: opU})), created, -1},

		{"changesTo create: in after", sel(entitySel(&cdcstreamv1.EntitySelector{ChangesTo: []string{"id", "name"}})), created, 0},
		{"changesTo create: absent", sel(entitySel(&cdcstreamv1.EntitySelector{ChangesTo: []string{"name", "age"}})), created, -1},
		{"changesTo delete: in before", sel(entitySel(&cdcstreamv1.EntitySelector{ChangesTo: []string{"name"}})), deleted, 0},
		{"changesTo FULL update: modified", sel(entitySel(&cdcstreamv1.EntitySelector{ChangesTo: []string{"name"}})), fullUpdate, 0},
		{"changesTo FULL update: removed", sel(entitySel(&cdcstreamv1.EntitySelector{ChangesTo: []string{"age"}})), fullUpdate, 0},
		{"changesTo FULL update: added", sel(entitySel(&cdcstreamv1.EntitySelector{ChangesTo: []string{"score"}})), fullUpdate, 0},
		{"changesTo FULL update: kept", sel(entitySel(&cdcstreamv1.EntitySelector{ChangesTo: []string{"id"}})), fullUpdate, -1},
		{"changesTo FULL update: integer to float is a change", sel(entitySel(&cdcstreamv1.EntitySelector{ChangesTo: []string{"n"}})), fullUpdate, 0},
		{"changesTo FULL update: NaN kept", sel(entitySel(&cdcstreamv1.EntitySelector{ChangesTo: []string{"x"}})), fullUpdate, -1},
		{"changesTo FULL update: never set", sel(entitySel(&cdcstreamv1.EntitySelector{ChangesTo: []string{"zzz"}})), fullUpdate, -1},
		{"changesTo DIFF update: removed, added, modified", sel(entitySel(&cdcstreamv1.EntitySelector{ChangesTo: []string{"age", "score", "name"}})), diffUpdate, 0},
		{"changesTo DIFF update: kept", sel(entitySel(&cdcstreamv1.EntitySelector{ChangesTo: []string{"id"}})), diffUpdate, -1},
		{"changesTo relationship", sel(relSel(&cdcstreamv1.RelationshipSelector{ChangesTo: []string{"since"}})), relUpdated, 0},

		{"executingUser", sel(entitySel(&cdcstreamv1.EntitySelector{ExecutingUser: "alice"})), created, 0},
		{"executingUser is not the authenticated user", sel(entitySel(&cdcstreamv1.EntitySelector{ExecutingUser: "neo4j"})), created, -1},
		{"authenticatedUser", sel(entitySel(&cdcstreamv1.EntitySelector{AuthenticatedUser: "neo4j"})), created, 0},
		{"authenticatedUser other", sel(entitySel(&cdcstreamv1.EntitySelector{AuthenticatedUser: "alice"})), created, -1},

		{"txMetadata subset", sel(entitySel(&cdcstreamv1.EntitySelector{TxMetadata: vmap{"app": testkit.String("a")}})), created, 0},
		{"txMetadata float equals integer", sel(entitySel(&cdcstreamv1.EntitySelector{TxMetadata: vmap{"n": testkit.Float(1)}})), created, 0},
		{"txMetadata list", sel(entitySel(&cdcstreamv1.EntitySelector{TxMetadata: vmap{"l": testkit.List(testkit.Float(1), testkit.Float(2.5))}})), created, 0},
		{"txMetadata list of another length", sel(entitySel(&cdcstreamv1.EntitySelector{TxMetadata: vmap{"l": testkit.List(testkit.Int(1))}})), created, -1},
		{"txMetadata map", sel(entitySel(&cdcstreamv1.EntitySelector{TxMetadata: vmap{"m": testkit.Map(vmap{"k": testkit.Float(3)})}})), created, 0},
		{"txMetadata map with more entries", sel(entitySel(&cdcstreamv1.EntitySelector{TxMetadata: vmap{"m": testkit.Map(vmap{"k": testkit.Int(3), "j": testkit.Int(1)})}})), created, -1},
		{"txMetadata missing key", sel(entitySel(&cdcstreamv1.EntitySelector{TxMetadata: vmap{"app": testkit.String("a"), "zzz": testkit.Int(1)}})), created, -1},
		{"txMetadata other value", sel(entitySel(&cdcstreamv1.EntitySelector{TxMetadata: vmap{"app": testkit.String("b")}})), created, -1},
		{"txMetadata string is not an integer", sel(entitySel(&cdcstreamv1.EntitySelector{TxMetadata: vmap{"n": testkit.String("1")}})), created, -1},

		{"elementId", sel(nodeSel(&cdcstreamv1.NodeSelector{ElementId: "4:db:1"})), created, 0},
		{"elementId other", sel(nodeSel(&cdcstreamv1.NodeSelector{ElementId: "4:db:2"})), created, -1},
		{"relationship elementId", sel(relSel(&cdcstreamv1.RelationshipSelector{ElementId: "5:db:9"})), relCreated, 0},

		{"labels create", sel(nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Person"}})), created, 0},
		{"labels delete", sel(nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Person"}})), deleted, 0},
		{"labels missing", sel(nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Person", "Hero"}})), created, -1},
		{"labels FULL before", sel(nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Person", "Villain"}})), fullUpdate, 0},
		{"labels FULL after", sel(nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Person", "Hero"}})), fullUpdate, 0},
		{"labels FULL split over before and after", sel(nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Villain", "Hero"}})), fullUpdate, -1},
		{"labels DIFF before", sel(nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Person", "Villain"}})), diffUpdate, 0},
		{"labels DIFF after", sel(nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Person", "Hero"}})), diffUpdate, 0},
		{"labels DIFF split over before and after", sel(nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Villain", "Hero"}})), diffUpdate, -1},
		{"labels DIFF, top-level after: before", sel(nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Person", "Villain"}})), diffUpdateTopAfter, 0},
		{"labels DIFF, top-level after: after", sel(nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Person", "Hero"}})), diffUpdateTopAfter, 0},
		{"labels DIFF, top-level after: split", sel(nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Villain", "Hero"}})), diffUpdateTopAfter, -1},

		{"node key", sel(nodeSel(&cdcstreamv1.NodeSelector{Key: vmap{"id": testkit.Int(1)}})), created, 0},
		{"node key as float", sel(nodeSel(&cdcstreamv1.NodeSelector{Key: vmap{"id": testkit.Float(1)}})), created, 0},
		{"node composite key, integer for float", sel(nodeSel(&cdcstreamv1.NodeSelector{Key: vmap{"cid": testkit.String("acme"), "size": testkit.Int(2)}})), created, 0},
		{"node key part of a composite key", sel(nodeSel(&cdcstreamv1.NodeSelector{Key: vmap{"cid": testkit.String("acme")}})), created, -1},
		{"node key with an extra property", sel(nodeSel(&cdcstreamv1.NodeSelector{Key: vmap{"id": testkit.Int(1), "name": testkit.String("Ann")}})), created, -1},
		{"node key other value", sel(nodeSel(&cdcstreamv1.NodeSelector{Key: vmap{"id": testkit.Int(2)}})), created, -1},
		{"node key non-integral float", sel(nodeSel(&cdcstreamv1.NodeSelector{Key: vmap{"id": testkit.Float(1.5)}})), created, -1},

		{"type", sel(relSel(&cdcstreamv1.RelationshipSelector{Type: "KNOWS"})), relCreated, 0},
		{"type other", sel(relSel(&cdcstreamv1.RelationshipSelector{Type: "LIKES"})), relCreated, -1},
		{"relationship key", sel(relSel(&cdcstreamv1.RelationshipSelector{Key: vmap{"rid": testkit.Float(10)}})), relCreated, 0},
		{"relationship key other", sel(relSel(&cdcstreamv1.RelationshipSelector{Key: vmap{"rid": testkit.Int(11)}})), relCreated, -1},
		{"start labels and key", sel(relSel(&cdcstreamv1.RelationshipSelector{Start: &cdcstreamv1.NodeMatcher{Labels: []string{"Person"}, Key: vmap{"id": testkit.Int(1)}}})), relCreated, 0},
		{"start is not end", sel(relSel(&cdcstreamv1.RelationshipSelector{Start: &cdcstreamv1.NodeMatcher{Labels: []string{"Company"}}})), relCreated, -1},
		{"end elementId", sel(relSel(&cdcstreamv1.RelationshipSelector{End: &cdcstreamv1.NodeMatcher{ElementId: "4:db:2"}})), relCreated, 0},
		{"end elementId other", sel(relSel(&cdcstreamv1.RelationshipSelector{End: &cdcstreamv1.NodeMatcher{ElementId: "4:db:1"}})), relCreated, -1},
		{"end key without keys", sel(relSel(&cdcstreamv1.RelationshipSelector{End: &cdcstreamv1.NodeMatcher{Key: vmap{"id": testkit.Int(1)}}})), relCreated, -1},
		{"empty endpoint matcher", sel(relSel(&cdcstreamv1.RelationshipSelector{Start: &cdcstreamv1.NodeMatcher{}, End: &cdcstreamv1.NodeMatcher{}})), relCreated, 0},
		{"every field at once", sel(relSel(&cdcstreamv1.RelationshipSelector{Operation: opU, ChangesTo: []string{"since"}, ExecutingUser: "bob", AuthenticatedUser: "bob",
			ElementId: "5:db:9", Type: "KNOWS", Key: vmap{"rid": testkit.Int(10)}, Start: &cdcstreamv1.NodeMatcher{ElementId: "4:db:1"}, End: &cdcstreamv1.NodeMatcher{Labels: []string{"Company"}}})), relUpdated, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := server.NewMatcher(tc.sels)
			if err != nil {
				t.Fatal(err)
			}
			i, ok := m.Match(tc.ev)
			if i != tc.want || ok != (tc.want >= 0) {
				t.Fatalf("Match = (%d, %v), want (%d, %v)", i, ok, tc.want, tc.want >= 0)
			}
		})
	}
}

func sel(ss ...*cdcstreamv1.Selector) []*cdcstreamv1.Selector { return ss }

// TestMatchValues checks Cypher equality on every value kind, through a tx metadata
// selector.
func TestMatchValues(t *testing.T) {
	dt := func(sec int64, zone any) *cdcstreamv1.Value {
		d := &cdcstreamv1.DateTime{Instant: &timestamppb.Timestamp{Seconds: sec}}
		switch z := zone.(type) {
		case int32:
			d.Zone = &cdcstreamv1.DateTime_OffsetSeconds{OffsetSeconds: z}
		case string:
			d.Zone = &cdcstreamv1.DateTime_ZoneId{ZoneId: z}
		}
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: d}}
	}
	dur := func(m, d, s int64, n int32) *cdcstreamv1.Value {
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DurationValue{DurationValue: &cdcstreamv1.Duration{Months: m, Days: d, Seconds: s, Nanos: n}}}
	}
	pt := func(srid int32, x, y float64, z ...float64) *cdcstreamv1.Value {
		p := &cdcstreamv1.Point{Srid: srid, X: x, Y: y}
		if len(z) > 0 {
			p.Z = &z[0]
		}
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{PointValue: p}}
	}
	ldt := func(day int32) *cdcstreamv1.Value {
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_LocalDateTimeValue{LocalDateTimeValue: &cdcstreamv1.LocalDateTime{
			Date: &cdcstreamv1.Date{Year: 2024, Month: 1, Day: day}, Time: &cdcstreamv1.LocalTime{Hour: 1}}}}
	}
	tm := func(off int32) *cdcstreamv1.Value {
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_TimeValue{TimeValue: &cdcstreamv1.Time{LocalTime: &cdcstreamv1.LocalTime{Hour: 1}, OffsetSeconds: off}}}
	}
	cases := []struct {
		name        string
		sel, stored *cdcstreamv1.Value
		equal       bool
	}{
		{"bool", testkit.Bool(true), testkit.Bool(true), true},
		{"bool other", testkit.Bool(true), testkit.Bool(false), false},
		{"bool is not integer", testkit.Bool(true), testkit.Int(1), false},
		{"integer", testkit.Int(-5), testkit.Int(-5), true},
		{"integer equals float", testkit.Int(3), testkit.Float(3), true},
		{"float equals integer", testkit.Float(-3), testkit.Int(-3), true},
		{"2^53+1 is not the float 2^53", testkit.Int(1<<53 + 1), testkit.Float(1 << 53), false},
		{"2^63 float is no integer", testkit.Float(math.Pow(2, 63)), testkit.Int(math.MaxInt64), false},
		{"zero equals minus zero", testkit.Float(0), testkit.Float(math.Copysign(0, -1)), true},
		{"NaN stored never equals", testkit.Float(1), testkit.Float(math.NaN()), false},
		{"string", testkit.String("é"), testkit.String("é"), true},
		{"string is not bytes", testkit.String("a"), testkit.Bytes([]byte("a")), false},
		{"bytes", testkit.Bytes([]byte{1, 2}), testkit.Bytes([]byte{1, 2}), true},
		{"bytes other", testkit.Bytes([]byte{1, 2}), testkit.Bytes([]byte{1}), false},
		{"null stored never equals", testkit.Int(1), testkit.Null(), false},
		{"list with null stored", testkit.List(testkit.Int(1)), testkit.List(testkit.Null()), false},
		{"date", testkit.Date(2024, 2, 29), testkit.Date(2024, 2, 29), true},
		{"date other", testkit.Date(2024, 2, 29), testkit.Date(2024, 3, 1), false},
		{"local time", testkit.LocalTime(1, 2, 3, 4), testkit.LocalTime(1, 2, 3, 4), true},
		{"local time other", testkit.LocalTime(1, 2, 3, 4), testkit.LocalTime(1, 2, 3, 5), false},
		{"time", tm(3600), tm(3600), true},
		{"time other offset", tm(3600), tm(0), false},
		{"local datetime", ldt(1), ldt(1), true},
		{"local datetime other", ldt(1), ldt(2), false},
		{"datetime offset", dt(100, int32(3600)), dt(100, int32(3600)), true},
		{"datetime zone", dt(100, "Europe/Stockholm"), dt(100, "Europe/Stockholm"), true},
		{"datetime other instant", dt(100, "Europe/Stockholm"), dt(101, "Europe/Stockholm"), false},
		{"datetime zone is not offset", dt(100, "Europe/Stockholm"), dt(100, int32(3600)), false},
		{"datetime other offset", dt(100, int32(3600)), dt(100, int32(0)), false},
		{"duration", dur(1, 2, 3, 4), dur(1, 2, 3, 4), true},
		{"duration components differ", dur(0, 1, 0, 0), dur(0, 0, 86400, 0), false},
		{"point 2D", pt(7203, 1, 2), pt(7203, 1, 2), true},
		{"point other SRID", pt(7203, 1, 2), pt(4326, 1, 2), false},
		{"point 3D", pt(9157, 1, 2, 3), pt(9157, 1, 2, 3), true},
		{"point 3D other z", pt(9157, 1, 2, 3), pt(9157, 1, 2, 4), false},
		{"point 2D is not 3D", pt(7203, 1, 2), pt(7203, 1, 2, 0), false},
		{"date is not local datetime", testkit.Date(2024, 1, 1), ldt(1), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := server.NewMatcher(sel(entitySel(&cdcstreamv1.EntitySelector{TxMetadata: vmap{"v": tc.sel}})))
			if err != nil {
				t.Fatal(err)
			}
			ev := &cdcstreamv1.ChangeEvent{Metadata: &cdcstreamv1.Metadata{TxMetadata: vmap{"v": tc.stored}}, Event: created.GetEvent()}
			if _, ok := m.Match(ev); ok != tc.equal {
				t.Fatalf("%v = %v: got %v, want %v", tc.sel, tc.stored, ok, tc.equal)
			}
		})
	}
}

func TestMatchChangeWithoutEvent(t *testing.T) {
	m, err := server.NewMatcher(sel(entitySel(&cdcstreamv1.EntitySelector{})))
	if err != nil {
		t.Fatal(err)
	}
	if i, ok := m.Match(&cdcstreamv1.ChangeEvent{}); ok || i != -1 {
		t.Fatalf("Match(no event) = (%d, %v), want (-1, false)", i, ok)
	}
}

func TestNilMatcherMatchesEverything(t *testing.T) {
	var m *server.Matcher
	if i, ok := m.Match(created); !ok || i != 0 || m.Len() != 0 {
		t.Fatalf("nil Matcher: Match = (%d, %v), Len = %d; want (0, true), 0", i, ok, m.Len())
	}
}

func TestNewMatcherRejects(t *testing.T) {
	cases := map[string]*cdcstreamv1.Selector{
		"no kind":                     {},
		"unknown operation":           entitySel(&cdcstreamv1.EntitySelector{Operation: 9}),
		"value without kind":          nodeSel(&cdcstreamv1.NodeSelector{Key: vmap{"id": {}}}),
		"nested value without kind":   entitySel(&cdcstreamv1.EntitySelector{TxMetadata: vmap{"l": testkit.List(testkit.Int(1), &cdcstreamv1.Value{})}}),
		"endpoint value without kind": relSel(&cdcstreamv1.RelationshipSelector{End: &cdcstreamv1.NodeMatcher{Key: vmap{"id": {}}}}),
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := server.NewMatcher(sel(entitySel(&cdcstreamv1.EntitySelector{}), s))
			if !errors.Is(err, server.ErrInvalidSelector) {
				t.Fatalf("NewMatcher: %v, want ErrInvalidSelector", err)
			}
		})
	}
}

// benchSelectors are six selectors of which, for the node updates of this file, only the
// last matches, so Match evaluates all of them; relUpdated matches the second.
func benchSelectors() []*cdcstreamv1.Selector {
	return sel(
		nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Company"}}),
		relSel(&cdcstreamv1.RelationshipSelector{Type: "KNOWS"}),
		entitySel(&cdcstreamv1.EntitySelector{Operation: opD}),
		nodeSel(&cdcstreamv1.NodeSelector{Key: vmap{"id": testkit.Int(2)}}),
		entitySel(&cdcstreamv1.EntitySelector{TxMetadata: vmap{"app": testkit.String("b")}}),
		nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Person", "Hero"}, ChangesTo: []string{"name"}, Key: vmap{"id": testkit.Float(1)}}),
	)
}

func TestMatchDoesNotAllocate(t *testing.T) {
	m, err := server.NewMatcher(benchSelectors())
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []*cdcstreamv1.ChangeEvent{fullUpdate, diffUpdate, relUpdated} {
		if n := testing.AllocsPerRun(100, func() { m.Match(ev) }); n != 0 {
			t.Errorf("Match allocates %v times per call, want 0", n)
		}
	}
}

// BenchmarkMatch measures Match per change: no selectors, one label selector, and six
// selectors of which only the last matches (every selector is evaluated).
func BenchmarkMatch(b *testing.B) {
	for _, bc := range []struct {
		name string
		sels []*cdcstreamv1.Selector
		ev   *cdcstreamv1.ChangeEvent
	}{
		{"none", nil, fullUpdate},
		{"label", sel(nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Person"}})), diffUpdate},
		{"six-full", benchSelectors(), fullUpdate},
		{"six-diff", benchSelectors(), diffUpdate},
		{"six-relationship", benchSelectors(), relUpdated},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m, err := server.NewMatcher(bc.sels)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				m.Match(bc.ev)
			}
		})
	}
}
