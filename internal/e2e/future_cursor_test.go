package e2e

import (
	"encoding/base64"
	"encoding/binary"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
)

// forgeFuture returns id with its txId moved ahead by n: the 41-byte version-5 change id
// layout (version, 16-byte store id, txId, seq, commit millis, big-endian, base64url).
func forgeFuture(t *testing.T, id string, n int64) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) != 41 || raw[0] != 5 {
		t.Fatalf("unexpected change id layout %q (%d bytes, %v)", id, len(raw), err)
	}
	tx := int64(binary.BigEndian.Uint64(raw[17:25]))
	binary.BigEndian.PutUint64(raw[17:25], uint64(tx+n))
	return base64.RawURLEncoding.EncodeToString(raw)
}

// TestForgedFutureCursor: a cursor forged a million transactions past the head is answered
// FutureIdentifier by Neo4j on every poll. The stream gets no checkpoint certifying it (it
// lives through several 1s checkpoint intervals) and ends with OUT_OF_RANGE, reason
// CURSOR_IN_FUTURE, after the future-cursor timeout; a real cursor still streams.
func TestForgedFutureCursor(t *testing.T) {
	tg := newSimTarget(t)
	s := newStack(t, tg, server.WithFutureCursorTimeout(3*time.Second))
	tg.write(t, nil, func(w writer) { w.createNode([]string{"Before"}, nil) })
	head := s.cursorNow(t)
	forged := &cdcstreamv1.Cursor{Id: forgeFuture(t, head.GetId(), 1_000_000), Database: head.GetDatabase()}
	err, before := s.subscribeFrom(t, forged).recvErr()
	wantStatus(t, err, codes.OutOfRange, "CURSOR_IN_FUTURE")
	if len(before) != 0 {
		t.Fatalf("the forged cursor got %d messages before its end, first %v", len(before), before[0])
	}
	real := s.subscribeFrom(t, head)
	tg.write(t, nil, func(w writer) { w.createNode([]string{"After"}, nil) })
	if got := real.changes(1); got[0].GetNode().GetLabels()[0] != "After" {
		t.Fatalf("real cursor: %v", got)
	}
}
