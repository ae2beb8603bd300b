package server

import (
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server/pattern"
)

func intValue(n int64) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: n}}
}

func strValue(s string) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_StringValue{StringValue: s}}
}

// props builds a property map from name, value pairs.
func props(kv ...any) map[string]*cdcstreamv1.Value {
	m := map[string]*cdcstreamv1.Value{}
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case int:
			m[kv[i].(string)] = intValue(int64(v))
		case string:
			m[kv[i].(string)] = strValue(v)
		}
	}
	return m
}

func personUpdate() *cdcstreamv1.ChangeEvent {
	return &cdcstreamv1.ChangeEvent{
		Cursor: &cdcstreamv1.Cursor{Id: "AAAA", Database: "neo4j"}, TxId: 7, Seq: 2,
		Metadata: &cdcstreamv1.Metadata{ExecutingUser: "alice", TxCommitTime: &timestamppb.Timestamp{Seconds: 1700000000},
			TxMetadata: map[string]*cdcstreamv1.Value{"app": strValue("crm")}},
		Event: &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
			ElementId: "4:x:1", Operation: cdcstreamv1.Operation_OPERATION_UPDATE, Labels: []string{"Person"},
			Keys:   map[string]*cdcstreamv1.LabelKeys{"Person": {Keys: []*cdcstreamv1.EntityKey{{Properties: props("id", 1)}}}},
			Before: &cdcstreamv1.NodeState{Labels: []string{"Person"}, Properties: props("id", 1, "name", "Ann", "age", 40, "ssn", "x")},
			After:  &cdcstreamv1.NodeState{Labels: []string{"Person", "Admin"}, Properties: props("id", 1, "name", "Anne", "age", 41, "ssn", "x")},
		}},
	}
}

func knowsCreate() *cdcstreamv1.ChangeEvent {
	return &cdcstreamv1.ChangeEvent{
		Cursor: &cdcstreamv1.Cursor{Id: "BBBB"}, TxId: 8,
		Event: &cdcstreamv1.ChangeEvent_Relationship{Relationship: &cdcstreamv1.RelationshipEvent{
			ElementId: "5:x:2", Operation: cdcstreamv1.Operation_OPERATION_CREATE, Type: "KNOWS",
			Start: &cdcstreamv1.NodeRef{ElementId: "4:x:1", Labels: []string{"Person"}},
			End:   &cdcstreamv1.NodeRef{ElementId: "4:x:3", Labels: []string{"Person"}},
			Keys:  []*cdcstreamv1.EntityKey{{Properties: props("rid", 9)}},
			After: &cdcstreamv1.RelationshipState{Properties: props("rid", 9, "since", 2020, "secret", "s")},
		}},
	}
}

// withProps returns a clone of ev whose before and after properties are replaced (nil map:
// the state keeps its properties).
func withProps(ev *cdcstreamv1.ChangeEvent, before, after map[string]*cdcstreamv1.Value) *cdcstreamv1.ChangeEvent {
	c := proto.Clone(ev).(*cdcstreamv1.ChangeEvent)
	if n := c.GetNode(); n != nil {
		if before != nil {
			n.Before.Properties = before
		}
		if after != nil {
			n.After.Properties = after
		}
	}
	if r := c.GetRelationship(); r != nil {
		if before != nil {
			r.Before.Properties = before
		}
		if after != nil {
			r.After.Properties = after
		}
	}
	return c
}

func TestProject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ev   *cdcstreamv1.ChangeEvent
		p    *cdcstreamv1.Projection
		want *cdcstreamv1.ChangeEvent
	}{
		{"include", personUpdate(), &cdcstreamv1.Projection{Include: []string{"name"}},
			withProps(personUpdate(), props("name", "Ann"), props("name", "Anne"))},
		{"exclude", personUpdate(), &cdcstreamv1.Projection{Exclude: []string{"age", "ssn"}},
			withProps(personUpdate(), props("id", 1, "name", "Ann"), props("id", 1, "name", "Anne"))},
		{"exclusion wins", personUpdate(), &cdcstreamv1.Projection{Include: []string{"name", "age"}, Exclude: []string{"age"}},
			withProps(personUpdate(), props("name", "Ann"), props("name", "Anne"))},
		{"include unknown property", personUpdate(), &cdcstreamv1.Projection{Include: []string{"nope"}},
			withProps(personUpdate(), props(), props())},
		{"relationship", knowsCreate(), &cdcstreamv1.Projection{Exclude: []string{"secret"}},
			withProps(knowsCreate(), nil, props("rid", 9, "since", 2020))},
		{"relationship include", knowsCreate(), &cdcstreamv1.Projection{Include: []string{"since"}},
			withProps(knowsCreate(), nil, props("since", 2020))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			orig := proto.Clone(tc.ev)
			got := project(tc.ev, tc.p)
			if !proto.Equal(got, tc.want) {
				t.Fatalf("project =\n%v\nwant\n%v", got, tc.want)
			}
			if !proto.Equal(tc.ev, orig) {
				t.Fatalf("project modified its input:\n%v\nwas\n%v", tc.ev, orig)
			}
			if got == tc.ev {
				t.Fatal("project returned its input although it removed properties")
			}
		})
	}
}

