package neo4jsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// PackStream decoding of requests: the values a driver sends as parameters and the Bolt
// message structure around them.

// maxDecodeDepth bounds the nesting of lists, maps and structures in decoded input, so a
// hostile message cannot exhaust the stack.
const maxDecodeDepth = 128

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
