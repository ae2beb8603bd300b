package server

import (
	"context"
	"errors"
	"fmt"
	"slices"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Snapshots (SubscribeRequest.snapshot) with the DBLog watermark algorithm. Neo4j reads are
// read-committed, so a chunk read while writers commit may see one entity half before and
// half after a transaction. For every chunk the snapshot reads the log position before it
// (low), the chunk, and the position after it (high), then the log in (low, high]: an entity
// of the chunk with no change in that window was not written while the chunk was read, so
// its record is exact; one with a change is re-read in a new window until a window shows no
// change (at most maxSnapshotRereads times, then SNAPSHOT_CONTENDED). The stream then
// continues after the cursor read before the first chunk, so every change committed after the
// snapshot began reaches the client after SnapshotEnd, and every record is a state at or
// after that cursor: applied as upserts and followed by the changes with set semantics, the
// consumer's state equals the graph once the stream passed the last high watermark
// (SnapshotEnd.consistent_cursor). docs/semantics.md "Snapshots" states the contract.

// maxSnapshotRereads bounds the re-reads of the entities of one chunk that changed during
// their read window.
const maxSnapshotRereads = 8

// snapshotter runs one subscription's snapshot: it is the only caller of the Source and of
// send while the snapshot lasts.
type snapshotter struct {
	src       Source
	snap      Snapshotter
	obs       Observer
	clock     Clock
	database  string
	selectors []*cdcstreamv1.Selector
	chunk     int
	// pollLimit is the batch size of the window reads of the log.
	pollLimit int
	// send writes one message through the snapshot's send watchdog.
	send     func(*cdcstreamv1.SubscribeResponse) error
	shutdown <-chan struct{}
	// prepared is the Snapshotter's storage (SnapshotRequest.Prepared); windowPrepared the
	// Source's for the unfiltered window polls.
	prepared, windowPrepared Prepared
	// tok is the position of the next chunk.
	tok snapshotToken
	// high is the newest high watermark read.
	high string
	// active says SnapshotActive(+1) was reported: once Neo4j answered for the database, so
	// that metrics never count a database that does not exist.
	active bool
}

// snapshot runs the snapshot of a validated request and returns the cursor the changes
// continue from. It holds one of the server's snapshot tokens (WithMaxSnapshots) while it
// runs, and sends through its own send-timeout watchdog.
func (s *Server) snapshot(ctx context.Context, p subscribeParams, send func(any) error) (string, error) {
	snap, ok := s.src.(Snapshotter)
	if !ok {
		return "", newRequestError(cdcstreamv1.ErrorReason_INVALID_REQUEST, "snapshot", "this server's source cannot take snapshots")
	}
	select {
	case s.snapshots <- struct{}{}:
	default:
		return "", fmt.Errorf("%w (limit %d)", errTooManySnapshots, cap(s.snapshots))
	}
	defer func() { <-s.snapshots }()
	so := snapshotObserverOf(s.obs)

	w := newWriter(send, s.opts.sendTimeout, s.shutdown)
	defer w.close()
	r := &snapshotter{src: s.src, snap: snap, obs: s.obs, clock: s.opts.clock, database: p.database, selectors: p.selectors,
		chunk: s.opts.snapshotChunk, pollLimit: s.opts.batchLimit, shutdown: s.shutdown,
		send: func(m *cdcstreamv1.SubscribeResponse) error { return w.write(ctx, m) }}
	if p.token != nil {
		r.tok = *p.token
	} else {
		cursor, _, err := s.resolveStart(ctx, p)
		if err != nil {
			return "", err
		}
		r.tok = snapshotToken{Version: 1, Database: p.database, Cursor: cursor,
			Phase: int32(cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_NODES), Selectors: selectorsHash(p.selectors)}
	}
	err := r.run(ctx, so)
	if r.active {
		so.SnapshotActive(p.database, -1)
	}
	if err != nil {
		return "", err
	}
	return r.tok.Cursor, nil
}

// newRequestError is an INVALID_ARGUMENT error with one violation.
func newRequestError(reason cdcstreamv1.ErrorReason, field, format string, args ...any) error {
	var vs violations
	vs.add(reason, field, format, args...)
	return vs.err()
}

// run reads and sends chunks until both phases are done, then sends SnapshotEnd.
func (r *snapshotter) run(ctx context.Context, so SnapshotObserver) error {
	for {
		select {
		case <-r.shutdown:
			return errShuttingDown
		default:
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		phase := cdcstreamv1.SnapshotPhase(r.tok.Phase)
		low, err := r.current(ctx)
		if err != nil {
			return err
		}
		if !r.active {
			r.active = true
			so.SnapshotActive(r.database, 1)
		}
		c, err := r.snap.ReadSnapshot(ctx, SnapshotRequest{Database: r.database, Phase: phase, After: r.tok.After,
			Selectors: r.selectors, Limit: r.chunk, Prepared: &r.prepared})
		if err != nil {
			return err
		}
		recs, err := r.settle(ctx, phase, low, c.Records)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if err := r.send(&cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_SnapshotRecord{SnapshotRecord: rec}}); err != nil {
				return err
			}
		}
		r.tok.Sent += int64(len(recs))
		if c.Last != "" {
			r.tok.After = c.Last
		}
		done := false
		if c.Scanned < r.chunk {
			if phase == cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_NODES {
				r.tok.Phase, r.tok.After = int32(cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_RELATIONSHIPS), ""
			} else {
				done = true
			}
		}
		so.SnapshotChunk(r.database, phase, len(recs))
		if done {
			return r.send(&cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_SnapshotEnd{SnapshotEnd: &cdcstreamv1.SnapshotEnd{
				Cursor:           &cdcstreamv1.Cursor{Id: r.tok.Cursor, Database: r.database},
				ConsistentCursor: &cdcstreamv1.Cursor{Id: r.high, Database: r.database},
				RecordsSent:      r.tok.Sent}}})
		}
		if err := r.send(&cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_SnapshotProgress{SnapshotProgress: &cdcstreamv1.SnapshotProgress{
			SnapshotToken: r.tok.encode(), RecordsSent: r.tok.Sent, Phase: cdcstreamv1.SnapshotPhase(r.tok.Phase)}}}); err != nil {
			return err
		}
	}
}

