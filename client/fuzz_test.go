package client

import (
	"encoding/json"
	"testing"
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
