package client

import (
	"context"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Snapshots (SubscribeRequest.snapshot). A Subscription whose request asks for a snapshot
// delivers the server's SnapshotRecord, SnapshotProgress and SnapshotEnd messages through Msg
// like changes. It keeps the token of the newest SnapshotProgress, and when the stream breaks
// before SnapshotEnd it resumes the snapshot with that token: at the chunk after it, not from
// the start (the records of the broken chunk may arrive again; apply records as upserts).
// After SnapshotEnd it resumes like any stream, from SnapshotEnd.cursor or a newer cursor,
// without a snapshot. With SNAPSHOT_MODE_ONLY the Subscription ends (Receive false, Err nil)
// when the server ends the stream after SnapshotEnd. With a checkpoint store holding a cursor,
// the snapshot is skipped: the stored cursor says the consumer's state already holds it (the
// store only ever holds SnapshotEnd's cursor or later ones, since records carry none). A
// snapshot whose start cursor expired while it was resumed is restarted from its beginning.

// snapshotState is the snapshot part of a Subscription's resume point.
type snapshotState struct {
	// mode is the request's snapshot mode (NONE for none).
	mode cdcstreamv1.SnapshotMode
	// token is the newest SnapshotProgress token; empty before the first.
	token string
	// ended says SnapshotEnd arrived (or the snapshot was skipped): resume without one.
	ended bool
}

// wanted reports whether the request asks for a snapshot.
func (st *snapshotState) wanted() bool {
	return st.mode == cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_INITIAL || st.mode == cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY
}

// inProgress reports whether the next attempt continues a snapshot.
func (st *snapshotState) inProgress() bool { return st.wanted() && !st.ended }

// snapshotOnlyDone reports whether a SNAPSHOT_MODE_ONLY subscription got its SnapshotEnd: the
// server's end of the stream is then the end of the subscription.
func (st *snapshotState) snapshotOnlyDone() bool {
	return st.mode == cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY && st.ended
}

// startSnapshot is resumePoint.start for a request with a snapshot: a stored cursor skips the
// snapshot; otherwise the server chooses the start (no pin, no from_cursor).
func (s *Subscription) startSnapshot(ctx context.Context) error {
	s.snap.token = s.req.GetSnapshotToken()
	if s.store == nil {
		return nil
	}
	c, err := s.store.Load(ctx)
	if err != nil || c == nil {
		return err
	}
	s.resume.advance(c)
	s.snap.ended = true
	return nil
}

// snapshotMessage handles a snapshot message: it records the resume position it carries.
func (s *Subscription) snapshotMessage(resp *cdcstreamv1.SubscribeResponse) {
	s.msg, s.msgCursor = resp, nil
	switch m := resp.GetMessage().(type) {
	case *cdcstreamv1.SubscribeResponse_SnapshotProgress:
		if t := m.SnapshotProgress.GetSnapshotToken(); t != "" {
			s.snap.token = t
		}
	case *cdcstreamv1.SubscribeResponse_SnapshotEnd:
		s.snap.ended = true
		s.resume.advance(m.SnapshotEnd.GetCursor())
		s.msgCursor = m.SnapshotEnd.GetCursor()
	}
}

// snapshotRequest adjusts an attempt's request: during a snapshot, no start and the newest
// token; after it, no snapshot.
func (s *Subscription) snapshotRequest(req *cdcstreamv1.SubscribeRequest) {
	if !s.snap.wanted() {
		return
	}
	if s.snap.inProgress() {
		req.Start = nil
		req.SnapshotToken = s.snap.token
		return
	}
	req.Snapshot = cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_NONE
	req.SnapshotToken = ""
}
