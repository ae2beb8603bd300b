package neo4jsim

import (
	"bytes"
	"encoding/hex"
	"math"
	"strings"
	"testing"
	"time"
)

func encodeOne(t testing.TB, v any) []byte {
	t.Helper()
	var e encoder
	if err := e.value(v); err != nil {
		t.Fatalf("encode %T: %v", v, err)
	}
	return e.buf
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// valueEqual compares decoded values, treating floats by their bits (so NaN equals NaN).
func valueEqual(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !valueEqual(v, w) {
				return false
			}
		}
		return true
	case Point2D:
		y, ok := b.(Point2D)
		return ok && x.SRID == y.SRID && valueEqual(x.X, y.X) && valueEqual(x.Y, y.Y)
	case Point3D:
		y, ok := b.(Point3D)
		return ok && x.SRID == y.SRID && valueEqual(x.X, y.X) && valueEqual(x.Y, y.Y) && valueEqual(x.Z, y.Z)
	}
	return a == b
}

func TestEncodeIntegerUsesSmallestForm(t *testing.T) {
	cases := []struct {
		v    int64
		want string
	}{
		{0, "00"}, {1, "01"}, {127, "7F"}, {-1, "FF"}, {-16, "F0"},
		{-17, "C8 EF"}, {-128, "C8 80"}, {128, "C9 00 80"}, {-129, "C9 FF 7F"},
		{32767, "C9 7F FF"}, {32768, "CA 00 00 80 00"}, {-32769, "CA FF FF 7F FF"},
		{math.MaxInt32, "CA 7F FF FF FF"}, {math.MaxInt32 + 1, "CB 00 00 00 00 80 00 00 00"},
		{math.MinInt64, "CB 80 00 00 00 00 00 00 00"},
	}
	for _, c := range cases {
		got := encodeOne(t, c.v)
		if want := mustHex(t, c.want); !bytes.Equal(got, want) {
			t.Errorf("encode %d = % X, want % X", c.v, got, want)
		}
		back, err := decodeValue(got)
		if err != nil || back != c.v {
			t.Errorf("decode % X = %v, %v; want %d", got, back, err, c.v)
		}
	}
}

func TestDecodeAcceptsWideIntegers(t *testing.T) {
	for _, in := range []string{"C8 01", "C9 00 01", "CA 00 00 00 01", "CB 00 00 00 00 00 00 00 01"} {
		v, err := decodeValue(mustHex(t, in))
		if err != nil || v != int64(1) {
			t.Errorf("decode %s = %v, %v; want 1", in, v, err)
		}
	}
}

func TestSizedMarkers(t *testing.T) {
	cases := []struct {
		n      int
		str    byte // first byte of a string of n bytes
		list   byte
		mapB   byte
		bytesB byte
	}{
		{0, 0x80, 0x90, 0xA0, 0xCC},
		{15, 0x8F, 0x9F, 0xAF, 0xCC},
		{16, 0xD0, 0xD4, 0xD8, 0xCC},
		{255, 0xD0, 0xD4, 0xD8, 0xCC},
		{256, 0xD1, 0xD5, 0xD9, 0xCD},
		{65535, 0xD1, 0xD5, 0xD9, 0xCD},
		{65536, 0xD2, 0xD6, 0xDA, 0xCE},
	}
	for _, c := range cases {
		s := strings.Repeat("x", c.n)
		list := make([]any, c.n)
		m := make(map[string]any, c.n)
		for i := range list {
			list[i] = int64(i % 100)
			m[strings.Repeat("k", 1+i/1000)+string(rune('a'+i%26))+hex.EncodeToString([]byte{byte(i >> 8), byte(i)})] = true
		}
		raw := bytes.Repeat([]byte{7}, c.n)
		for _, tc := range []struct {
			v      any
			marker byte
		}{{s, c.str}, {list, c.list}, {m, c.mapB}, {raw, c.bytesB}} {
			b := encodeOne(t, tc.v)
			if b[0] != tc.marker {
				t.Errorf("n=%d %T: marker %02X, want %02X", c.n, tc.v, b[0], tc.marker)
			}
			back, err := decodeValue(b)
			if err != nil || !valueEqual(back, tc.v) {
				t.Errorf("n=%d %T: round trip failed: %v", c.n, tc.v, err)
			}
		}
	}
}

