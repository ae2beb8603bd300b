package neo4jcdc

import (
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

// Helpers building expected proto values, beside testkit's builders.

func vDateTimeOffset(sec int64, nanos int32, off int32) *cdcstreamv1.Value {
	return testkit.DateTimeOffset(&timestamppb.Timestamp{Seconds: sec, Nanos: nanos}, off)
}
func vDateTimeZone(sec int64, nanos int32, zone string) *cdcstreamv1.Value {
	return testkit.DateTimeZone(&timestamppb.Timestamp{Seconds: sec, Nanos: nanos}, zone)
}
func vPoint(srid int32, x, y float64, z ...float64) *cdcstreamv1.Value {
	p := &cdcstreamv1.Point{Srid: srid, X: x, Y: y}
	if len(z) == 1 {
		p.Z = &z[0]
	}
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{PointValue: p}}
}

// Driver values built exactly as the v5.28.4 hydrator builds them (bolt/hydrator.go).

func hydDate(epochDays int64) neo4j.Date { return neo4j.Date(time.Unix(epochDays*86400, 0).UTC()) }
func hydLocalTime(nanosOfDay int64) neo4j.LocalTime {
	s := nanosOfDay / 1e9
	return neo4j.LocalTime(time.Date(0, 0, 0, 0, 0, int(s), int(nanosOfDay-s*1e9), time.Local))
}
func hydTime(nanosOfDay, offset int64) neo4j.Time {
	s := nanosOfDay / 1e9
	return neo4j.Time(time.Date(0, 0, 0, 0, 0, int(s), int(nanosOfDay-s*1e9), time.FixedZone("Offset", int(offset))))
}
func hydLocalDateTime(sec, nanos int64) neo4j.LocalDateTime {
	t := time.Unix(sec, nanos).UTC()
	return neo4j.LocalDateTime(time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.Local))
}
func hydDateTimeOffset(sec, nanos, offset int64) time.Time {
	return time.Unix(sec, nanos).In(time.FixedZone("Offset", int(offset)))
}
func hydDateTimeZone(t *testing.T, sec, nanos int64, zone string) time.Time {
	t.Helper()
	l, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", zone, err)
	}
	return time.Unix(sec, nanos).In(l)
}