// TestProjectKeepsIdentity: a projection that removes nothing returns the event itself, and a
// projected event keeps element ids, labels, keys, cursor, metadata and unknown fields.
func TestProjectKeepsIdentity(t *testing.T) {
	t.Parallel()
	ev := personUpdate()
	for _, p := range []*cdcstreamv1.Projection{nil, {}, {Exclude: []string{"nope"}}, {Include: []string{"id", "name", "age", "ssn"}}} {
		if got := project(ev, p); got != ev {
			t.Errorf("project(%v) copied an event it does not change", p)
		}
	}
	ev.ProtoReflect().SetUnknown([]byte{0xF8, 0x07, 0x01}) // field 127, varint 1: a field of a newer schema
	got := project(ev, &cdcstreamv1.Projection{Include: []string{"id"}})
	if got.GetNode().GetKeys()["Person"].GetKeys()[0].GetProperties()["id"].GetIntegerValue() != 1 ||
		got.GetNode().GetElementId() != "4:x:1" || got.GetCursor().GetId() != "AAAA" ||
		got.GetMetadata().GetExecutingUser() != "alice" || len(got.GetNode().GetAfter().GetLabels()) != 2 {
		t.Fatalf("projected event lost identity: %v", got)
	}
	if string(got.ProtoReflect().GetUnknown()) != string(ev.ProtoReflect().GetUnknown()) {
		t.Fatal("projected event lost unknown fields")
	}
	// A create has no before state, a delete no after state.
	create := knowsCreate()
	if got := project(create, &cdcstreamv1.Projection{Include: []string{"rid"}}); got.GetRelationship().GetBefore() != nil {
		t.Fatalf("before state appeared: %v", got)
	}
}

// TestProjectForFirstMatch: projectFor applies the projection of the selector the matcher
// reported; indexes without a projection, and -1, leave the event alone.
func TestProjectForFirstMatch(t *testing.T) {
	t.Parallel()
	var sels []*cdcstreamv1.Selector
	for _, s := range []string{"(:Person{name})", "(:Person{-ssn})", "(:Person)", "()-[:KNOWS{-secret}]->()"} {
		ps, err := pattern.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		sels = append(sels, ps...)
	}
	ps := newProjections(sels)
	ev := personUpdate()
	if got := ps.projectFor(ev, 0); len(got.GetNode().GetAfter().GetProperties()) != 1 {
		t.Fatalf("index 0: %v", got)
	}
	if got := ps.projectFor(ev, 1); len(got.GetNode().GetAfter().GetProperties()) != 3 {
		t.Fatalf("index 1: %v", got)
	}
	for _, i := range []int{2, -1, 99} {
		if got := ps.projectFor(ev, i); got != ev {
			t.Fatalf("index %d changed the event", i)
		}
	}
	if got := ps.projectFor(knowsCreate(), 3); len(got.GetRelationship().GetAfter().GetProperties()) != 2 {
		t.Fatalf("index 3: %v", got)
	}
	if newProjections(sels[2:3]) != nil {
		t.Fatal("projections without any projecting selector should be nil")
	}
}

// TestProjectShared: many subscribers project and marshal one shared event at once (run with
// -race); the event stays as it was.
func TestProjectShared(t *testing.T) {
	t.Parallel()
	ev := personUpdate()
	orig := proto.Clone(ev)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &cdcstreamv1.Projection{Include: []string{"name"}}
			if i%2 == 1 {
				p = &cdcstreamv1.Projection{Exclude: []string{"ssn"}}
			}
			for range 50 {
				out := project(ev, p)
				if _, err := proto.Marshal(out); err != nil {
					t.Error(err)
					return
				}
				if _, err := proto.Marshal(ev); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if !proto.Equal(ev, orig) {
		t.Fatal("shared event modified")
	}
}

// BenchmarkProject measures projecting one node update against proto.Clone, the naive copy.
func BenchmarkProject(b *testing.B) {
	ev := personUpdate()
	p := compileProjection(&cdcstreamv1.Projection{Exclude: []string{"ssn"}})
	b.Run("project", func(b *testing.B) {
		for b.Loop() {
			_ = p.apply(ev)
		}
	})
	b.Run("clone", func(b *testing.B) {
		for b.Loop() {
			_ = proto.Clone(ev)
		}
	})
}
