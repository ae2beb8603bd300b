package neo4jcdc

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

var errTest = errors.New("test error")

// utcMillis is how Neo4j sends txStartTime/txCommitTime: a DateTime in UTC (zone id "UTC"
// or offset 0 depending on the server).
func utcMillis(ms int64) time.Time { return time.UnixMilli(ms).In(time.FixedZone("Offset", 0)) }

// metadataIn is a complete Neo4j 2025 metadata map: the eleven keys of docs/architecture.md
// section 3.
func metadataIn() map[string]any {
	return map[string]any{
		"executingUser": "alice", "authenticatedUser": "neo4j", "captureMode": "FULL",
		"connectionType": "bolt", "connectionClient": "10.0.0.1:5000", "connectionServer": "10.0.0.2:7687",
		"serverId": "7528cb82", "databaseName": "neo4j",
		"txStartTime": utcMillis(1709499116714), "txCommitTime": utcMillis(1709499116769),
		"txMetadata": map[string]any{"app": "cypher-shell", "n": int64(3)},
	}
}

func metadataWant() *cdcstreamv1.Metadata {
	return &cdcstreamv1.Metadata{
		ExecutingUser: "alice", AuthenticatedUser: "neo4j", CaptureMode: cdcstreamv1.CaptureMode_CAPTURE_MODE_FULL,
		ConnectionType: "bolt", ConnectionClient: "10.0.0.1:5000", ConnectionServer: "10.0.0.2:7687",
		ServerId: "7528cb82", DatabaseName: "neo4j",
		TxStartTime:  timestamppb.New(time.UnixMilli(1709499116714)),
		TxCommitTime: timestamppb.New(time.UnixMilli(1709499116769)),
		TxMetadata:   map[string]*cdcstreamv1.Value{"app": testkit.String("cypher-shell"), "n": testkit.Int(3)},
	}
}

func withMeta(f func(map[string]any)) map[string]any { m := metadataIn(); f(m); return m }
func wantMeta(f func(*cdcstreamv1.Metadata)) *cdcstreamv1.Metadata {
	m := metadataWant()
	f(m)
	return m
}

// personNode is a node event map in the 5.15+ shape.
func personNode(op string, keys any, before, after any) map[string]any {
	return map[string]any{
		"elementId": "4:db:0", "eventType": "n", "operation": op, "labels": []any{"Person"},
		"keys":  keys,
		"state": map[string]any{"before": before, "after": after},
	}
}

func nodeStateIn(props map[string]any, labels ...any) map[string]any {
	return map[string]any{"labels": labels, "properties": props}
}

var (
	johnKey     = map[string]any{"first": "John", "last": "Doe"}
	johnKeyWant = &cdcstreamv1.EntityKey{Properties: map[string]*cdcstreamv1.Value{"first": testkit.String("John"), "last": testkit.String("Doe")}}
	idKeyWant   = &cdcstreamv1.EntityKey{Properties: map[string]*cdcstreamv1.Value{"id": testkit.Int(1)}}
)

