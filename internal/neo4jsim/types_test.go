package neo4jsim_test

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"
)

// TestBolt5TypesRoundTripThroughTheDriver sends every parameter type the driver can pack and
// checks that RETURN $v gives back the same value: the simulator decodes the driver's
// PackStream (including the Bolt 5 temporal and spatial structures) and re-encodes it.
func TestBolt5TypesRoundTripThroughTheDriver(t *testing.T) {
	srv, _ := startServer(t)
	ctx := testContext(t)
	drv := newDriver(t, srv.BoltURI(), neo4j.AuthToken{})
	instant := time.Date(2024, 3, 3, 11, 58, 30, 429000000, time.UTC)
	offset := instant.In(time.FixedZone("Offset", -5400))
	sameString := func(a, b any) bool { return fmt.Sprintf("%T %v", a, a) == fmt.Sprintf("%T %v", b, b) }
	sameTime := func(a, b any) bool {
		x, ok1 := a.(time.Time)
		y, ok2 := b.(time.Time)
		_, ox := x.Zone()
		_, oy := y.Zone()
		return ok1 && ok2 && x.Equal(y) && ox == oy && x.Location().String() == y.Location().String()
	}
	cases := []struct {
		name string
		v    any
		same func(sent, got any) bool
	}{
		{"null", nil, sameString},
		{"bool", true, sameString},
		{"int min", int64(math.MinInt64), func(a, b any) bool { return b == a }},
		{"int max", int64(math.MaxInt64), func(a, b any) bool { return b == a }},
		{"float", -1.25e300, func(a, b any) bool { return b == a }},
		{"string", "ünïcödé ✓ " + string(make([]byte, 70000)), func(a, b any) bool { return b == a }},
		{"bytes", []byte{0, 1, 254, 255}, func(a, b any) bool { x, ok := b.([]byte); return ok && bytes.Equal(x, a.([]byte)) }},
		{"list", []any{int64(1), "two", 3.5, nil, []any{true}}, sameString},
		{"map", map[string]any{"a": int64(1), "nested": map[string]any{"b": []any{"c"}}}, sameString},
		{"date", dbtype.Date(time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)), sameString},
		{"local time", dbtype.LocalTime(time.Date(0, 1, 1, 23, 59, 59, 999999999, time.UTC)), sameString},
		{"time", dbtype.Time(time.Date(0, 1, 1, 8, 30, 0, 5, time.FixedZone("Offset", 7200))), sameString},
		{"local datetime", dbtype.LocalDateTime(time.Date(2024, 2, 29, 23, 0, 0, 1, time.UTC)), sameString},
		{"datetime offset (0x49)", offset, sameTime},
		{"datetime zone id (0x69)", instant, sameTime},
		{"duration", dbtype.Duration{Months: 14, Days: -3, Seconds: 3601, Nanos: 999}, sameString},
		{"point 2D", dbtype.Point2D{SpatialRefId: 4326, X: 12.5, Y: -55.25}, sameString},
		{"point 3D", dbtype.Point3D{SpatialRefId: 9157, X: 1, Y: 2, Z: 3}, sameString},
	}
	for _, c := range cases {
		res, err := neo4j.ExecuteQuery(ctx, drv, "RETURN $v AS v", map[string]any{"v": c.v}, neo4j.EagerResultTransformer,
			neo4j.ExecuteQueryWithDatabase("neo4j"))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := res.Records[0].Values[0]
		if !c.same(c.v, got) {
			t.Errorf("%s: sent %#v, got back %#v", c.name, c.v, got)
		}
	}
}