func TestToValue(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want *cdcstreamv1.Value
	}{
		{"null", nil, testkit.Null()},
		{"true", true, testkit.Bool(true)},
		{"false", false, testkit.Bool(false)},
		{"int max", int64(math.MaxInt64), testkit.Int(math.MaxInt64)},
		{"int min", int64(math.MinInt64), testkit.Int(math.MinInt64)},
		{"float", 3.25, testkit.Float(3.25)},
		{"float nan", math.NaN(), testkit.Float(math.NaN())},
		{"float -inf", math.Inf(-1), testkit.Float(math.Inf(-1))},
		{"string", "héllo", testkit.String("héllo")},
		{"empty string", "", testkit.String("")},
		{"bytes", []byte{0, 1, 255}, testkit.Bytes([]byte{0, 1, 255})},
		{"list mixed", []any{int64(1), "a", nil, []any{true}}, testkit.List(testkit.Int(1), testkit.String("a"), testkit.Null(), testkit.List(testkit.Bool(true)))},
		{"empty list", []any{}, testkit.List()},
		{"map nested", map[string]any{"a": int64(1), "b": map[string]any{"c": 2.5}},
			testkit.Map(map[string]*cdcstreamv1.Value{"a": testkit.Int(1), "b": testkit.Map(map[string]*cdcstreamv1.Value{"c": testkit.Float(2.5)})})},
		{"date", hydDate(19723), testkit.Date(2024, 1, 1)},
		{"date before epoch", hydDate(-1), testkit.Date(1969, 12, 31)},
		{"date year 1", hydDate(-719162), testkit.Date(1, 1, 1)},
		{"local time", hydLocalTime(((13*60+45)*60+30)*1e9 + 123456789), testkit.LocalTime(13, 45, 30, 123456789)},
		{"local time midnight", hydLocalTime(0), testkit.LocalTime(0, 0, 0, 0)},
		{"time +01:00", hydTime((8*3600+1)*1e9+5, 3600), testkit.Time(8, 0, 1, 5, 3600)},
		{"time -05:30", hydTime(23*3600*1e9, -19800), testkit.Time(23, 0, 0, 0, -19800)},
		{"local date time", hydLocalDateTime(1704067200+3661, 42), testkit.LocalDateTime(2024, 1, 1, 1, 1, 1, 42)},
		{"date time offset", hydDateTimeOffset(1704067200, 7, 7200), vDateTimeOffset(1704067200, 7, 7200)},
		{"date time offset zero", hydDateTimeOffset(0, 0, 0), vDateTimeOffset(0, 0, 0)},
		{"date time zone id", hydDateTimeZone(t, 1719835200, 999, "Europe/Stockholm"), vDateTimeZone(1719835200, 999, "Europe/Stockholm")},
		{"date time zone UTC", hydDateTimeZone(t, 1, 0, "UTC"), vDateTimeZone(1, 0, "UTC")},
		{"date time pre-epoch", hydDateTimeOffset(-86401, 500, -3600), vDateTimeOffset(-86401, 500, -3600)},
		{"duration", neo4j.Duration{Months: 14, Days: -3, Seconds: 3723, Nanos: 9}, testkit.Duration(14, -3, 3723, 9)},
		{"point 2d", neo4j.Point2D{SpatialRefId: 7203, X: 1.5, Y: -2}, vPoint(7203, 1.5, -2)},
		{"point wgs84", neo4j.Point2D{SpatialRefId: 4326, X: 12.97, Y: 55.6}, vPoint(4326, 12.97, 55.6)},
		{"point 3d", neo4j.Point3D{SpatialRefId: 9157, X: 1, Y: 2, Z: 3}, vPoint(9157, 1, 2, 3)},
		{"point 3d z zero", neo4j.Point3D{SpatialRefId: 4979, X: 1, Y: 2, Z: 0}, vPoint(4979, 1, 2, 0)},
		{"list of dates", []any{hydDate(0), hydDate(1)}, testkit.List(testkit.Date(1970, 1, 1), testkit.Date(1970, 1, 2))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := toValue(tc.in)
			if err != nil {
				t.Fatalf("toValue(%#v): %v", tc.in, err)
			}
			if !proto.Equal(got, tc.want) {
				t.Fatalf("toValue(%#v)\n got %v\nwant %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestToValueRejectsUnknownTypes(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"int", 5, "unsupported value type int"},
		{"int32", int32(5), "unsupported value type int32"},
		{"string slice", []string{"a"}, "unsupported value type []string"},
		{"node", neo4j.Node{ElementId: "4:x:1"}, "unsupported value type"},
		{"nested in list", []any{int64(1), struct{}{}}, "list element 1"},
		{"nested in map", map[string]any{"k": uint8(1)}, `key "k"`},
		{"invalid value", &neo4j.InvalidValue{Message: "dateTimeNamedZone", Err: errTest}, "dateTimeNamedZone"},
		{"nil invalid value", (*neo4j.InvalidValue)(nil), "unsupported value type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := toValue(tc.in)
			if err == nil {
				t.Fatalf("toValue(%#v) = %v, want error", tc.in, got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("toValue(%#v) error %q, want it to mention %q", tc.in, err, tc.want)
			}
		})
	}
}

// TestFromValueRoundTrip: every parameter built from a Value converts back to the same Value,
// so a selector's key or tx metadata reaches Neo4j with exactly the typed value the client
// sent (the driver's encoder reads these Go values as toValue reads the hydrator's).
func TestFromValueRoundTrip(t *testing.T) {
	values := []*cdcstreamv1.Value{
		testkit.Null(), testkit.Bool(true), testkit.Int(-7), testkit.Float(0.5), testkit.String("x"), testkit.Bytes([]byte{9}),
		testkit.List(testkit.Int(1), testkit.String("a")), testkit.Map(map[string]*cdcstreamv1.Value{"k": testkit.Date(2020, 2, 29)}),
		testkit.Date(2020, 2, 29), testkit.Date(-44, 3, 15), testkit.LocalTime(23, 59, 59, 999999999),
		testkit.Time(12, 0, 0, 0, -3600), testkit.Time(0, 0, 0, 1, 18*3600), testkit.LocalDateTime(1999, 12, 31, 23, 59, 59, 1),
		vDateTimeOffset(1704067200, 5, 3600), vDateTimeZone(1719835200, 0, "America/New_York"),
		vDateTimeZone(0, 0, "UTC"), testkit.Duration(1, 2, 3, 4), vPoint(7203, 1, 2), vPoint(9157, 1, 2, 3),
	}
	for _, v := range values {
		p, err := fromValue(v)
		if err != nil {
			t.Fatalf("fromValue(%v): %v", v, err)
		}
		back, err := toValue(p)
		if err != nil {
			t.Fatalf("toValue(fromValue(%v)) = %T: %v", v, p, err)
		}
		if !proto.Equal(back, v) {
			t.Errorf("round trip of %v gave %v (via %T %v)", v, back, p, p)
		}
	}
}

func TestFromValueRejectsInvalid(t *testing.T) {
	dt := func(off int32, zone string) *cdcstreamv1.Value {
		d := &cdcstreamv1.DateTime{Instant: timestamppb.New(time.Unix(0, 0))}
		if zone != "" {
			d.Zone = &cdcstreamv1.DateTime_ZoneId{ZoneId: zone}
		} else {
			d.Zone = &cdcstreamv1.DateTime_OffsetSeconds{OffsetSeconds: off}
		}
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: d}}
	}
	cases := []struct {
		name string
		in   *cdcstreamv1.Value
	}{
		{"nil", nil},
		{"empty", &cdcstreamv1.Value{}},
		{"month 13", testkit.Date(2020, 13, 1)},
		{"feb 30", testkit.Date(2021, 2, 29)},
		{"day 0", testkit.Date(2021, 1, 0)},
		{"hour 24", testkit.LocalTime(24, 0, 0, 0)},
		{"negative nanos", testkit.LocalTime(1, 0, 0, -1)},
		{"time offset too big", testkit.Time(1, 0, 0, 0, 18*3600+1)},
		{"time without clock", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_TimeValue{TimeValue: &cdcstreamv1.Time{}}}},
		{"local date time no date", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_LocalDateTimeValue{LocalDateTimeValue: &cdcstreamv1.LocalDateTime{Time: &cdcstreamv1.LocalTime{Hour: 1, Minute: 1, Second: 1, Nanos: 1}}}}},
		{"date time bad zone", dt(0, "Mars/Olympus_Mons")},
		{"date time Local", dt(0, "Local")},
		{"date time offset too big", dt(-19*3600, "")},
		{"date time no zone", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{Instant: timestamppb.Now()}}}},
		{"date time no instant", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{Zone: &cdcstreamv1.DateTime_OffsetSeconds{}}}}},
		{"duration nanos", testkit.Duration(0, 0, 0, 1e9)},
		{"point negative srid", vPoint(-1, 0, 0)},
		{"bad list element", testkit.List(testkit.Int(1), &cdcstreamv1.Value{})},
		{"bad map entry", testkit.Map(map[string]*cdcstreamv1.Value{"k": nil})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := fromValue(tc.in); err == nil {
				t.Fatalf("fromValue(%v) = %#v, want error", tc.in, got)
			}
		})
	}
}
