package auth_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/auth"
	"github.com/cdcstream/cdcstream/internal/proctest"
	"github.com/cdcstream/cdcstream/internal/rpcstatus"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	tokenApp   = "app-token-0123456789abcdef"
	tokenOps   = "ops-token-0123456789abcdef"
	tokenFresh = "fresh-token-0123456789abcd"
)

// fakeService records who called and streams a checkpoint per value on more.
type fakeService struct {
	cdcstreamv1.UnimplementedChangeStreamServiceServer
	// more asks every open Subscribe to send one more checkpoint.
	more chan struct{}
	// mu guards names.
	mu    sync.Mutex
	names []string
}

func (f *fakeService) record(ctx context.Context) {
	name, _ := auth.NameFromContext(ctx)
	f.mu.Lock()
	f.names = append(f.names, name)
	f.mu.Unlock()
}

func (f *fakeService) GetCursor(ctx context.Context, req *cdcstreamv1.GetCursorRequest) (*cdcstreamv1.GetCursorResponse, error) {
	f.record(ctx)
	return &cdcstreamv1.GetCursorResponse{Cursor: &cdcstreamv1.Cursor{Id: "c1", Database: req.GetDatabase()}}, nil
}

func (f *fakeService) Subscribe(req *cdcstreamv1.SubscribeRequest, stream cdcstreamv1.ChangeStreamService_SubscribeServer) error {
	f.record(stream.Context())
	for i := 0; ; i++ {
		cp := &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Checkpoint{
			Checkpoint: &cdcstreamv1.Checkpoint{Cursor: &cdcstreamv1.Cursor{Id: "c", Database: req.GetDatabase()}}}}
		if err := stream.Send(cp); err != nil {
			return err
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-f.more:
		}
	}
}

func writeTokens(t *testing.T, path string, entries []map[string]any) {
	t.Helper()
	b, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type env struct {
	store   *auth.Store
	svc     *fakeService
	client  cdcstreamv1.ChangeStreamServiceClient
	conn    *grpc.ClientConn
	logs    *proctest.Log
	tokFile string
}

func start(t *testing.T) *env {
	t.Helper()
	e := &env{svc: &fakeService{more: make(chan struct{})}, logs: &proctest.Log{}}
	e.tokFile = filepath.Join(t.TempDir(), "tokens.json")
	writeTokens(t, e.tokFile, []map[string]any{
		{"name": "app", "token": tokenApp, "databases": []string{"neo4j", "Sales"}},
		{"name": "ops", "token": tokenOps, "databases": []string{"*"}},
	})
	store, err := auth.Load(e.tokFile)
	if err != nil {
		t.Fatal(err)
	}
	e.store = store
	ai := auth.NewInterceptors(store, auth.WithDefaultDatabase("neo4j"),
		auth.WithLogger(slog.New(slog.NewTextHandler(e.logs, nil))))
	t.Cleanup(func() { // registered before Serve, so it runs after the server stopped
		for _, secret := range []string{tokenApp, tokenOps, tokenFresh} {
			if strings.Contains(e.logs.String(), secret) {
				t.Errorf("a token appears in the log:\n%s", e.logs.String())
			}
		}
	})
	cc, _ := testkit.Serve(t, func(gs grpc.ServiceRegistrar) {
		cdcstreamv1.RegisterChangeStreamServiceServer(gs, e.svc)
		healthpb.RegisterHealthServer(gs, health.NewServer())
	}, testkit.OnServer(func(gs *grpc.Server) { reflection.Register(gs) }),
		testkit.ServerOptions(grpc.ChainUnaryInterceptor(ai.UnaryInterceptor()), grpc.ChainStreamInterceptor(ai.StreamInterceptor())))
	e.conn = cc
	e.client = cdcstreamv1.NewChangeStreamServiceClient(cc)
	return e
}

func withToken(ctx context.Context, header string) context.Context {
	if header == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", header)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantStatus checks code and reason, and that no token leaked into the message.
func wantStatus(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	if status.Code(err) != code || rpcstatus.Reason(err) != reason {
		t.Fatalf("got %v (reason %q), want %v %s", err, rpcstatus.Reason(err), code, reason)
	}
	if err == nil {
		return
	}
	for _, secret := range []string{tokenApp, tokenOps, tokenFresh} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error shows a token: %v", err)
		}
	}
}

func TestGetCursorOutcomes(t *testing.T) {
	e := start(t)
	cases := []struct {
		name, header, db string
		code             codes.Code
		reason           string
	}{
		{"no token", "", "neo4j", codes.Unauthenticated, rpcstatus.ReasonUnauthenticated},
		{"unknown token", "Bearer " + tokenFresh, "neo4j", codes.Unauthenticated, rpcstatus.ReasonUnauthenticated},
		{"token prefix", "Bearer " + tokenApp[:len(tokenApp)-1], "neo4j", codes.Unauthenticated, rpcstatus.ReasonUnauthenticated},
		{"wrong scheme", "Basic " + tokenApp, "neo4j", codes.Unauthenticated, rpcstatus.ReasonUnauthenticated},
		{"bare token", tokenApp, "neo4j", codes.Unauthenticated, rpcstatus.ReasonUnauthenticated},
		{"granted database", "Bearer " + tokenApp, "neo4j", codes.OK, ""},
		{"default database", "Bearer " + tokenApp, "", codes.OK, ""},
		{"granted, other case", "bearer " + tokenApp, "SALES", codes.OK, ""},
		{"database not granted", "Bearer " + tokenApp, "hr", codes.PermissionDenied, rpcstatus.ReasonPermissionDenied},
		{"wildcard", "Bearer " + tokenOps, "hr", codes.OK, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.client.GetCursor(withToken(testCtx(t), c.header), &cdcstreamv1.GetCursorRequest{Database: c.db})
			wantStatus(t, err, c.code, c.reason)
		})
	}
	e.svc.mu.Lock()
	defer e.svc.mu.Unlock()
	want := []string{"app", "app", "app", "ops"}
	if strings.Join(e.svc.names, ",") != strings.Join(want, ",") {
		t.Fatalf("handler saw names %v, want %v", e.svc.names, want)
	}
}

