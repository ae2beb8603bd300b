package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

// snapSource is a FakeSource with a graph of nodes for snapshots. tear, when set, runs inside
// every ReadSnapshot after the records are copied: it models a writer that commits while a
// read-committed read is in progress (the copy is then stale, and the log has the change).
type snapSource struct {
	*servertest.FakeSource
	// mu protects nodes, reads and tear.
	mu    sync.Mutex
	nodes map[string]int64 // element id -> value of property v
	reads []server.SnapshotRequest
	tear  func(req server.SnapshotRequest)
	// block, when not nil, makes every ReadSnapshot wait until it is closed.
	block chan struct{}
}

func newSnapSource(n int) *snapSource {
	s := &snapSource{FakeSource: servertest.NewFakeSource(db), nodes: map[string]int64{}}
	for i := range n {
		s.nodes[fmt.Sprintf("4:g:%02d", i)] = 0
	}
	return s
}

func nodeRecord(id string, v int64) *cdcstreamv1.SnapshotRecord {
	return &cdcstreamv1.SnapshotRecord{Entity: &cdcstreamv1.SnapshotRecord_Node{Node: &cdcstreamv1.NodeSnapshot{ElementId: id,
		State: &cdcstreamv1.NodeState{Labels: []string{"N"}, Properties: map[string]*cdcstreamv1.Value{
			"v": {Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: v}}}}}}}
}

// update sets a node's value and logs the change.
func (s *snapSource) update(id string, v int64) {
	s.mu.Lock()
	s.nodes[id] = v
	s.mu.Unlock()
	s.Append(db, &cdcstreamv1.ChangeEvent{Event: &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{ElementId: id,
		Operation: cdcstreamv1.Operation_OPERATION_UPDATE, After: nodeRecord(id, v).GetNode().GetState()}}})
}

// ReadSnapshot implements server.Snapshotter over the node map (no relationships).
func (s *snapSource) ReadSnapshot(ctx context.Context, req server.SnapshotRequest) (server.SnapshotChunk, error) {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return server.SnapshotChunk{}, ctx.Err()
		}
	}
	s.mu.Lock()
	s.reads = append(s.reads, req)
	var chunk server.SnapshotChunk
	if req.Phase == cdcstreamv1.SnapshotPhase_SNAPSHOT_PHASE_NODES {
		for _, id := range slices.Sorted(func(yield func(string) bool) {
			for id := range s.nodes {
				if !yield(id) {
					return
				}
			}
		}) {
			if len(req.ElementIDs) > 0 && !slices.Contains(req.ElementIDs, id) ||
				len(req.ElementIDs) == 0 && (id <= req.After || chunk.Scanned == req.Limit) {
				continue
			}
			chunk.Records = append(chunk.Records, nodeRecord(id, s.nodes[id]))
			chunk.Scanned++
			chunk.Last = id
		}
	}
	tear := s.tear
	s.mu.Unlock()
	if tear != nil {
		tear(req)
	}
	return chunk, nil
}

func snapshotReq(mode cdcstreamv1.SnapshotMode, token string) *cdcstreamv1.SubscribeRequest {
	return &cdcstreamv1.SubscribeRequest{Snapshot: mode, SnapshotToken: token}
}

// values returns the snapshot records' element id -> v, in order, and the other messages' kinds.
func snapshotValues(msgs []*cdcstreamv1.SubscribeResponse) (ids []string, vals map[string]int64, kinds []string) {
	vals = map[string]int64{}
	for _, m := range msgs {
		switch x := m.GetMessage().(type) {
		case *cdcstreamv1.SubscribeResponse_SnapshotRecord:
			n := x.SnapshotRecord.GetNode()
			ids = append(ids, n.GetElementId())
			vals[n.GetElementId()] = n.GetState().GetProperties()["v"].GetIntegerValue()
			kinds = append(kinds, "record")
		case *cdcstreamv1.SubscribeResponse_SnapshotProgress:
			kinds = append(kinds, "progress")
		case *cdcstreamv1.SubscribeResponse_SnapshotEnd:
			kinds = append(kinds, "end")
		case *cdcstreamv1.SubscribeResponse_Change:
			kinds = append(kinds, "change")
		case *cdcstreamv1.SubscribeResponse_Checkpoint:
			kinds = append(kinds, "checkpoint")
		}
	}
	return ids, vals, kinds
}

