package neo4jcdc

import (
	"fmt"
	"math"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// offsetZoneName is the location name the driver (v5.28.4, bolt/hydrator.go) gives the
// time.FixedZone of a DateTime that Neo4j sent with a UTC offset (PackStream struct 0x49 'I',
// or legacy 0x46 'F'). A DateTime sent with a zone id (0x69 'i', legacy 0x66 'f') gets the
// location time.LoadLocation(zoneID), whose String() is that id. The driver's encoder
// (bolt/outgoing.go) makes the same distinction on the zone name, so values built here for
// parameters travel back in the same form.
const offsetZoneName = "Offset"

// maxOffsetSeconds is Neo4j's range of UTC offsets, -18:00..+18:00.
const maxOffsetSeconds = 18 * 3600

// toValue converts one value as the driver hydrates it into a cdcstreamv1.Value without loss.
// Types the driver does not produce for property or map values are an error, never a panic.
func toValue(v any) (*cdcstreamv1.Value, error) {
	switch x := v.(type) {
	case nil:
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}, nil
	case bool:
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_BooleanValue{BooleanValue: x}}, nil
	case int64:
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: x}}, nil
	case float64:
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: x}}, nil
	case string:
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_StringValue{StringValue: x}}, nil
	case []byte:
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_BytesValue{BytesValue: x}}, nil
	case []any:
		list := &cdcstreamv1.ListValue{Values: make([]*cdcstreamv1.Value, len(x))}
		for i, e := range x {
			ev, err := toValue(e)
			if err != nil {
				return nil, fmt.Errorf("list element %d: %w", i, err)
			}
			list.Values[i] = ev
		}
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_ListValue{ListValue: list}}, nil
	case map[string]any:
		fields, err := toValueMap(x)
		if err != nil {
			return nil, err
		}
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_MapValue{MapValue: &cdcstreamv1.MapValue{Fields: fields}}}, nil
	case neo4j.Date:
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateValue{DateValue: dateOf(time.Time(x))}}, nil
	case neo4j.LocalTime:
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_LocalTimeValue{LocalTimeValue: localTimeOf(time.Time(x))}}, nil
	case neo4j.Time:
		t := time.Time(x)
		_, offset := t.Zone()
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_TimeValue{TimeValue: &cdcstreamv1.Time{
			LocalTime: localTimeOf(t), OffsetSeconds: int32(offset),
		}}}, nil
	case neo4j.LocalDateTime:
		t := time.Time(x)
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_LocalDateTimeValue{LocalDateTimeValue: &cdcstreamv1.LocalDateTime{
			Date: dateOf(t), Time: localTimeOf(t),
		}}}, nil
	case time.Time:
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: dateTimeOf(x)}}, nil
	case neo4j.Duration:
		if x.Nanos < math.MinInt32 || x.Nanos > math.MaxInt32 {
			return nil, fmt.Errorf("duration nanoseconds %d out of range", x.Nanos)
		}
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DurationValue{DurationValue: &cdcstreamv1.Duration{
			Months: x.Months, Days: x.Days, Seconds: x.Seconds, Nanos: int32(x.Nanos),
		}}}, nil
	case neo4j.Point2D:
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{
			Srid: int32(x.SpatialRefId), X: x.X, Y: x.Y,
		}}}, nil
	case neo4j.Point3D:
		z := x.Z
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{
			Srid: int32(x.SpatialRefId), X: x.X, Y: x.Y, Z: &z,
		}}}, nil
	case *neo4j.InvalidValue:
		if x == nil {
			return nil, fmt.Errorf("unsupported value type %T (nil)", v)
		}
		// The driver could not hydrate the value, for example a zone id unknown to this
		// machine's time-zone database.
		return nil, fmt.Errorf("driver could not decode a value: %s: %w", x.Message, x.Err)
	default:
		return nil, fmt.Errorf("unsupported value type %T", v)
	}
}

// toValueMap converts a driver map into a proto map; nil stays nil.
func toValueMap(m map[string]any) (map[string]*cdcstreamv1.Value, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]*cdcstreamv1.Value, len(m))
	for k, e := range m {
		ev, err := toValue(e)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out[k] = ev
	}
	return out, nil
}

