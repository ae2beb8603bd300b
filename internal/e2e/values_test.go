package e2e

import (
	"math"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// The suite states every property it writes as the cdcstreamv1.Value it expects to receive.
// toSim and toDriver turn that expectation into what a writer stores: the simulator's value
// model or the driver's parameter types. They go the opposite way to internal/neo4jcdc's
// conversion and share no code with it.

func lt(h, m, s, n int32) *cdcstreamv1.LocalTime {
	return &cdcstreamv1.LocalTime{Hour: h, Minute: m, Second: s, Nanos: n}
}

// valueCases is one property per Neo4j property type, with edge values.
func valueCases() map[string]*cdcstreamv1.Value {
	return map[string]*cdcstreamv1.Value{
		"bool":          testkit.Bool(true),
		"int_small":     testkit.Int(-7),
		"int_max":       testkit.Int(math.MaxInt64),
		"int_min":       testkit.Int(math.MinInt64),
		"int_2p53plus1": testkit.Int(1<<53 + 1),
		"float":         testkit.Float(-1.5e-300),
		"float_inf":     testkit.Float(math.Inf(1)),
		"string":        testkit.String("grüße, 世界 \u0000 \"quoted\""),
		"bytes":         {Kind: &cdcstreamv1.Value_BytesValue{BytesValue: []byte{0, 1, 0xfe, 0xff}}},
		"list_int":      testkit.List(testkit.Int(1), testkit.Int(math.MaxInt64), testkit.Int(-3)),
		"list_string":   testkit.List(testkit.String("a"), testkit.String("")),
		"list_date":     testkit.List(testkit.Date(2024, 2, 29), testkit.Date(1969, 12, 31)),
		"date":          testkit.Date(1, 1, 1),
		"date_neg":      testkit.Date(-44, 3, 15),
		"local_time":    {Kind: &cdcstreamv1.Value_LocalTimeValue{LocalTimeValue: lt(23, 59, 59, 999999999)}},
		"time":          {Kind: &cdcstreamv1.Value_TimeValue{TimeValue: &cdcstreamv1.Time{LocalTime: lt(12, 30, 0, 5), OffsetSeconds: -(5*3600 + 30*60)}}},
		"local_dt":      {Kind: &cdcstreamv1.Value_LocalDateTimeValue{LocalDateTimeValue: &cdcstreamv1.LocalDateTime{Date: &cdcstreamv1.Date{Year: 2024, Month: 3, Day: 3}, Time: lt(20, 51, 56, 714000000)}}},
		"dt_offset": {Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
			Instant: &timestamppb.Timestamp{Seconds: 1709499116, Nanos: 769000001},
			Zone:    &cdcstreamv1.DateTime_OffsetSeconds{OffsetSeconds: 3600 + 1800}}}},
		"dt_zone": {Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
			Instant: &timestamppb.Timestamp{Seconds: 1719792000, Nanos: 1},
			Zone:    &cdcstreamv1.DateTime_ZoneId{ZoneId: "Europe/Stockholm"}}}},
		"duration":  {Kind: &cdcstreamv1.Value_DurationValue{DurationValue: &cdcstreamv1.Duration{Months: 14, Days: -3, Seconds: 86401, Nanos: 500}}},
		"point_2d":  {Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: 4326, X: 18.0686, Y: 59.3293}}},
		"point_3d":  {Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: 9157, X: 1, Y: -2, Z: ptr(3.5)}}},
		"point_c2d": {Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: 7203, X: 0.1, Y: 0.2}}},
	}
}

func ptr[T any](v T) *T { return &v }

