package server

import (
	"math"
	"sort"
	"strconv"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// validateSelector checks one selector; field is its path, e.g. "selectors[2]". All
// violations have reason INVALID_SELECTOR.
func validateSelector(s *cdcstreamv1.Selector, field string, vs *violations) {
	switch k := s.GetKind().(type) {
	case *cdcstreamv1.Selector_Entity:
		e := k.Entity
		f := field + ".entity"
		validateCommon(f, e.GetOperation(), e.GetChangesTo(), e.GetTxMetadata(), vs)
		validateLengths(f, vs, "executing_user", e.GetExecutingUser(), "authenticated_user", e.GetAuthenticatedUser())
		validateProjection(f+".projection", e.GetProjection(), vs)
	case *cdcstreamv1.Selector_Node:
		n := k.Node
		f := field + ".node"
		validateCommon(f, n.GetOperation(), n.GetChangesTo(), n.GetTxMetadata(), vs)
		validateLengths(f, vs, "executing_user", n.GetExecutingUser(), "authenticated_user", n.GetAuthenticatedUser(),
			"element_id", n.GetElementId())
		validateNames(f+".labels", n.GetLabels(), "label", vs)
		validateValueMap(f+".key", n.GetKey(), true, vs)
		validateProjection(f+".projection", n.GetProjection(), vs)
	case *cdcstreamv1.Selector_Relationship:
		r := k.Relationship
		f := field + ".relationship"
		validateCommon(f, r.GetOperation(), r.GetChangesTo(), r.GetTxMetadata(), vs)
		validateLengths(f, vs, "executing_user", r.GetExecutingUser(), "authenticated_user", r.GetAuthenticatedUser(),
			"element_id", r.GetElementId(), "type", r.GetType())
		validateNodeMatcher(f+".start", r.GetStart(), vs)
		validateNodeMatcher(f+".end", r.GetEnd(), vs)
		validateValueMap(f+".key", r.GetKey(), true, vs)
		validateProjection(f+".projection", r.GetProjection(), vs)
	default:
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field, "exactly one of entity, node or relationship must be set")
	}
}

// validateCommon checks the fields every selector kind has.
func validateCommon(field string, op cdcstreamv1.Operation, changesTo []string,
	txMetadata map[string]*cdcstreamv1.Value, vs *violations) {
	if _, known := cdcstreamv1.Operation_name[int32(op)]; !known {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field+".operation", "unknown operation %d", int32(op))
	}
	validateNames(field+".changes_to", changesTo, "property name", vs)
	validateValueMap(field+".tx_metadata", txMetadata, false, vs)
}

// validateNames rejects empty and overlong strings in a list of names.
func validateNames(field string, names []string, what string, vs *violations) {
	for i, n := range names {
		validateName(field+"["+strconv.Itoa(i)+"]", n, what, vs)
	}
}

// validateLengths rejects overlong optional strings, given as name, value pairs.
func validateLengths(field string, vs *violations, pairs ...string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if v := pairs[i+1]; len(v) > maxNameLen {
			validateName(field+"."+pairs[i], v, pairs[i], vs)
		}
	}
}

// validateName rejects an empty or overlong name.
func validateName(field, name, what string, vs *violations) {
	switch {
	case name == "":
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field, "%s must not be empty", what)
	case len(name) > maxNameLen:
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field, "%s of %d bytes exceeds the limit of %d bytes", what, len(name), maxNameLen)
	}
}

// validateProjection checks the property names of a projection (server/projection.go).
func validateProjection(field string, p *cdcstreamv1.Projection, vs *violations) {
	validateNames(field+".include", p.GetInclude(), "property name", vs)
	validateNames(field+".exclude", p.GetExclude(), "property name", vs)
}

// validateNodeMatcher checks the start or end matcher of a relationship selector.
func validateNodeMatcher(field string, m *cdcstreamv1.NodeMatcher, vs *violations) {
	if m == nil {
		return
	}
	validateLengths(field, vs, "element_id", m.GetElementId())
	validateNames(field+".labels", m.GetLabels(), "label", vs)
	validateValueMap(field+".key", m.GetKey(), true, vs)
}

