package neo4jcdc

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
)

func TestSelectorsParam(t *testing.T) {
	stockholm, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   *cdcstreamv1.Selector
		want map[string]any
	}{
		{
			name: "entity, empty",
			in:   &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{}}},
			want: map[string]any{"select": "e"},
		},
		{
			name: "entity, every field",
			in: &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{
				Operation: cdcstreamv1.Operation_OPERATION_CREATE, ChangesTo: []string{"a", "b"},
				ExecutingUser: "alice", AuthenticatedUser: "neo4j",
				TxMetadata: map[string]*cdcstreamv1.Value{"app": testkit.String("x"), "n": testkit.Int(1)},
			}}},
			want: map[string]any{"select": "e", "operation": "c", "changesTo": []any{"a", "b"},
				"executingUser": "alice", "authenticatedUser": "neo4j",
				"txMetadata": map[string]any{"app": "x", "n": int64(1)}},
		},
		{
			name: "node, every field",
			in: &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{
				Operation: cdcstreamv1.Operation_OPERATION_UPDATE, ChangesTo: []string{"name"},
				ExecutingUser: "u", AuthenticatedUser: "v", TxMetadata: map[string]*cdcstreamv1.Value{"k": testkit.Bool(true)},
				ElementId: "4:db:1", Labels: []string{"Person", "Hero"},
				Key: map[string]*cdcstreamv1.Value{"id": testkit.Int(7), "born": testkit.Date(2000, 1, 2),
					"at": vDateTimeZone(1719835200, 0, "Europe/Stockholm")},
			}}},
			want: map[string]any{"select": "n", "operation": "u", "changesTo": []any{"name"},
				"executingUser": "u", "authenticatedUser": "v", "txMetadata": map[string]any{"k": true},
				"elementId": "4:db:1", "labels": []any{"Person", "Hero"},
				"key": map[string]any{"id": int64(7), "born": neo4j.Date(time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC)),
					"at": time.Unix(1719835200, 0).In(stockholm)}},
		},
		{
			name: "relationship, every field, start and end",
			in: &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: &cdcstreamv1.RelationshipSelector{
				Operation: cdcstreamv1.Operation_OPERATION_DELETE, ChangesTo: []string{"since"},
				ExecutingUser: "u", AuthenticatedUser: "v", TxMetadata: map[string]*cdcstreamv1.Value{"k": testkit.Null()},
				ElementId: "5:db:1", Type: "KNOWS",
				Start: &cdcstreamv1.NodeMatcher{ElementId: "4:db:1", Labels: []string{"Person"}, Key: map[string]*cdcstreamv1.Value{"id": testkit.Int(1)}},
				End:   &cdcstreamv1.NodeMatcher{Labels: []string{"Company"}},
				Key:   map[string]*cdcstreamv1.Value{"rid": testkit.String("r")},
			}}},
			want: map[string]any{"select": "r", "operation": "d", "changesTo": []any{"since"},
				"executingUser": "u", "authenticatedUser": "v", "txMetadata": map[string]any{"k": nil},
				"elementId": "5:db:1", "type": "KNOWS", "key": map[string]any{"rid": "r"},
				"start": map[string]any{"select": "n", "elementId": "4:db:1", "labels": []any{"Person"}, "key": map[string]any{"id": int64(1)}},
				"end":   map[string]any{"select": "n", "labels": []any{"Company"}}},
		},
		{
			name: "relationship, empty start matcher",
			in: &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: &cdcstreamv1.RelationshipSelector{
				Start: &cdcstreamv1.NodeMatcher{}}}},
			want: map[string]any{"select": "r", "start": map[string]any{"select": "n"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := selectorsParam([]*cdcstreamv1.Selector{tc.in})
			if err != nil {
				t.Fatalf("selectorsParam: %v", err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], tc.want) {
				t.Fatalf("selectorsParam\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestSelectorsParamEmpty(t *testing.T) {
	got, err := selectorsParam(nil)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("selectorsParam(nil) = %#v, %v; want an empty non-nil list", got, err)
	}
}

func TestSelectorsParamRejects(t *testing.T) {
	cases := []struct {
		name string
		in   *cdcstreamv1.Selector
	}{
		{"nil selector", nil},
		{"no kind", &cdcstreamv1.Selector{}},
		{"unknown operation", &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{Operation: 9}}}},
		{"bad tx metadata value", &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{
			TxMetadata: map[string]*cdcstreamv1.Value{"k": {}}}}}},
		{"bad node key date", &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{
			Key: map[string]*cdcstreamv1.Value{"d": testkit.Date(2021, 2, 30)}}}}},
		{"bad end key zone", &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: &cdcstreamv1.RelationshipSelector{
			End: &cdcstreamv1.NodeMatcher{Key: map[string]*cdcstreamv1.Value{"t": vDateTimeZone(0, 0, "No/Such_Zone")}}}}}},
		{"bad relationship key", &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: &cdcstreamv1.RelationshipSelector{
			Key: map[string]*cdcstreamv1.Value{"k": nil}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok := &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{}}}
			got, err := selectorsParam([]*cdcstreamv1.Selector{ok, tc.in})
			if !errors.Is(err, server.ErrInvalidSelector) {
				t.Fatalf("selectorsParam = %#v, %v; want ErrInvalidSelector", got, err)
			}
		})
	}
}

// FuzzSelectorsParam feeds arbitrary wire bytes decoded as a Selector: conversion never
// panics, and every value of an accepted selector's node key converts back to itself.
func FuzzSelectorsParam(f *testing.F) {
	seeds := []*cdcstreamv1.Selector{
		{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{Operation: 1, ChangesTo: []string{"a"}}}},
		{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: []string{"L"},
			Key: map[string]*cdcstreamv1.Value{"d": testkit.Date(2020, 2, 29), "t": testkit.Time(1, 2, 3, 4, 3600),
				"z": vDateTimeZone(5, 6, "Asia/Tokyo"), "p": vPoint(9157, 1, 2, 3), "l": testkit.List(testkit.Duration(1, 2, 3, 4))}}}},
		{Kind: &cdcstreamv1.Selector_Relationship{Relationship: &cdcstreamv1.RelationshipSelector{Type: "T",
			Start: &cdcstreamv1.NodeMatcher{Key: map[string]*cdcstreamv1.Value{"ldt": testkit.LocalDateTime(1, 2, 3, 4, 5, 6, 7)}}}}},
	}
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x12, 0x02, 0x42, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s cdcstreamv1.Selector
		// Unknown fields are dropped: they would make the round trip comparison unequal
		// without meaning anything to the conversion.
		if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &s); err != nil {
			return
		}
		got, err := selectorsParam([]*cdcstreamv1.Selector{&s})
		if err != nil {
			if !errors.Is(err, server.ErrInvalidSelector) {
				t.Fatalf("error %v does not wrap ErrInvalidSelector", err)
			}
			return
		}
		if len(got) != 1 {
			t.Fatalf("got %d selector maps, want 1", len(got))
		}
		for k, v := range s.GetNode().GetKey() {
			back, err := toValue(got[0].(map[string]any)["key"].(map[string]any)[k])
			if err != nil {
				t.Fatalf("key %q: toValue: %v", k, err)
			}
			if !proto.Equal(back, v) {
				t.Fatalf("key %q: round trip %v -> %v", k, v, back)
			}
		}
	})
}
