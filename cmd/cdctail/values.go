package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// value renders a cdcstream Value for JSON output: null, booleans, strings and exact integers
// as themselves; floats as JSON numbers that keep a fraction (1.0) or as "NaN"/"Infinity"
// strings; bytes as base64; temporal values as ISO-8601 strings; points as {srid,x,y,z}.
func value(v *cdcstreamv1.Value) any {
	switch k := v.GetKind().(type) {
	case nil, *cdcstreamv1.Value_NullValue:
		return nil
	case *cdcstreamv1.Value_BooleanValue:
		return k.BooleanValue
	case *cdcstreamv1.Value_IntegerValue:
		return k.IntegerValue // encoding/json writes int64 exactly
	case *cdcstreamv1.Value_FloatValue:
		return float(k.FloatValue)
	case *cdcstreamv1.Value_StringValue:
		return k.StringValue
	case *cdcstreamv1.Value_BytesValue:
		return base64.StdEncoding.EncodeToString(k.BytesValue)
	case *cdcstreamv1.Value_ListValue:
		out := make([]any, 0, len(k.ListValue.GetValues()))
		for _, e := range k.ListValue.GetValues() {
			out = append(out, value(e))
		}
		return out
	case *cdcstreamv1.Value_MapValue:
		return valueMap(k.MapValue.GetFields())
	case *cdcstreamv1.Value_DateValue:
		return formatDate(k.DateValue)
	case *cdcstreamv1.Value_LocalTimeValue:
		return formatLocalTime(k.LocalTimeValue)
	case *cdcstreamv1.Value_TimeValue:
		return formatLocalTime(k.TimeValue.GetLocalTime()) + formatOffset(k.TimeValue.GetOffsetSeconds())
	case *cdcstreamv1.Value_LocalDateTimeValue:
		return formatDate(k.LocalDateTimeValue.GetDate()) + "T" + formatLocalTime(k.LocalDateTimeValue.GetTime())
	case *cdcstreamv1.Value_DateTimeValue:
		return formatDateTime(k.DateTimeValue)
	case *cdcstreamv1.Value_DurationValue:
		return formatDuration(k.DurationValue)
	case *cdcstreamv1.Value_PointValue:
		p := k.PointValue
		out := map[string]any{"srid": p.GetSrid(), "x": float(p.GetX()), "y": float(p.GetY())}
		if p.Z != nil {
			out["z"] = float(p.GetZ())
		}
		return out
	default:
		return fmt.Sprintf("<unknown value kind %T>", k)
	}
}

// valueMap renders a map of values; never nil, so it prints as {}.
func valueMap(m map[string]*cdcstreamv1.Value) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = value(v)
	}
	return out
}

// float renders a double: a JSON number with a fraction or exponent, so it stays
// distinguishable from an integer, or a string for the values JSON cannot hold.
func float(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return json.Number(s)
}

// formatYear renders a year the way ISO-8601 (and Neo4j) does: four digits, a sign outside
// 0000..9999.
func formatYear(y int64) string {
	switch {
	case y < 0:
		return fmt.Sprintf("-%04d", -y)
	case y > 9999:
		return fmt.Sprintf("+%d", y)
	default:
		return fmt.Sprintf("%04d", y)
	}
}

// formatDate renders 2024-03-03.
func formatDate(d *cdcstreamv1.Date) string {
	return fmt.Sprintf("%s-%02d-%02d", formatYear(int64(d.GetYear())), d.GetMonth(), d.GetDay())
}

// formatLocalTime renders 12:30:05 or 12:30:05.5 (fraction without trailing zeros).
func formatLocalTime(t *cdcstreamv1.LocalTime) string {
	return fmt.Sprintf("%02d:%02d:%02d", t.GetHour(), t.GetMinute(), t.GetSecond()) + fraction(int64(t.GetNanos()))
}

// fraction renders nanoseconds as ".5" style, or "" for zero.
func fraction(nanos int64) string {
	if nanos <= 0 {
		return ""
	}
	return "." + strings.TrimRight(fmt.Sprintf("%09d", nanos), "0")
}

// formatOffset renders a UTC offset: Z, +01:00, or -03:30:15.
func formatOffset(seconds int32) string {
	if seconds == 0 {
		return "Z"
	}
	sign := '+'
	s := int64(seconds)
	if s < 0 {
		sign, s = '-', -s
	}
	out := fmt.Sprintf("%c%02d:%02d", sign, s/3600, s/60%60)
	if s%60 != 0 {
		out += fmt.Sprintf(":%02d", s%60)
	}
	return out
}

// formatDateTime renders the local date-time at the value's offset or zone, then the offset,
// and "[zone id]" when the value has one: 2024-03-03T21:51:56.769+01:00[Europe/Stockholm].
func formatDateTime(dt *cdcstreamv1.DateTime) string {
	instant := dt.GetInstant().AsTime()
	var local time.Time
	var suffix string
	switch z := dt.GetZone().(type) {
	case *cdcstreamv1.DateTime_ZoneId:
		suffix = "[" + z.ZoneId + "]"
		if loc, err := time.LoadLocation(z.ZoneId); err == nil {
			local = instant.In(loc)
		} else {
			local = instant.UTC()
		}
	case *cdcstreamv1.DateTime_OffsetSeconds:
		local = instant.In(time.FixedZone("", int(z.OffsetSeconds)))
	default:
		local = instant.UTC()
	}
	_, off := local.Zone()
	return localDateTime(local) + formatOffset(int32(off)) + suffix
}

// localDateTime renders t's wall clock without an offset.
func localDateTime(t time.Time) string {
	return fmt.Sprintf("%s-%02d-%02dT%02d:%02d:%02d", formatYear(int64(t.Year())), t.Month(), t.Day(),
		t.Hour(), t.Minute(), t.Second()) + fraction(int64(t.Nanosecond()))
}

// formatTimestamp renders a UTC instant the way Neo4j's metadata times read: 2024-03-03T20:51:56.769Z.
func formatTimestamp(t time.Time) string {
	return localDateTime(t.UTC()) + "Z"
}

// formatDuration renders an ISO-8601 duration as Neo4j does: P1Y2M3DT4H5M6.5S, PT0S for zero;
// months, days and seconds keep their own signs.
func formatDuration(d *cdcstreamv1.Duration) string {
	var b strings.Builder
	b.WriteString("P")
	months, days := d.GetMonths(), d.GetDays()
	if y := months / 12; y != 0 {
		fmt.Fprintf(&b, "%dY", y)
	}
	if m := months % 12; m != 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	if days != 0 {
		fmt.Fprintf(&b, "%dD", days)
	}
	secs, nanos := d.GetSeconds(), int64(d.GetNanos())
	neg := secs < 0
	if neg && nanos > 0 {
		secs, nanos = secs+1, 1_000_000_000-nanos
	}
	abs := uint64(secs)
	if secs < 0 {
		abs = uint64(-(secs + 1)) + 1 // safe for math.MinInt64
	}
	sign := ""
	if neg {
		sign = "-"
	}
	if abs != 0 || nanos != 0 {
		b.WriteString("T")
		if h := abs / 3600; h != 0 {
			fmt.Fprintf(&b, "%s%dH", sign, h)
		}
		if m := abs / 60 % 60; m != 0 {
			fmt.Fprintf(&b, "%s%dM", sign, m)
		}
		if s := abs % 60; s != 0 || nanos != 0 {
			fmt.Fprintf(&b, "%s%d%sS", sign, s, fraction(nanos))
		}
	}
	if b.Len() == 1 {
		return "PT0S"
	}
	return b.String()
}
