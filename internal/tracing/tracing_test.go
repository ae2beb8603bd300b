package tracing_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/internal/tracing"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOffWithoutEndpoint(t *testing.T) {
	env := map[string]string{}
	tr, err := tracing.Setup(context.Background(), tracing.WithGetenv(func(k string) string { return env[k] }))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() || len(tr.ServerOptions()) != 0 || tr.Shutdown(context.Background()) != nil {
		t.Fatal("tracing is on without an endpoint")
	}
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:1"
	env["OTEL_SDK_DISABLED"] = "true"
	tr, err = tracing.Setup(context.Background(), tracing.WithGetenv(func(k string) string { return env[k] }))
	if err != nil || tr.Enabled() {
		t.Fatalf("OTEL_SDK_DISABLED ignored: %v %v", tr.Enabled(), err)
	}
}

func TestSpansPerRPCAndPoll(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := tracing.Setup(context.Background(), tracing.WithExporter(exp))
	if err != nil {
		t.Fatal(err)
	}
	fake := servertest.NewFakeSource("neo4j")
	fake.Commit("neo4j", 3)
	// Per-subscription polls, so that they are children of their Subscribe span. With the
	// shared tail, one read serves every stream of a database: its poll spans are roots.
	svc, err := server.New(tracing.TraceSource(fake, tr.TracerProvider()), server.WithPollInterval(time.Millisecond),
		server.WithSharedTail(false))
	if err != nil {
		t.Fatal(err)
	}
	cc, _ := testkit.Serve(t, func(gs grpc.ServiceRegistrar) {
		svc.Register(gs)
		healthpb.RegisterHealthServer(gs, health.NewServer())
	}, testkit.ServerOptions(tr.ServerOptions()...))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := cdcstreamv1.NewChangeStreamServiceClient(cc)
	if _, err := client.GetCursor(ctx, &cdcstreamv1.GetCursorRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	sctx, cancelStream := context.WithCancel(ctx)
	st, err := client.Subscribe(sctx, &cdcstreamv1.SubscribeRequest{
		Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}})
	if err != nil {
		t.Fatal(err)
	}
	for changes := 0; changes < 3; {
		msg, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if msg.GetChange() != nil {
			changes++
		}
	}
	cancelStream()
	sdctx, sdcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer sdcancel()
	if err := svc.Shutdown(sdctx); err != nil {
		t.Fatal(err)
	}
	// The server span of the cancelled stream ends when its handler has returned; wait for it.
	for !hasSpan(exp, "cdcstream.v1.ChangeStreamService/Subscribe") {
		if err := tr.ForceFlush(sdctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-sdctx.Done():
			t.Fatal("no Subscribe span")
		case <-time.After(5 * time.Millisecond):
		}
	}

	if err := tr.ForceFlush(sdctx); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans() // before Shutdown, which empties the in-memory exporter
	if err := tr.Shutdown(sdctx); err != nil {
		t.Fatal(err)
	}
	byName := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
	}
	if len(byName["grpc.health.v1.Health/Check"]) != 0 {
		t.Error("health checks are traced")
	}
	getCursor := byName["cdcstream.v1.ChangeStreamService/GetCursor"]
	if len(getCursor) != 1 || len(byName["cdc.current"]) == 0 {
		t.Fatalf("spans: %v", names(spans))
	}
	child := byName["cdc.current"][0]
	if child.Parent.SpanID() != getCursor[0].SpanContext.SpanID() || child.SpanKind != trace.SpanKindClient {
		t.Fatalf("cdc.current is not a client child of GetCursor: %+v", child.Parent)
	}
	sub := byName["cdcstream.v1.ChangeStreamService/Subscribe"][0]
	polls := 0
	for _, p := range byName["cdc.poll"] {
		if p.Parent.SpanID() == sub.SpanContext.SpanID() {
			polls++
		}
	}
	if polls == 0 || len(byName["cdc.earliest"]) != 1 {
		t.Fatalf("Subscribe has %d poll children; spans %v", polls, names(spans))
	}
}

func hasSpan(exp *tracetest.InMemoryExporter, name string) bool {
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			return true
		}
	}
	return false
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// collector is a fake OTLP trace collector.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex // guards names
	names []string
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.names = append(c.names, s.GetName())
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// TestOTLPExportFlushedOnShutdown exports over real OTLP/gRPC to a fake collector, configured
// only by the standard environment variable.
func TestOTLPExportFlushedOnShutdown(t *testing.T) {
	col := &collector{}
	_, addr := testkit.Serve(t, func(gs grpc.ServiceRegistrar) { coltracepb.RegisterTraceServiceServer(gs, col) })
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	t.Setenv("OTEL_SERVICE_NAME", "cdcstreamd-test")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := tracing.Setup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Enabled() || tr.Endpoint() != "http://"+addr || len(tr.ServerOptions()) != 1 {
		t.Fatalf("enabled %v endpoint %q", tr.Enabled(), tr.Endpoint())
	}
	fake := servertest.NewFakeSource("neo4j")
	src := tracing.TraceSource(fake, tr.TracerProvider())
	pctx, parent := tr.TracerProvider().Tracer("test").Start(ctx, "parent")
	if _, err := src.Current(pctx, "neo4j"); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Current(ctx, "neo4j"); err != nil { // no parent: no span
		t.Fatal(err)
	}
	parent.End()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	sort.Strings(col.names)
	if strings.Join(col.names, ",") != "cdc.current,parent" {
		t.Fatalf("collector got %v, want cdc.current and parent", col.names)
	}
}