// dateOf reads the calendar date of t in t's own location (the driver hydrates DATE in UTC
// and LOCAL DATETIME in time.Local, each as wall-clock fields).
func dateOf(t time.Time) *cdcstreamv1.Date {
	y, m, d := t.Date()
	return &cdcstreamv1.Date{Year: int32(y), Month: int32(m), Day: int32(d)}
}

// localTimeOf reads the wall-clock time of day of t in t's own location.
func localTimeOf(t time.Time) *cdcstreamv1.LocalTime {
	h, m, s := t.Clock()
	return &cdcstreamv1.LocalTime{Hour: int32(h), Minute: int32(m), Second: int32(s), Nanos: int32(t.Nanosecond())}
}

// dateTimeOf converts a ZONED DATETIME: the instant, plus the zone id when the location is a
// named zone, or the UTC offset when it is the driver's fixed "Offset" zone (or any other
// location that is not an IANA id: an unnamed fixed zone, or time.Local).
func dateTimeOf(t time.Time) *cdcstreamv1.DateTime {
	dt := &cdcstreamv1.DateTime{Instant: timestamppb.New(t)}
	name := t.Location().String()
	zoneAbbrev, offset := t.Zone()
	switch {
	case name == offsetZoneName || zoneAbbrev == offsetZoneName || name == "" || t.Location() == time.Local:
		dt.Zone = &cdcstreamv1.DateTime_OffsetSeconds{OffsetSeconds: int32(offset)}
	default:
		dt.Zone = &cdcstreamv1.DateTime_ZoneId{ZoneId: name}
	}
	return dt
}

// fromValue converts a cdcstreamv1.Value into the driver's parameter type for it (the inverse
// of toValue): int64, float64, neo4j.Date, time.Time with its offset or zone location, and so
// on. Values that Neo4j could not represent (a month of 13, an unknown zone id, an empty
// Value) are an error.
func fromValue(v *cdcstreamv1.Value) (any, error) {
	if v == nil {
		return nil, fmt.Errorf("value not set")
	}
	switch k := v.GetKind().(type) {
	case *cdcstreamv1.Value_NullValue:
		return nil, nil
	case *cdcstreamv1.Value_BooleanValue:
		return k.BooleanValue, nil
	case *cdcstreamv1.Value_IntegerValue:
		return k.IntegerValue, nil
	case *cdcstreamv1.Value_FloatValue:
		return k.FloatValue, nil
	case *cdcstreamv1.Value_StringValue:
		return k.StringValue, nil
	case *cdcstreamv1.Value_BytesValue:
		if k.BytesValue == nil {
			return []byte{}, nil
		}
		return k.BytesValue, nil
	case *cdcstreamv1.Value_ListValue:
		out := make([]any, len(k.ListValue.GetValues()))
		for i, e := range k.ListValue.GetValues() {
			pe, err := fromValue(e)
			if err != nil {
				return nil, fmt.Errorf("list element %d: %w", i, err)
			}
			out[i] = pe
		}
		return out, nil
	case *cdcstreamv1.Value_MapValue:
		return fromValueMap(k.MapValue.GetFields())
	case *cdcstreamv1.Value_DateValue:
		t, err := dateFrom(k.DateValue)
		if err != nil {
			return nil, err
		}
		return neo4j.Date(t), nil
	case *cdcstreamv1.Value_LocalTimeValue:
		t, err := clockFrom(k.LocalTimeValue, time.UTC)
		if err != nil {
			return nil, err
		}
		return neo4j.LocalTime(t), nil
	case *cdcstreamv1.Value_TimeValue:
		off := k.TimeValue.GetOffsetSeconds()
		if off < -maxOffsetSeconds || off > maxOffsetSeconds {
			return nil, fmt.Errorf("time offset %d s outside ±18h", off)
		}
		t, err := clockFrom(k.TimeValue.GetLocalTime(), time.FixedZone(offsetZoneName, int(off)))
		if err != nil {
			return nil, err
		}
		return neo4j.Time(t), nil
	case *cdcstreamv1.Value_LocalDateTimeValue:
		d, err := dateFrom(k.LocalDateTimeValue.GetDate())
		if err != nil {
			return nil, err
		}
		c, err := clockFrom(k.LocalDateTimeValue.GetTime(), time.UTC)
		if err != nil {
			return nil, err
		}
		return neo4j.LocalDateTime(time.Date(d.Year(), d.Month(), d.Day(),
			c.Hour(), c.Minute(), c.Second(), c.Nanosecond(), time.UTC)), nil
	case *cdcstreamv1.Value_DateTimeValue:
		return dateTimeFrom(k.DateTimeValue)
	case *cdcstreamv1.Value_DurationValue:
		d := k.DurationValue
		if d.GetNanos() < 0 || d.GetNanos() > 999_999_999 {
			return nil, fmt.Errorf("duration nanos %d outside 0..999999999", d.GetNanos())
		}
		return neo4j.Duration{Months: d.GetMonths(), Days: d.GetDays(), Seconds: d.GetSeconds(), Nanos: int(d.GetNanos())}, nil
	case *cdcstreamv1.Value_PointValue:
		p := k.PointValue
		if p.GetSrid() < 0 {
			return nil, fmt.Errorf("point srid %d is negative", p.GetSrid())
		}
		if p.Z != nil {
			return neo4j.Point3D{SpatialRefId: uint32(p.GetSrid()), X: p.GetX(), Y: p.GetY(), Z: p.GetZ()}, nil
		}
		return neo4j.Point2D{SpatialRefId: uint32(p.GetSrid()), X: p.GetX(), Y: p.GetY()}, nil
	default:
		return nil, fmt.Errorf("value kind not set")
	}
}

