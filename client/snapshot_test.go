package client

import (
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

func snapRecord(id string) *cdcstreamv1.SubscribeResponse {
	return &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_SnapshotRecord{SnapshotRecord: &cdcstreamv1.SnapshotRecord{
		Entity: &cdcstreamv1.SnapshotRecord_Node{Node: &cdcstreamv1.NodeSnapshot{ElementId: id}}}}}
}

func snapProgress(token string) *cdcstreamv1.SubscribeResponse {
	return &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_SnapshotProgress{SnapshotProgress: &cdcstreamv1.SnapshotProgress{SnapshotToken: token}}}
}

func snapEnd(id string) *cdcstreamv1.SubscribeResponse {
	return &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_SnapshotEnd{SnapshotEnd: &cdcstreamv1.SnapshotEnd{Cursor: cursor(id)}}}
}

// kinds names the messages: record ids, "progress", "end", or change tx ids.
func kinds(msgs []*cdcstreamv1.SubscribeResponse) []string {
	var out []string
	for _, m := range msgs {
		switch {
		case m.GetSnapshotRecord() != nil:
			out = append(out, m.GetSnapshotRecord().GetNode().GetElementId())
		case m.GetSnapshotProgress() != nil:
			out = append(out, "progress")
		case m.GetSnapshotEnd() != nil:
			out = append(out, "end")
		case m.GetChange() != nil:
			out = append(out, "change")
		default:
			out = append(out, "checkpoint")
		}
	}
	return out
}

// TestSnapshotResumesAtNextChunk: a stream broken during the snapshot resumes with the token of
// the newest SnapshotProgress and no start; one broken after SnapshotEnd resumes from its
// cursor without a snapshot.
func TestSnapshotResumesAtNextChunk(t *testing.T) {
	f, conn := startFake(t,
		sendThen(status.Error(codes.Unavailable, "gone"), snapRecord("n1"), snapRecord("n2"), snapProgress("t1"), snapRecord("n3")),
		sendThen(status.Error(codes.Aborted, "contended"), snapRecord("n3"), snapProgress("t2")),
		sendThen(status.Error(codes.Unavailable, "gone"), snapRecord("n4"), snapEnd("c-5-0")),
		sendThenHang(change(6, 0)),
	)
	req := &cdcstreamv1.SubscribeRequest{Database: "neo4j", Snapshot: cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_INITIAL}
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), req)
	defer sub.Close()
	got := receiveN(t, sub, 9)
	if want := []string{"n1", "n2", "progress", "n3", "n3", "progress", "n4", "end", "change"}; !slices.Equal(kinds(got), want) {
		t.Fatalf("messages %v, want %v", kinds(got), want)
	}
	reqs := f.subscribeRequests()
	var tokens, modes, froms []string
	for _, r := range reqs {
		tokens = append(tokens, r.GetSnapshotToken())
		modes = append(modes, r.GetSnapshot().String())
		froms = append(froms, r.GetFromCursor().GetId())
	}
	if want := []string{"", "t1", "t2", ""}; !slices.Equal(tokens, want) {
		t.Fatalf("snapshot tokens %v, want %v", tokens, want)
	}
	if want := []string{"", "", "", "c-5-0"}; !slices.Equal(froms, want) {
		t.Fatalf("from cursors %v, want %v", froms, want)
	}
	if modes[3] != cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_NONE.String() || modes[2] != cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_INITIAL.String() {
		t.Fatalf("snapshot modes %v: the snapshot is asked for until SnapshotEnd, not after", modes)
	}
	if len(f.getCursorRequests()) != 0 {
		t.Fatalf("a snapshot start was pinned with GetCursor: %v", f.getCursorRequests())
	}
}

// TestSnapshotOnlyEndsTheSubscription: with SNAPSHOT_MODE_ONLY the server's OK end after
// SnapshotEnd ends the subscription with a nil error; Commit then stores SnapshotEnd's cursor.
func TestSnapshotOnlyEndsTheSubscription(t *testing.T) {
	f, conn := startFake(t, sendThen(nil, snapRecord("n1"), snapProgress("t1"), snapEnd("c-2-0")))
	store := NewFileStore(t.TempDir() + "/cursor.json")
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t),
		&cdcstreamv1.SubscribeRequest{Snapshot: cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_ONLY}, WithCheckpointStore(store))
	defer sub.Close()
	receiveN(t, sub, 3)
	if err := sub.Commit(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := endOf(t, sub); err != nil {
		t.Fatalf("snapshot-only subscription ended with %v, want nil", err)
	}
	if n := len(f.subscribeRequests()); n != 1 {
		t.Fatalf("%d Subscribe calls, want 1", n)
	}
	c, _ := store.Load(testCtx(t))
	if c.GetId() != "c-2-0" {
		t.Fatalf("stored cursor %v, want SnapshotEnd's", c)
	}
	// A later subscription with that store skips the snapshot and continues from the cursor.
	f2, conn2 := startFake(t, sendThenHang(change(3, 0)))
	sub2 := newTestClient(conn2, newFakeClock()).Subscribe(testCtx(t),
		&cdcstreamv1.SubscribeRequest{Snapshot: cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_INITIAL}, WithCheckpointStore(store))
	defer sub2.Close()
	receiveN(t, sub2, 1)
	r := f2.subscribeRequests()[0]
	if r.GetSnapshot() != cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_NONE || r.GetFromCursor().GetId() != "c-2-0" {
		t.Fatalf("request with a stored cursor %v, want no snapshot, from c-2-0", r)
	}
}
