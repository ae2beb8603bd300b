package neo4jsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"
)

// PackStream v1 markers (bolt-protocol.md section 3.1).
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

// Bolt 5 structure tags of the value types (bolt-protocol.md section 3.2).
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

// maxDecodeDepth bounds the nesting of lists, maps and structures in decoded input, so a
// hostile message cannot exhaust the stack.
const maxDecodeDepth = 128

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

// decoder reads PackStream values from a byte slice. It never panics on malformed input:
// every length is checked against the remaining bytes and nesting is bounded.
type decoder struct {
	b     []byte
	pos   int
	depth int
}

// errTruncated reports input that ends inside a value.
var errTruncated = errors.New("packstream: truncated input")

func (d *decoder) need(n int) error {
	if n < 0 || len(d.b)-d.pos < n {
		return errTruncated
	}
	return nil
}

func (d *decoder) byte1() (byte, error) {
	if err := d.need(1); err != nil {
		return 0, err
	}
	c := d.b[d.pos]
	d.pos++
	return c, nil
}

func (d *decoder) uint(width int) (uint64, error) {
	if err := d.need(width); err != nil {
		return 0, err
	}
	p := d.b[d.pos : d.pos+width]
	d.pos += width
	switch width {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), nil
	default:
		return binary.BigEndian.Uint64(p), nil
	}
}

// length reads a u8/u16/u32 size and checks it against the remaining input, given the
// minimum encoded size of one element.
func (d *decoder) length(width, minElem int) (int, error) {
	u, err := d.uint(width)
	if err != nil {
		return 0, err
	}
	if u > uint64(len(d.b)-d.pos)/uint64(minElem) {
		return 0, errTruncated
	}
	return int(u), nil
}

// value decodes one value into the simulator's value model.
func (d *decoder) value() (any, error) {
	m, err := d.byte1()
	if err != nil {
		return nil, err
	}
	switch {
	case m <= 0x7F:
		return int64(m), nil
	case m >= 0xF0:
		return int64(int8(m)), nil
	case m >= 0x80 && m <= 0x8F:
		return d.str(int(m & 0x0F))
	case m >= 0x90 && m <= 0x9F:
		return d.list(int(m & 0x0F))
	case m >= 0xA0 && m <= 0xAF:
		return d.dict(int(m & 0x0F))
	case m >= 0xB0 && m <= 0xBF:
		return d.structure(int(m & 0x0F))
	}
	switch m {
	case markerNull:
		return nil, nil
	case markerTrue:
		return true, nil
	case markerFalse:
		return false, nil
	case markerFloat:
		u, err := d.uint(8)
		return math.Float64frombits(u), err
	case markerInt8:
		u, err := d.uint(1)
		return int64(int8(u)), err
	case markerInt16:
		u, err := d.uint(2)
		return int64(int16(u)), err
	case markerInt32:
		u, err := d.uint(4)
		return int64(int32(u)), err
	case markerInt64:
		u, err := d.uint(8)
		return int64(u), err
	case markerBytes8, markerBytes16, markerBytes32:
		n, err := d.length(1<<(m-markerBytes8), 1)
		if err != nil {
			return nil, err
		}
		out := make([]byte, n)
		copy(out, d.b[d.pos:])
		d.pos += n
		return out, nil
	case markerString8, markerStr16, markerStr32:
		n, err := d.length(1<<(m-markerString8), 1)
		if err != nil {
			return nil, err
		}
		return d.str(n)
	case markerList8, markerList16, markerList32:
		n, err := d.length(1<<(m-markerList8), 1)
		if err != nil {
			return nil, err
		}
		return d.list(n)
	case markerMap8, markerMap16, markerMap32:
		n, err := d.length(1<<(m-markerMap8), 2)
		if err != nil {
			return nil, err
		}
		return d.dict(n)
	}
	return nil, fmt.Errorf("packstream: unknown marker 0x%02X", m)
}

func (d *decoder) str(n int) (string, error) {
	if err := d.need(n); err != nil {
		return "", err
	}
	s := string(d.b[d.pos : d.pos+n])
	d.pos += n
	return s, nil
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > maxDecodeDepth {
		return errors.New("packstream: nesting too deep")
	}
	return nil
}

