package main

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func FuzzDecodeSelectorFlag(f *testing.F) {
	for _, seed := range []string{
		`{"node": {"labels": ["Person"], "operation": "OPERATION_UPDATE"}}`,
		`{"relationship": {"type": "KNOWS", "key": {"id": {"integerValue": "42"}}, "start": {"labels": ["A"]}}}`,
		`{"entity": {"changesTo": ["name"], "txMetadata": {"app": {"stringValue": "x"}}}}`,
		`{"entity": {}, "node": {}}`,
		`{}`, `{`, `null`, `[]`, `{"node": {"key": {"d": {"dateValue": {"year": -1}}}}}`,
		`{"node": {"key": {"f": {"floatValue": "NaN"}}}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := decodeSelector(s)
		if err != nil {
			if sel != nil {
				t.Fatalf("%q: error %v with a selector", s, err)
			}
			return
		}
		if sel.GetKind() == nil {
			t.Fatalf("%q: accepted a selector without a kind", s)
		}
		// What was accepted survives a round trip through its own encoding.
		b, err := protojson.Marshal(sel)
		if err != nil {
			t.Fatalf("%q: marshal: %v", s, err)
		}
		again, err := decodeSelector(string(b))
		if err != nil {
			t.Fatalf("%q: round trip %s: %v", s, b, err)
		}
		// Compared as deterministic wire bytes, so NaN values compare equal to themselves.
		det := proto.MarshalOptions{Deterministic: true}
		w1, err1 := det.Marshal(sel)
		w2, err2 := det.Marshal(again)
		if err1 != nil || err2 != nil || !bytes.Equal(w1, w2) {
			t.Fatalf("%q: round trip %s changed the selector", s, b)
		}
	})
}