// validateValueMap checks a map of selector values in key order (so reports are stable).
// properties says the values are property values, which cannot be maps.
func validateValueMap(field string, m map[string]*cdcstreamv1.Value, properties bool, vs *violations) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := field + "[" + echo(k) + "]"
		if k == "" || len(k) > maxNameLen {
			validateName(f, k, "key", vs)
			continue
		}
		validateValue(f, m[k], properties, 0, vs)
	}
}

// validateValue checks that v is a well-formed value Neo4j can compare for equality: a kind
// is set, it is not null or NaN (never equal to anything in Cypher), temporal fields are in
// range, points have a known CRS with matching dimension, and nesting is bounded.
func validateValue(field string, v *cdcstreamv1.Value, property bool, depth int, vs *violations) {
	if depth > maxValueDepth {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field, "values nest deeper than %d levels", maxValueDepth)
		return
	}
	bad := func(format string, args ...any) {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field, format, args...)
	}
	switch k := v.GetKind().(type) {
	case nil:
		bad("value must have a kind")
	case *cdcstreamv1.Value_NullValue:
		bad("null never equals anything in Neo4j; leave the entry out instead")
	case *cdcstreamv1.Value_BooleanValue, *cdcstreamv1.Value_IntegerValue,
		*cdcstreamv1.Value_StringValue, *cdcstreamv1.Value_BytesValue:
	case *cdcstreamv1.Value_FloatValue:
		if math.IsNaN(k.FloatValue) {
			bad("NaN never equals anything in Neo4j")
		}
	case *cdcstreamv1.Value_ListValue:
		for i, e := range k.ListValue.GetValues() {
			validateValue(field+".list_value.values["+strconv.Itoa(i)+"]", e, property, depth+1, vs)
		}
	case *cdcstreamv1.Value_MapValue:
		if property {
			bad("property values cannot be maps")
			return
		}
		m := k.MapValue.GetFields()
		keys := make([]string, 0, len(m))
		for key := range m {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			f := field + ".map_value.fields[" + echo(key) + "]"
			if len(key) > maxNameLen {
				validateName(f, key, "key", vs)
				continue
			}
			validateValue(f, m[key], property, depth+1, vs)
		}
	case *cdcstreamv1.Value_DateValue:
		validateDate(field+".date_value", k.DateValue, vs)
	case *cdcstreamv1.Value_LocalTimeValue:
		validateLocalTime(field+".local_time_value", k.LocalTimeValue, vs)
	case *cdcstreamv1.Value_TimeValue:
		f := field + ".time_value"
		validateLocalTime(f+".local_time", k.TimeValue.GetLocalTime(), vs)
		validateOffset(f+".offset_seconds", k.TimeValue.GetOffsetSeconds(), vs)
	case *cdcstreamv1.Value_LocalDateTimeValue:
		f := field + ".local_date_time_value"
		validateDate(f+".date", k.LocalDateTimeValue.GetDate(), vs)
		validateLocalTime(f+".time", k.LocalDateTimeValue.GetTime(), vs)
	case *cdcstreamv1.Value_DateTimeValue:
		f := field + ".date_time_value"
		dt := k.DateTimeValue
		if ts := dt.GetInstant(); ts == nil {
			vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, f+".instant", "instant must be set")
		} else if ts.GetNanos() < 0 || ts.GetNanos() > 999_999_999 {
			vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, f+".instant.nanos", "nanos %d outside 0..999999999", ts.GetNanos())
		} else if ts.GetSeconds() < minInstantSeconds || ts.GetSeconds() > maxInstantSeconds {
			vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, f+".instant.seconds", "seconds %d outside Neo4j's DateTime range", ts.GetSeconds())
		}
		switch z := dt.GetZone().(type) {
		case nil:
			vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, f, "exactly one of offset_seconds or zone_id must be set")
		case *cdcstreamv1.DateTime_OffsetSeconds:
			validateOffset(f+".offset_seconds", z.OffsetSeconds, vs)
		case *cdcstreamv1.DateTime_ZoneId:
			if z.ZoneId == "" {
				vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, f+".zone_id", "zone id must not be empty")
			} else if !knownZone(z.ZoneId) {
				vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, f+".zone_id", "unknown time zone %s (want an IANA zone id such as Europe/Stockholm)", echo(z.ZoneId))
			}
		}
	case *cdcstreamv1.Value_DurationValue:
		if n := k.DurationValue.GetNanos(); n < 0 || n > 999_999_999 {
			vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field+".duration_value.nanos", "nanos %d outside 0..999999999", n)
		}
	case *cdcstreamv1.Value_PointValue:
		validatePoint(field+".point_value", k.PointValue, vs)
	default:
		bad("unknown value kind")
	}
}

