package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// tailServer is a fake ChangeStreamService over a fixed log of n node creates with cursor ids
// "c-1".."c-n" in database "neo4j" (cursor "c-0" is before the first). Subscribe honours the
// start, sends the rest of the log and a checkpoint at the head, then keeps the stream open.
// The cursor "expired" is answered with OUT_OF_RANGE/CURSOR_EXPIRED (earliest "c-0").
type tailServer struct {
	log []*cdcstreamv1.ChangeEvent
	// wantToken, when set, is the only bearer token accepted.
	wantToken string
	// mu guards requests.
	mu       sync.Mutex
	requests []*cdcstreamv1.SubscribeRequest
}

// newTailServer builds a server whose log holds n changes; change 1 is richChange.
func newTailServer(n int) *tailServer {
	s := &tailServer{}
	for i := 1; i <= n; i++ {
		ch := &cdcstreamv1.ChangeEvent{
			Cursor: &cdcstreamv1.Cursor{Id: fmt.Sprintf("c-%d", i), Database: "neo4j"},
			TxId:   int64(10 + i),
			Event: &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
				ElementId: fmt.Sprintf("4:db:%d", i), Operation: cdcstreamv1.Operation_OPERATION_CREATE,
				Labels: []string{"Person"},
				After:  &cdcstreamv1.NodeState{Labels: []string{"Person"}},
			}},
			Metadata: &cdcstreamv1.Metadata{CaptureMode: cdcstreamv1.CaptureMode_CAPTURE_MODE_FULL, DatabaseName: "neo4j"},
		}
		if i == 1 {
			ch = richChange()
		}
		s.log = append(s.log, ch)
	}
	return s
}

// richChange is change c-1: a relationship update carrying every value type.
func richChange() *cdcstreamv1.ChangeEvent {
	props := map[string]*cdcstreamv1.Value{
		"big":      testkit.Int(9007199254740993),
		"ratio":    testkit.Float(1),
		"name":     testkit.String("<Ann & Bob>"),
		"raw":      testkit.Bytes([]byte{0, 1, 2, 255}),
		"born":     testkit.Date(2024, 3, 3),
		"since":    testkit.Duration(1, 2, 3, 500_000_000),
		"where":    testkit.Point3D(9157, 1, 2.5, 3),
		"tags":     testkit.List(testkit.Bool(true)),
		"at":       testkit.DateTimeZone(timestamppb.New(time.Date(2024, 3, 3, 20, 51, 56, 769_000_000, time.UTC)), "Europe/Stockholm"),
		"atOffset": testkit.DateTimeOffset(timestamppb.New(time.Date(2024, 3, 3, 20, 51, 56, 0, time.UTC)), -5*3600),
	}
	key := &cdcstreamv1.LabelKeys{Keys: []*cdcstreamv1.EntityKey{{Properties: map[string]*cdcstreamv1.Value{"id": testkit.Int(1)}}}}
	return &cdcstreamv1.ChangeEvent{
		Cursor: &cdcstreamv1.Cursor{Id: "c-1", Database: "neo4j"},
		TxId:   11, Seq: 0,
		Metadata: &cdcstreamv1.Metadata{
			ExecutingUser: "neo4j", AuthenticatedUser: "neo4j", CaptureMode: cdcstreamv1.CaptureMode_CAPTURE_MODE_DIFF,
			ConnectionType: "bolt", ServerId: "7528cb82", DatabaseName: "neo4j",
			TxStartTime:       timestamppb.New(time.Date(2024, 3, 3, 20, 51, 56, 714_000_000, time.UTC)),
			TxCommitTime:      timestamppb.New(time.Date(2024, 3, 3, 20, 51, 56, 769_000_000, time.UTC)),
			TxMetadata:        map[string]*cdcstreamv1.Value{"app": testkit.String("cypher-shell")},
			AdditionalEntries: map[string]*cdcstreamv1.Value{"databaseId": testkit.String("uuid-1")},
		},
		Event: &cdcstreamv1.ChangeEvent_Relationship{Relationship: &cdcstreamv1.RelationshipEvent{
			ElementId: "5:db:0", Operation: cdcstreamv1.Operation_OPERATION_UPDATE, Type: "KNOWS",
			Start:  &cdcstreamv1.NodeRef{ElementId: "4:db:0", Labels: []string{"Person"}, Keys: map[string]*cdcstreamv1.LabelKeys{"Person": key}},
			End:    &cdcstreamv1.NodeRef{ElementId: "4:db:1", Labels: []string{"Person"}},
			Before: &cdcstreamv1.RelationshipState{Properties: map[string]*cdcstreamv1.Value{}},
			After:  &cdcstreamv1.RelationshipState{Properties: props},
		}},
	}
}