func TestScalarsRoundTrip(t *testing.T) {
	for _, v := range []any{nil, true, false, 1.5, math.Inf(-1), math.NaN(), -0.0, "", "héllo ✓", []byte{}, []byte{0, 1, 2}} {
		back, err := decodeValue(encodeOne(t, v))
		if err != nil || !valueEqual(back, v) {
			t.Errorf("%#v: got %#v, %v", v, back, err)
		}
	}
}

// TestBolt5StructsRoundTrip covers every temporal and spatial structure, with the byte
// examples of the Bolt 5 structure specification.
func TestBolt5StructsRoundTrip(t *testing.T) {
	cases := []struct {
		v    any
		want string // expected encoding, "" to check the round trip only
	}{
		{DateTime{EpochSeconds: 1709467110, Nanos: 429000000}, "B3 49 CA 65 E4 65 E6 CA 19 92 05 40 00"},
		{DateTime{EpochSeconds: 1709467110, Nanos: 429000000, ZoneID: "UTC"}, "B3 69 CA 65 E4 65 E6 CA 19 92 05 40 83 55 54 43"},
		{Date{EpochDays: 19785}, "B1 44 C9 4D 49"},
		{DateTime{EpochSeconds: -5, Nanos: 1, OffsetSeconds: -3600}, ""},
		{DateTime{EpochSeconds: 0, ZoneID: "Europe/Stockholm"}, ""},
		{Date{EpochDays: -1}, "B1 44 FF"},
		{Time{NanosOfDay: 3_600_000_000_000, OffsetSeconds: 7200}, ""},
		{LocalTime{NanosOfDay: 86_399_999_999_999}, ""},
		{LocalDateTime{EpochSeconds: 1709467110, Nanos: 5}, ""},
		{Duration{Months: 14, Days: -3, Seconds: 3601, Nanos: 999}, ""},
		{Point2D{SRID: 4326, X: 12.5, Y: -55.25}, ""},
		{Point3D{SRID: 9157, X: 1, Y: 2, Z: 3}, ""},
	}
	for _, c := range cases {
		b := encodeOne(t, c.v)
		if c.want != "" && !bytes.Equal(b, mustHex(t, c.want)) {
			t.Errorf("%#v encodes as % X, want %s", c.v, b, c.want)
		}
		back, err := decodeValue(b)
		if err != nil || !valueEqual(back, c.v) {
			t.Errorf("%#v: round trip gave %#v, %v", c.v, back, err)
		}
	}
}

func TestEncodeTimeTimeAsOffsetDateTime(t *testing.T) {
	tm := time.Date(2024, 3, 3, 12, 58, 30, 429000000, time.FixedZone("CET", 3600))
	back, err := decodeValue(encodeOne(t, tm))
	want := DateTime{EpochSeconds: 1709467110, Nanos: 429000000, OffsetSeconds: 3600}
	if err != nil || back != want {
		t.Fatalf("got %#v, %v; want %#v", back, err, want)
	}
}

func TestEncodeCommonGoTypes(t *testing.T) {
	v := map[string]any{
		"strs": []string{"a", "b"}, "ints": []int64{1, -2}, "floats": []float64{0.5}, "bools": []bool{true},
		"int": 7, "int32": int32(-7), "f32": float32(0.5), "sm": map[string]string{"k": "v"},
		"maps": []map[string]any{{"x": int64(1)}}, "u8": uint8(9), "arr": [2]int{3, 4}, "ptr": new(int),
	}
	back, err := decodeValue(encodeOne(t, v))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"strs": []any{"a", "b"}, "ints": []any{int64(1), int64(-2)}, "floats": []any{0.5}, "bools": []any{true},
		"int": int64(7), "int32": int64(-7), "f32": 0.5, "sm": map[string]any{"k": "v"},
		"maps": []any{map[string]any{"x": int64(1)}}, "u8": int64(9), "arr": []any{int64(3), int64(4)}, "ptr": int64(0),
	}
	if !valueEqual(back, want) {
		t.Fatalf("got %#v\nwant %#v", back, want)
	}
	var e encoder
	for _, bad := range []any{uint64(math.MaxUint64), map[int]int{1: 1}, make(chan int), struct{}{}} {
		if err := e.value(bad); err == nil {
			t.Errorf("encoding %T succeeded, want an error", bad)
		}
	}
}