func newSnapHarness(t *testing.T, src *snapSource, opts ...server.Option) *harness {
	t.Helper()
	h := newHarness(t)
	h.src = src.FakeSource
	srv, err := server.New(src, append([]server.Option{server.WithClock(h.clock), server.WithPollInterval(pollInterval)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	return h
}

// TestSnapshotDropsAndRereadsTornRecords: a node written while its chunk is read is not sent
// as read (that copy may be torn) but re-read in a window of its own; the change itself
// follows SnapshotEnd, since the stream continues from the cursor before the first chunk.
func TestSnapshotDropsAndRereadsTornRecords(t *testing.T) {
	src := newSnapSource(5)
	src.Commit(db, 2) // some history before the snapshot
	torn := false
	src.tear = func(req server.SnapshotRequest) {
		if !torn && len(req.ElementIDs) == 0 && req.After == "4:g:01" {
			torn = true
			src.update("4:g:03", 7) // committed during the read of chunk 2 (4:g:02, 4:g:03)
		}
	}
	h := newSnapHarness(t, src, server.WithSnapshotChunkSize(2))
	start := servertest.ID(db, 2)
	s := h.subscribe(snapshotReq(cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_INITIAL, ""), nil)
	msgs := s.rec.wait(t, h.ctx, 10) // 5 records, 3 progress (the last one opens the empty relationship phase), end, the change
	ids, vals, kinds := snapshotValues(msgs[:10])
	if want := []string{"record", "record", "progress", "record", "record", "progress", "record", "progress", "end", "change"}; !slices.Equal(kinds, want) {
		t.Fatalf("message kinds %v, want %v", kinds, want)
	}
	if !slices.Equal(ids, []string{"4:g:00", "4:g:01", "4:g:02", "4:g:03", "4:g:04"}) || vals["4:g:03"] != 7 {
		t.Fatalf("records %v %v: want every node once, 4:g:03 re-read with v=7", ids, vals)
	}
	src.mu.Lock()
	reads := slices.Clone(src.reads)
	src.mu.Unlock()
	var rereads [][]string
	for _, r := range reads {
		if len(r.ElementIDs) > 0 {
			rereads = append(rereads, r.ElementIDs)
		}
	}
	if len(rereads) != 1 || !slices.Equal(rereads[0], []string{"4:g:03"}) {
		t.Fatalf("re-reads %v, want one of [4:g:03]", rereads)
	}
	end := msgs[8].GetSnapshotEnd()
	if end.GetCursor().GetId() != start || end.GetRecordsSent() != 5 || end.GetConsistentCursor().GetId() != servertest.ID(db, 3) {
		t.Fatalf("SnapshotEnd %v, want cursor %s, consistent cursor %s, 5 records", end, start, servertest.ID(db, 3))
	}
	if got := msgs[9].GetChange().GetNode().GetElementId(); got != "4:g:03" {
		t.Fatalf("change after SnapshotEnd is for %q, want the torn node's", got)
	}
}

// TestSnapshotContended: a node changed during every re-read ends the stream with ABORTED,
// SNAPSHOT_CONTENDED, RetryInfo, after a bounded number of re-reads.
func TestSnapshotContended(t *testing.T) {
	src := newSnapSource(3)
	n := int64(0)
	src.tear = func(server.SnapshotRequest) { n++; src.update("4:g:01", n) }
	h := newSnapHarness(t, src)
	s := h.subscribe(snapshotReq(cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY, ""), nil)
	err := s.result(t, h.ctx)
	wantStatus(t, err, codes.Aborted, "SNAPSHOT_CONTENDED")
	if _, _, retry, _ := statusInfo(t, err); retry == nil {
		t.Fatal("SNAPSHOT_CONTENDED without RetryInfo")
	}
	if _, _, kinds := snapshotValues(s.rec.messages()); len(kinds) != 0 {
		t.Fatalf("a contended chunk sent %v, want nothing", kinds)
	}
	if n != 9 { // the chunk read and 8 re-reads
		t.Fatalf("%d reads, want 9", n)
	}
}

// TestSnapshotResumesAtNextChunk: a snapshot-only stream ends with OK after SnapshotEnd; a new
// stream with the token of the first chunk's SnapshotProgress sends only the later records,
// and the same SnapshotEnd cursor.
func TestSnapshotResumesAtNextChunk(t *testing.T) {
	src := newSnapSource(5)
	h := newSnapHarness(t, src, server.WithSnapshotChunkSize(2))
	s := h.subscribe(snapshotReq(cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY, ""), nil)
	if err := s.result(t, h.ctx); err != nil {
		t.Fatalf("snapshot-only stream ended with %v, want OK", err)
	}
	msgs := s.rec.messages()
	first := msgs[2].GetSnapshotProgress()
	if first.GetRecordsSent() != 2 || first.GetSnapshotToken() == "" {
		t.Fatalf("first progress %v", first)
	}
	endAll := msgs[len(msgs)-1].GetSnapshotEnd()

	src.update("4:g:00", 5) // after the first chunk: the resumed stream does not re-send it
	r := h.subscribe(snapshotReq(cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY, first.GetSnapshotToken()), nil)
	if err := r.result(t, h.ctx); err != nil {
		t.Fatalf("resumed stream ended with %v", err)
	}
	rmsgs := r.rec.messages()
	ids, _, _ := snapshotValues(rmsgs)
	if !slices.Equal(ids, []string{"4:g:02", "4:g:03", "4:g:04"}) {
		t.Fatalf("resumed records %v, want the chunks after the token", ids)
	}
	end := rmsgs[len(rmsgs)-1].GetSnapshotEnd()
	if end.GetCursor().GetId() != endAll.GetCursor().GetId() || end.GetRecordsSent() != 5 {
		t.Fatalf("resumed SnapshotEnd %v, want cursor %s and 5 records in all", end, endAll.GetCursor().GetId())
	}
}

// TestSnapshotRefusals: snapshot requests that cannot be served are refused before any read.
func TestSnapshotRefusals(t *testing.T) {
	src := newSnapSource(1)
	h := newSnapHarness(t, src, server.WithSnapshotChunkSize(1))
	s := h.subscribe(snapshotReq(cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY, ""), nil)
	if err := s.result(t, h.ctx); err != nil {
		t.Fatal(err)
	}
	token := s.rec.messages()[1].GetSnapshotProgress().GetSnapshotToken()
	sel := []*cdcstreamv1.Selector{{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: []string{"N"}}}}}
	for _, tc := range []struct {
		name   string
		req    *cdcstreamv1.SubscribeRequest
		reason string
		field  string
	}{
		{"malformed token", snapshotReq(cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY, "!!"), "INVALID_CURSOR", "snapshot_token"},
		{"forged token", snapshotReq(cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY, "eyJ2IjoyfQ"), "INVALID_CURSOR", "snapshot_token"},
		{"token of other selectors", &cdcstreamv1.SubscribeRequest{Snapshot: cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY, SnapshotToken: token, Selectors: sel}, "INVALID_CURSOR", "snapshot_token"},
		{"token of another database", &cdcstreamv1.SubscribeRequest{Database: "orders", Snapshot: cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY, SnapshotToken: token}, "INVALID_CURSOR", "snapshot_token"},
		{"token without snapshot", snapshotReq(cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_NONE, token), "INVALID_REQUEST", "snapshot_token"},
		{"unknown mode", snapshotReq(42, ""), "INVALID_REQUEST", "snapshot"},
		{"snapshot from a cursor", &cdcstreamv1.SubscribeRequest{Snapshot: cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_INITIAL,
			Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: servertest.ID(db, 0)}}}, "INVALID_REQUEST", "snapshot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := h.subscribe(tc.req, nil).result(t, h.ctx)
			wantStatus(t, err, codes.InvalidArgument, tc.reason)
			if _, _, _, br := statusInfo(t, err); len(br.GetFieldViolations()) == 0 || br.GetFieldViolations()[0].GetField() != tc.field {
				t.Fatalf("violations %v, want field %s", br.GetFieldViolations(), tc.field)
			}
		})
	}
	t.Run("source without snapshots", func(t *testing.T) {
		err := newHarness(t).subscribe(snapshotReq(cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_INITIAL, ""), nil).result(t, h.ctx)
		wantStatus(t, err, codes.InvalidArgument, "INVALID_REQUEST")
	})
}