func civil(d *cdcstreamv1.Date, t *cdcstreamv1.LocalTime, loc *time.Location) time.Time {
	if t == nil {
		t = &cdcstreamv1.LocalTime{}
	}
	return time.Date(int(d.Year), time.Month(d.Month), int(d.Day), int(t.Hour), int(t.Minute), int(t.Second), int(t.Nanos), loc)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func nanosOfDay(t *cdcstreamv1.LocalTime) int64 {
	return ((int64(t.Hour)*60+int64(t.Minute))*60+int64(t.Second))*1e9 + int64(t.Nanos)
}

func toSimProps(props map[string]*cdcstreamv1.Value) map[string]any {
	out := make(map[string]any, len(props))
	for k, v := range props {
		out[k] = toSim(v)
	}
	return out
}

func toSim(v *cdcstreamv1.Value) any {
	switch k := v.Kind.(type) {
	case *cdcstreamv1.Value_NullValue:
		return nil
	case *cdcstreamv1.Value_BooleanValue:
		return k.BooleanValue
	case *cdcstreamv1.Value_IntegerValue:
		return k.IntegerValue
	case *cdcstreamv1.Value_FloatValue:
		return k.FloatValue
	case *cdcstreamv1.Value_StringValue:
		return k.StringValue
	case *cdcstreamv1.Value_BytesValue:
		return k.BytesValue
	case *cdcstreamv1.Value_ListValue:
		l := make([]any, len(k.ListValue.Values))
		for i, e := range k.ListValue.Values {
			l[i] = toSim(e)
		}
		return l
	case *cdcstreamv1.Value_MapValue:
		return toSimProps(k.MapValue.Fields)
	case *cdcstreamv1.Value_DateValue:
		return neo4jsim.Date{EpochDays: floorDiv(civil(k.DateValue, nil, time.UTC).Unix(), 86400)}
	case *cdcstreamv1.Value_LocalTimeValue:
		return neo4jsim.LocalTime{NanosOfDay: nanosOfDay(k.LocalTimeValue)}
	case *cdcstreamv1.Value_TimeValue:
		return neo4jsim.Time{NanosOfDay: nanosOfDay(k.TimeValue.LocalTime), OffsetSeconds: int64(k.TimeValue.OffsetSeconds)}
	case *cdcstreamv1.Value_LocalDateTimeValue:
		t := civil(k.LocalDateTimeValue.Date, k.LocalDateTimeValue.Time, time.UTC)
		return neo4jsim.LocalDateTime{EpochSeconds: t.Unix(), Nanos: int64(t.Nanosecond())}
	case *cdcstreamv1.Value_DateTimeValue:
		dt := k.DateTimeValue
		out := neo4jsim.DateTime{EpochSeconds: dt.Instant.Seconds, Nanos: int64(dt.Instant.Nanos)}
		switch z := dt.Zone.(type) {
		case *cdcstreamv1.DateTime_OffsetSeconds:
			out.OffsetSeconds = int64(z.OffsetSeconds)
		case *cdcstreamv1.DateTime_ZoneId:
			out.ZoneID = z.ZoneId
		}
		return out
	case *cdcstreamv1.Value_DurationValue:
		d := k.DurationValue
		return neo4jsim.Duration{Months: d.Months, Days: d.Days, Seconds: d.Seconds, Nanos: int64(d.Nanos)}
	case *cdcstreamv1.Value_PointValue:
		p := k.PointValue
		if p.Z != nil {
			return neo4jsim.Point3D{SRID: int64(p.Srid), X: p.X, Y: p.Y, Z: *p.Z}
		}
		return neo4jsim.Point2D{SRID: int64(p.Srid), X: p.X, Y: p.Y}
	}
	panic("e2e: unhandled value kind in test data")
}

func toDriverProps(props map[string]*cdcstreamv1.Value) map[string]any {
	out := make(map[string]any, len(props))
	for k, v := range props {
		out[k] = toDriver(v)
	}
	return out
}

func toDriver(v *cdcstreamv1.Value) any {
	switch k := v.Kind.(type) {
	case *cdcstreamv1.Value_ListValue:
		l := make([]any, len(k.ListValue.Values))
		for i, e := range k.ListValue.Values {
			l[i] = toDriver(e)
		}
		return l
	case *cdcstreamv1.Value_MapValue:
		return toDriverProps(k.MapValue.Fields)
	case *cdcstreamv1.Value_DateValue:
		return neo4j.DateOf(civil(k.DateValue, nil, time.UTC))
	case *cdcstreamv1.Value_LocalTimeValue:
		return neo4j.LocalTimeOf(civil(&cdcstreamv1.Date{Year: 1970, Month: 1, Day: 1}, k.LocalTimeValue, time.UTC))
	case *cdcstreamv1.Value_TimeValue:
		loc := time.FixedZone("Offset", int(k.TimeValue.OffsetSeconds))
		return neo4j.OffsetTimeOf(civil(&cdcstreamv1.Date{Year: 1970, Month: 1, Day: 1}, k.TimeValue.LocalTime, loc))
	case *cdcstreamv1.Value_LocalDateTimeValue:
		return neo4j.LocalDateTimeOf(civil(k.LocalDateTimeValue.Date, k.LocalDateTimeValue.Time, time.UTC))
	case *cdcstreamv1.Value_DateTimeValue:
		dt := k.DateTimeValue
		t := time.Unix(dt.Instant.Seconds, int64(dt.Instant.Nanos))
		switch z := dt.Zone.(type) {
		case *cdcstreamv1.DateTime_OffsetSeconds:
			return t.In(time.FixedZone("Offset", int(z.OffsetSeconds)))
		case *cdcstreamv1.DateTime_ZoneId:
			loc, err := time.LoadLocation(z.ZoneId)
			if err != nil {
				panic("e2e: test zone id: " + err.Error())
			}
			return t.In(loc)
		}
		return t.UTC()
	case *cdcstreamv1.Value_DurationValue:
		d := k.DurationValue
		return neo4j.DurationOf(d.Months, d.Days, d.Seconds, int(d.Nanos))
	case *cdcstreamv1.Value_PointValue:
		p := k.PointValue
		if p.Z != nil {
			return neo4j.Point3D{SpatialRefId: uint32(p.Srid), X: p.X, Y: p.Y, Z: *p.Z}
		}
		return neo4j.Point2D{SpatialRefId: uint32(p.Srid), X: p.X, Y: p.Y}
	}
	return toSim(v) // scalars are the same Go types in both models
}