func TestDecodeRejectsMalformedInput(t *testing.T) {
	cases := map[string]string{
		"empty":               "",
		"truncated int16":     "C9 01",
		"truncated string":    "85 61 62",
		"string length":       "D2 FF FF FF FF 61",
		"list length":         "D6 7F FF FF FF 01",
		"map length":          "DA 00 10 00 00 81 61",
		"bytes length":        "CE 00 00 01 00 01",
		"unknown marker":      "C4",
		"reserved marker":     "DF",
		"non-string key":      "A1 01 01",
		"legacy DateTime F":   "B3 46 01 02 03",
		"legacy DateTime f":   "B3 66 01 02 81 5A",
		"node struct":         "B4 4E 01 90 A0 81 61",
		"date wrong arity":    "B2 44 01 02",
		"point int coord":     "B3 58 01 02 03",
		"zone id not string":  "B3 69 01 02 03",
		"empty zone id":       "B3 69 01 02 80",
		"trailing bytes":      "01 02",
		"struct missing tag":  "B1",
		"struct short fields": "B2 44 01",
	}
	for name, in := range cases {
		if v, err := decodeValue(mustHex(t, in)); err == nil {
			t.Errorf("%s: decoded %#v, want an error", name, v)
		}
	}
	deep := append(bytes.Repeat([]byte{0x91}, maxDecodeDepth+1), 0x01)
	if _, err := decodeValue(deep); err == nil {
		t.Error("deeply nested list decoded, want an error")
	}
	ok := append(bytes.Repeat([]byte{0x91}, maxDecodeDepth-1), 0x01)
	if _, err := decodeValue(ok); err != nil {
		t.Errorf("list nested %d deep: %v", maxDecodeDepth-1, err)
	}
}

func TestDecodeMessage(t *testing.T) {
	m, err := decodeMessage(mustHex(t, "B1 3F A1 81 6E C9 03 E8"))
	if err != nil || m.tag != msgPull || len(m.fields) != 1 || !valueEqual(m.fields[0], map[string]any{"n": int64(1000)}) {
		t.Fatalf("got %+v, %v", m, err)
	}
	// TELEMETRY shares tag 0x54 with the Time structure: messages are not value structures.
	m, err = decodeMessage(mustHex(t, "B1 54 03"))
	if err != nil || m.tag != msgTelemetry || m.fields[0] != int64(3) {
		t.Fatalf("telemetry: got %+v, %v", m, err)
	}
	for _, bad := range []string{"", "A0", "B1", "B1 3F", "B0 0F 00"} {
		if _, err := decodeMessage(mustHex(t, bad)); err == nil {
			t.Errorf("decodeMessage(%s) succeeded", bad)
		}
	}
}

// FuzzPackStreamDecode checks that the decoder never panics, and that whatever it accepts
// encodes and decodes back to the same value.
func FuzzPackStreamDecode(f *testing.F) {
	for _, s := range []string{
		"00", "F0", "C8 80", "CB 80 00 00 00 00 00 00 00", "C1 3F F8 00 00 00 00 00 00", "C0", "C2", "C3",
		"83 61 62 63", "D0 01 61", "CC 02 01 02", "92 01 81 61", "A1 81 61 91 01", "D4 01 C0",
		"B3 49 CA 65 E4 65 E6 CA 19 92 05 40 00", "B3 69 CA 65 E4 65 E6 CA 19 92 05 40 83 55 54 43",
		"B1 44 C9 4D 49", "B2 54 01 02", "B1 74 01", "B2 64 01 02", "B4 45 01 02 03 04",
		"B3 58 01 C1 3F F0 00 00 00 00 00 00 C1 40 00 00 00 00 00 00 00",
		"B4 59 01 C1 3F F0 00 00 00 00 00 00 C1 40 00 00 00 00 00 00 00 C1 40 08 00 00 00 00 00 00",
		"B3 46 01 02 03", "DA FF FF FF FF", "A1 01 01",
	} {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := decodeValue(in)
		if err != nil {
			return
		}
		var e encoder
		if err := e.value(v); err != nil {
			t.Fatalf("decoded %#v but cannot encode it: %v", v, err)
		}
		back, err := decodeValue(e.buf)
		if err != nil {
			t.Fatalf("re-decoding % X: %v", e.buf, err)
		}
		if !valueEqual(v, back) {
			t.Fatalf("round trip changed %#v into %#v", v, back)
		}
		_, _ = decodeMessage(in)
	})
}