func TestSubscribeOutcomes(t *testing.T) {
	e := start(t)
	cases := []struct {
		name, header string
		req          *cdcstreamv1.SubscribeRequest
		code         codes.Code
		reason       string
	}{
		{"no token", "", &cdcstreamv1.SubscribeRequest{}, codes.Unauthenticated, rpcstatus.ReasonUnauthenticated},
		{"unknown token", "Bearer " + tokenFresh, &cdcstreamv1.SubscribeRequest{}, codes.Unauthenticated, rpcstatus.ReasonUnauthenticated},
		{"default database", "Bearer " + tokenApp, &cdcstreamv1.SubscribeRequest{}, codes.OK, ""},
		{"database not granted", "Bearer " + tokenApp, &cdcstreamv1.SubscribeRequest{Database: "hr"}, codes.PermissionDenied, rpcstatus.ReasonPermissionDenied},
		{"cursor database not granted", "Bearer " + tokenApp, &cdcstreamv1.SubscribeRequest{
			Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: "x", Database: "hr"}}}, codes.PermissionDenied, rpcstatus.ReasonPermissionDenied},
		{"cursor database granted", "Bearer " + tokenApp, &cdcstreamv1.SubscribeRequest{
			Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: "x", Database: "sales"}}}, codes.OK, ""},
		{"wildcard", "Bearer " + tokenOps, &cdcstreamv1.SubscribeRequest{Database: "hr"}, codes.OK, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(withToken(testCtx(t), c.header))
			defer cancel()
			st, err := e.client.Subscribe(ctx, c.req)
			if err != nil {
				t.Fatal(err)
			}
			_, err = st.Recv()
			wantStatus(t, err, c.code, c.reason)
		})
	}
}

func TestHealthAndReflectionOpen(t *testing.T) {
	e := start(t)
	ctx := testCtx(t)
	if _, err := healthpb.NewHealthClient(e.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health without a token: %v", err)
	}
	rs, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := rs.Recv()
	if err != nil {
		t.Fatalf("reflection without a token: %v", err)
	}
	if len(resp.GetListServicesResponse().GetService()) == 0 {
		t.Fatal("reflection listed no services")
	}
	_ = rs.CloseSend()
}

func TestReloadKeepsOpenStreams(t *testing.T) {
	e := start(t)
	ctx := testCtx(t)
	streamCtx, cancelStream := context.WithCancel(withToken(ctx, "Bearer "+tokenApp))
	defer cancelStream()
	st, err := e.client.Subscribe(streamCtx, &cdcstreamv1.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}

	signals := make(chan os.Signal) // the test's stand-in for SIGHUP
	reloaded := make(chan error)    // each reload's result
	reloadCtx, stopReload := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.store.ReloadOn(reloadCtx, signals, slog.New(slog.NewTextHandler(e.logs, nil)), reloaded)
	}()
	defer func() { stopReload(); wg.Wait() }()

	// A broken file keeps the old tokens.
	if err := os.WriteFile(e.tokFile, []byte(`[{"name":"x","token":"`+tokenFresh+`"`), 0o600); err != nil {
		t.Fatal(err)
	}
	signals <- os.Interrupt
	if err := <-reloaded; err == nil {
		t.Fatal("reload of a broken file succeeded")
	}
	if _, err := e.client.GetCursor(withToken(ctx, "Bearer "+tokenApp), &cdcstreamv1.GetCursorRequest{}); err != nil {
		t.Fatalf("old token after failed reload: %v", err)
	}

	writeTokens(t, e.tokFile, []map[string]any{{"name": "fresh", "token": tokenFresh, "databases": []string{"*"}}})
	signals <- os.Interrupt
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GetCursor(withToken(ctx, "Bearer "+tokenApp), &cdcstreamv1.GetCursorRequest{})
	wantStatus(t, err, codes.Unauthenticated, rpcstatus.ReasonUnauthenticated)
	if _, err := e.client.GetCursor(withToken(ctx, "Bearer "+tokenFresh), &cdcstreamv1.GetCursorRequest{}); err != nil {
		t.Fatalf("new token: %v", err)
	}
	// The stream opened with the removed token keeps streaming.
	for i := 0; i < 3; i++ {
		e.svc.more <- struct{}{}
		if _, err := st.Recv(); err != nil {
			t.Fatalf("open stream after reload: %v", err)
		}
	}
	if !strings.Contains(e.logs.String(), "auth tokens reloaded") || !strings.Contains(e.logs.String(), "NOT reloaded") {
		t.Fatalf("reloads not logged:\n%s", e.logs.String())
	}
}
