package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/metrics"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestInstrumentSource(t *testing.T) {
	m := metrics.New()
	fake := servertest.NewFakeSource("neo4j", "other")
	src := metrics.InstrumentSource(fake, m)
	ctx := context.Background()
	if _, err := src.Current(ctx, "neo4j"); err != nil { // neo4j is now known to exist
		t.Fatal(err)
	}
	fake.FailNext(servertest.MethodPoll,
		fmt.Errorf("a: %w", server.ErrNeo4jUnavailable),
		fmt.Errorf("b: %w", server.ErrNeo4jUnavailable),
		fmt.Errorf("c: %w", server.ErrFutureCursor))
	for i := 0; i < 5; i++ {
		_, _ = src.Poll(ctx, server.PollRequest{Database: "neo4j", From: servertest.ID("neo4j", 0), Selectors: nil, Limit: 10})
	}
	fake.FailNext(servertest.MethodCurrent, errors.New("mystery"))
	for i := 0; i < 3; i++ {
		_, _ = src.Current(ctx, "neo4j")
	}
	if _, err := src.Earliest(ctx, "nope"); err == nil {
		t.Fatal("unknown database accepted")
	}
	// "other" exists, but until Neo4j said so its errors count under _unknown.
	fake.FailNext(servertest.MethodEarliest, fmt.Errorf("d: %w", server.ErrNeo4jUnavailable))
	_, _ = src.Earliest(ctx, "other")
	if _, err := src.Earliest(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	fake.FailNext(servertest.MethodEarliest, fmt.Errorf("e: %w", server.ErrNeo4jUnavailable))
	_, _ = src.Earliest(ctx, "other")
	if err := src.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	reg := m.Registry()
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"cdcstream_neo4j_statements_total", map[string]string{"database": "neo4j"}, 2*5 + 3 + 1},
		{"cdcstream_neo4j_statements_total", map[string]string{"database": "_unknown"}, 2},
		{"cdcstream_neo4j_statements_total", map[string]string{"database": "other"}, 2},
		{"cdcstream_source_errors_total", map[string]string{"database": "_unknown", "operation": "earliest", "reason": "NEO4J_UNAVAILABLE"}, 1},
		{"cdcstream_source_errors_total", map[string]string{"database": "other", "operation": "earliest", "reason": "NEO4J_UNAVAILABLE"}, 1},
		{"cdcstream_source_errors_total", map[string]string{"database": "neo4j", "operation": "poll", "reason": "NEO4J_UNAVAILABLE"}, 2},
		{"cdcstream_source_errors_total", map[string]string{"database": "neo4j", "operation": "poll", "reason": "FUTURE_CURSOR"}, 1},
		{"cdcstream_source_errors_total", map[string]string{"database": "neo4j", "operation": "current", "reason": "INTERNAL"}, 1},
		{"cdcstream_source_errors_total", map[string]string{"database": "_unknown", "operation": "earliest", "reason": "DATABASE_NOT_FOUND"}, 1},
		{"cdcstream_poll_duration_seconds", map[string]string{"database": "neo4j"}, 5},
	}
	fams := gather(t, reg.Gather)
	for _, c := range checks {
		if got := value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// A caller's cancellation is not an error of Neo4j.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	fake.FailNext(servertest.MethodPoll, context.Canceled)
	_, _ = src.Poll(cctx, server.PollRequest{Database: "neo4j", From: servertest.ID("neo4j", 0), Selectors: nil, Limit: 10})
	if n := len(gather(t, reg.Gather)["cdcstream_source_errors_total"].GetMetric()); n != 6 {
		t.Fatalf("%d error series after a cancelled poll, want 6", n)
	}
}

// gather reads metric families from a gatherer function.
func gather(t *testing.T, g func() ([]*dto.MetricFamily, error)) map[string]*dto.MetricFamily {
	t.Helper()
	list, err := g()
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]*dto.MetricFamily{}
	for _, f := range list {
		fams[f.GetName()] = f
	}
	return fams
}

// scrape GETs url and parses the text exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value is the value (counter, gauge, or histogram/summary sample count) of the series of
// family name with exactly labels; 0 when absent.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

// histogramSum is the sample sum of a histogram series.
func histogramSum(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	for _, m := range fams[name].GetMetric() {
		match := len(m.GetLabel()) == len(labels)
		for _, l := range m.GetLabel() {
			match = match && labels[l.GetName()] == l.GetValue()
		}
		if match {
			return m.GetHistogram().GetSampleSum()
		}
	}
	return -1
}

