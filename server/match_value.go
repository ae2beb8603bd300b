package server

import (
	"bytes"
	"math"
	"slices"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// This file holds what Matcher compares: a node's label sets before and after a change, and
// two equalities on values, Cypher's = (selector values against event values) and "the same
// stored value" (changesTo on a FULL update).

// nodeLabels gives a node's complete label sets before and after a change.
//
// Creates have only an after state and deletes only a before state, both complete. FULL
// updates carry both complete sets. A DIFF update carries only the removed labels (before)
// and the added labels (after); the complete sets follow from the event's top-level labels,
// which describe the node on one side of the change: if every removed label is in them and
// no added one, they are the labels before (Neo4j's documented reading), otherwise they are
// the labels after. Either reading gives the same sets when no label changed.
type nodeLabels struct {
	hasBefore, hasAfter bool
	before, after       []string // complete sets, when !diff
	diff                bool
	top                 []string // DIFF update: the top-level labels
	removed, added      []string // DIFF update: the states' labels
	topIsBefore         bool
}

func labelsOf(n *cdcstreamv1.NodeEvent, mode cdcstreamv1.CaptureMode) nodeLabels {
	top := n.GetLabels()
	switch n.GetOperation() {
	case cdcstreamv1.Operation_OPERATION_CREATE:
		if a := n.GetAfter(); a != nil {
			return nodeLabels{hasAfter: true, after: a.GetLabels()}
		}
		return nodeLabels{hasAfter: true, after: top}
	case cdcstreamv1.Operation_OPERATION_DELETE:
		if b := n.GetBefore(); b != nil {
			return nodeLabels{hasBefore: true, before: b.GetLabels()}
		}
		return nodeLabels{hasBefore: true, before: top}
	}
	b, a := n.GetBefore(), n.GetAfter()
	if b == nil || a == nil {
		// A malformed update: the top-level labels are all there is.
		return nodeLabels{hasBefore: true, before: top}
	}
	if mode == cdcstreamv1.CaptureMode_CAPTURE_MODE_FULL {
		return nodeLabels{hasBefore: true, hasAfter: true, before: b.GetLabels(), after: a.GetLabels()}
	}
	nl := nodeLabels{hasBefore: true, hasAfter: true, diff: true, top: top, removed: b.GetLabels(), added: a.GetLabels()}
	nl.topIsBefore = containsAll(top, nl.removed) && !containsAny(top, nl.added)
	return nl
}

// hasAllBeforeOrAfter reports whether the node had all of want before the change, or has
// all of them after it.
func (nl *nodeLabels) hasAllBeforeOrAfter(want []string) bool {
	if !nl.diff {
		return (nl.hasBefore && containsAll(nl.before, want)) || (nl.hasAfter && containsAll(nl.after, want))
	}
	before, after := true, true
	for _, w := range want {
		inTop := slices.Contains(nl.top, w)
		if nl.topIsBefore {
			before = before && inTop
			after = after && ((inTop && !slices.Contains(nl.removed, w)) || slices.Contains(nl.added, w))
		} else {
			after = after && inTop
			before = before && ((inTop && !slices.Contains(nl.added, w)) || slices.Contains(nl.removed, w))
		}
		if !before && !after {
			return false
		}
	}
	return before || after
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func containsAny(have, some []string) bool {
	for _, w := range some {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}

// cypherEqual is Cypher's = as Neo4j's selectors apply it to a selector value a and an event
// value b, for values that are true-or-false (a null or NaN anywhere is never equal):
// integers and floats compare numerically (1 = 1.0, exactly: 2^53+1 <> 2^53 as a float),
// lists element by element, maps by their entries, temporal values by all their fields (a
// DateTime by instant and zone: a zone id never equals an offset), durations by months,
// days, seconds and nanoseconds, points by SRID and coordinates.
func cypherEqual(a, b *cdcstreamv1.Value) bool {
	if eq, ok := equalContainers(a, b, cypherEqual); ok {
		return eq
	}
	switch x := a.GetKind().(type) {
	case *cdcstreamv1.Value_IntegerValue:
		switch y := b.GetKind().(type) {
		case *cdcstreamv1.Value_IntegerValue:
			return x.IntegerValue == y.IntegerValue
		case *cdcstreamv1.Value_FloatValue:
			return intEqualsFloat(x.IntegerValue, y.FloatValue)
		}
		return false
	case *cdcstreamv1.Value_FloatValue:
		switch y := b.GetKind().(type) {
		case *cdcstreamv1.Value_FloatValue:
			return x.FloatValue == y.FloatValue
		case *cdcstreamv1.Value_IntegerValue:
			return intEqualsFloat(y.IntegerValue, x.FloatValue)
		}
		return false
	}
	return scalarEqual(a, b, false)
}

// equalContainers compares lists element by element and maps entry by entry with eq (the
// rule of the caller, cypherEqual or sameValue); handled is false when a is neither.
func equalContainers(a, b *cdcstreamv1.Value, eq func(x, y *cdcstreamv1.Value) bool) (equal, handled bool) {
	switch x := a.GetKind().(type) {
	case *cdcstreamv1.Value_ListValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_ListValue)
		if !ok {
			return false, true
		}
		xs, ys := x.ListValue.GetValues(), y.ListValue.GetValues()
		if len(xs) != len(ys) {
			return false, true
		}
		for i := range xs {
			if !eq(xs[i], ys[i]) {
				return false, true
			}
		}
		return true, true
	case *cdcstreamv1.Value_MapValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_MapValue)
		if !ok {
			return false, true
		}
		xm, ym := x.MapValue.GetFields(), y.MapValue.GetFields()
		if len(xm) != len(ym) {
			return false, true
		}
		for k, xv := range xm {
			yv, ok := ym[k]
			if !ok || !eq(xv, yv) {
				return false, true
			}
		}
		return true, true
	}
	return false, false
}

// intEqualsFloat reports whether integer i and float f are the same number.
func intEqualsFloat(i int64, f float64) bool {
	return f == math.Trunc(f) && math.Abs(f) < 1<<63 && int64(f) == i && float64(i) == f
}

// sameValue reports whether a and b are the same stored value: the same kind (an integer
// never equals a float), floats equal or both NaN, lists and maps of the same values. It is
// how an update tells an unchanged property from a changed one.
func sameValue(a, b *cdcstreamv1.Value) bool {
	if eq, ok := equalContainers(a, b, sameValue); ok {
		return eq
	}
	switch x := a.GetKind().(type) {
	case *cdcstreamv1.Value_IntegerValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_IntegerValue)
		return ok && x.IntegerValue == y.IntegerValue
	case *cdcstreamv1.Value_FloatValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_FloatValue)
		return ok && sameFloat(x.FloatValue, y.FloatValue)
	case *cdcstreamv1.Value_NullValue:
		_, ok := b.GetKind().(*cdcstreamv1.Value_NullValue)
		return ok
	}
	return scalarEqual(a, b, true)
}

