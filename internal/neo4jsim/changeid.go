package neo4jsim

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strings"
)

// changeID is a decoded change identifier in the version 5 layout Neo4j uses since 2024
// (observed, not documented by Neo4j; the code under test treats ids as opaque): version
// byte 5, the 16-byte store UUID, txId, seq and the commit time in epoch milliseconds, all
// big-endian, 41 bytes, base64url without padding.
type changeID struct {
	db           [16]byte
	txID         int64
	seq          int64
	commitMillis int64
}

const (
	changeIDVersion = 5
	changeIDLen     = 41
	// seqEnd in a change id means "after every change of the transaction" (current ids).
	seqEnd = math.MaxInt64
)

func encodeChangeID(c changeID) string {
	var b [changeIDLen]byte
	b[0] = changeIDVersion
	copy(b[1:17], c.db[:])
	binary.BigEndian.PutUint64(b[17:25], uint64(c.txID))
	binary.BigEndian.PutUint64(b[25:33], uint64(c.seq))
	binary.BigEndian.PutUint64(b[33:41], uint64(c.commitMillis))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodeChangeID parses an id. Choices: a trailing "=" padding is accepted (one docs sample
// shows it); only the version 5 layout is accepted, since a 2025 server hands out nothing
// else; negative txIds are malformed. Negative seq values decode and are rejected later as
// an invalid sequence number (52N32).
func decodeChangeID(s string) (changeID, bool) {
	var c changeID
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(raw) != changeIDLen || raw[0] != changeIDVersion {
		return c, false
	}
	copy(c.db[:], raw[1:17])
	c.txID = int64(binary.BigEndian.Uint64(raw[17:25]))
	c.seq = int64(binary.BigEndian.Uint64(raw[25:33]))
	c.commitMillis = int64(binary.BigEndian.Uint64(raw[33:41]))
	if c.txID < 0 {
		return c, false
	}
	return c, true
}
