package polyglot

import (
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// fakeService is a scripted ChangeStreamService: the n-th Subscribe call plays the n-th script
// (the last one repeats), and every request is recorded.
type fakeService struct {
	*testkit.Scripts
}

// newFake returns a fakeService playing scripts.
func newFake(scripts ...testkit.Script) *fakeService {
	return &fakeService{testkit.NewScripts(scripts...).RepeatLast()}
}

// requests returns the Subscribe requests received so far.
func (f *fakeService) requests() []*cdcstreamv1.SubscribeRequest { return f.Requests() }

// serveFake starts f on 127.0.0.1:0 for the duration of the test and returns its address.
func serveFake(t *testing.T, f *fakeService) string {
	t.Helper()
	_, addr := (&testkit.Stub{SubscribeF: f.Subscribe}).Start(t)
	return addr
}

func checkpointMsg(id string, at time.Time) *cdcstreamv1.SubscribeResponse {
	return &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Checkpoint{Checkpoint: &cdcstreamv1.Checkpoint{
		Cursor:     &cdcstreamv1.Cursor{Id: id, Database: "db1"},
		ServerTime: timestamppb.New(at),
	}}}
}

// unknownKindMsg is a SubscribeResponse of a kind a later version might add (field 15 of the
// message oneof): clients must skip it.
func unknownKindMsg() *cdcstreamv1.SubscribeResponse {
	m := &cdcstreamv1.SubscribeResponse{}
	var raw []byte
	raw = protowire.AppendTag(raw, 15, protowire.BytesType)
	raw = protowire.AppendBytes(raw, []byte{0x0a, 0x03, 'n', 'e', 'w'})
	m.ProtoReflect().SetUnknown(raw)
	return m
}

// everyValue holds one property per Value kind, with the edge cases that JSON mappings get
// wrong: int64 beyond 2^53 and at both ends, non-finite and negative-zero doubles, bytes that
// need base64's + and /, non-ASCII and escaped strings, a timestamp before 1970 with nanos, a
// 3D point with z = 0 (present) and a 2D point (z absent).
func everyValue() map[string]*cdcstreamv1.Value {
	list := testkit.List(testkit.Int(1), testkit.String("two"), testkit.Null())
	return map[string]*cdcstreamv1.Value{
		"null":            testkit.Null(),
		"bool_false":      testkit.Bool(false),
		"bool_true":       testkit.Bool(true),
		"int_zero":        testkit.Int(0),
		"int_2p53p1":      testkit.Int(1<<53 + 1),
		"int_max":         testkit.Int(math.MaxInt64),
		"int_min":         testkit.Int(math.MinInt64),
		"float":           testkit.Float(0.1),
		"float_big":       testkit.Float(1e300),
		"float_nan":       testkit.Float(math.NaN()),
		"float_inf":       testkit.Float(math.Inf(1)),
		"float_ninf":      testkit.Float(math.Inf(-1)),
		"float_nzer":      testkit.Float(math.Copysign(0, -1)),
		"string":          testkit.String("Grüße, \"quoted\"\n\t\u2028 🚀 <&>"),
		"empty_str":       testkit.String(""),
		"bytes":           testkit.Bytes([]byte{0xfb, 0xff, 0xbf, 0x00, 0x01}),
		"list":            list,
		"map":             testkit.Map(map[string]*cdcstreamv1.Value{"nested": testkit.List(), "n": testkit.Int(-7)}),
		"date":            testkit.Date(-44, 3, 15),
		"local_time":      testkit.LocalTime(23, 59, 59, 999999999),
		"time":            testkit.Time(1, 0, 0, 0, -34200),
		"local_date_time": testkit.LocalDateTime(2024, 2, 29, 12, 0, 0, 1000),
		"dt_offset":       testkit.DateTimeOffset(&timestamppb.Timestamp{Seconds: -1, Nanos: 500000000}, 0),
		"dt_zone":         testkit.DateTimeZone(&timestamppb.Timestamp{Seconds: 1700000000, Nanos: 123456789}, "Europe/Stockholm"),
		"duration":        testkit.Duration(14, -3, math.MaxInt64, 1),
		"point_3d":        testkit.Point3D(9157, 1.5, -2, 0),
		"point_2d":        testkit.Point2D(4326, 12.5, 55.25),
	}
}

