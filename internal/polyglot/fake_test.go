package polyglot

import (
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// attempt is the scripted behaviour of one Subscribe call on the fake server: what it sends,
// then how it ends. A nil attempt blocks until the client cancels.
type attempt func(req *cdcstreamv1.SubscribeRequest, stream grpc.ServerStreamingServer[cdcstreamv1.SubscribeResponse]) error

// fakeService is a scripted ChangeStreamService: the n-th Subscribe call plays attempts[n]
// (the last one repeats), and every request is recorded.
type fakeService struct {
	cdcstreamv1.UnimplementedChangeStreamServiceServer
	attempts []attempt

	// mu guards reqs.
	mu sync.Mutex
	// reqs are the Subscribe requests received, in order.
	reqs []*cdcstreamv1.SubscribeRequest
}

// Subscribe records the request and plays the next scripted attempt.
func (f *fakeService) Subscribe(req *cdcstreamv1.SubscribeRequest, stream grpc.ServerStreamingServer[cdcstreamv1.SubscribeResponse]) error {
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, proto.Clone(req).(*cdcstreamv1.SubscribeRequest))
	f.mu.Unlock()
	play := f.attempts[min(n, len(f.attempts)-1)]
	if play == nil {
		<-stream.Context().Done()
		return stream.Context().Err()
	}
	return play(req, stream)
}

// requests returns the Subscribe requests received so far.
func (f *fakeService) requests() []*cdcstreamv1.SubscribeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*cdcstreamv1.SubscribeRequest(nil), f.reqs...)
}

// serveFake starts f on 127.0.0.1:0 for the duration of the test and returns its address.
func serveFake(t *testing.T, f *fakeService) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	cdcstreamv1.RegisterChangeStreamServiceServer(srv, f)
	done := make(chan struct{}) // closed when Serve returned
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}

// sendAll sends msgs in order.
func sendAll(stream grpc.ServerStreamingServer[cdcstreamv1.SubscribeResponse], msgs ...*cdcstreamv1.SubscribeResponse) error {
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	return nil
}

func changeMsg(ev *cdcstreamv1.ChangeEvent) *cdcstreamv1.SubscribeResponse {
	return &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Change{Change: ev}}
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

// Value constructors.
func intV(i int64) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: i}}
}
func strV(s string) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_StringValue{StringValue: s}}
}
func floatV(f float64) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: f}}
}

