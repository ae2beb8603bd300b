package polyglot

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// int64Fields are the JSON keys (proto names) whose values are int64 in the contract; protobuf
// JSON prints them as strings, and a client that prints a number has gone through a float.
var int64Fields = map[string]bool{"tx_id": true, "seq": true, "integer_value": true, "months": true, "days": true, "seconds": true}

// outputLine is one line a consumer printed: a change, or a checkpoint when --checkpoints.
type outputLine struct {
	change     *cdcstreamv1.ChangeEvent
	checkpoint *cdcstreamv1.Checkpoint
}

// parseOutput parses a consumer's stdout strictly: every line must be protobuf JSON of a
// ChangeEvent or a {"checkpoint": ...} SubscribeResponse, with every int64 a JSON string.
func parseOutput(t testing.TB, lang, stdout string) []outputLine {
	t.Helper()
	var out []outputLine
	for i, l := range lines(stdout) {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &raw); err != nil {
			t.Fatalf("%s: line %d is not a JSON object: %v\n%s", lang, i+1, err, l)
		}
		checkInt64Strings(t, lang, i+1, l)
		if _, ok := raw["checkpoint"]; ok && len(raw) == 1 {
			var resp cdcstreamv1.SubscribeResponse
			if err := protojson.Unmarshal([]byte(l), &resp); err != nil {
				t.Fatalf("%s: line %d is not a checkpoint in protobuf JSON: %v\n%s", lang, i+1, err, l)
			}
			out = append(out, outputLine{checkpoint: resp.GetCheckpoint()})
			continue
		}
		ev := new(cdcstreamv1.ChangeEvent)
		if err := protojson.Unmarshal([]byte(l), ev); err != nil {
			t.Fatalf("%s: line %d is not a ChangeEvent in protobuf JSON: %v\n%s", lang, i+1, err, l)
		}
		if !strings.Contains(l, `"tx_id"`) {
			t.Fatalf("%s: line %d does not use the .proto field names (no \"tx_id\"):\n%s", lang, i+1, l)
		}
		out = append(out, outputLine{change: ev})
	}
	return out
}

// changes returns only the changes of parsed output.
func changes(out []outputLine) []*cdcstreamv1.ChangeEvent {
	var evs []*cdcstreamv1.ChangeEvent
	for _, o := range out {
		if o.change != nil {
			evs = append(evs, o.change)
		}
	}
	return evs
}

// checkInt64Strings fails the test if any int64 field of the JSON line is not a JSON string.
func checkInt64Strings(t testing.TB, lang string, lineNo int, line string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: line %d: %v", lang, lineNo, err)
	}
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(k, e)
			}
		case []any:
			for _, e := range x {
				walk(key, e)
			}
		case json.Number:
			if int64Fields[key] {
				t.Errorf("%s: line %d: int64 field %q printed as the number %s, not as an exact string", lang, lineNo, key, x)
			}
		}
	}
	walk("", v)
}

// deterministic is the canonical wire form of m: equal bytes mean every field is equal, bit for
// bit (unlike proto.Equal, -0 and 0 differ).
func deterministic(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameMessage reports whether got and want are identical, and describes the difference.
func sameMessage(t testing.TB, got, want proto.Message) (bool, string) {
	t.Helper()
	if bytes.Equal(deterministic(t, got), deterministic(t, want)) {
		return true, ""
	}
	opts := protojson.MarshalOptions{Multiline: true, UseProtoNames: true}
	return false, "got:\n" + opts.Format(got) + "\nwant:\n" + opts.Format(want)
}