// start serves s on 127.0.0.1:0 (with extra server options) until the test ends; it returns
// the address.
func (s *tailServer) start(t *testing.T, opts ...grpc.ServerOption) string {
	t.Helper()
	_, addr := (&testkit.Stub{SubscribeF: s.subscribe, GetCursorF: s.getCursor}).Start(t, testkit.ServerOptions(opts...))
	return addr
}

// checkToken enforces wantToken.
func (s *tailServer) checkToken(ctx context.Context) error {
	if s.wantToken == "" {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer "+s.wantToken {
		return status.Error(codes.Unauthenticated, "bad token")
	}
	return nil
}

// subscribe serves the log after the requested start.
func (s *tailServer) subscribe(req *cdcstreamv1.SubscribeRequest, stream cdcstreamv1.ChangeStreamService_SubscribeServer) error {
	if err := s.checkToken(stream.Context()); err != nil {
		return err
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	start := len(s.log)
	if req.GetPosition() == cdcstreamv1.StartPosition_START_POSITION_EARLIEST {
		start = 0
	}
	if c := req.GetFromCursor(); c != nil {
		if c.GetId() == "expired" {
			st, _ := status.New(codes.OutOfRange, "cursor expired").WithDetails(
				testkit.ErrorInfo(cdcstreamv1.ErrorReason_CURSOR_EXPIRED, map[string]string{"earliest_cursor": "c-0"}))
			return st.Err()
		}
		if _, err := fmt.Sscanf(c.GetId(), "c-%d", &start); err != nil || start < 0 || start > len(s.log) {
			return status.Error(codes.InvalidArgument, "bad cursor")
		}
	}
	for _, ch := range s.log[start:] {
		if err := stream.Send(&cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Change{Change: ch}}); err != nil {
			return err
		}
		if !req.GetTransactionMarkers() {
			continue
		}
		end := &cdcstreamv1.TransactionEnd{TxId: ch.GetTxId(), CommitTime: ch.GetMetadata().GetTxCommitTime(), ChangeCount: 1, Cursor: ch.GetCursor()}
		if err := stream.Send(&cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_TransactionEnd{TransactionEnd: end}}); err != nil {
			return err
		}
	}
	err := stream.Send(&cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Checkpoint{Checkpoint: &cdcstreamv1.Checkpoint{
		Cursor:     &cdcstreamv1.Cursor{Id: fmt.Sprintf("c-%d", len(s.log)), Database: "neo4j"},
		ServerTime: timestamppb.New(time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)),
	}}})
	if err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

// getCursor answers the head or the start of the log.
func (s *tailServer) getCursor(ctx context.Context, req *cdcstreamv1.GetCursorRequest) (*cdcstreamv1.GetCursorResponse, error) {
	if err := s.checkToken(ctx); err != nil {
		return nil, err
	}
	id := fmt.Sprintf("c-%d", len(s.log))
	if req.GetPosition() == cdcstreamv1.StartPosition_START_POSITION_EARLIEST {
		id = "c-0"
	}
	return &cdcstreamv1.GetCursorResponse{Cursor: &cdcstreamv1.Cursor{Id: id, Database: "neo4j"}}, nil
}

// firstRequest returns the first Subscribe request.
func (s *tailServer) firstRequest(t *testing.T) *cdcstreamv1.SubscribeRequest {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		t.Fatal("no Subscribe request")
	}
	return s.requests[0]
}

// lineWriter collects output and reports each complete line on a channel.
type lineWriter struct {
	// mu guards buf.
	mu  sync.Mutex
	buf strings.Builder
	// lines receives every complete line written (buffered generously; never blocks the writer).
	lines chan string
	part  string
}

// newLineWriter returns an empty lineWriter.
func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 1000)} }

// Write implements io.Writer.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.part += string(p)
	for {
		i := strings.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		select {
		case w.lines <- w.part[:i]:
		default:
		}
		w.part = w.part[i+1:]
	}
	return len(p), nil
}

// String returns everything written.
func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
