package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"google.golang.org/grpc"

	"github.com/cdcstream/cdcstream/client"
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/proctest"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// TestSnapshotResumesAfterSIGKILL: a real cdcstreamd is killed (SIGKILL) in the middle of a
// snapshot and started again on the same address; the Go client resumes the snapshot with the
// token of the last complete chunk (not from the start), then streams the changes, and the
// state it reconstructs equals the simulator's graph, including writes committed while no
// server ran.
func TestSnapshotResumesAfterSIGKILL(t *testing.T) {
	tg := newSimTarget(t)
	const nodes, rels, chunk = 2000, 1000, 20
	payload := strings.Repeat("p", 200)
	var ids []string
	tg.write(t, nil, func(w writer) {
		for i := range nodes {
			ids = append(ids, w.createNode([]string{"Item"}, map[string]*cdcstreamv1.Value{
				"k": intValue(int64(i)), "payload": stringValue(payload)}))
		}
		for i := range rels {
			w.createRelationship("NEXT", ids[i], ids[(i*7+1)%nodes], map[string]*cdcstreamv1.Value{"w": intValue(int64(i))})
		}
	})
	bin, _ := binaries(t)
	args := []string{"--neo4j-uri", tg.uri(), "--neo4j-user", simUser, "--database", simDatabase,
		"--snapshot-chunk-size", fmt.Sprint(chunk), "--poll-interval", "20ms"}
	env := []string{"NEO4J_PASSWORD=" + simPassword}
	d := proctest.StartDaemon(t, bin, env, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	addr := d.Addr

	// requests records every SubscribeRequest the client sends; firstProgress the
	// records_sent of the first SnapshotProgress each stream received (-1: none).
	var mu sync.Mutex // guards requests and firstProgress
	var requests []*cdcstreamv1.SubscribeRequest
	var firstProgress []int64
	record := grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
		streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs, err := streamer(ctx, desc, cc, method, opts...)
		mu.Lock()
		n := len(firstProgress)
		firstProgress = append(firstProgress, -1)
		mu.Unlock()
		return &recordingStream{ClientStream: cs, record: func(m any) {
			mu.Lock()
			defer mu.Unlock()
			if r, ok := m.(*cdcstreamv1.SubscribeRequest); ok {
				requests = append(requests, r)
			}
			if r, ok := m.(*cdcstreamv1.SubscribeResponse); ok && r.GetSnapshotProgress() != nil && firstProgress[n] < 0 {
				firstProgress[n] = r.GetSnapshotProgress().GetRecordsSent()
			}
		}}, err
	})
	conn := testkit.Dial(t, addr, record)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cli := client.New(conn, client.WithBackoff(50*time.Millisecond, 500*time.Millisecond), client.WithLogger(quietLogger()))
	sub := cli.Subscribe(ctx, &cdcstreamv1.SubscribeRequest{Database: simDatabase, Snapshot: cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_INITIAL})
	defer sub.Close()

	m := newModel()
	records, progress := 0, 0
	lastToken, killedAt := "", ""
	var end *cdcstreamv1.SnapshotEnd
	var restarted *proctest.Daemon
	sentinel := int64(-1)
	for sub.Receive() {
		msg := sub.Msg()
		switch x := msg.GetMessage().(type) {
		case *cdcstreamv1.SubscribeResponse_SnapshotRecord:
			records++
			m.record(x.SnapshotRecord)
		case *cdcstreamv1.SubscribeResponse_SnapshotProgress:
			progress++
			lastToken = x.SnapshotProgress.GetSnapshotToken()
			if progress == 5 && restarted == nil {
				killedAt = lastToken
				d.Kill()
				// Writes while no server runs: the resumed stream must still deliver them.
				tg.write(t, nil, func(w writer) {
					w.setNodeProperties(ids[0], map[string]*cdcstreamv1.Value{"k": intValue(-5)})
					w.deleteNode(ids[nodes-1])
					w.createNode([]string{"Item"}, map[string]*cdcstreamv1.Value{"k": intValue(nodes)})
				})
				restarted = proctest.StartDaemon(t, bin, env, append([]string{"--listen", addr}, args...)...)
			}
		case *cdcstreamv1.SubscribeResponse_SnapshotEnd:
			end = x.SnapshotEnd
			tg.write(t, nil, func(w writer) {
				w.createNode([]string{sentinelLabel}, map[string]*cdcstreamv1.Value{"k": intValue(sentinel)})
			})
		case *cdcstreamv1.SubscribeResponse_Change:
			m.change(x.Change)
			if n := x.Change.GetNode(); n != nil && slices.Contains(n.GetAfter().GetLabels(), sentinelLabel) {
				sub.Close()
			}
		}
	}
	if err := sub.Err(); err != nil {
		t.Fatalf("subscription: %v", err)
	}
	if restarted == nil || end == nil {
		t.Fatalf("the snapshot ended before the kill (%d progress messages) or never ended", progress)
	}
	mu.Lock()
	reqs := slices.Clone(requests)
	mu.Unlock()
	var resumedWith []string
	for _, r := range reqs[1:] {
		if r.GetSnapshotToken() != "" {
			resumedWith = append(resumedWith, r.GetSnapshotToken())
		}
	}
	if len(resumedWith) == 0 || resumedWith[0] != killedAt {
		t.Fatalf("resumed with tokens %v, want the token of the last chunk before the kill first", resumedWith)
	}
	// Resumed at the next chunk: the first chunk the resumed stream ends is the one after the
	// token (5 chunks sent before it), not the first chunk of a new snapshot.
	mu.Lock()
	resumedFirst := firstProgress[slices.IndexFunc(reqs, func(r *cdcstreamv1.SubscribeRequest) bool { return r.GetSnapshotToken() == killedAt })]
	mu.Unlock()
	if resumedFirst != 6*chunk {
		t.Fatalf("the resumed stream's first SnapshotProgress counts %d records, want %d (the chunk after the token)", resumedFirst, 6*chunk)
	}
	if total := int64(nodes + rels); end.GetRecordsSent() != total || int64(records) < total {
		t.Fatalf("received %d records, SnapshotEnd says %d; want %d", records, end.GetRecordsSent(), total)
	}
	drv, err := neo4j.NewDriverWithContext(tg.uri(), neo4j.BasicAuth(simUser, simPassword, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close(context.Background())
	if got, want := m.String(), expectedGraph(t, ctx, drv, simDatabase, "all"); got != want {
		t.Fatalf("reconstructed graph differs from the simulator's (%d vs %d bytes)", len(got), len(want))
	}
}

// recordingStream hands every message the client sends to record.
type recordingStream struct {
	grpc.ClientStream
	record func(any)
}

// SendMsg implements grpc.ClientStream.
func (s *recordingStream) SendMsg(m any) error {
	s.record(m)
	return s.ClientStream.SendMsg(m)
}

// RecvMsg implements grpc.ClientStream.
func (s *recordingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil {
		s.record(m)
	}
	return err
}

func intValue(v int64) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: v}}
}

func stringValue(v string) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_StringValue{StringValue: v}}
}