// TestScrapeDuringTraffic runs a real server over a fake source with every metric wired as
// cdcstreamd wires it, scrapes /metrics over HTTP during a stream and checks that each
// counter moved by exactly what was sent.
func TestScrapeDuringTraffic(t *testing.T) {
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	const lag = 3 * time.Second
	m := metrics.New(metrics.WithNow(func() time.Time { return base.Add(lag) }))
	fake := servertest.NewFakeSource("neo4j")
	svc, err := server.New(metrics.InstrumentSource(fake, m), server.WithPollInterval(time.Millisecond),
		server.WithDefaultCheckpointInterval(5*time.Minute), server.WithObserver(m.Observer()))
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(
		grpc.ChainUnaryInterceptor(m.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(m.GRPCStreamInterceptor()))
	svc.Register(gs)
	m.InitializeGRPC(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcDone := make(chan struct{}) // closed when the gRPC server's Serve returns
	go func() { defer close(grpcDone); _ = gs.Serve(lis) }()
	stopGRPC := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = svc.Shutdown(sctx)
		gs.Stop()
		<-grpcDone
	}
	defer stopGRPC()

	mlis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mctx, stopMetrics := context.WithCancel(context.Background())
	metricsDone := make(chan error, 1) // Serve's result
	go func() { metricsDone <- m.Serve(mctx, mlis) }()
	defer func() {
		stopMetrics()
		if err := <-metricsDone; err != nil {
			t.Errorf("metrics Serve: %v", err)
		}
	}()
	url := "http://" + mlis.Addr().String() + "/metrics"

	// Before traffic: the gRPC series exist at zero.
	before := scrape(t, url)
	subscribeLabels := map[string]string{"grpc_method": "Subscribe", "grpc_service": "cdcstream.v1.ChangeStreamService", "grpc_type": "server_stream"}
	if _, ok := before["grpc_server_started_total"]; !ok {
		t.Fatal("grpc_server_started_total missing after InitializeGRPC")
	}

	commit := func(n int) {
		evs := servertest.NodeEvents(n, 0)
		for _, ev := range evs {
			ev.Metadata = &cdcstreamv1.Metadata{TxCommitTime: timestamppb.New(base)}
		}
		fake.Append("neo4j", evs...)
	}
	const first, second = 25, 17
	commit(first)

	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := cdcstreamv1.NewChangeStreamServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.GetCursor(ctx, &cdcstreamv1.GetCursorRequest{}); err != nil {
		t.Fatal(err)
	}
	sctx, cancelStream := context.WithCancel(ctx)
	defer cancelStream()
	st, err := client.Subscribe(sctx, &cdcstreamv1.SubscribeRequest{
		Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}})
	if err != nil {
		t.Fatal(err)
	}
	recv := func(changes int) (checkpoints int) {
		for got := 0; got < changes; {
			msg, err := st.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if msg.GetChange() != nil {
				got++
			} else {
				checkpoints++
			}
		}
		return checkpoints
	}
	cps := recv(first) // the initial checkpoint, then the changes

	db := map[string]string{"database": "neo4j"}
	during := scrape(t, url)
	expect := func(fams map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
		t.Helper()
		if got := value(fams, name, labels); got != want {
			t.Errorf("%s%v = %v, want %v", name, labels, got, want)
		}
	}
	expect(during, "cdcstream_subscriptions_active", db, 1)
	expect(during, "cdcstream_changes_sent_total", db, first)
	expect(during, "cdcstream_checkpoints_sent_total", db, float64(cps))
	expect(during, "cdcstream_delivery_lag_seconds", db, first)
	if sum := histogramSum(during, "cdcstream_delivery_lag_seconds", db); sum != first*lag.Seconds() {
		t.Errorf("lag sum %v, want %v", sum, first*lag.Seconds())
	}
	expect(during, "grpc_server_started_total", subscribeLabels, 1)
	expect(during, "grpc_server_msg_sent_total", subscribeLabels, float64(first+cps))

	commit(second)
	cps += recv(second)
	after := scrape(t, url)
	expect(after, "cdcstream_changes_sent_total", db, first+second)
	expect(after, "cdcstream_checkpoints_sent_total", db, float64(cps))
	expect(after, "cdcstream_delivery_lag_seconds", db, first+second)
	expect(after, "grpc_server_msg_sent_total", subscribeLabels, float64(first+second+cps))
	getCursor := map[string]string{"grpc_method": "GetCursor", "grpc_service": "cdcstream.v1.ChangeStreamService", "grpc_type": "unary", "grpc_code": "OK"}
	expect(after, "grpc_server_handled_total", getCursor, 1)

	cancelStream()
	canceled := map[string]string{"grpc_method": "Subscribe", "grpc_service": "cdcstream.v1.ChangeStreamService", "grpc_type": "server_stream", "grpc_code": "Canceled"}
	for {
		fams := scrape(t, url)
		// grpc-go may count the call handled (the client saw its status) a moment before the
		// handler's own end-of-stream accounting ran: wait for both.
		ended := map[string]string{"database": "neo4j", "code": "Canceled", "reason": metrics.NoReason}
		if value(fams, "grpc_server_handled_total", canceled) == 1 && value(fams, "cdcstream_streams_ended_total", ended) >= 1 {
			expect(fams, "cdcstream_subscriptions_active", db, 0)
			expect(fams, "cdcstream_streams_ended_total", ended, 1)
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the cancelled stream was never counted as handled")
		case <-time.After(5 * time.Millisecond):
		}
	}

	// A stream for a database that does not exist leaves no gauge series behind; the real
	// database's series stays (at 0).
	bogus, err := client.Subscribe(ctx, &cdcstreamv1.SubscribeRequest{Database: "nosuchdb"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bogus.Recv(); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown database: %v", err)
	}
	for _, series := range scrape(t, url)["cdcstream_subscriptions_active"].GetMetric() {
		if db := series.GetLabel()[0].GetValue(); db != "neo4j" {
			t.Errorf("gauge series left for database %q", db)
		}
	}
	if len(scrape(t, url)["cdcstream_subscriptions_active"].GetMetric()) != 1 {
		t.Error("the neo4j gauge series is gone")
	}

	// Once the service stopped, the statements counter matches the source's calls exactly.
	stopGRPC()
	final := scrape(t, url)
	wantStatements := 2*fake.Calls(servertest.MethodPoll) + fake.Calls(servertest.MethodCurrent) + fake.Calls(servertest.MethodEarliest)
	expect(final, "cdcstream_neo4j_statements_total", db, float64(wantStatements-1))
	expect(final, "cdcstream_neo4j_statements_total", map[string]string{"database": metrics.UnknownDatabase}, 1) // nosuchdb's Current
	expect(final, "cdcstream_poll_duration_seconds", db, float64(fake.Calls(servertest.MethodPoll)))
	if fake.Calls(servertest.MethodPoll) == 0 {
		t.Fatal("no polls observed")
	}
}
