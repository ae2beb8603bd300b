package neo4jsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"
)

// PackStream v1 markers.
const (
	markerNull    = 0xC0
	markerFloat   = 0xC1
	markerFalse   = 0xC2
	markerTrue    = 0xC3
	markerInt8    = 0xC8
	markerInt16   = 0xC9
	markerInt32   = 0xCA
	markerInt64   = 0xCB
	markerBytes8  = 0xCC
	markerBytes16 = 0xCD
	markerBytes32 = 0xCE
	markerString8 = 0xD0
	markerStr16   = 0xD1
	markerStr32   = 0xD2
	markerList8   = 0xD4
	markerList16  = 0xD5
	markerList32  = 0xD6
	markerMap8    = 0xD8
	markerMap16   = 0xD9
	markerMap32   = 0xDA
)

// Bolt 5 structure tags of the value types.
const (
	tagDate          = 0x44
	tagTime          = 0x54
	tagLocalTime     = 0x74
	tagDateTime      = 0x49
	tagDateTimeZone  = 0x69
	tagLocalDateTime = 0x64
	tagDuration      = 0x45
	tagPoint2D       = 0x58
	tagPoint3D       = 0x59
)

// errUnsupportedValue reports a Go value the encoder cannot represent in PackStream.
var errUnsupportedValue = errors.New("packstream: unsupported value type")

// encoder appends PackStream to a reusable byte slice. The zero value is ready to use.
type encoder struct {
	buf []byte
}

func (e *encoder) reset() { e.buf = e.buf[:0] }

func (e *encoder) null() { e.buf = append(e.buf, markerNull) }

func (e *encoder) boolean(b bool) {
	if b {
		e.buf = append(e.buf, markerTrue)
	} else {
		e.buf = append(e.buf, markerFalse)
	}
}

// integer writes i in the smallest form, as the driver's own packer does.
func (e *encoder) integer(i int64) {
	switch {
	case i >= -16 && i <= 127:
		e.buf = append(e.buf, byte(int8(i)))
	case i >= math.MinInt8 && i <= math.MaxInt8:
		e.buf = append(e.buf, markerInt8, byte(int8(i)))
	case i >= math.MinInt16 && i <= math.MaxInt16:
		e.buf = append(e.buf, markerInt16)
		e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(int16(i)))
	case i >= math.MinInt32 && i <= math.MaxInt32:
		e.buf = append(e.buf, markerInt32)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(int32(i)))
	default:
		e.buf = append(e.buf, markerInt64)
		e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(i))
	}
}

func (e *encoder) float(f float64) {
	e.buf = append(e.buf, markerFloat)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

// sized writes a header for a string, list or map: tiny marker when n < 16 (and tiny is not
// zero), otherwise the 8, 16 or 32 bit form.
func (e *encoder) sized(n int, tiny, m8, m16, m32 byte) {
	switch {
	case tiny != 0 && n < 16:
		e.buf = append(e.buf, tiny|byte(n))
	case n <= math.MaxUint8:
		e.buf = append(e.buf, m8, byte(n))
	case n <= math.MaxUint16:
		e.buf = append(e.buf, m16)
		e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(n))
	default:
		e.buf = append(e.buf, m32)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(n))
	}
}

func (e *encoder) str(s string) {
	e.sized(len(s), 0x80, markerString8, markerStr16, markerStr32)
	e.buf = append(e.buf, s...)
}

func (e *encoder) bytes(b []byte) {
	e.sized(len(b), 0, markerBytes8, markerBytes16, markerBytes32)
	e.buf = append(e.buf, b...)
}

func (e *encoder) listHeader(n int) { e.sized(n, 0x90, markerList8, markerList16, markerList32) }

func (e *encoder) mapHeader(n int) { e.sized(n, 0xA0, markerMap8, markerMap16, markerMap32) }

// structHeader writes a structure header; n must be at most 15.
func (e *encoder) structHeader(n int, tag byte) { e.buf = append(e.buf, 0xB0|byte(n), tag) }

func (e *encoder) strings(ss []string) {
	e.listHeader(len(ss))
	for _, s := range ss {
		e.str(s)
	}
}

