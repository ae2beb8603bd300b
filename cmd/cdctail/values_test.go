package main

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// render encodes value(v) as JSON text.
func render(t *testing.T, v *cdcstreamv1.Value) string {
	t.Helper()
	b, err := json.Marshal(value(v))
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	return string(b)
}

func TestValueRendering(t *testing.T) {
	z := -1.5
	ts := time.Date(2024, 3, 3, 20, 51, 56, 769_000_000, time.UTC)
	tests := []struct {
		name string
		v    *cdcstreamv1.Value
		want string
	}{
		{"nil", nil, `null`},
		{"null", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_NullValue{}}, `null`},
		{"max int64", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: math.MaxInt64}}, `9223372036854775807`},
		{"min int64", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: math.MinInt64}}, `-9223372036854775808`},
		{"float whole", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: -2}}, `-2.0`},
		{"float fraction", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: 0.1}}, `0.1`},
		{"float huge", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: 1e300}}, `1e+300`},
		{"NaN", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: math.NaN()}}, `"NaN"`},
		{"-Inf", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: math.Inf(-1)}}, `"-Infinity"`},
		{"string", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_StringValue{StringValue: "a\"b"}}, `"a\"b"`},
		{"bytes", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_BytesValue{BytesValue: []byte("hi")}}, `"aGk="`},
		{"empty list", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_ListValue{ListValue: &cdcstreamv1.ListValue{}}}, `[]`},
		{"empty map", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_MapValue{MapValue: &cdcstreamv1.MapValue{}}}, `{}`},
		{"map", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_MapValue{MapValue: &cdcstreamv1.MapValue{Fields: map[string]*cdcstreamv1.Value{
			"b": {Kind: &cdcstreamv1.Value_BooleanValue{BooleanValue: false}}, "i": {Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: 7}},
		}}}}, `{"b":false,"i":7}`},
		{"date", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateValue{DateValue: &cdcstreamv1.Date{Year: 2024, Month: 3, Day: 3}}}, `"2024-03-03"`},
		{"date BCE", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateValue{DateValue: &cdcstreamv1.Date{Year: -44, Month: 3, Day: 15}}}, `"-0044-03-15"`},
		{"date far", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateValue{DateValue: &cdcstreamv1.Date{Year: 12345, Month: 1, Day: 1}}}, `"+12345-01-01"`},
		{"local time", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_LocalTimeValue{LocalTimeValue: &cdcstreamv1.LocalTime{Hour: 9, Minute: 5, Second: 7, Nanos: 120_000_000}}}, `"09:05:07.12"`},
		{"time", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_TimeValue{TimeValue: &cdcstreamv1.Time{LocalTime: &cdcstreamv1.LocalTime{Hour: 23}, OffsetSeconds: -(3*3600 + 30*60)}}}, `"23:00:00-03:30"`},
		{"time utc", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_TimeValue{TimeValue: &cdcstreamv1.Time{LocalTime: &cdcstreamv1.LocalTime{Hour: 1, Nanos: 1}}}}, `"01:00:00.000000001Z"`},
		{"local datetime", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_LocalDateTimeValue{LocalDateTimeValue: &cdcstreamv1.LocalDateTime{
			Date: &cdcstreamv1.Date{Year: 2000, Month: 1, Day: 2}, Time: &cdcstreamv1.LocalTime{Hour: 3, Minute: 4, Second: 5}}}}, `"2000-01-02T03:04:05"`},
		{"datetime offset", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
			Instant: timestamppb.New(ts), Zone: &cdcstreamv1.DateTime_OffsetSeconds{OffsetSeconds: 3600}}}}, `"2024-03-03T21:51:56.769+01:00"`},
		{"datetime utc", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
			Instant: timestamppb.New(ts), Zone: &cdcstreamv1.DateTime_OffsetSeconds{OffsetSeconds: 0}}}}, `"2024-03-03T20:51:56.769Z"`},
		{"datetime zone", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
			Instant: timestamppb.New(ts), Zone: &cdcstreamv1.DateTime_ZoneId{ZoneId: "America/New_York"}}}}, `"2024-03-03T15:51:56.769-05:00[America/New_York]"`},
		{"datetime unknown zone", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
			Instant: timestamppb.New(ts), Zone: &cdcstreamv1.DateTime_ZoneId{ZoneId: "Mars/Olympus"}}}}, `"2024-03-03T20:51:56.769Z[Mars/Olympus]"`},
		{"duration", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DurationValue{DurationValue: &cdcstreamv1.Duration{Months: 1, Days: 2, Seconds: 3, Nanos: 500_000_000}}}, `"P1M2DT3.5S"`},
		{"duration years hours", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DurationValue{DurationValue: &cdcstreamv1.Duration{Months: 14, Seconds: 3725}}}, `"P1Y2MT1H2M5S"`},
		{"duration zero", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DurationValue{DurationValue: &cdcstreamv1.Duration{}}}, `"PT0S"`},
		{"duration negative", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DurationValue{DurationValue: &cdcstreamv1.Duration{Days: -1, Seconds: -2, Nanos: 500_000_000}}}, `"P-1DT-1.5S"`},
		{"duration minus half second", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DurationValue{DurationValue: &cdcstreamv1.Duration{Seconds: -1, Nanos: 500_000_000}}}, `"PT-0.5S"`},
		{"point 2d", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: 4326, X: 12.5, Y: 55}}}, `{"srid":4326,"x":12.5,"y":55.0}`},
		{"point 3d", &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: 9157, X: 0, Y: 1, Z: &z}}}, `{"srid":9157,"x":0.0,"y":1.0,"z":-1.5}`},
	}
	for _, tt := range tests {
		if got := render(t, tt.v); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestDurationExtremesDoNotOverflow(t *testing.T) {
	for _, d := range []*cdcstreamv1.Duration{
		{Months: math.MinInt64, Days: math.MinInt64, Seconds: math.MinInt64, Nanos: 999_999_999},
		{Months: math.MaxInt64, Days: math.MaxInt64, Seconds: math.MaxInt64, Nanos: 999_999_999},
		{Seconds: math.MinInt64},
	} {
		if s := formatDuration(d); len(s) < 3 || s[0] != 'P' {
			t.Errorf("%v: %q", d, s)
		}
	}
	if got := formatDuration(&cdcstreamv1.Duration{Seconds: math.MinInt64}); got != "PT-2562047788015215H-30M-8S" {
		t.Errorf("min seconds: %s", got)
	}
}
