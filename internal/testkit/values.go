package testkit

import (
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Null returns the null Value.
func Null() *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}
}

// Bool returns a boolean Value.
func Bool(b bool) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_BooleanValue{BooleanValue: b}}
}

// Int returns an integer Value (Neo4j's 64-bit Integer).
func Int(i int64) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: i}}
}

// Float returns a float Value.
func Float(f float64) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: f}}
}

// String returns a string Value.
func String(s string) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_StringValue{StringValue: s}}
}

// Bytes returns a byte-array Value.
func Bytes(b []byte) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_BytesValue{BytesValue: b}}
}

// List returns a list Value of vs (an empty list when vs is empty).
func List(vs ...*cdcstreamv1.Value) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_ListValue{ListValue: &cdcstreamv1.ListValue{Values: vs}}}
}

// Map returns a map Value with fields.
func Map(fields map[string]*cdcstreamv1.Value) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_MapValue{MapValue: &cdcstreamv1.MapValue{Fields: fields}}}
}

// Date returns a Date Value.
func Date(year, month, day int32) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateValue{DateValue: &cdcstreamv1.Date{Year: year, Month: month, Day: day}}}
}

// LocalTime returns a LocalTime Value.
func LocalTime(hour, minute, second, nanos int32) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_LocalTimeValue{LocalTimeValue: localTime(hour, minute, second, nanos)}}
}

// Time returns a Time Value: a local time with an offset from UTC in seconds.
func Time(hour, minute, second, nanos, offsetSeconds int32) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_TimeValue{TimeValue: &cdcstreamv1.Time{
		LocalTime: localTime(hour, minute, second, nanos), OffsetSeconds: offsetSeconds}}}
}

// LocalDateTime returns a LocalDateTime Value.
func LocalDateTime(year, month, day, hour, minute, second, nanos int32) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_LocalDateTimeValue{LocalDateTimeValue: &cdcstreamv1.LocalDateTime{
		Date: &cdcstreamv1.Date{Year: year, Month: month, Day: day}, Time: localTime(hour, minute, second, nanos)}}}
}

// DateTimeOffset returns a DateTime Value: the instant and a fixed offset from UTC in seconds.
func DateTimeOffset(instant *timestamppb.Timestamp, offsetSeconds int32) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
		Instant: instant, Zone: &cdcstreamv1.DateTime_OffsetSeconds{OffsetSeconds: offsetSeconds}}}}
}

// DateTimeZone returns a DateTime Value: the instant in a named time zone (IANA id).
func DateTimeZone(instant *timestamppb.Timestamp, zoneID string) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
		Instant: instant, Zone: &cdcstreamv1.DateTime_ZoneId{ZoneId: zoneID}}}}
}

// Instant returns t as a Timestamp, for DateTimeOffset and DateTimeZone.
func Instant(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// Duration returns a Duration Value (Neo4j's months, days, seconds and nanoseconds, each kept).
func Duration(months, days, seconds int64, nanos int32) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DurationValue{DurationValue: &cdcstreamv1.Duration{
		Months: months, Days: days, Seconds: seconds, Nanos: nanos}}}
}

// Point2D returns a two-dimensional Point Value (z absent).
func Point2D(srid int32, x, y float64) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: srid, X: x, Y: y}}}
}

// Point3D returns a three-dimensional Point Value (z present, even when 0).
func Point3D(srid int32, x, y, z float64) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: srid, X: x, Y: y, Z: &z}}}
}

func localTime(hour, minute, second, nanos int32) *cdcstreamv1.LocalTime {
	return &cdcstreamv1.LocalTime{Hour: hour, Minute: minute, Second: second, Nanos: nanos}
}