// fromValueMap converts a proto map into a driver parameter map.
func fromValueMap(m map[string]*cdcstreamv1.Value) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, e := range m {
		pe, err := fromValue(e)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out[k] = pe
	}
	return out, nil
}

// dateFrom validates a Date and returns midnight UTC of it.
func dateFrom(d *cdcstreamv1.Date) (time.Time, error) {
	if d == nil {
		return time.Time{}, fmt.Errorf("date not set")
	}
	t := time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, time.UTC)
	if y, m, dd := t.Date(); y != int(d.GetYear()) || int32(m) != d.GetMonth() || int32(dd) != d.GetDay() {
		return time.Time{}, fmt.Errorf("invalid date %d-%d-%d", d.GetYear(), d.GetMonth(), d.GetDay())
	}
	return t, nil
}

// clockFrom validates a LocalTime and returns it on 0000-01-01 in loc.
func clockFrom(c *cdcstreamv1.LocalTime, loc *time.Location) (time.Time, error) {
	if c == nil {
		return time.Time{}, fmt.Errorf("time of day not set")
	}
	if c.GetHour() < 0 || c.GetHour() > 23 || c.GetMinute() < 0 || c.GetMinute() > 59 ||
		c.GetSecond() < 0 || c.GetSecond() > 59 || c.GetNanos() < 0 || c.GetNanos() > 999_999_999 {
		return time.Time{}, fmt.Errorf("invalid time of day %02d:%02d:%02d.%09d",
			c.GetHour(), c.GetMinute(), c.GetSecond(), c.GetNanos())
	}
	return time.Date(0, 1, 1, int(c.GetHour()), int(c.GetMinute()), int(c.GetSecond()), int(c.GetNanos()), loc), nil
}

// dateTimeFrom validates a DateTime and returns its instant in the location the driver
// encodes as the same DateTime form: the fixed zone named "Offset", or the IANA location.
func dateTimeFrom(d *cdcstreamv1.DateTime) (time.Time, error) {
	if err := d.GetInstant().CheckValid(); err != nil {
		return time.Time{}, fmt.Errorf("date time instant: %w", err)
	}
	var loc *time.Location
	switch z := d.GetZone().(type) {
	case *cdcstreamv1.DateTime_OffsetSeconds:
		if z.OffsetSeconds < -maxOffsetSeconds || z.OffsetSeconds > maxOffsetSeconds {
			return time.Time{}, fmt.Errorf("date time offset %d s outside ±18h", z.OffsetSeconds)
		}
		loc = time.FixedZone(offsetZoneName, int(z.OffsetSeconds))
	case *cdcstreamv1.DateTime_ZoneId:
		if z.ZoneId == "" || z.ZoneId == "Local" {
			return time.Time{}, fmt.Errorf("date time zone id %q is not an IANA zone", z.ZoneId)
		}
		l, err := time.LoadLocation(z.ZoneId)
		if err != nil {
			return time.Time{}, fmt.Errorf("date time zone id %q: %w", z.ZoneId, err)
		}
		loc = l
	default:
		return time.Time{}, fmt.Errorf("date time has neither offset nor zone id")
	}
	return d.GetInstant().AsTime().In(loc), nil
}