func TestChangeEvent(t *testing.T) {
	created := nodeStateIn(map[string]any{"first": "John", "last": "Doe", "born": hydDate(0)}, "Person")
	createdWant := &cdcstreamv1.NodeState{Labels: []string{"Person"}, Properties: map[string]*cdcstreamv1.Value{
		"first": testkit.String("John"), "last": testkit.String("Doe"), "born": testkit.Date(1970, 1, 1)}}
	relEvent := func(keys map[string]any) map[string]any {
		m := map[string]any{
			"elementId": "5:db:7", "eventType": "r", "operation": "d", "type": "KNOWS",
			"start": map[string]any{"elementId": "4:db:0", "labels": []any{"Person"}, "keys": map[string]any{"Person": []any{johnKey}}},
			"end":   map[string]any{"elementId": "4:db:1", "labels": []any{}, "keys": map[string]any{}},
			"state": map[string]any{"before": map[string]any{"properties": map[string]any{"since": int64(2012)}}, "after": nil},
		}
		for k, v := range keys {
			m[k] = v
		}
		return m
	}
	relWant := func(keys ...*cdcstreamv1.EntityKey) *cdcstreamv1.ChangeEvent_Relationship {
		return &cdcstreamv1.ChangeEvent_Relationship{Relationship: &cdcstreamv1.RelationshipEvent{
			ElementId: "5:db:7", Operation: cdcstreamv1.Operation_OPERATION_DELETE, Type: "KNOWS",
			Start: &cdcstreamv1.NodeRef{ElementId: "4:db:0", Labels: []string{"Person"},
				Keys: map[string]*cdcstreamv1.LabelKeys{"Person": {Keys: []*cdcstreamv1.EntityKey{johnKeyWant}}}},
			End:    &cdcstreamv1.NodeRef{ElementId: "4:db:1"},
			Keys:   keys,
			Before: &cdcstreamv1.RelationshipState{Properties: map[string]*cdcstreamv1.Value{"since": testkit.Int(2012)}},
		}}
	}
	cases := []struct {
		name     string
		metadata map[string]any
		event    map[string]any
		wantMeta *cdcstreamv1.Metadata
		want     cdcstreamv1.ChangeEvent_Node
		wantRel  *cdcstreamv1.ChangeEvent_Relationship
	}{
		{
			name:     "node create, 5.15+ keys, before null",
			metadata: metadataIn(),
			event:    personNode("c", map[string]any{"Person": []any{johnKey, map[string]any{"id": int64(1)}}}, nil, created),
			wantMeta: metadataWant(),
			want: cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
				ElementId: "4:db:0", Operation: cdcstreamv1.Operation_OPERATION_CREATE, Labels: []string{"Person"},
				Keys:  map[string]*cdcstreamv1.LabelKeys{"Person": {Keys: []*cdcstreamv1.EntityKey{johnKeyWant, idKeyWant}}},
				After: createdWant,
			}},
		},
		{
			name:     "node delete, pre-5.15 keys (single map per label), after null",
			metadata: metadataIn(),
			event:    personNode("d", map[string]any{"Person": johnKey}, created, nil),
			wantMeta: metadataWant(),
			want: cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
				ElementId: "4:db:0", Operation: cdcstreamv1.Operation_OPERATION_DELETE, Labels: []string{"Person"},
				Keys:   map[string]*cdcstreamv1.LabelKeys{"Person": {Keys: []*cdcstreamv1.EntityKey{johnKeyWant}}},
				Before: createdWant,
			}},
		},
		{
			name: "node update DIFF, no keys, empty labels, unknown metadata keys kept",
			metadata: withMeta(func(m map[string]any) {
				m["captureMode"] = "DIFF"
				m["databaseId"] = "741ce592"
				m["futureKey"] = []any{int64(1), hydDate(1)}
				m["connectionClient"] = nil
				delete(m, "txMetadata")
			}),
			event: personNode("u", map[string]any{},
				nodeStateIn(map[string]any{"email": "a@b"}), nodeStateIn(map[string]any{"email": "c@d", "dob": hydDate(10957)}, "Hero")),
			wantMeta: wantMeta(func(m *cdcstreamv1.Metadata) {
				m.CaptureMode = cdcstreamv1.CaptureMode_CAPTURE_MODE_DIFF
				m.ConnectionClient = ""
				m.TxMetadata = nil
				m.AdditionalEntries = map[string]*cdcstreamv1.Value{
					"databaseId": testkit.String("741ce592"), "futureKey": testkit.List(testkit.Int(1), testkit.Date(1970, 1, 2))}
			}),
			want: cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
				ElementId: "4:db:0", Operation: cdcstreamv1.Operation_OPERATION_UPDATE, Labels: []string{"Person"},
				Before: &cdcstreamv1.NodeState{Properties: map[string]*cdcstreamv1.Value{"email": testkit.String("a@b")}},
				After: &cdcstreamv1.NodeState{Labels: []string{"Hero"}, Properties: map[string]*cdcstreamv1.Value{
					"email": testkit.String("c@d"), "dob": testkit.Date(2000, 1, 1)}},
			}},
		},
		{
			name:     "unknown capture mode kept in additional entries",
			metadata: withMeta(func(m map[string]any) { m["captureMode"] = "OFF" }),
			event:    personNode("c", nil, nil, created),
			wantMeta: wantMeta(func(m *cdcstreamv1.Metadata) {
				m.CaptureMode = cdcstreamv1.CaptureMode_CAPTURE_MODE_UNSPECIFIED
				m.AdditionalEntries = map[string]*cdcstreamv1.Value{"captureMode": testkit.String("OFF")}
			}),
			want: cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
				ElementId: "4:db:0", Operation: cdcstreamv1.Operation_OPERATION_CREATE, Labels: []string{"Person"},
				After: createdWant,
			}},
		},
		{
			name:     "minimal metadata: only required keys",
			metadata: map[string]any{"captureMode": "FULL", "serverId": "s1", "connectionType": "bolt", "txStartTime": utcMillis(1), "txCommitTime": utcMillis(2)},
			event:    personNode("c", nil, nil, nodeStateIn(nil)),
			wantMeta: &cdcstreamv1.Metadata{CaptureMode: cdcstreamv1.CaptureMode_CAPTURE_MODE_FULL, ServerId: "s1", ConnectionType: "bolt",
				TxStartTime: timestamppb.New(time.UnixMilli(1)), TxCommitTime: timestamppb.New(time.UnixMilli(2))},
			want: cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
				ElementId: "4:db:0", Operation: cdcstreamv1.Operation_OPERATION_CREATE, Labels: []string{"Person"},
				After: &cdcstreamv1.NodeState{},
			}},
		},
		{
			name:     "relationship delete, 5.15+ keys list",
			metadata: metadataIn(),
			event:    relEvent(map[string]any{"keys": []any{map[string]any{"id": int64(1)}}}),
			wantMeta: metadataWant(),
			wantRel:  relWant(idKeyWant),
		},
		{
			name:     "relationship, pre-5.15 singular key map",
			metadata: metadataIn(),
			event:    relEvent(map[string]any{"key": map[string]any{"id": int64(1)}}),
			wantMeta: metadataWant(),
			wantRel:  relWant(idKeyWant),
		},
		{
			name:     "relationship, empty keys",
			metadata: metadataIn(),
			event:    relEvent(map[string]any{"keys": []any{}}),
			wantMeta: metadataWant(),
			wantRel:  relWant(),
		},
		{
			name:     "relationship, pre-5.15 empty key map",
			metadata: metadataIn(),
			event:    relEvent(map[string]any{"key": map[string]any{}}),
			wantMeta: metadataWant(),
			wantRel:  relWant(),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := changeEvent("neo4j", "AAAB", int64(12), int64(3), tc.metadata, tc.event)
			if err != nil {
				t.Fatalf("changeEvent: %v", err)
			}
			want := &cdcstreamv1.ChangeEvent{
				Cursor: &cdcstreamv1.Cursor{Id: "AAAB", Database: "neo4j"}, TxId: 12, Seq: 3, Metadata: tc.wantMeta,
			}
			if tc.wantRel != nil {
				want.Event = tc.wantRel
			} else {
				want.Event = &tc.want
			}
			if !proto.Equal(got, want) {
				t.Fatalf("changeEvent\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestChangeEventRejectsMalformed(t *testing.T) {
	good := func() map[string]any { return personNode("c", nil, nil, nodeStateIn(nil)) }
	with := func(f func(map[string]any)) map[string]any { e := good(); f(e); return e }
	cases := []struct {
		name                       string
		id, txID, seq, meta, event any
		want                       string
	}{
		{"id not string", int64(1), int64(1), int64(0), metadataIn(), good(), "id"},
		{"empty id", "", int64(1), int64(0), metadataIn(), good(), "id"},
		{"txId float", "A", 1.0, int64(0), metadataIn(), good(), "txId"},
		{"seq nil", "A", int64(1), nil, metadataIn(), good(), "seq"},
		{"metadata nil", "A", int64(1), int64(0), nil, good(), "metadata"},
		{"metadata string field wrong type", "A", int64(1), int64(0), withMeta(func(m map[string]any) { m["serverId"] = int64(1) }), good(), "serverId"},
		{"txStartTime string", "A", int64(1), int64(0), withMeta(func(m map[string]any) { m["txStartTime"] = "2024" }), good(), "txStartTime"},
		{"txMetadata list", "A", int64(1), int64(0), withMeta(func(m map[string]any) { m["txMetadata"] = []any{} }), good(), "txMetadata"},
		{"unknown key unsupported type", "A", int64(1), int64(0), withMeta(func(m map[string]any) { m["x"] = 1 }), good(), "x"},
		{"event nil", "A", int64(1), int64(0), metadataIn(), nil, "event"},
		{"event type", "A", int64(1), int64(0), metadataIn(), with(func(e map[string]any) { e["eventType"] = "x" }), "eventType"},
		{"operation", "A", int64(1), int64(0), metadataIn(), with(func(e map[string]any) { e["operation"] = "x" }), "operation"},
		{"element id", "A", int64(1), int64(0), metadataIn(), with(func(e map[string]any) { delete(e, "elementId") }), "elementId"},
		{"labels not strings", "A", int64(1), int64(0), metadataIn(), with(func(e map[string]any) { e["labels"] = []any{int64(1)} }), "labels"},
		{"keys list", "A", int64(1), int64(0), metadataIn(), with(func(e map[string]any) { e["keys"] = []any{} }), "keys"},
		{"keys label string", "A", int64(1), int64(0), metadataIn(), with(func(e map[string]any) { e["keys"] = map[string]any{"L": "x"} }), "keys"},
		{"keys list of non-maps", "A", int64(1), int64(0), metadataIn(), with(func(e map[string]any) { e["keys"] = map[string]any{"L": []any{"x"}} }), "keys"},
		{"state not map", "A", int64(1), int64(0), metadataIn(), with(func(e map[string]any) { e["state"] = "x" }), "state"},
		{"after not map", "A", int64(1), int64(0), metadataIn(), with(func(e map[string]any) { e["state"] = map[string]any{"after": int64(1)} }), "after"},
		{"property unsupported", "A", int64(1), int64(0), metadataIn(),
			with(func(e map[string]any) {
				e["state"] = map[string]any{"after": nodeStateIn(map[string]any{"p": neo4j.Node{}})}
			}), "properties"},
		{"relationship without start", "A", int64(1), int64(0), metadataIn(), map[string]any{
			"elementId": "5:x", "eventType": "r", "operation": "c", "type": "T", "end": map[string]any{"elementId": "4:y"}}, "start"},
		{"relationship without type", "A", int64(1), int64(0), metadataIn(), map[string]any{
			"elementId": "5:x", "eventType": "r", "operation": "c"}, "type"},
		{"relationship keys map", "A", int64(1), int64(0), metadataIn(), map[string]any{
			"elementId": "5:x", "eventType": "r", "operation": "c", "type": "T",
			"start": map[string]any{"elementId": "4:a"}, "end": map[string]any{"elementId": "4:b"}, "keys": map[string]any{}}, "keys"},
		{"relationship key list", "A", int64(1), int64(0), metadataIn(), map[string]any{
			"elementId": "5:x", "eventType": "r", "operation": "c", "type": "T",
			"start": map[string]any{"elementId": "4:a"}, "end": map[string]any{"elementId": "4:b"}, "key": []any{}}, "key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := changeEvent("neo4j", tc.id, tc.txID, tc.seq, tc.meta, tc.event)
			if err == nil {
				t.Fatalf("changeEvent = %v, want error", got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestChangeFromRecord(t *testing.T) {
	rec := &neo4j.Record{
		Keys:   []string{"id", "txId", "seq", "metadata", "event"},
		Values: []any{"AAAC", int64(5), int64(0), metadataIn(), personNode("c", nil, nil, nodeStateIn(nil))},
	}
	got, err := changeFromRecord("db1", rec)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetCursor().GetId() != "AAAC" || got.GetCursor().GetDatabase() != "db1" || got.GetTxId() != 5 || got.GetNode() == nil {
		t.Fatalf("changeFromRecord = %v", got)
	}
	rec.Keys = []string{"id", "txId", "seq", "metadata"}
	rec.Values = rec.Values[:4]
	if _, err := changeFromRecord("db1", rec); err == nil || !strings.Contains(err.Error(), "event") {
		t.Fatalf("record without event: err = %v, want a missing column error", err)
	}
}

// BenchmarkChangeEvent measures the conversion alone (no driver, no network) of a node create
// with nine properties of mixed types and full metadata, like BenchmarkPoll's records.
func BenchmarkChangeEvent(b *testing.B) {
	props := map[string]any{
		"id": int64(1), "name": "item-1", "price": 9.99, "active": true, "tags": []any{"a", "b", "c"},
		"created": time.Unix(1704067200, 0).In(time.FixedZone("Offset", 3600)), "day": hydDate(19723),
		"loc": neo4j.Point2D{SpatialRefId: 4326, X: 1, Y: 2}, "ttl": neo4j.Duration{Days: 1},
	}
	event := personNode("c", map[string]any{}, nil, nodeStateIn(props, "Item", "Bench"))
	meta := metadataIn()
	for b.Loop() {
		if _, err := changeEvent("neo4j", "AAAB", int64(1), int64(0), meta, event); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
}

// FuzzChangeEvent feeds arbitrary JSON-shaped metadata and event maps (numbers that are whole
// become int64, as the driver gives integers) to the converter: it never panics, and an
// accepted record always has a node or relationship event and keeps its cursor.
func FuzzChangeEvent(f *testing.F) {
	f.Add(`{"captureMode":"FULL","txMetadata":{"a":1}}`,
		`{"elementId":"4:x:0","eventType":"n","operation":"c","labels":["L"],"keys":{"L":[{"id":1}]},"state":{"before":null,"after":{"labels":["L"],"properties":{"id":1}}}}`)
	f.Add(`{"x":[1,"a",null]}`,
		`{"elementId":"5:x:0","eventType":"r","operation":"d","type":"T","start":{"elementId":"4:x:0","keys":{"L":{"id":1}}},"end":{"elementId":"4:x:1"},"key":{"k":2.5},"state":{"before":{"properties":{}}}}`)
	f.Add(`{}`, `{"eventType":"n"}`)
	f.Add(`{"captureMode":1}`, `[]`)
	f.Fuzz(func(t *testing.T, metadata, event string) {
		var md, ev any
		if json.Unmarshal([]byte(metadata), &md) != nil || json.Unmarshal([]byte(event), &ev) != nil {
			return
		}
		ce, err := changeEvent("db", "ID", int64(1), int64(0), intsOf(md), intsOf(ev))
		if err != nil {
			return
		}
		if ce.GetNode() == nil && ce.GetRelationship() == nil {
			t.Fatalf("accepted %s / %s without an event: %v", metadata, event, ce)
		}
		if ce.GetCursor().GetId() != "ID" || ce.GetMetadata() == nil {
			t.Fatalf("accepted record lost cursor or metadata: %v", ce)
		}
	})
}

// intsOf turns whole float64 numbers from encoding/json into int64, recursively.
func intsOf(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
		return x
	case []any:
		for i := range x {
			x[i] = intsOf(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = intsOf(x[k])
		}
		return x
	default:
		return v
	}
}
