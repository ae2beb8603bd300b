package server_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

// admissionLog records what an admission function was asked and how often it released.
type admissionLog struct {
	// mu guards asked and released.
	mu       sync.Mutex
	asked    []server.AdmissionRequest
	released int
}

func (l *admissionLog) admit(refuse map[string]error) server.Admission {
	return func(_ context.Context, req server.AdmissionRequest) (func(), error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.asked = append(l.asked, req)
		if err := refuse[req.Database]; err != nil {
			return nil, err
		}
		return func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.released++
		}, nil
	}
}

// TestAdmissionSeesTheValidatedDatabase: admission decides on the database the server will
// read (lower-cased, defaulted, the cursor's), after validation and before any Neo4j call;
// its refusals become the service's statuses and every admitted call releases once.
func TestAdmissionSeesTheValidatedDatabase(t *testing.T) {
	src := servertest.NewFakeSource("neo4j", "sales", "hrdb")
	log := &admissionLog{}
	refuse := map[string]error{
		"hrdb": fmt.Errorf("%w: token app may not read database hrdb", server.ErrPermissionDenied),
	}
	srv, err := server.New(src, server.WithAdmission(log.admit(refuse)))
	if err != nil {
		t.Fatal(err)
	}
	client := serveLoopback(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	subscribe := func(req *cdcstreamv1.SubscribeRequest) error {
		sctx, scancel := context.WithCancel(ctx)
		defer scancel()
		st, err := client.Subscribe(sctx, req)
		if err != nil {
			return err
		}
		_, err = st.Recv()
		return err
	}
	if err := subscribe(&cdcstreamv1.SubscribeRequest{Database: "SALES"}); err != nil {
		t.Fatalf("SALES: %v", err)
	}
	if err := subscribe(&cdcstreamv1.SubscribeRequest{}); err != nil {
		t.Fatalf("default database: %v", err)
	}
	calls := src.Calls(servertest.MethodCurrent)
	err = subscribe(&cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_FromCursor{
		FromCursor: &cdcstreamv1.Cursor{Id: servertest.ID("hrdb", 0), Database: "HRDB"}}})
	if status.Code(err) != codes.PermissionDenied || status.Convert(err).Message() != "permission denied: token app may not read database hrdb" {
		t.Fatalf("refused cursor database: %v", err)
	}
	if src.Calls(servertest.MethodCurrent) != calls || src.Calls(servertest.MethodPoll) != 0 {
		t.Fatal("a refused call reached Neo4j")
	}
	// Invalid requests are refused before admission is asked.
	if err := subscribe(&cdcstreamv1.SubscribeRequest{Database: "1x"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("invalid database: %v", err)
	}
	if _, err := client.GetCursor(ctx, &cdcstreamv1.GetCursorRequest{Database: "Neo4j"}); err != nil {
		t.Fatalf("GetCursor: %v", err)
	}
	_, err = client.GetCursor(ctx, &cdcstreamv1.GetCursorRequest{Database: "hrdb"})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("GetCursor refused: %v", err)
	}
	// Releases happen when the handler returns, after the client saw its end.
	for {
		log.mu.Lock()
		released := log.released
		log.mu.Unlock()
		if released == 3 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("released %d admitted calls, want 3", released)
		case <-time.After(time.Millisecond):
		}
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	want := []server.AdmissionRequest{
		{Method: cdcstreamv1.ChangeStreamService_Subscribe_FullMethodName, Database: "sales"},
		{Method: cdcstreamv1.ChangeStreamService_Subscribe_FullMethodName, Database: "neo4j"},
		{Method: cdcstreamv1.ChangeStreamService_Subscribe_FullMethodName, Database: "hrdb"},
		{Method: cdcstreamv1.ChangeStreamService_GetCursor_FullMethodName, Database: "neo4j"},
		{Method: cdcstreamv1.ChangeStreamService_GetCursor_FullMethodName, Database: "hrdb"},
	}
	if fmt.Sprint(log.asked) != fmt.Sprint(want) {
		t.Fatalf("admission asked %v, want %v", log.asked, want)
	}
}

// TestAdmissionErrorsBecomeStatuses: an admission error of no known kind is INTERNAL without
// its text; the server's own limit refuses after admission, and admission is released.
func TestAdmissionErrorsBecomeStatuses(t *testing.T) {
	src := servertest.NewFakeSource("neo4j")
	log := &admissionLog{}
	srv, err := server.New(src, server.WithMaxSubscriptions(1),
		server.WithAdmission(log.admit(map[string]error{})))
	if err != nil {
		t.Fatal(err)
	}
	client := serveLoopback(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := client.Subscribe(ctx, &cdcstreamv1.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Recv(); err != nil {
		t.Fatal(err)
	}
	second, err := client.Subscribe(ctx, &cdcstreamv1.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Recv(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second stream: %v, want RESOURCE_EXHAUSTED", err)
	}

	secret := errors.New("backend said password=hunter2")
	srv2, err := server.New(src, server.WithAdmission(func(context.Context, server.AdmissionRequest) (func(), error) {
		return nil, secret
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = serveLoopback(t, srv2).GetCursor(ctx, &cdcstreamv1.GetCursorRequest{})
	if status.Code(err) != codes.Internal || status.Convert(err).Message() != "internal error" {
		t.Fatalf("unknown admission error: %v", err)
	}
}

// recordingObserver counts the events it sees.
type recordingObserver struct {
	server.NopObserver
	// mu guards the fields below.
	mu                    sync.Mutex
	started, changes, cps int
	ended                 []string
	commitTimes           []time.Time
	startedDB, changesDB  string
}

func (r *recordingObserver) StreamStarted(db string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started++
	r.startedDB = db
}

func (r *recordingObserver) StreamEnded(db string, code codes.Code, reason cdcstreamv1.ErrorReason) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = append(r.ended, db+" "+code.String()+" "+reason.String())
}

func (r *recordingObserver) ChangeSent(db string, _ time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes++
	r.changesDB = db
}

func (r *recordingObserver) CheckpointSent(string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cps++
}

// TestObserverSeesStreamEvents: an observer added with WithObserver sees what Stats counts,
// and a stream's end with its code and reason.
func TestObserverSeesStreamEvents(t *testing.T) {
	src := servertest.NewFakeSource("neo4j")
	obs := &recordingObserver{}
	srv, err := server.New(src, server.WithPollInterval(time.Millisecond), server.WithObserver(obs), server.WithObserver(nil))
	if err != nil {
		t.Fatal(err)
	}
	client := serveLoopback(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := client.Subscribe(ctx, &cdcstreamv1.SubscribeRequest{Database: "Neo4j"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil { // the opening checkpoint
		t.Fatal(err)
	}
	src.Commit("neo4j", 3)
	for range 3 {
		if _, err := st.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	stats := srv.Stats()
	if obs.started != 1 || obs.startedDB != "neo4j" || obs.changes != 3 || obs.changesDB != "neo4j" ||
		uint64(obs.changes) != stats.ChangesSent || uint64(obs.cps) != stats.CheckpointsSent || obs.cps != 2 {
		t.Fatalf("observer saw started=%d %q changes=%d %q checkpoints=%d; stats %+v",
			obs.started, obs.startedDB, obs.changes, obs.changesDB, obs.cps, stats)
	}
	if fmt.Sprint(obs.ended) != "[neo4j Unavailable SERVER_SHUTTING_DOWN]" {
		t.Fatalf("ended %v", obs.ended)
	}
}