// Neo4j's coordinate reference systems.
const (
	sridCartesian2D = 7203
	sridCartesian3D = 9157
	sridWGS842D     = 4326
	sridWGS843D     = 4979
)

func validatePoint(field string, p *cdcstreamv1.Point, vs *violations) {
	var threeD, wgs bool
	switch p.GetSrid() {
	case sridCartesian2D:
	case sridCartesian3D:
		threeD = true
	case sridWGS842D:
		wgs = true
	case sridWGS843D:
		threeD, wgs = true, true
	default:
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field+".srid", "unknown SRID %d (want 7203, 9157, 4326 or 4979)", p.GetSrid())
		return
	}
	if p.Z != nil && !threeD {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field+".z", "z is only allowed for 3D points (SRID 9157, 4979)")
	}
	if p.Z == nil && threeD {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field+".z", "z is required for 3D points (SRID %d)", p.GetSrid())
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"x", p.GetX()}, {"y", p.GetY()}, {"z", p.GetZ()}} {
		if math.IsNaN(c.v) || math.IsInf(c.v, 0) {
			vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field+"."+c.name, "coordinate must be finite")
		}
	}
	if wgs && (p.GetY() < -90 || p.GetY() > 90) {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field+".y", "WGS-84 latitude %v outside -90..90", p.GetY())
	}
}

// Neo4j's supported year range.
const (
	minYear = -999_999_999
	maxYear = 999_999_999
)

func validateDate(field string, d *cdcstreamv1.Date, vs *violations) {
	if d == nil {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field, "date must be set")
		return
	}
	if d.GetYear() < minYear || d.GetYear() > maxYear {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field+".year", "year %d outside Neo4j's range", d.GetYear())
	}
	if d.GetMonth() < 1 || d.GetMonth() > 12 {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field+".month", "month %d outside 1..12", d.GetMonth())
		return
	}
	if max := daysIn(int64(d.GetYear()), d.GetMonth()); d.GetDay() < 1 || d.GetDay() > max {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field+".day", "day %d outside 1..%d", d.GetDay(), max)
	}
}

// daysIn returns the number of days of month in year (proleptic Gregorian).
func daysIn(year int64, month int32) int32 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	default:
		return 31
	}
}

func validateLocalTime(field string, t *cdcstreamv1.LocalTime, vs *violations) {
	if t == nil {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field, "time must be set")
		return
	}
	check := func(name string, v, max int32) {
		if v < 0 || v > max {
			vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field+"."+name, "%s %d outside 0..%d", name, v, max)
		}
	}
	check("hour", t.GetHour(), 23)
	check("minute", t.GetMinute(), 59)
	check("second", t.GetSecond(), 59)
	check("nanos", t.GetNanos(), 999_999_999)
}

// maxOffsetSeconds is the largest UTC offset Neo4j (java.time.ZoneOffset) accepts: 18 hours.
const maxOffsetSeconds = 18 * 3600

func validateOffset(field string, s int32, vs *violations) {
	if s < -maxOffsetSeconds || s > maxOffsetSeconds {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field, "offset %ds outside -18h..+18h", s)
	}
}
