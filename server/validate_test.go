package server

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func nodeSel(n *cdcstreamv1.NodeSelector) *cdcstreamv1.Selector {
	return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: n}}
}

func keySel(v *cdcstreamv1.Value) *cdcstreamv1.Selector {
	return nodeSel(&cdcstreamv1.NodeSelector{Key: map[string]*cdcstreamv1.Value{"k": v}})
}

func fromCursor(id, db string) *cdcstreamv1.SubscribeRequest_FromCursor {
	return &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: id, Database: db}}
}

func TestValidateSubscribe(t *testing.T) {
	t.Parallel()
	z := 1.5
	tests := []struct {
		name   string
		req    *cdcstreamv1.SubscribeRequest
		reason string // "" means valid
		field  string
	}{
		{"empty request", &cdcstreamv1.SubscribeRequest{}, "", ""},
		{"all kinds", &cdcstreamv1.SubscribeRequest{Database: "Orders", Selectors: []*cdcstreamv1.Selector{
			{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{Operation: cdcstreamv1.Operation_OPERATION_CREATE,
				TxMetadata: map[string]*cdcstreamv1.Value{"app": testkit.String("x"), "m": {Kind: &cdcstreamv1.Value_MapValue{MapValue: &cdcstreamv1.MapValue{
					Fields: map[string]*cdcstreamv1.Value{"a": testkit.String("b")}}}}}}}},
			nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Person"}, ChangesTo: []string{"name"}, Key: map[string]*cdcstreamv1.Value{
				"id": {Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: 7}},
				"d":  {Kind: &cdcstreamv1.Value_DateValue{DateValue: &cdcstreamv1.Date{Year: 2024, Month: 2, Day: 29}}},
				"p":  {Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: 4979, X: 1, Y: 2, Z: &z}}},
			}}),
			{Kind: &cdcstreamv1.Selector_Relationship{Relationship: &cdcstreamv1.RelationshipSelector{Type: "KNOWS",
				Start: &cdcstreamv1.NodeMatcher{Labels: []string{"Person"}}, End: &cdcstreamv1.NodeMatcher{ElementId: "4:x:1"}}}},
		}}, "", ""},
		{"bad database", &cdcstreamv1.SubscribeRequest{Database: "1db"}, cdcstreamv1.ErrorReason_INVALID_REQUEST.String(), "database"},
		{"short database", &cdcstreamv1.SubscribeRequest{Database: "ab"}, cdcstreamv1.ErrorReason_INVALID_REQUEST.String(), "database"},
		{"database with space", &cdcstreamv1.SubscribeRequest{Database: "my db"}, cdcstreamv1.ErrorReason_INVALID_REQUEST.String(), "database"},
		{"database ends with dash", &cdcstreamv1.SubscribeRequest{Database: "abc-"}, cdcstreamv1.ErrorReason_INVALID_REQUEST.String(), "database"},
		{"unknown position", &cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_Position{Position: 9}}, cdcstreamv1.ErrorReason_INVALID_REQUEST.String(), "position"},
		{"nil cursor", &cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_FromCursor{}}, cdcstreamv1.ErrorReason_INVALID_CURSOR.String(), "from_cursor"},
		{"empty cursor id", &cdcstreamv1.SubscribeRequest{Start: fromCursor("", "")}, cdcstreamv1.ErrorReason_INVALID_CURSOR.String(), "from_cursor.id"},
		{"cursor id not base64url", &cdcstreamv1.SubscribeRequest{Start: fromCursor("ab/c+", "")}, cdcstreamv1.ErrorReason_INVALID_CURSOR.String(), "from_cursor.id"},
		{"cursor id too long", &cdcstreamv1.SubscribeRequest{Start: fromCursor(strings.Repeat("A", 2000), "")}, cdcstreamv1.ErrorReason_INVALID_CURSOR.String(), "from_cursor.id"},
		{"cursor of other database", &cdcstreamv1.SubscribeRequest{Database: "neo4j", Start: fromCursor("AAAA", "orders")}, cdcstreamv1.ErrorReason_INVALID_CURSOR.String(), "from_cursor.database"},
		{"cursor database case-insensitive", &cdcstreamv1.SubscribeRequest{Database: "Neo4j", Start: fromCursor("AAAA", "neo4j")}, "", ""},
		{"cursor database malformed", &cdcstreamv1.SubscribeRequest{Start: fromCursor("AAAA", "x")}, cdcstreamv1.ErrorReason_INVALID_CURSOR.String(), "from_cursor.database"},
		{"checkpoint too short", &cdcstreamv1.SubscribeRequest{CheckpointInterval: durationpb.New(999 * time.Millisecond)}, cdcstreamv1.ErrorReason_INVALID_REQUEST.String(), "checkpoint_interval"},
		{"checkpoint too long", &cdcstreamv1.SubscribeRequest{CheckpointInterval: durationpb.New(5*time.Minute + 1)}, cdcstreamv1.ErrorReason_INVALID_REQUEST.String(), "checkpoint_interval"},
		{"checkpoint malformed", &cdcstreamv1.SubscribeRequest{CheckpointInterval: &durationpb.Duration{Seconds: 2, Nanos: -1}}, cdcstreamv1.ErrorReason_INVALID_REQUEST.String(), "checkpoint_interval"},
		{"selector without kind", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{nodeSel(nil), {}}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), "selectors[1]"},
		{"unknown operation", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{nodeSel(&cdcstreamv1.NodeSelector{Operation: 7})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), "selectors[0].node.operation"},
		{"empty label", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{nodeSel(nil), nodeSel(nil),
			nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{""}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), "selectors[2].node.labels[0]"},
		{"empty changes_to", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{{Kind: &cdcstreamv1.Selector_Entity{
			Entity: &cdcstreamv1.EntitySelector{ChangesTo: []string{"a", ""}}}}}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), "selectors[0].entity.changes_to[1]"},
		{"empty start label", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{{Kind: &cdcstreamv1.Selector_Relationship{
			Relationship: &cdcstreamv1.RelationshipSelector{Start: &cdcstreamv1.NodeMatcher{Labels: []string{""}}}}}}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), "selectors[0].relationship.start.labels[0]"},
		{"empty key name", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{nodeSel(&cdcstreamv1.NodeSelector{
			Key: map[string]*cdcstreamv1.Value{"": testkit.String("x")}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key[""]`},
		{"value without kind", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"]`},
		{"null key", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_NullValue{}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"]`},
		{"NaN key", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: math.NaN()}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"]`},
		{"map property", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_MapValue{MapValue: &cdcstreamv1.MapValue{}}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"]`},
		{"Feb 30", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateValue{
			DateValue: &cdcstreamv1.Date{Year: 2023, Month: 2, Day: 29}}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"].date_value.day`},
		{"month 13", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateValue{
			DateValue: &cdcstreamv1.Date{Year: 2023, Month: 13, Day: 1}}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"].date_value.month`},
		{"nanos out of range", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_LocalTimeValue{
			LocalTimeValue: &cdcstreamv1.LocalTime{Nanos: 1_000_000_000}}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"].local_time_value.nanos`},
		{"time without local time", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_TimeValue{
			TimeValue: &cdcstreamv1.Time{OffsetSeconds: 3600}}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"].time_value.local_time`},
		{"offset too big", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_TimeValue{
			TimeValue: &cdcstreamv1.Time{LocalTime: &cdcstreamv1.LocalTime{}, OffsetSeconds: 19 * 3600}}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"].time_value.offset_seconds`},
		{"datetime without zone", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{
			DateTimeValue: &cdcstreamv1.DateTime{Instant: timestamppb.Now()}}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"].date_time_value`},
		{"datetime bad nanos", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{
			DateTimeValue: &cdcstreamv1.DateTime{Instant: &timestamppb.Timestamp{Nanos: -1}, Zone: &cdcstreamv1.DateTime_ZoneId{ZoneId: "Europe/Stockholm"}}}})}},
			cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"].date_time_value.instant.nanos`},
		{"duration nanos", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DurationValue{
			DurationValue: &cdcstreamv1.Duration{Nanos: -5}}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"].duration_value.nanos`},
		{"2D point with z", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{
			PointValue: &cdcstreamv1.Point{Srid: 7203, Z: &z}}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"].point_value.z`},
		{"unknown srid", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{
			PointValue: &cdcstreamv1.Point{Srid: 1}}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"].point_value.srid`},
		{"latitude", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{
			PointValue: &cdcstreamv1.Point{Srid: 4326, Y: 91}}})}}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"].point_value.y`},
		{"null in list", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_ListValue{
			ListValue: &cdcstreamv1.ListValue{Values: []*cdcstreamv1.Value{testkit.String("a"), {Kind: &cdcstreamv1.Value_NullValue{}}}}}})}},
			cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.key["k"].list_value.values[1]`},
		{"null in tx metadata map", &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{nodeSel(&cdcstreamv1.NodeSelector{
			TxMetadata: map[string]*cdcstreamv1.Value{"m": {Kind: &cdcstreamv1.Value_MapValue{MapValue: &cdcstreamv1.MapValue{
				Fields: map[string]*cdcstreamv1.Value{"x": {}}}}}}})}},
			cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), `selectors[0].node.tx_metadata["m"].map_value.fields["x"]`},
		{"too many selectors", &cdcstreamv1.SubscribeRequest{Selectors: make([]*cdcstreamv1.Selector, DefaultMaxSelectors+1)}, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), "selectors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := defaultOptions()
			_, err := validateSubscribe(tc.req, &o)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want *requestError", err)
			}
			if re.reason.String() != tc.reason || re.violations[0].GetField() != tc.field {
				t.Fatalf("got reason %s field %q (%s), want %s %q", re.reason, re.violations[0].GetField(),
					re.violations[0].GetDescription(), tc.reason, tc.field)
			}
		})
	}
}

func TestValidateSubscribeDefaults(t *testing.T) {
	t.Parallel()
	o := defaultOptions()
	p, err := validateSubscribe(&cdcstreamv1.SubscribeRequest{Start: fromCursor("AAAA", "Orders")}, &o)
	if err != nil {
		t.Fatal(err)
	}
	if p.database != "orders" || p.start != startCursor || p.cursor != "AAAA" || p.checkpointInterval != DefaultCheckpointInterval {
		t.Fatalf("params = %+v", p)
	}
	p, err = validateSubscribe(&cdcstreamv1.SubscribeRequest{
		Start:              &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST},
		CheckpointInterval: durationpb.New(time.Minute)}, &o)
	if err != nil {
		t.Fatal(err)
	}
	if p.database != DefaultDatabase || p.start != startEarliest || p.checkpointInterval != time.Minute {
		t.Fatalf("params = %+v", p)
	}
}

func TestValidateCollectsViolations(t *testing.T) {
	t.Parallel()
	o := defaultOptions()
	sels := make([]*cdcstreamv1.Selector, 50)
	for i := range sels {
		sels[i] = &cdcstreamv1.Selector{}
	}
	_, err := validateSubscribe(&cdcstreamv1.SubscribeRequest{Database: "!", Selectors: sels}, &o)
	var re *requestError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v", err)
	}
	if len(re.violations) != maxViolations || re.reason != cdcstreamv1.ErrorReason_INVALID_REQUEST || re.violations[1].GetField() != "selectors[0]" {
		t.Fatalf("reason %s, %d violations, second %v", re.reason, len(re.violations), re.violations[1])
	}
}

func TestValidateGetCursor(t *testing.T) {
	t.Parallel()
	o := defaultOptions()
	db, earliest, err := validateGetCursor(&cdcstreamv1.GetCursorRequest{Database: "Sales",
		Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}, &o)
	if err != nil || db != "sales" || !earliest {
		t.Fatalf("got %q %v %v", db, earliest, err)
	}
	for _, req := range []*cdcstreamv1.GetCursorRequest{{Database: "-x-"}, {Position: 42}} {
		if _, _, err := validateGetCursor(req, &o); err == nil {
			t.Fatalf("validateGetCursor(%v) accepted", req)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	bad := []Option{WithDefaultDatabase("x"), WithPollInterval(0), WithBatchLimit(0), WithBatchLimit(100001),
		WithDefaultCheckpointInterval(time.Hour), WithMaxSubscriptions(0), WithMaxSelectors(0)}
	for i, opt := range bad {
		o := defaultOptions()
		opt(&o)
		if err := o.validate(); err == nil {
			t.Errorf("bad option %d accepted", i)
		}
	}
	o := defaultOptions()
	WithDefaultDatabase("Graph")(&o)
	WithLogger(nil)(&o)
	WithClock(nil)(&o)
	if err := o.validate(); err != nil || o.defaultDatabase != "graph" || o.logger == nil || o.clock == nil {
		t.Fatalf("validate = %v, options %+v", err, o)
	}
}

// FuzzValidateSubscribeRequest feeds arbitrary wire bytes through the validator: it must never
// panic, every rejection must name a reason and a field, and accepted requests must satisfy
// the invariants the poller relies on.
func FuzzValidateSubscribeRequest(f *testing.F) {
	z := 2.0
	seeds := []*cdcstreamv1.SubscribeRequest{
		{},
		{Database: "neo4j", Start: fromCursor("AAAA", "neo4j"), CheckpointInterval: durationpb.New(time.Second)},
		{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: 9157, Z: &z}}})}},
		{Selectors: []*cdcstreamv1.Selector{nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"", "A"}})}},
		{Selectors: []*cdcstreamv1.Selector{keySel(&cdcstreamv1.Value{Kind: &cdcstreamv1.Value_ListValue{ListValue: &cdcstreamv1.ListValue{
			Values: []*cdcstreamv1.Value{{Kind: &cdcstreamv1.Value_DateValue{DateValue: &cdcstreamv1.Date{Year: 2000, Month: 2, Day: 30}}}}}}})}},
	}
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req := &cdcstreamv1.SubscribeRequest{}
		if err := proto.Unmarshal(b, req); err != nil {
			return
		}
		o := defaultOptions()
		p, err := validateSubscribe(req, &o)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) || re.reason == cdcstreamv1.ErrorReason_ERROR_REASON_UNSPECIFIED || len(re.violations) == 0 || re.violations[0].GetField() == "" {
				t.Fatalf("malformed rejection %v", err)
			}
			if Status(err).Code() != codes.InvalidArgument {
				t.Fatalf("rejection maps to %v", Status(err).Code())
			}
			return
		}
		if _, ok := normaliseDatabase(p.database); !ok {
			t.Fatalf("accepted database %q", p.database)
		}
		if p.start == startCursor && !validCursorID(p.cursor) {
			t.Fatalf("accepted cursor %q", p.cursor)
		}
		if p.checkpointInterval < MinCheckpointInterval || p.checkpointInterval > MaxCheckpointInterval {
			t.Fatalf("accepted interval %v", p.checkpointInterval)
		}
		for _, s := range p.selectors {
			if s.GetKind() == nil {
				t.Fatal("accepted selector without kind")
			}
		}
	})
}
