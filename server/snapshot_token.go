package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"strconv"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"google.golang.org/protobuf/proto"
)

// maxSnapshotTokenLen bounds SubscribeRequest.snapshot_token: a cursor id, an element id and
// a few numbers, base64url.
const maxSnapshotTokenLen = 4096

// snapshotMode is a validated SubscribeRequest.snapshot.
type snapshotMode int

const (
	snapshotNone snapshotMode = iota
	snapshotInitial
	snapshotOnly
)

// snapshotToken is the position of a snapshot, carried by SnapshotProgress.snapshot_token as
// base64url (unpadded) JSON. It is not signed: like a cursor, a forged one can only make the
// server read another part of the same graph the caller may read anyway.
type snapshotToken struct {
	// Version is 1.
	Version int `json:"v"`
	// Database is the snapshot's database.
	Database string `json:"db"`
	// Cursor is the change id read before the first chunk: the stream continues after it.
	Cursor string `json:"c"`
	// Phase is the entity kind the next chunk reads (SnapshotPhase number).
	Phase int32 `json:"p"`
	// After is the element id the next chunk reads after; empty means from the first.
	After string `json:"a,omitempty"`
	// Sent counts the records sent before this position.
	Sent int64 `json:"n"`
	// Selectors is a hash of the request's selectors (selectorsHash): a token resumes only the
	// snapshot of the same selectors.
	Selectors string `json:"s"`
}

// encode returns the token's wire form.
func (t snapshotToken) encode() string {
	b, err := json.Marshal(t)
	if err != nil { // a struct of strings and numbers always marshals
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeSnapshotToken parses a token's wire form; ok is false for anything encode cannot have
// produced.
func decodeSnapshotToken(s string) (snapshotToken, bool) {
	var t snapshotToken
	if s == "" || len(s) > maxSnapshotTokenLen {
		return t, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil || dec.More() {
		return t, false
	}
	phase := cdcstreamv1.SnapshotPhase(t.Phase)
	if t.Version != 1 || !validCursorID(t.Cursor) || len(t.After) > maxNameLen || t.Sent < 0 ||
		(phase != cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_NODES && phase != cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_RELATIONSHIPS) {
		return t, false
	}
	return t, true
}

// selectorsHash identifies a list of selectors: FNV-1a over their deterministic encodings.
func selectorsHash(sels []*cdcstreamv1.Selector) string {
	h := fnv.New64a()
	opts := proto.MarshalOptions{Deterministic: true}
	for _, s := range sels {
		b, _ := opts.Marshal(s) // validated selectors always marshal
		h.Write([]byte(strconv.Itoa(len(b))))
		h.Write([]byte{':'})
		h.Write(b)
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// validateSnapshot checks the snapshot fields of req against the already validated p and
// records them in p.
func validateSnapshot(req *cdcstreamv1.SubscribeRequest, p *subscribeParams, vs *violations) {
	switch req.GetSnapshot() {
	case cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_UNSPECIFIED, cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_NONE:
		p.snapshot = snapshotNone
	case cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_INITIAL:
		p.snapshot = snapshotInitial
	case cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY:
		p.snapshot = snapshotOnly
	default:
		vs.add(cdcstreamv1.ErrorReason_INVALID_REQUEST, "snapshot", "unknown snapshot mode %d", int32(req.GetSnapshot()))
		return
	}
	if p.snapshot != snapshotNone && p.start != startNow {
		vs.add(cdcstreamv1.ErrorReason_INVALID_REQUEST, "snapshot",
			"a snapshot starts at the current head: leave start unset or START_POSITION_NOW")
	}
	raw := req.GetSnapshotToken()
	if raw == "" {
		return
	}
	if p.snapshot == snapshotNone {
		vs.add(cdcstreamv1.ErrorReason_INVALID_REQUEST, "snapshot_token", "a snapshot token needs snapshot to be set")
		return
	}
	t, ok := decodeSnapshotToken(raw)
	switch {
	case !ok:
		vs.add(cdcstreamv1.ErrorReason_INVALID_CURSOR, "snapshot_token", "malformed snapshot token: pass SnapshotProgress.snapshot_token verbatim")
	case t.Database != p.database:
		vs.add(cdcstreamv1.ErrorReason_INVALID_CURSOR, "snapshot_token",
			"the snapshot token belongs to database %s, not to %q", echo(t.Database), p.database)
	case t.Selectors != selectorsHash(p.selectors):
		vs.add(cdcstreamv1.ErrorReason_INVALID_CURSOR, "snapshot_token",
			"the snapshot token belongs to a snapshot with other selectors")
	default:
		p.token = &t
	}
}