// value encodes one simulator value. The common types are handled by a type switch; other
// slices and string-keyed maps fall back to reflection.
func (e *encoder) value(v any) error {
	switch x := v.(type) {
	case nil:
		e.null()
	case string:
		e.str(x)
	case int64:
		e.integer(x)
	case map[string]any:
		e.mapHeader(len(x))
		for k, val := range x {
			e.str(k)
			if err := e.value(val); err != nil {
				return err
			}
		}
	case []any:
		e.listHeader(len(x))
		for _, val := range x {
			if err := e.value(val); err != nil {
				return err
			}
		}
	case bool:
		e.boolean(x)
	case float64:
		e.float(x)
	case []string:
		e.strings(x)
	case int:
		e.integer(int64(x))
	case int32:
		e.integer(int64(x))
	case float32:
		e.float(float64(x))
	case []byte:
		e.bytes(x)
	case map[string]string:
		e.mapHeader(len(x))
		for k, val := range x {
			e.str(k)
			e.str(val)
		}
	case []map[string]any:
		e.listHeader(len(x))
		for _, m := range x {
			if err := e.value(m); err != nil {
				return err
			}
		}
	case []int64:
		e.listHeader(len(x))
		for _, i := range x {
			e.integer(i)
		}
	case []float64:
		e.listHeader(len(x))
		for _, f := range x {
			e.float(f)
		}
	case []bool:
		e.listHeader(len(x))
		for _, b := range x {
			e.boolean(b)
		}
	case Date:
		e.structHeader(1, tagDate)
		e.integer(x.EpochDays)
	case LocalTime:
		e.structHeader(1, tagLocalTime)
		e.integer(x.NanosOfDay)
	case Time:
		e.structHeader(2, tagTime)
		e.integer(x.NanosOfDay)
		e.integer(x.OffsetSeconds)
	case LocalDateTime:
		e.structHeader(2, tagLocalDateTime)
		e.integer(x.EpochSeconds)
		e.integer(x.Nanos)
	case DateTime:
		e.dateTime(x)
	case time.Time:
		_, off := x.Zone()
		e.dateTime(DateTime{EpochSeconds: x.Unix(), Nanos: int64(x.Nanosecond()), OffsetSeconds: int64(off)})
	case Duration:
		e.structHeader(4, tagDuration)
		e.integer(x.Months)
		e.integer(x.Days)
		e.integer(x.Seconds)
		e.integer(x.Nanos)
	case Point2D:
		e.structHeader(3, tagPoint2D)
		e.integer(x.SRID)
		e.float(x.X)
		e.float(x.Y)
	case Point3D:
		e.structHeader(4, tagPoint3D)
		e.integer(x.SRID)
		e.float(x.X)
		e.float(x.Y)
		e.float(x.Z)
	case boltNode:
		return e.node(x)
	case boltRel:
		return e.relationship(x)
	default:
		return e.reflectValue(v)
	}
	return nil
}

// dateTime writes the Bolt 5 UTC form: 0x49 with an offset, or 0x69 with a zone id. The
// legacy 0x46/0x66 forms are never written.
func (e *encoder) dateTime(x DateTime) {
	tag := byte(tagDateTime)
	if x.ZoneID != "" {
		tag = tagDateTimeZone
	}
	e.structHeader(3, tag)
	e.integer(x.EpochSeconds)
	e.integer(x.Nanos)
	if x.ZoneID != "" {
		e.str(x.ZoneID)
	} else {
		e.integer(x.OffsetSeconds)
	}
}

// reflectValue is the slow path for integer, float and string kinds, slices, arrays and
// string-keyed maps of any element type.
func (e *encoder) reflectValue(v any) error {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.integer(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return fmt.Errorf("%w: unsigned integer %d overflows int64", errUnsupportedValue, u)
		}
		e.integer(int64(u))
	case reflect.Float32, reflect.Float64:
		e.float(rv.Float())
	case reflect.String:
		e.str(rv.String())
	case reflect.Bool:
		e.boolean(rv.Bool())
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			e.null()
			return nil
		}
		e.listHeader(rv.Len())
		for i := 0; i < rv.Len(); i++ {
			if err := e.value(rv.Index(i).Interface()); err != nil {
				return err
			}
		}
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("%w: map key type %s", errUnsupportedValue, rv.Type().Key())
		}
		e.mapHeader(rv.Len())
		it := rv.MapRange()
		for it.Next() {
			e.str(it.Key().String())
			if err := e.value(it.Value().Interface()); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		if rv.IsNil() {
			e.null()
			return nil
		}
		return e.value(rv.Elem().Interface())
	default:
		return fmt.Errorf("%w: %T", errUnsupportedValue, v)
	}
	return nil
}
