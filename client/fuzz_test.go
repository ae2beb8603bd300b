package client

import (
	"encoding/json"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

func FuzzDecodeCheckpoint(f *testing.F) {
	for _, seed := range []string{
		`{"id":"A3Qc5ZIZ_Eo5v5xsONVo8KUAAAAAAAAADAAAAAAAAAAA","database":"neo4j"}` + "\n",
		`{"id":"x"}`, `{"id":""}`, `{}`, `{"id":"a","extra":1}`, `{"id":"a"} {"id":"b"}`, "", "null", `{"id":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCheckpoint(data)
		if err != nil {
			if c != nil {
				t.Fatalf("%q: error %v with a cursor", data, err)
			}
			return
		}
		if c.GetId() == "" {
			t.Fatalf("%q: accepted an empty id", data)
		}
		// What Save would write for the cursor decodes to the same cursor.
		out, err := json.Marshal(fileCursor{ID: c.GetId(), Database: c.GetDatabase()})
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeCheckpoint(out)
		if err != nil || again.GetId() != c.GetId() || again.GetDatabase() != c.GetDatabase() {
			t.Fatalf("%q: round trip %s gave %v, %v", data, out, again, err)
		}
	})
}

// FuzzReassembly feeds arbitrary fragment sequences (length-prefixed ChangeFragment
// encodings) to the reassembly: it never panics, never buffers past its limit or the announced
// size, fails only with the documented errors, and what it returns is what the fragments said.
func FuzzReassembly(f *testing.F) {
	frame := func(fs ...*cdcstreamv1.ChangeFragment) []byte {
		var out []byte
		for _, fr := range fs {
			b, _ := proto.Marshal(fr)
			out = append(out, byte(len(b)>>8), byte(len(b)))
			out = append(out, b...)
		}
		return out
	}
	ev := bigEvent(5, 300)
	good := fragments(f, ev, 100)
	f.Add(frame(good...))
	f.Add(frame(good[1:]...))
	f.Add(frame(good[0], good[0]))
	f.Add(frame(append(good, good...)...))
	const max = 4096
	f.Fuzz(func(t *testing.T, data []byte) {
		var r reassembly
		for len(data) >= 2 {
			n := int(data[0])<<8 | int(data[1])
			data = data[2:]
			if n > len(data) {
				return
			}
			fr := &cdcstreamv1.ChangeFragment{}
			if proto.Unmarshal(data[:n], fr) != nil {
				data = data[n:]
				continue
			}
			data = data[n:]
			got, err := r.add(fr, max)
			var tl *ChangeTooLargeError
			switch {
			case err != nil && got != nil:
				t.Fatal("a change and an error")
			case errors.As(err, &tl):
				if tl.Size <= max {
					t.Fatalf("refused %d bytes under the limit %d", tl.Size, max)
				}
			case err != nil && status.Code(err) != codes.Internal:
				t.Fatalf("undocumented error %v", err)
			case got != nil:
				if got.GetTxId() != fr.GetTxId() || got.GetSeq() != fr.GetSeq() || !proto.Equal(got.GetCursor(), fr.GetCursor()) {
					t.Fatalf("returned change %v does not match its last fragment %v", got, fr)
				}
			}
			if len(r.buf) > max || uint64(len(r.buf)) > r.total && r.active() {
				t.Fatalf("buffered %d bytes (limit %d, announced %d)", len(r.buf), max, r.total)
			}
			if err != nil && r.active() {
				t.Fatal("buffer kept after an error")
			}
		}
	})
}
