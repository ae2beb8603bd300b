package client

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/protoadapt"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// script plays one Subscribe call of the fake server.
type script = testkit.Script

// fakeServer is a scriptable ChangeStreamService (a testkit.Stub) on a real loopback listener:
// each Subscribe call plays the next script; when the scripts run out, calls hang until the
// client leaves.
type fakeServer struct {
	*testkit.Scripts
	// mu guards cursorRequests, cursorAnswers and cursorHangs.
	mu             sync.Mutex
	cursorRequests []*cdcstreamv1.GetCursorRequest
	cursorAnswers  map[cdcstreamv1.StartPosition]string
	cursorHangs    int // how many of the next GetCursor calls hang until the client leaves
	// subscribed receives every Subscribe request (buffered; the fake never blocks on it).
	subscribed chan *cdcstreamv1.SubscribeRequest
}

// startFake serves f on 127.0.0.1:0 and returns a client connection to it; both stop with t.
func startFake(t *testing.T, scripts ...script) (*fakeServer, *grpc.ClientConn) {
	t.Helper()
	return startFakeTB(t, scripts...)
}

// startFakeTB is startFake for tests and benchmarks.
func startFakeTB(t testing.TB, scripts ...script) (*fakeServer, *grpc.ClientConn) {
	t.Helper()
	f := &fakeServer{
		Scripts: testkit.NewScripts(scripts...),
		cursorAnswers: map[cdcstreamv1.StartPosition]string{
			cdcstreamv1.StartPosition_START_POSITION_NOW:      "now",
			cdcstreamv1.StartPosition_START_POSITION_EARLIEST: "earliest",
		},
	}
	f.subscribed = f.Scripts.Subscribed
	conn, _ := (&testkit.Stub{SubscribeF: f.Subscribe, GetCursorF: f.GetCursor}).Start(t)
	return f, conn
}

// GetCursor answers from cursorAnswers, in the requested database.
func (f *fakeServer) GetCursor(ctx context.Context, req *cdcstreamv1.GetCursorRequest) (*cdcstreamv1.GetCursorResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cursorRequests = append(f.cursorRequests, req)
	if f.cursorHangs > 0 {
		f.cursorHangs--
		f.mu.Unlock()
		<-ctx.Done()
		f.mu.Lock()
		return nil, ctx.Err()
	}
	return &cdcstreamv1.GetCursorResponse{Cursor: &cdcstreamv1.Cursor{Id: f.cursorAnswers[req.GetPosition()], Database: req.GetDatabase()}}, nil
}

// subscribeRequests returns a copy of the requests received so far.
func (f *fakeServer) subscribeRequests() []*cdcstreamv1.SubscribeRequest { return f.Requests() }

// getCursorRequests returns a copy of the GetCursor requests received so far.
func (f *fakeServer) getCursorRequests() []*cdcstreamv1.GetCursorRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*cdcstreamv1.GetCursorRequest(nil), f.cursorRequests...)
}

// The kit's scripts and messages, under the names these tests use; cursor ids are the kit's
// "c-<tx>-<seq>" in database "neo4j".
var (
	sendThen     = testkit.SendThen
	sendThenHang = testkit.SendThenHang
	change       = testkit.Change
	checkpoint   = testkit.Checkpoint
	cursor       = testkit.Cursor
)

// statusErr builds a status error with a cdcstream ErrorInfo (when reason is set) and a
// RetryInfo (when delay is positive).
func statusErr(t *testing.T, code codes.Code, reason string, meta map[string]string, delay time.Duration) error {
	t.Helper()
	var details []protoadapt.MessageV1
	if reason != "" {
		details = append(details, &errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: meta})
	}
	if delay > 0 {
		details = append(details, testkit.RetryInfo(delay))
	}
	return testkit.StatusError(t, code, "scripted "+code.String(), details...)
}

// recordingSleep records backoff waits instead of waiting.
type recordingSleep struct {
	// mu guards waits.
	mu    sync.Mutex
	waits []time.Duration
}

// sleep records d and returns at once (or the context's error).
func (r *recordingSleep) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
	return ctx.Err()
}

// recorded returns the waits so far.
func (r *recordingSleep) recorded() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.waits...)
}

// memStore is an in-memory CheckpointStore.
type memStore struct {
	// mu guards c and saves.
	mu    sync.Mutex
	c     *cdcstreamv1.Cursor
	saves int
}

// Load returns the stored cursor.
func (m *memStore) Load(context.Context) (*cdcstreamv1.Cursor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c, nil
}

// Save stores c.
func (m *memStore) Save(_ context.Context, c *cdcstreamv1.Cursor) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c, m.saves = c, m.saves+1
	return nil
}
