package testkit_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestStubScriptsPlayInOrderThenRepeat serves a scripted Stub over loopback and reads it back
// through a real client: each call plays the next script, RepeatLast repeats the last one, and
// every request is recorded.
func TestStubScriptsPlayInOrderThenRepeat(t *testing.T) {
	wantErr := testkit.StatusError(t, codes.Unavailable, "scripted", testkit.ErrorInfo(cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN, nil))
	sc := testkit.NewScripts(
		testkit.SendThen(nil, testkit.Change(1, 0), testkit.Checkpoint("cp")),
		testkit.SendThen(wantErr, testkit.Change(2, 3)),
	).RepeatLast()
	stub := &testkit.Stub{SubscribeF: sc.Subscribe}
	conn, addr := stub.Start(t)
	if addr == "" {
		t.Fatal("no address")
	}
	cli := cdcstreamv1.NewChangeStreamServiceClient(conn)
	var ids []string
	var codesSeen []codes.Code
	for i := range 3 {
		st, err := cli.Subscribe(ctx(t), &cdcstreamv1.SubscribeRequest{Database: "db" + string(rune('a'+i))})
		if err != nil {
			t.Fatal(err)
		}
		for {
			m, err := st.Recv()
			if errors.Is(err, io.EOF) {
				codesSeen = append(codesSeen, codes.OK)
				break
			}
			if err != nil {
				d := testkit.StatusDetails(t, err)
				if d.Reason != cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN {
					t.Fatalf("reason %v (%q)", d.Reason, d.RawReason)
				}
				codesSeen = append(codesSeen, d.Code)
				break
			}
			ids = append(ids, m.GetChange().GetCursor().GetId()+m.GetCheckpoint().GetCursor().GetId())
		}
	}
	if want := []string{"c-1-0", "cp", "c-2-3", "c-2-3"}; !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	if want := []codes.Code{codes.OK, codes.Unavailable, codes.Unavailable}; !slices.Equal(codesSeen, want) {
		t.Errorf("codes %v, want %v", codesSeen, want)
	}
	var dbs []string
	for _, r := range sc.Requests() {
		dbs = append(dbs, r.GetDatabase())
	}
	if want := []string{"dba", "dbb", "dbc"}; !slices.Equal(dbs, want) {
		t.Errorf("recorded %v, want %v", dbs, want)
	}
	if _, err := cli.GetCursor(ctx(t), &cdcstreamv1.GetCursorRequest{}); testkit.StatusDetails(t, err).Code != codes.Unimplemented {
		t.Errorf("unset GetCursorF: %v, want UNIMPLEMENTED", err)
	}
}

// TestScriptsHangAfterTheLast: without RepeatLast a call after the last script stays open
// until the client leaves.
func TestScriptsHangAfterTheLast(t *testing.T) {
	sc := testkit.NewScripts()
	conn, _ := (&testkit.Stub{SubscribeF: sc.Subscribe}).Start(t)
	c, cancel := context.WithCancel(ctx(t))
	st, err := cdcstreamv1.NewChangeStreamServiceClient(conn).Subscribe(c, &cdcstreamv1.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	<-sc.Subscribed
	cancel()
	if _, err := st.Recv(); testkit.StatusDetails(t, err).Code != codes.Canceled {
		t.Fatalf("Recv: %v, want CANCELED", err)
	}
}

func TestStatusDetailsReadsEveryDetail(t *testing.T) {
	err := testkit.StatusError(t, codes.InvalidArgument, "bad",
		testkit.ErrorInfo(cdcstreamv1.ErrorReason_INVALID_CURSOR, map[string]string{"database": "neo4j"}),
		testkit.RetryInfo(1500*time.Millisecond),
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "from_cursor.id"}, {Field: "database"}}},
		&errdetails.DebugInfo{Detail: "x"})
	d := testkit.StatusDetails(t, err)
	if d.Code != codes.InvalidArgument || d.Message != "bad" || d.Reason != cdcstreamv1.ErrorReason_INVALID_CURSOR ||
		d.RawReason != "INVALID_CURSOR" || d.Metadata["database"] != "neo4j" || d.Info.GetDomain() != "cdcstream.v1" {
		t.Errorf("details %+v", d)
	}
	if delay, ok := d.RetryDelay(); !ok || delay != 1500*time.Millisecond {
		t.Errorf("retry delay %v %v", delay, ok)
	}
	if !slices.Equal(d.Fields, []string{"from_cursor.id", "database"}) || len(d.Other) != 1 {
		t.Errorf("fields %v, other %v", d.Fields, d.Other)
	}
	unknown := testkit.StatusError(t, codes.Unavailable, "new", &errdetails.ErrorInfo{Reason: "SOMETHING_NEW", Domain: testkit.Domain})
	if d := testkit.StatusDetails(t, unknown); d.Reason != cdcstreamv1.ErrorReason_ERROR_REASON_UNSPECIFIED || d.RawReason != "SOMETHING_NEW" {
		t.Errorf("unknown reason read as %v %q", d.Reason, d.RawReason)
	}
	if _, ok := (testkit.Details{}).RetryDelay(); ok {
		t.Error("RetryDelay without RetryInfo")
	}
}