// settle returns the records of one chunk read after low that no change touched while they
// were read, re-reading the others in fresh windows.
func (r *snapshotter) settle(ctx context.Context, phase cdcstreamv1.SnapshotPhase, low string, pending []*cdcstreamv1.SnapshotRecord) ([]*cdcstreamv1.SnapshotRecord, error) {
	var settled []*cdcstreamv1.SnapshotRecord
	for round := 0; ; round++ {
		changed, err := r.window(ctx, low, pending)
		if err != nil {
			return nil, err
		}
		var again []string
		for _, rec := range pending {
			if id := recordID(rec); changed[id] {
				again = append(again, id)
			} else {
				settled = append(settled, rec)
			}
		}
		if len(again) == 0 {
			break
		}
		if round == maxSnapshotRereads {
			return nil, fmt.Errorf("%w: %d entities after %d re-reads", errSnapshotContended, len(again), round)
		}
		if low, err = r.current(ctx); err != nil {
			return nil, err
		}
		c, err := r.snap.ReadSnapshot(ctx, SnapshotRequest{Database: r.database, Phase: phase, ElementIDs: again,
			Selectors: r.selectors, Limit: len(again), Prepared: &r.prepared})
		if err != nil {
			return nil, err
		}
		pending = c.Records
	}
	slices.SortFunc(settled, func(a, b *cdcstreamv1.SnapshotRecord) int {
		switch x, y := recordID(a), recordID(b); {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	return settled, nil
}

// window reads the high watermark, then the whole log (no selectors) from low up to it, and
// returns the ids of the records whose entity, or a relationship's start or end node, has a
// change there. Reading past the high watermark (a poll returns what follows it too) only
// makes the check stricter.
func (r *snapshotter) window(ctx context.Context, low string, recs []*cdcstreamv1.SnapshotRecord) (map[string]bool, error) {
	high, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	r.high = high
	changed := map[string]bool{}
	if high == low || len(recs) == 0 {
		return changed, nil
	}
	// watch maps an element id to the records it invalidates.
	watch := make(map[string][]string, len(recs))
	for _, rec := range recs {
		id := recordID(rec)
		watch[id] = append(watch[id], id)
		if rel := rec.GetRelationship(); rel != nil {
			watch[rel.GetStart().GetElementId()] = append(watch[rel.GetStart().GetElementId()], id)
			watch[rel.GetEnd().GetElementId()] = append(watch[rel.GetEnd().GetElementId()], id)
		}
	}
	from := low
	for {
		start := r.clock.Now()
		b, err := r.src.Poll(ctx, PollRequest{Database: r.database, From: from, Limit: r.pollLimit, Prepared: &r.windowPrepared})
		r.obs.Polled(r.database, len(b.Changes), r.clock.Now().Sub(start), err)
		if errors.Is(err, ErrFutureCursor) {
			// A member behind the watermark answered (a cluster read from a lagging follower):
			// the window cannot be checked there. The client resumes the chunk with backoff.
			return nil, fmt.Errorf("%w: snapshot window: %v", ErrNeo4jUnavailable, err)
		}
		if err != nil {
			return nil, err
		}
		reached := false
		for _, ev := range b.Changes {
			id := ev.GetNode().GetElementId()
			if ev.GetRelationship() != nil {
				id = ev.GetRelationship().GetElementId()
			}
			for _, rid := range watch[id] {
				changed[rid] = true
			}
			if ev.GetCursor().GetId() == high {
				reached = true
			}
		}
		if reached || len(b.Changes) < r.pollLimit {
			return changed, nil
		}
		if from = b.Changes[len(b.Changes)-1].GetCursor().GetId(); from == "" {
			return nil, errChangeWithoutCursor
		}
	}
}

// current reads the database's head.
func (r *snapshotter) current(ctx context.Context) (string, error) {
	id, err := r.src.Current(ctx, r.database)
	if err == nil && id == "" {
		err = errEmptyID
	}
	return id, err
}
