package server

import (
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// FuzzSnapshotToken: no input makes the token decoder panic, and whatever it accepts
// re-encodes to a token that decodes to the same position.
func FuzzSnapshotToken(f *testing.F) {
	valid := snapshotToken{Version: 1, Database: "neo4j", Cursor: "AAAA", Phase: int32(cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_NODES),
		After: "4:x:1", Sent: 3, Selectors: selectorsHash(nil)}
	f.Add(valid.encode())
	f.Add("")
	f.Add("e30")            // {}
	f.Add("eyJ2IjoxfQ")     // {"v":1}
	f.Add("!!not base64!!") // malformed
	f.Fuzz(func(t *testing.T, s string) {
		tok, ok := decodeSnapshotToken(s)
		if !ok {
			return
		}
		again, ok := decodeSnapshotToken(tok.encode())
		if !ok || again != tok {
			t.Fatalf("accepted %q as %+v, whose encoding decodes to %+v (%v)", s, tok, again, ok)
		}
	})
}

// TestSnapshotTokenRoundTrip: encode and decode are inverse, and the checks reject what encode
// cannot have produced.
func TestSnapshotTokenRoundTrip(t *testing.T) {
	tok := snapshotToken{Version: 1, Database: "neo4j", Cursor: "AAAA", Phase: int32(cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_RELATIONSHIPS),
		After: "5:x:9", Sent: 12, Selectors: "abc"}
	if got, ok := decodeSnapshotToken(tok.encode()); !ok || got != tok {
		t.Fatalf("round trip %+v -> %+v (%v)", tok, got, ok)
	}
	for _, bad := range []snapshotToken{
		{Version: 2, Database: "neo4j", Cursor: "AAAA", Phase: 1},
		{Version: 1, Database: "neo4j", Cursor: "not a cursor!", Phase: 1},
		{Version: 1, Database: "neo4j", Cursor: "AAAA", Phase: 0},
		{Version: 1, Database: "neo4j", Cursor: "AAAA", Phase: 1, Sent: -1},
	} {
		if _, ok := decodeSnapshotToken(bad.encode()); ok {
			t.Errorf("accepted %+v", bad)
		}
	}
}