// scriptedEvents returns n distinct change events covering every message of change.proto:
// node and relationship events, every operation, keys, DIFF and FULL metadata, every Value kind.
func scriptedEvents(n int) []*cdcstreamv1.ChangeEvent {
	start := &timestamppb.Timestamp{Seconds: 1700000000, Nanos: 1000000}
	commit := &timestamppb.Timestamp{Seconds: 1700000001}
	out := make([]*cdcstreamv1.ChangeEvent, n)
	for i := range out {
		ev := &cdcstreamv1.ChangeEvent{
			Cursor: &cdcstreamv1.Cursor{Id: "A" + itoa(i) + "-_cursor==", Database: "db1"},
			TxId:   1<<53 + 1 + int64(i/2),
			Seq:    int64(i % 2),
			Metadata: &cdcstreamv1.Metadata{
				ExecutingUser:     "alice",
				AuthenticatedUser: "neo4j",
				CaptureMode:       cdcstreamv1.CaptureMode(1 + i%2),
				ConnectionType:    "bolt",
				ConnectionClient:  "127.0.0.1:51000",
				ServerId:          "server-1",
				DatabaseName:      "db1",
				TxStartTime:       start,
				TxCommitTime:      commit,
				TxMetadata:        map[string]*cdcstreamv1.Value{"app": testkit.String("polyglot"), "attempt": testkit.Int(int64(i))},
				AdditionalEntries: map[string]*cdcstreamv1.Value{"futureKey": testkit.Float(2.5)},
			},
		}
		switch i % 3 {
		case 0:
			ev.Event = &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
				ElementId: "4:db1:" + itoa(i),
				Operation: cdcstreamv1.Operation_OPERATION_CREATE,
				Labels:    []string{"Person", "Ünïcode"},
				Keys: map[string]*cdcstreamv1.LabelKeys{"Person": {Keys: []*cdcstreamv1.EntityKey{
					{Properties: map[string]*cdcstreamv1.Value{"id": testkit.Int(math.MaxInt64 - int64(i))}}}}},
				After: &cdcstreamv1.NodeState{Labels: []string{"Person"}, Properties: everyValue()},
			}}
		case 1:
			ev.Event = &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
				ElementId: "4:db1:" + itoa(i),
				Operation: cdcstreamv1.Operation_OPERATION_UPDATE,
				Before:    &cdcstreamv1.NodeState{Properties: map[string]*cdcstreamv1.Value{"name": testkit.String("old")}},
				After:     &cdcstreamv1.NodeState{},
			}}
		default:
			ev.Event = &cdcstreamv1.ChangeEvent_Relationship{Relationship: &cdcstreamv1.RelationshipEvent{
				ElementId: "5:db1:" + itoa(i),
				Operation: cdcstreamv1.Operation_OPERATION_DELETE,
				Type:      "KNOWS",
				Start:     &cdcstreamv1.NodeRef{ElementId: "4:db1:0", Labels: []string{"Person"}},
				End: &cdcstreamv1.NodeRef{ElementId: "4:db1:1", Keys: map[string]*cdcstreamv1.LabelKeys{
					"Person": {Keys: []*cdcstreamv1.EntityKey{{Properties: map[string]*cdcstreamv1.Value{"id": testkit.Int(-1)}}}}}},
				Keys:   []*cdcstreamv1.EntityKey{{Properties: map[string]*cdcstreamv1.Value{"since": testkit.Int(1 << 62)}}},
				Before: &cdcstreamv1.RelationshipState{Properties: everyValue()},
			}}
		}
		out[i] = ev
	}
	return out
}