func sameFloat(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }

// scalarEqual compares the kinds that are neither numbers nor collections: booleans,
// strings, bytes, temporal values and points. same selects sameValue's float rule for point
// coordinates (NaN equals NaN) over Cypher's.
func scalarEqual(a, b *cdcstreamv1.Value, same bool) bool {
	switch x := a.GetKind().(type) {
	case *cdcstreamv1.Value_BooleanValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_BooleanValue)
		return ok && x.BooleanValue == y.BooleanValue
	case *cdcstreamv1.Value_StringValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_StringValue)
		return ok && x.StringValue == y.StringValue
	case *cdcstreamv1.Value_BytesValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_BytesValue)
		return ok && bytes.Equal(x.BytesValue, y.BytesValue)
	case *cdcstreamv1.Value_DateValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_DateValue)
		return ok && dateEqual(x.DateValue, y.DateValue)
	case *cdcstreamv1.Value_LocalTimeValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_LocalTimeValue)
		return ok && localTimeEqual(x.LocalTimeValue, y.LocalTimeValue)
	case *cdcstreamv1.Value_TimeValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_TimeValue)
		return ok && localTimeEqual(x.TimeValue.GetLocalTime(), y.TimeValue.GetLocalTime()) &&
			x.TimeValue.GetOffsetSeconds() == y.TimeValue.GetOffsetSeconds()
	case *cdcstreamv1.Value_LocalDateTimeValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_LocalDateTimeValue)
		return ok && dateEqual(x.LocalDateTimeValue.GetDate(), y.LocalDateTimeValue.GetDate()) &&
			localTimeEqual(x.LocalDateTimeValue.GetTime(), y.LocalDateTimeValue.GetTime())
	case *cdcstreamv1.Value_DateTimeValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_DateTimeValue)
		return ok && dateTimeEqual(x.DateTimeValue, y.DateTimeValue)
	case *cdcstreamv1.Value_DurationValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_DurationValue)
		if !ok {
			return false
		}
		dx, dy := x.DurationValue, y.DurationValue
		return dx.GetMonths() == dy.GetMonths() && dx.GetDays() == dy.GetDays() &&
			dx.GetSeconds() == dy.GetSeconds() && dx.GetNanos() == dy.GetNanos()
	case *cdcstreamv1.Value_PointValue:
		y, ok := b.GetKind().(*cdcstreamv1.Value_PointValue)
		if !ok {
			return false
		}
		return pointEqual(x.PointValue, y.PointValue, same)
	}
	return false // null, or no kind: never equal in Cypher
}

func dateEqual(x, y *cdcstreamv1.Date) bool {
	return x.GetYear() == y.GetYear() && x.GetMonth() == y.GetMonth() && x.GetDay() == y.GetDay()
}

func localTimeEqual(x, y *cdcstreamv1.LocalTime) bool {
	return x.GetHour() == y.GetHour() && x.GetMinute() == y.GetMinute() &&
		x.GetSecond() == y.GetSecond() && x.GetNanos() == y.GetNanos()
}

func dateTimeEqual(x, y *cdcstreamv1.DateTime) bool {
	if x.GetInstant().GetSeconds() != y.GetInstant().GetSeconds() || x.GetInstant().GetNanos() != y.GetInstant().GetNanos() {
		return false
	}
	switch zx := x.GetZone().(type) {
	case *cdcstreamv1.DateTime_OffsetSeconds:
		zy, ok := y.GetZone().(*cdcstreamv1.DateTime_OffsetSeconds)
		return ok && zx.OffsetSeconds == zy.OffsetSeconds
	case *cdcstreamv1.DateTime_ZoneId:
		zy, ok := y.GetZone().(*cdcstreamv1.DateTime_ZoneId)
		return ok && zx.ZoneId == zy.ZoneId
	}
	return y.GetZone() == nil
}

func pointEqual(x, y *cdcstreamv1.Point, same bool) bool {
	eq := func(a, b float64) bool { return a == b }
	if same {
		eq = sameFloat
	}
	if x.GetSrid() != y.GetSrid() || !eq(x.GetX(), y.GetX()) || !eq(x.GetY(), y.GetY()) {
		return false
	}
	if (x.Z == nil) != (y.Z == nil) {
		return false
	}
	return x.Z == nil || eq(*x.Z, *y.Z)
}
