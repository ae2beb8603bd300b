package neo4jcdc

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Helpers building expected proto values.

func vNull() *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}
}
func vBool(b bool) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_BooleanValue{BooleanValue: b}}
}
func vInt(i int64) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: i}}
}
func vFloat(f float64) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: f}}
}
func vStr(s string) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_StringValue{StringValue: s}}
}
func vBytes(b []byte) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_BytesValue{BytesValue: b}}
}
func vList(vs ...*cdcstreamv1.Value) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_ListValue{ListValue: &cdcstreamv1.ListValue{Values: vs}}}
}
func vMap(m map[string]*cdcstreamv1.Value) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_MapValue{MapValue: &cdcstreamv1.MapValue{Fields: m}}}
}
func pDate(y, m, d int32) *cdcstreamv1.Date { return &cdcstreamv1.Date{Year: y, Month: m, Day: d} }
func pClock(h, m, s, n int32) *cdcstreamv1.LocalTime {
	return &cdcstreamv1.LocalTime{Hour: h, Minute: m, Second: s, Nanos: n}
}
func vDate(y, m, d int32) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateValue{DateValue: pDate(y, m, d)}}
}
func vLocalTime(h, m, s, n int32) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_LocalTimeValue{LocalTimeValue: pClock(h, m, s, n)}}
}
func vTime(h, m, s, n, off int32) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_TimeValue{TimeValue: &cdcstreamv1.Time{LocalTime: pClock(h, m, s, n), OffsetSeconds: off}}}
}
func vLocalDateTime(y, mo, d, h, mi, s, n int32) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_LocalDateTimeValue{LocalDateTimeValue: &cdcstreamv1.LocalDateTime{
		Date: pDate(y, mo, d), Time: pClock(h, mi, s, n)}}}
}
func vDateTimeOffset(sec int64, nanos int32, off int32) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
		Instant: &timestamppb.Timestamp{Seconds: sec, Nanos: nanos},
		Zone:    &cdcstreamv1.DateTime_OffsetSeconds{OffsetSeconds: off}}}}
}
func vDateTimeZone(sec int64, nanos int32, zone string) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
		Instant: &timestamppb.Timestamp{Seconds: sec, Nanos: nanos},
		Zone:    &cdcstreamv1.DateTime_ZoneId{ZoneId: zone}}}}
}
func vDuration(mo, d, s int64, n int32) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DurationValue{DurationValue: &cdcstreamv1.Duration{Months: mo, Days: d, Seconds: s, Nanos: n}}}
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
		{"null", nil, vNull()},
		{"true", true, vBool(true)},
		{"false", false, vBool(false)},
		{"int max", int64(math.MaxInt64), vInt(math.MaxInt64)},
		{"int min", int64(math.MinInt64), vInt(math.MinInt64)},
		{"float", 3.25, vFloat(3.25)},
		{"float nan", math.NaN(), vFloat(math.NaN())},
		{"float -inf", math.Inf(-1), vFloat(math.Inf(-1))},
		{"string", "héllo", vStr("héllo")},
		{"empty string", "", vStr("")},
		{"bytes", []byte{0, 1, 255}, vBytes([]byte{0, 1, 255})},
		{"list mixed", []any{int64(1), "a", nil, []any{true}}, vList(vInt(1), vStr("a"), vNull(), vList(vBool(true)))},
		{"empty list", []any{}, vList()},
		{"map nested", map[string]any{"a": int64(1), "b": map[string]any{"c": 2.5}},
			vMap(map[string]*cdcstreamv1.Value{"a": vInt(1), "b": vMap(map[string]*cdcstreamv1.Value{"c": vFloat(2.5)})})},
		{"date", hydDate(19723), vDate(2024, 1, 1)},
		{"date before epoch", hydDate(-1), vDate(1969, 12, 31)},
		{"date year 1", hydDate(-719162), vDate(1, 1, 1)},
		{"local time", hydLocalTime(((13*60+45)*60+30)*1e9 + 123456789), vLocalTime(13, 45, 30, 123456789)},
		{"local time midnight", hydLocalTime(0), vLocalTime(0, 0, 0, 0)},
		{"time +01:00", hydTime((8*3600+1)*1e9+5, 3600), vTime(8, 0, 1, 5, 3600)},
		{"time -05:30", hydTime(23*3600*1e9, -19800), vTime(23, 0, 0, 0, -19800)},
		{"local date time", hydLocalDateTime(1704067200+3661, 42), vLocalDateTime(2024, 1, 1, 1, 1, 1, 42)},
		{"date time offset", hydDateTimeOffset(1704067200, 7, 7200), vDateTimeOffset(1704067200, 7, 7200)},
		{"date time offset zero", hydDateTimeOffset(0, 0, 0), vDateTimeOffset(0, 0, 0)},
		{"date time zone id", hydDateTimeZone(t, 1719835200, 999, "Europe/Stockholm"), vDateTimeZone(1719835200, 999, "Europe/Stockholm")},
		{"date time zone UTC", hydDateTimeZone(t, 1, 0, "UTC"), vDateTimeZone(1, 0, "UTC")},
		{"date time pre-epoch", hydDateTimeOffset(-86401, 500, -3600), vDateTimeOffset(-86401, 500, -3600)},
		{"duration", neo4j.Duration{Months: 14, Days: -3, Seconds: 3723, Nanos: 9}, vDuration(14, -3, 3723, 9)},
		{"point 2d", neo4j.Point2D{SpatialRefId: 7203, X: 1.5, Y: -2}, vPoint(7203, 1.5, -2)},
		{"point wgs84", neo4j.Point2D{SpatialRefId: 4326, X: 12.97, Y: 55.6}, vPoint(4326, 12.97, 55.6)},
		{"point 3d", neo4j.Point3D{SpatialRefId: 9157, X: 1, Y: 2, Z: 3}, vPoint(9157, 1, 2, 3)},
		{"point 3d z zero", neo4j.Point3D{SpatialRefId: 4979, X: 1, Y: 2, Z: 0}, vPoint(4979, 1, 2, 0)},
		{"list of dates", []any{hydDate(0), hydDate(1)}, vList(vDate(1970, 1, 1), vDate(1970, 1, 2))},
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
		vNull(), vBool(true), vInt(-7), vFloat(0.5), vStr("x"), vBytes([]byte{9}),
		vList(vInt(1), vStr("a")), vMap(map[string]*cdcstreamv1.Value{"k": vDate(2020, 2, 29)}),
		vDate(2020, 2, 29), vDate(-44, 3, 15), vLocalTime(23, 59, 59, 999999999),
		vTime(12, 0, 0, 0, -3600), vTime(0, 0, 0, 1, 18*3600), vLocalDateTime(1999, 12, 31, 23, 59, 59, 1),
		vDateTimeOffset(1704067200, 5, 3600), vDateTimeZone(1719835200, 0, "America/New_York"),
		vDateTimeZone(0, 0, "UTC"), vDuration(1, 2, 3, 4), vPoint(7203, 1, 2), vPoint(9157, 1, 2, 3),
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
		{"month 13", vDate(2020, 13, 1)},
		{"feb 30", vDate(2021, 2, 29)},
		{"day 0", vDate(2021, 1, 0)},
		{"hour 24", vLocalTime(24, 0, 0, 0)},
		{"negative nanos", vLocalTime(1, 0, 0, -1)},
		{"time offset too big", vTime(1, 0, 0, 0, 18*3600+1)},
		{"time without clock", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_TimeValue{TimeValue: &cdcstreamv1.Time{}}}},
		{"local date time no date", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_LocalDateTimeValue{LocalDateTimeValue: &cdcstreamv1.LocalDateTime{Time: pClock(1, 1, 1, 1)}}}},
		{"date time bad zone", dt(0, "Mars/Olympus_Mons")},
		{"date time Local", dt(0, "Local")},
		{"date time offset too big", dt(-19*3600, "")},
		{"date time no zone", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{Instant: timestamppb.Now()}}}},
		{"date time no instant", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{Zone: &cdcstreamv1.DateTime_OffsetSeconds{}}}}},
		{"duration nanos", vDuration(0, 0, 0, 1e9)},
		{"point negative srid", vPoint(-1, 0, 0)},
		{"bad list element", vList(vInt(1), &cdcstreamv1.Value{})},
		{"bad map entry", vMap(map[string]*cdcstreamv1.Value{"k": nil})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := fromValue(tc.in); err == nil {
				t.Fatalf("fromValue(%v) = %#v, want error", tc.in, got)
			}
		})
	}
}