func (d *decoder) list(n int) ([]any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	if err := d.need(n); err != nil {
		return nil, err
	}
	out := make([]any, n)
	for i := range out {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (d *decoder) dict(n int) (map[string]any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	if err := d.need(2 * n); err != nil {
		return nil, err
	}
	out := make(map[string]any, n)
	for range n {
		k, err := d.value()
		if err != nil {
			return nil, err
		}
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("packstream: map key is %T, not a string", k)
		}
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		out[key] = v // duplicate keys: the last one wins
	}
	return out, nil
}

// fields decodes n structure fields.
func (d *decoder) fields(n int) ([]any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	out := make([]any, n)
	for i := range out {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// structure decodes a value structure: the Bolt 5 temporal and spatial types. Graph
// structures and the legacy 0x46/0x66 DateTime forms are not valid parameters on Bolt 5.
func (d *decoder) structure(n int) (any, error) {
	tag, err := d.byte1()
	if err != nil {
		return nil, err
	}
	f, err := d.fields(n)
	if err != nil {
		return nil, err
	}
	s := structFields{tag: tag, f: f}
	switch tag {
	case tagDate:
		if err := s.shape("I"); err != nil {
			return nil, err
		}
		return Date{EpochDays: s.i(0)}, nil
	case tagLocalTime:
		if err := s.shape("I"); err != nil {
			return nil, err
		}
		return LocalTime{NanosOfDay: s.i(0)}, nil
	case tagTime:
		if err := s.shape("II"); err != nil {
			return nil, err
		}
		return Time{NanosOfDay: s.i(0), OffsetSeconds: s.i(1)}, nil
	case tagLocalDateTime:
		if err := s.shape("II"); err != nil {
			return nil, err
		}
		return LocalDateTime{EpochSeconds: s.i(0), Nanos: s.i(1)}, nil
	case tagDateTime:
		if err := s.shape("III"); err != nil {
			return nil, err
		}
		return DateTime{EpochSeconds: s.i(0), Nanos: s.i(1), OffsetSeconds: s.i(2)}, nil
	case tagDateTimeZone:
		if err := s.shape("IIS"); err != nil {
			return nil, err
		}
		zone := f[2].(string)
		if zone == "" {
			return nil, errors.New("packstream: DateTimeZoneId with an empty zone id")
		}
		return DateTime{EpochSeconds: s.i(0), Nanos: s.i(1), ZoneID: zone}, nil
	case tagDuration:
		if err := s.shape("IIII"); err != nil {
			return nil, err
		}
		return Duration{Months: s.i(0), Days: s.i(1), Seconds: s.i(2), Nanos: s.i(3)}, nil
	case tagPoint2D:
		if err := s.shape("IFF"); err != nil {
			return nil, err
		}
		return Point2D{SRID: s.i(0), X: f[1].(float64), Y: f[2].(float64)}, nil
	case tagPoint3D:
		if err := s.shape("IFFF"); err != nil {
			return nil, err
		}
		return Point3D{SRID: s.i(0), X: f[1].(float64), Y: f[2].(float64), Z: f[3].(float64)}, nil
	}
	return nil, fmt.Errorf("packstream: unsupported structure tag 0x%02X", tag)
}

// structFields checks the field types of a decoded structure.
type structFields struct {
	tag byte
	f   []any
}

// shape checks the fields against a pattern: I integer, F float, S string.
func (s structFields) shape(pattern string) error {
	if len(s.f) != len(pattern) {
		return fmt.Errorf("packstream: structure 0x%02X has %d fields, want %d", s.tag, len(s.f), len(pattern))
	}
	for i, c := range []byte(pattern) {
		var ok bool
		switch c {
		case 'I':
			_, ok = s.f[i].(int64)
		case 'F':
			_, ok = s.f[i].(float64)
		case 'S':
			_, ok = s.f[i].(string)
		}
		if !ok {
			return fmt.Errorf("packstream: structure 0x%02X field %d is %T", s.tag, i, s.f[i])
		}
	}
	return nil
}

func (s structFields) i(n int) int64 { return s.f[n].(int64) }

// decodeValue decodes exactly one value from b; trailing bytes are an error.
func decodeValue(b []byte) (any, error) {
	d := decoder{b: b}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	if d.pos != len(b) {
		return nil, fmt.Errorf("packstream: %d trailing bytes", len(b)-d.pos)
	}
	return v, nil
}

// message is one decoded Bolt request: a structure tag and its fields.
type message struct {
	tag    byte
	fields []any
}

// decodeMessage decodes one de-chunked Bolt message.
func decodeMessage(b []byte) (message, error) {
	d := decoder{b: b}
	m, err := d.byte1()
	if err != nil {
		return message{}, err
	}
	if m < 0xB0 || m > 0xBF {
		return message{}, fmt.Errorf("packstream: message starts with marker 0x%02X, not a structure", m)
	}
	tag, err := d.byte1()
	if err != nil {
		return message{}, err
	}
	f, err := d.fields(int(m & 0x0F))
	if err != nil {
		return message{}, err
	}
	if d.pos != len(b) {
		return message{}, fmt.Errorf("packstream: %d trailing bytes after message", len(b)-d.pos)
	}
	return message{tag: tag, fields: f}, nil
}