// TestSnapshotLimit: beyond WithMaxSnapshots concurrent snapshots a request is refused with
// RESOURCE_EXHAUSTED, TOO_MANY_SNAPSHOTS and RetryInfo; plain streams are not limited by it.
func TestSnapshotLimit(t *testing.T) {
	src := newSnapSource(1)
	src.block = make(chan struct{})
	h := newSnapHarness(t, src, server.WithMaxSnapshots(1))
	first := h.subscribe(snapshotReq(cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY, ""), nil)
	h.waitCalls(servertest.MethodCurrent, 2) // the start cursor and the first chunk's low watermark
	err := h.subscribe(snapshotReq(cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY, ""), nil).result(t, h.ctx)
	wantStatus(t, err, codes.ResourceExhausted, "TOO_MANY_SNAPSHOTS")
	if _, _, retry, _ := statusInfo(t, err); retry == nil || retry.GetRetryDelay().AsDuration() <= 0 {
		t.Fatalf("TOO_MANY_SNAPSHOTS retry info %v", retry)
	}
	plain := h.subscribe(now(), nil)
	plain.rec.wait(t, h.ctx, 1) // its initial checkpoint
	close(src.block)
	if err := first.result(t, h.ctx); err != nil {
		t.Fatalf("first snapshot: %v", err)
	}
	// The token is free again.
	if err := h.subscribe(snapshotReq(cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY, ""), nil).result(t, h.ctx); err != nil {
		t.Fatalf("snapshot after the first ended: %v", err)
	}
}
