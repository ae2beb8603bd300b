package neo4jsim

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Bolt framing: the handshake (legacy and manifest v1) and message chunking
// (Bolt 5: the 0x6060B017 preamble, four version proposals or the manifest, 2-byte chunk
// headers, a 0x0000 chunk ending each message).

// boltMagic opens every Bolt connection ("GoGoBolt" preamble).
const boltMagic = 0x6060B017

// boltMajor and boltMaxMinor are the newest version the simulator speaks: Bolt 5.8.
const (
	boltMajor    = 5
	boltMaxMinor = 8
)

// maxMessageSize bounds one de-chunked request; the driver never sends anything close to it.
const maxMessageSize = 16 << 20

// maxChunk is the largest chunk body (the u16 length field).
const maxChunk = 0xFFFF

// errNoVersion reports a handshake that found no common Bolt version.
var errNoVersion = errors.New("bolt: no common protocol version")

// handshake runs the server side of the Bolt handshake and returns the agreed minor version
// of Bolt 5. With manifest set and a client that offers manifest v1, the manifest reply is
// used; otherwise the legacy 4-byte reply. It writes the zero version and fails when there is
// no common version.
func handshake(r *bufio.Reader, w io.Writer, manifest bool) (minor int, usedManifest bool, err error) {
	var hs [20]byte
	if _, err := io.ReadFull(r, hs[:]); err != nil {
		return 0, false, fmt.Errorf("bolt: reading handshake: %w", err)
	}
	if binary.BigEndian.Uint32(hs[:4]) != boltMagic {
		return 0, false, fmt.Errorf("bolt: bad magic %X", hs[:4])
	}
	offersManifest := false
	best := -1
	for i := 0; i < 4; i++ {
		p := hs[4+4*i : 8+4*i]
		if p[2] == 0x01 && p[3] == 0xFF {
			offersManifest = true
			continue
		}
		if m := pickMinor(p); m > best {
			best = m
		}
	}
	if manifest && offersManifest {
		minor, err := manifestHandshake(r, w)
		return minor, true, err
	}
	if best < 0 {
		_, _ = w.Write([]byte{0, 0, 0, 0})
		return 0, false, errNoVersion
	}
	if _, err := w.Write([]byte{0, 0, byte(best), boltMajor}); err != nil {
		return 0, false, err
	}
	return best, false, nil
}

// pickMinor returns the highest Bolt 5 minor this server supports inside one proposal
// ([reserved][range][minor][major]), or -1. Bolt 5.5 is never chosen: no real server speaks it.
func pickMinor(p []byte) int {
	if p[3] != boltMajor {
		return -1
	}
	hi, lo := int(p[2]), int(p[2])-int(p[1])
	for m := min(hi, boltMaxMinor); m >= max(lo, 0); m-- {
		if m != 5 {
			return m
		}
	}
	return -1
}

// manifestHandshake offers 5.8 back to 5.0 with no capabilities and reads the client's choice.
func manifestHandshake(r *bufio.Reader, w io.Writer) (int, error) {
	offer := []byte{0, 0, 0x01, 0xFF, 0x01, 0, boltMaxMinor, boltMaxMinor, boltMajor, 0x00}
	if _, err := w.Write(offer); err != nil {
		return 0, err
	}
	var choice [4]byte
	if _, err := io.ReadFull(r, choice[:]); err != nil {
		return 0, fmt.Errorf("bolt: reading manifest choice: %w", err)
	}
	if _, err := readVarint(r); err != nil {
		return 0, fmt.Errorf("bolt: reading manifest capabilities: %w", err)
	}
	if choice[3] != boltMajor || choice[2] > boltMaxMinor || choice[2] == 5 {
		return 0, fmt.Errorf("%w: client chose %d.%d", errNoVersion, choice[3], choice[2])
	}
	return int(choice[2]), nil
}

// readVarint reads an unsigned LEB128 varint of at most 10 bytes.
func readVarint(r io.ByteReader) (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		v |= uint64(b&0x7F) << (7 * i)
		if b&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errors.New("bolt: varint too long")
}

// appendVarint appends v as an unsigned LEB128 varint.
func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// readMessage reads one chunked message into buf (reused) and returns it. Zero-length chunks
// between messages are NOOP keep-alives and are skipped.
func readMessage(r *bufio.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	var hdr [2]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if len(buf) > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if n == 0 {
			if len(buf) == 0 {
				continue // NOOP
			}
			return buf, nil
		}
		if len(buf)+n > maxMessageSize {
			return buf, fmt.Errorf("bolt: message larger than %d bytes", maxMessageSize)
		}
		start := len(buf)
		buf = slices.Grow(buf, n)[:start+n]
		if _, err := io.ReadFull(r, buf[start:]); err != nil {
			return buf, io.ErrUnexpectedEOF
		}
	}
}

// frameWriter builds chunked messages in one reusable output buffer. A message is encoded in
// place after a placeholder chunk header, so the common case (a body of at most 65 535
// bytes) needs no copy.
type frameWriter struct {
	out     []byte // pending output, written to the connection by flush
	scratch []byte // reused when a message needs several chunks
}

// begin starts a message and returns the encoder to write its body with; finish ends it.
func (f *frameWriter) begin(e *encoder) int {
	start := len(f.out)
	e.buf = append(f.out, 0, 0)
	return start
}

// finish frames the message that begin started at start, whose body the encoder now holds.
func (f *frameWriter) finish(e *encoder, start int) {
	out := e.buf
	body := len(out) - start - 2
	if body <= maxChunk {
		binary.BigEndian.PutUint16(out[start:], uint16(body))
		f.out = append(out, 0, 0)
		return
	}
	f.scratch = append(f.scratch[:0], out[start+2:]...)
	out = out[:start]
	for p := f.scratch; len(p) > 0; {
		n := min(len(p), maxChunk)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
		out = append(out, p[:n]...)
		p = p[n:]
	}
	f.out = append(out, 0, 0)
}

// abort drops a message that begin started but whose body could not be encoded.
func (f *frameWriter) abort(e *encoder, start int) { f.out = e.buf[:start] }

// noop appends a NOOP keep-alive chunk.
func (f *frameWriter) noop() { f.out = append(f.out, 0, 0) }

// flush writes the pending output.
func (f *frameWriter) flush(w io.Writer) error {
	if len(f.out) == 0 {
		return nil
	}
	_, err := w.Write(f.out)
	f.out = f.out[:0]
	return err
}