// everyValue holds one property per Value kind, with the edge cases that JSON mappings get
// wrong: int64 beyond 2^53 and at both ends, non-finite and negative-zero doubles, bytes that
// need base64's + and /, non-ASCII and escaped strings, a timestamp before 1970 with nanos, a
// 3D point with z = 0 (present) and a 2D point (z absent).
func everyValue() map[string]*cdcstreamv1.Value {
	list := &cdcstreamv1.ListValue{Values: []*cdcstreamv1.Value{intV(1), strV("two"), {Kind: &cdcstreamv1.Value_NullValue{}}}}
	z := 0.0
	return map[string]*cdcstreamv1.Value{
		"null":       {Kind: &cdcstreamv1.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}},
		"bool_false": {Kind: &cdcstreamv1.Value_BooleanValue{BooleanValue: false}},
		"bool_true":  {Kind: &cdcstreamv1.Value_BooleanValue{BooleanValue: true}},
		"int_zero":   intV(0),
		"int_2p53p1": intV(1<<53 + 1),
		"int_max":    intV(math.MaxInt64),
		"int_min":    intV(math.MinInt64),
		"float":      floatV(0.1),
		"float_big":  floatV(1e300),
		"float_nan":  floatV(math.NaN()),
		"float_inf":  floatV(math.Inf(1)),
		"float_ninf": floatV(math.Inf(-1)),
		"float_nzer": floatV(math.Copysign(0, -1)),
		"string":     strV("Grüße, \"quoted\"\n\t\u2028 🚀 <&>"),
		"empty_str":  strV(""),
		"bytes":      {Kind: &cdcstreamv1.Value_BytesValue{BytesValue: []byte{0xfb, 0xff, 0xbf, 0x00, 0x01}}},
		"list":       {Kind: &cdcstreamv1.Value_ListValue{ListValue: list}},
		"map": {Kind: &cdcstreamv1.Value_MapValue{MapValue: &cdcstreamv1.MapValue{Fields: map[string]*cdcstreamv1.Value{
			"nested": {Kind: &cdcstreamv1.Value_ListValue{ListValue: &cdcstreamv1.ListValue{}}}, "n": intV(-7)}}}},
		"date":       {Kind: &cdcstreamv1.Value_DateValue{DateValue: &cdcstreamv1.Date{Year: -44, Month: 3, Day: 15}}},
		"local_time": {Kind: &cdcstreamv1.Value_LocalTimeValue{LocalTimeValue: &cdcstreamv1.LocalTime{Hour: 23, Minute: 59, Second: 59, Nanos: 999999999}}},
		"time": {Kind: &cdcstreamv1.Value_TimeValue{TimeValue: &cdcstreamv1.Time{
			LocalTime: &cdcstreamv1.LocalTime{Hour: 1}, OffsetSeconds: -34200}}},
		"local_date_time": {Kind: &cdcstreamv1.Value_LocalDateTimeValue{LocalDateTimeValue: &cdcstreamv1.LocalDateTime{
			Date: &cdcstreamv1.Date{Year: 2024, Month: 2, Day: 29}, Time: &cdcstreamv1.LocalTime{Hour: 12, Nanos: 1000}}}},
		"dt_offset": {Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
			Instant: &timestamppb.Timestamp{Seconds: -1, Nanos: 500000000}, Zone: &cdcstreamv1.DateTime_OffsetSeconds{OffsetSeconds: 0}}}},
		"dt_zone": {Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
			Instant: &timestamppb.Timestamp{Seconds: 1700000000, Nanos: 123456789}, Zone: &cdcstreamv1.DateTime_ZoneId{ZoneId: "Europe/Stockholm"}}}},
		"duration": {Kind: &cdcstreamv1.Value_DurationValue{DurationValue: &cdcstreamv1.Duration{
			Months: 14, Days: -3, Seconds: math.MaxInt64, Nanos: 1}}},
		"point_3d": {Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: 9157, X: 1.5, Y: -2, Z: &z}}},
		"point_2d": {Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: 4326, X: 12.5, Y: 55.25}}},
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
				TxMetadata:        map[string]*cdcstreamv1.Value{"app": strV("polyglot"), "attempt": intV(int64(i))},
				AdditionalEntries: map[string]*cdcstreamv1.Value{"futureKey": floatV(2.5)},
			},
		}
		switch i % 3 {
		case 0:
			ev.Event = &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
				ElementId: "4:db1:" + itoa(i),
				Operation: cdcstreamv1.Operation_OPERATION_CREATE,
				Labels:    []string{"Person", "Ünïcode"},
				Keys: map[string]*cdcstreamv1.LabelKeys{"Person": {Keys: []*cdcstreamv1.EntityKey{
					{Properties: map[string]*cdcstreamv1.Value{"id": intV(math.MaxInt64 - int64(i))}}}}},
				After: &cdcstreamv1.NodeState{Labels: []string{"Person"}, Properties: everyValue()},
			}}
		case 1:
			ev.Event = &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
				ElementId: "4:db1:" + itoa(i),
				Operation: cdcstreamv1.Operation_OPERATION_UPDATE,
				Before:    &cdcstreamv1.NodeState{Properties: map[string]*cdcstreamv1.Value{"name": strV("old")}},
				After:     &cdcstreamv1.NodeState{},
			}}
		default:
			ev.Event = &cdcstreamv1.ChangeEvent_Relationship{Relationship: &cdcstreamv1.RelationshipEvent{
				ElementId: "5:db1:" + itoa(i),
				Operation: cdcstreamv1.Operation_OPERATION_DELETE,
				Type:      "KNOWS",
				Start:     &cdcstreamv1.NodeRef{ElementId: "4:db1:0", Labels: []string{"Person"}},
				End: &cdcstreamv1.NodeRef{ElementId: "4:db1:1", Keys: map[string]*cdcstreamv1.LabelKeys{
					"Person": {Keys: []*cdcstreamv1.EntityKey{{Properties: map[string]*cdcstreamv1.Value{"id": intV(-1)}}}}}},
				Keys:   []*cdcstreamv1.EntityKey{{Properties: map[string]*cdcstreamv1.Value{"since": intV(1 << 62)}}},
				Before: &cdcstreamv1.RelationshipState{Properties: everyValue()},
			}}
		}
		out[i] = ev
	}
	return out
}