func TestValueBuilders(t *testing.T) {
	at := time.Date(2024, 3, 3, 20, 51, 56, 769_000_000, time.UTC)
	z := 0.0
	for _, tc := range []struct {
		got, want *cdcstreamv1.Value
	}{
		{testkit.Int(-7), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: -7}}},
		{testkit.String("a"), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_StringValue{StringValue: "a"}}},
		{testkit.Bool(true), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_BooleanValue{BooleanValue: true}}},
		{testkit.List(testkit.Null()), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_ListValue{ListValue: &cdcstreamv1.ListValue{Values: []*cdcstreamv1.Value{{Kind: &cdcstreamv1.Value_NullValue{}}}}}}},
		{testkit.Map(map[string]*cdcstreamv1.Value{"f": testkit.Float(0.5)}), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_MapValue{MapValue: &cdcstreamv1.MapValue{Fields: map[string]*cdcstreamv1.Value{"f": {Kind: &cdcstreamv1.Value_FloatValue{FloatValue: 0.5}}}}}}},
		{testkit.Date(-44, 3, 15), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateValue{DateValue: &cdcstreamv1.Date{Year: -44, Month: 3, Day: 15}}}},
		{testkit.Time(1, 2, 3, 4, -34200), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_TimeValue{TimeValue: &cdcstreamv1.Time{LocalTime: &cdcstreamv1.LocalTime{Hour: 1, Minute: 2, Second: 3, Nanos: 4}, OffsetSeconds: -34200}}}},
		{testkit.LocalDateTime(2024, 2, 29, 12, 0, 0, 1000), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_LocalDateTimeValue{LocalDateTimeValue: &cdcstreamv1.LocalDateTime{Date: &cdcstreamv1.Date{Year: 2024, Month: 2, Day: 29}, Time: &cdcstreamv1.LocalTime{Hour: 12, Nanos: 1000}}}}},
		{testkit.DateTimeZone(testkit.Instant(at), "Europe/Stockholm"), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{Instant: testkit.Instant(at), Zone: &cdcstreamv1.DateTime_ZoneId{ZoneId: "Europe/Stockholm"}}}}},
		{testkit.DateTimeOffset(testkit.Instant(at), 0), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{Instant: testkit.Instant(at), Zone: &cdcstreamv1.DateTime_OffsetSeconds{}}}}},
		{testkit.Duration(14, -3, 5, 1), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DurationValue{DurationValue: &cdcstreamv1.Duration{Months: 14, Days: -3, Seconds: 5, Nanos: 1}}}},
		{testkit.Point3D(9157, 1, 2, 0), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: 9157, X: 1, Y: 2, Z: &z}}}},
		{testkit.Point2D(4326, 1, 2), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: 4326, X: 1, Y: 2}}}},
		{testkit.Bytes([]byte{0xff}), &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_BytesValue{BytesValue: []byte{0xff}}}},
	} {
		if !proto.Equal(tc.got, tc.want) {
			t.Errorf("got %v, want %v", tc.got, tc.want)
		}
	}
}

// TestBeforeStopRunsBetweenCloseAndStop: when the test ends, the connection is closed first,
// then BeforeStop runs while the server still accepts connections, then the server stops.
func TestBeforeStopRunsBetweenCloseAndStop(t *testing.T) {
	var (
		addr      string
		conn      *grpc.ClientConn
		ran       bool
		closedYet connectivity.State
		listening error
	)
	t.Run("served", func(t *testing.T) {
		conn, addr = (&testkit.Stub{}).Start(t, testkit.BeforeStop(func() {
			ran, closedYet = true, conn.GetState()
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			listening = err
		}))
	})
	if !ran || closedYet != connectivity.Shutdown || listening != nil {
		t.Fatalf("BeforeStop ran %v, connection %v, server listening: %v", ran, closedYet, listening)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("server still listening after the test ended")
	}
}
