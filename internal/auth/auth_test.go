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
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/auth"
	"github.com/cdcstream/cdcstream/internal/proctest"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	tokenApp   = "app-token-0123456789abcdef"
	tokenOps   = "ops-token-0123456789abcdef"
	tokenFresh = "fresh-token-0123456789abcd"
)

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
	store *auth.Store
	src   *servertest.FakeSource
	// mu guards names.
	mu sync.Mutex
	// names are the principals the service's admission saw, in call order.
	names   []string
	client  cdcstreamv1.ChangeStreamServiceClient
	conn    *grpc.ClientConn
	logs    *proctest.Log
	tokFile string
}

// start serves the real service over a fake Source, with the interceptors authenticating and
// the store's admission authorising (limit: per-token subscriptions, 0 = none; global: the
// server's own limit).
func start(t *testing.T, limit, global int) *env {
	t.Helper()
	e := &env{src: servertest.NewFakeSource("neo4j", "sales", "hrdb"), logs: &proctest.Log{}}
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
	logger := slog.New(slog.NewTextHandler(e.logs, nil))
	admit := store.Admission(auth.WithLogger(logger), auth.WithMaxSubscriptionsPerToken(limit))
	svc, err := server.New(e.src, server.WithPollInterval(5*time.Millisecond), server.WithMaxSubscriptions(global),
		server.WithAdmission(func(ctx context.Context, req server.AdmissionRequest) (func(), error) {
			name, _ := auth.NameFromContext(ctx)
			e.mu.Lock()
			e.names = append(e.names, name)
			e.mu.Unlock()
			return admit(ctx, req)
		}))
	if err != nil {
		t.Fatal(err)
	}
	ai := auth.NewInterceptors(store, auth.WithLogger(logger))
	t.Cleanup(func() { // registered before Serve, so it runs after the server stopped
		for _, secret := range []string{tokenApp, tokenOps, tokenFresh} {
			if strings.Contains(e.logs.String(), secret) {
				t.Errorf("a token appears in the log:\n%s", e.logs.String())
			}
		}
	})
	cc, _ := testkit.Serve(t, func(gs grpc.ServiceRegistrar) {
		svc.Register(gs)
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

// reason is the ErrorInfo reason of err's status ("" for none).
func reason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == server.ErrorDomain {
			return info.GetReason()
		}
	}
	return ""
}

// retryDelay is the RetryInfo delay of err's status, and whether it has one.
func retryDelay(err error) (time.Duration, bool) {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// wantStatus checks code and reason, and that no token leaked into the message.
func wantStatus(t *testing.T, err error, code codes.Code, want string) {
	t.Helper()
	if status.Code(err) != code || reason(err) != want {
		t.Fatalf("got %v (reason %q), want %v %s", err, reason(err), code, want)
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
	e := start(t, 0, 100)
	cases := []struct {
		name, header, db string
		code             codes.Code
		reason           string
	}{
		{"no token", "", "neo4j", codes.Unauthenticated, cdcstreamv1.ErrorReason_UNAUTHENTICATED.String()},
		{"unknown token", "Bearer " + tokenFresh, "neo4j", codes.Unauthenticated, cdcstreamv1.ErrorReason_UNAUTHENTICATED.String()},
		{"token prefix", "Bearer " + tokenApp[:len(tokenApp)-1], "neo4j", codes.Unauthenticated, cdcstreamv1.ErrorReason_UNAUTHENTICATED.String()},
		{"wrong scheme", "Basic " + tokenApp, "neo4j", codes.Unauthenticated, cdcstreamv1.ErrorReason_UNAUTHENTICATED.String()},
		{"bare token", tokenApp, "neo4j", codes.Unauthenticated, cdcstreamv1.ErrorReason_UNAUTHENTICATED.String()},
		{"granted database", "Bearer " + tokenApp, "neo4j", codes.OK, ""},
		{"default database", "Bearer " + tokenApp, "", codes.OK, ""},
		{"granted, other case", "bearer " + tokenApp, "SALES", codes.OK, ""},
		{"database not granted", "Bearer " + tokenApp, "hrdb", codes.PermissionDenied, cdcstreamv1.ErrorReason_PERMISSION_DENIED.String()},
		{"wildcard", "Bearer " + tokenOps, "hrdb", codes.OK, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.client.GetCursor(withToken(testCtx(t), c.header), &cdcstreamv1.GetCursorRequest{Database: c.db})
			wantStatus(t, err, c.code, c.reason)
		})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// Every authenticated call reaches admission with its principal; refused ones never do.
	want := []string{"app", "app", "app", "app", "ops"}
	if strings.Join(e.names, ",") != strings.Join(want, ",") {
		t.Fatalf("admission saw names %v, want %v", e.names, want)
	}
}

func TestSubscribeOutcomes(t *testing.T) {
	e := start(t, 0, 100)
	cases := []struct {
		name, header string
		req          *cdcstreamv1.SubscribeRequest
		code         codes.Code
		reason       string
	}{
		{"no token", "", &cdcstreamv1.SubscribeRequest{}, codes.Unauthenticated, cdcstreamv1.ErrorReason_UNAUTHENTICATED.String()},
		{"unknown token", "Bearer " + tokenFresh, &cdcstreamv1.SubscribeRequest{}, codes.Unauthenticated, cdcstreamv1.ErrorReason_UNAUTHENTICATED.String()},
		{"default database", "Bearer " + tokenApp, &cdcstreamv1.SubscribeRequest{}, codes.OK, ""},
		{"database not granted", "Bearer " + tokenApp, &cdcstreamv1.SubscribeRequest{Database: "hrdb"}, codes.PermissionDenied, cdcstreamv1.ErrorReason_PERMISSION_DENIED.String()},
		{"cursor database not granted", "Bearer " + tokenApp, &cdcstreamv1.SubscribeRequest{
			Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: servertest.ID("hrdb", 0), Database: "hrdb"}}}, codes.PermissionDenied, cdcstreamv1.ErrorReason_PERMISSION_DENIED.String()},
		{"cursor database granted", "Bearer " + tokenApp, &cdcstreamv1.SubscribeRequest{
			Start:              &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: servertest.ID("sales", 0), Database: "sales"}},
			CheckpointInterval: durationpb.New(time.Second)}, codes.OK, ""},
		{"wildcard", "Bearer " + tokenOps, &cdcstreamv1.SubscribeRequest{Database: "hrdb"}, codes.OK, ""},
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
	e := start(t, 0, 100)
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
	e := start(t, 0, 100)
	ctx := testCtx(t)
	streamCtx, cancelStream := context.WithCancel(withToken(ctx, "Bearer "+tokenApp))
	defer cancelStream()
	st, err := e.client.Subscribe(streamCtx, &cdcstreamv1.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil { // the opening checkpoint
		t.Fatal(err)
	}

	// A broken file keeps the old tokens.
	if err := os.WriteFile(e.tokFile, []byte(`[{"name":"x","token":"`+tokenFresh+`"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Reload(); err == nil {
		t.Fatal("reload of a broken file succeeded")
	}
	if _, err := e.client.GetCursor(withToken(ctx, "Bearer "+tokenApp), &cdcstreamv1.GetCursorRequest{}); err != nil {
		t.Fatalf("old token after failed reload: %v", err)
	}

	writeTokens(t, e.tokFile, []map[string]any{{"name": "fresh", "token": tokenFresh, "databases": []string{"*"}}})
	if err := e.store.Reload(); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GetCursor(withToken(ctx, "Bearer "+tokenApp), &cdcstreamv1.GetCursorRequest{})
	wantStatus(t, err, codes.Unauthenticated, cdcstreamv1.ErrorReason_UNAUTHENTICATED.String())
	if _, err := e.client.GetCursor(withToken(ctx, "Bearer "+tokenFresh), &cdcstreamv1.GetCursorRequest{}); err != nil {
		t.Fatalf("new token: %v", err)
	}
	// The stream opened with the removed token keeps streaming.
	ids := e.src.Commit("neo4j", 3)
	for i := range ids {
		msg, err := st.Recv()
		if err != nil {
			t.Fatalf("open stream after reload: %v", err)
		}
		if got := msg.GetChange().GetCursor().GetId(); got != ids[i] {
			t.Fatalf("change %d after reload: cursor %q, want %q", i, got, ids[i])
		}
	}
}

// TestLimitsShareOneStatusShape proves that the per-token limit (admission) and the server's
// global limit refuse with the same status shape: RESOURCE_EXHAUSTED, reason
// TOO_MANY_SUBSCRIPTIONS, RetryInfo 5s and metadata naming the database.
func TestLimitsShareOneStatusShape(t *testing.T) {
	e := start(t, 2, 4)
	ctx := testCtx(t)
	open := func(token, db string) (context.CancelFunc, error) {
		sctx, scancel := context.WithCancel(withToken(ctx, "Bearer "+token))
		st, err := e.client.Subscribe(sctx, &cdcstreamv1.SubscribeRequest{Database: db})
		if err == nil {
			_, err = st.Recv() // the opening checkpoint, or the refusal
		}
		if err != nil {
			scancel()
			return nil, err
		}
		return scancel, nil
	}
	var cancels []context.CancelFunc
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	for i := 0; i < 2; i++ {
		c, err := open(tokenApp, "neo4j")
		if err != nil {
			t.Fatalf("stream %d of app: %v", i, err)
		}
		cancels = append(cancels, c)
	}
	_, perToken := open(tokenApp, "neo4j")
	for i := 0; i < 2; i++ { // ops fills the server's remaining slots
		c, err := open(tokenOps, "hrdb")
		if err != nil {
			t.Fatalf("stream %d of ops: %v", i, err)
		}
		cancels = append(cancels, c)
	}
	_, global := open(tokenOps, "hrdb")
	for name, err := range map[string]error{"per-token": perToken, "global": global} {
		wantStatus(t, err, codes.ResourceExhausted, cdcstreamv1.ErrorReason_TOO_MANY_SUBSCRIPTIONS.String())
		if d, ok := retryDelay(err); !ok || d != 5*time.Second {
			t.Errorf("%s limit: RetryInfo %v %v, want 5s", name, d, ok)
		}
		var md map[string]string
		for _, d := range status.Convert(err).Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				md = info.GetMetadata()
			}
		}
		if md["database"] == "" || len(md) != 1 {
			t.Errorf("%s limit: metadata %v, want only the database", name, md)
		}
	}
	// Closing one of app's streams frees its token slot (and a server slot).
	cancels[0]()
	cancels = cancels[1:]
	for {
		c, err := open(tokenApp, "neo4j")
		if err == nil {
			cancels = append(cancels, c)
			break
		}
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("app after closing a stream: %v", err)
		}
		select { // the server notices the cancellation asynchronously
		case <-ctx.Done():
			t.Fatal("slot of a cancelled stream never released")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
